/* fastmath.h: exp, tanh and sigmoid for generated code, in float and double.
 *
 * The code generator pastes this file's text into the C it emits, so it is
 * plain C99 that tcc 0.9.27 and gcc both accept: no headers, no library
 * calls, no intrinsics or builtins, no tables, no state; only static inline
 * functions named DCM_* (upper case, so no generated name can clash). Every
 * function is straight-line arithmetic with selects, so gcc vectorises a loop
 * that calls one after inlining (-O3 -march=native: zmm code).
 *
 * Method (docs/fastmath.md): exp reduces x = k ln2 + r with k = round(x/ln2)
 * (the 1.5*2^p trick, whose bits also give k as an integer), r by Cody-Waite
 * with a two-part ln2, e^r = 1 + r + r^2 q(r) with a minimax q, and scales by
 * 2^k in two halves built from exponent bits, so overflow gives +inf and
 * underflow is gradual (denormal results, then 0). tanh uses an odd minimax
 * polynomial a + a^3 q(a^2) for |x| < 0.625 and 1 - 2/(e^{2|x|} + 1) above,
 * both computed and one selected, with the sign copied back from x. sigmoid
 * is 1/(1 + e) for x >= 0 and e/(1 + e) for x < 0 with e = exp(-|x|), so
 * neither tail overflows or cancels. The coefficients come from
 * bench/fastmath/remez.py.
 *
 * Maximum errors measured by tests/test_fastmath.c against libm (double for
 * the float functions, long double for the double ones), relative to the
 * exact value; for a denormal result the error is taken relative to the
 * smallest normal number instead, so a float denormal's one ulp counts 1.2e-7
 * and a double's 2.2e-16. Without FMA contraction (-ffp-contract=off, and
 * what tcc does); docs/fastmath.md has the figures with contraction.
 *
 *   DCM_expf      max error 1.7e-7  (every 97th float; bound tested 2.0e-7)
 *   DCM_tanhf     max error 2.0e-7  (bound tested 2.4e-7)
 *   DCM_sigmoidf  max error 2.2e-7  (bound tested 2.6e-7)
 *   DCM_exp       max error 2.7e-16 (10^7 random doubles; bound tested 3.5e-16)
 *   DCM_tanh      max error 3.8e-16 (bound tested 4.5e-16)
 *   DCM_sigmoid   max error 4.0e-16 (bound tested 5.0e-16)
 *
 * Special values: exp(0) = 1 exactly, exp(+inf) = +inf, exp(-inf) = 0,
 * NaN in gives NaN out everywhere; tanh is odd, tanh(+-0) = +-0, tanh of a
 * denormal is itself, |tanh| saturates to exactly 1; sigmoid(+inf) = 1,
 * sigmoid(-inf) = 0, sigmoid(0) = 0.5.
 *
 * Assumes IEEE binary32/binary64 and round to nearest, unsigned int of 32
 * bits and unsigned long long of 64 (checked below at compile time). */
#ifndef DELTAC_FASTMATH_H
#define DELTAC_FASTMATH_H

/* compile-time check of the integer widths the bit tricks use */
typedef char DCM_int_widths_ok[(sizeof(unsigned int) == 4 && sizeof(unsigned long long) == 8) ? 1 : -1];

/* ---- bits ------------------------------------------------------------------ */

static inline unsigned int DCM_fbits(float x)
{
    union { float f; unsigned int u; } v;
    v.f = x;
    return v.u;
}

static inline float DCM_ffrom(unsigned int u)
{
    union { float f; unsigned int u; } v;
    v.u = u;
    return v.f;
}

static inline unsigned long long DCM_dbits(double x)
{
    union { double f; unsigned long long u; } v;
    v.f = x;
    return v.u;
}

static inline double DCM_dfrom(unsigned long long u)
{
    union { double f; unsigned long long u; } v;
    v.u = u;
    return v.f;
}

/* ---- float ----------------------------------------------------------------- */

