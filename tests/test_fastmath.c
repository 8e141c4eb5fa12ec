/* test_fastmath.c: compiler/fastmath.h, the exp, tanh and sigmoid that
 * generated code pastes in. Maximum errors against libm over dense sweeps of
 * floats and random doubles, special values, and the same results bit for
 * bit when the header is compiled by libtcc (both without FMA contraction:
 * this file is built with -ffp-contract=off).
 *
 * Error measure: |got - exact| / max(|exact|, smallest normal), so denormal
 * results are held to an absolute error (a float denormal's ulp is 1.2e-7 of
 * FLT_MIN). The exact value is libm in double for the float functions and
 * libm in long double for the double ones. The bounds are the measured
 * maxima (in fastmath.h's header comment and docs/fastmath.md) with a small
 * margin; raise one only with a new measurement and its reason. */
#include <criterion/criterion.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deltac.h"
#include "fastmath.h"

/* measured maxima: floats over all 2^32 inputs, doubles over 10^8 random
 * ones (bench/fastmath/accuracy.c), without FMA contraction */
#define BOUND_EXPF 1.4e-7     /* 1.310e-7 */
#define BOUND_TANHF 3.95e-7   /* 3.684e-7: one rational, rounding errors of its 19 operations */
#define BOUND_SIGMOIDF 2.7e-7 /* 2.497e-7 */
#define BOUND_EXP 2.8e-16     /* 2.494e-16 */
#define BOUND_TANH 3.5e-16    /* 3.155e-16 */
#define BOUND_SIGMOID 4.9e-16 /* 4.479e-16 */

/* ---- references and the error measure ---------------------------------------------- */

static double ref_sigmoid(double x)
{
    return x >= 0 ? 1 / (1 + exp(-x)) : exp(x) / (1 + exp(x));
}

static long double ref_sigmoidl(long double x)
{
    return x >= 0 ? 1 / (1 + expl(-x)) : expl(x) / (1 + expl(x));
}

/* an infinite result is right when the exact value is at least the largest
 * finite one (it then rounds to it or beyond); NaN only for NaN */
static double err_f(float got, double ref)
{
    if (isnan(ref) || isnan(got))
        return isnan(ref) && isnan(got) ? 0 : INFINITY;
    if (isinf(got) || isinf(ref))
        return (fabs(ref) >= FLT_MAX && isinf(got) && (got > 0) == (ref > 0)) ? 0 : INFINITY;
    return fabs((double)got - ref) / fmax(fabs(ref), FLT_MIN);
}

static double err_d(double got, long double ref)
{
    if (isnan(ref) || isnan(got))
        return isnan(ref) && isnan(got) ? 0 : INFINITY;
    if (isinf(got) || isinf(ref))
        return (fabsl(ref) >= DBL_MAX && isinf(got) && (got > 0) == (ref > 0)) ? 0 : INFINITY;
    return (double)(fabsl((long double)got - ref) / fmaxl(fabsl(ref), DBL_MIN));
}

static float f_of(uint32_t u)
{
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
}

static uint32_t bits_f(float x)
{
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}

static uint64_t bits_d(double x)
{
    uint64_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}

enum { F_EXP, F_TANH, F_SIGMOID };
static const char *const names[] = {"exp", "tanh", "sigmoid"};

static float dcm_f(int f, float x)
{
    return f == F_EXP ? DCM_expf(x) : f == F_TANH ? DCM_tanhf(x) : DCM_sigmoidf(x);
}

static double ref_f(int f, float x)
{
    return f == F_EXP ? exp((double)x) : f == F_TANH ? tanh((double)x) : ref_sigmoid(x);
}

static double dcm_d(int f, double x)
{
    return f == F_EXP ? DCM_exp(x) : f == F_TANH ? DCM_tanh(x) : DCM_sigmoid(x);
}

static long double ref_d(int f, double x)
{
    return f == F_EXP ? expl(x) : f == F_TANH ? tanhl(x) : ref_sigmoidl(x);
}

/* ---- float: every 97th float in [-100, 100], every 9973rd of all ------------------ */

typedef struct {
    double max;
    float at;
    long n;
} worst_f;

static void sweep_f(worst_f *w, int f, uint32_t lo, uint32_t hi, uint32_t stride)
{
    for (uint64_t b = lo; b <= hi; b += stride) {
        float x = f_of((uint32_t)b);
        double e = err_f(dcm_f(f, x), ref_f(f, x));
        w->n++;
        if (!(e <= w->max)) {
            w->max = e;
            w->at = x;
        }
    }
}

