/* kernels_act.c: activation kernels for code compiled by libtcc in fast
 * mode (the default; --exact-math keeps libm). A layer's activation is one
 * call over its units instead of a libm call per unit: glibc's tanhf costs
 * ~30 ns here, so on 4-16-16-1 the 32 calls were half of libtcc's step.
 * The functions are compiler/fastmath.h's (error bounds in docs/fastmath.md,
 * tested by tests/test_fastmath.c), which gcc inlines and vectorises here;
 * under libtcc itself they would be slower than libm. This file is built
 * with -O3 (CMakeLists.txt) so that the loops vectorise. */
#include "fastmath.h"
#include "kernels.h"

#define DEFINE_ACT_KERNELS(T, S, EXP, TANH, SIGMOID)                                                 \
    void dck_tanh##S(T *a, const T *z, int n)                                                         \
    {                                                                                                 \
        for (int k = 0; k < n; k++)                                                                   \
            a[k] = TANH(z[k]);                                                                        \
    }                                                                                                 \
    void dck_sigmoid##S(T *a, const T *z, int n)                                                      \
    {                                                                                                 \
        for (int k = 0; k < n; k++)                                                                   \
            a[k] = SIGMOID(z[k]);                                                                     \
    }                                                                                                 \
    void dck_expsub##S(T *a, const T *z, T m, int n)                                                  \
    {                                                                                                 \
        for (int k = 0; k < n; k++)                                                                   \
            a[k] = EXP(z[k] - m);                                                                     \
    }

DEFINE_ACT_KERNELS(float, f, DCM_expf, DCM_tanhf, DCM_sigmoidf)
DEFINE_ACT_KERNELS(double, d, DCM_exp, DCM_tanh, DCM_sigmoid)
