/* dataset.c: owning, splitting, standardising and packing datasets. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dcr_internal.h"

void dcr_dataset_free(dcr_dataset *d)
{
    if (!d)
        return;
    free(d->x);
    free(d->y);
    free(d->label);
    memset(d, 0, sizeof *d);
}

static int cmp_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return (x > y) - (x < y);
}

/* Allocates d for n rows shaped like src; all or nothing. */
static int alloc_like(dcr_dataset *d, const dcr_dataset *src, size_t n)
{
    size_t bx, by, bl;
    memset(d, 0, sizeof *d);
    /* src already holds more rows than n, so its sizes bound these; the checks
     * stay because n_in and n_out are plain ints anyone could set. */
    if (!dcr_mul_ok(&bx, n, (size_t)src->n_in) || !dcr_mul_ok(&bx, bx, sizeof(double)) ||
        !dcr_mul_ok(&by, n, (size_t)src->n_out) || !dcr_mul_ok(&by, by, sizeof(double)) ||
        !dcr_mul_ok(&bl, n, sizeof(int)))
        return -1;
    d->x = malloc(bx ? bx : 1);
    d->y = malloc(by ? by : 1);
    d->label = src->label ? malloc(bl ? bl : 1) : NULL;
    if (!d->x || !d->y || (src->label && !d->label)) {
        dcr_dataset_free(d);
        return -1;
    }
    d->n_rows = n;
    d->n_in = src->n_in;
    d->n_out = src->n_out;
    return 0;
}

static void copy_rows(dcr_dataset *d, const dcr_dataset *src, const size_t *idx)
{
    size_t ni = (size_t)src->n_in, no = (size_t)src->n_out;
    for (size_t r = 0; r < d->n_rows; r++) {
        memcpy(d->x + r * ni, src->x + idx[r] * ni, ni * sizeof(double));
        memcpy(d->y + r * no, src->y + idx[r] * no, no * sizeof(double));
        if (src->label)
            d->label[r] = src->label[idx[r]];
    }
}

int dcr_dataset_split(dcr_dataset *train, dcr_dataset *test, dcr_dataset *all,
                      double test_fraction, uint64_t seed, dcr_error *err)
{
    if (!train || !test || !all || train == all || test == all || train == test ||
        all->n_in < 1 || all->n_out < 1)
        return dcr_fail(err, DCR_ERR_USAGE, "dcr_dataset_split: bad arguments");
    if (!(test_fraction >= 0 && test_fraction < 1))
        return dcr_fail(err, DCR_ERR_SPEC, "test fraction %g must be at least 0 and below 1",
                        test_fraction);
    size_t n = all->n_rows;
    size_t n_test = (size_t)round(test_fraction * (double)n);
    if (test_fraction > 0 && n_test == 0)
        n_test = 1;
    if (n_test >= n)
        return dcr_fail(err, DCR_ERR_DATA,
                        "test fraction %g of %zu row%s leaves no rows to train on",
                        test_fraction, n, n == 1 ? "" : "s");

    size_t *idx = malloc(n * sizeof *idx);
    if (!idx)
        return dcr_fail(err, DCR_ERR_NOMEM, "out of memory splitting %zu rows", n);
    for (size_t i = 0; i < n; i++)
        idx[i] = i;
    dcr_rng rng;
    dcr_rng_seed(&rng, seed);
    dcr_rng_shuffle(&rng, idx, n);
    /* Sorted so each part keeps the file's order: only membership is random. */
    qsort(idx, n_test, sizeof *idx, cmp_size);
    qsort(idx + n_test, n - n_test, sizeof *idx, cmp_size);

    dcr_dataset tr, te;
    if (alloc_like(&te, all, n_test)) {
        free(idx);
        return dcr_fail(err, DCR_ERR_NOMEM, "out of memory splitting %zu rows", n);
    }
    if (alloc_like(&tr, all, n - n_test)) {
        dcr_dataset_free(&te);
        free(idx);
        return dcr_fail(err, DCR_ERR_NOMEM, "out of memory splitting %zu rows", n);
    }
    copy_rows(&te, all, idx);
    copy_rows(&tr, all, idx + n_test);
    free(idx);
    dcr_dataset_free(all);
    *train = tr;
    *test = te;
    return 0;
}

static void apply(dcr_dataset *d, int j, double mean, double sd)
{
    size_t ni = (size_t)d->n_in;
    for (size_t r = 0; r < d->n_rows; r++) {
        double *v = &d->x[r * ni + (size_t)j];
        *v = sd == 0 ? *v - mean : (*v - mean) / sd;
    }
}

void dcr_standardize(dcr_dataset *train, dcr_dataset *test)
{
    DCR_ASSERT(train && (!test || test->n_in == train->n_in));
    size_t n = train->n_rows, ni = (size_t)train->n_in;
    if (n == 0)
        return;
    for (int j = 0; j < train->n_in; j++) {
        const double *col = train->x + j;
        double first = col[0], sum = 0;
        int constant = 1;
        for (size_t r = 0; r < n; r++) {
            sum += col[r * ni];
            constant &= col[r * ni] == first;
        }
        /* A constant column's computed mean can be off by rounding, leaving a
         * tiny nonzero spread that would blow noise up to unit scale; its
         * exact mean and spread are known. */
        double mean = constant ? first : sum / (double)n, sd = 0;
        if (!constant) {
            double ss = 0;
            for (size_t r = 0; r < n; r++) {
                double e = col[r * ni] - mean;
                ss += e * e;
            }
            sd = sqrt(ss / (double)n);
        }
        apply(train, j, mean, sd);
        if (test)
            apply(test, j, mean, sd);
    }
}

void *dcr_pack(const double *v, size_t n, dcr_dtype t)
{
    size_t bytes;
    if (!dcr_mul_ok(&bytes, n, dcr_dtype_size(t)))
        return NULL;
    void *p = malloc(bytes ? bytes : 1);
    if (!p)
        return NULL;
    if (t == DCR_F32) {
        for (size_t i = 0; i < n; i++)
            ((float *)p)[i] = (float)v[i];
    } else {
        if (n)
            memcpy(p, v, bytes);
    }
    return p;
}
