/* The generated code under libtcc: equal to the reference engine, exact
 * gradients for every activation x loss, no loops, errors as text. */
#include <criterion/criterion.h>
#include <math.h>
#include <pthread.h>
#include <string.h>

#include "deltac.h"

typedef struct {
    dc_net net;
    dc_jit *jit;
    dcr_engine eng;
} jitted;

static void make_arch(dcr_arch *a, dcr_dtype t, int n, const int *sizes, const dcr_act *acts, dcr_loss loss)
{
    memset(a, 0, sizeof *a);
    a->dtype = t;
    a->n_layers = n;
    for (int l = 0; l <= n; l++)
        a->sizes[l] = sizes[l];
    for (int l = 1; l <= n; l++) {
        a->act[l] = acts[l - 1];
        /* not the defaults, so that alpha visibly reaches the code */
        a->alpha[l] = a->act[l] == DCR_ACT_LEAKY_RELU ? 0.1 : a->act[l] == DCR_ACT_ELU ? 0.7 : 0;
    }
    a->loss = loss;
}

/* fast mode's tolerances against the reference engine (relative): the
 * worst seen on these networks was between 1e-13 and 1e-12 (float64) and
 * between 3.3e-5 and 1e-4 (float32, a parameter after a fused step) */
#define FAST_TOL64 1e-11
#define FAST_TOL32 1e-4

/* the emission strategy jit_build uses (tests of other strategies set it) */
static dc_strategy g_strategy = DC_EMIT_UNROLLED;
/* fast mode (tanh, sigmoid, softmax's exp by compiler/kernels_act.c) */
static int g_fast = 0;

static void jit_build(jitted *j, const dcr_arch *a, const char *name)
{
    dcr_error err = {0};
    cr_assert_eq(dc_net_make(&j->net, a, name, &err), 0, "%s", err.msg);
    char *src;
    size_t len;
    dc_emit_opts o = {.strategy = g_strategy, .command_line = "test", .fast_math = g_fast};
    cr_assert_eq(dc_emit(&src, &len, &j->net, &o, &err), 0, "%s", err.msg);
    int rc = dc_jit_compile(&j->jit, DC_JIT_TCC, src, len, &err);
    free(src);
    cr_assert_eq(rc, 0, "%s", err.msg);
    cr_assert_eq(dc_jit_engine(&j->eng, j->jit, &j->net, &err), 0, "%s", err.msg);
}

static void jit_drop(jitted *j)
{
    dc_jit_engine_free(&j->eng);
    dc_jit_free(j->jit);
}

static double get(const void *p, dcr_dtype t, size_t i)
{
    return t == DCR_F64 ? ((const double *)p)[i] : (double)((const float *)p)[i];
}

/* Random parameters (biases too), inputs and targets of the arch's dtype. */
static void *random_buf(size_t n, dcr_dtype t, dcr_rng *r, double lo, double hi)
{
    double *d = malloc(n * sizeof *d);
    for (size_t i = 0; i < n; i++)
        d[i] = lo + (hi - lo) * dcr_rng_uniform(r);
    void *p = dcr_pack(d, n, t);
    free(d);
    return p;
}

static void *random_targets(const dcr_arch *a, int n, dcr_rng *r)
{
    int k = a->sizes[a->n_layers];
    double *d = calloc((size_t)n * (size_t)k, sizeof *d);
    for (int i = 0; i < n; i++) {
        if (a->loss == DCR_LOSS_CROSS_ENTROPY)
            d[(size_t)i * (size_t)k + dcr_rng_below(r, (uint64_t)k)] = 1;
        else
            for (int j = 0; j < k; j++)
                d[(size_t)i * (size_t)k + (size_t)j] = dcr_rng_uniform(r);
    }
    void *p = dcr_pack(d, (size_t)n * (size_t)k, a->dtype);
    free(d);
    return p;
}

static void expect_close(const void *x, const void *y, size_t n, dcr_dtype t, double tol, const char *what)
{
    for (size_t i = 0; i < n; i++) {
        double a = get(x, t, i), b = get(y, t, i);
        double rel = fabs(a - b) / fmax(fmax(fabs(a), fabs(b)), 1e-30);
        cr_assert(a == b || rel <= tol, "%s[%zu]: jit %.17g, reference %.17g (rel %.3g > %.3g)", what, i, a, b,
                  rel, tol);
    }
}

/* ---- equality with the reference engine ------------------------------------------ */

