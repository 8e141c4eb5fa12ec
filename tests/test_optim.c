/* test_optim.c: optimizers, schedules, warm-up, clipping, their state in
 * checkpoints, the spec keys, and the normal initialisations.
 *
 * tests/reference/optim/ holds one float64 network, its initial parameters
 * and 8 rows of data, and per case a spec (optimizer, clipping, schedule)
 * with what PyTorch computes over 6 steps (batches of 4, 3 epochs):
 * make_optim_reference.py writes them. For every case the generated code
 * under the JIT and the reference engine must agree with PyTorch to a
 * relative error of 1e-10 after every step, and with each other bit for bit
 * (float64 and float32); dcr_train must take the same steps. */
#define _POSIX_C_SOURCE 200809L
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dcr_fileio.h"
#include "deltac.h"

#ifndef DELTAC_SOURCE_DIR
#error "DELTAC_SOURCE_DIR must name the repository root"
#endif

#define REF_DIR DELTAC_SOURCE_DIR "/tests/reference/optim"
#define ROWS 8
#define BATCH 4
#define EPOCHS 3
#define STEPS 6
/* |ours - torch| / max(|torch|, REL_FLOOR); see test_torch_reference.c */
#define TOL 1e-10
#define REL_FLOOR 1e-12

/* Must match CASES in tests/reference/make_optim_reference.py. */
static const char *const cases[] = {
    "sgd",       "sgd_momentum", "sgd_nesterov", "sgd_weight_decay", "sgd_momentum_weight_decay",
    "adam",      "adam_weight_decay", "adamw",    "sgd_clip",         "adam_clip",
    "constant_warmup", "step_warmup", "cosine_warmup",
};
#define N_CASES (sizeof cases / sizeof cases[0])

/* ---- helpers ------------------------------------------------------------------ */

static void load_npy(dcr_npy *a, const char *path, size_t count)
{
    dcr_error e = {0};
    cr_assert_eq(dcr_npy_read(a, path, &e), 0,
                 "%s (regenerate with /usr/bin/python3 tests/reference/make_optim_reference.py)", e.msg);
    cr_assert_eq(a->dtype, DCR_F64, "%s: not float64", path);
    cr_assert_eq(a->count, count, "%s: %zu values, expected %zu", path, a->count, count);
}

static void load_case_npy(dcr_npy *a, const char *name, const char *file, size_t count)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s/%s", REF_DIR, name, file);
    load_npy(a, path, count);
}

/* The shared initial parameters (flat, float64) and data. */
typedef struct {
    double *p0;
    size_t np;
    dcr_npy X, Y;
} shared_data;

static void shared_load(shared_data *d, const dcr_arch *a)
{
    d->np = dcr_arch_n_params(a);
    d->p0 = calloc(d->np, sizeof(double));
    cr_assert_not_null(d->p0);
    for (int l = 1; l <= a->n_layers; l++) {
        char path[512];
        dcr_npy w, b;
        size_t rows = (size_t)a->sizes[l], cols = (size_t)a->sizes[l - 1];
        snprintf(path, sizeof path, "%s/W%d.npy", REF_DIR, l);
        load_npy(&w, path, rows * cols);
        snprintf(path, sizeof path, "%s/b%d.npy", REF_DIR, l);
        load_npy(&b, path, rows);
        memcpy(d->p0 + dcr_arch_w_offset(a, l), w.data, rows * cols * sizeof(double));
        memcpy(d->p0 + dcr_arch_b_offset(a, l), b.data, rows * sizeof(double));
        dcr_npy_free(&w);
        dcr_npy_free(&b);
    }
    load_npy(&d->X, REF_DIR "/X.npy", ROWS * (size_t)a->sizes[0]);
    load_npy(&d->Y, REF_DIR "/Y.npy", ROWS * (size_t)a->sizes[a->n_layers]);
}

static void shared_free(shared_data *d)
{
    free(d->p0);
    dcr_npy_free(&d->X);
    dcr_npy_free(&d->Y);
}

/* A case's spec, net and both engines, in float64 or (dtype forced) float32. */
typedef struct {
    dc_spec spec;
    dc_net net;
    dc_jit *jit;
    dcr_engine jit_e, ref_e;
} opt_case;

static void jit_build(dc_jit **j, dcr_engine *e, const dc_net *net)
{
    dcr_error err = {0};
    char *src;
    size_t len;
    cr_assert_eq(dc_emit(&src, &len, net, NULL, &err), 0, "%s", err.msg);
    int rc = dc_jit_compile(j, DC_JIT_TCC, src, len, &err);
    free(src);
    cr_assert_eq(rc, 0, "%s", err.msg);
    cr_assert_eq(dc_jit_engine(e, *j, net, &err), 0, "%s", err.msg);
}

static void case_open(opt_case *c, const char *name, dcr_dtype t)
{
    memset(c, 0, sizeof *c);
    char path[512];
    snprintf(path, sizeof path, "%s/%s/spec.json", REF_DIR, name);
    dcr_error err = {0};
    cr_assert_eq(dc_spec_load(&c->spec, path, &err), 0, "%s", err.msg);
    cr_assert_eq(c->spec.arch.dtype, DCR_F64);
    c->spec.arch.dtype = t;
    cr_assert_eq(dc_net_from_spec(&c->net, &c->spec, &err), 0, "%s", err.msg);
    jit_build(&c->jit, &c->jit_e, &c->net);
    cr_assert_eq(dcr_ref_engine_opt(&c->ref_e, &c->net.arch, &c->spec.train.opt, &err), 0, "%s", err.msg);
    cr_assert_eq(c->jit_e.n_state, c->net.n_state);
    cr_assert_eq(c->ref_e.n_state, c->net.n_state);
}

static void case_close(opt_case *c)
{
    dc_jit_engine_free(&c->jit_e);
    dc_jit_free(c->jit);
    dcr_ref_engine_free(&c->ref_e);
    dc_spec_free(&c->spec);
}

/* One engine's run: parameters and state after every step, and what the
 * driver computed for each step. */
