/* test_runtime_reference.c: the reference engine. Gradients against central
 * finite differences, bit-for-bit agreement with a literal transcription of
 * the canonical arithmetic, hand-computed cases and train_batch. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dcr.h"

#define MAXP 256

static dcr_arch make_arch(dcr_dtype t, int n_in, int h1, int h2, int n_out, dcr_act hidden,
                          dcr_act out, dcr_loss loss)
{
    dcr_arch a;
    memset(&a, 0, sizeof a);
    a.dtype = t;
    a.n_layers = 3;
    a.sizes[0] = n_in;
    a.sizes[1] = h1;
    a.sizes[2] = h2;
    a.sizes[3] = n_out;
    a.act[1] = hidden;
    a.act[2] = hidden;
    a.act[3] = out;
    for (int l = 1; l <= 3; l++)
        a.alpha[l] = a.act[l] == DCR_ACT_LEAKY_RELU ? 0.2 : a.act[l] == DCR_ACT_ELU ? 0.8 : 0;
    a.loss = loss;
    return a;
}

static void engine(dcr_engine *e, const dcr_arch *a)
{
    dcr_error err = {0};
    cr_assert_eq(dcr_ref_engine(e, a, &err), 0, "%s", err.msg);
    cr_assert_not_null(e->self);
    cr_assert_eq(e->arch->n_layers, a->n_layers);
}

/* ---- the canonical arithmetic, transcribed statement by statement ---------- */

typedef struct {
    double z[DCR_MAX_LAYERS + 1][16], a[DCR_MAX_LAYERS + 1][16], d[DCR_MAX_LAYERS + 1][16];
    double m, s;
} canon;

static double canon_softplus(double v)
{
    return v > 0 ? v + log1p(exp(-v)) : log1p(exp(v));
}

static double canon_gelu_tanh(double z)
{
    return tanh(0.7978845608028654 * (z + 0.044715 * ((z * z) * z)));
}

/* t * sigma'(z), a = sigma(z) */
static double canon_deriv(dcr_act act, double t, double z, double a, double al)
{
    double th;
    switch (act) {
    case DCR_ACT_IDENTITY: return t;
    case DCR_ACT_SIGMOID: return t * (a * (1 - a));
    case DCR_ACT_TANH: return t * (1 - a * a);
    case DCR_ACT_RELU: return z > 0 ? t : 0;
    case DCR_ACT_LEAKY_RELU: return z > 0 ? t : t * al;
    case DCR_ACT_ELU: return z > 0 ? t : t * (al * exp(z));
    case DCR_ACT_SOFTPLUS: return t * (1 / (1 + exp(-z)));
    case DCR_ACT_GELU:
        th = canon_gelu_tanh(z);
        return t * ((0.5 * (1 + th)) + ((0.5 * z) * (1 - th * th)) * (0.7978845608028654 * (1 + 0.134145 * (z * z))));
    case DCR_ACT_SOFTMAX: break;
    }
    cr_assert_fail("softmax has no separate derivative");
    return 0;
}

