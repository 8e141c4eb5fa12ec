/* gradcheck.c: compares an engine's backward pass with central finite
 * differences (five-point stencil). Works on any engine and dtype:
 * parameters are read and written as doubles and the step actually taken is
 * used, as rounding to float32 changes it. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dcr.h"

static double get(const void *p, dcr_dtype t, size_t i)
{
    return t == DCR_F64 ? ((const double *)p)[i] : (double)((const float *)p)[i];
}

static double set(void *p, dcr_dtype t, size_t i, double v)
{
    if (t == DCR_F64)
        return ((double *)p)[i] = v;
    return ((float *)p)[i] = (float)v;
}

/* The summed loss over the samples; grad is scratch. */
static double total_loss(const dcr_engine *e, void *grad, const void *params, const char *X,
                         const char *Y, int n, size_t es)
{
    const dcr_arch *a = e->arch;
    double sum = 0;
    for (int i = 0; i < n; i++)
        sum += e->loss_grad(e->self, grad, params, X + (size_t)i * (size_t)a->sizes[0] * es,
                            Y + (size_t)i * (size_t)a->sizes[a->n_layers] * es);
    return sum;
}

/* Retry with smaller steps above this error (below every tolerance used). */
#define GC_RETRY 1e-8

/* Five-point central difference of the summed loss in parameter i:
 * truncation error O(eps^4), so the step can be large enough to keep
 * rounding error small. The steps actually taken (rounded to the dtype) set
 * the scale. params is restored exactly. */
static double gc_numeric(const dcr_engine *e, void *scratch, void *params, const void *X, const void *Y,
                         int n, size_t es, size_t i, double eps)
{
    const dcr_arch *a = e->arch;
    double p = get(params, a->dtype, i), f[4], h[4];
    static const double k[4] = {2, 1, -1, -2};
    for (int s = 0; s < 4; s++) {
        h[s] = set(params, a->dtype, i, p + k[s] * eps) - p;
        f[s] = total_loss(e, scratch, params, X, Y, n, es);
    }
    set(params, a->dtype, i, p);
    return (8 * (f[1] - f[2]) - (f[0] - f[3])) / (6 * (h[1] - h[2]));
}

static double gc_error(double ana, double num, double floor_)
{
    double rel = fabs(num - ana) / fmax(fmax(fabs(num), fabs(ana)), floor_);
    return (rel <= 0 || rel > 0) ? rel : INFINITY; /* NaN compares false everywhere: make it fail */
}

int dcr_gradcheck(dcr_gradcheck_result *out, const dcr_engine *e, void *params, const void *X,
                  const void *Y, int n, double eps, double floor_, dcr_error *err)
{
    const dcr_arch *a = e->arch;
    size_t np = dcr_arch_n_params(a), es = dcr_dtype_size(a->dtype);
    memset(out, 0, sizeof *out);
    out->n_layers = a->n_layers;
    void *grad = calloc(np, es), *scratch = calloc(np, es);
    if (!grad || !scratch) {
        free(grad);
        free(scratch);
        return dcr_fail(err, DCR_ERR_NOMEM, "out of memory");
    }
    total_loss(e, grad, params, X, Y, n, es);
    for (int l = 1; l <= a->n_layers; l++) {
        size_t w0 = dcr_arch_w_offset(a, l), b0 = dcr_arch_b_offset(a, l);
        size_t end = b0 + (size_t)a->sizes[l];
        for (size_t i = w0; i < end; i++) {
            double ana = get(grad, a->dtype, i);
            double rel = gc_error(ana, gc_numeric(e, scratch, params, X, Y, n, es, i, eps), floor_);
            /* A kink (ReLU at 0) within the step spoils the difference
             * quotient, not the gradient: retry with smaller steps and
             * keep the best. A wrong gradient fails at every step. */
            if (rel > GC_RETRY) {
                for (double h = eps / 8; h >= eps / 64; h /= 8)
                    rel = fmin(rel, gc_error(ana, gc_numeric(e, scratch, params, X, Y, n, es, i, h), floor_));
                if (rel <= GC_RETRY)
                    out->n_smaller_step++;
            }
            double *slot = i < b0 ? &out->max_rel_w[l] : &out->max_rel_b[l];
            if (rel > *slot)
                *slot = rel;
            if (rel > out->max_rel)
                out->max_rel = rel;
            if (fabs(ana) > out->max_abs_grad)
                out->max_abs_grad = fabs(ana);
            out->n_checked++;
        }
    }
    free(grad);
    free(scratch);
    return 0;
}

int dcr_gradcheck_random(dcr_gradcheck_result *out, const dcr_engine *e, uint64_t seed, int n,
                         double eps, double floor_, dcr_error *err)
{
    const dcr_arch *a = e->arch;
    int n_in = a->sizes[0], n_out = a->sizes[a->n_layers];
    size_t np = dcr_arch_n_params(a);
    double *p = malloc(np * sizeof *p);
    double *x = malloc((size_t)n * (size_t)n_in * sizeof *x);
    double *y = malloc((size_t)n * (size_t)n_out * sizeof *y);
    if (!p || !x || !y) {
        free(p);
        free(x);
        free(y);
        return dcr_fail(err, DCR_ERR_NOMEM, "out of memory");
    }
    dcr_rng r;
    dcr_rng_seed(&r, seed);
    /* biases too, so that every derivative is exercised away from zero */
    for (int l = 1; l <= a->n_layers; l++) {
        double s = 1.5 / sqrt((double)a->sizes[l - 1]);
        size_t w0 = dcr_arch_w_offset(a, l), end = dcr_arch_b_offset(a, l) + (size_t)a->sizes[l];
        for (size_t i = w0; i < end; i++)
            p[i] = (2 * dcr_rng_uniform(&r) - 1) * s;
    }
    for (size_t i = 0; i < (size_t)n * (size_t)n_in; i++)
        x[i] = 2 * dcr_rng_uniform(&r) - 1;
    for (int i = 0; i < n; i++) {
        double *yi = y + (size_t)i * (size_t)n_out;
        if (a->loss == DCR_LOSS_CROSS_ENTROPY) {
            memset(yi, 0, (size_t)n_out * sizeof *yi);
            yi[dcr_rng_below(&r, (uint64_t)n_out)] = 1;
        } else {
            /* binary_cross_entropy (sigmoid outputs): probabilities in [0, 1] */
            int unit = a->loss == DCR_LOSS_BINARY_CROSS_ENTROPY || a->act[a->n_layers] == DCR_ACT_SIGMOID;
            for (int k = 0; k < n_out; k++)
                yi[k] = unit ? dcr_rng_uniform(&r) : 2 * dcr_rng_uniform(&r) - 1;
        }
    }
    void *pp = dcr_pack(p, np, a->dtype);
    void *xp = dcr_pack(x, (size_t)n * (size_t)n_in, a->dtype);
    void *yp = dcr_pack(y, (size_t)n * (size_t)n_out, a->dtype);
    int rc = (pp && xp && yp) ? dcr_gradcheck(out, e, pp, xp, yp, n, eps, floor_, err)
                              : dcr_fail(err, DCR_ERR_NOMEM, "out of memory");
    free(pp);
    free(xp);
    free(yp);
    free(p);
    free(x);
    free(y);
    return rc;
}
