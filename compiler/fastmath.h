/* fastmath.h: exp, tanh and sigmoid for generated code, in float and double.
 *
 * The code generator pastes this file's text into the C it emits, so it is
 * plain C99 that tcc 0.9.27 and gcc both accept: no headers, no library
 * calls, no intrinsics or builtins, no tables, no state; only static inline
 * functions named DCM_* (upper case, so no generated name can clash). Under
 * gcc every function is straight-line arithmetic with selects, so a loop that
 * calls one is vectorised after inlining; under tcc (__TINYC__) the selects
 * are branches instead, which only skip work: both compute the same values.
 *
 * Method (docs/fastmath.md): exp reduces x = k ln2 + r, k = round(x/ln2) read
 * from the bits of x/ln2 + 1.5*2^p, r = x - k hi exact (hi = ln2 to 15 or 32
 * bits), e^r = 1 + r + r^2 q(r) with a minimax q, the rest of ln2 applied as
 * a factor e^-c ~ 1 - c + c^2/2 (c = k (ln2 - hi)), and 2^k applied half by
 * adding to the exponent bits and half by one multiplication, so overflow
 * gives +inf and underflow is gradual (denormals, then 0). tanhf is one odd
 * minimax rational a P(a^2)/Q(a^2) of a = |x| clamped to 10, limited to 1;
 * tanh an odd minimax polynomial a + a^3 q(a^2) for a < 0.625 and
 * 1 - 2/(e^2a + 1) above; both put x's sign back. sigmoid is 1/(1 + e) for
 * x >= 0 and e/(1 + e) below, e = e^-|x|, so neither tail overflows or
 * cancels. The coefficients come from bench/fastmath/remez.py.
 *
 * Maximum errors against libm (double for the float functions, long double
 * for the double ones), relative to the exact value; for a denormal result
 * the error is taken relative to the smallest normal number instead (a
 * float denormal's ulp then counts 1.2e-7, a double's 2.2e-16). Floats: all
 * 2^32 inputs; doubles: 10^8 random inputs (bench/fastmath/accuracy.c);
 * tests/test_fastmath.c asserts the bounds on its own sweeps. Without FMA
 * contraction (-ffp-contract=off, and tcc); docs/fastmath.md has the
 * figures with contraction.
 *
 *                 max error   normal results only   bound the test asserts
 *   DCM_expf      1.31e-7     1.19e-7               1.4e-7
 *   DCM_tanhf     3.68e-7                           3.95e-7
 *   DCM_sigmoidf  2.50e-7     2.50e-7               2.7e-7
 *   DCM_exp       2.49e-16                          2.8e-16
 *   DCM_tanh      3.16e-16                          3.5e-16
 *   DCM_sigmoid   4.48e-16                          4.9e-16
 *
 * Special values: exp(0) = 1 exactly, exp(+inf) = +inf, exp(-inf) = +0, NaN
 * in gives NaN out everywhere; tanh is odd, tanh(+-0) = +-0, tanh of a
 * denormal is itself, |tanh| saturates to exactly 1; sigmoid(+inf) = 1,
 * sigmoid(-inf) = +0, sigmoid(0) = 0.5.
 *
 * Assumes IEEE binary32/binary64 in round to nearest, unsigned int of 32
 * bits and unsigned long long of 64 (checked below at compile time).
 *
 * Why it is written the way it is:
 * - Unions for the bits (memcpy is a library call under tcc). Polynomials are
 *   single expressions and the exp polynomials the only helper functions:
 *   tcc inlines nothing and keeps every statement's result in memory.
 * - Under gcc, selects (clamps included) are bit masks built from a
 *   comparison, (a & m) | (b & ~m), not `c ? a : b`: with -ftrapping-math
 *   (the default) gcc sinks an arm's work into a branch, or threads a clamp
 *   into a path with a constant overflow (2^64 * 2^64), then refuses to
 *   if-convert the branch, and the loop is not vectorised.
 * - Nothing depends on an order of operations that -fassociative-math (the
 *   cc backend's fast mode) may change: k never comes from (y + C) - C,
 *   which gcc folds to y; the low part of ln2 is a factor, not a second
 *   subtraction that gcc could reorder into x - (k hi + k lo); no product of
 *   the two scale factors (2^128 = inf) can be formed first. */
