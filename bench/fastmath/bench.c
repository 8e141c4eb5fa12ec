/* bench.c: ns per element of libm against compiler/fastmath.h, in a loop of
 * 1024 elements (the shape a generated layer has), each function in its own
 * non-inlined loop. Prints the minimum and the median of RUNS timings.
 *
 *   gcc -O3 -march=native -ffp-contract=fast -fno-math-errno -fno-trapping-math \
 *       -I compiler bench/fastmath/bench.c -lm -o /tmp/fmbench && /tmp/fmbench
 *   tcc -I compiler -run bench/fastmath/bench.c          (tcc links libm itself)
 */
#define _POSIX_C_SOURCE 199309L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "fastmath.h"

#if defined(__GNUC__) && !defined(__TINYC__)
#define NOINLINE __attribute__((noinline))
#else
#define NOINLINE
#endif

#define N 1024
#define RUNS 9

static float zf[N], af[N];
static double zd[N], ad[N];

/* one loop per function, so each is compiled (and vectorised) on its own */
#define LOOP(name, T, expr) \
    static NOINLINE void name(T *restrict a, const T *restrict z, int n) \
    { \
        for (int i = 0; i < n; i++) \
            a[i] = expr; \
    }
LOOP(libm_expf, float, expf(z[i]))
LOOP(dcm_expf, float, DCM_expf(z[i]))
LOOP(libm_tanhf, float, tanhf(z[i]))
LOOP(dcm_tanhf, float, DCM_tanhf(z[i]))
LOOP(libm_sigmoidf, float, 1.0f / (1.0f + expf(-z[i])))
LOOP(dcm_sigmoidf, float, DCM_sigmoidf(z[i]))
LOOP(libm_exp, double, exp(z[i]))
LOOP(dcm_exp, double, DCM_exp(z[i]))
LOOP(libm_tanh, double, tanh(z[i]))
LOOP(dcm_tanh, double, DCM_tanh(z[i]))
LOOP(libm_sigmoid, double, 1.0 / (1.0 + exp(-z[i])))
LOOP(dcm_sigmoid, double, DCM_sigmoid(z[i]))

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double sink;

/* ns per element: RUNS timings of enough repetitions to take ~20 ms each */
static void timef(const char *name, void (*f)(float *, const float *, int), double *mn, double *md)
{
    double t[RUNS];
    int reps = 1;
    for (;;) {
        double t0 = now();
        for (int r = 0; r < reps; r++)
            f(af, zf, N);
        if (now() - t0 > 0.02)
            break;
        reps *= 2;
    }
    for (int k = 0; k < RUNS; k++) {
        double t0 = now();
        for (int r = 0; r < reps; r++)
            f(af, zf, N);
        t[k] = (now() - t0) * 1e9 / ((double)reps * N);
        sink += af[k];
    }
    qsort(t, RUNS, sizeof t[0], cmp);
    *mn = t[0];
    *md = t[RUNS / 2];
    (void)name;
}

static void timed(const char *name, void (*f)(double *, const double *, int), double *mn, double *md)
{
    double t[RUNS];
    int reps = 1;
    for (;;) {
        double t0 = now();
        for (int r = 0; r < reps; r++)
            f(ad, zd, N);
        if (now() - t0 > 0.02)
            break;
        reps *= 2;
    }
    for (int k = 0; k < RUNS; k++) {
        double t0 = now();
        for (int r = 0; r < reps; r++)
            f(ad, zd, N);
        t[k] = (now() - t0) * 1e9 / ((double)reps * N);
        sink += ad[k];
    }
    qsort(t, RUNS, sizeof t[0], cmp);
    *mn = t[0];
    *md = t[RUNS / 2];
    (void)name;
}

int main(void)
{
    /* inputs of a hidden layer: mostly in [-4, 4], some beyond */
    unsigned long long s = 12345;
    for (int i = 0; i < N; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        double u = (double)(s >> 11) * 0x1.0p-53;
        zd[i] = (u - 0.5) * (i % 8 == 0 ? 40.0 : 8.0);
        zf[i] = (float)zd[i];
    }
    struct {
        const char *name;
        void (*lf)(float *, const float *, int), (*df)(float *, const float *, int);
        void (*ld)(double *, const double *, int), (*dd)(double *, const double *, int);
    } fs[] = {
        {"expf", libm_expf, dcm_expf, 0, 0},
        {"tanhf", libm_tanhf, dcm_tanhf, 0, 0},
        {"sigmoidf", libm_sigmoidf, dcm_sigmoidf, 0, 0},
        {"exp", 0, 0, libm_exp, dcm_exp},
        {"tanh", 0, 0, libm_tanh, dcm_tanh},
        {"sigmoid", 0, 0, libm_sigmoid, dcm_sigmoid},
    };
    printf("ns per element, loop of %d, min / median of %d runs\n", N, RUNS);
    printf("| function | libm | DCM_ | libm / DCM_ (min) |\n| --- | --- | --- | --- |\n");
    for (size_t i = 0; i < sizeof fs / sizeof fs[0]; i++) {
        double lmin, lmed, dmin, dmed;
        if (fs[i].lf) {
            timef(fs[i].name, fs[i].lf, &lmin, &lmed);
            timef(fs[i].name, fs[i].df, &dmin, &dmed);
        } else {
            timed(fs[i].name, fs[i].ld, &lmin, &lmed);
            timed(fs[i].name, fs[i].dd, &dmin, &dmed);
        }
        printf("| %s | %.2f / %.2f | %.2f / %.2f | %.1fx |\n", fs[i].name, lmin, lmed, dmin, dmed,
               lmin / dmin);
    }
    return sink == 12345.678 ? 1 : 0;
}
