/* test_runtime_rng.c: the RNG streams, shuffling, parameter initialisation
 * and the parameter layout they fill. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dcr.h"

/* ---- the stream ----------------------------------------------------------- */

/* Known values from an independent implementation (splitmix64's first output
 * for state 0 is the published 0xe220a8397b1dcdaf), so a generated trainer
 * written from the same description draws the same numbers. */
Test(rng, known_values)
{
    dcr_rng r;
    dcr_rng_seed(&r, 0);
    cr_assert_eq(r.s[0], 0xe220a8397b1dcdafu);
    cr_assert_eq(r.s[1], 0x6e789e6aa1b965f4u);
    cr_assert_eq(r.s[2], 0x06c45d188009454fu);
    cr_assert_eq(r.s[3], 0xf88bb8a8724c81ecu);
    cr_assert_eq(dcr_rng_next(&r), 0x99ec5f36cb75f2b4u);
    cr_assert_eq(dcr_rng_next(&r), 0xbf6e1f784956452au);
    cr_assert_eq(dcr_rng_next(&r), 0x1a5f849d4933e6e0u);
    dcr_rng_seed(&r, 42);
    cr_assert_eq(dcr_rng_next(&r), 0x15780b2e0c2ec716u);
    cr_assert_eq(dcr_rng_next(&r), 0x6104d9866d113a7eu);
    cr_assert_eq(dcr_rng_next(&r), 0xae17533239e499a1u);
}

Test(rng, same_seed_same_stream)
{
    dcr_rng a, b;
    dcr_rng_seed(&a, 12345);
    dcr_rng_seed(&b, 12345);
    for (int i = 0; i < 1000; i++)
        cr_assert_eq(dcr_rng_next(&a), dcr_rng_next(&b), "draw %d", i);
}

Test(rng, different_seeds_differ)
{
    dcr_rng a, b;
    dcr_rng_seed(&a, 1);
    dcr_rng_seed(&b, 2);
    int same = 0;
    for (int i = 0; i < 100; i++)
        same += dcr_rng_next(&a) == dcr_rng_next(&b);
    cr_assert_eq(same, 0);
}

Test(rng, uniform_range_and_resolution)
{
    dcr_rng r;
    dcr_rng_seed(&r, 7);
    double lo = 1, hi = 0, sum = 0;
    for (int i = 0; i < 100000; i++) {
        double u = dcr_rng_uniform(&r);
        cr_assert(u >= 0 && u < 1, "u = %.17g", u);
        lo = fmin(lo, u);
        hi = fmax(hi, u);
        sum += u;
    }
    cr_assert_lt(lo, 1e-3);
    cr_assert_gt(hi, 1 - 1e-3);
    cr_assert(fabs(sum / 100000 - 0.5) < 0.01, "mean %g", sum / 100000);
    /* exactly the top 53 bits */
    dcr_rng a, b;
    dcr_rng_seed(&a, 9);
    dcr_rng_seed(&b, 9);
    cr_assert_eq(dcr_rng_uniform(&a), (double)(dcr_rng_next(&b) >> 11) * 0x1.0p-53);
}

Test(rng, below_range)
{
    dcr_rng r;
    dcr_rng_seed(&r, 3);
    uint64_t ns[] = {1, 2, 3, 7, 1000, (1u << 31) + 1, ((uint64_t)1 << 63) + 1, UINT64_MAX};
    for (size_t t = 0; t < sizeof ns / sizeof ns[0]; t++)
        for (int i = 0; i < 2000; i++) {
            uint64_t v = dcr_rng_below(&r, ns[t]);
            cr_assert_lt(v, ns[t]);
        }
    for (int i = 0; i < 100; i++)
        cr_assert_eq(dcr_rng_below(&r, 1), 0);
}

Test(rng, below_is_roughly_uniform)
{
    dcr_rng r;
    dcr_rng_seed(&r, 5);
    int count[6] = {0};
    for (int i = 0; i < 60000; i++)
        count[dcr_rng_below(&r, 6)]++;
    for (int k = 0; k < 6; k++)
        cr_assert(abs(count[k] - 10000) < 500, "count[%d] = %d", k, count[k]);
    /* rejection matters near 2^64: for n = 3 * 2^62, values of 2^63 and up
     * must come out a third of the time (plain x % n gives a quarter) */
    uint64_t n = ((uint64_t)3 << 62);
    int high = 0;
    for (int i = 0; i < 20000; i++)
        high += dcr_rng_below(&r, n) >= ((uint64_t)1 << 63);
    cr_assert(abs(high - 20000 / 3) < 500, "high = %d", high);
}

