/* jit.c: the backend-independent side of the JIT: source checks, symbol
 * lookup and the engine that runs generated code. */
#define _POSIX_C_SOURCE 200809L
#include <string.h>
#include <time.h>

#include "internal.h"
#include "jit.h"

struct dc_jit {
    dc_backend backend;
    void *state;
    double compile_ms;
};

static double dc_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int dc_jit_compile_opts(dc_jit **out, const dc_jit_opts *o, const char *src, size_t len, dcr_error *err)
{
    *out = NULL;
    dc_backend backend = o ? o->backend : DC_JIT_TCC;
    if (backend != DC_JIT_TCC && backend != DC_JIT_CC)
        return dcr_fail(err, DCR_ERR_USAGE, "unknown JIT backend %d", (int)backend);
    if (len > DC_MAX_SOURCE_BYTES)
        return dcr_fail(err, DCR_ERR_LIMIT, "%zu bytes of source, more than the limit DC_MAX_SOURCE_BYTES = %u",
                        len, (unsigned)DC_MAX_SOURCE_BYTES);
    if (memchr(src, 0, len) || src[len] != 0)
        return dcr_fail(err, DCR_ERR_USAGE, "the source must be %zu bytes of text followed by one NUL", len);
    dc_jit *j = calloc(1, sizeof *j);
    if (!j)
        return dcr_fail(err, DCR_ERR_NOMEM, "out of memory");
    j->backend = backend;
    double t0 = dc_now();
    int rc = backend == DC_JIT_TCC ? dc_jit_tcc_compile(&j->state, src, err)
                                   : dc_jit_cc_compile(&j->state, src, len, o, err);
    if (rc) {
        free(j);
        return -1;
    }
    j->compile_ms = 1e3 * (dc_now() - t0);
    *out = j;
    return 0;
}

int dc_jit_compile(dc_jit **out, dc_backend backend, const char *src, size_t len, dcr_error *err)
{
    dc_jit_opts o = {.backend = backend};
    return dc_jit_compile_opts(out, &o, src, len, err);
}

void *dc_jit_symbol(dc_jit *j, const char *name)
{
    return j->backend == DC_JIT_TCC ? dc_jit_tcc_symbol(j->state, name) : dc_jit_cc_symbol(j->state, name);
}

void dc_jit_get_info(const dc_jit *j, dc_jit_info *out)
{
    memset(out, 0, sizeof *out);
    out->backend = j->backend;
    out->compile_ms = j->compile_ms;
    if (j->backend == DC_JIT_TCC)
        out->code_bytes = dc_jit_tcc_code_bytes(j->state);
    else
        dc_jit_cc_info(j->state, &out->code_bytes, &out->cache_hit);
}

void dc_jit_free(dc_jit *j)
{
    if (!j)
        return;
    if (j->backend == DC_JIT_TCC)
        dc_jit_tcc_free(j->state);
    else
        dc_jit_cc_free(j->state);
    free(j);
}

/* ---- the engine ------------------------------------------------------------------ */

typedef struct {
    void (*forward)(void *out, const void *params, const void *x);
    double (*loss_grad)(void *grad, const void *params, const void *x, const void *y);
    double (*batch_grad)(void *grad, const void *params, const void *X, const void *Y, int n);
    void (*update)(void *params, void *state, const void *grad, double lr, double grad_scale, double t);
    double (*loss_grad_trace)(void *grad, const void *params, const void *x, const void *y, double *delta_abs);
    double (*sgd_step)(void *params, const void *x, const void *y, double lr);
} gen_fns;

static void eng_forward(void *self, void *out, const void *params, const void *x)
{
    ((gen_fns *)self)->forward(out, params, x);
}

static double eng_loss_grad(void *self, void *grad, const void *params, const void *x, const void *y)
{
    return ((gen_fns *)self)->loss_grad(grad, params, x, y);
}

static double eng_batch_grad(void *self, void *grad, const void *params, const void *X, const void *Y, int n)
{
    return ((gen_fns *)self)->batch_grad(grad, params, X, Y, n);
}

static void eng_update(void *self, void *params, void *state, const void *grad, const dcr_step *s)
{
    ((gen_fns *)self)->update(params, state, grad, s->lr, s->grad_scale, (double)s->t);
}

static double eng_loss_grad_trace(void *self, void *grad, const void *params, const void *x, const void *y,
                                  double *delta_abs)
{
    return ((gen_fns *)self)->loss_grad_trace(grad, params, x, y, delta_abs);
}

static double eng_sgd_step(void *self, void *params, const void *x, const void *y, double lr)
{
    return ((gen_fns *)self)->sgd_step(params, x, y, lr);
}

static void *lookup(dc_jit *j, const char *prefix, const char *suffix, dcr_error *err)
{
    char name[DC_NAME_MAX + 32];
    snprintf(name, sizeof name, "%s%s", prefix, suffix);
    void *p = dc_jit_symbol(j, name);
    if (!p)
        dcr_fail(err, DCR_ERR_JIT, "the compiled code has no function %s", name);
    return p;
}

int dc_jit_engine(dcr_engine *out, dc_jit *j, const dc_net *net, dcr_error *err)
{
    memset(out, 0, sizeof *out);
    gen_fns *g = calloc(1, sizeof *g);
    if (!g)
        return dcr_fail(err, DCR_ERR_NOMEM, "out of memory");
    static const char *const names[4] = {"_forward_v", "_loss_grad_v", "_batch_grad_v", "_update_v"};
    void *sym[4];
    for (int i = 0; i < 4; i++)
        if (!(sym[i] = lookup(j, net->name, names[i], err))) {
            free(g);
            return -1;
        }
    g->forward = (void (*)(void *, const void *, const void *))sym[0];
    g->loss_grad = (double (*)(void *, const void *, const void *, const void *))sym[1];
    g->batch_grad = (double (*)(void *, const void *, const void *, const void *, int))sym[2];
    g->update = (void (*)(void *, void *, const void *, double, double, double))sym[3];
    out->self = g;
    out->arch = &net->arch;
    out->n_state = net->n_state;
    out->forward = eng_forward;
    out->loss_grad = eng_loss_grad;
    out->batch_grad = eng_batch_grad;
    out->update = eng_update;
    /* the delta trace (--trace-deltas); every strategy so far emits it */
    void *tr = lookup(j, net->name, "_loss_grad_trace_v", err);
    if (!tr) {
        free(g);
        memset(out, 0, sizeof *out);
        return -1;
    }
    g->loss_grad_trace = (double (*)(void *, const void *, const void *, const void *, double *))tr;
    out->loss_grad_trace = eng_loss_grad_trace;
    /* the fused per-sample step: every strategy emits it too */
    void *ss = lookup(j, net->name, "_sgd_step_v", err);
    if (!ss) {
        free(g);
        memset(out, 0, sizeof *out);
        return -1;
    }
    g->sgd_step = (double (*)(void *, const void *, const void *, double))ss;
    out->sgd_step = eng_sgd_step;
    return 0;
}

void dc_jit_engine_free(dcr_engine *e)
{
    free(e->self);
    memset(e, 0, sizeof *e);
}
