/* test_runtime_train.c: dcr_train and dcr_evaluate over the reference
 * engine. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dcr.h"

#define MAXP 512

/* Two Gaussian-ish blobs in 2-D, class 0 around (-1, -1) and class 1 around
 * (1, 1): separable, so a small network must learn it. */
static dcr_dataset blobs(size_t n, uint64_t seed, int values)
{
    dcr_dataset d = {0};
    d.n_rows = n;
    d.n_in = 2;
    d.n_out = values ? 1 : 2;
    d.x = malloc(n * 2 * sizeof(double));
    d.y = calloc(n * (size_t)d.n_out, sizeof(double));
    d.label = values ? NULL : malloc(n * sizeof(int));
    cr_assert(d.x && d.y && (values || d.label));
    dcr_rng r;
    dcr_rng_seed(&r, seed);
    for (size_t i = 0; i < n; i++) {
        int c = (int)(i % 2);
        double cx = c ? 1 : -1;
        d.x[2 * i] = cx + (dcr_rng_uniform(&r) - 0.5) * 0.8;
        d.x[2 * i + 1] = cx + (dcr_rng_uniform(&r) - 0.5) * 0.8;
        if (values) {
            d.y[i] = d.x[2 * i] + 2 * d.x[2 * i + 1];
        } else {
            d.y[2 * i + (size_t)c] = 1;
            d.label[i] = c;
        }
    }
    return d;
}

static dcr_arch net(dcr_dtype t, int values)
{
    dcr_arch a;
    memset(&a, 0, sizeof a);
    a.dtype = t;
    a.n_layers = 2;
    a.sizes[0] = 2;
    a.sizes[1] = 6;
    a.sizes[2] = values ? 1 : 2;
    a.act[1] = DCR_ACT_TANH;
    a.act[2] = values ? DCR_ACT_IDENTITY : DCR_ACT_SOFTMAX;
    a.loss = values ? DCR_LOSS_MSE : DCR_LOSS_CROSS_ENTROPY;
    return a;
}

typedef struct {
    int calls;
    dcr_epoch_stats s[64];
} log_t;

static int on_epoch(void *user, const dcr_epoch_stats *s, const dcr_train_state *st, dcr_error *err)
{
    (void)err;
    log_t *l = user;
    cr_assert_lt(l->calls, 64);
    cr_assert_eq(st->epoch, s->epoch);
    l->s[l->calls++] = *s;
    return 0;
}

static void setup_net(dcr_engine *e, void *p, const dcr_arch *a, uint64_t seed)
{
    dcr_error err = {0};
    cr_assert_eq(dcr_ref_engine(e, a, &err), 0, "%s", err.msg);
    cr_assert_leq(dcr_arch_n_params(a), MAXP);
    dcr_init in = {DCR_INIT_XAVIER_UNIFORM, 0, seed};
    dcr_init_params(p, a, &in);
}

Test(train, learns_blobs_and_reports_epochs)
{
    dcr_dataset tr = blobs(120, 1, 0), te = blobs(40, 2, 0);
    dcr_arch a = net(DCR_F64, 0);
    dcr_engine e;
    double p[MAXP];
    setup_net(&e, p, &a, 3);
    dcr_train_opts o = {0.1, 8, 20, 1, 5};
    log_t l = {0};
    dcr_error err = {0};
    cr_assert_eq(dcr_train(p, &e, &tr, &te, &o, NULL, on_epoch, &l, &err), 0, "%s", err.msg);
    cr_assert_eq(l.calls, 20);
    for (int i = 0; i < 20; i++) {
        cr_assert_eq(l.s[i].epoch, i + 1);
        cr_assert(l.s[i].has_test);
        cr_assert_geq(l.s[i].seconds, 0);
        cr_assert(l.s[i].train_acc >= 0 && l.s[i].train_acc <= 1);
    }
    cr_assert_lt(l.s[19].train_loss, l.s[0].train_loss * 0.5, "%g -> %g", l.s[0].train_loss,
                 l.s[19].train_loss);
    cr_assert_geq(l.s[19].train_acc, 0.99);
    cr_assert_geq(l.s[19].test_acc, 0.95);

    /* the last epoch's test numbers are dcr_evaluate's */
    double loss, acc;
    cr_assert_eq(dcr_evaluate(&loss, &acc, &e, p, &te, &err), 0, "%s", err.msg);
    cr_assert_eq(loss, l.s[19].test_loss);
    cr_assert_eq(acc, l.s[19].test_acc);
    cr_assert_eq(dcr_evaluate(&loss, &acc, &e, p, &tr, &err), 0, "%s", err.msg);
    cr_assert_eq(acc, l.s[19].train_acc);
    dcr_ref_engine_free(&e);
    dcr_dataset_free(&tr);
    dcr_dataset_free(&te);
}

