/* metrics.c: what a trained network scores on a dataset: accuracy and a
 * confusion matrix for classes, RMSE and MAE for values. File-scope names
 * carry the met_ prefix (the runtime is pasted into standalone trainers). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dcr_internal.h"

#define MET_MAX_TABLE 100 /* classes beyond which the confusion matrix is not printed */

void dcr_metrics_free(dcr_metrics *m)
{
    if (!m)
        return;
    free(m->confusion);
    memset(m, 0, sizeof *m);
}

int dcr_metrics_from_outputs(dcr_metrics *out, const double *outputs, const dcr_dataset *d,
                             dcr_error *err)
{
    if (!out)
        return dcr_fail(err, DCR_ERR_USAGE, "dcr_metrics_from_outputs: bad arguments");
    memset(out, 0, sizeof *out);
    if (!outputs || !d || d->n_out < 1)
        return dcr_fail(err, DCR_ERR_USAGE, "dcr_metrics_from_outputs: bad arguments");
    if (d->n_rows == 0)
        return dcr_fail(err, DCR_ERR_DATA, "cannot compute metrics on an empty dataset");
    size_t n = d->n_rows, k = (size_t)d->n_out;
    out->n_rows = n;
    out->n_out = d->n_out;
    out->accuracy = out->rmse = out->mae = -1;
    if (d->label) {
        size_t cells;
        if (!dcr_mul_ok(&cells, k, k) || !(out->confusion = calloc(cells, sizeof *out->confusion)))
            return dcr_fail(err, DCR_ERR_NOMEM, "out of memory for a %zu x %zu confusion matrix", k, k);
        out->classify = 1;
        size_t correct = 0;
        for (size_t i = 0; i < n; i++) {
            int t = d->label[i];
            if (t < 0 || (size_t)t >= k) {
                dcr_metrics_free(out);
                return dcr_fail(err, DCR_ERR_DATA, "row %zu has class %d; there are %zu outputs", i + 1, t, k);
            }
            /* the first largest output, like numpy's argmax */
            const double *o = outputs + i * k;
            size_t p = 0;
            for (size_t j = 1; j < k; j++)
                if (o[j] > o[p])
                    p = j;
            out->confusion[(size_t)t * k + p]++;
            correct += p == (size_t)t;
        }
        out->accuracy = (double)correct / (double)n;
        return 0;
    }
    double ss = 0, sa = 0;
    for (size_t i = 0; i < n * k; i++) {
        double e = outputs[i] - d->y[i];
        ss += e * e;
        sa += fabs(e);
    }
    out->rmse = sqrt(ss / (double)(n * k));
    out->mae = sa / (double)(n * k);
    return 0;
}

int dcr_metrics_compute(dcr_metrics *out, const dcr_engine *e, const void *params,
                        const dcr_dataset *d, dcr_error *err)
{
    if (!out)
        return dcr_fail(err, DCR_ERR_USAGE, "dcr_metrics_compute: bad arguments");
    memset(out, 0, sizeof *out);
    if (!e || !e->arch || !e->forward || !e->loss_grad || !params || !d || !dcr_arch_valid(e->arch))
        return dcr_fail(err, DCR_ERR_USAGE, "dcr_metrics_compute: bad arguments");
    const dcr_arch *a = e->arch;
    int n_in = a->sizes[0], n_out = a->sizes[a->n_layers];
    if (d->n_in != n_in || d->n_out != n_out)
        return dcr_fail(err, DCR_ERR_USAGE,
                        "the data has %d features and %d targets per row; the network has %d inputs and "
                        "%d outputs",
                        d->n_in, d->n_out, n_in, n_out);
    if (d->n_rows == 0)
        return dcr_fail(err, DCR_ERR_DATA, "cannot compute metrics on an empty dataset");
    size_t es = dcr_dtype_size(a->dtype), n = d->n_rows, nx, ny, gbytes;
    if (!dcr_mul_ok(&nx, n, (size_t)n_in) || !dcr_mul_ok(&ny, n, (size_t)n_out))
        return dcr_fail(err, DCR_ERR_LIMIT, "dataset of %zu rows is too large", n);
    void *X = dcr_pack(d->x, nx, a->dtype);
    void *Y = dcr_pack(d->y, ny, a->dtype);
    /* calloc: loss_grad adds into it */
    void *grad = dcr_mul_ok(&gbytes, dcr_arch_n_params(a), es) ? calloc(1, gbytes ? gbytes : 1) : NULL;
    void *o = malloc((size_t)n_out * es);
    double *outputs = malloc(ny * sizeof *outputs);
    int rc = -1;
    if (!X || !Y || !grad || !o || !outputs) {
        dcr_fail(err, DCR_ERR_NOMEM, "out of memory computing metrics of %zu rows", n);
        goto done;
    }
    double sum = 0;
    for (size_t i = 0; i < n; i++) {
        const char *x = (const char *)X + i * (size_t)n_in * es;
        sum += e->loss_grad(e->self, grad, params, x, (const char *)Y + i * (size_t)n_out * es);
        e->forward(e->self, o, params, x);
        for (int k = 0; k < n_out; k++)
            outputs[i * (size_t)n_out + (size_t)k] =
                a->dtype == DCR_F32 ? (double)((const float *)o)[k] : ((const double *)o)[k];
    }
    if (dcr_metrics_from_outputs(out, outputs, d, err))
        goto done;
    out->loss = sum / (double)n;
    rc = 0;
done:
    free(X);
    free(Y);
    free(grad);
    free(o);
    free(outputs);
    return rc;
}

static int met_digits(size_t v)
{
    int w = 1;
    while (v >= 10) {
        v /= 10;
        w++;
    }
    return w;
}

void dcr_metrics_write(FILE *out, const dcr_metrics *m)
{
    if (!out || !m)
        return;
    if (!m->classify) {
        fprintf(out, "rmse: %.6g\nmae: %.6g\n", m->rmse, m->mae);
        return;
    }
    fprintf(out, "accuracy: %.2f %%\n", 100 * m->accuracy);
    size_t k = (size_t)m->n_out;
    if (!m->confusion)
        return;
    if (k > MET_MAX_TABLE) {
        fprintf(out, "confusion matrix: not shown (%zu classes, more than %d)\n", k, MET_MAX_TABLE);
        return;
    }
    size_t most = 0;
    for (size_t i = 0; i < k * k; i++)
        if (m->confusion[i] > most)
            most = m->confusion[i];
    int wl = met_digits(k - 1), w = met_digits(most);
    if (w < wl)
        w = wl;
    fprintf(out, "confusion matrix (rows: true class, columns: predicted class):\n");
    fprintf(out, "%*s", wl + 2, "");
    for (size_t j = 0; j < k; j++)
        fprintf(out, "  %*zu", w, j);
    fputc('\n', out);
    for (size_t i = 0; i < k; i++) {
        fprintf(out, "  %*zu", wl, i);
        for (size_t j = 0; j < k; j++)
            fprintf(out, "  %*zu", w, m->confusion[i * k + j]);
        fputc('\n', out);
    }
}