typedef struct {
    void *params[STEPS]; /* [np] of the dtype, after step s + 1 */
    void *state[STEPS];  /* [n_state] */
    double lr[STEPS], clip[STEPS], loss[STEPS];
} run_record;

static void record_free(run_record *r)
{
    for (int s = 0; s < STEPS; s++) {
        free(r->params[s]);
        free(r->state[s]);
    }
}

/* The steps dcr_train takes (rows in order, no shuffle), written out: the
 * rate from the schedule and warm-up, grad_scale = clip / n. */
static void run_steps(run_record *r, const dcr_engine *e, const dcr_train_opts *o, const shared_data *d)
{
    const dcr_arch *a = e->arch;
    dcr_dtype t = a->dtype;
    size_t es = dcr_dtype_size(t), np = d->np, n_in = (size_t)a->sizes[0], n_out = (size_t)a->sizes[a->n_layers];
    void *p = dcr_pack(d->p0, np, t);
    void *X = dcr_pack(d->X.data, ROWS * n_in, t);
    void *Y = dcr_pack(d->Y.data, ROWS * n_out, t);
    void *g = calloc(np, es);
    void *st = calloc(e->n_state ? e->n_state : 1, es);
    cr_assert(p && X && Y && g && st);
    memset(r, 0, sizeof *r);
    uint64_t step = 0;
    for (int ep = 0; ep < EPOCHS; ep++)
        for (int b = 0; b < ROWS / BATCH; b++) {
            r->loss[step] = e->batch_grad(e->self, g, p, (char *)X + (size_t)b * BATCH * n_in * es,
                                          (char *)Y + (size_t)b * BATCH * n_out * es, BATCH);
            step++;
            r->lr[step - 1] = dcr_optim_lr(&o->opt, o->lr, (uint64_t)ep, EPOCHS, step);
            r->clip[step - 1] = dcr_optim_clip(&o->opt, g, np, t, BATCH);
            dcr_step s = {r->lr[step - 1], r->clip[step - 1] / BATCH, step};
            e->update(e->self, p, e->n_state ? st : NULL, g, &s);
            r->params[step - 1] = malloc(np * es);
            r->state[step - 1] = malloc((e->n_state ? e->n_state : 1) * es);
            cr_assert(r->params[step - 1] && r->state[step - 1]);
            memcpy(r->params[step - 1], p, np * es);
            memcpy(r->state[step - 1], st, e->n_state * es);
        }
    free(p);
    free(X);
    free(Y);
    free(g);
    free(st);
}

static double rel_err(double got, double want)
{
    return fabs(got - want) / fmax(fabs(want), REL_FLOOR);
}

/* ---- against PyTorch, and JIT against reference ----------------------------------- */

static void torch_case(const char *name)
{
    opt_case c;
    case_open(&c, name, DCR_F64);
    shared_data d;
    shared_load(&d, &c.net.arch);
    const dcr_train_opts *o = &c.spec.train;
    cr_assert_eq(o->batch_size, BATCH);
    cr_assert_eq(o->epochs, EPOCHS);
    cr_assert_eq(o->shuffle, 0);

    dcr_npy want_p, want_lr, want_loss;
    load_case_npy(&want_p, name, "params.npy", STEPS * d.np);
    load_case_npy(&want_lr, name, "lr.npy", STEPS);
    load_case_npy(&want_loss, name, "loss.npy", STEPS);
    const double *wp = want_p.data, *wlr = want_lr.data, *wloss = want_loss.data;

    run_record jr, rr;
    run_steps(&jr, &c.jit_e, o, &d);
    run_steps(&rr, &c.ref_e, o, &d);
    double e_p = 0, e_lr = 0, e_loss = 0, min_clip = 1;
    size_t ns = c.net.n_state;
    for (int s = 0; s < STEPS; s++) {
        /* the two engines agree bit for bit: parameters and state */
        cr_assert_eq(memcmp(jr.params[s], rr.params[s], d.np * sizeof(double)), 0,
                     "%s: JIT and reference parameters differ after step %d", name, s + 1);
        cr_assert_eq(memcmp(jr.state[s], rr.state[s], ns * sizeof(double)), 0,
                     "%s: JIT and reference optimizer state differ after step %d", name, s + 1);
        cr_assert_eq(jr.lr[s], rr.lr[s]);
        e_lr = fmax(e_lr, rel_err(jr.lr[s], wlr[s]));
        e_loss = fmax(e_loss, rel_err(jr.loss[s], wloss[s]));
        min_clip = fmin(min_clip, jr.clip[s]);
        const double *got = jr.params[s];
        for (size_t i = 0; i < d.np; i++) {
            double e = rel_err(got[i], wp[(size_t)s * d.np + i]);
            cr_assert(e <= TOL, "%s: step %d, parameter %zu = %.17g, PyTorch %.17g (relative error %.3g > %g)",
                      name, s + 1, i, got[i], wp[(size_t)s * d.np + i], e, TOL);
            e_p = fmax(e_p, e);
        }
    }
    cr_assert(e_lr <= 1e-14, "%s: learning rates differ from torch's schedulers by %.3g", name, e_lr);
    cr_assert(e_loss <= TOL, "%s: losses differ from PyTorch by %.3g", name, e_loss);
    /* something moved, and the clipping cases did clip */
    cr_assert(memcmp(jr.params[STEPS - 1], d.p0, d.np * sizeof(double)) != 0);
    if (o->opt.clip_norm > 0)
        cr_assert_lt(min_clip, 1, "%s: clip_norm %g never clipped", name, o->opt.clip_norm);
    else
        cr_assert_eq(min_clip, 1);

    /* dcr_train takes exactly these steps */
    dcr_dataset train = {ROWS, c.net.arch.sizes[0], c.net.arch.sizes[c.net.arch.n_layers], d.X.data, d.Y.data, NULL};
    double *p = malloc(d.np * sizeof(double));
    cr_assert_not_null(p);
    memcpy(p, d.p0, d.np * sizeof(double));
    dcr_error err = {0};
    cr_assert_eq(dcr_train(p, &c.jit_e, &train, NULL, NULL, o, NULL, NULL, NULL, &err), 0, "%s", err.msg);
    cr_assert_eq(memcmp(p, jr.params[STEPS - 1], d.np * sizeof(double)), 0,
                 "%s: dcr_train's parameters differ from the steps written out", name);
    free(p);

    fprintf(stderr, "%-26s max rel err vs torch: params %.3g  loss %.3g  lr %.3g%s\n", name, e_p, e_loss, e_lr,
            o->opt.clip_norm > 0 ? "  (clipped)" : "");
    cr_log_info("%s: max relative error against PyTorch: parameters %.3g, losses %.3g, rates %.3g", name, e_p,
                e_loss, e_lr);
    record_free(&jr);
    record_free(&rr);
    dcr_npy_free(&want_p);
    dcr_npy_free(&want_lr);
    dcr_npy_free(&want_loss);
    shared_free(&d);
    case_close(&c);
}

