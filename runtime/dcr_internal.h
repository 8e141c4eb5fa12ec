/* dcr_internal.h: what the runtime's files share and nobody else sees. */
#ifndef DCR_INTERNAL_H
#define DCR_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "dcr.h"

/* An internal invariant broke: a bug in the caller or the runtime, not a user
 * error, so there is no one to hand a dcr_error to. Prints the place, aborts. */
#define DCR_DIE(what) dcr_die(__FILE__, __LINE__, (what))
#define DCR_ASSERT(c) ((c) ? (void)0 : DCR_DIE("assertion failed: " #c))
/* C99 has no _Noreturn, and this header is also pasted into C99 trainers. */
#if defined(__GNUC__)
#define DCR_NORETURN __attribute__((noreturn))
#else
#define DCR_NORETURN
#endif
DCR_NORETURN void dcr_die(const char *file, int line, const char *what);

/* a * b into *out; 0 when it overflows size_t (then *out is untouched). */
static inline int dcr_mul_ok(size_t *out, size_t a, size_t b)
{
    if (b != 0 && a > SIZE_MAX / b)
        return 0;
    *out = a * b;
    return 1;
}

static inline int dcr_add_ok(size_t *out, size_t a, size_t b)
{
    if (a > SIZE_MAX - b)
        return 0;
    *out = a + b;
    return 1;
}

/* The most memory one dataset's arrays may take: features and targets as
 * doubles (rows x n_in, rows x n_out) and class labels as ints. The readers
 * check it, with the row count a file claims (IDX) or holds (CSV), before
 * they allocate. 16 GiB: the largest IDX file (DCR_MAX_IDX_BYTES of pixels)
 * takes 8 GiB as doubles. Overridable at build time. */
#ifndef DCR_MAX_DATASET_BYTES
#define DCR_MAX_DATASET_BYTES ((uint64_t)16 << 30)
#endif

/* 1 when a dataset of rows x (n_in features, n_out targets), with an int
 * label per row when labels, fits size_t and DCR_MAX_DATASET_BYTES. */
static inline int dcr_dataset_fits(size_t rows, size_t n_in, size_t n_out, int labels)
{
    size_t bx, by, bl = 0, total;
    if (!dcr_mul_ok(&bx, rows, n_in) || !dcr_mul_ok(&bx, bx, sizeof(double)) ||
        !dcr_mul_ok(&by, rows, n_out) || !dcr_mul_ok(&by, by, sizeof(double)) ||
        (labels && !dcr_mul_ok(&bl, rows, sizeof(int))) || !dcr_add_ok(&total, bx, by) ||
        !dcr_add_ok(&total, total, bl))
        return 0;
    return (uint64_t)total <= DCR_MAX_DATASET_BYTES;
}

/* 1 when every size, activation and the loss of a are in range and the
 * parameter count fits size_t; used before trusting a's dimensions. */
int dcr_arch_valid(const dcr_arch *a);

#endif