/* e^r for |r| <= 0.3467: 1 + r + r^2 q(r), q minimax for the relative error
 * of e^r (3.2e-9 before rounding of the arithmetic) */
static inline float DCM_expf_poly(float r)
{
    float q = 0x1.6ac74cp-10f;
    q = q * r + 0x1.123dep-7f;
    q = q * r + 0x1.555858p-5f;
    q = q * r + 0x1.55548cp-3f;
    q = q * r + 0x1.fffffcp-2f;
    return 1.0f + (r + (r * r) * q);
}

/* e^x for 0 <= x <= 87 (no clamping, one scale) */
static inline float DCM_expf_small(float x)
{
    float t = x * 0x1.715476p0f + 0x1.8p23f;   /* 1.5*2^23 + round(x/ln2) */
    float k = t - 0x1.8p23f;
    float r = x - k * 0x1.62e4p-1f;             /* exact: ln2 high part has 9 zero bits */
    r = r - k * 0x1.7f7d1cp-20f;                /* ln2 low part */
    return DCM_expf_poly(r) * DCM_ffrom((DCM_fbits(t) - 0x4b400000u + 127u) << 23);
}

/* e^x for every float: +inf above 88.72, denormals below -87.34, 0 below -103.97 */
static inline float DCM_expf(float x)
{
    float t, k, r, p;
    unsigned int ku;
    x = x < -105.0f ? -105.0f : x;              /* e^-105 < 2^-150: rounds to 0 */
    x = x > 89.0f ? 89.0f : x;                  /* e^89 > FLT_MAX: +inf; NaN stays */
    t = x * 0x1.715476p0f + 0x1.8p23f;
    ku = DCM_fbits(t) - 0x4b400000u + 256u;     /* k + 256, k in [-152, 129] */
    k = t - 0x1.8p23f;
    r = x - k * 0x1.62e4p-1f;
    r = r - k * 0x1.7f7d1cp-20f;
    p = DCM_expf_poly(r);
    /* 2^k = 2^floor(k/2) * 2^(k - floor(k/2)), each factor a normal float */
    return p * DCM_ffrom(((ku >> 1) - 1u) << 23) * DCM_ffrom((ku - (ku >> 1) - 1u) << 23);
}

static inline float DCM_tanhf(float x)
{
    unsigned int sign = DCM_fbits(x) & 0x80000000u;
    float a = DCM_ffrom(DCM_fbits(x) & 0x7fffffffu);
    float s, q, small, e, large, y;
    a = a > 10.0f ? 10.0f : a;                  /* tanh(10) rounds to 1; NaN stays */
    /* |x| < 0.625: a + a^3 q(a^2), q minimax (4.5e-9 before rounding) */
    s = a * a;
    q = -0x1.750ce4p-8f;
    q = q * s + 0x1.51f8cep-6f;
    q = q * s + -0x1.b835a4p-5f;
    q = q * s + 0x1.1106f6p-3f;
    q = q * s + -0x1.555532p-2f;
    small = a + (a * s) * q;
    /* above: 1 - 2/(e^2a + 1), no cancellation since the result is > 0.55 */
    e = DCM_expf_small(a + a);
    large = 1.0f - 2.0f / (e + 1.0f);
    y = a < 0.625f ? small : large;
    return DCM_ffrom(DCM_fbits(y) | sign);
}

static inline float DCM_sigmoidf(float x)
{
    float e = DCM_expf(DCM_ffrom(DCM_fbits(x) | 0x80000000u));  /* e^-|x| in (0, 1] */
    float r = 1.0f / (1.0f + e);
    return x >= 0.0f ? r : e * r;
}

/* ---- double ---------------------------------------------------------------- */

/* e^r for |r| <= 0.3467: 1 + r + r^2 q(r), q minimax (2.9e-17 before
 * rounding of the arithmetic) */
