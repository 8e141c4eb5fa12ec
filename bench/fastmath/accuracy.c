/* accuracy.c: maximum errors of compiler/fastmath.h under the flags it is
 * built with (tests/test_fastmath.c asserts the -ffp-contract=off ones; this
 * program shows what FMA contraction changes):
 *
 *   gcc -O2 -ffp-contract=off -I compiler bench/fastmath/accuracy.c -lm -o /tmp/acc && /tmp/acc
 *   gcc -O3 -march=native -ffp-contract=fast -I compiler bench/fastmath/accuracy.c -lm -o /tmp/acc && /tmp/acc
 *
 * Error: |got - exact| / max(|exact|, smallest normal), the reference being
 * libm in double for the float functions and in long double for the double
 * ones. Float inputs: every STRIDE-th bit pattern (default 97) of all floats;
 * double inputs: N (default 10^7) random doubles per function, a third
 * uniform over the function's interesting range, a third log-uniform in
 * magnitude from 2^-60 to 2^10, a third near 0.625 and 0. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fastmath.h"

static double ref_sigmoid(double x)
{
    return x >= 0 ? 1 / (1 + exp(-x)) : exp(x) / (1 + exp(x));
}

static long double ref_sigmoidl(long double x)
{
    return x >= 0 ? 1 / (1 + expl(-x)) : expl(x) / (1 + expl(x));
}

static double err_f(float got, double ref)
{
    if (isnan(ref))
        return isnan(got) ? 0 : INFINITY;
    if (isinf(got) && fabs(ref) >= FLT_MAX && (got > 0) == (ref > 0))
        return 0;
    return fabs((double)got - ref) / fmax(fabs(ref), FLT_MIN);
}

static long double err_d(double got, long double ref)
{
    if (isnan(ref))
        return isnan(got) ? 0 : INFINITY;
    if (isinf(got) && fabsl(ref) >= DBL_MAX && (got > 0) == (ref > 0))
        return 0;
    return fabsl((long double)got - ref) / fmaxl(fabsl(ref), DBL_MIN);
}

static unsigned long long rng_state = 0x9e3779b97f4a7c15ull;
static double uniform(void)
{
    unsigned long long z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return (double)((z ^ (z >> 31)) >> 11) * 0x1.0p-53;
}

static double draw(int kind, double lo, double hi)
{
    double u = uniform();
    switch (kind) {
    case 0:
        return lo + (hi - lo) * u;
    case 1:
        return (uniform() < 0.5 ? -1 : 1) * ldexp(1.0, -60) * pow(2.0, 70 * u);
    default:
        return (uniform() < 0.5 ? -1 : 1) * (uniform() < 0.5 ? 0.625 * (1 + (u - 0.5) * 0.02) : u * 1e-3);
    }
}

int main(int argc, char **argv)
{
    unsigned stride = argc > 1 ? (unsigned)atoi(argv[1]) : 97;
    long n = argc > 2 ? atol(argv[2]) : 10000000;
    /* me: all results; mn: normal results only */
    double me[3] = {0}, at[3] = {0}, mn[3] = {0}, atn[3] = {0};
    for (unsigned long long b = 0; b <= 0xffffffffull; b += stride) {
        float x;
        unsigned u = (unsigned)b;
        memcpy(&x, &u, 4);
        double ref[3] = {exp((double)x), tanh((double)x), ref_sigmoid(x)};
        double ev[3] = {err_f(DCM_expf(x), ref[0]), err_f(DCM_tanhf(x), ref[1]),
                        err_f(DCM_sigmoidf(x), ref[2])};
        for (int f = 0; f < 3; f++) {
            if (ev[f] > me[f]) {
                me[f] = ev[f];
                at[f] = x;
            }
            if (fabs(ref[f]) >= FLT_MIN && ev[f] > mn[f]) {
                mn[f] = ev[f];
                atn[f] = x;
            }
        }
    }
    printf("float, every %u-th bit pattern:\n", stride);
    const char *fn[3] = {"expf", "tanhf", "sigmoidf"};
    for (int f = 0; f < 3; f++)
        printf("  DCM_%-9s max error %.3e at x = %a (%.9g); normal results %.3e at %a\n", fn[f], me[f],
               at[f], at[f], mn[f], atn[f]);

    const double lo[3] = {-750, -25, -750}, hi[3] = {720, 25, 50};
    const char *dn[3] = {"exp", "tanh", "sigmoid"};
    printf("double, %ld random inputs each:\n", n);
    for (int f = 0; f < 3; f++) {
        long double m = 0;
        double a = 0;
        for (long i = 0; i < n; i++) {
            double x = draw((int)(i % 3), lo[f], hi[f]);
            long double e = f == 0 ? err_d(DCM_exp(x), expl(x))
                          : f == 1 ? err_d(DCM_tanh(x), tanhl(x))
                                   : err_d(DCM_sigmoid(x), ref_sigmoidl(x));
            if (e > m) {
                m = e;
                a = x;
            }
        }
        printf("  DCM_%-9s max error %.3Le at x = %a (%.17g)\n", dn[f], m, a, a);
    }
    return 0;
}