static void canon_forward(canon *c, const dcr_arch *A, const double *P, const double *x)
{
    for (int k = 0; k < A->sizes[0]; k++)
        c->a[0][k] = x[k];
    for (int l = 1; l <= A->n_layers; l++) {
        int n_in = A->sizes[l - 1], n = A->sizes[l];
        const double *W = P + dcr_arch_w_offset(A, l), *b = P + dcr_arch_b_offset(A, l);
        double *z = c->z[l], *a = c->a[l];
        const double *ap = c->a[l - 1];
        for (int k = 0; k < n; k++) {
            z[k] = b[k];
            for (int j = 0; j < n_in; j++)
                z[k] += W[k * n_in + j] * ap[j];
        }
        for (int k = 0; k < n; k++) {
            switch (A->act[l]) {
            case DCR_ACT_IDENTITY: a[k] = z[k]; break;
            case DCR_ACT_SIGMOID: a[k] = 1 / (1 + exp(-z[k])); break;
            case DCR_ACT_TANH: a[k] = tanh(z[k]); break;
            case DCR_ACT_RELU: a[k] = z[k] > 0 ? z[k] : 0; break;
            case DCR_ACT_LEAKY_RELU: a[k] = z[k] > 0 ? z[k] : A->alpha[l] * z[k]; break;
            case DCR_ACT_ELU: a[k] = z[k] > 0 ? z[k] : A->alpha[l] * expm1(z[k]); break;
            case DCR_ACT_SOFTPLUS: a[k] = canon_softplus(z[k]); break;
            case DCR_ACT_GELU: a[k] = (0.5 * z[k]) * (1 + canon_gelu_tanh(z[k])); break;
            case DCR_ACT_SOFTMAX: break;
            }
        }
        if (A->act[l] == DCR_ACT_SOFTMAX) {
            double m = z[0];
            for (int k = 1; k < n; k++)
                if (z[k] > m)
                    m = z[k];
            for (int k = 0; k < n; k++)
                a[k] = exp(z[k] - m);
            double s = a[0];
            for (int k = 1; k < n; k++)
                s += a[k];
            for (int k = 0; k < n; k++)
                a[k] = a[k] / s;
            c->m = m;
            c->s = s;
        }
    }
}

static double canon_loss_grad(canon *c, double *G, const dcr_arch *A, const double *P,
                              const double *x, const double *y)
{
    canon_forward(c, A, P, x);
    int L = A->n_layers, n = A->sizes[L];
    double *z = c->z[L], *a = c->a[L], *d = c->d[L], loss = 0;
    if (A->loss == DCR_LOSS_MSE) {
        for (int k = 0; k < n; k++) {
            double e = a[k] - y[k];
            loss += e * e;
            d[k] = canon_deriv(A->act[L], e, z[k], a[k], A->alpha[L]);
        }
        loss = 0.5 * loss;
    } else if (A->loss == DCR_LOSS_BINARY_CROSS_ENTROPY) {
        for (int k = 0; k < n; k++) {
            loss += y[k] * canon_softplus(-z[k]) + (1 - y[k]) * canon_softplus(z[k]);
            d[k] = a[k] - y[k];
        }
    } else {
        double ls = log(c->s);
        for (int k = 0; k < n; k++) {
            loss += y[k] * ((z[k] - c->m) - ls);
            d[k] = a[k] - y[k];
        }
        loss = -loss;
    }
    for (int l = L - 1; l >= 1; l--) {
        const double *W = P + dcr_arch_w_offset(A, l + 1);
        int nl = A->sizes[l], nn = A->sizes[l + 1];
        for (int j = 0; j < nl; j++) {
            double t = W[0 * nl + j] * c->d[l + 1][0];
            for (int k = 1; k < nn; k++)
                t += W[k * nl + j] * c->d[l + 1][k];
            c->d[l][j] = canon_deriv(A->act[l], t, c->z[l][j], c->a[l][j], A->alpha[l]);
        }
    }
    for (int l = 1; l <= L; l++) {
        int n_in = A->sizes[l - 1];
        double *gW = G + dcr_arch_w_offset(A, l), *gb = G + dcr_arch_b_offset(A, l);
        for (int k = 0; k < A->sizes[l]; k++) {
            gb[k] += c->d[l][k];
            for (int j = 0; j < n_in; j++)
                gW[k * n_in + j] += c->d[l][k] * c->a[l - 1][j];
        }
    }
    return loss;
}

/* ---- gradient check ------------------------------------------------------------ */

static const double X[3] = {0.5, -1.2, 0.9};

static void targets(double *y, dcr_loss loss, int n_out)
{
    static const double v[] = {0.2, 0.7, 0.4, 0.9};
    for (int k = 0; k < n_out; k++)
        y[k] = loss == DCR_LOSS_CROSS_ENTROPY ? (k == 1) : v[k % 4];
}