Test(train, values_have_no_accuracy)
{
    dcr_dataset tr = blobs(30, 1, 1);
    dcr_arch a = net(DCR_F32, 1);
    dcr_engine e;
    float p[MAXP];
    setup_net(&e, p, &a, 3);
    dcr_train_opts o = {0.05, 7, 30, 1, 5};
    log_t l = {0};
    dcr_error err = {0};
    cr_assert_eq(dcr_train(p, &e, &tr, NULL, &o, NULL, on_epoch, &l, &err), 0, "%s", err.msg);
    cr_assert_eq(l.calls, 30);
    cr_assert_eq(l.s[0].train_acc, -1);
    cr_assert_eq(l.s[0].has_test, 0);
    cr_assert_eq(l.s[0].test_acc, -1);
    cr_assert_lt(l.s[29].train_loss, l.s[0].train_loss * 0.2, "%g -> %g", l.s[0].train_loss,
                 l.s[29].train_loss);
    double loss, acc;
    cr_assert_eq(dcr_evaluate(&loss, &acc, &e, p, &tr, &err), 0, "%s", err.msg);
    cr_assert_eq(acc, -1);
    cr_assert(loss > 0 && loss < l.s[0].train_loss);
    dcr_ref_engine_free(&e);
    dcr_dataset_free(&tr);
}

Test(train, deterministic_and_shuffle_matters)
{
    dcr_dataset tr = blobs(50, 1, 0);
    dcr_arch a = net(DCR_F64, 0);
    dcr_engine e;
    double p1[MAXP], p2[MAXP], p3[MAXP];
    size_t n = dcr_arch_n_params(&a);
    setup_net(&e, p1, &a, 3);
    memcpy(p2, p1, n * sizeof *p1);
    memcpy(p3, p1, n * sizeof *p1);
    dcr_train_opts o = {0.1, 4, 3, 1, 9};
    cr_assert_eq(dcr_train(p1, &e, &tr, NULL, &o, NULL, NULL, NULL, NULL), 0);
    cr_assert_eq(dcr_train(p2, &e, &tr, NULL, &o, NULL, NULL, NULL, NULL), 0);
    cr_assert_arr_eq(p1, p2, n * sizeof *p1);
    o.shuffle = 0;
    cr_assert_eq(dcr_train(p3, &e, &tr, NULL, &o, NULL, NULL, NULL, NULL), 0);
    cr_assert(memcmp(p1, p3, n * sizeof *p1) != 0);
    dcr_ref_engine_free(&e);
    dcr_dataset_free(&tr);
}

/* What dcr_train does, written out for one epoch with a ragged last batch:
 * the seed's shuffle, gathered rows, one SGD step per batch. */
Test(train, follows_its_definition)
{
    enum { N = 10, BS = 4 };
    dcr_dataset tr = blobs(N, 1, 0);
    dcr_arch a = net(DCR_F64, 0);
    dcr_engine e;
    double p[MAXP], q[MAXP], g[MAXP];
    size_t n = dcr_arch_n_params(&a);
    setup_net(&e, p, &a, 3);
    memcpy(q, p, n * sizeof *p);
    dcr_train_opts o = {0.2, BS, 2, 1, 17};
    log_t l = {0};
    cr_assert_eq(dcr_train(p, &e, &tr, NULL, &o, NULL, on_epoch, &l, NULL), 0);

    dcr_rng r;
    dcr_rng_seed(&r, 17);
    for (int ep = 0; ep < 2; ep++) {
        size_t idx[N];
        for (size_t i = 0; i < N; i++)
            idx[i] = i;
        dcr_rng_shuffle(&r, idx, N);
        double sum = 0;
        for (size_t s = 0; s < N; s += BS) {
            size_t m = N - s < BS ? N - s : BS;
            double Xb[BS * 2], Yb[BS * 2];
            for (size_t i = 0; i < m; i++) {
                memcpy(Xb + 2 * i, tr.x + 2 * idx[s + i], 2 * sizeof(double));
                memcpy(Yb + 2 * i, tr.y + 2 * idx[s + i], 2 * sizeof(double));
            }
            sum += dcr_sgd_step(&e, q, g, Xb, Yb, (int)m, o.lr) * (double)m;
        }
        cr_assert_eq(l.s[ep].train_loss, sum / N, "epoch %d", ep + 1);
    }
    cr_assert_arr_eq(p, q, n * sizeof *p);
    dcr_ref_engine_free(&e);
    dcr_dataset_free(&tr);
}

Test(train, empty_test_set_means_no_test)
{
    dcr_dataset tr = blobs(10, 1, 0), te = {0};
    te.n_in = 2;
    te.n_out = 2;
    dcr_arch a = net(DCR_F64, 0);
    dcr_engine e;
    double p[MAXP];
    setup_net(&e, p, &a, 3);
    dcr_train_opts o = {0.1, 5, 1, 0, 1};
    log_t l = {0};
    cr_assert_eq(dcr_train(p, &e, &tr, &te, &o, NULL, on_epoch, &l, NULL), 0);
    cr_assert_eq(l.calls, 1);
    cr_assert_eq(l.s[0].has_test, 0);
    dcr_ref_engine_free(&e);
    dcr_dataset_free(&tr);
}