Test(torch, sgd) { torch_case("sgd"); }
Test(torch, sgd_momentum) { torch_case("sgd_momentum"); }
Test(torch, sgd_nesterov) { torch_case("sgd_nesterov"); }
Test(torch, sgd_weight_decay) { torch_case("sgd_weight_decay"); }
Test(torch, sgd_momentum_weight_decay) { torch_case("sgd_momentum_weight_decay"); }
Test(torch, adam) { torch_case("adam"); }
Test(torch, adam_weight_decay) { torch_case("adam_weight_decay"); }
Test(torch, adamw) { torch_case("adamw"); }
Test(torch, sgd_clip) { torch_case("sgd_clip"); }
Test(torch, adam_clip) { torch_case("adam_clip"); }
Test(torch, constant_warmup) { torch_case("constant_warmup"); }
Test(torch, step_warmup) { torch_case("step_warmup"); }
Test(torch, cosine_warmup) { torch_case("cosine_warmup"); }

Test(torch, every_case_has_a_test)
{
    cr_assert_eq(N_CASES, 13, "a case was added or removed: update the Test()s above");
}

/* In float32 too the JIT and the reference engine take the same steps. */
Test(engines, float32_jit_equals_reference)
{
    for (size_t k = 0; k < N_CASES; k++) {
        opt_case c;
        case_open(&c, cases[k], DCR_F32);
        shared_data d;
        shared_load(&d, &c.net.arch);
        run_record jr, rr;
        run_steps(&jr, &c.jit_e, &c.spec.train, &d);
        run_steps(&rr, &c.ref_e, &c.spec.train, &d);
        for (int s = 0; s < STEPS; s++) {
            cr_assert_eq(memcmp(jr.params[s], rr.params[s], d.np * sizeof(float)), 0,
                         "%s float32: parameters differ after step %d", cases[k], s + 1);
            cr_assert_eq(memcmp(jr.state[s], rr.state[s], c.net.n_state * sizeof(float)), 0,
                         "%s float32: state differs after step %d", cases[k], s + 1);
        }
        record_free(&jr);
        record_free(&rr);
        shared_free(&d);
        case_close(&c);
    }
}

/* ---- the schedule and clipping functions ------------------------------------------- */

Test(schedule, constant_step_cosine_and_warmup)
{
    dcr_optim o;
    memset(&o, 0, sizeof o);
    cr_assert_eq(dcr_optim_lr(&o, 0.1, 0, 10, 1), 0.1);
    cr_assert_eq(dcr_optim_lr(&o, 0.1, 9, 10, 1000), 0.1);
    o.warmup_steps = 4;
    cr_assert_eq(dcr_optim_lr(&o, 0.1, 0, 10, 1), 0.1 * (1.0 / 4));
    cr_assert_eq(dcr_optim_lr(&o, 0.1, 0, 10, 3), 0.1 * (3.0 / 4));
    cr_assert_eq(dcr_optim_lr(&o, 0.1, 0, 10, 4), 0.1);
    cr_assert_eq(dcr_optim_lr(&o, 0.1, 5, 10, 99), 0.1);
    o.warmup_steps = 0;

    o.schedule = DCR_SCHED_STEP;
    o.step_epochs = 3;
    o.gamma = 0.5;
    cr_assert_eq(dcr_optim_lr(&o, 0.8, 0, 10, 1), 0.8);
    cr_assert_eq(dcr_optim_lr(&o, 0.8, 2, 10, 1), 0.8);
    cr_assert_eq(dcr_optim_lr(&o, 0.8, 3, 10, 1), 0.4);
    cr_assert_eq(dcr_optim_lr(&o, 0.8, 6, 10, 1), 0.2);
    cr_assert_eq(dcr_optim_lr(&o, 0.8, 9, 10, 1), 0.1);
    /* the warm-up multiplies whatever the schedule gives */
    o.warmup_steps = 10;
    cr_assert_eq(dcr_optim_lr(&o, 0.8, 3, 10, 5), 0.4 * 0.5);

    memset(&o, 0, sizeof o);
    o.schedule = DCR_SCHED_COSINE;
    o.min_lr = 0.01;
    cr_assert_eq(dcr_optim_lr(&o, 0.11, 0, 4, 1), 0.11);
    cr_assert_float_eq(dcr_optim_lr(&o, 0.11, 2, 4, 1), 0.06, 1e-15);
    cr_assert_float_eq(dcr_optim_lr(&o, 0.11, 1, 4, 1), 0.01 + 0.1 * (1 + sqrt(0.5)) / 2, 1e-15);
    /* past the run's epochs it stays at min_lr (torch would rise again) */
    cr_assert_eq(dcr_optim_lr(&o, 0.11, 4, 4, 1), 0.01);
    cr_assert_eq(dcr_optim_lr(&o, 0.11, 40, 4, 1), 0.01);
}

