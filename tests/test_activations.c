/* test_activations.c: the activations leaky_relu, elu, softplus and gelu,
 * the loss binary_cross_entropy and the delta trace, end to end: spec
 * validation, exact gradients of the generated code (and the reference
 * engine) for every hidden activation with every output and loss the spec
 * allows, the formulas' values, and the trace against sums by hand. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "deltac.h"
#include "internal.h" /* dc_emit_unrolled_estimate */

/* every activation but softmax: what a hidden layer may have */
static const dcr_act hidden_acts[] = {DCR_ACT_IDENTITY,   DCR_ACT_SIGMOID, DCR_ACT_TANH,     DCR_ACT_RELU,
                                      DCR_ACT_LEAKY_RELU, DCR_ACT_ELU,     DCR_ACT_SOFTPLUS, DCR_ACT_GELU};
#define N_HIDDEN (sizeof hidden_acts / sizeof hidden_acts[0])

/* every output activation with the losses the spec allows for it */
static const struct {
    dcr_act out;
    dcr_loss loss;
} outputs[] = {
    {DCR_ACT_IDENTITY, DCR_LOSS_MSE},   {DCR_ACT_SIGMOID, DCR_LOSS_MSE},
    {DCR_ACT_TANH, DCR_LOSS_MSE},       {DCR_ACT_RELU, DCR_LOSS_MSE},
    {DCR_ACT_LEAKY_RELU, DCR_LOSS_MSE}, {DCR_ACT_ELU, DCR_LOSS_MSE},
    {DCR_ACT_SOFTPLUS, DCR_LOSS_MSE},   {DCR_ACT_GELU, DCR_LOSS_MSE},
    {DCR_ACT_SOFTMAX, DCR_LOSS_CROSS_ENTROPY}, {DCR_ACT_SIGMOID, DCR_LOSS_BINARY_CROSS_ENTROPY},
};
#define N_OUTPUTS (sizeof outputs / sizeof outputs[0])

/* Not the defaults (0.01, 1), so that a lost alpha shows. */
static double test_alpha(dcr_act a)
{
    return a == DCR_ACT_LEAKY_RELU ? 0.2 : a == DCR_ACT_ELU ? 0.8 : 0;
}

static void make_arch(dcr_arch *a, dcr_dtype t, int n, const int *sizes, const dcr_act *acts, dcr_loss loss)
{
    memset(a, 0, sizeof *a);
    a->dtype = t;
    a->n_layers = n;
    for (int l = 0; l <= n; l++)
        a->sizes[l] = sizes[l];
    for (int l = 1; l <= n; l++) {
        a->act[l] = acts[l - 1];
        a->alpha[l] = test_alpha(acts[l - 1]);
    }
    a->loss = loss;
}

typedef struct {
    dc_net net;
    dc_jit *jit;
    dcr_engine eng;
} jitted;