Test(train, diverges_with_a_clear_error)
{
    dcr_dataset tr = blobs(20, 1, 1);
    for (size_t i = 0; i < tr.n_rows; i++)
        tr.y[i] *= 1e100;
    dcr_arch a = net(DCR_F64, 1);
    a.act[1] = DCR_ACT_IDENTITY;
    dcr_engine e;
    double p[MAXP];
    setup_net(&e, p, &a, 3);
    dcr_train_opts o = {10, 20, 50, 0, 1};
    log_t l = {0};
    dcr_error err = {0};
    cr_assert_eq(dcr_train(p, &e, &tr, NULL, &o, NULL, on_epoch, &l, &err), -1);
    cr_assert_eq(err.status, DCR_ERR_TRAIN);
    char want[DCR_MSG_MAX];
    snprintf(want, sizeof want,
             "epoch %d, batch 1: loss is inf (NaN or infinite); lower the learning rate",
             l.calls + 1);
    if (strstr(err.msg, "loss is nan"))
        snprintf(want, sizeof want,
                 "epoch %d, batch 1: loss is nan (NaN or infinite); lower the learning rate",
                 l.calls + 1);
    cr_assert_str_eq(err.msg, want);
    dcr_ref_engine_free(&e);
    dcr_dataset_free(&tr);
}

static void opts_fail(dcr_train_opts o, const char *msg)
{
    dcr_dataset tr = blobs(120, 1, 0);
    dcr_arch a = net(DCR_F64, 0);
    dcr_engine e;
    double p[MAXP];
    setup_net(&e, p, &a, 3);
    dcr_error err = {0};
    log_t l = {0};
    cr_assert_eq(dcr_train(p, &e, &tr, NULL, &o, NULL, on_epoch, &l, &err), -1, "%s", msg);
    cr_assert_str_eq(err.msg, msg);
    cr_assert_eq(err.status, DCR_ERR_SPEC);
    cr_assert_eq(l.calls, 0);
    dcr_ref_engine_free(&e);
    dcr_dataset_free(&tr);
}

Test(train, option_errors)
{
    opts_fail((dcr_train_opts){0, 10, 1, 1, 1},
              "learning rate 0 must be a positive finite number");
    opts_fail((dcr_train_opts){-1, 10, 1, 1, 1},
              "learning rate -1 must be a positive finite number");
    opts_fail((dcr_train_opts){NAN, 10, 1, 1, 1},
              "learning rate nan must be a positive finite number");
    opts_fail((dcr_train_opts){INFINITY, 10, 1, 1, 1},
              "learning rate inf must be a positive finite number");
    opts_fail((dcr_train_opts){0.1, 0, 1, 1, 1}, "batch size 0 must be at least 1");
    opts_fail((dcr_train_opts){0.1, 200, 1, 1, 1},
              "batch size 200 is larger than the 120 training rows");
    opts_fail((dcr_train_opts){0.1, 10, 0, 1, 1}, "epochs 0 must be at least 1");
}

Test(train, data_must_fit_the_network)
{
    dcr_dataset tr = blobs(10, 1, 0);
    dcr_arch a = net(DCR_F64, 0);
    a.sizes[0] = 3;
    dcr_engine e;
    double p[MAXP];
    setup_net(&e, p, &a, 3);
    dcr_train_opts o = {0.1, 5, 1, 0, 1};
    dcr_error err = {0};
    cr_assert_eq(dcr_train(p, &e, &tr, NULL, &o, NULL, NULL, NULL, &err), -1);
    cr_assert_str_eq(err.msg, "the training data has 2 features; the network has 3 inputs");
    double loss, acc;
    cr_assert_eq(dcr_evaluate(&loss, &acc, &e, p, &tr, &err), -1);
    cr_assert_str_eq(err.msg, "the evaluation data has 2 features; the network has 3 inputs");
    dcr_ref_engine_free(&e);
    dcr_dataset_free(&tr);
}

Test(evaluate, mean_loss_and_accuracy)
{
    dcr_dataset d = blobs(9, 4, 0);
    dcr_arch a = net(DCR_F64, 0);
    dcr_engine e;
    double p[MAXP], g[MAXP], out[2];
    setup_net(&e, p, &a, 3);
    double sum = 0;
    int correct = 0;
    for (size_t i = 0; i < d.n_rows; i++) {
        sum += e.loss_grad(e.self, g, p, d.x + 2 * i, d.y + 2 * i);
        e.forward(e.self, out, p, d.x + 2 * i);
        correct += (out[1] > out[0]) == (d.label[i] == 1);
    }
    double loss, acc;
    dcr_error err = {0};
    cr_assert_eq(dcr_evaluate(&loss, &acc, &e, p, &d, &err), 0, "%s", err.msg);
    cr_assert_eq(loss, sum / 9);
    cr_assert_eq(acc, correct / 9.0);
    dcr_dataset empty = {0};
    empty.n_in = 2;
    empty.n_out = 2;
    cr_assert_eq(dcr_evaluate(&loss, &acc, &e, p, &empty, &err), -1);
    cr_assert_str_eq(err.msg, "cannot evaluate on an empty dataset");
    dcr_ref_engine_free(&e);
    dcr_dataset_free(&d);
}