static inline double DCM_exp_poly(double r)
{
    double q = 0x1.1fe62c971db7bp-29;
    q = q * r + 0x1.af799bf0fce16p-26;
    q = q * r + 0x1.27e4471d16d9cp-22;
    q = q * r + 0x1.71ddeaa809b25p-19;
    q = q * r + 0x1.a01a01e8cf077p-16;
    q = q * r + 0x1.a01a01b5f53e7p-13;
    q = q * r + 0x1.6c16c16c0a3fp-10;
    q = q * r + 0x1.111111110e549p-7;
    q = q * r + 0x1.555555555556cp-5;
    q = q * r + 0x1.555555555555dp-3;
    q = q * r + 0x1p-1;
    return 1.0 + (r + (r * r) * q);
}

/* e^x for 0 <= x <= 709 (no clamping, one scale) */
static inline double DCM_exp_small(double x)
{
    double t = x * 0x1.71547652b82fep0 + 0x1.8p52;
    double k = t - 0x1.8p52;
    double r = x - k * 0x1.62e42feep-1;         /* exact: ln2 high part has 21 zero bits */
    r = r - k * 0x1.a39ef35793c76p-33;
    return DCM_exp_poly(r) *
           DCM_dfrom((DCM_dbits(t) - 0x4338000000000000ull + 1023ull) << 52);
}

/* e^x for every double: +inf above 709.78, denormals below -708.4, 0 below -745.13 */
static inline double DCM_exp(double x)
{
    double t, k, r, p;
    unsigned long long ku;
    x = x < -746.0 ? -746.0 : x;                /* e^-746 < 2^-1076: rounds to 0 */
    x = x > 710.0 ? 710.0 : x;                  /* e^710 > DBL_MAX: +inf; NaN stays */
    t = x * 0x1.71547652b82fep0 + 0x1.8p52;
    ku = DCM_dbits(t) - 0x4338000000000000ull + 2048ull;   /* k + 2048 */
    k = t - 0x1.8p52;
    r = x - k * 0x1.62e42feep-1;
    r = r - k * 0x1.a39ef35793c76p-33;
    p = DCM_exp_poly(r);
    return p * DCM_dfrom(((ku >> 1) - 1ull) << 52) * DCM_dfrom((ku - (ku >> 1) - 1ull) << 52);
}

static inline double DCM_tanh(double x)
{
    unsigned long long sign = DCM_dbits(x) & 0x8000000000000000ull;
    double a = DCM_dfrom(DCM_dbits(x) & 0x7fffffffffffffffull);
    double s, q, small, e, large, y;
    a = a > 20.0 ? 20.0 : a;                    /* tanh(20) rounds to 1; NaN stays */
    /* |x| < 0.625: a + a^3 q(a^2), q minimax (1.3e-17 before rounding) */
    s = a * a;
    q = -0x1.0d7ae46241addp-16;
    q = q * s + 0x1.437d907fb9282p-14;
    q = q * s + -0x1.df4e49dfd733ap-13;
    q = q * s + 0x1.33655d875976ap-11;
    q = q * s + -0x1.7d688e648c983p-10;
    q = q * s + 0x1.d6cf269fef01ap-9;
    q = q * s + -0x1.226e1623d0ae1p-7;
    q = q * s + 0x1.664f477a91d76p-6;
    q = q * s + -0x1.ba1ba1b5043a6p-5;
    q = q * s + 0x1.111111110ac95p-3;
    q = q * s + -0x1.55555555554ffp-2;
    small = a + (a * s) * q;
    e = DCM_exp_small(a + a);
    large = 1.0 - 2.0 / (e + 1.0);
    y = a < 0.625 ? small : large;
    return DCM_dfrom(DCM_dbits(y) | sign);
}

static inline double DCM_sigmoid(double x)
{
    double e = DCM_exp(DCM_dfrom(DCM_dbits(x) | 0x8000000000000000ull));
    double r = 1.0 / (1.0 + e);
    return x >= 0.0 ? r : e * r;
}

#endif