#ifndef DELTAC_FASTMATH_H
#define DELTAC_FASTMATH_H

/* compile-time check of the integer widths the bit tricks use */
typedef char DCM_int_widths_ok[(sizeof(unsigned int) == 4 && sizeof(unsigned long long) == 8) ? 1 : -1];

/* ---- float ----------------------------------------------------------------- */

/* e^r for |r| <= 0.347: 1 + r + r^2 q(r), q minimax for the relative error
 * of e^r (3.2e-9 before rounding of the arithmetic) */
static inline float DCM_expf_poly(float r)
{
    return 1.0f + (r + (r * r) * ((((0x1.6ab8d2p-10f * r + 0x1.123d7p-7f) * r + 0x1.55585ap-5f) * r +
                                    0x1.55548cp-3f) * r + 0x1.fffffcp-2f));
}

/* e^x for every float: +inf above 88.72, denormals below -87.34, +0 below
 * -103.97, NaN for NaN; |k| <= 152 keeps k hi exact, c <= 2.2e-4 */
static inline float DCM_expf(float x)
{
    union { float f; unsigned int u; } t, p, s;
    unsigned int ku, k1;
    float xc, k, r, c;
#ifdef __TINYC__
    t.f = x;
    if ((t.u & 0x7fffffffu) > 0x7f800000u)     /* NaN */
        return x;
    xc = x < -105.0f ? -105.0f : x > 89.0f ? 89.0f : x;
#else
    union { float f; unsigned int u; } m;
    /* clamp to [-105, 89]: e^-105 < 2^-150 rounds to 0, e^89 > FLT_MAX */
    t.f = x;
    s.f = -105.0f;
    m.u = 0u - (unsigned int)(x < -105.0f);
    t.u = (t.u & ~m.u) | (s.u & m.u);
    s.f = 89.0f;
    m.u = 0u - (unsigned int)(x > 89.0f);
    t.u = (t.u & ~m.u) | (s.u & m.u);
    xc = t.f;
#endif
    t.f = xc * 0x1.715476p0f + 0x1.8p23f;       /* 1.5*2^23 + k: k in the low bits */
    ku = t.u - 0x4b400000u + 256u;              /* k + 256, k in [-152, 129] */
    k = (float)(int)(ku - 256u);
    r = xc - k * 0x1.62e4p-1f;                  /* exact */
    c = k * 0x1.7f7d1cp-20f;                    /* k (ln2 - hi) */
    p.f = DCM_expf_poly(r);
    p.f = p.f - p.f * (c - (0.5f * c) * c);     /* e^(x - k ln2) */
    k1 = ku >> 1;                               /* floor(k/2) + 128 */
    p.u += (k1 - 128u) << 23;                   /* times 2^floor(k/2): stays normal */
    s.u = (ku - k1 - 1u) << 23;                 /* 2^(k - floor(k/2)) */
    p.f = p.f * s.f;                            /* one rounding: gradual underflow */
#ifndef __TINYC__
    t.f = x;                                    /* NaN in, NaN out */
    m.u = 0u - (unsigned int)((t.u & 0x7fffffffu) > 0x7f800000u);
    p.u = (p.u & ~m.u) | (t.u & m.u);
#endif
    return p.f;
}

/* tanh: a = |x| clamped to 10, then one odd rational a P(a^2) / Q(a^2), P
 * and Q of degree 4 with P(0) = Q(0) = 1 and all coefficients positive (no
 * cancellation; tanh(denormal) = itself), minimax for the relative error on
 * [0, 9.1] (2.5e-8 before rounding of the arithmetic; tanh rounds to 1 from
 * 9.011). Beyond about 9.2 the rational grows past 1 (by 26 ulps at 10, more
 * than any rounding, FMA or not, can take back), so limiting the result to 1
 * saturates it exactly (from 9.39 on); then x's sign is put back. NaN passes
 * both selects */