static void float_sweep(int f, double bound)
{
    worst_f w = {0, 0, 0};
    const uint32_t hundred = bits_f(100.0f);
    sweep_f(&w, f, 0, hundred, 97);                       /* [0, 100] */
    sweep_f(&w, f, 0x80000000u, 0x80000000u | hundred, 97); /* [-100, -0] */
    sweep_f(&w, f, 0, 0xffffffffu, 9973);                 /* everything: large, inf, NaN */
    cr_log_info("DCM_%sf: max error %.3e at x = %a (%.9g), %ld floats", names[f], w.max, (double)w.at,
                (double)w.at, w.n);
    cr_expect(w.max <= bound, "DCM_%sf: max error %.3e at x = %a (%.9g) exceeds %.2e", names[f], w.max,
              (double)w.at, (double)w.at, bound);
}

Test(fastmath, expf_sweep, .timeout = 60)
{
    float_sweep(F_EXP, BOUND_EXPF);
}

Test(fastmath, tanhf_sweep, .timeout = 60)
{
    float_sweep(F_TANH, BOUND_TANHF);
}

Test(fastmath, sigmoidf_sweep, .timeout = 60)
{
    float_sweep(F_SIGMOID, BOUND_SIGMOIDF);
}

/* ---- double: 10^7 random doubles each ------------------------------------------ */

typedef struct {
    uint64_t s;
} rng64;