Test(clip, global_norm_of_the_mean_gradient)
{
    dcr_optim o;
    memset(&o, 0, sizeof o);
    double g[3] = {6, 0, 8}; /* summed over 2 samples: the mean is (3, 0, 4), norm 5 */
    float gf[3] = {6, 0, 8};
    cr_assert_eq(dcr_optim_clip(&o, g, 3, DCR_F64, 2), 1, "clip_norm 0 is off");
    o.clip_norm = 1;
    cr_assert_eq(dcr_optim_clip(&o, g, 3, DCR_F64, 2), 1 / (5 + 1e-6));
    cr_assert_eq(dcr_optim_clip(&o, gf, 3, DCR_F32, 2), 1 / (5 + 1e-6));
    o.clip_norm = 10;
    cr_assert_eq(dcr_optim_clip(&o, g, 3, DCR_F64, 2), 1);
    /* like torch: min(1, max_norm / (norm + 1e-6)), so a norm just below
     * max_norm is already scaled */
    o.clip_norm = 5;
    cr_assert_lt(dcr_optim_clip(&o, g, 3, DCR_F64, 2), 1);
    o.clip_norm = 5 + 1e-6;
    cr_assert_eq(dcr_optim_clip(&o, g, 3, DCR_F64, 2), 1);
}

Test(optim, state_sizes_and_checks)
{
    dcr_optim o;
    memset(&o, 0, sizeof o);
    dcr_error err = {0};
    cr_assert_eq(dcr_optim_check(&o, &err), 0, "%s", err.msg);
    cr_assert_eq(dcr_optim_n_state(&o, 10), 0);
    o.momentum = 0.9;
    cr_assert_eq(dcr_optim_n_state(&o, 10), 10);
    o.nesterov = 1;
    cr_assert_eq(dcr_optim_check(&o, &err), 0, "%s", err.msg);
    o.momentum = 0;
    cr_assert_eq(dcr_optim_check(&o, &err), -1);
    cr_assert_not_null(strstr(err.msg, "nesterov"), "%s", err.msg);
    memset(&o, 0, sizeof o);
    o.type = DCR_OPT_ADAM;
    cr_assert_eq(dcr_optim_check(&o, &err), -1, "adam without eps accepted");
    o.beta1 = 0.9;
    o.beta2 = 0.999;
    o.eps = 1e-8;
    cr_assert_eq(dcr_optim_check(&o, &err), 0, "%s", err.msg);
    cr_assert_eq(dcr_optim_n_state(&o, 10), 20);
    o.beta2 = 1;
    cr_assert_eq(dcr_optim_check(&o, &err), -1);
    o.beta2 = 0.999;
    o.momentum = 0.5;
    cr_assert_eq(dcr_optim_check(&o, &err), -1, "momentum with adam accepted");
    o.momentum = 0;
    o.schedule = DCR_SCHED_STEP;
    cr_assert_eq(dcr_optim_check(&o, &err), -1, "step without step_epochs accepted");
    o.step_epochs = 2;
    o.gamma = 0.5;
    cr_assert_eq(dcr_optim_check(&o, &err), 0, "%s", err.msg);
    o.min_lr = 0.1;
    cr_assert_eq(dcr_optim_check(&o, &err), -1, "min_lr with step accepted");
    cr_assert_str_eq(dcr_optim_name(DCR_OPT_ADAMW), "adamw");
    cr_assert_str_eq(dcr_sched_name(DCR_SCHED_COSINE), "cosine");

    /* the reference engine and the IR refuse what the check refuses */
    dcr_arch a;
    memset(&a, 0, sizeof a);
    a.dtype = DCR_F64;
    a.n_layers = 1;
    a.sizes[0] = 2;
    a.sizes[1] = 1;
    a.act[1] = DCR_ACT_SIGMOID;
    dcr_engine e;
    cr_assert_eq(dcr_ref_engine_opt(&e, &a, &o, &err), -1);
    dc_net n;
    cr_assert_eq(dc_net_make(&n, &a, "n", &err), 0, "%s", err.msg);
    cr_assert_eq(n.n_state, 0);
    cr_assert_eq(dc_net_set_optim(&n, &o, &err), -1);
    o.min_lr = 0;
    cr_assert_eq(dc_net_set_optim(&n, &o, &err), 0, "%s", err.msg);
    cr_assert_eq(n.n_state, 6);
}

/* ---- the generated code's interface --------------------------------------------------- */

static char *emit_for_target(const char *opt_json, dcr_dtype t, dc_backend target)
{
    char text[1024];
    snprintf(text, sizeof text,
             "{\"name\": \"o\", \"dtype\": \"%s\", \"input\": 2, \"layers\": [{\"units\": 3, \"activation\": \"tanh\"}, "
             "{\"units\": 1, \"activation\": \"identity\"}], \"loss\": \"mse\", \"train\": {\"optimizer\": %s}}",
             t == DCR_F64 ? "float64" : "float32", opt_json);
    dc_spec s;
    dc_net n;
    dcr_error err = {0};
    cr_assert_eq(dc_spec_parse(&s, text, strlen(text), "o.json", &err), 0, "%s", err.msg);
    cr_assert_eq(dc_net_from_spec(&n, &s, &err), 0, "%s", err.msg);
    char *src;
    size_t len;
    dc_emit_opts eo = {.strategy = DC_EMIT_UNROLLED, .target = target};
    cr_assert_eq(dc_emit(&src, &len, &n, &eo, &err), 0, "%s", err.msg);
    dc_spec_free(&s);
    return src;
}

/* the written-out update of an ahead-of-time build */
static char *emit_for(const char *opt_json, dcr_dtype t)
{
    return emit_for_target(opt_json, t, DC_JIT_CC);
}

/* Under the libtcc JIT even fully unrolled code updates through the
 * kernel: a statement per parameter would be a third of the source. */
Test(emit, tcc_update_is_a_kernel_call_or_blocks)
{
    char *src = emit_for_target("{\"type\": \"sgd\"}", DCR_F64, DC_JIT_TCC);
    cr_expect_not_null(strstr(src, "dck_sgdd(p, g, scale, 13);"), "%s", src);
    cr_expect_null(strstr(src, "p[12] -= scale * g[12];"));
    free(src);
}