static inline float DCM_tanhf(float x)
{
    union { float f; unsigned int u; } v;
    unsigned int sign;
    float a, s, p, q;
#ifndef __TINYC__
    union { float f; unsigned int u; } t, m;
#endif
    v.f = x;
    sign = v.u & 0x80000000u;
    v.u &= 0x7fffffffu;
#ifdef __TINYC__
    a = v.f > 10.0f ? 10.0f : v.f;
#else
    m.u = 0u - (unsigned int)(v.f > 10.0f);
    t.f = 10.0f;
    v.u = (v.u & ~m.u) | (t.u & m.u);
    a = v.f;
#endif
    s = a * a;
    p = (((0x1.c6e7bep-27f * s + 0x1.587c14p-16f) * s + 0x1.c99b9ap-9f) * s + 0x1.11f8a2p-3f) * s + 1.0f;
    q = (((0x1.9f143p-21f * s + 0x1.57c29p-12f) * s + 0x1.a7b474p-6f) * s + 0x1.de519ep-2f) * s + 1.0f;
    v.f = (a * p) / q;
#ifdef __TINYC__
    v.f = v.f > 1.0f ? 1.0f : v.f;
    v.u |= sign;
#else
    /* the sign goes on both arms before the select: one blend, no or after it */
    m.u = 0u - (unsigned int)(v.f > 1.0f);
    t.f = 1.0f;
    t.u |= sign;
    v.u |= sign;
    v.u = (v.u & ~m.u) | (t.u & m.u);
#endif
    return v.f;
}

/* sigmoid: e = e^-|x| in (0, 1]; 1/(1 + e) for x >= 0, e/(1 + e) below */
static inline float DCM_sigmoidf(float x)
{
    union { float f; unsigned int u; } v;
    float e, r;
    v.f = x;
    v.u |= 0x80000000u;
    e = DCM_expf(v.f);
    r = 1.0f / (1.0f + e);
#ifdef __TINYC__
    return x >= 0.0f ? r : e * r;
#else
    {
        union { float f; unsigned int u; } w, m;
        m.u = 0u - (unsigned int)(x >= 0.0f);
        v.f = r;
        w.f = e * r;
        v.u = (v.u & m.u) | (w.u & ~m.u);
        return v.f;
    }
#endif
}

/* ---- double ---------------------------------------------------------------- */

/* e^r for |r| <= 0.3467: 1 + r + r^2 q(r), q minimax (2.9e-17 before
 * rounding of the arithmetic) */
static inline double DCM_exp_poly(double r)
{
    return 1.0 + (r + (r * r) * ((((((((((0x1.1fe62c971db7bp-29 * r + 0x1.af799bf0fce16p-26) * r +
                                          0x1.27e4471d16d9cp-22) * r + 0x1.71ddeaa809b25p-19) * r +
                                        0x1.a01a01e8cf077p-16) * r + 0x1.a01a01b5f53e7p-13) * r +
                                      0x1.6c16c16c0a3fp-10) * r + 0x1.111111110e549p-7) * r +
                                    0x1.555555555556cp-5) * r + 0x1.555555555555dp-3) * r + 0x1p-1));
}

/* e^x for every double: +inf above 709.78, denormals below -708.40, +0 below
 * -745.13, NaN for NaN; |k| <= 1077 keeps k hi exact, c <= 2.1e-7 */