/* Smallest |z| over the units whose activation has a kink at 0. */
static double kink_margin(const dcr_arch *A, const double *P)
{
    canon c;
    canon_forward(&c, A, P, X);
    double m = INFINITY;
    for (int l = 1; l <= A->n_layers; l++)
        if (A->act[l] == DCR_ACT_RELU || A->act[l] == DCR_ACT_LEAKY_RELU || A->act[l] == DCR_ACT_ELU)
            for (int k = 0; k < A->sizes[l]; k++)
                m = fmin(m, fabs(c.z[l][k]));
    return m;
}

static void random_params(double *p, size_t n, uint64_t seed)
{
    dcr_rng r;
    dcr_rng_seed(&r, seed);
    for (size_t i = 0; i < n; i++)
        p[i] = (2 * dcr_rng_uniform(&r) - 1) * 0.9;
}

static void gradcheck(dcr_act hidden, dcr_act out, dcr_loss loss)
{
    const char *what_h = dcr_act_name(hidden), *what_o = dcr_act_name(out);
    dcr_arch a = make_arch(DCR_F64, 3, 4, 4, 3, hidden, out, loss);
    dcr_engine e;
    engine(&e, &a);
    size_t n = dcr_arch_n_params(&a);
    cr_assert_leq(n, MAXP);
    double p[MAXP], g[MAXP] = {0}, scratch[MAXP] = {0}, cg[MAXP] = {0}, y[3];
    targets(y, loss, 3);
    /* relu must be away from its kink, or the finite difference straddles it;
     * the seed search is deterministic */
    uint64_t seed = 1;
    for (random_params(p, n, seed); kink_margin(&a, p) < 1e-3; random_params(p, n, ++seed))
        cr_assert_lt(seed, 1000, "no seed keeps relu away from 0");

    double l0 = e.loss_grad(e.self, g, p, X, y);
    cr_assert(isfinite(l0) && l0 > 0, "loss %g", l0);

    /* bit for bit with the canonical transcription */
    canon c;
    double lc = canon_loss_grad(&c, cg, &a, p, X, y);
    cr_assert_eq(memcmp(&l0, &lc, sizeof l0), 0, "%s/%s: loss %.17g vs canonical %.17g", what_h,
                 what_o, l0, lc);
    cr_assert_eq(memcmp(g, cg, n * sizeof *g), 0, "%s/%s: gradient differs from canonical",
                 what_h, what_o);

    const double eps = 1e-6;
    size_t nonzero = 0, nonzero_first = 0, b1 = dcr_arch_b_offset(&a, 1);
    for (size_t i = 0; i < n; i++) {
        double save = p[i];
        p[i] = save + eps;
        double lp = e.loss_grad(e.self, scratch, p, X, y);
        p[i] = save - eps;
        double lm = e.loss_grad(e.self, scratch, p, X, y);
        p[i] = save;
        double num = (lp - lm) / (2 * eps);
        cr_assert(fabs(g[i] - num) <= 1e-7 * fmax(1, fabs(num)),
                  "%s hidden, %s output: param %zu: analytic %.12g, numeric %.12g", what_h,
                  what_o, i, g[i], num);
        if (fabs(g[i]) > 1e-8) {
            nonzero++;
            nonzero_first += i < b1;
        }
    }
    /* a check of all-zero gradients proves nothing; and the first layer's
     * weights show that deltas reach the input through every layer */
    cr_assert_gt(nonzero, n / 4, "%s/%s: only %zu of %zu gradients nonzero", what_h, what_o,
                 nonzero, n);
    cr_assert_gt(nonzero_first, 0, "%s/%s: no gradient reaches layer 1", what_h, what_o);
    dcr_ref_engine_free(&e);
}