Test(emit, n_state_and_exact_constants)
{
    /* 13 parameters */
    char *src = emit_for("{\"type\": \"sgd\"}", DCR_F64);
    cr_expect_not_null(strstr(src, "#define o_N_STATE 0\n"));
    cr_expect_not_null(strstr(src, "p[12] -= scale * g[12];"));
    free(src);
    src = emit_for("{\"type\": \"sgd\", \"momentum\": 0.9, \"nesterov\": true}", DCR_F64);
    cr_expect_not_null(strstr(src, "#define o_N_STATE 13\n"));
    cr_expect_not_null(strstr(src, "double mom = 0.90000000000000002;"), "%s", src);
    cr_expect_not_null(strstr(src, "b[i] = mom * b[i] + d;"), "%s", src);
    cr_expect_not_null(strstr(src, "DC_UPD(12)\n#undef DC_UPD"));
    free(src);
    src = emit_for("{\"type\": \"adam\", \"betas\": [0.8, 0.95]}", DCR_F64);
    cr_expect_not_null(strstr(src, "#define o_N_STATE 26\n"));
    cr_expect_not_null(strstr(src, "*m = state, *v = state + 13;"));
    cr_expect_not_null(strstr(src, "pow(0.80000000000000004, t)"));
    cr_expect_not_null(strstr(src, "double b1 = 0.80000000000000004, c1 = 0.19999999999999996, b2 = "
                                   "0.94999999999999996, c2 = 0.050000000000000044, eps = 1e-08;"), "%s", src);
    cr_expect_not_null(strstr(src, "m[i] = b1 * m[i] + c1 * d;"), "%s", src);
    cr_expect_not_null(strstr(src, "den = sqrt(v[i]) / bc + eps;"), "%s", src);
    free(src);
    /* float: the value rounded to float, which reads back as itself */
    src = emit_for("{\"type\": \"adamw\"}", DCR_F32);
    cr_expect_not_null(strstr(src, "float b1 = 0.899999976f, c1 = 0.100000001f,"), "%s", src);
    cr_expect_not_null(strstr(src, "dec = (float)(1 - lr * 0.01);"), "%s", src);
    cr_expect_not_null(strstr(src, "sqrtf(v[i])"));
    free(src);
}

/* ---- the spec ----------------------------------------------------------------------- */

#define NET "\"name\": \"n\", \"input\": 2, \"layers\": [{\"units\": 2, \"activation\": \"tanh\"}, " \
            "{\"units\": 1, \"activation\": \"identity\"}], \"loss\": \"mse\""

static void parse_ok(dc_spec *s, const char *train)
{
    char text[2048];
    snprintf(text, sizeof text, "{" NET ", \"train\": %s}", train);
    dcr_error err = {0};
    cr_assert_eq(dc_spec_parse(s, text, strlen(text), "t.json", &err), 0, "%s\n%s", err.msg, text);
}

static void parse_err(const char *train, const char *want)
{
    char text[2048];
    snprintf(text, sizeof text, "{" NET ",\n \"train\": %s}", train);
    dc_spec s;
    dcr_error err = {0};
    cr_assert_eq(dc_spec_parse(&s, text, strlen(text), "t.json", &err), -1, "accepted: %s", text);
    cr_expect_eq(err.status, DCR_ERR_SPEC);
    cr_expect_not_null(strstr(err.msg, want), "message\n  %s\ndoes not contain\n  %s", err.msg, want);
    cr_expect(strncmp(err.msg, "t.json:2:", 9) == 0, "no FILE:LINE:COL: %s", err.msg);
}

Test(spec, optimizers_and_defaults)
{
    dc_spec s;
    parse_ok(&s, "{}");
    cr_expect_eq(s.train.opt.type, DCR_OPT_SGD);
    cr_expect_eq(s.train.opt.momentum, 0);
    dc_spec_free(&s);
    parse_ok(&s, "{\"optimizer\": {\"type\": \"sgd\", \"learning_rate\": 0.5, \"momentum\": 0.9, \"nesterov\": true, "
                 "\"weight_decay\": 0.001}}");
    cr_expect_eq(s.train.lr, 0.5);
    cr_expect_eq(s.train.opt.momentum, 0.9);
    cr_expect_eq(s.train.opt.nesterov, 1);
    cr_expect_eq(s.train.opt.weight_decay, 0.001);
    dc_spec_free(&s);
    parse_ok(&s, "{\"optimizer\": {\"type\": \"adam\"}}");
    cr_expect_eq(s.train.opt.type, DCR_OPT_ADAM);
    cr_expect_eq(s.train.opt.beta1, 0.9);
    cr_expect_eq(s.train.opt.beta2, 0.999);
    cr_expect_eq(s.train.opt.eps, 1e-8);
    cr_expect_eq(s.train.opt.weight_decay, 0);
    dc_spec_free(&s);
    parse_ok(&s, "{\"optimizer\": {\"type\": \"adamw\", \"betas\": [0, 0.5], \"eps\": 1e-6}}");
    cr_expect_eq(s.train.opt.type, DCR_OPT_ADAMW);
    cr_expect_eq(s.train.opt.weight_decay, 0.01, "AdamW's default weight decay");
    cr_expect_eq(s.train.opt.beta1, 0);
    cr_expect_eq(s.train.opt.beta2, 0.5);
    cr_expect_eq(s.train.opt.eps, 1e-6);
    dc_spec_free(&s);
    parse_ok(&s, "{\"optimizer\": {\"type\": \"adamw\", \"weight_decay\": 0}, \"clip_norm\": 2.5, "
                 "\"schedule\": {\"type\": \"step\", \"step_epochs\": 3, \"warmup_steps\": 7}}");
    cr_expect_eq(s.train.opt.weight_decay, 0);
    cr_expect_eq(s.train.opt.clip_norm, 2.5);
    cr_expect_eq(s.train.opt.schedule, DCR_SCHED_STEP);
    cr_expect_eq(s.train.opt.step_epochs, 3);
    cr_expect_eq(s.train.opt.gamma, 0.1, "StepLR's default gamma");
    cr_expect_eq(s.train.opt.warmup_steps, 7);
    dcr_job job;
    dc_spec_job(&job, &s);
    cr_expect_eq(memcmp(&job.train.opt, &s.train.opt, sizeof job.train.opt), 0);
    dc_spec_free(&s);
    parse_ok(&s, "{\"schedule\": {\"type\": \"cosine\", \"min_lr\": 0.001}}");
    cr_expect_eq(s.train.opt.schedule, DCR_SCHED_COSINE);
    cr_expect_eq(s.train.opt.min_lr, 0.001);
    dc_spec_free(&s);
    parse_ok(&s, "{\"schedule\": {\"warmup_steps\": 5}}");
    cr_expect_eq(s.train.opt.schedule, DCR_SCHED_CONSTANT);
    cr_expect_eq(s.train.opt.warmup_steps, 5);
    dc_spec_free(&s);
}