Test(rng, below_matches_its_definition)
{
    /* rejection of the 2^64 mod n lowest values, then x % n */
    dcr_rng a, b;
    dcr_rng_seed(&a, 11);
    dcr_rng_seed(&b, 11);
    uint64_t n = 10;
    for (int i = 0; i < 1000; i++) {
        uint64_t x;
        do
            x = dcr_rng_next(&b);
        while (x < (0 - n) % n);
        cr_assert_eq(dcr_rng_below(&a, n), x % n);
    }
}

Test(rng, shuffle_is_a_permutation)
{
    enum { N = 100 };
    size_t idx[N];
    int seen[N] = {0};
    for (size_t i = 0; i < N; i++)
        idx[i] = i;
    dcr_rng r;
    dcr_rng_seed(&r, 99);
    dcr_rng_shuffle(&r, idx, N);
    int moved = 0;
    for (size_t i = 0; i < N; i++) {
        cr_assert_lt(idx[i], (size_t)N);
        seen[idx[i]]++;
        moved += idx[i] != i;
    }
    for (int i = 0; i < N; i++)
        cr_assert_eq(seen[i], 1, "%d seen %d times", i, seen[i]);
    cr_assert_gt(moved, N / 2);
}

Test(rng, shuffle_follows_fisher_yates_from_the_end)
{
    size_t idx[5] = {0, 1, 2, 3, 4}, want[5] = {0, 1, 2, 3, 4};
    dcr_rng a, b;
    dcr_rng_seed(&a, 123);
    dcr_rng_seed(&b, 123);
    dcr_rng_shuffle(&a, idx, 5);
    for (size_t i = 4; i >= 1; i--) {
        size_t j = (size_t)dcr_rng_below(&b, i + 1), t = want[i];
        want[i] = want[j];
        want[j] = t;
    }
    cr_assert_arr_eq(idx, want, sizeof idx);
    /* and it consumed exactly n - 1 draws */
    cr_assert_eq(dcr_rng_next(&a), dcr_rng_next(&b));
}

Test(rng, shuffle_tiny)
{
    dcr_rng r, r0;
    dcr_rng_seed(&r, 1);
    r0 = r;
    size_t one = 0;
    dcr_rng_shuffle(&r, NULL, 0);
    dcr_rng_shuffle(&r, &one, 1);
    cr_assert_eq(one, 0);
    cr_assert_arr_eq(r.s, r0.s, sizeof r.s, "no draws for n < 2");
}

/* ---- the layout ---------------------------------------------------------------- */

static dcr_arch arch3(dcr_dtype t)
{
    dcr_arch a;
    memset(&a, 0, sizeof a);
    a.dtype = t;
    a.n_layers = 2;
    a.sizes[0] = 3;
    a.sizes[1] = 5;
    a.sizes[2] = 2;
    a.act[1] = DCR_ACT_TANH;
    a.act[2] = DCR_ACT_SOFTMAX;
    a.loss = DCR_LOSS_CROSS_ENTROPY;
    return a;
}

Test(arch, layout)
{
    dcr_arch a = arch3(DCR_F64);
    cr_assert_eq(dcr_arch_n_params(&a), 5 * 3 + 5 + 2 * 5 + 2);
    cr_assert_eq(dcr_arch_w_offset(&a, 1), 0);
    cr_assert_eq(dcr_arch_b_offset(&a, 1), 15);
    cr_assert_eq(dcr_arch_w_offset(&a, 2), 20);
    cr_assert_eq(dcr_arch_b_offset(&a, 2), 30);
}

Test(arch, invalid_has_no_params)
{
    dcr_arch a = arch3(DCR_F64);
    a.sizes[1] = 0;
    cr_assert_eq(dcr_arch_n_params(&a), 0);
    a = arch3(DCR_F64);
    a.n_layers = 0;
    cr_assert_eq(dcr_arch_n_params(&a), 0);
    a = arch3(DCR_F64);
    a.n_layers = DCR_MAX_LAYERS + 1;
    cr_assert_eq(dcr_arch_n_params(&a), 0);
    cr_assert_eq(dcr_arch_n_params(NULL), 0);
}