static const dcr_act HIDDEN[] = {DCR_ACT_IDENTITY,   DCR_ACT_SIGMOID, DCR_ACT_TANH,     DCR_ACT_RELU,
                                 DCR_ACT_LEAKY_RELU, DCR_ACT_ELU,     DCR_ACT_SOFTPLUS, DCR_ACT_GELU};
#define N_HIDDEN_ACTS (int)(sizeof HIDDEN / sizeof HIDDEN[0])

Test(gradcheck, mse_identity_output)
{
    for (int h = 0; h < N_HIDDEN_ACTS; h++)
        gradcheck(HIDDEN[h], DCR_ACT_IDENTITY, DCR_LOSS_MSE);
}

Test(gradcheck, mse_sigmoid_output)
{
    for (int h = 0; h < N_HIDDEN_ACTS; h++)
        gradcheck(HIDDEN[h], DCR_ACT_SIGMOID, DCR_LOSS_MSE);
}

Test(gradcheck, mse_tanh_output)
{
    for (int h = 0; h < N_HIDDEN_ACTS; h++)
        gradcheck(HIDDEN[h], DCR_ACT_TANH, DCR_LOSS_MSE);
}

Test(gradcheck, mse_relu_output)
{
    for (int h = 0; h < N_HIDDEN_ACTS; h++)
        gradcheck(HIDDEN[h], DCR_ACT_RELU, DCR_LOSS_MSE);
}

Test(gradcheck, mse_new_activations_output)
{
    for (int h = 0; h < N_HIDDEN_ACTS; h++)
        for (int o = 4; o < N_HIDDEN_ACTS; o++)
            gradcheck(HIDDEN[h], HIDDEN[o], DCR_LOSS_MSE);
}

Test(gradcheck, binary_cross_entropy_sigmoid_output)
{
    for (int h = 0; h < N_HIDDEN_ACTS; h++)
        gradcheck(HIDDEN[h], DCR_ACT_SIGMOID, DCR_LOSS_BINARY_CROSS_ENTROPY);
}

Test(gradcheck, cross_entropy_softmax_output)
{
    for (int h = 0; h < N_HIDDEN_ACTS; h++)
        gradcheck(HIDDEN[h], DCR_ACT_SOFTMAX, DCR_LOSS_CROSS_ENTROPY);
}

/* ---- float32 ------------------------------------------------------------------- */

Test(float32, close_to_float64)
{
    dcr_arch a64 = make_arch(DCR_F64, 3, 4, 4, 3, DCR_ACT_TANH, DCR_ACT_SOFTMAX,
                             DCR_LOSS_CROSS_ENTROPY);
    dcr_arch a32 = a64;
    a32.dtype = DCR_F32;
    dcr_engine e64, e32;
    engine(&e64, &a64);
    engine(&e32, &a32);
    size_t n = dcr_arch_n_params(&a64);
    double p64[MAXP], g64[MAXP] = {0}, y64[3], o64[3];
    float p32[MAXP], g32[MAXP] = {0}, x32[3], y32[3], o32[3];
    random_params(p64, n, 3);
    targets(y64, DCR_LOSS_CROSS_ENTROPY, 3);
    for (size_t i = 0; i < n; i++)
        p64[i] = p32[i] = (float)p64[i];
    for (int k = 0; k < 3; k++) {
        x32[k] = (float)X[k];
        y32[k] = (float)y64[k];
    }
    double x64[3] = {x32[0], x32[1], x32[2]};
    double l64 = e64.loss_grad(e64.self, g64, p64, x64, y64);
    double l32 = e32.loss_grad(e32.self, g32, p32, x32, y32);
    cr_assert(fabs(l64 - l32) <= 1e-5 * fabs(l64), "%g vs %g", l64, l32);
    for (size_t i = 0; i < n; i++)
        cr_assert(fabs(g64[i] - g32[i]) <= 1e-5 + 1e-4 * fabs(g64[i]), "grad %zu: %g vs %g", i,
                  g64[i], g32[i]);
    e64.forward(e64.self, o64, p64, x64);
    e32.forward(e32.self, o32, p32, x32);
    for (int k = 0; k < 3; k++)
        cr_assert(fabs(o64[k] - o32[k]) < 1e-6, "out %d", k);
    dcr_ref_engine_free(&e64);
    dcr_ref_engine_free(&e32);
    cr_assert_null(e32.self);
}