Test(spec, optimizer_errors)
{
    parse_err("{\"optimizer\": {\"type\": \"adam\", \"momentum\": 0.9}}",
              "train.optimizer.momentum: momentum applies only to the optimizer \"sgd\" (the type is \"adam\"");
    parse_err("{\"optimizer\": {\"type\": \"adamw\", \"nesterov\": false}}",
              "train.optimizer.nesterov: nesterov applies only to the optimizer \"sgd\" (the type is \"adamw\")");
    parse_err("{\"optimizer\": {\"betas\": [0.9, 0.99]}}",
              "train.optimizer.betas: betas apply only to the optimizers \"adam\" and \"adamw\" (the type is \"sgd\", "
              "the default)");
    parse_err("{\"optimizer\": {\"type\": \"sgd\", \"eps\": 1e-8}}",
              "train.optimizer.eps: eps applies only to the optimizers \"adam\" and \"adamw\" (the type is \"sgd\")");
    parse_err("{\"optimizer\": {\"nesterov\": true}}", "train.optimizer.nesterov: nesterov needs a momentum above 0");
    parse_err("{\"optimizer\": {\"momentum\": 1}}", "train.optimizer.momentum: 1 is out of range");
    parse_err("{\"optimizer\": {\"momentum\": -0.1}}", "train.optimizer.momentum: -0.10000000000000001 is out of range");
    parse_err("{\"optimizer\": {\"type\": \"adam\", \"betas\": [0.9]}}",
              "train.optimizer.betas: expected two numbers [beta1, beta2], got 1");
    parse_err("{\"optimizer\": {\"type\": \"adam\", \"betas\": 0.9}}",
              "train.optimizer.betas: expected an array of two numbers");
    parse_err("{\"optimizer\": {\"type\": \"adam\", \"betas\": [0.9, 1]}}", "train.optimizer.betas[1]: 1 is out of range");
    parse_err("{\"optimizer\": {\"type\": \"adam\", \"betas\": [\"a\", 0.9]}}",
              "train.optimizer.betas[0]: expected a number");
    parse_err("{\"optimizer\": {\"type\": \"adam\", \"eps\": 0}}", "train.optimizer.eps: 0 is out of range");
    parse_err("{\"optimizer\": {\"weight_decay\": -1}}", "train.optimizer.weight_decay: -1 is out of range");
    parse_err("{\"optimizer\": {\"type\": \"adagrad\"}}", "train.optimizer.type: unknown optimizer \"adagrad\"");
    parse_err("{\"optimizer\": {\"type\": \"adam\", \"amsgrad\": true}}", "train.optimizer.amsgrad: unknown key");
    parse_err("{\"clip_norm\": 0}", "train.clip_norm: 0 is out of range");
}

Test(spec, schedule_errors)
{
    parse_err("{\"schedule\": {\"type\": \"step\"}}", "train.schedule: missing required key \"step_epochs\"");
    parse_err("{\"schedule\": {\"type\": \"step\", \"step_epochs\": 0}}", "train.schedule.step_epochs: 0 is out of range");
    parse_err("{\"schedule\": {\"type\": \"step\", \"step_epochs\": 2, \"gamma\": 0}}",
              "train.schedule.gamma: 0 is out of range");
    parse_err("{\"schedule\": {\"type\": \"cosine\", \"step_epochs\": 2}}",
              "train.schedule.step_epochs: step_epochs applies only to the schedule \"step\" (the type is \"cosine\")");
    parse_err("{\"schedule\": {\"gamma\": 0.5}}",
              "train.schedule.gamma: gamma applies only to the schedule \"step\" (the type is \"constant\", the default)");
    parse_err("{\"schedule\": {\"type\": \"step\", \"step_epochs\": 1, \"min_lr\": 0.1}}",
              "train.schedule.min_lr: min_lr applies only to the schedule \"cosine\" (the type is \"step\")");
    parse_err("{\"schedule\": {\"type\": \"linear\"}}", "train.schedule.type: unknown schedule \"linear\"");
    parse_err("{\"schedule\": {\"warmup_steps\": -1}}", "train.schedule.warmup_steps: -1 is out of range");
    parse_err("{\"schedule\": {\"warmup_steps\": 1.5}}", "train.schedule.warmup_steps: 1.5 is not an integer");
}

/* ---- checkpoints: resuming equals a straight run --------------------------------------- */

static char tmpdir[256];

static void tmp_setup(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/test_optim.XXXXXX");
    cr_assert_not_null(mkdtemp(tmpdir));
}

static void tmp_teardown(void)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    cr_assert_eq(system(cmd), 0);
}

/* Adam with a cosine schedule, warm-up and clipping, shuffled, float64:
 * writes the spec and its data into tmpdir. */
static void write_resume_spec(char *spec_path, size_t cap)
{
    char path[512];
    snprintf(path, sizeof path, "%s/data.csv", tmpdir);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    dcr_rng r;
    dcr_rng_seed(&r, 99);
    for (int i = 0; i < 21; i++) {
        double x0 = 2 * dcr_rng_uniform(&r) - 1, x1 = 2 * dcr_rng_uniform(&r) - 1;
        fprintf(f, "%.17g,%.17g,%.17g\n", x0, x1, sin(3 * x0) * x1);
    }
    fclose(f);
    snprintf(spec_path, cap, "%s/resume.json", tmpdir);
    f = fopen(spec_path, "w");
    cr_assert_not_null(f);
    fputs("{\"name\": \"resume\", \"dtype\": \"float64\", \"input\": 2,\n"
          " \"layers\": [{\"units\": 6, \"activation\": \"tanh\"}, {\"units\": 1, \"activation\": \"identity\"}],\n"
          " \"loss\": \"mse\", \"init\": {\"scheme\": \"xavier_normal\", \"seed\": 3},\n"
          " \"train\": {\"optimizer\": {\"type\": \"adam\", \"learning_rate\": 0.05, \"weight_decay\": 0.01},\n"
          "           \"clip_norm\": 0.5, \"schedule\": {\"type\": \"cosine\", \"min_lr\": 0.001, \"warmup_steps\": 5},\n"
          "           \"batch_size\": 4, \"epochs\": 6, \"shuffle\": true, \"seed\": 11},\n"
          " \"data\": {\"train\": \"data.csv\", \"header\": false, \"target\": {\"kind\": \"values\"}}}\n",
          f);
    fclose(f);
}

