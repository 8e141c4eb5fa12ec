/* test_runtime_dataset.c: dcr_dataset_split, dcr_standardize, dcr_pack and
 * dcr_dataset_free. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dcr.h"

/* n rows: x = (i, -i), y one-hot of i % 3, label i % 3 */
static dcr_dataset rows(size_t n, int with_labels)
{
    dcr_dataset d = {0};
    d.n_rows = n;
    d.n_in = 2;
    d.n_out = 3;
    d.x = malloc(n * 2 * sizeof(double) + 1);
    d.y = calloc(n * 3 + 1, sizeof(double));
    d.label = with_labels ? malloc(n * sizeof(int) + 1) : NULL;
    cr_assert(d.x && d.y && (!with_labels || d.label));
    for (size_t i = 0; i < n; i++) {
        d.x[2 * i] = (double)i;
        d.x[2 * i + 1] = -(double)i;
        d.y[3 * i + i % 3] = 1;
        if (with_labels)
            d.label[i] = (int)(i % 3);
    }
    return d;
}

static void check_part(const dcr_dataset *p, int *seen, size_t n_all)
{
    for (size_t r = 0; r < p->n_rows; r++) {
        size_t i = (size_t)p->x[2 * r];
        cr_assert_lt(i, n_all);
        cr_assert_eq(p->x[2 * r + 1], -(double)i);
        cr_assert_eq(p->y[3 * r + i % 3], 1);
        if (p->label)
            cr_assert_eq(p->label[r], (int)(i % 3));
        if (r > 0)
            cr_assert_lt(p->x[2 * (r - 1)], p->x[2 * r], "rows keep the file's order");
        seen[i]++;
    }
}

Test(split, partitions_in_file_order)
{
    dcr_dataset all = rows(10, 1), tr, te;
    dcr_error e = {0};
    cr_assert_eq(dcr_dataset_split(&tr, &te, &all, 0.3, 42, &e), 0, "%s", e.msg);
    cr_assert_eq(te.n_rows, 3);
    cr_assert_eq(tr.n_rows, 7);
    cr_assert_eq(tr.n_in, 2);
    cr_assert_eq(te.n_out, 3);
    cr_assert_null(all.x, "all is emptied");
    cr_assert_eq(all.n_rows, 0);
    int seen[10] = {0};
    check_part(&tr, seen, 10);
    check_part(&te, seen, 10);
    for (int i = 0; i < 10; i++)
        cr_assert_eq(seen[i], 1, "row %d in %d parts", i, seen[i]);
    dcr_dataset_free(&tr);
    dcr_dataset_free(&te);
}

/* The test part is the first round(f n) of the shuffled indices: written out
 * here so that a change to the definition shows. */
Test(split, follows_its_definition)
{
    dcr_dataset all = rows(20, 0), tr, te;
    cr_assert_eq(dcr_dataset_split(&tr, &te, &all, 0.25, 7, NULL), 0);
    size_t idx[20];
    for (size_t i = 0; i < 20; i++)
        idx[i] = i;
    dcr_rng r;
    dcr_rng_seed(&r, 7);
    dcr_rng_shuffle(&r, idx, 20);
    int in_test[20] = {0};
    for (int i = 0; i < 5; i++)
        in_test[idx[i]] = 1;
    cr_assert_eq(te.n_rows, 5);
    cr_assert_null(te.label);
    for (size_t k = 0; k < te.n_rows; k++)
        cr_assert(in_test[(int)te.x[2 * k]], "row %g should not be in test", te.x[2 * k]);
    for (size_t k = 0; k < tr.n_rows; k++)
        cr_assert(!in_test[(int)tr.x[2 * k]], "row %g should be in test", tr.x[2 * k]);
    dcr_dataset_free(&tr);
    dcr_dataset_free(&te);
}

static void membership(int *in_test, uint64_t seed, double f, size_t n)
{
    dcr_dataset all = rows(n, 1), tr, te;
    cr_assert_eq(dcr_dataset_split(&tr, &te, &all, f, seed, NULL), 0);
    memset(in_test, 0, n * sizeof *in_test);
    for (size_t k = 0; k < te.n_rows; k++)
        in_test[(size_t)te.x[2 * k]] = 1;
    dcr_dataset_free(&tr);
    dcr_dataset_free(&te);
}

Test(split, seeded)
{
    int a[50], b[50], c[50];
    membership(a, 1, 0.2, 50);
    membership(b, 1, 0.2, 50);
    membership(c, 2, 0.2, 50);
    cr_assert_arr_eq(a, b, sizeof a);
    cr_assert(memcmp(a, c, sizeof a) != 0);
}

Test(split, at_least_one_test_row)
{
    dcr_dataset all = rows(10, 1), tr, te;
    cr_assert_eq(dcr_dataset_split(&tr, &te, &all, 0.01, 3, NULL), 0);
    cr_assert_eq(te.n_rows, 1);
    cr_assert_eq(tr.n_rows, 9);
    dcr_dataset_free(&tr);
    dcr_dataset_free(&te);
}

Test(split, rounds_to_nearest)
{
    dcr_dataset all = rows(10, 1), tr, te;
    cr_assert_eq(dcr_dataset_split(&tr, &te, &all, 0.26, 3, NULL), 0);
    cr_assert_eq(te.n_rows, 3);
    dcr_dataset_free(&tr);
    dcr_dataset_free(&te);
    all = rows(150, 1);
    cr_assert_eq(dcr_dataset_split(&tr, &te, &all, 0.2, 3, NULL), 0);
    cr_assert_eq(te.n_rows, 30);
    cr_assert_eq(tr.n_rows, 120);
    dcr_dataset_free(&tr);
    dcr_dataset_free(&te);
}