/* ---- hand-computed cases ----------------------------------------------------------- */

static dcr_arch tiny(dcr_dtype t, int n_in, int n_out, dcr_act act, dcr_loss loss)
{
    dcr_arch a;
    memset(&a, 0, sizeof a);
    a.dtype = t;
    a.n_layers = 1;
    a.sizes[0] = n_in;
    a.sizes[1] = n_out;
    a.act[1] = act;
    a.loss = loss;
    return a;
}

Test(hand, linear_mse_f64)
{
    dcr_arch a = tiny(DCR_F64, 1, 1, DCR_ACT_IDENTITY, DCR_LOSS_MSE);
    dcr_engine e;
    engine(&e, &a);
    double p[2] = {2, 1}, g[2] = {0}, x = 3, y = 5, out = 0;
    e.forward(e.self, &out, p, &x);
    cr_assert_eq(out, 7);
    cr_assert_eq(e.loss_grad(e.self, g, p, &x, &y), 2);
    cr_assert_eq(g[0], 6);
    cr_assert_eq(g[1], 2);
    /* loss_grad adds, never zeroes */
    cr_assert_eq(e.loss_grad(e.self, g, p, &x, &y), 2);
    cr_assert_eq(g[0], 12);
    cr_assert_eq(g[1], 4);
    dcr_ref_engine_free(&e);
}

Test(hand, linear_mse_f32)
{
    dcr_arch a = tiny(DCR_F32, 1, 1, DCR_ACT_IDENTITY, DCR_LOSS_MSE);
    dcr_engine e;
    engine(&e, &a);
    float p[2] = {2, 1}, g[2] = {0}, x = 3, y = 5, out = 0;
    e.forward(e.self, &out, p, &x);
    cr_assert_eq(out, 7);
    cr_assert_eq(e.loss_grad(e.self, g, p, &x, &y), 2);
    cr_assert_eq(g[0], 6);
    cr_assert_eq(g[1], 2);
    dcr_ref_engine_free(&e);
}

Test(hand, softmax_cross_entropy_uniform)
{
    dcr_arch a = tiny(DCR_F64, 1, 2, DCR_ACT_SOFTMAX, DCR_LOSS_CROSS_ENTROPY);
    dcr_engine e;
    engine(&e, &a);
    double p[4] = {0}, g[4] = {0}, x = 2, y[2] = {1, 0}, out[2];
    e.forward(e.self, out, p, &x);
    cr_assert_eq(out[0], 0.5);
    cr_assert_eq(out[1], 0.5);
    cr_assert_eq(e.loss_grad(e.self, g, p, &x, y), log(2.0));
    /* W then b: d = (-0.5, 0.5), gW = d x */
    cr_assert_eq(g[0], -1);
    cr_assert_eq(g[1], 1);
    cr_assert_eq(g[2], -0.5);
    cr_assert_eq(g[3], 0.5);
    dcr_ref_engine_free(&e);
}

Test(hand, softmax_is_stable_for_large_logits)
{
    dcr_arch a = tiny(DCR_F64, 1, 3, DCR_ACT_SOFTMAX, DCR_LOSS_CROSS_ENTROPY);
    dcr_engine e;
    engine(&e, &a);
    double p[6] = {0, 0, 0, 1000, 1000, -1000}, g[6] = {0}, x = 1, y[3] = {0, 0, 1}, out[3];
    e.forward(e.self, out, p, &x);
    cr_assert_eq(out[0], 0.5);
    cr_assert_eq(out[1], 0.5);
    cr_assert_eq(out[2], 0);
    double l = e.loss_grad(e.self, g, p, &x, y);
    cr_assert(fabs(l - (2000 + log(2.0))) < 1e-9, "loss %.17g", l);
    dcr_ref_engine_free(&e);
}