static int renames;
static int fail_second_rename(const char *op)
{
    return strcmp(op, "rename") == 0 && ++renames == 2;
}

static void read_ckpt(dcr_ckpt *c, const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    dcr_error err = {0};
    cr_assert_eq(dcr_ckpt_read(c, path, &err), 0, "%s", err.msg);
}

Test(resume, adam_state_and_step_survive_a_checkpoint, .init = tmp_setup, .fini = tmp_teardown)
{
    char spec_path[512], path[512];
    write_resume_spec(spec_path, sizeof spec_path);
    dc_spec s;
    dc_net n;
    dcr_error err = {0};
    cr_assert_eq(dc_spec_load(&s, spec_path, &err), 0, "%s", err.msg);
    cr_assert_eq(dc_net_from_spec(&n, &s, &err), 0, "%s", err.msg);
    dc_jit *j;
    dcr_engine e;
    jit_build(&j, &e, &n);
    dcr_job job;
    dc_spec_job(&job, &s);
    dcr_job_io io;
    memset(&io, 0, sizeof io);
    io.train = s.data.train;
    io.quiet = 1;

    /* straight: 6 epochs */
    snprintf(path, sizeof path, "%s/straight.ckpt", tmpdir);
    io.save = path;
    cr_assert_eq(dcr_job_run(&job, &e, &io, NULL, &err), 0, "%s", err.msg);

    /* the same run, checkpointing every 3 epochs, dies while writing the
     * second checkpoint: the file still holds epoch 3 */
    char mid[512];
    snprintf(mid, sizeof mid, "%s/mid.ckpt", tmpdir);
    io.save = mid;
    io.save_every = 3;
    renames = 0;
    dcr_fault_hook = fail_second_rename;
    int rc = dcr_job_run(&job, &e, &io, NULL, &err);
    dcr_fault_hook = NULL;
    cr_assert_eq(rc, -1, "the injected failure went unnoticed");
    dcr_ckpt c;
    read_ckpt(&c, "mid.ckpt");
    cr_assert_eq(c.epoch, 3);
    cr_assert_eq(c.step, 3 * 6, "21 rows in batches of 4: 6 steps an epoch");
    cr_assert_eq(c.n_state, 2 * n.n_params);
    dcr_ckpt_free(&c);

    /* resumed for the 3 missing epochs */
    snprintf(path, sizeof path, "%s/resumed.ckpt", tmpdir);
    io.init = mid;
    io.save = path;
    io.save_every = 0;
    job.train.epochs = 3;
    cr_assert_eq(dcr_job_run(&job, &e, &io, NULL, &err), 0, "%s", err.msg);

    dcr_ckpt a, b;
    read_ckpt(&a, "straight.ckpt");
    read_ckpt(&b, "resumed.ckpt");
    cr_assert_eq(a.epoch, 6);
    cr_assert_eq(b.epoch, 6);
    cr_assert_eq(a.step, 36);
    cr_assert_eq(b.step, 36);
    cr_assert_eq(memcmp(a.rng, b.rng, sizeof a.rng), 0);
    cr_assert_eq(a.n_state, b.n_state);
    cr_assert_eq(memcmp(a.params, b.params, a.n_params * sizeof(double)), 0,
                 "resuming from a checkpoint does not equal the straight run");
    cr_assert_eq(memcmp(a.state, b.state, a.n_state * sizeof(double)), 0, "Adam's m and v differ");
    dcr_ckpt_free(&a);
    dcr_ckpt_free(&b);

    /* a checkpoint of plain SGD (no state) does not resume Adam */
    dcr_ckpt z;
    read_ckpt(&z, "straight.ckpt");
    z.n_state = 0;
    snprintf(path, sizeof path, "%s/nostate.ckpt", tmpdir);
    cr_assert_eq(dcr_ckpt_save(path, &z, &err), 0, "%s", err.msg);
    dcr_ckpt_free(&z);
    io.init = path;
    cr_assert_eq(dcr_job_run(&job, &e, &io, NULL, &err), -1);
    cr_assert_not_null(strstr(err.msg, "optimizer state"), "%s", err.msg);

    dc_jit_engine_free(&e);
    dc_jit_free(j);
    dc_spec_free(&s);
}

/* A standalone trainer (gcc) takes the same steps as the JIT (tcc): the
 * optimizer's settings reach its main() intact. */
