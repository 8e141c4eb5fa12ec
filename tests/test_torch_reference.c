/* test_torch_reference.c: deltac against PyTorch.
 *
 * tests/reference/CASE/ holds a float64 spec, parameters, a batch of 5
 * inputs and targets, and what PyTorch computed from them (outputs, the
 * per-sample losses, the gradient of the summed loss); make_reference.py
 * there writes them. For every case, the generated code under the libtcc JIT
 * (and, as a cross-check, the runtime's reference engine) must agree with
 * PyTorch to a relative error of 1e-10. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deltac.h"

#ifndef DELTAC_SOURCE_DIR
#error "DELTAC_SOURCE_DIR must name the repository root"
#endif

#define REF_DIR DELTAC_SOURCE_DIR "/tests/reference"
#define BATCH 5
/* |ours - torch| / max(|torch|, REL_FLOOR) <= TOL. Both sides compute in
 * float64 with different operation orders (and libms), so agreement is to a
 * few ulps times the depth of the network; 1e-10 leaves a wide margin while
 * catching any real difference. The floor only keeps exact zeros (dead ReLU
 * units give zero gradients on both sides) from dividing by zero. */
#define TOL 1e-10
#define REL_FLOOR 1e-12

/* Must match CASES in tests/reference/make_reference.py. */
static const char *const cases[] = {
    "mse_sigmoid_identity", "mse_tanh_relu_sigmoid", "mse_identity_tanh",
    "ce_relu_sigmoid_softmax", "ce_tanh_softmax2", "mse_leaky_elu_softplus", "mse_gelu_gelu",
    "mse_softplus_elu", "mse_gelu_leaky", "ce_leaky_softmax", "bce_gelu_softplus_sigmoid",
    "bce_elu_sigmoid1",
};
#define N_CASES (sizeof cases / sizeof cases[0])

typedef enum { ENGINE_JIT, ENGINE_REF } engine_kind;

typedef struct {
    const char *name;
    dc_spec spec;
    dc_net net;
    dc_jit *jit;
    dcr_engine eng;
    engine_kind kind;
} ref_case;

/* Reads CASE/file into a, which must be float64 of the given shape. */
static void load_npy(dcr_npy *a, const char *name, const char *file, int ndim, size_t d0, size_t d1)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s/%s", REF_DIR, name, file);
    dcr_error e = {0};
    memset(a, 0, sizeof *a);
    /* dcr_npy_read's messages name the file */
    cr_assert_eq(dcr_npy_read(a, path, &e), 0,
                 "%s (regenerate with python3 tests/reference/make_reference.py)", e.msg);
    cr_assert_eq(a->dtype, DCR_F64, "%s: not float64", path);
    cr_assert_eq(a->ndim, ndim, "%s: %d dimensions, expected %d", path, a->ndim, ndim);
    cr_assert_eq(a->shape[0], d0, "%s: shape[0] = %zu, expected %zu", path, a->shape[0], d0);
    if (ndim == 2)
        cr_assert_eq(a->shape[1], d1, "%s: shape[1] = %zu, expected %zu", path, a->shape[1], d1);
    cr_assert_eq(a->count, ndim == 2 ? d0 * d1 : d0, "%s: count %zu", path, a->count);
}

static int file_exists(const char *name, const char *file)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s/%s", REF_DIR, name, file);
    FILE *f = fopen(path, "rb");
    if (f)
        fclose(f);
    return f != NULL;
}

static void case_open(ref_case *c, const char *name, engine_kind kind)
{
    memset(c, 0, sizeof *c);
    c->name = name;
    c->kind = kind;
    char path[512];
    snprintf(path, sizeof path, "%s/%s/spec.json", REF_DIR, name);
    dcr_error e = {0};
    cr_assert_eq(dc_spec_load(&c->spec, path, &e), 0, "%s", e.msg);
    cr_assert_str_eq(c->spec.name, name, "%s: the spec's name is not the case's", path);
    cr_assert_eq(c->spec.arch.dtype, DCR_F64, "%s: not float64", path);
    cr_assert_eq(dc_net_from_spec(&c->net, &c->spec, &e), 0, "%s", e.msg);
    if (kind == ENGINE_JIT) {
        dc_emit_opts o;
        memset(&o, 0, sizeof o);
        o.strategy = DC_EMIT_UNROLLED;
        o.command_line = "test_torch_reference";
        char *src;
        size_t len;
        cr_assert_eq(dc_emit(&src, &len, &c->net, &o, &e), 0, "%s", e.msg);
        int rc = dc_jit_compile(&c->jit, DC_JIT_TCC, src, len, &e);
        free(src);
        cr_assert_eq(rc, 0, "%s", e.msg);
        cr_assert_eq(dc_jit_engine(&c->eng, c->jit, &c->net, &e), 0, "%s", e.msg);
    } else {
        cr_assert_eq(dcr_ref_engine(&c->eng, &c->net.arch, &e), 0, "%s", e.msg);
    }
}