static void compare_with_reference(const dcr_arch *a, uint64_t seed)
{
    jitted j;
    jit_build(&j, a, "eq");
    dcr_engine ref;
    dcr_error err = {0};
    cr_assert_eq(dcr_ref_engine(&ref, a, &err), 0, "%s", err.msg);
    /* exact mode: the same arithmetic (and float64 bit for bit, below);
     * fast mode: tanh, sigmoid, exp within a few units in the last place
     * (docs/fastmath.md), which the gradient sums carry along */
    double tol = a->dtype == DCR_F64 ? (g_fast ? FAST_TOL64 : 1e-12) : (g_fast ? FAST_TOL32 : 1e-5);
    int exact = !g_fast;
    size_t np = j.net.n_params, es = dcr_dtype_size(a->dtype);
    int n_in = a->sizes[0], n_out = a->sizes[a->n_layers], batch = 5;
    dcr_rng r;
    dcr_rng_seed(&r, seed);
    void *p1 = random_buf(np, a->dtype, &r, -0.7, 0.7);
    void *p2 = malloc(np * es);
    memcpy(p2, p1, np * es);
    void *X = random_buf((size_t)batch * (size_t)n_in, a->dtype, &r, -1, 1);
    void *Y = random_targets(a, batch, &r);
    void *o1 = calloc((size_t)n_out, es), *o2 = calloc((size_t)n_out, es);
    void *g1 = calloc(np, es), *g2 = calloc(np, es);

    j.eng.forward(j.eng.self, o1, p1, X);
    ref.forward(ref.self, o2, p2, X);
    expect_close(o1, o2, (size_t)n_out, a->dtype, tol, "forward");

    double l1 = j.eng.loss_grad(j.eng.self, g1, p1, X, Y);
    double l2 = ref.loss_grad(ref.self, g2, p2, X, Y);
    cr_assert(l1 == l2 || fabs(l1 - l2) <= tol * fabs(l2), "loss %.17g vs %.17g", l1, l2);
    expect_close(g1, g2, np, a->dtype, tol, "gradient");

    /* the delta trace: the same loss and gradient, and the same sums */
    double t1[DCR_MAX_LAYERS + 1] = {0}, t2[DCR_MAX_LAYERS + 1] = {0};
    cr_assert_not_null(j.eng.loss_grad_trace);
    cr_assert_not_null(ref.loss_grad_trace);
    double lt1 = j.eng.loss_grad_trace(j.eng.self, g1, p1, X, Y, t1);
    double lt2 = ref.loss_grad_trace(ref.self, g2, p2, X, Y, t2);
    cr_assert(lt1 == l1 && lt2 == l2, "loss_grad_trace's loss differs from loss_grad's");
    expect_close(g1, g2, np, a->dtype, tol, "gradient after loss_grad_trace");
    expect_close(t1, t2, DCR_MAX_LAYERS + 1, DCR_F64, a->dtype == DCR_F64 ? 1e-12 : 1e-5, "delta_abs");
    for (int l = 1; l <= a->n_layers; l++)
        cr_assert(t1[l] > 0, "delta_abs[%d] = %g", l, t1[l]);
    if (a->dtype == DCR_F64 && exact)
        cr_expect_eq(memcmp(t1, t2, sizeof t1), 0, "float64 delta traces differ in some bit");

    double b1 = dcr_sgd_step(&j.eng, p1, g1, X, Y, batch, 0.1);
    double b2 = dcr_sgd_step(&ref, p2, g2, X, Y, batch, 0.1);
    cr_assert(b1 == b2 || fabs(b1 - b2) <= tol * fabs(b2), "batch loss %.17g vs %.17g", b1, b2);
    expect_close(p1, p2, np, a->dtype, tol, "parameters after one SGD step");
    /* the step moved something: a stub that does nothing would pass the rest */
    int moved = 0;
    void *p0;
    dcr_rng_seed(&r, seed);
    p0 = random_buf(np, a->dtype, &r, -0.7, 0.7);
    for (size_t i = 0; i < np; i++)
        moved |= get(p0, a->dtype, i) != get(p1, a->dtype, i);
    cr_assert(moved, "SGD step changed no parameter");
    if (a->dtype == DCR_F64 && exact)
        cr_expect_eq(memcmp(p1, p2, np * es), 0, "float64 parameters differ in some bit after one step");

    /* the fused per-sample step equals batch_grad on that sample and update */
    cr_assert_not_null(j.eng.sgd_step);
    void *p3 = malloc(np * es);
    memcpy(p3, p1, np * es);
    double f1 = j.eng.sgd_step(j.eng.self, p3, X, Y, 0.1);
    double f2 = dcr_sgd_step(&ref, p2, g2, X, Y, 1, 0.1);
    cr_assert(f1 == f2 || fabs(f1 - f2) <= tol * fabs(f2), "fused step loss %.17g vs %.17g", f1, f2);
    expect_close(p3, p2, np, a->dtype, tol, "parameters after a fused SGD step");
    if (a->dtype == DCR_F64 && exact)
        cr_expect_eq(memcmp(p3, p2, np * es), 0, "float64 parameters differ in some bit after a fused step");
    free(p3);

    free(p0);
    free(p1);
    free(p2);
    free(X);
    free(Y);
    free(o1);
    free(o2);
    free(g1);
    free(g2);
    dcr_ref_engine_free(&ref);
    jit_drop(&j);
}