static uint64_t next64(rng64 *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static double unif(rng64 *r)
{
    return (double)(next64(r) >> 11) * 0x1.0p-53;
}

/* a third uniform over the function's range, a third log-uniform in
 * magnitude over 2^-60..2^10, a third within 1% of 0.625 or below 1e-3 */
static double draw(rng64 *r, int i, double lo, double hi)
{
    double u = unif(r), sign = (next64(r) & 1) ? -1.0 : 1.0;
    switch (i % 3) {
    case 0:
        return lo + (hi - lo) * u;
    case 1:
        return sign * ldexp(1.0, -60) * exp2(70 * u);
    default:
        return sign * ((next64(r) & 1) ? 0.625 * (1 + (u - 0.5) * 0.02) : u * 1e-3);
    }
}

static void double_random(int f, double lo, double hi, double bound)
{
    rng64 r = {0x5eed0000u + (uint64_t)f};
    double worst = 0, at = 0;
    const int n = 10000000;
    for (int i = 0; i < n; i++) {
        double x = draw(&r, i, lo, hi);
        double e = err_d(dcm_d(f, x), ref_d(f, x));
        if (!(e <= worst)) {
            worst = e;
            at = x;
        }
    }
    cr_log_info("DCM_%s: max error %.3e at x = %a (%.17g), %d doubles", names[f], worst, at, at, n);
    cr_expect(worst <= bound, "DCM_%s: max error %.3e at x = %a (%.17g) exceeds %.2e", names[f], worst,
              at, at, bound);
}

Test(fastmath, exp_random, .timeout = 60)
{
    double_random(F_EXP, -750, 720, BOUND_EXP);
}

Test(fastmath, tanh_random, .timeout = 60)
{
    double_random(F_TANH, -25, 25, BOUND_TANH);
}

Test(fastmath, sigmoid_random, .timeout = 60)
{
    double_random(F_SIGMOID, -750, 50, BOUND_SIGMOID);
}

/* ---- special values and switch points ------------------------------------------- */

/* every input within `steps` ulps of x, both functions of f */
static void near_f(int f, float x, int steps, double bound)
{
    float y = x;
    for (int i = 0; i < steps; i++)
        y = nextafterf(y, -INFINITY);
    for (int i = 0; i <= 2 * steps; i++, y = nextafterf(y, INFINITY)) {
        double e = err_f(dcm_f(f, y), ref_f(f, y));
        cr_expect(e <= bound, "DCM_%sf(%a = %.9g) = %a, error %.3e", names[f], (double)y, (double)y,
                  (double)dcm_f(f, y), e);
    }
}

static void near_d(int f, double x, int steps, double bound)
{
    double y = x;
    for (int i = 0; i < steps; i++)
        y = nextafter(y, -INFINITY);
    for (int i = 0; i <= 2 * steps; i++, y = nextafter(y, INFINITY)) {
        double e = err_d(dcm_d(f, y), ref_d(f, y));
        cr_expect(e <= bound, "DCM_%s(%a = %.17g) = %a, error %.3e", names[f], y, y, dcm_d(f, y), e);
    }
}

Test(fastmath, exp_special)
{
    /* exact values */
    cr_expect_eq(bits_f(DCM_expf(0.0f)), bits_f(1.0f));
    cr_expect_eq(bits_f(DCM_expf(-0.0f)), bits_f(1.0f));
    cr_expect_eq(bits_d(DCM_exp(0.0)), bits_d(1.0));
    cr_expect_eq(bits_d(DCM_exp(-0.0)), bits_d(1.0));
    cr_expect_eq(DCM_expf(INFINITY), INFINITY);
    cr_expect_eq(DCM_exp(INFINITY), INFINITY);
    cr_expect_eq(bits_f(DCM_expf(-INFINITY)), 0u);
    cr_expect_eq(bits_d(DCM_exp(-INFINITY)), 0u);
    cr_expect(isnan(DCM_expf(NAN)) && isnan(DCM_expf(-NAN)));
    cr_expect(isnan(DCM_exp(NAN)) && isnan(DCM_exp(-NAN)));
    /* tiny and denormal inputs give 1 */
    const float tf[] = {1e-30f, -1e-30f, FLT_MIN, -FLT_MIN, 0x1p-149f, -0x1p-149f, 0x1p-140f};
    for (size_t i = 0; i < sizeof tf / sizeof tf[0]; i++)
        cr_expect_eq(DCM_expf(tf[i]), 1.0f, "expf(%a)", (double)tf[i]);
    const double td[] = {1e-30, -1e-30, DBL_MIN, -DBL_MIN, 0x1p-1074, -0x1p-1074, 1e-300};
    for (size_t i = 0; i < sizeof td / sizeof td[0]; i++)
        cr_expect_eq(DCM_exp(td[i]), 1.0, "exp(%a)", td[i]);
    /* overflow: the largest input whose exact result is below the largest
     * finite number gives a finite result, the next one +inf */
    float xf = (float)log(FLT_MAX) - 1e-4f;
    while (exp((double)nextafterf(xf, INFINITY)) <= FLT_MAX)
        xf = nextafterf(xf, INFINITY);
    cr_expect(isfinite(DCM_expf(xf)) && DCM_expf(xf) > 3.4e38f, "expf(%a) = %a", (double)xf,
              (double)DCM_expf(xf));
    cr_expect(isinf(DCM_expf(nextafterf(xf, INFINITY))));
    cr_expect(isinf(DCM_expf(89.0f)) && isinf(DCM_expf(1e30f)) && isinf(DCM_expf(FLT_MAX)));
    double xd = log(DBL_MAX) - 1e-12;
    while (expl((long double)nextafter(xd, INFINITY)) <= DBL_MAX)
        xd = nextafter(xd, INFINITY);
    cr_expect(isfinite(DCM_exp(xd)) && DCM_exp(xd) > 1.79e308, "exp(%a) = %a", xd, DCM_exp(xd));
    cr_expect(isinf(DCM_exp(nextafter(xd, INFINITY))));
    cr_expect(isinf(DCM_exp(710.0)) && isinf(DCM_exp(1e300)) && isinf(DCM_exp(DBL_MAX)));
    near_f(F_EXP, 88.7228391f, 64, BOUND_EXPF);
    near_d(F_EXP, 709.782712893384, 64, BOUND_EXP);
    /* gradual underflow: FLT_MIN at -87.336, the last denormal 2^-149 at
     * -103.28, 0 below -103.97 */
    near_f(F_EXP, -87.3365447f, 64, BOUND_EXPF);
    near_f(F_EXP, -103.278929f, 64, BOUND_EXPF);
    near_f(F_EXP, -103.972077f, 64, BOUND_EXPF);
    cr_expect_gt(DCM_expf(-103.0f), 0.0f);
    cr_expect_eq(DCM_expf(-104.0f), 0.0f);
    cr_expect_eq(DCM_expf(-1e30f), 0.0f);
    cr_expect_eq(DCM_expf(-FLT_MAX), 0.0f);
    near_d(F_EXP, -708.3964185322641, 64, BOUND_EXP);
    near_d(F_EXP, -744.4400719213812, 64, BOUND_EXP);
    near_d(F_EXP, -745.1332191019411, 64, BOUND_EXP);
    cr_expect_gt(DCM_exp(-745.0), 0.0);
    cr_expect_eq(DCM_exp(-746.0), 0.0);
    cr_expect_eq(DCM_exp(-1e300), 0.0);
    /* the clamps and the halves of ln2 */
    const float cf[] = {-105.0f, 89.0f, 0.34657359f, -0.34657359f, 0.693147181f, -0.693147181f, 1.0f, -1.0f};
    for (size_t i = 0; i < sizeof cf / sizeof cf[0]; i++)
        near_f(F_EXP, cf[i], 16, BOUND_EXPF);
    const double cd[] = {-746.0, 710.0, 0.34657359027997264, -0.34657359027997264, 0.6931471805599453, 1.0, -1.0};
    for (size_t i = 0; i < sizeof cd / sizeof cd[0]; i++)
        near_d(F_EXP, cd[i], 16, BOUND_EXP);
}

Test(fastmath, tanh_special)
{
    /* odd, signed zeros, denormals and tiny values returned as they are */
    const float tf[] = {0.0f, 1e-30f, FLT_MIN, 0x1p-149f, 0x1p-130f, 1e-20f, 1e-5f};
    for (size_t i = 0; i < sizeof tf / sizeof tf[0]; i++) {
        cr_expect_eq(bits_f(DCM_tanhf(tf[i])), bits_f(tf[i]), "tanhf(%a)", (double)tf[i]);
        cr_expect_eq(bits_f(DCM_tanhf(-tf[i])), bits_f(-tf[i]), "tanhf(-%a)", (double)tf[i]);
    }
    const double td[] = {0.0, 1e-30, DBL_MIN, 0x1p-1074, 1e-300, 1e-10};
    for (size_t i = 0; i < sizeof td / sizeof td[0]; i++) {
        cr_expect_eq(bits_d(DCM_tanh(td[i])), bits_d(td[i]), "tanh(%a)", td[i]);
        cr_expect_eq(bits_d(DCM_tanh(-td[i])), bits_d(-td[i]), "tanh(-%a)", td[i]);
    }
    cr_expect(signbit(DCM_tanhf(-0.0f)) && signbit(DCM_tanh(-0.0)));
    cr_expect(!signbit(DCM_tanhf(0.0f)) && !signbit(DCM_tanh(0.0)));
    /* saturation */
    cr_expect_eq(DCM_tanhf(10.0f), 1.0f);
    cr_expect_eq(DCM_tanhf(-10.0f), -1.0f);
    cr_expect_eq(DCM_tanhf(INFINITY), 1.0f);
    cr_expect_eq(DCM_tanhf(-INFINITY), -1.0f);
    cr_expect_eq(DCM_tanhf(FLT_MAX), 1.0f);
    cr_expect_eq(DCM_tanhf(9.0f), nextafterf(1.0f, 0.0f)); /* 1 - 3.05e-8 rounds down */
    cr_expect_eq(DCM_tanhf(9.5f), 1.0f);                   /* the rational is above 1: limited */
    /* the float rational crosses 1 near 9.2: never above 1, exactly 1 from 9.39 */
    for (float y = 8.0f; y <= 10.0f; y = nextafterf(y, INFINITY)) {
        cr_assert(DCM_tanhf(y) <= 1.0f, "tanhf(%a) = %a", (double)y, (double)DCM_tanhf(y));
        if (y >= 9.39f)
            cr_assert_eq(DCM_tanhf(y), 1.0f, "tanhf(%a) = %a", (double)y, (double)DCM_tanhf(y));
    }
    cr_expect_eq(DCM_tanh(20.0), 1.0);
    cr_expect_eq(DCM_tanh(-20.0), -1.0);
    cr_expect_eq(DCM_tanh(INFINITY), 1.0);
    cr_expect_eq(DCM_tanh(-INFINITY), -1.0);
    cr_expect_eq(DCM_tanh(DBL_MAX), 1.0);
    cr_expect(isnan(DCM_tanhf(NAN)) && isnan(DCM_tanhf(-NAN)));
    cr_expect(isnan(DCM_tanh(NAN)) && isnan(DCM_tanh(-NAN)));
    /* float: the clamp (10), where tanh starts rounding to 1 (9.011), the end
     * of the fitted interval (9.1) where the limit to 1 takes over; double:
     * the switch between the polynomial and the exponential, the clamp */
    const float cf[] = {10.0f, -10.0f, 9.011f, -9.011f, 9.1f, 0.5f, 1.0f};
    for (size_t i = 0; i < sizeof cf / sizeof cf[0]; i++)
        near_f(F_TANH, cf[i], 256, BOUND_TANHF);
    const double cd[] = {0.625, -0.625, 20.0, -20.0, 19.06, 0.5, 1.0};
    for (size_t i = 0; i < sizeof cd / sizeof cd[0]; i++)
        near_d(F_TANH, cd[i], 256, BOUND_TANH);
    /* odd, bit for bit, over a sweep */
    for (uint32_t b = 0; b < 0x7f800000u; b += 99991) {
        float x = f_of(b);
        cr_assert_eq(bits_f(DCM_tanhf(-x)), bits_f(DCM_tanhf(x)) ^ 0x80000000u, "tanhf(%a)", (double)x);
        double d = (double)x * 1.000000123;
        cr_assert_eq(bits_d(DCM_tanh(-d)), bits_d(DCM_tanh(d)) ^ 0x8000000000000000u, "tanh(%a)", d);
    }
}

Test(fastmath, sigmoid_special)
{
    cr_expect_eq(DCM_sigmoidf(0.0f), 0.5f);
    cr_expect_eq(DCM_sigmoidf(-0.0f), 0.5f);
    cr_expect_eq(DCM_sigmoid(0.0), 0.5);
    cr_expect_eq(DCM_sigmoid(-0.0), 0.5);
    cr_expect_eq(DCM_sigmoidf(INFINITY), 1.0f);
    cr_expect_eq(DCM_sigmoidf(FLT_MAX), 1.0f);
    cr_expect_eq(DCM_sigmoidf(100.0f), 1.0f);
    cr_expect_eq(bits_f(DCM_sigmoidf(-INFINITY)), 0u);
    cr_expect_eq(bits_f(DCM_sigmoidf(-FLT_MAX)), 0u);
    cr_expect_eq(DCM_sigmoid(INFINITY), 1.0);
    cr_expect_eq(DCM_sigmoid(DBL_MAX), 1.0);
    cr_expect_eq(bits_d(DCM_sigmoid(-INFINITY)), 0u);
    cr_expect_eq(bits_d(DCM_sigmoid(-DBL_MAX)), 0u);
    cr_expect(isnan(DCM_sigmoidf(NAN)) && isnan(DCM_sigmoid(NAN)));
    /* the negative tail stays relative: sigmoid(-80) = e^-80 (1 - e^-80) */
    cr_expect(fabs(DCM_sigmoidf(-80.0f) / exp(-80.0) - 1) < BOUND_SIGMOIDF);
    cr_expect(fabs(DCM_sigmoid(-700.0) / (double)expl(-700.0L) - 1) < BOUND_SIGMOID);
    /* tiny inputs: 0.5 +- x/4 */
    const float tf[] = {1e-30f, -1e-30f, 0x1p-149f, -0x1p-149f, 1e-7f, -1e-7f};
    for (size_t i = 0; i < sizeof tf / sizeof tf[0]; i++)
        cr_expect(err_f(DCM_sigmoidf(tf[i]), ref_f(F_SIGMOID, tf[i])) <= BOUND_SIGMOIDF, "sigmoidf(%a)",
                  (double)tf[i]);
    const float cf[] = {-87.3365447f, -103.972077f, -16.6355324f, 16.6355324f};
    for (size_t i = 0; i < sizeof cf / sizeof cf[0]; i++)
        near_f(F_SIGMOID, cf[i], 64, BOUND_SIGMOIDF);
    const double cd[] = {-708.3964185322641, -745.1332191019411, -36.7368005696771, 36.7368005696771, 1e-300};
    for (size_t i = 0; i < sizeof cd / sizeof cd[0]; i++)
        near_d(F_SIGMOID, cd[i], 64, BOUND_SIGMOID);
}

/* ---- libtcc: the same bits ---------------------------------------------------------- */

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "cannot open %s", path);
    cr_assert_eq(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    cr_assert_gt(n, 0);
    rewind(f);
    char *buf = malloc((size_t)n + 1);
    cr_assert_not_null(buf);
    cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    *len = (size_t)n;
    return buf;
}

