/* test_runtime_metrics.c: accuracy and the confusion matrix, RMSE and MAE,
 * from outputs and through an engine, and how they are printed. */
#define _POSIX_C_SOURCE 200809L /* open_memstream */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dcr.h"

/* n rows of k classes, labels given; x is one zero feature */
static dcr_dataset classes(size_t n, int k, const int *labels)
{
    dcr_dataset d = {0};
    d.n_rows = n;
    d.n_in = 1;
    d.n_out = k;
    d.x = calloc(n, sizeof(double));
    d.y = calloc(n * (size_t)k, sizeof(double));
    d.label = malloc(n * sizeof(int));
    cr_assert(d.x && d.y && d.label);
    for (size_t i = 0; i < n; i++) {
        d.label[i] = labels[i];
        if (labels[i] >= 0 && labels[i] < k)
            d.y[i * (size_t)k + (size_t)labels[i]] = 1;
    }
    return d;
}

static char *written(const dcr_metrics *m)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cr_assert(f);
    dcr_metrics_write(f, m);
    fclose(f);
    return buf;
}

Test(metrics, confusion_matrix_and_accuracy)
{
    static const int labels[6] = {0, 1, 2, 2, 1, 0};
    /* predictions: 0, 1, 1, 2, 0 (a tie of 0 and 1 goes to 0), 2 */
    static const double out[6 * 3] = {0.9, 0.05, 0.05, 0.1, 0.8, 0.1, 0.2, 0.5, 0.3,
                                       0.1, 0.1, 0.8, 0.4, 0.4, 0.2, 0.3, 0.3, 0.4};
    dcr_dataset d = classes(6, 3, labels);
    dcr_metrics m;
    dcr_error err = {0};
    cr_assert_eq(dcr_metrics_from_outputs(&m, out, &d, &err), 0, "%s", err.msg);
    cr_assert_eq(m.classify, 1);
    cr_assert_eq(m.n_rows, 6);
    cr_assert_eq(m.n_out, 3);
    cr_assert_eq(m.accuracy, 3.0 / 6.0);
    cr_assert_eq(m.rmse, -1);
    cr_assert_eq(m.mae, -1);
    static const size_t want[9] = {1, 0, 1, /* true 0 */
                                   1, 1, 0, /* true 1 */
                                   0, 1, 1}; /* true 2 */
    cr_assert_arr_eq(m.confusion, want, sizeof want);
    char *text = written(&m);
    cr_assert_str_eq(text, "accuracy: 50.00 %\n"
                           "confusion matrix (rows: true class, columns: predicted class):\n"
                           "     0  1  2\n"
                           "  0  1  0  1\n"
                           "  1  1  1  0\n"
                           "  2  0  1  1\n");
    free(text);
    dcr_metrics_free(&m);
    cr_assert_null(m.confusion);
    dcr_dataset_free(&d);
}

Test(metrics, table_columns_widen_with_the_counts)
{
    int labels[120];
    double out[120 * 12];
    memset(out, 0, sizeof out);
    for (int i = 0; i < 120; i++) {
        labels[i] = i < 110 ? 0 : 11;
        out[i * 12 + (i < 110 ? 0 : 3)] = 1;
    }
    dcr_dataset d = classes(120, 12, labels);
    dcr_metrics m;
    dcr_error err = {0};
    cr_assert_eq(dcr_metrics_from_outputs(&m, out, &d, &err), 0, "%s", err.msg);
    char *text = written(&m);
    /* 3 digits (110), class labels 2 digits */
    cr_assert(strstr(text, "\n        0    1    2    3    4    5    6    7    8    9   10   11\n"), "%s", text);
    cr_assert(strstr(text, "\n   0  110    0    0"), "%s", text);
    cr_assert(strstr(text, "\n  11    0    0    0   10    0    0    0    0    0    0    0    0\n"), "%s", text);
    free(text);
    dcr_metrics_free(&m);
    dcr_dataset_free(&d);
}

Test(metrics, many_classes_are_not_tabulated)
{
    int labels[1] = {0};
    double out[101] = {1};
    dcr_dataset d = classes(1, 101, labels);
    dcr_metrics m;
    dcr_error err = {0};
    cr_assert_eq(dcr_metrics_from_outputs(&m, out, &d, &err), 0, "%s", err.msg);
    char *text = written(&m);
    cr_assert_str_eq(text, "accuracy: 100.00 %\nconfusion matrix: not shown (101 classes, more than 100)\n");
    free(text);
    dcr_metrics_free(&m);
    dcr_dataset_free(&d);
}