static void equal_on_random_networks(void)
{
    static const struct {
        int n;
        int sizes[5];
        dcr_act acts[4];
        dcr_loss loss;
    } cases[] = {
        {2, {4, 16, 3}, {DCR_ACT_TANH, DCR_ACT_SOFTMAX}, DCR_LOSS_CROSS_ENTROPY},
        {3, {1, 16, 16, 1}, {DCR_ACT_TANH, DCR_ACT_TANH, DCR_ACT_IDENTITY}, DCR_LOSS_MSE},
        {2, {2, 4, 1}, {DCR_ACT_SIGMOID, DCR_ACT_SIGMOID}, DCR_LOSS_MSE},
        {4, {7, 9, 5, 6, 4}, {DCR_ACT_RELU, DCR_ACT_SIGMOID, DCR_ACT_TANH, DCR_ACT_RELU}, DCR_LOSS_MSE},
        {3, {13, 11, 8, 3}, {DCR_ACT_IDENTITY, DCR_ACT_RELU, DCR_ACT_SOFTMAX}, DCR_LOSS_CROSS_ENTROPY},
        {1, {5, 2}, {DCR_ACT_TANH}, DCR_LOSS_MSE},
        {3, {6, 8, 7, 3}, {DCR_ACT_LEAKY_RELU, DCR_ACT_ELU, DCR_ACT_SIGMOID}, DCR_LOSS_BINARY_CROSS_ENTROPY},
        {3, {5, 9, 6, 3}, {DCR_ACT_SOFTPLUS, DCR_ACT_GELU, DCR_ACT_SOFTMAX}, DCR_LOSS_CROSS_ENTROPY},
        {2, {4, 7, 3}, {DCR_ACT_GELU, DCR_ACT_SOFTPLUS}, DCR_LOSS_MSE},
        {3, {4, 6, 5, 2}, {DCR_ACT_ELU, DCR_ACT_LEAKY_RELU, DCR_ACT_GELU}, DCR_LOSS_MSE},
        {2, {3, 5, 2}, {DCR_ACT_TANH, DCR_ACT_ELU}, DCR_LOSS_MSE},
        {2, {3, 5, 1}, {DCR_ACT_GELU, DCR_ACT_SIGMOID}, DCR_LOSS_BINARY_CROSS_ENTROPY},
        /* blocked layers: two full blocks of 8 rows and a rest of 1; and one of 4 */
        {3, {20, 17, 12, 4}, {DCR_ACT_TANH, DCR_ACT_RELU, DCR_ACT_SOFTMAX}, DCR_LOSS_CROSS_ENTROPY},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        for (int t = 0; t < 2; t++) {
            dcr_arch a;
            make_arch(&a, t ? DCR_F64 : DCR_F32, cases[i].n, cases[i].sizes, cases[i].acts, cases[i].loss);
            compare_with_reference(&a, 100 + i);
        }
}

Test(jit, equals_reference_on_random_networks)
{
    equal_on_random_networks();
}

/* every strategy computes the same thing in the same order: float64
 * results equal the reference engine's bit for bit (compare_with_reference
 * checks with memcmp) */
Test(jit, loops_blocked_kernels_and_auto_equal_the_reference)
{
    static const dc_strategy st[] = {DC_EMIT_LOOPS, DC_EMIT_BLOCKED, DC_EMIT_KERNELS, DC_EMIT_AUTO};
    for (size_t i = 0; i < sizeof st / sizeof *st; i++) {
        g_strategy = st[i];
        equal_on_random_networks();
    }
    g_strategy = DC_EMIT_UNROLLED;
}

/* fast mode under libtcc, every strategy: within the stated tolerance of
 * the reference engine (which uses libm) */
Test(jit, fast_mode_agrees_with_the_reference)
{
    static const dc_strategy st[] = {DC_EMIT_UNROLLED, DC_EMIT_LOOPS, DC_EMIT_KERNELS, DC_EMIT_AUTO};
    g_fast = 1;
    for (size_t i = 0; i < sizeof st / sizeof *st; i++) {
        g_strategy = st[i];
        equal_on_random_networks();
    }
    g_strategy = DC_EMIT_UNROLLED;
    g_fast = 0;
}

/* fast mode calls the activation kernels instead of libm under libtcc, and
 * pastes fastmath.h for code a C compiler builds */
Test(emit, fast_mode_activations_per_backend)
{
    int sizes[4] = {4, 16, 8, 3};
    dcr_act acts[3] = {DCR_ACT_TANH, DCR_ACT_SIGMOID, DCR_ACT_SOFTMAX};
    dcr_arch a;
    make_arch(&a, DCR_F32, 3, sizes, acts, DCR_LOSS_CROSS_ENTROPY);
    dc_net n;
    dcr_error err = {0};
    cr_assert_eq(dc_net_make(&n, &a, "fm", &err), 0, "%s", err.msg);
    static const dc_strategy st[] = {DC_EMIT_UNROLLED, DC_EMIT_AUTO};
    for (size_t i = 0; i < 2; i++) {
        char *src;
        size_t len;
        dc_emit_opts o = {.strategy = st[i], .fast_math = 1};
        cr_assert_eq(dc_emit(&src, &len, &n, &o, &err), 0, "%s", err.msg);
        cr_expect_not_null(strstr(src, "dck_tanhf(a, z, 16);"), "%s", src);
        cr_expect_not_null(strstr(src, "dck_sigmoidf(a, z, 8);"));
        cr_expect_not_null(strstr(src, "dck_expsubf(a, z, m, 3);"));
        cr_expect_null(strstr(src, "tanhf(z["), "a libm call per unit");
        cr_expect_null(strstr(src, "DCM_tanhf"), "fastmath.h pasted for libtcc");
        cr_expect_not_null(strstr(src, "fast tanh/sigmoid/softmax kernels"), "not in the header comment");
        free(src);
        o.target = DC_JIT_CC;
        cr_assert_eq(dc_emit(&src, &len, &n, &o, &err), 0, "%s", err.msg);
        cr_expect_null(strstr(src, "dck_"), "a kernel call in code for a C compiler");
        cr_expect_not_null(strstr(src, "DCM_tanhf(z["));
        free(src);
        o.target = DC_JIT_TCC;
        o.fast_math = 0;
        cr_assert_eq(dc_emit(&src, &len, &n, &o, &err), 0, "%s", err.msg);
        cr_expect_null(strstr(src, "dck_tanhf"), "a fast kernel in exact mode");
        cr_expect_not_null(strstr(src, "tanhf(z["));
        free(src);
    }
}

Test(emit, auto_unrolls_small_layers_and_calls_kernels_for_large_ones_under_tcc)
{
    int sizes[4] = {784, 128, 10};
    dcr_act acts[2] = {DCR_ACT_RELU, DCR_ACT_SOFTMAX};
    dcr_arch a;
    make_arch(&a, DCR_F32, 2, sizes, acts, DCR_LOSS_CROSS_ENTROPY);
    dc_net n;
    dcr_error err = {0};
    cr_assert_eq(dc_net_make(&n, &a, "mnist", &err), 0, "%s", err.msg);
    char *src;
    size_t len;
    dc_emit_opts o = {.strategy = DC_EMIT_AUTO};
    cr_assert_eq(dc_emit(&src, &len, &n, &o, &err), 0, "%s", err.msg);
    cr_expect(strstr(src, "strategy: auto for tcc: layer 1 kernels, layer 2 kernels, update kernels") != NULL);
    cr_expect_lt(len, 1u << 16, "the 784-128-10 source is small (%zu bytes)", len);
    free(src);
    /* 4-16-16-1: 336 weights, within the budget: all unrolled */
    int small[4] = {4, 16, 16, 1};
    dcr_act sacts[3] = {DCR_ACT_TANH, DCR_ACT_TANH, DCR_ACT_IDENTITY};
    dcr_arch sa;
    dc_net sn;
    make_arch(&sa, DCR_F32, 3, small, sacts, DCR_LOSS_MSE);
    cr_assert_eq(dc_net_make(&sn, &sa, "small", &err), 0, "%s", err.msg);
    cr_assert_eq(dc_emit(&src, &len, &sn, &o, &err), 0, "%s", err.msg);
    cr_expect(strstr(src, "strategy: auto for tcc: layer 1 unrolled, layer 2 unrolled, layer 3 unrolled, update kernels") != NULL);
    free(src);
    o.target = DC_JIT_CC;
    cr_assert_eq(dc_emit(&src, &len, &n, &o, &err), 0, "%s", err.msg);
    cr_expect(strstr(src, "strategy: auto for cc: layer 1 loops, layer 2 loops, update loops") != NULL);
    free(src);
    /* the kernels are deltac's own: refused for code a C compiler will build */
    o.strategy = DC_EMIT_KERNELS;
    cr_expect_eq(dc_emit(&src, &len, &n, &o, &err), -1);
    cr_expect(strstr(err.msg, "only for the libtcc JIT") != NULL, "%s", err.msg);
}

/* ---- gradients --------------------------------------------------------------------- */

static const dcr_act hidden_acts[] = {DCR_ACT_IDENTITY, DCR_ACT_SIGMOID, DCR_ACT_TANH, DCR_ACT_RELU};
static const struct {
    dcr_act out;
    dcr_loss loss;
} outputs[] = {
    {DCR_ACT_IDENTITY, DCR_LOSS_MSE}, {DCR_ACT_SIGMOID, DCR_LOSS_MSE}, {DCR_ACT_TANH, DCR_LOSS_MSE},
    {DCR_ACT_RELU, DCR_LOSS_MSE},     {DCR_ACT_SOFTMAX, DCR_LOSS_CROSS_ENTROPY},
};

/* Two hidden layers of the same activation, so that the delta recursion
 * runs through it twice. */
static void gradcheck_case(dcr_dtype t, dcr_act h, dcr_act out, dcr_loss loss, double eps, double tol)
{
    int sizes[4] = {5, 7, 6, 3};
    dcr_act acts[3] = {h, h, out};
    dcr_arch a;
    make_arch(&a, t, 3, sizes, acts, loss);
    jitted j;
    jit_build(&j, &a, "gc");
    dcr_gradcheck_result r;
    dcr_error err = {0};
    cr_assert_eq(dcr_gradcheck_random(&r, &j.eng, 11, 4, eps, 1e-3, &err), 0, "%s", err.msg);
    cr_assert_gt(r.max_abs_grad, 1e-3, "%s/%s/%s: gradients (nearly) all zero: the check proves nothing",
                 dcr_act_name(h), dcr_act_name(out), dcr_loss_name(loss));
    cr_assert_eq(r.n_checked, j.net.n_params);
    cr_expect_leq(r.max_rel, tol, "%s %s hidden, %s out, %s: max error %.3e > %.1e", dcr_dtype_name(t),
                  dcr_act_name(h), dcr_act_name(out), dcr_loss_name(loss), r.max_rel, tol);
    jit_drop(&j);
}

/* fast mode: the backward pass uses the fast activations' own outputs
 * (1 - a^2, a (1 - a)), which agree with their finite differences */
Test(gradcheck, float64_fast_mode)
{
    static const struct { dcr_act h, out; dcr_loss loss; } c[] = {
        {DCR_ACT_TANH, DCR_ACT_SOFTMAX, DCR_LOSS_CROSS_ENTROPY},
        {DCR_ACT_SIGMOID, DCR_ACT_TANH, DCR_LOSS_MSE},
        {DCR_ACT_TANH, DCR_ACT_SIGMOID, DCR_LOSS_BINARY_CROSS_ENTROPY},
    };
    g_fast = 1;
    for (size_t i = 0; i < sizeof c / sizeof *c; i++)
        gradcheck_case(DCR_F64, c[i].h, c[i].out, c[i].loss, 1e-4, 1e-7);
    g_fast = 0;
}

Test(gradcheck, float64_every_activation_and_loss)
{
    for (size_t h = 0; h < 4; h++)
        for (size_t o = 0; o < 5; o++)
            gradcheck_case(DCR_F64, hidden_acts[h], outputs[o].out, outputs[o].loss, 1e-4, 1e-7);
}

/* float32: finite differences in 24 bits need steps so large that they
 * cross ReLU kinks, so the float32 gradient is checked against the float64
 * one (itself checked against finite differences above) on the same
 * parameters and samples: |g32 - g64| / max(|g64|, 1e-3) <= 1e-4, the
 * documented float32 tolerance (docs/testing.md). */
static void float32_case(dcr_act h, dcr_act out, dcr_loss loss)
{
    int sizes[4] = {5, 7, 6, 3};
    dcr_act acts[3] = {h, h, out};
    dcr_arch a32, a64;
    make_arch(&a32, DCR_F32, 3, sizes, acts, loss);
    make_arch(&a64, DCR_F64, 3, sizes, acts, loss);
    jitted j32, j64;
    jit_build(&j32, &a32, "f32");
    jit_build(&j64, &a64, "f64");
    size_t np = j32.net.n_params;
    dcr_rng r;
    dcr_rng_seed(&r, 5);
    /* values exactly representable in float32, so both nets see the same */
    void *p32 = random_buf(np, DCR_F32, &r, -0.7, 0.7);
    void *x32 = random_buf(5, DCR_F32, &r, -1, 1);
    void *y32 = random_targets(&a32, 1, &r);
    double *p64 = malloc(np * sizeof *p64), x64[5], y64[3];
    for (size_t i = 0; i < np; i++)
        p64[i] = ((float *)p32)[i];
    for (int i = 0; i < 5; i++)
        x64[i] = ((float *)x32)[i];
    for (int i = 0; i < 3; i++)
        y64[i] = ((float *)y32)[i];
    float *g32 = calloc(np, sizeof *g32);
    double *g64 = calloc(np, sizeof *g64);
    j32.eng.loss_grad(j32.eng.self, g32, p32, x32, y32);
    j64.eng.loss_grad(j64.eng.self, g64, p64, x64, y64);
    double worst = 0, big = 0;
    for (size_t i = 0; i < np; i++) {
        double e = fabs((double)g32[i] - g64[i]) / fmax(fabs(g64[i]), 1e-3);
        worst = fmax(worst, e);
        big = fmax(big, fabs(g64[i]));
    }
    cr_assert_gt(big, 1e-3, "gradients (nearly) all zero");
    cr_expect_leq(worst, 1e-4, "float32 %s hidden, %s out, %s: max error %.3e against float64", dcr_act_name(h),
                  dcr_act_name(out), dcr_loss_name(loss), worst);
    free(p32);
    free(x32);
    free(y32);
    free(p64);
    free(g32);
    free(g64);
    jit_drop(&j32);
    jit_drop(&j64);
}

Test(gradcheck, float32_every_activation_and_loss)
{
    for (size_t h = 0; h < 4; h++)
        for (size_t o = 0; o < 5; o++)
            float32_case(hidden_acts[h], outputs[o].out, outputs[o].loss);
}

/* An engine whose gradient is twice the true one. */
static double doubled_loss_grad(void *self, void *grad, const void *params, const void *x, const void *y)
{
    const dcr_engine *inner = self;
    inner->loss_grad(inner->self, grad, params, x, y);
    return inner->loss_grad(inner->self, grad, params, x, y);
}

Test(gradcheck, detects_a_wrong_gradient)
{
    int sizes[3] = {3, 4, 2};
    dcr_act acts[2] = {DCR_ACT_TANH, DCR_ACT_IDENTITY};
    dcr_arch a;
    make_arch(&a, DCR_F64, 2, sizes, acts, DCR_LOSS_MSE);
    jitted j;
    jit_build(&j, &a, "wrong");
    dcr_engine bad = j.eng;
    bad.self = &j.eng;
    bad.loss_grad = doubled_loss_grad;
    dcr_gradcheck_result good_r, bad_r;
    dcr_error err = {0};
    cr_assert_eq(dcr_gradcheck_random(&good_r, &j.eng, 3, 2, 1e-6, 1e-3, &err), 0);
    cr_assert_eq(dcr_gradcheck_random(&bad_r, &bad, 3, 2, 1e-6, 1e-3, &err), 0);
    cr_expect_leq(good_r.max_rel, 1e-7);
    cr_expect_gt(bad_r.max_rel, 0.3, "a doubled gradient passed: max error %.3e", bad_r.max_rel);
    jit_drop(&j);
}

/* ---- the generated text ------------------------------------------------------------ */

static char *emit_text(const dcr_arch *a, const char *name)
{
    dc_net n;
    dcr_error err = {0};
    cr_assert_eq(dc_net_make(&n, a, name, &err), 0, "%s", err.msg);
    char *src;
    size_t len;
    dc_emit_opts o = {.strategy = DC_EMIT_UNROLLED, .command_line = "deltac emit x.json */ evil"};
    cr_assert_eq(dc_emit(&src, &len, &n, &o, &err), 0, "%s", err.msg);
    cr_assert_eq(strlen(src), len);
    return src;
}

Test(emit, forward_and_backward_have_no_loops)
{
    int sizes[4] = {4, 8, 6, 3};
    dcr_act acts[3] = {DCR_ACT_TANH, DCR_ACT_RELU, DCR_ACT_SOFTMAX};
    dcr_arch a;
    make_arch(&a, DCR_F32, 3, sizes, acts, DCR_LOSS_CROSS_ENTROPY);
    char *src = emit_text(&a, "nl");
    /* everything up to the minibatch driver: layers, loss, forward, loss_grad, sgd */
    char *driver = strstr(src, "double nl_batch_grad(");
    cr_assert_not_null(driver);
    *driver = 0;
    cr_assert_not_null(strstr(src, "void nl_forward("));
    cr_assert_not_null(strstr(src, "float nl_loss_grad("));
    cr_assert_not_null(strstr(src, "void nl_update("));
    cr_expect_null(strstr(src, "for ("), "a for loop before the driver");
    cr_expect_null(strstr(src, "for("));
    cr_expect_null(strstr(src, "while"));
    cr_expect_null(strstr(src, "goto"));
    /* every weight of the middle layer is read by a term of its own, in
     * the unit's chained sum */
    char *f2 = strstr(src, "static void nl_fwd2(");
    cr_assert_not_null(f2);
    char *z5 = strstr(f2, "z[5] = p[");
    cr_assert_not_null(z5);
    /* (the inputs are copied to locals first: 6 units read each) */
    cr_expect_not_null(strstr(f2, " i7 = in[7]"));
    char *end = strchr(z5, ';'), *term = strstr(z5, " + p[87] * i7");
    cr_expect(term && term < end, "layer 2, unit 5, input 7 (W2 at 32) in z[5]'s sum");
    free(src);
}

Test(emit, header_names_generator_spec_and_cost)
{
    int sizes[3] = {4, 16, 3};
    dcr_act acts[2] = {DCR_ACT_TANH, DCR_ACT_SOFTMAX};
    dcr_arch a;
    make_arch(&a, DCR_F64, 2, sizes, acts, DCR_LOSS_CROSS_ENTROPY);
    char *src = emit_text(&a, "hdr");
    cr_expect_not_null(strstr(src, "Generated by deltac "));
    cr_expect_not_null(strstr(src, "spec:     sha256"));
    cr_expect_not_null(strstr(src, "131 parameters"));
    cr_expect_not_null(strstr(src, "224 FLOPs forward"));
    cr_expect_not_null(strstr(src, "#define hdr_N_PARAMS 131"));
    /* the command line cannot close the comment early */
    cr_expect_null(strstr(src, "*/ evil"));
    cr_expect_not_null(strstr(src, "* / evil"));
    free(src);
}

Test(emit, every_network_within_the_limits_fits_the_source_limit)
{
    /* nearly the largest parameter count, spent so as to maximise the
     * source (a delta recursion through a full-size layer) */
    int sizes[3] = {999, 999, 999};
    dcr_act acts[2] = {DCR_ACT_TANH, DCR_ACT_IDENTITY};
    dcr_arch a;
    make_arch(&a, DCR_F32, 2, sizes, acts, DCR_LOSS_MSE);
    dc_net n;
    dcr_error err = {0};
    cr_assert_eq(dc_net_make(&n, &a, "big", &err), 0, "%s", err.msg);
    cr_assert_gt(n.n_params, DC_MAX_PARAMS - 5000);
    char *src;
    size_t len;
    cr_assert_eq(dc_emit(&src, &len, &n, NULL, &err), 0, "%s", err.msg);
    cr_expect_leq(len, DC_MAX_SOURCE_BYTES);
    free(src);
    a.sizes[1] = 1002;
    cr_expect_eq(dc_net_make(&n, &a, "big", &err), -1, "over DC_MAX_PARAMS accepted");
    cr_expect_eq(err.status, DCR_ERR_LIMIT);
}

Test(jit, refuses_sources_over_the_limit)
{
    /* the length is checked before the text is read */
    dc_jit *j;
    dcr_error err = {0};
    cr_assert_eq(dc_jit_compile(&j, DC_JIT_TCC, "", (size_t)DC_MAX_SOURCE_BYTES + 1, &err), -1);
    cr_expect_eq(err.status, DCR_ERR_LIMIT);
    cr_expect_not_null(strstr(err.msg, "DC_MAX_SOURCE_BYTES"), "%s", err.msg);
}

Test(emit, rejects_bad_names_and_shapes)
{
    int sizes[3] = {4, 3, 2};
    dcr_act acts[2] = {DCR_ACT_SOFTMAX, DCR_ACT_TANH};
    dcr_arch a;
    make_arch(&a, DCR_F32, 2, sizes, acts, DCR_LOSS_MSE);
    dc_net n;
    dcr_error err = {0};
    cr_expect_eq(dc_net_make(&n, &a, "ok", &err), -1, "hidden softmax accepted");
    a.act[1] = DCR_ACT_TANH;
    cr_expect_eq(dc_net_make(&n, &a, "Bad", &err), -1);
    cr_expect_eq(dc_net_make(&n, &a, "a\"b", &err), -1);
    cr_expect_eq(dc_net_make(&n, &a, "ok", &err), 0, "%s", err.msg);
}

/* ---- the JIT itself ------------------------------------------------------------------- */

Test(jit, broken_c_comes_back_as_text)
{
    const char *src = "#line 1 \"broken.c\"\nint f(int x)\n{\n    return x +;\n}\n";
    dc_jit *j = (dc_jit *)1;
    dcr_error err = {0};
    cr_assert_eq(dc_jit_compile(&j, DC_JIT_TCC, src, strlen(src), &err), -1);
    cr_expect_null(j);
    cr_expect_eq(err.status, DCR_ERR_JIT);
    cr_expect_not_null(strstr(err.msg, "broken.c:4"), "%s", err.msg);
    cr_expect_not_null(strstr(err.msg, "error"), "%s", err.msg);
    /* an undefined function fails at link time, also as text */
    const char *src2 = "int g(void);\nint f(void) { return g(); }\n";
    cr_assert_eq(dc_jit_compile(&j, DC_JIT_TCC, src2, strlen(src2), &err), -1);
    cr_expect_not_null(strstr(err.msg, "undefined symbol 'g'"), "%s", err.msg);
    /* and the process goes on compiling */
    const char *ok = "int f(int x) { return 2 * x; }\n";
    cr_assert_eq(dc_jit_compile(&j, DC_JIT_TCC, ok, strlen(ok), &err), 0, "%s", err.msg);
    int (*f)(int) = (int (*)(int))dc_jit_symbol(j, "f");
    cr_assert_not_null(f);
    cr_expect_eq(f(21), 42);
    cr_expect_null(dc_jit_symbol(j, "nope"));
    dc_jit_free(j);
}

Test(jit, rejects_text_with_nul)
{
    const char src[] = "int f(void) { return 1; }\0 junk";
    dc_jit *j;
    dcr_error err = {0};
    cr_expect_eq(dc_jit_compile(&j, DC_JIT_TCC, src, sizeof src - 1, &err), -1);
}

/* Criterion's assertions must not run outside the test's own thread: a
 * thread returns how many of its checks failed, and the test asserts after
 * joining. */
static void *compile_in_thread(void *arg)
{
    int id = (int)(intptr_t)arg;
    int sizes[3] = {3 + id, 5, 2};
    dcr_act acts[2] = {DCR_ACT_TANH, DCR_ACT_IDENTITY};
    dcr_arch a;
    make_arch(&a, DCR_F64, 2, sizes, acts, DCR_LOSS_MSE);
    intptr_t failed = 0;
    for (int rep = 0; rep < 5; rep++) {
        dcr_error err = {0};
        dc_net net;
        char *src = NULL;
        size_t len;
        dc_jit *jit = NULL;
        dcr_engine e, r;
        if (dc_net_make(&net, &a, "th", &err) || dc_emit(&src, &len, &net, NULL, &err) ||
            dc_jit_compile(&jit, DC_JIT_TCC, src, len, &err) || dc_jit_engine(&e, jit, &net, &err)) {
            free(src);
            dc_jit_free(jit);
            failed++;
            continue;
        }
        free(src);
        double p[64], x[8], out[2], ref_out[2];
        for (int i = 0; i < 64; i++)
            p[i] = 0.01 * (i % 13) - 0.05;
        for (int i = 0; i < 8; i++)
            x[i] = 0.1 * i;
        e.forward(e.self, out, p, x);
        if (dcr_ref_engine(&r, &a, &err) == 0) {
            r.forward(r.self, ref_out, p, x);
            failed += !(out[0] == ref_out[0] && out[1] == ref_out[1]);
            dcr_ref_engine_free(&r);
        } else {
            failed++;
        }
        dc_jit_engine_free(&e);
        dc_jit_free(jit);
    }
    return (void *)failed;
}

Test(jit, several_threads_compile_at_once)
{
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        cr_assert_eq(pthread_create(&t[i], NULL, compile_in_thread, (void *)(intptr_t)i), 0);
    for (int i = 0; i < 4; i++) {
        void *failed;
        pthread_join(t[i], &failed);
        cr_expect_eq((intptr_t)failed, 0, "thread %d: %d of its 5 compilations failed or differed", i,
                     (int)(intptr_t)failed);
    }
}