Test(standalone, trainer_equals_jit, .init = tmp_setup, .fini = tmp_teardown)
{
    if (system("command -v cc >/dev/null 2>&1") != 0)
        cr_skip_test("no C compiler");
    char spec_path[512], path[512], cmd[2048];
    write_resume_spec(spec_path, sizeof spec_path);
    dc_spec s;
    dc_net n;
    dcr_error err = {0};
    cr_assert_eq(dc_spec_load(&s, spec_path, &err), 0, "%s", err.msg);
    cr_assert_eq(dc_net_from_spec(&n, &s, &err), 0, "%s", err.msg);
    dcr_job job;
    dc_spec_job(&job, &s);
    dc_emit_opts o = {.strategy = DC_EMIT_UNROLLED, .form = DC_FORM_STANDALONE, .job = &job};
    char *src;
    size_t len;
    cr_assert_eq(dc_emit(&src, &len, &n, &o, &err), 0, "%s", err.msg);
    snprintf(path, sizeof path, "%s/trainer.c", tmpdir);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(src, 1, len, f), len);
    fclose(f);
    free(src);
    snprintf(cmd, sizeof cmd,
             "cd '%s' && cc -O2 -std=c99 -Wall -Wextra -Werror -ffp-contract=off trainer.c -o trainer -lm 2>cc.log && "
             "./trainer --train data.csv --save trainer.ckpt -q >run.log 2>&1",
             tmpdir);
    int rc = system(cmd);
    cr_assert_eq(rc, 0, "building or running the trainer failed (see %s/cc.log, run.log)", tmpdir);

    dc_jit *j;
    dcr_engine e;
    jit_build(&j, &e, &n);
    dcr_job_io io;
    memset(&io, 0, sizeof io);
    io.train = s.data.train;
    io.quiet = 1;
    snprintf(path, sizeof path, "%s/jit.ckpt", tmpdir);
    io.save = path;
    cr_assert_eq(dcr_job_run(&job, &e, &io, NULL, &err), 0, "%s", err.msg);
    dcr_ckpt a, b;
    read_ckpt(&a, "trainer.ckpt");
    read_ckpt(&b, "jit.ckpt");
    cr_assert_eq(a.step, b.step);
    cr_assert_eq(a.n_state, b.n_state);
    cr_assert_eq(memcmp(a.params, b.params, a.n_params * sizeof(double)), 0,
                 "the standalone trainer's parameters differ from the JIT's");
    cr_assert_eq(memcmp(a.state, b.state, a.n_state * sizeof(double)), 0);
    dcr_ckpt_free(&a);
    dcr_ckpt_free(&b);
    dc_jit_engine_free(&e);
    dc_jit_free(j);
    dc_spec_free(&s);
}

/* ---- normal initialisations ------------------------------------------------------------ */

static void init_stats(dcr_init_scheme scheme, dcr_dtype t, double *mean, double *sd, double *want_sd)
{
    dcr_arch a;
    memset(&a, 0, sizeof a);
    a.dtype = t;
    a.n_layers = 1;
    a.sizes[0] = 300;
    a.sizes[1] = 200;
    a.act[1] = DCR_ACT_TANH;
    dcr_init in = {scheme, 0, 5};
    size_t np = dcr_arch_n_params(&a), nw = 300 * 200;
    void *p = malloc(np * dcr_dtype_size(t));
    cr_assert_not_null(p);
    dcr_init_params(p, &a, &in);
    double s1 = 0, s2 = 0;
    for (size_t i = 0; i < nw; i++) {
        double w = t == DCR_F32 ? (double)((float *)p)[i] : ((double *)p)[i];
        s1 += w;
        s2 += w * w;
    }
    for (size_t i = nw; i < np; i++)
        cr_assert_eq(t == DCR_F32 ? (double)((float *)p)[i] : ((double *)p)[i], 0, "biases start at zero");
    *mean = s1 / (double)nw;
    *sd = sqrt(s2 / (double)nw - *mean * *mean);
    *want_sd = scheme == DCR_INIT_XAVIER_NORMAL ? sqrt(2.0 / 500) : sqrt(2.0 / 300);
    free(p);
}

Test(init, normal_schemes_have_the_documented_spread)
{
    dcr_init_scheme schemes[2] = {DCR_INIT_XAVIER_NORMAL, DCR_INIT_HE_NORMAL};
    for (int k = 0; k < 2; k++) {
        double mean, sd, want;
        init_stats(schemes[k], DCR_F64, &mean, &sd, &want);
        /* 60,000 draws: the sample deviation is within 1 % of sigma, the
         * mean within a few sigma / sqrt(n) of 0 */
        cr_expect(fabs(sd / want - 1) < 0.01, "scheme %d: sd %g, expected %g", k, sd, want);
        cr_expect(fabs(mean) < 4 * want / sqrt(60000.0), "scheme %d: mean %g", k, mean);
    }
}

Test(init, normal_draws_are_box_muller_on_the_stream)
{
    /* the first weight from two uniforms of the seeded stream, and float32
     * is the float64 value rounded */
    dcr_arch a;
    memset(&a, 0, sizeof a);
    a.dtype = DCR_F64;
    a.n_layers = 1;
    a.sizes[0] = 4;
    a.sizes[1] = 2;
    a.act[1] = DCR_ACT_IDENTITY;
    dcr_init in = {DCR_INIT_HE_NORMAL, 0, 77};
    double p[10];
    float pf[10];
    dcr_init_params(p, &a, &in);
    a.dtype = DCR_F32;
    dcr_init_params(pf, &a, &in);
    dcr_rng r;
    dcr_rng_seed(&r, 77);
    for (int i = 0; i < 8; i++) {
        double u1 = dcr_rng_uniform(&r), u2 = dcr_rng_uniform(&r);
        double w = sqrt(-2.0 * log(1.0 - u1)) * cos(6.283185307179586 * u2) * sqrt(2.0 / 4);
        cr_assert_eq(p[i], w, "weight %d", i);
        cr_assert_eq(pf[i], (float)w, "float32 weight %d", i);
    }
    cr_assert_eq(p[8], 0);
    cr_assert_eq(p[9], 0);
}

Test(spec, normal_init_schemes)
{
    const char *t = "{\"name\": \"n\", \"input\": 2, \"layers\": [{\"units\": 1, \"activation\": \"identity\"}], "
                    "\"loss\": \"mse\", \"init\": {\"scheme\": \"he_normal\"}}";
    dc_spec s;
    dcr_error err = {0};
    cr_assert_eq(dc_spec_parse(&s, t, strlen(t), "t.json", &err), 0, "%s", err.msg);
    cr_expect_eq(s.init.scheme, DCR_INIT_HE_NORMAL);
    dc_spec_free(&s);
    t = "{\"name\": \"n\", \"input\": 2, \"layers\": [{\"units\": 1, \"activation\": \"identity\"}], "
        "\"loss\": \"mse\", \"init\": {\"scheme\": \"xavier_normal\", \"range\": 1}}";
    cr_assert_eq(dc_spec_parse(&s, t, strlen(t), "t.json", &err), -1);
    cr_expect_not_null(strstr(err.msg, "init.range: range applies only to the scheme \"uniform\""), "%s", err.msg);
}