static const char jit_tail[] =
    "\nvoid run_f(float *out, const float *in, int n, int which)\n"
    "{\n"
    "    int i;\n"
    "    for (i = 0; i < n; i++)\n"
    "        out[i] = which == 0 ? DCM_expf(in[i]) : which == 1 ? DCM_tanhf(in[i]) : DCM_sigmoidf(in[i]);\n"
    "}\n"
    "void run_d(double *out, const double *in, int n, int which)\n"
    "{\n"
    "    int i;\n"
    "    for (i = 0; i < n; i++)\n"
    "        out[i] = which == 0 ? DCM_exp(in[i]) : which == 1 ? DCM_tanh(in[i]) : DCM_sigmoid(in[i]);\n"
    "}\n";

Test(fastmath, tcc_same_bits, .timeout = 60)
{
    size_t hlen;
    char *header = read_file(DELTAC_SOURCE_DIR "/compiler/fastmath.h", &hlen);
    size_t len = hlen + sizeof jit_tail - 1;
    char *src = malloc(len + 1);
    cr_assert_not_null(src);
    memcpy(src, header, hlen);
    memcpy(src + hlen, jit_tail, sizeof jit_tail);
    free(header);

    dc_jit *j = NULL;
    dcr_error err = {0};
    cr_assert_eq(dc_jit_compile(&j, DC_JIT_TCC, src, len, &err), 0, "%s", err.msg);
    free(src);
    void (*run_f)(float *, const float *, int, int) =
        (void (*)(float *, const float *, int, int))dc_jit_symbol(j, "run_f");
    void (*run_d)(double *, const double *, int, int) =
        (void (*)(double *, const double *, int, int))dc_jit_symbol(j, "run_d");
    cr_assert_not_null(run_f);
    cr_assert_not_null(run_d);

    /* inputs: specials, the switch points, every 4099th float bit pattern
     * (NaNs, infinities and denormals among them), and doubles: random bit
     * patterns and random values in [-800, 800] and near 0 */
    enum { N = 1100000 };
    float *xf = malloc(N * sizeof *xf), *yt = malloc(N * sizeof *yt);
    double *xd = malloc(N * sizeof *xd), *zt = malloc(N * sizeof *zt);
    cr_assert(xf && yt && xd && zt);
    const float spf[] = {0.0f, -0.0f, INFINITY, -INFINITY, NAN, 0x1p-149f, FLT_MIN, FLT_MAX, -FLT_MAX,
                         0.625f, 10.0f, 89.0f, -105.0f, 88.7228394f, -103.972077f};
    const double spd[] = {0.0, -0.0, INFINITY, -INFINITY, NAN, 0x1p-1074, DBL_MIN, DBL_MAX, -DBL_MAX,
                          0.625, 20.0, 710.0, -746.0, 709.7827128933841, -745.1332191019411};
    int nf = 0, nd = 0;
    for (size_t i = 0; i < sizeof spf / sizeof spf[0]; i++)
        xf[nf++] = spf[i];
    for (size_t i = 0; i < sizeof spd / sizeof spd[0]; i++)
        xd[nd++] = spd[i];
    for (uint64_t b = 0; b <= 0xffffffffu && nf < N; b += 4099)
        xf[nf++] = f_of((uint32_t)b);
    rng64 r = {42};
    for (; nd < N; nd++) {
        uint64_t u = next64(&r);
        double x;
        memcpy(&x, &u, sizeof x);
        xd[nd] = nd % 3 == 0 ? x : nd % 3 == 1 ? -800 + 1600 * unif(&r) : (unif(&r) - 0.5) * 2;
    }

    for (int f = 0; f < 3; f++) {
        run_f(yt, xf, nf, f);
        run_d(zt, xd, nd, f);
        int bad = 0;
        for (int i = 0; i < nf && bad < 10; i++) {
            float g = dcm_f(f, xf[i]);
            if (isnan(g) ? !isnan(yt[i]) : bits_f(g) != bits_f(yt[i])) {
                cr_expect_fail("DCM_%sf(%a): gcc %a, tcc %a", names[f], (double)xf[i], (double)g, (double)yt[i]);
                bad++;
            }
        }
        for (int i = 0; i < nd && bad < 10; i++) {
            double g = dcm_d(f, xd[i]);
            if (isnan(g) ? !isnan(zt[i]) : bits_d(g) != bits_d(zt[i])) {
                cr_expect_fail("DCM_%s(%a): gcc %a, tcc %a", names[f], xd[i], g, zt[i]);
                bad++;
            }
        }
    }
    free(xf);
    free(yt);
    free(xd);
    free(zt);
    dc_jit_free(j);
}