static void case_close(ref_case *c)
{
    if (c->kind == ENGINE_JIT) {
        dc_jit_engine_free(&c->eng);
        dc_jit_free(c->jit);
    } else {
        dcr_ref_engine_free(&c->eng);
    }
    dc_spec_free(&c->spec);
}

/* The largest relative error of got against want over n values; fails at
 * the first value over TOL. */
static double compare(const double *got, const double *want, size_t n, const char *what,
                      const char *name)
{
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double err = fabs(got[i] - want[i]) / fmax(fabs(want[i]), REL_FLOOR);
        cr_assert(isfinite(got[i]), "%s: %s[%zu] = %g", name, what, i, got[i]);
        cr_assert(err <= TOL, "%s: %s[%zu] = %.17g, PyTorch %.17g (relative error %.3g > %g)", name,
                  what, i, got[i], want[i], err, TOL);
        if (err > worst)
            worst = err;
    }
    return worst;
}

static void run_case(const char *name, engine_kind kind)
{
    ref_case c;
    case_open(&c, name, kind);
    const dcr_arch *a = &c.net.arch;
    int L = a->n_layers;
    size_t n_in = (size_t)a->sizes[0], n_out = (size_t)a->sizes[L];
    size_t np = dcr_arch_n_params(a);
    cr_assert_eq(np, c.net.n_params);

    /* the parameters, packed W(1), b(1), W(2), ... */
    double *params = calloc(np, sizeof *params);
    double *want_g = calloc(np, sizeof *want_g);
    cr_assert(params && want_g);
    for (int l = 1; l <= L; l++) {
        size_t rows = (size_t)a->sizes[l], cols = (size_t)a->sizes[l - 1];
        char f[32];
        dcr_npy w, b, gw, gb;
        snprintf(f, sizeof f, "W%d.npy", l);
        load_npy(&w, name, f, 2, rows, cols);
        snprintf(f, sizeof f, "b%d.npy", l);
        load_npy(&b, name, f, 1, rows, 0);
        snprintf(f, sizeof f, "gW%d.npy", l);
        load_npy(&gw, name, f, 2, rows, cols);
        snprintf(f, sizeof f, "gb%d.npy", l);
        load_npy(&gb, name, f, 1, rows, 0);
        size_t wo = dcr_arch_w_offset(a, l), bo = dcr_arch_b_offset(a, l);
        cr_assert_eq(wo, c.net.w_off[l]);
        cr_assert_eq(bo, c.net.b_off[l]);
        memcpy(params + wo, w.data, rows * cols * sizeof(double));
        memcpy(params + bo, b.data, rows * sizeof(double));
        memcpy(want_g + wo, gw.data, rows * cols * sizeof(double));
        memcpy(want_g + bo, gb.data, rows * sizeof(double));
        dcr_npy_free(&w);
        dcr_npy_free(&b);
        dcr_npy_free(&gw);
        dcr_npy_free(&gb);
    }
    /* no parameters beyond the spec's layers */
    char extra[32];
    snprintf(extra, sizeof extra, "W%d.npy", L + 1);
    cr_assert(!file_exists(name, extra), "%s: %s exists but the spec has %d layers", name, extra, L);

    dcr_npy X, Y, out, loss;
    load_npy(&X, name, "X.npy", 2, BATCH, n_in);
    load_npy(&Y, name, "Y.npy", 2, BATCH, n_out);
    load_npy(&out, name, "out.npy", 2, BATCH, n_out);
    load_npy(&loss, name, "loss.npy", 1, BATCH, 0);
    const double *x = X.data, *y = Y.data;

    /* forward */
    double *o = calloc(n_out, sizeof *o);
    cr_assert_not_null(o);
    double err_out = 0, err_loss = 0, err_grad;
    for (size_t s = 0; s < BATCH; s++) {
        c.eng.forward(c.eng.self, o, params, x + s * n_in);
        char what[32];
        snprintf(what, sizeof what, "out[%zu]", s);
        err_out = fmax(err_out, compare(o, (const double *)out.data + s * n_out, n_out, what, name));
    }

    /* losses and the summed gradient: loss_grad adds into a zeroed buffer */
    double *g = calloc(np, sizeof *g);
    cr_assert_not_null(g);
    double e_s[BATCH];
    for (size_t s = 0; s < BATCH; s++)
        e_s[s] = c.eng.loss_grad(c.eng.self, g, params, x + s * n_in, y + s * n_out);
    err_loss = compare(e_s, loss.data, BATCH, "loss", name);
    /* layer by layer, so that a failure names gW or gb of layer l (the
     * layers tile the whole array) */
    err_grad = 0;
    for (int l = 1; l <= L; l++) {
        size_t rows = (size_t)a->sizes[l], cols = (size_t)a->sizes[l - 1];
        size_t wo = dcr_arch_w_offset(a, l), bo = dcr_arch_b_offset(a, l);
        char what[32];
        snprintf(what, sizeof what, "gW%d", l);
        err_grad = fmax(err_grad, compare(g + wo, want_g + wo, rows * cols, what, name));
        snprintf(what, sizeof what, "gb%d", l);
        err_grad = fmax(err_grad, compare(g + bo, want_g + bo, rows, what, name));
    }
    /* something must be nonzero, or a dead network would pass */
    double gmax = 0;
    for (size_t i = 0; i < np; i++)
        gmax = fmax(gmax, fabs(g[i]));
    cr_assert_gt(gmax, 1e-3, "%s: every gradient is (nearly) zero", name);

    cr_log_info("%s (%s): max relative error: outputs %.3g, losses %.3g, gradients %.3g", name,
                kind == ENGINE_JIT ? "jit" : "reference", err_out, err_loss, err_grad);
    fprintf(stderr, "%-26s %-9s max rel err: out %.3g  loss %.3g  grad %.3g\n", name,
            kind == ENGINE_JIT ? "jit" : "reference", err_out, err_loss, err_grad);

    free(g);
    free(o);
    free(params);
    free(want_g);
    dcr_npy_free(&X);
    dcr_npy_free(&Y);
    dcr_npy_free(&out);
    dcr_npy_free(&loss);
    case_close(&c);
}