static inline double DCM_exp(double x)
{
    union { double f; unsigned long long u; } t, p, s;
    unsigned long long ku, k1;
    double xc, k, r, c;
#ifdef __TINYC__
    t.f = x;
    if ((t.u & 0x7fffffffffffffffull) > 0x7ff0000000000000ull)
        return x;
    xc = x < -746.0 ? -746.0 : x > 710.0 ? 710.0 : x;
#else
    union { double f; unsigned long long u; } m;
    /* clamp to [-746, 710]: e^-746 < 2^-1076 rounds to 0, e^710 > DBL_MAX */
    t.f = x;
    s.f = -746.0;
    m.u = 0ull - (unsigned long long)(x < -746.0);
    t.u = (t.u & ~m.u) | (s.u & m.u);
    s.f = 710.0;
    m.u = 0ull - (unsigned long long)(x > 710.0);
    t.u = (t.u & ~m.u) | (s.u & m.u);
    xc = t.f;
#endif
    t.f = xc * 0x1.71547652b82fep0 + 0x1.8p52;
    ku = t.u - 0x4338000000000000ull + 2048ull; /* k + 2048, k in [-1077, 1025] */
    k = (double)(int)(unsigned int)(ku - 2048ull);
    r = xc - k * 0x1.62e42feep-1;               /* exact */
    c = k * 0x1.a39ef35793c76p-33;
    p.f = DCM_exp_poly(r);
    p.f = p.f - p.f * (c - (0.5 * c) * c);
    k1 = ku >> 1;                               /* floor(k/2) + 1024 */
    p.u += (k1 - 1024ull) << 52;
    s.u = (ku - k1 - 1ull) << 52;
    p.f = p.f * s.f;
#ifndef __TINYC__
    t.f = x;
    m.u = 0ull - (unsigned long long)((t.u & 0x7fffffffffffffffull) > 0x7ff0000000000000ull);
    p.u = (p.u & ~m.u) | (t.u & m.u);
#endif
    return p.f;
}

static inline double DCM_tanh(double x)
{
    union { double f; unsigned long long u; } v, t, e;
    unsigned long long sign, ku;
    double a, s, k, r, c, small, large;
#ifndef __TINYC__
    union { double f; unsigned long long u; } m;
#endif
    v.f = x;
    sign = v.u & 0x8000000000000000ull;
    v.u &= 0x7fffffffffffffffull;
#ifdef __TINYC__
    if (!(v.f >= 0.625)) {
        a = v.f;
#else
    m.u = 0ull - (unsigned long long)(v.f > 20.0);   /* tanh(20) rounds to 1; NaN stays */
    t.f = 20.0;
    v.u = (v.u & ~m.u) | (t.u & m.u);
    a = v.f;
    {
#endif
        s = a * a;
        small = a + (a * s) * ((((((((((-0x1.0d7ae46241addp-16 * s + 0x1.437d907fb9282p-14) * s +
                                       -0x1.df4e49dfd733ap-13) * s + 0x1.33655d875976ap-11) * s +
                                     -0x1.7d688e648c983p-10) * s + 0x1.d6cf269fef01ap-9) * s +
                                   -0x1.226e1623d0ae1p-7) * s + 0x1.664f477a91d76p-6) * s +
                                 -0x1.ba1ba1b5043a6p-5) * s + 0x1.111111110ac95p-3) * s +
                               -0x1.55555555554ffp-2);
    }
#ifdef __TINYC__
    else {
        a = v.f > 20.0 ? 20.0 : v.f;
#else
    {
#endif
        /* e^2a with k in [0, 58] */
        t.f = (a + a) * 0x1.71547652b82fep0 + 0x1.8p52;
        ku = t.u - 0x4338000000000000ull;
        k = (double)(int)(unsigned int)ku;
        r = (a + a) - k * 0x1.62e42feep-1;
        c = k * 0x1.a39ef35793c76p-33;
        e.f = DCM_exp_poly(r);
        e.f = e.f - e.f * (c - (0.5 * c) * c);
        e.u += ku << 52;
        large = 1.0 - 2.0 / (e.f + 1.0);
    }
#ifdef __TINYC__
    v.f = a >= 0.625 ? large : small;
#else
    m.u = 0ull - (unsigned long long)(a >= 0.625);
    t.f = large;
    v.f = small;
    v.u = (t.u & m.u) | (v.u & ~m.u);
#endif
    v.u |= sign;
    return v.f;
}

static inline double DCM_sigmoid(double x)
{
    union { double f; unsigned long long u; } v;
    double e, r;
    v.f = x;
    v.u |= 0x8000000000000000ull;
    e = DCM_exp(v.f);
    r = 1.0 / (1.0 + e);
#ifdef __TINYC__
    return x >= 0.0 ? r : e * r;
#else
    {
        union { double f; unsigned long long u; } w, m;
        m.u = 0ull - (unsigned long long)(x >= 0.0);
        v.f = r;
        w.f = e * r;
        v.u = (v.u & m.u) | (w.u & ~m.u);
        return v.f;
    }
#endif
}

#endif