Test(split, zero_fraction_leaves_test_empty)
{
    dcr_dataset all = rows(4, 1), tr, te;
    cr_assert_eq(dcr_dataset_split(&tr, &te, &all, 0, 3, NULL), 0);
    cr_assert_eq(te.n_rows, 0);
    cr_assert_eq(tr.n_rows, 4);
    for (size_t i = 0; i < 4; i++)
        cr_assert_eq(tr.x[2 * i], (double)i);
    dcr_dataset_free(&tr);
    dcr_dataset_free(&te);
}

static void split_fails(size_t n, double f, dcr_status st, const char *msg)
{
    dcr_dataset all = rows(n, 1), tr = {0}, te = {0};
    double *x = all.x;
    dcr_error e = {0};
    cr_assert_eq(dcr_dataset_split(&tr, &te, &all, f, 3, &e), -1, "%s", msg);
    cr_assert_str_eq(e.msg, msg);
    cr_assert_eq(e.status, st);
    cr_assert_eq(all.x, x, "all is left untouched");
    cr_assert_eq(all.n_rows, n);
    if (n)
        cr_assert_eq(all.x[2 * (n - 1)], (double)(n - 1));
    cr_assert_null(tr.x);
    cr_assert_null(te.x);
    dcr_dataset_free(&all);
}

Test(split, errors)
{
    split_fails(10, 0.95, DCR_ERR_DATA, "test fraction 0.95 of 10 rows leaves no rows to train on");
    split_fails(1, 0.5, DCR_ERR_DATA, "test fraction 0.5 of 1 row leaves no rows to train on");
    split_fails(0, 0, DCR_ERR_DATA, "test fraction 0 of 0 rows leaves no rows to train on");
    split_fails(10, 1, DCR_ERR_SPEC, "test fraction 1 must be at least 0 and below 1");
    split_fails(10, -0.1, DCR_ERR_SPEC, "test fraction -0.1 must be at least 0 and below 1");
    split_fails(10, NAN, DCR_ERR_SPEC, "test fraction nan must be at least 0 and below 1");
}

Test(standardize, train_statistics)
{
    dcr_dataset tr = {0}, te = {0};
    double xtr[] = {1, 5, 2, 5, 3, 5, 4, 5}, xte[] = {5, 7, 2.5, 5};
    tr.n_rows = 4;
    tr.n_in = 2;
    tr.x = xtr;
    te.n_rows = 2;
    te.n_in = 2;
    te.x = xte;
    dcr_standardize(&tr, &te);
    double sd = sqrt(1.25);
    double want_tr[] = {-1.5 / sd, 0, -0.5 / sd, 0, 0.5 / sd, 0, 1.5 / sd, 0};
    double want_te[] = {2.5 / sd, 2, 0, 0};
    for (int i = 0; i < 8; i++)
        cr_assert(fabs(xtr[i] - want_tr[i]) < 1e-15, "train %d: %.17g", i, xtr[i]);
    for (int i = 0; i < 4; i++)
        cr_assert(fabs(xte[i] - want_te[i]) < 1e-15, "test %d: %.17g", i, xte[i]);
    /* the constant column is centred exactly, not scaled */
    cr_assert_eq(xtr[1], 0);
    cr_assert_eq(xte[1], 2);
}

Test(standardize, mean_zero_std_one)
{
    dcr_dataset d = rows(7, 0);
    for (size_t i = 0; i < 7; i++)
        d.x[2 * i + 1] = 0.1; /* constant with an inexact mean */
    dcr_standardize(&d, NULL);
    double s = 0, ss = 0;
    for (size_t i = 0; i < 7; i++) {
        s += d.x[2 * i];
        ss += d.x[2 * i] * d.x[2 * i];
        cr_assert_eq(d.x[2 * i + 1], 0);
    }
    cr_assert(fabs(s / 7) < 1e-15);
    cr_assert(fabs(ss / 7 - 1) < 1e-12);
    dcr_dataset_free(&d);
}

Test(pack, converts)
{
    double v[] = {0.1, -2, 1e300};
    float *f = dcr_pack(v, 3, DCR_F32);
    double *d = dcr_pack(v, 3, DCR_F64);
    cr_assert(f && d);
    cr_assert_eq(f[0], 0.1f);
    cr_assert_eq(f[1], -2.0f);
    cr_assert(isinf(f[2]));
    cr_assert_arr_eq(d, v, sizeof v);
    free(f);
    free(d);
    void *empty = dcr_pack(NULL, 0, DCR_F64);
    cr_assert_not_null(empty);
    free(empty);
    cr_assert_null(dcr_pack(v, SIZE_MAX / 2, DCR_F64), "size overflow");
}

Test(dataset, free_zeroes_and_is_idempotent)
{
    dcr_dataset d = {0};
    dcr_dataset_free(&d);
    dcr_dataset_free(NULL);
    d = rows(3, 1);
    dcr_dataset_free(&d);
    cr_assert_null(d.x);
    cr_assert_null(d.y);
    cr_assert_null(d.label);
    cr_assert_eq(d.n_rows, 0);
    cr_assert_eq(d.n_in, 0);
    dcr_dataset_free(&d);
}
