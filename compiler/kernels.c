/* kernels.c: inner loops for code compiled by libtcc. libtcc does no loop
 * optimisation and keeps every value in memory, so generated code for
 * large layers calls these (compiled by gcc with deltac, handed to libtcc
 * by address like libm) for the work along a row, and keeps the network's
 * structure, sizes and offsets as constants.
 *
 * Each kernel adds its terms in the canonical order (biases first, inputs
 * in order, one product at a time, no FMA contraction: this file is built
 * with -ffp-contract=off like the rest), so JIT results stay bit-identical
 * to the reference engine's. dck_rows8 runs up to 8 rows' dot products as
 * independent chains, which is what makes it faster than one row at a
 * time; the axpy kernels vectorise without changing any element's order. */
#include <string.h>

#include "kernels.h"

#define DEFINE_KERNELS(T, S)                                                                        \
    void dck_rows8##S(T *z, const T *w, int nin, const T *in, const T *bias, int rows)          \
    {                                                                                               \
        T acc[8];                                                                                   \
        int r, j;                                                                                   \
        if (rows == 8) {                                                                            \
            for (r = 0; r < 8; r++)                                                                 \
                acc[r] = bias[r];                                                                   \
            for (j = 0; j < nin; j++) {                                                             \
                T x = in[j];                                                                        \
                for (r = 0; r < 8; r++)                                                             \
                    acc[r] += w[(long)r * nin + j] * x;                                             \
            }                                                                                       \
            for (r = 0; r < 8; r++)                                                                 \
                z[r] = acc[r];                                                                      \
            return;                                                                                 \
        }                                                                                           \
        for (r = 0; r < rows; r++) {                                                                \
            T s = bias[r];                                                                          \
            const T *wr = w + (long)r * nin;                                                        \
            for (j = 0; j < nin; j++)                                                               \
                s += wr[j] * in[j];                                                                 \
            z[r] = s;                                                                               \
        }                                                                                           \
    }                                                                                               \
    void dck_scale##S(T *d, const T *w, T s, int n)                                                \
    {                                                                                               \
        for (int j = 0; j < n; j++)                                                                 \
            d[j] = w[j] * s;                                                                        \
    }                                                                                               \
    void dck_axpy##S(T *d, const T *w, T s, int n)                                                 \
    {                                                                                               \
        for (int j = 0; j < n; j++)                                                                 \
            d[j] += w[j] * s;                                                                       \
    }                                                                                               \
    void dck_sgdrow##S(T *p, const T *in, T d, T scale, int n)                                      \
    {                                                                                               \
        for (int j = 0; j < n; j++)                                                                 \
            p[j] -= scale * (d * in[j]);                                                            \
    }                                                                                               \
    void dck_sgdlayer##S(T *w, T *b, const T *d, const T *in, T scale, int nout, int nin)            \
    {                                                                                               \
        for (int k = 0; k < nout; k++) {                                                            \
            T dk = d[k], *wk = w + (long)k * nin;                                                   \
            b[k] -= scale * dk;                                                                     \
            for (int j = 0; j < nin; j++)                                                           \
                wk[j] -= scale * (dk * in[j]);                                                      \
        }                                                                                           \
    }                                                                                               \
    void dck_zero##S(T *p, long n)                                                                  \
    {                                                                                               \
        memset(p, 0, (size_t)n * sizeof *p);                                                        \
    }                                                                                               \
    void dck_sgd##S(T *p, const T *g, T scale, long n)                                             \
    {                                                                                               \
        for (long i = 0; i < n; i++)                                                                \
            p[i] -= scale * g[i];                                                                   \
    }

DEFINE_KERNELS(float, f)
DEFINE_KERNELS(double, d)