Test(arch, names)
{
    cr_assert_eq(dcr_dtype_size(DCR_F32), 4);
    cr_assert_eq(dcr_dtype_size(DCR_F64), 8);
    cr_assert_str_eq(dcr_dtype_name(DCR_F32), "float32");
    cr_assert_str_eq(dcr_dtype_name(DCR_F64), "float64");
    cr_assert_str_eq(dcr_act_name(DCR_ACT_IDENTITY), "identity");
    cr_assert_str_eq(dcr_act_name(DCR_ACT_SIGMOID), "sigmoid");
    cr_assert_str_eq(dcr_act_name(DCR_ACT_TANH), "tanh");
    cr_assert_str_eq(dcr_act_name(DCR_ACT_RELU), "relu");
    cr_assert_str_eq(dcr_act_name(DCR_ACT_SOFTMAX), "softmax");
    cr_assert_str_eq(dcr_loss_name(DCR_LOSS_MSE), "mse");
    cr_assert_str_eq(dcr_loss_name(DCR_LOSS_CROSS_ENTROPY), "cross_entropy");
}

/* ---- initialisation ------------------------------------------------------------- */

static double range_of(const dcr_init *in, int fan_in, int fan_out)
{
    switch (in->scheme) {
    case DCR_INIT_XAVIER_UNIFORM: return sqrt(6.0 / (fan_in + fan_out));
    case DCR_INIT_HE_UNIFORM: return sqrt(6.0 / fan_in);
    default: return in->range;
    }
}

static void check_scheme(dcr_init_scheme s)
{
    dcr_arch a = arch3(DCR_F64);
    dcr_init in = {s, 0.25, 77};
    size_t n = dcr_arch_n_params(&a);
    double *p = malloc(n * sizeof *p);
    cr_assert_not_null(p);
    dcr_init_params(p, &a, &in);
    dcr_rng r;
    dcr_rng_seed(&r, 77);
    for (int l = 1; l <= a.n_layers; l++) {
        double rr = range_of(&in, a.sizes[l - 1], a.sizes[l]);
        size_t w = dcr_arch_w_offset(&a, l), b = dcr_arch_b_offset(&a, l);
        double lo = 0, hi = 0;
        for (size_t i = w; i < b; i++) {
            cr_assert(fabs(p[i]) <= rr, "scheme %d layer %d: |%g| > %g", s, l, p[i], rr);
            /* one stream, layout order, (2u - 1) r */
            cr_assert_eq(p[i], (2 * dcr_rng_uniform(&r) - 1) * rr);
            lo = fmin(lo, p[i]);
            hi = fmax(hi, p[i]);
        }
        cr_assert(lo < 0 && hi > 0, "weights should straddle 0");
        for (int k = 0; k < a.sizes[l]; k++)
            cr_assert_eq(p[b + (size_t)k], 0, "bias %d of layer %d", k, l);
    }
    free(p);
}

Test(init, xavier) { check_scheme(DCR_INIT_XAVIER_UNIFORM); }
Test(init, he) { check_scheme(DCR_INIT_HE_UNIFORM); }
Test(init, uniform) { check_scheme(DCR_INIT_UNIFORM); }

Test(init, deterministic_and_seeded)
{
    dcr_arch a = arch3(DCR_F64);
    size_t n = dcr_arch_n_params(&a);
    double p1[32], p2[32], p3[32];
    cr_assert_leq(n, 32);
    dcr_init in = {DCR_INIT_XAVIER_UNIFORM, 0, 5};
    dcr_init_params(p1, &a, &in);
    dcr_init_params(p2, &a, &in);
    in.seed = 6;
    dcr_init_params(p3, &a, &in);
    cr_assert_arr_eq(p1, p2, n * sizeof(double));
    cr_assert(memcmp(p1, p3, n * sizeof(double)) != 0);
}

Test(init, float32_is_float64_rounded)
{
    dcr_arch a64 = arch3(DCR_F64), a32 = arch3(DCR_F32);
    size_t n = dcr_arch_n_params(&a64);
    double p64[32];
    float p32[32];
    dcr_init in = {DCR_INIT_HE_UNIFORM, 0, 2024};
    dcr_init_params(p64, &a64, &in);
    dcr_init_params(p32, &a32, &in);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(p32[i], (float)p64[i], "param %zu", i);
}