/* one test per case, so that a failure names it */
Test(torch, jit_mse_sigmoid_identity) { run_case(cases[0], ENGINE_JIT); }
Test(torch, jit_mse_tanh_relu_sigmoid) { run_case(cases[1], ENGINE_JIT); }
Test(torch, jit_mse_identity_tanh) { run_case(cases[2], ENGINE_JIT); }
Test(torch, jit_ce_relu_sigmoid_softmax) { run_case(cases[3], ENGINE_JIT); }
Test(torch, jit_ce_tanh_softmax2) { run_case(cases[4], ENGINE_JIT); }
Test(torch, jit_mse_leaky_elu_softplus) { run_case(cases[5], ENGINE_JIT); }
Test(torch, jit_mse_gelu_gelu) { run_case(cases[6], ENGINE_JIT); }
Test(torch, jit_mse_softplus_elu) { run_case(cases[7], ENGINE_JIT); }
Test(torch, jit_mse_gelu_leaky) { run_case(cases[8], ENGINE_JIT); }
Test(torch, jit_ce_leaky_softmax) { run_case(cases[9], ENGINE_JIT); }
Test(torch, jit_bce_gelu_softplus_sigmoid) { run_case(cases[10], ENGINE_JIT); }
Test(torch, jit_bce_elu_sigmoid1) { run_case(cases[11], ENGINE_JIT); }

Test(torch, reference_engine_all_cases)
{
    for (size_t i = 0; i < N_CASES; i++)
        run_case(cases[i], ENGINE_REF);
}

/* The cases cover every activation and loss, and each has a jit_ test
 * above. */
Test(torch, cases_cover_every_activation_and_loss)
{
    cr_assert_eq(N_CASES, 12, "a case was added or removed: update the jit_ tests");
    int hidden[DCR_N_ACTS] = {0}, output[DCR_N_ACTS] = {0}, losses[DCR_N_LOSSES] = {0};
    int given_alpha = 0, default_alpha = 0;
    for (size_t i = 0; i < N_CASES; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s/%s/spec.json", REF_DIR, cases[i]);
        dc_spec s;
        dcr_error e = {0};
        cr_assert_eq(dc_spec_load(&s, path, &e), 0, "%s", e.msg);
        for (int l = 1; l < s.arch.n_layers; l++)
            hidden[s.arch.act[l]]++;
        for (int l = 1; l <= s.arch.n_layers; l++)
            if (s.arch.act[l] == DCR_ACT_LEAKY_RELU || s.arch.act[l] == DCR_ACT_ELU) {
                int dflt = s.arch.alpha[l] == (s.arch.act[l] == DCR_ACT_ELU ? 1.0 : 0.01);
                default_alpha += dflt;
                given_alpha += !dflt;
            }
        output[s.arch.act[s.arch.n_layers]]++;
        losses[s.arch.loss]++;
        if (s.arch.loss == DCR_LOSS_CROSS_ENTROPY)
            cr_assert_eq(s.arch.act[s.arch.n_layers], DCR_ACT_SOFTMAX);
        if (s.arch.loss == DCR_LOSS_BINARY_CROSS_ENTROPY)
            cr_assert_eq(s.arch.act[s.arch.n_layers], DCR_ACT_SIGMOID);
        dc_spec_free(&s);
    }
    for (int a = 0; a < DCR_N_ACTS; a++) {
        if (a != DCR_ACT_SOFTMAX)
            cr_assert_gt(hidden[a], 0, "no case has a hidden %s layer", dcr_act_name((dcr_act)a));
        if (a != DCR_ACT_RELU) /* a relu output is covered by the gradient checks only */
            cr_assert_gt(output[a], 0, "no case has a %s output", dcr_act_name((dcr_act)a));
    }
    for (int l = 0; l < DCR_N_LOSSES; l++)
        cr_assert_gt(losses[l], 0, "no case has the loss %s", dcr_loss_name((dcr_loss)l));
    cr_assert_gt(default_alpha, 0, "no case uses a default alpha");
    cr_assert_gt(given_alpha, 0, "no case gives alpha");
}