/* ---- batch_grad + SGD update -------------------------------------------------------------------- */

Test(sgd_step, equals_averaged_manual_update_f64)
{
    dcr_arch a = make_arch(DCR_F64, 3, 5, 4, 2, DCR_ACT_SIGMOID, DCR_ACT_IDENTITY, DCR_LOSS_MSE);
    dcr_engine e;
    engine(&e, &a);
    size_t n = dcr_arch_n_params(&a);
    enum { B = 5 };
    double p[MAXP], q[MAXP], g[MAXP], gm[MAXP] = {0}, Xb[B * 3], Yb[B * 2];
    random_params(p, n, 8);
    memcpy(q, p, sizeof p);
    random_params(Xb, B * 3, 9);
    random_params(Yb, B * 2, 10);
    for (size_t i = 0; i < n; i++)
        g[i] = 123; /* batch_grad must zero it */
    double lr = 0.3, sum = 0;
    for (int i = 0; i < B; i++)
        sum += e.loss_grad(e.self, gm, q, Xb + 3 * i, Yb + 2 * i);
    double scale = lr * (1.0 / B);
    for (size_t i = 0; i < n; i++)
        q[i] -= scale * gm[i];
    double mean = dcr_sgd_step(&e, p, g, Xb, Yb, B, lr);
    cr_assert_eq(mean, sum / B);
    cr_assert_eq(memcmp(p, q, n * sizeof *p), 0, "params differ from the manual update");
    cr_assert_eq(memcmp(g, gm, n * sizeof *g), 0, "grad holds the batch's sum");
    dcr_ref_engine_free(&e);
}

Test(sgd_step, equals_averaged_manual_update_f32)
{
    dcr_arch a = make_arch(DCR_F32, 3, 5, 4, 3, DCR_ACT_RELU, DCR_ACT_SOFTMAX,
                           DCR_LOSS_CROSS_ENTROPY);
    dcr_engine e;
    engine(&e, &a);
    size_t n = dcr_arch_n_params(&a);
    enum { B = 4 };
    double tmp[MAXP];
    float p[MAXP], q[MAXP], g[MAXP] = {0}, gm[MAXP] = {0}, Xb[B * 3], Yb[B * 3] = {0};
    random_params(tmp, n, 8);
    for (size_t i = 0; i < n; i++)
        p[i] = q[i] = (float)tmp[i];
    random_params(tmp, B * 3, 9);
    for (int i = 0; i < B * 3; i++)
        Xb[i] = (float)tmp[i];
    for (int i = 0; i < B; i++)
        Yb[3 * i + i % 3] = 1;
    double lr = 0.05, sum = 0;
    for (int i = 0; i < B; i++)
        sum += e.loss_grad(e.self, gm, q, Xb + 3 * i, Yb + 3 * i);
    float scale = (float)(lr * (1.0 / B));
    for (size_t i = 0; i < n; i++)
        q[i] -= scale * gm[i];
    double mean = dcr_sgd_step(&e, p, g, Xb, Yb, B, lr);
    cr_assert_eq(mean, sum / B);
    cr_assert_eq(memcmp(p, q, n * sizeof *p), 0, "params differ from the manual update");
    dcr_ref_engine_free(&e);
}