static void jit_build(jitted *j, const dcr_arch *a)
{
    dcr_error err = {0};
    cr_assert_eq(dc_net_make(&j->net, a, "act", &err), 0, "%s", err.msg);
    char *src;
    size_t len;
    cr_assert_eq(dc_emit(&src, &len, &j->net, NULL, &err), 0, "%s", err.msg);
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

/* ---- gradients: every hidden activation x every output and loss --------------------- */

/* The documented tolerances: float64, five-point stencil with step 1e-4,
 * relative error over max(|g|, 1e-3) at most 1e-7. */
#define GC_EPS 1e-4
#define GC_FLOOR 1e-3
#define GC_TOL 1e-7

/* Two hidden layers of the same activation, so that the delta recursion
 * runs through it twice; 3 outputs (several independent ones for
 * binary_cross_entropy). Returns the largest error. */
static double gradcheck_case(const dcr_engine *e, const char *engine, dcr_act h, dcr_act out, dcr_loss loss)
{
    dcr_gradcheck_result r;
    dcr_error err = {0};
    cr_assert_eq(dcr_gradcheck_random(&r, e, 11, 4, GC_EPS, GC_FLOOR, &err), 0, "%s", err.msg);
    cr_assert_gt(r.max_abs_grad, 1e-3, "%s %s/%s/%s: gradients (nearly) all zero: the check proves nothing",
                 engine, dcr_act_name(h), dcr_act_name(out), dcr_loss_name(loss));
    cr_assert_eq(r.n_checked, dcr_arch_n_params(e->arch));
    cr_expect_leq(r.max_rel, GC_TOL, "%s: %s hidden, %s out, %s: max error %.3e > %.0e", engine, dcr_act_name(h),
                  dcr_act_name(out), dcr_loss_name(loss), r.max_rel, GC_TOL);
    return r.max_rel;
}

Test(activations, gradcheck_every_hidden_activation_with_every_output_and_loss, .timeout = 120)
{
    int sizes[4] = {5, 7, 6, 3};
    double worst_jit = 0, worst_ref = 0;
    for (size_t h = 0; h < N_HIDDEN; h++) {
        double row = 0;
        for (size_t o = 0; o < N_OUTPUTS; o++) {
            dcr_act acts[3] = {hidden_acts[h], hidden_acts[h], outputs[o].out};
            dcr_arch a;
            make_arch(&a, DCR_F64, 3, sizes, acts, outputs[o].loss);
            jitted j;
            jit_build(&j, &a);
            double e = gradcheck_case(&j.eng, "jit", hidden_acts[h], outputs[o].out, outputs[o].loss);
            worst_jit = fmax(worst_jit, e);
            row = fmax(row, e);
            jit_drop(&j);
            dcr_engine ref;
            dcr_error err = {0};
            cr_assert_eq(dcr_ref_engine(&ref, &a, &err), 0, "%s", err.msg);
            worst_ref = fmax(worst_ref, gradcheck_case(&ref, "reference", hidden_acts[h], outputs[o].out,
                                                       outputs[o].loss));
            dcr_ref_engine_free(&ref);
        }
        fprintf(stderr, "gradcheck float64 %-10s hidden, worst over %zu outputs/losses: %.3g\n",
                dcr_act_name(hidden_acts[h]), N_OUTPUTS, row);
    }
    fprintf(stderr, "gradcheck float64 worst: jit %.3g, reference %.3g (%zu x %zu networks)\n", worst_jit,
            worst_ref, N_HIDDEN, N_OUTPUTS);
}

/* float32: the gradient against the float64 one (checked above) on the same
 * parameters and sample, |g32 - g64| / max(|g64|, 1e-3) <= 1e-4, the
 * documented float32 tolerance; in both engines. */
Test(activations, float32_gradients_close_to_float64, .timeout = 120)
{
    int sizes[4] = {5, 7, 6, 3};
    double worst_all = 0;
    for (size_t h = 0; h < N_HIDDEN; h++)
        for (size_t o = 0; o < N_OUTPUTS; o++) {
            dcr_act acts[3] = {hidden_acts[h], hidden_acts[h], outputs[o].out};
            dcr_arch a32, a64;
            make_arch(&a32, DCR_F32, 3, sizes, acts, outputs[o].loss);
            make_arch(&a64, DCR_F64, 3, sizes, acts, outputs[o].loss);
            jitted j32, j64;
            jit_build(&j32, &a32);
            jit_build(&j64, &a64);
            dcr_engine r32;
            dcr_error err = {0};
            cr_assert_eq(dcr_ref_engine(&r32, &a32, &err), 0, "%s", err.msg);
            size_t np = j32.net.n_params;
            double pd[200], xd[5], yd[3], g64[200];
            cr_assert_leq(np, 200);
            /* a sample that reaches a live unit (relu outputs can all be
             * dead for one sample); the seed search is deterministic */
            double big = 0;
            for (uint64_t seed = 5; big <= 1e-3 && seed < 50; seed++) {
                dcr_rng r;
                dcr_rng_seed(&r, seed);
                for (size_t i = 0; i < np; i++)
                    pd[i] = (double)(float)(1.4 * dcr_rng_uniform(&r) - 0.7);
                for (int i = 0; i < 5; i++)
                    xd[i] = (double)(float)(2 * dcr_rng_uniform(&r) - 1);
                for (int i = 0; i < 3; i++)
                    yd[i] = outputs[o].loss == DCR_LOSS_CROSS_ENTROPY ? (i == 2) : (double)(float)dcr_rng_uniform(&r);
                memset(g64, 0, sizeof g64);
                j64.eng.loss_grad(j64.eng.self, g64, pd, xd, yd);
                for (size_t i = 0; i < np; i++)
                    big = fmax(big, fabs(g64[i]));
            }
            float *p32 = dcr_pack(pd, np, DCR_F32), *x32 = dcr_pack(xd, 5, DCR_F32), *y32 = dcr_pack(yd, 3, DCR_F32);
            float g32[200] = {0}, gr32[200] = {0};
            j32.eng.loss_grad(j32.eng.self, g32, p32, x32, y32);
            r32.loss_grad(r32.self, gr32, p32, x32, y32);
            double worst = 0;
            for (size_t i = 0; i < np; i++) {
                worst = fmax(worst, fabs((double)g32[i] - g64[i]) / fmax(fabs(g64[i]), 1e-3));
                worst = fmax(worst, fabs((double)gr32[i] - g64[i]) / fmax(fabs(g64[i]), 1e-3));
            }
            cr_assert_gt(big, 1e-3, "%s/%s/%s: gradients (nearly) all zero", dcr_act_name(acts[0]),
                         dcr_act_name(acts[2]), dcr_loss_name(a32.loss));
            cr_expect_leq(worst, 1e-4, "float32 %s hidden, %s out, %s: max error %.3e against float64",
                          dcr_act_name(acts[0]), dcr_act_name(acts[2]), dcr_loss_name(a32.loss), worst);
            worst_all = fmax(worst_all, worst);
            free(p32);
            free(x32);
            free(y32);
            dcr_ref_engine_free(&r32);
            jit_drop(&j32);
            jit_drop(&j64);
        }
    fprintf(stderr, "float32 gradients against float64: worst %.3g\n", worst_all);
}

/* ---- values of the formulas ------------------------------------------------------------ */

/* out = sigma(x) through a 1 -> 1 layer with W = 1, b = 0, in both engines */
static void act_values(dcr_dtype t, dcr_act act, double alpha, const double *x, const double *want, int n,
                       double tol)
{
    int sizes[2] = {1, 1};
    dcr_arch a;
    make_arch(&a, t, 1, sizes, &act, DCR_LOSS_MSE);
    a.alpha[1] = alpha;
    jitted j;
    jit_build(&j, &a);
    dcr_engine ref;
    dcr_error err = {0};
    cr_assert_eq(dcr_ref_engine(&ref, &a, &err), 0, "%s", err.msg);
    for (int i = 0; i < n; i++) {
        double got[2];
        if (t == DCR_F64) {
            double p[2] = {1, 0}, o1, o2;
            j.eng.forward(j.eng.self, &o1, p, &x[i]);
            ref.forward(ref.self, &o2, p, &x[i]);
            got[0] = o1;
            got[1] = o2;
        } else {
            float p[2] = {1, 0}, xi = (float)x[i], o1, o2;
            j.eng.forward(j.eng.self, &o1, p, &xi);
            ref.forward(ref.self, &o2, p, &xi);
            got[0] = o1;
            got[1] = o2;
        }
        for (int e = 0; e < 2; e++) {
            cr_assert(isfinite(got[e]), "%s(%g) = %g", dcr_act_name(act), x[i], got[e]);
            double rel = fabs(got[e] - want[i]) / fmax(fabs(want[i]), 1e-300);
            cr_expect(rel <= tol, "%s %s(%.17g) = %.17g, expected %.17g (rel %.3g)", e ? "reference" : "jit",
                      dcr_act_name(act), x[i], got[e], want[i], rel);
        }
        cr_expect(got[0] == got[1] || t == DCR_F32, "jit and reference differ");
    }
    dcr_ref_engine_free(&ref);
    jit_drop(&j);
}

Test(activations, values)
{
    for (int t = 0; t < 2; t++) {
        dcr_dtype dt = t ? DCR_F64 : DCR_F32;
        double tol = t ? 1e-15 : 1e-6;
        const double xl[] = {-2, 3, 0};
        const double wl[] = {-0.2 * 2, 3, 0};
        act_values(dt, DCR_ACT_LEAKY_RELU, 0.1 * 2, xl, wl, 3, tol);
        const double xe[] = {-1, 2, -1e-8, -40};
        const double we[] = {0.3 * expm1(-1.0), 2, 0.3 * expm1(-1e-8), 0.3 * expm1(-40.0)};
        act_values(dt, DCR_ACT_ELU, 0.3, xe, we, 4, tol);
        /* softplus: no overflow for large z, full precision for very negative z */
        const double xs[] = {0, 1, -1, 50, -50, 800, -800};
        const double ws[] = {log(2.0), log1p(exp(1.0)), log1p(exp(-1.0)), 50 + log1p(exp(-50.0)), exp(-50.0),
                             800, 0};
        act_values(dt, DCR_ACT_SOFTPLUS, 0, xs, ws, t ? 6 : 5, tol); /* exp(-800) is 0; float32: +-50 only */
        /* gelu (tanh approximation), PyTorch's approximate='tanh' values */
        const double xg[] = {1, -0.5, 0, 3};
        const double wg[] = {0.8411919906082768, -0.15428599017485606, 0,
                             0.5 * 3 * (1 + tanh(0.7978845608028654 * (3 + 0.044715 * 27)))};
        act_values(dt, DCR_ACT_GELU, 0, xg, wg, 4, t ? 1e-14 : 1e-6);
    }
}

/* ---- binary cross-entropy ---------------------------------------------------------------- */

/* E = -(y log a + (1 - y) log(1 - a)), a = sigmoid(z), for one output, in
 * long double: the textbook formula for moderate z; beyond, where 1 - a
 * loses digits, y softplus(-z) + (1 - y) softplus(z) */
static long double softplus_ld(long double v)
{
    return v > 0 ? v + log1pl(expl(-v)) : log1pl(expl(v));
}

static long double bce_ld(long double z, long double y)
{
    if (fabsl(z) > 4)
        return y * softplus_ld(-z) + (1 - y) * softplus_ld(z);
    long double a = 1 / (1 + expl(-z));
    return -(y * logl(a) + (1 - y) * log1pl(-a));
}

Test(bce, loss_and_delta_from_z_without_log_of_zero)
{
    int sizes[2] = {1, 1};
    dcr_act act = DCR_ACT_SIGMOID;
    dcr_arch a;
    make_arch(&a, DCR_F64, 1, sizes, &act, DCR_LOSS_BINARY_CROSS_ENTROPY);
    jitted j;
    jit_build(&j, &a);
    dcr_engine ref;
    dcr_error err = {0};
    cr_assert_eq(dcr_ref_engine(&ref, &a, &err), 0, "%s", err.msg);
    const dcr_engine *es[2] = {&j.eng, &ref};
    const double zs[] = {-3, -0.5, 0, 0.25, 4, 30, -30};
    const double ys[] = {0, 1, 0.3};
    for (int e = 0; e < 2; e++)
        for (size_t i = 0; i < sizeof zs / sizeof *zs; i++)
            for (size_t k = 0; k < 3; k++) {
                double p[2] = {0, zs[i]}, x = 0.5, g[2] = {0, 0};
                double loss = es[e]->loss_grad(es[e]->self, g, p, &x, &ys[k]);
                double want = (double)bce_ld(zs[i], ys[k]);
                double sig = 1 / (1 + exp(-zs[i]));
                cr_expect(fabs(loss - want) <= 1e-14 * fmax(fabs(want), 1e-300) + 1e-300,
                          "%s z %g y %g: loss %.17g, expected %.17g", e ? "reference" : "jit", zs[i], ys[k], loss,
                          want);
                /* delta = a - y: db = delta, dW = delta * x */
                cr_expect(fabs(g[1] - (sig - ys[k])) <= 1e-15, "db %.17g", g[1]);
                cr_expect(fabs(g[0] - (sig - ys[k]) * x) <= 1e-15, "dW %.17g", g[0]);
            }
    /* extreme logits: log a = -softplus(-z), log(1 - a) = -softplus(z) are
     * finite where a rounds to 0 or 1 */
    const struct {
        double z, y, want;
    } far[] = {{800, 0, 800}, {800, 1, 0}, {-800, 1, 800}, {-800, 0, 0}, {40, 0, 40 + log1p(exp(-40.0))},
               {-40, 1, 40 + log1p(exp(-40.0))}, {40, 1, log1p(exp(-40.0))}};
    for (int e = 0; e < 2; e++)
        for (size_t i = 0; i < sizeof far / sizeof *far; i++) {
            double p[2] = {0, far[i].z}, x = 1, g[2] = {0, 0};
            double loss = es[e]->loss_grad(es[e]->self, g, p, &x, &far[i].y);
            cr_expect(isfinite(loss) && fabs(loss - far[i].want) <= 1e-15 * fmax(far[i].want, 1e-300),
                      "%s z %g y %g: loss %.17g, expected %.17g", e ? "reference" : "jit", far[i].z, far[i].y,
                      loss, far[i].want);
            cr_expect(isfinite(g[0]) && isfinite(g[1]));
        }
    dcr_ref_engine_free(&ref);
    jit_drop(&j);
}

Test(bce, float32_extreme_logits_stay_finite)
{
    int sizes[2] = {1, 2};
    dcr_act act = DCR_ACT_SIGMOID;
    dcr_arch a;
    make_arch(&a, DCR_F32, 1, sizes, &act, DCR_LOSS_BINARY_CROSS_ENTROPY);
    jitted j;
    jit_build(&j, &a);
    float p[4] = {0, 0, 120, -120}, x = 1, y[2] = {0, 0}, g[4] = {0};
    double loss = j.eng.loss_grad(j.eng.self, g, p, &x, y);
    /* softplus(120) + softplus(-120) */
    cr_expect(isfinite(loss) && fabs(loss - 120) <= 1e-5, "loss %.9g", loss);
    jit_drop(&j);
}

/* ---- the delta trace --------------------------------------------------------------------- */

/* 2 -> 2 tanh -> 1 sigmoid with binary_cross_entropy, by hand:
 * delta(2) = a2 - y, delta(1) = W2^T delta(2) (.) (1 - a1^2). */
Test(trace, equals_the_sum_of_deltas_by_hand)
{
    int sizes[3] = {2, 2, 1};
    dcr_act acts[2] = {DCR_ACT_TANH, DCR_ACT_SIGMOID};
    dcr_arch a;
    make_arch(&a, DCR_F64, 2, sizes, acts, DCR_LOSS_BINARY_CROSS_ENTROPY);
    /* W1 [2][2], b1 [2], W2 [1][2], b2 [1] */
    double p[9] = {0.5, -1.25, 0.75, 0.3, 0.1, -0.2, 1.5, -0.8, 0.05};
    double x[2] = {0.4, -0.9}, y = 1;
    double z1[2], a1[2], d1[2];
    for (int k = 0; k < 2; k++) {
        z1[k] = p[4 + k] + p[2 * k] * x[0] + p[2 * k + 1] * x[1];
        a1[k] = tanh(z1[k]);
    }
    double z2 = p[8] + p[6] * a1[0] + p[7] * a1[1];
    double d2 = 1 / (1 + exp(-z2)) - y;
    for (int k = 0; k < 2; k++)
        d1[k] = p[6 + k] * d2 * (1 - a1[k] * a1[k]);
    double want1 = fabs(d1[0]) + fabs(d1[1]), want2 = fabs(d2);
    cr_assert_gt(want1, 1e-3);

    jitted j;
    jit_build(&j, &a);
    dcr_engine ref;
    dcr_error err = {0};
    cr_assert_eq(dcr_ref_engine(&ref, &a, &err), 0, "%s", err.msg);
    const dcr_engine *es[2] = {&j.eng, &ref};
    for (int e = 0; e < 2; e++) {
        const char *name = e ? "reference" : "jit";
        cr_assert_not_null(es[e]->loss_grad_trace, "%s engine has no loss_grad_trace", name);
        double tr[DCR_MAX_LAYERS + 1];
        for (int l = 0; l <= DCR_MAX_LAYERS; l++)
            tr[l] = -7; /* adds into what is there, and touches only 1..L */
        tr[1] = tr[2] = 0;
        double g1[9] = {0}, g2[9] = {0};
        double l1 = es[e]->loss_grad_trace(es[e]->self, g1, p, x, &y, tr);
        double l2 = es[e]->loss_grad(es[e]->self, g2, p, x, &y);
        cr_expect(l1 == l2, "%s: trace loss %.17g, loss_grad %.17g", name, l1, l2);
        cr_expect(memcmp(g1, g2, sizeof g1) == 0, "%s: trace gradient differs from loss_grad's", name);
        cr_expect(fabs(tr[1] - want1) <= 1e-15 * want1, "%s: delta_abs[1] %.17g, by hand %.17g", name, tr[1], want1);
        cr_expect(fabs(tr[2] - want2) <= 1e-15 * want2, "%s: delta_abs[2] %.17g, by hand %.17g", name, tr[2], want2);
        cr_expect(tr[0] == -7 && tr[3] == -7 && tr[DCR_MAX_LAYERS] == -7, "%s: wrote outside 1..L", name);
        /* it accumulates */
        es[e]->loss_grad_trace(es[e]->self, g1, p, x, &y, tr);
        cr_expect(fabs(tr[1] - 2 * want1) <= 1e-15 * want1 && fabs(tr[2] - 2 * want2) <= 1e-15 * want2,
                  "%s: a second sample did not add", name);
    }
    dcr_ref_engine_free(&ref);
    jit_drop(&j);
}

/* delta(l) = dE/db(l) for one sample, so the trace of one sample is the sum
 * of |gradient of b(l)|, to the bit (same values, same order, in double).
 * For every activation and loss, in both dtypes and both engines. */
Test(trace, equals_the_bias_gradient_of_one_sample)
{
    int sizes[5] = {4, 6, 5, 7, 3};
    for (int t = 0; t < 2; t++)
        for (size_t h = 0; h < N_HIDDEN; h++)
            for (size_t o = 0; o < N_OUTPUTS; o++) {
                dcr_act acts[4] = {hidden_acts[h], hidden_acts[(h + 3) % N_HIDDEN], hidden_acts[h], outputs[o].out};
                dcr_arch a;
                dcr_dtype dt = t ? DCR_F64 : DCR_F32;
                make_arch(&a, dt, 4, sizes, acts, outputs[o].loss);
                jitted j;
                jit_build(&j, &a);
                dcr_engine ref;
                dcr_error err = {0};
                cr_assert_eq(dcr_ref_engine(&ref, &a, &err), 0, "%s", err.msg);
                size_t np = j.net.n_params, es = dcr_dtype_size(dt);
                dcr_rng r;
                dcr_rng_seed(&r, 40 + h * N_OUTPUTS + o);
                double pd[200], xd[4], yd[3];
                cr_assert_leq(np, 200);
                for (size_t i = 0; i < np; i++)
                    pd[i] = 1.4 * dcr_rng_uniform(&r) - 0.7;
                for (int i = 0; i < 4; i++)
                    xd[i] = 2 * dcr_rng_uniform(&r) - 1;
                for (int i = 0; i < 3; i++)
                    yd[i] = outputs[o].loss == DCR_LOSS_CROSS_ENTROPY ? (i == 1) : dcr_rng_uniform(&r);
                void *p = dcr_pack(pd, np, dt), *x = dcr_pack(xd, 4, dt), *y = dcr_pack(yd, 3, dt);
                void *g = calloc(np, es);
                const dcr_engine *engs[2] = {&j.eng, &ref};
                for (int e = 0; e < 2; e++) {
                    double tr[DCR_MAX_LAYERS + 1] = {0};
                    memset(g, 0, np * es);
                    engs[e]->loss_grad_trace(engs[e]->self, g, p, x, y, tr);
                    for (int l = 1; l <= 4; l++) {
                        size_t b0 = j.net.b_off[l];
                        double sum = 0;
                        for (int k = 0; k < sizes[l]; k++) {
                            double v = dt == DCR_F64 ? ((double *)g)[b0 + (size_t)k] : ((float *)g)[b0 + (size_t)k];
                            sum += fabs(v);
                        }
                        cr_expect(tr[l] == sum, "%s %s %s/%s/%s layer %d: trace %.17g, sum |db| %.17g",
                                  e ? "reference" : "jit", dcr_dtype_name(dt), dcr_act_name(acts[0]),
                                  dcr_act_name(outputs[o].out), dcr_loss_name(outputs[o].loss), l, tr[l], sum);
                    }
                }
                free(p);
                free(x);
                free(y);
                free(g);
                dcr_ref_engine_free(&ref);
                jit_drop(&j);
            }
}

/* ---- the spec ------------------------------------------------------------------------------ */

static void expect_error(const char *text, const char *want)
{
    dc_spec s;
    dcr_error err = {0};
    int rc = dc_spec_parse(&s, text, strlen(text), "t.json", &err);
    cr_assert_eq(rc, -1, "accepted:\n%s", text);
    cr_expect(strstr(err.msg, want) != NULL, "message\n  %s\ndoes not contain\n  %s", err.msg, want);
    cr_expect_eq(err.status, DCR_ERR_SPEC, "status %d for: %s", err.status, err.msg);
    dc_spec_free(&s);
}

static void expect_ok(const char *text, dc_spec *s)
{
    dcr_error err = {0};
    cr_assert_eq(dc_spec_parse(s, text, strlen(text), "t.json", &err), 0, "%s\n%s", err.msg, text);
}

#define HEAD "{\"name\": \"n\", \"input\": 3, \"layers\": ["

Test(spec, alpha_only_for_leaky_relu_and_elu)
{
    dc_spec s;
    expect_ok(HEAD "{\"units\": 4, \"activation\": \"leaky_relu\"}, {\"units\": 4, \"activation\": \"elu\"},"
                   "{\"units\": 4, \"activation\": \"softplus\"}, {\"units\": 2, \"activation\": \"gelu\"}],"
                   "\"loss\": \"mse\"}",
              &s);
    cr_expect_eq(s.arch.act[1], DCR_ACT_LEAKY_RELU);
    cr_expect_eq(s.arch.act[2], DCR_ACT_ELU);
    cr_expect_eq(s.arch.act[3], DCR_ACT_SOFTPLUS);
    cr_expect_eq(s.arch.act[4], DCR_ACT_GELU);
    cr_expect_eq(s.arch.alpha[1], 0.01, "leaky_relu's default alpha");
    cr_expect_eq(s.arch.alpha[2], 1.0, "elu's default alpha");
    cr_expect_eq(s.arch.alpha[3], 0);
    cr_expect_eq(s.arch.alpha[4], 0);
    dc_spec_free(&s);
    expect_ok(HEAD "{\"units\": 4, \"activation\": \"leaky_relu\", \"alpha\": 0.2},"
                   "{\"units\": 2, \"activation\": \"elu\", \"alpha\": 1.5}], \"loss\": \"mse\"}",
              &s);
    cr_expect_eq(s.arch.alpha[1], 0.2);
    cr_expect_eq(s.arch.alpha[2], 1.5);
    dc_spec_free(&s);

    expect_error(HEAD "{\"units\": 4, \"activation\": \"tanh\", \"alpha\": 0.2}], \"loss\": \"mse\"}",
                 "t.json:1:73: layers[0].alpha: alpha applies only to leaky_relu and elu (this layer is tanh)");
    expect_error(HEAD "{\"units\": 4, \"activation\": \"gelu\", \"alpha\": 0.2}], \"loss\": \"mse\"}",
                 "layers[0].alpha: alpha applies only to leaky_relu and elu");
    expect_error(HEAD "{\"units\": 4, \"activation\": \"leaky_relu\", \"alpha\": 0}], \"loss\": \"mse\"}",
                 "layers[0].alpha: 0 is out of range (expected a finite number > 0)");
    expect_error(HEAD "{\"units\": 4, \"activation\": \"elu\", \"alpha\": -1}], \"loss\": \"mse\"}",
                 "layers[0].alpha: -1 is out of range (expected a finite number > 0)");
    expect_error(HEAD "{\"units\": 4, \"activation\": \"elu\", \"alpha\": 1e999}], \"loss\": \"mse\"}",
                 "layers[0].alpha: inf is out of range");
    expect_error(HEAD "{\"units\": 4, \"activation\": \"elu\", \"alpha\": \"1\"}], \"loss\": \"mse\"}",
                 "layers[0].alpha: expected a finite number > 0, got a string");
    expect_error(HEAD "{\"units\": 4, \"activation\": \"elu\", \"Alpha\": 1}], \"loss\": \"mse\"}",
                 "did you mean \"alpha\"?");
    expect_error(HEAD "{\"units\": 4, \"activation\": \"gelu_tanh\"}], \"loss\": \"mse\"}",
                 "unknown activation \"gelu_tanh\"");
}

Test(spec, binary_cross_entropy_needs_sigmoid_outputs)
{
    dc_spec s;
    expect_ok(HEAD "{\"units\": 4, \"activation\": \"gelu\"}, {\"units\": 3, \"activation\": \"sigmoid\"}],"
                   "\"loss\": \"binary_cross_entropy\"}",
              &s);
    cr_expect_eq(s.arch.loss, DCR_LOSS_BINARY_CROSS_ENTROPY);
    dc_spec_free(&s);
    expect_ok(HEAD "{\"units\": 1, \"activation\": \"sigmoid\"}], \"loss\": \"binary_cross_entropy\","
                   "\"data\": {\"train\": \"a.csv\", \"target\": {\"kind\": \"values\"}}}",
              &s);
    dc_spec_free(&s);
    expect_error(HEAD "{\"units\": 3, \"activation\": \"softmax\"}], \"loss\": \"binary_cross_entropy\"}",
                 "loss: binary_cross_entropy needs a sigmoid output layer, but layers[0].activation is softmax");
    expect_error(HEAD "{\"units\": 4, \"activation\": \"sigmoid\"}, {\"units\": 1, \"activation\": \"tanh\"}],"
                      "\"loss\": \"binary_cross_entropy\"}",
                 "binary_cross_entropy needs a sigmoid output layer, but layers[1].activation is tanh");
    /* a sigmoid output with cross_entropy stays an error, with a hint */
    expect_error(HEAD "{\"units\": 3, \"activation\": \"sigmoid\"}], \"loss\": \"cross_entropy\"}",
                 "cross_entropy needs a softmax output layer, but layers[0].activation is sigmoid (independent "
                 "sigmoid outputs go with binary_cross_entropy)");
    expect_error(HEAD "{\"units\": 3, \"activation\": \"sigmoid\"}], \"loss\": \"bce\"}",
                 "unknown loss \"bce\"");
}

/* The IR and the reference engine refuse what the spec refuses, for
 * callers that build a dcr_arch themselves. */
Test(spec, ir_and_reference_engine_check_alpha_and_pairings)
{
    int sizes[3] = {3, 4, 2};
    dcr_act acts[2] = {DCR_ACT_LEAKY_RELU, DCR_ACT_SIGMOID};
    dcr_arch a;
    make_arch(&a, DCR_F64, 2, sizes, acts, DCR_LOSS_BINARY_CROSS_ENTROPY);
    dc_net n;
    dcr_engine e;
    dcr_error err = {0};
    cr_assert_eq(dc_net_make(&n, &a, "ok", &err), 0, "%s", err.msg);
    cr_assert_eq(dcr_ref_engine(&e, &a, &err), 0, "%s", err.msg);
    dcr_ref_engine_free(&e);
    const double bad_alpha[] = {0, -1, NAN, INFINITY};
    for (int i = 0; i < 4; i++) {
        a.alpha[1] = bad_alpha[i];
        cr_expect_eq(dc_net_make(&n, &a, "ok", &err), -1, "alpha %g accepted by the IR", bad_alpha[i]);
        cr_expect_eq(dcr_ref_engine(&e, &a, &err), -1, "alpha %g accepted by the reference engine", bad_alpha[i]);
    }
    a.alpha[1] = 0.5;
    a.act[2] = DCR_ACT_TANH;
    cr_expect_eq(dc_net_make(&n, &a, "ok", &err), -1, "binary_cross_entropy with tanh accepted");
    cr_expect_not_null(strstr(err.msg, "binary_cross_entropy needs a sigmoid output layer"), "%s", err.msg);
    cr_expect_eq(dcr_ref_engine(&e, &a, &err), -1);
    a.act[2] = DCR_ACT_SIGMOID;
    a.loss = DCR_LOSS_CROSS_ENTROPY;
    cr_expect_eq(dc_net_make(&n, &a, "ok", &err), -1, "cross_entropy with sigmoid accepted");
    cr_expect_eq(dcr_ref_engine(&e, &a, &err), -1);
    a.loss = (dcr_loss)DCR_N_LOSSES;
    cr_expect_eq(dc_net_make(&n, &a, "ok", &err), -1);
    cr_expect_eq(dcr_ref_engine(&e, &a, &err), -1);
    a.loss = DCR_LOSS_MSE;
    a.act[2] = (dcr_act)DCR_N_ACTS;
    cr_expect_eq(dc_net_make(&n, &a, "ok", &err), -1);
    cr_expect_eq(dcr_ref_engine(&e, &a, &err), -1);
}

/* ---- the generated text ---------------------------------------------------------------------- */

/* alpha reaches the code as a number that reads back exactly, in both
 * dtypes, and the new functions use only the libm the JIT hands over */
Test(emit, alpha_and_constants_round_trip)
{
    int sizes[3] = {2, 3, 2};
    dcr_act acts[2] = {DCR_ACT_LEAKY_RELU, DCR_ACT_ELU};
    for (int t = 0; t < 2; t++) {
        dcr_arch a;
        make_arch(&a, t ? DCR_F64 : DCR_F32, 2, sizes, acts, DCR_LOSS_MSE);
        a.alpha[1] = 0.1;
        a.alpha[2] = 3;
        dc_net n;
        dcr_error err = {0};
        cr_assert_eq(dc_net_make(&n, &a, "rt", &err), 0, "%s", err.msg);
        char *src;
        size_t len;
        cr_assert_eq(dc_emit(&src, &len, &n, NULL, &err), 0, "%s", err.msg);
        if (t) {
            cr_expect_not_null(strstr(src, "const double al = 0.10000000000000001;"));
            cr_expect_not_null(strstr(src, "const double al = 3.0;"));
            cr_expect_not_null(strstr(src, "expm1("));
        } else {
            cr_expect_not_null(strstr(src, "const float al = 0.100000001f;"));
            cr_expect_not_null(strstr(src, "const float al = 3.0f;"));
            cr_expect_not_null(strstr(src, "expm1f("));
        }
        cr_expect_not_null(strstr(src, "rt_loss_grad_trace_v("));
        free(src);
    }
}

/* The size estimate that refuses a network before emitting it stays above
 * the actual size for every activation and loss, and the network with the
 * most units the limits allow, with the longest statements (gelu, float64),
 * still fits DC_MAX_SOURCE_BYTES. */
Test(emit, size_estimate_bounds_every_activation)
{
    int sizes[4] = {3, 120, 11, 3};
    for (int t = 0; t < 2; t++)
        for (size_t h = 0; h < N_HIDDEN; h++)
            for (size_t o = 0; o < N_OUTPUTS; o++) {
                dcr_act acts[3] = {hidden_acts[h], hidden_acts[h], outputs[o].out};
                dcr_arch a;
                make_arch(&a, t ? DCR_F64 : DCR_F32, 3, sizes, acts, outputs[o].loss);
                dc_net n;
                dcr_error err = {0};
                cr_assert_eq(dc_net_make(&n, &a, "estimate_with_a_long_name_abcdef", &err), 0, "%s", err.msg);
                char *src;
                size_t len;
                cr_assert_eq(dc_emit(&src, &len, &n, NULL, &err), 0, "%s", err.msg);
                uint64_t est = dc_emit_estimate(&n, NULL, 0);
                cr_expect_geq(est, len, "%s/%s/%s: estimate %llu < %zu bytes", dcr_act_name(acts[0]),
                              dcr_act_name(acts[2]), dcr_loss_name(a.loss), (unsigned long long)est, len);
                free(src);
            }
    /* 1 -> (65536 gelu -> 1 gelu) x 10: 655,370 units in 1,966,090
     * parameters (each unit needs at least two) */
    dcr_arch w;
    memset(&w, 0, sizeof w);
    w.dtype = DCR_F64;
    w.n_layers = 20;
    w.sizes[0] = 1;
    for (int l = 1; l <= 20; l++) {
        w.sizes[l] = l % 2 ? 65536 : 1;
        w.act[l] = DCR_ACT_GELU;
    }
    w.loss = DCR_LOSS_MSE;
    dc_net n;
    dcr_error err = {0};
    cr_assert_eq(dc_net_make(&n, &w, "worst_case_name_of_32_characters", &err), 0, "%s", err.msg);
    uint64_t est = dc_emit_estimate(&n, NULL, 0);
    cr_expect_leq(est, DC_MAX_SOURCE_BYTES, "estimate %llu", (unsigned long long)est);
    fprintf(stderr, "estimate for the most units (gelu, float64): %.1f MiB of %u MiB\n", est / 1048576.0,
            DC_MAX_SOURCE_BYTES >> 20);
}

/* The new activations, the loss and the trace add no loop before the
 * minibatch driver, and the absolute values of the trace are written
 * without libm. */
Test(emit, new_activations_and_trace_have_no_loops)
{
    int sizes[6] = {4, 6, 5, 7, 6, 3};
    dcr_act acts[5] = {DCR_ACT_LEAKY_RELU, DCR_ACT_ELU, DCR_ACT_SOFTPLUS, DCR_ACT_GELU, DCR_ACT_SIGMOID};
    dcr_arch a;
    make_arch(&a, DCR_F32, 5, sizes, acts, DCR_LOSS_BINARY_CROSS_ENTROPY);
    dc_net n;
    dcr_error err = {0};
    cr_assert_eq(dc_net_make(&n, &a, "nl", &err), 0, "%s", err.msg);
    char *src;
    size_t len;
    cr_assert_eq(dc_emit(&src, &len, &n, NULL, &err), 0, "%s", err.msg);
    char *driver = strstr(src, "double nl_batch_grad(");
    cr_assert_not_null(driver);
    *driver = 0;
    char *trace = strstr(src, "float nl_loss_grad_trace(");
    cr_assert_not_null(trace, "no trace function before the driver");
    cr_expect_not_null(strstr(src, "double nl_loss_grad_trace_v("));
    cr_expect_null(strstr(src, "for ("));
    cr_expect_null(strstr(src, "for("));
    cr_expect_null(strstr(src, "while"));
    cr_expect_null(strstr(src, "goto"));
    cr_expect_null(strstr(src, "fabs"));
    cr_expect_not_null(strstr(trace, "delta_abs[3] += d3[6] < 0 ? -d3[6] : d3[6];"));
    /* every statement is inside a function: nothing indented at file
     * scope (a stray declaration there would be a global of the library) */
    *driver = 'd';
    int depth = 0, line = 1;
    for (const char *q = src; *q; q++) {
        if (*q == '{')
            depth++;
        else if (*q == '}')
            depth--;
        else if (*q == '\n') {
            line++;
            cr_expect(depth > 0 || strncmp(q + 1, "    ", 4) != 0, "line %d: an indented line at file scope", line);
        }
    }
    cr_expect_eq(depth, 0);
    cr_expect_not_null(strstr(trace, "delta_abs[5] += d5[2] < 0 ? -d5[2] : d5[2];"));
    free(src);
}