Test(metrics, rmse_and_mae_over_all_outputs)
{
    dcr_dataset d = {0};
    d.n_rows = 2;
    d.n_in = 1;
    d.n_out = 2;
    double x[2] = {0, 0}, y[4] = {1, 2, 3, 4};
    d.x = x;
    d.y = y;
    double out[4] = {1, 4, 2, 4}; /* errors 0, 2, -1, 0 */
    dcr_metrics m;
    dcr_error err = {0};
    cr_assert_eq(dcr_metrics_from_outputs(&m, out, &d, &err), 0, "%s", err.msg);
    cr_assert_eq(m.classify, 0);
    cr_assert_null(m.confusion);
    cr_assert_eq(m.accuracy, -1);
    cr_assert_float_eq(m.rmse, sqrt(5.0 / 4.0), 1e-15);
    cr_assert_float_eq(m.mae, 3.0 / 4.0, 1e-15);
    char *text = written(&m);
    cr_assert_str_eq(text, "rmse: 1.11803\nmae: 0.75\n");
    free(text);
    dcr_metrics_free(&m);
}

Test(metrics, errors)
{
    static const int labels[2] = {0, 3};
    double out[4] = {0};
    dcr_dataset d = classes(2, 2, labels);
    dcr_metrics m;
    dcr_error err = {0};
    cr_assert_eq(dcr_metrics_from_outputs(&m, out, &d, &err), -1);
    cr_assert_str_eq(err.msg, "row 2 has class 3; there are 2 outputs");
    cr_assert_null(m.confusion);
    dcr_dataset empty = {0};
    empty.n_in = 1;
    empty.n_out = 2;
    cr_assert_eq(dcr_metrics_from_outputs(&m, out, &empty, &err), -1);
    cr_assert_str_eq(err.msg, "cannot compute metrics on an empty dataset");
    dcr_dataset_free(&d);
}

/* Through the reference engine: the loss and accuracy are dcr_evaluate's,
 * the confusion matrix adds up, and regression errors match by hand. */
Test(metrics, through_an_engine)
{
    for (int t = 0; t < 2; t++) {
        dcr_arch a;
        memset(&a, 0, sizeof a);
        a.dtype = t ? DCR_F64 : DCR_F32;
        a.n_layers = 2;
        a.sizes[0] = 2;
        a.sizes[1] = 5;
        a.sizes[2] = 3;
        a.act[1] = DCR_ACT_TANH;
        a.act[2] = DCR_ACT_SOFTMAX;
        a.loss = DCR_LOSS_CROSS_ENTROPY;
        dcr_engine e;
        dcr_error err = {0};
        cr_assert_eq(dcr_ref_engine(&e, &a, &err), 0, "%s", err.msg);
        double p[64];
        dcr_init in = {DCR_INIT_XAVIER_UNIFORM, 0, 4};
        dcr_init_params(p, &a, &in);
        int labels[40];
        for (int i = 0; i < 40; i++)
            labels[i] = i % 3;
        dcr_dataset d = classes(40, 3, labels);
        d.n_in = 2;
        free(d.x);
        d.x = malloc(80 * sizeof(double));
        dcr_rng r;
        dcr_rng_seed(&r, 9);
        for (int i = 0; i < 80; i++)
            d.x[i] = 2 * dcr_rng_uniform(&r) - 1;
        dcr_metrics m;
        cr_assert_eq(dcr_metrics_compute(&m, &e, p, &d, &err), 0, "%s", err.msg);
        double loss, acc;
        cr_assert_eq(dcr_evaluate(&loss, &acc, &e, p, &d, &err), 0, "%s", err.msg);
        cr_assert_eq(m.loss, loss);
        cr_assert_eq(m.accuracy, acc);
        size_t sum = 0, diag = 0;
        for (int i = 0; i < 9; i++)
            sum += m.confusion[i];
        for (int i = 0; i < 3; i++)
            diag += m.confusion[i * 4];
        cr_assert_eq(sum, 40);
        cr_assert_eq((double)diag / 40, acc);
        dcr_metrics_free(&m);

        /* the same network as a regression on the one-hot targets */
        free(d.label);
        d.label = NULL;
        a.act[2] = DCR_ACT_SIGMOID;
        a.loss = DCR_LOSS_MSE;
        dcr_ref_engine_free(&e);
        cr_assert_eq(dcr_ref_engine(&e, &a, &err), 0, "%s", err.msg);
        cr_assert_eq(dcr_metrics_compute(&m, &e, p, &d, &err), 0, "%s", err.msg);
        double ss = 0, sa = 0;
        for (int i = 0; i < 40; i++) {
            double o64[3];
            float o32[3], x32[2] = {(float)d.x[2 * i], (float)d.x[2 * i + 1]};
            if (t)
                e.forward(e.self, o64, p, d.x + 2 * i);
            else {
                e.forward(e.self, o32, p, x32);
                for (int k = 0; k < 3; k++)
                    o64[k] = o32[k];
            }
            for (int k = 0; k < 3; k++) {
                double err1 = o64[k] - d.y[3 * i + k];
                ss += err1 * err1;
                sa += fabs(err1);
            }
        }
        cr_assert_eq(m.rmse, sqrt(ss / 120));
        cr_assert_eq(m.mae, sa / 120);
        cr_assert_eq(dcr_evaluate(&loss, &acc, &e, p, &d, &err), 0, "%s", err.msg);
        cr_assert_eq(m.loss, loss);
        dcr_metrics_free(&m);
        dcr_ref_engine_free(&e);
        dcr_dataset_free(&d);
    }
}