Test(sgd_step, lowers_the_loss)
{
    dcr_arch a = make_arch(DCR_F64, 3, 4, 4, 3, DCR_ACT_TANH, DCR_ACT_SOFTMAX,
                           DCR_LOSS_CROSS_ENTROPY);
    dcr_engine e;
    engine(&e, &a);
    size_t n = dcr_arch_n_params(&a);
    double p[MAXP], g[MAXP], y[3];
    random_params(p, n, 4);
    targets(y, DCR_LOSS_CROSS_ENTROPY, 3);
    double first = dcr_sgd_step(&e, p, g, X, y, 1, 0.5), last = first;
    for (int i = 0; i < 50; i++)
        last = dcr_sgd_step(&e, p, g, X, y, 1, 0.5);
    cr_assert_lt(last, first * 0.1, "%g -> %g", first, last);
    dcr_ref_engine_free(&e);
}

/* ---- invalid architectures -------------------------------------------------------- */

static void bad_arch(const dcr_arch *a, dcr_status st, const char *msg)
{
    dcr_engine e;
    memset(&e, 0xff, sizeof e);
    dcr_error err = {0};
    cr_assert_eq(dcr_ref_engine(&e, a, &err), -1, "%s", msg);
    cr_assert_eq(err.status, st, "%s", err.msg);
    cr_assert_str_eq(err.msg, msg);
}

Test(engine, rejects_bad_architectures)
{
    dcr_arch a = tiny(DCR_F64, 2, 3, DCR_ACT_SIGMOID, DCR_LOSS_CROSS_ENTROPY);
    bad_arch(&a, DCR_ERR_SPEC, "cross_entropy loss needs a softmax output layer, not sigmoid");
    a = tiny(DCR_F64, 2, 3, DCR_ACT_SOFTMAX, DCR_LOSS_MSE);
    bad_arch(&a, DCR_ERR_SPEC, "a softmax output layer needs cross_entropy loss");
    a = make_arch(DCR_F64, 2, 3, 3, 3, DCR_ACT_SOFTMAX, DCR_ACT_SOFTMAX, DCR_LOSS_CROSS_ENTROPY);
    bad_arch(&a, DCR_ERR_SPEC, "layer 1: softmax is only allowed on the output layer");
    a = tiny(DCR_F64, 2, 0, DCR_ACT_IDENTITY, DCR_LOSS_MSE);
    bad_arch(&a, DCR_ERR_SPEC, "layer 1 has 0 units; it needs at least 1");
    a = tiny(DCR_F64, 2, 3, DCR_ACT_IDENTITY, DCR_LOSS_MSE);
    a.n_layers = 0;
    bad_arch(&a, DCR_ERR_SPEC, "the network needs at least one layer, got 0");
    a.n_layers = DCR_MAX_LAYERS + 1;
    bad_arch(&a, DCR_ERR_LIMIT, "33 layers is more than DCR_MAX_LAYERS (32)");
    a = tiny((dcr_dtype)7, 2, 3, DCR_ACT_IDENTITY, DCR_LOSS_MSE);
    bad_arch(&a, DCR_ERR_SPEC, "unknown dtype 7");
}

Test(engine, free_is_safe_on_zeroed)
{
    dcr_engine e;
    memset(&e, 0, sizeof e);
    dcr_ref_engine_free(&e);
    dcr_ref_engine_free(NULL);
    dcr_arch a = tiny(DCR_F64, 2, 3, DCR_ACT_TANH, DCR_LOSS_MSE);
    engine(&e, &a);
    dcr_ref_engine_free(&e);
    dcr_ref_engine_free(&e);
    cr_assert_null(e.self);
}

Test(engine, keeps_its_own_copy_of_the_arch)
{
    dcr_arch *a = malloc(sizeof *a);
    cr_assert_not_null(a);
    *a = tiny(DCR_F64, 1, 1, DCR_ACT_IDENTITY, DCR_LOSS_MSE);
    dcr_engine e;
    engine(&e, a);
    memset(a, 0, sizeof *a);
    free(a);
    double p[2] = {2, 1}, x = 3, out;
    e.forward(e.self, &out, p, &x);
    cr_assert_eq(out, 7);
    cr_assert_eq(e.arch->sizes[0], 1);
    dcr_ref_engine_free(&e);
}
