/* emit_net.c: the network's functions around the layers' ones: P_forward,
 * P_loss_grad (and the traced variant) calling each layer's P_fwdL, P_out,
 * P_bwdL, P_gradL in turn, and the optimizer step P_update. Each layer
 * comes from the strategy chosen for it (c->loops[l]: loops, else
 * unrolled); the bwd function of layer l runs through W(l+1), so it follows
 * layer l+1's choice. */
#include "internal.h"

/* Locals for every layer: z, a (and delta when with_delta). */
static void emit_locals(dc_buf *b, const dc_emit_ctx *c, int with_delta)
{
    const dcr_arch *a = &c->net->arch;
    for (int l = 1; l <= a->n_layers; l++) {
        dc_buf_printf(b, "    %s z%d[%d], a%d[%d]", c->T, l, a->sizes[l], l, a->sizes[l]);
        if (with_delta)
            dc_buf_printf(b, ", d%d[%d]", l, a->sizes[l]);
        dc_buf_puts(b, ";\n");
    }
    if (a->act[a->n_layers] == DCR_ACT_SOFTMAX)
        dc_buf_printf(b, "    %s st[2];\n", c->T);
}

static void emit_fwd_calls(dc_buf *b, const dc_emit_ctx *c)
{
    const dcr_arch *a = &c->net->arch;
    for (int l = 1; l <= a->n_layers; l++) {
        char in[16];
        if (l == 1)
            snprintf(in, sizeof in, "x");
        else
            snprintf(in, sizeof in, "a%d", l - 1);
        if (a->act[l] == DCR_ACT_SOFTMAX)
            dc_buf_printf(b, "    %s_fwd%d(z%d, a%d, st, p, %s);\n", c->P, l, l, l, in);
        else
            dc_buf_printf(b, "    %s_fwd%d(z%d, a%d, p, %s);\n", c->P, l, l, l, in);
    }
}

/* the forward pass, the loss into loss with the output delta, and the
 * delta recursion, as calls of the layers' functions */
static void emit_fwd_out_bwd_calls(dc_buf *b, const dc_emit_ctx *c)
{
    const char *P = c->P;
    int L = c->net->arch.n_layers;
    emit_fwd_calls(b, c);
    if (c->net->arch.loss == DCR_LOSS_CROSS_ENTROPY)
        dc_buf_printf(b, "    loss = %s_out(d%d, z%d, a%d, st, y);\n", P, L, L, L);
    else
        dc_buf_printf(b, "    loss = %s_out(d%d, z%d, a%d, y);\n", P, L, L, L);
    for (int l = L - 1; l >= 1; l--)
        dc_buf_printf(b, "    %s_bwd%d(d%d, z%d, a%d, p, d%d);\n", P, l, l, l, l, l + 1);
}

/* |delta(l)[k]| into delta_abs[l], without libm */
static void emit_trace_unit(dc_buf *b, int l, int k)
{
    dc_buf_printf(b, "    delta_abs[%d] += d%d[%d] < 0 ? -d%d[%d] : d%d[%d];\n", l, l, k, l, k, l, k);
}

/* P_loss_grad, or with trace P_loss_grad_trace (which also adds
 * sum_k |delta(l)[k]| into delta_abs[l], k in order, in double) and its
 * void-pointer variant P_loss_grad_trace_v. */
static void emit_loss_grad(dc_buf *b, const dc_emit_ctx *c, int trace)
{
    const dcr_arch *a = &c->net->arch;
    const char *T = c->T, *P = c->P;
    int L = a->n_layers;
    if (trace) {
        dc_buf_printf(b, "/* %s_loss_grad that also adds sum_k |delta(l)[k]| into delta_abs[l], l = 1..%d */\n", P, L);
        dc_buf_printf(b, "%s %s_loss_grad_trace(%s *g, const %s *p, const %s *x, const %s *y, double *delta_abs)\n{\n",
                      T, P, T, T, T, T);
    } else {
        dc_buf_puts(b, "/* g += dE/dp for one sample (x, y); returns E */\n");
        dc_buf_printf(b, "%s %s_loss_grad(%s *g, const %s *p, const %s *x, const %s *y)\n{\n", T, P, T, T, T, T);
    }
    emit_locals(b, c, 1);
    dc_buf_printf(b, "    %s loss;\n", T);
    int any_loops = 0;
    for (int l = 1; l <= L; l++)
        any_loops |= c->loops[l];
    if (trace && any_loops)
        dc_buf_puts(b, "    int k;\n");
    emit_fwd_out_bwd_calls(b, c);
    for (int l = 1; l <= L; l++) {
        if (l == 1)
            dc_buf_printf(b, "    %s_grad1(g, d1, x);\n", P);
        else
            dc_buf_printf(b, "    %s_grad%d(g, d%d, a%d);\n", P, l, l, l - 1);
    }
    if (trace)
        for (int l = 1; l <= L; l++) {
            if (c->loops[l]) {
                dc_buf_printf(b, "    for (k = 0; k < %d; k++)\n", a->sizes[l]);
                dc_buf_printf(b, "        delta_abs[%d] += d%d[k] < 0 ? -d%d[k] : d%d[k];\n", l, l, l, l);
            } else {
                for (int k = 0; k < a->sizes[l]; k++)
                    emit_trace_unit(b, l, k);
            }
        }
    dc_buf_puts(b, "    return loss;\n}\n\n");
    if (trace)
        dc_buf_printf(b,
                      "double %s_loss_grad_trace_v(void *g, const void *p, const void *x, const void *y, double *delta_abs)\n"
                      "{\n    return %s_loss_grad_trace((%s *)g, (const %s *)p, (const %s *)x, (const %s *)y, delta_abs);\n}\n\n",
                      P, P, T, T, T, T);
}

/* ---- the optimizer step (P_update) ----------------------------------------
 * The canonical order of ref_update in runtime/reference_impl.h, statement for
 * statement. Plain SGD is one statement per parameter; the other optimizers
 * write their per-parameter statements once, as the macro DC_UPD(i), and
 * invoke it once per parameter with a constant index: the compiled code is
 * the same as writing them out, and the source stays within
 * DC_MAX_SOURCE_BYTES for every network (Adam's five statements would not).
 * Hyper-parameters are literals that read back exactly: %.17g of the double
 * where the reference computes in double (pow, 1 - lr * wd), the value
 * rounded to T where it computes in T, held in T locals declared once (tcc
 * would give every use of a literal its own constant and relocation: a
 * third more memory and time for Adam). */

/* The update as a loop over blocks of UPD_BLOCK parameters, each written
 * out (fmt takes the index twice, as text), and the rest after it. */
#define UPD_BLOCK 16
static void update_blocked(dc_buf *b, size_t np, const char *fmt)
{
    char ix[48];
    size_t full = np / UPD_BLOCK * UPD_BLOCK;
    dc_buf_puts(b, "    long i;\n");
    if (full) {
        dc_buf_printf(b, "    for (i = 0; i < %zu; i += %d) {\n", full, UPD_BLOCK);
        for (int r = 0; r < UPD_BLOCK; r++) {
            snprintf(ix, sizeof ix, "i + %d", r);
            dc_buf_puts(b, "        ");
            dc_buf_printf(b, fmt, ix, ix);
            dc_buf_puts(b, "\n");
        }
        dc_buf_puts(b, "    }\n");
    }
    for (size_t r = full; r < np; r++) {
        snprintf(ix, sizeof ix, "%zu", r);
        dc_buf_puts(b, "    ");
        dc_buf_printf(b, fmt, ix, ix);
        dc_buf_puts(b, "\n");
    }
    dc_buf_puts(b, "    (void)i;\n");
}

static void emit_update(dc_buf *b, const dc_emit_ctx *c)
{
    const dc_net *n = c->net;
    const dcr_optim *o = &n->opt;
    const char *P = c->P, *T = c->T;
    size_t np = n->n_params;
    int wd = o->weight_decay > 0;
    if (o->type == DCR_OPT_SGD && !(o->momentum > 0) && !wd) {
        dc_buf_puts(b, "/* one optimizer step (plain SGD): p -= (lr * grad_scale) * g, where g is the\n"
                       " * gradient summed over a batch and grad_scale 1/n (times clipping) */\n");
        dc_buf_printf(b, "void %s_update(%s *p, %s *state, const %s *g, double lr, double grad_scale, double t)\n{\n",
                      P, T, T, T);
        dc_buf_printf(b, "    %s scale = (%s)(lr * grad_scale);\n    (void)state;\n    (void)t;\n", T, T);
        if (c->update_loops == DC_LAYER_KERNELS)
            dc_buf_printf(b, "    dck_sgd%s(p, g, scale, %zu);\n", c->lit[0] ? "f" : "d", np);
        else if (c->update_loops == DC_LAYER_BLOCKED || c->update_loops == DC_LAYER_KERNELS)
            update_blocked(b, np, "p[%s] -= scale * g[%s];");
        else if (c->update_loops)
            dc_buf_printf(b, "    long i;\n    for (i = 0; i < %zu; i++)\n        p[i] -= scale * g[i];\n", np);
        else
            for (size_t i = 0; i < np; i++)
                dc_buf_printf(b, "    p[%zu] -= scale * g[%zu];\n", i, i);
        dc_buf_puts(b, "}\n\n");
        return;
    }
    char k_wd[48], k_a[48], k_b[48], k_c1[48], k_c2[48], k_eps[48];
    dc_opt_const(k_wd, sizeof k_wd, c, o->weight_decay);
    if (o->type == DCR_OPT_SGD) {
        int mom = o->momentum > 0;
        dc_opt_const(k_a, sizeof k_a, c, o->momentum);
        dc_buf_printf(b, "/* one optimizer step: sgd, momentum %.17g%s, weight_decay %.17g (L2 added to the\n"
                         " * gradient)%s; lr, grad_scale (1/n, times clipping) at run time. The order of\n"
                         " * ref_update in runtime/reference_impl.h. */\n",
                      o->momentum, o->nesterov ? " (nesterov)" : "", o->weight_decay,
                      mom ? "; state: the momentum buffer b[N_PARAMS]" : "");
        dc_buf_printf(b, "void %s_update(%s *p, %s *state, const %s *g, double lr, double grad_scale, double t)\n{\n",
                      P, T, T, T);
        if (mom)
            dc_buf_printf(b, "    %s *b = state;\n", T);
        else
            dc_buf_puts(b, "    (void)state;\n");
        dc_buf_printf(b, "    %s gs = (%s)grad_scale, lr_ = (%s)lr, d;\n", T, T, T);
        if (wd)
            dc_buf_printf(b, "    %s wd = %s;\n", T, k_wd);
        if (mom)
            dc_buf_printf(b, "    %s mom = %s;\n", T, k_a);
        dc_buf_puts(b, "    (void)t;\n#define DC_UPD(i) \\\n    d = gs * g[i]; \\\n");
        if (wd)
            dc_buf_puts(b, "    d = d + wd * p[i]; \\\n");
        if (mom) {
            dc_buf_puts(b, "    b[i] = mom * b[i] + d; \\\n");
            if (o->nesterov)
                dc_buf_puts(b, "    d = d + mom * b[i]; \\\n    p[i] = p[i] - lr_ * d;\n");
            else
                dc_buf_puts(b, "    p[i] = p[i] - lr_ * b[i];\n");
        } else {
            dc_buf_puts(b, "    p[i] = p[i] - lr_ * d;\n");
        }
    } else {
        int adamw = o->type == DCR_OPT_ADAMW;
        dc_opt_const(k_a, sizeof k_a, c, o->beta1);
        dc_opt_const(k_b, sizeof k_b, c, o->beta2);
        dc_opt_const(k_c1, sizeof k_c1, c, 1 - o->beta1);
        dc_opt_const(k_c2, sizeof k_c2, c, 1 - o->beta2);
        dc_opt_const(k_eps, sizeof k_eps, c, o->eps);
        dc_buf_printf(b, "/* one optimizer step: %s, betas (%.17g, %.17g), eps %.17g, weight_decay %.17g\n"
                         " * (%s); state: m[N_PARAMS] then v[N_PARAMS]; lr, grad_scale (1/n, times\n"
                         " * clipping) and the 1-based step t at run time. The order of ref_update in\n"
                         " * runtime/reference_impl.h. */\n",
                      adamw ? "adamw" : "adam", o->beta1, o->beta2, o->eps, o->weight_decay,
                      adamw ? "decoupled" : "L2 added to the gradient");
        dc_buf_puts(b, "double pow(double, double);\ndouble sqrt(double);\n");
        if (c->lit[0])
            dc_buf_puts(b, "float sqrtf(float);\n");
        dc_buf_printf(b, "void %s_update(%s *p, %s *state, const %s *g, double lr, double grad_scale, double t)\n{\n",
                      P, T, T, T);
        dc_buf_printf(b, "    %s *m = state, *v = state + %zu;\n", T, np);
        dc_buf_printf(b, "    %s gs = (%s)grad_scale;\n", T, T);
        dc_buf_printf(b, "    %s ss = (%s)(lr / (1 - pow(%.17g, t)));\n", T, T, o->beta1);
        dc_buf_printf(b, "    %s bc = (%s)sqrt(1 - pow(%.17g, t));\n", T, T, o->beta2);
        if (adamw && wd)
            dc_buf_printf(b, "    %s dec = (%s)(1 - lr * %.17g);\n", T, T, o->weight_decay);
        dc_buf_printf(b, "    %s b1 = %s, c1 = %s, b2 = %s, c2 = %s, eps = %s;\n", T, k_a, k_c1, k_b, k_c2, k_eps);
        if (wd && !adamw)
            dc_buf_printf(b, "    %s wd = %s;\n", T, k_wd);
        dc_buf_printf(b, "    %s d, den;\n", T);
        dc_buf_puts(b, "#define DC_UPD(i) \\\n    d = gs * g[i]; \\\n");
        if (wd && !adamw)
            dc_buf_puts(b, "    d = d + wd * p[i]; \\\n");
        if (wd && adamw)
            dc_buf_puts(b, "    p[i] = p[i] * dec; \\\n");
        dc_buf_puts(b, "    m[i] = b1 * m[i] + c1 * d; \\\n");
        dc_buf_puts(b, "    v[i] = b2 * v[i] + c2 * d * d; \\\n");
        dc_buf_printf(b, "    den = %s(v[i]) / bc + eps; \\\n", c->lit[0] ? "sqrtf" : "sqrt");
        dc_buf_puts(b, "    p[i] = p[i] - ss * m[i] / den;\n");
    }
    if (c->update_loops == DC_LAYER_BLOCKED || c->update_loops == DC_LAYER_KERNELS)
        update_blocked(b, np, "DC_UPD(%s)");
    else if (c->update_loops)
        dc_buf_printf(b, "    long i;\n    for (i = 0; i < %zu; i++) {\n        DC_UPD(i)\n    }\n", np);
    else
        for (size_t i = 0; i < np; i++)
            dc_buf_printf(b, "    DC_UPD(%zu)\n", i);
    dc_buf_puts(b, "#undef DC_UPD\n}\n\n");
}

/* P_sgdL: the fused plain-SGD update of layer l from its delta and input:
 * p -= scale * (d a^T), the product the gradient would hold. Under the
 * libtcc JIT one call of the layer kernel (vectorised by gcc; written out,
 * an element cost libtcc a dozen instructions); for code a C compiler
 * builds, written out for unrolled layers of up to DC_SGD_UNROLL_MAX
 * weights, as loops otherwise (so the source of every network stays
 * within DC_MAX_SOURCE_BYTES). */
static void emit_sgd_layer(dc_buf *b, const dc_emit_ctx *c, int l)
{
    const dc_net *n = c->net;
    const char *T = c->T;
    int nin = n->arch.sizes[l - 1], nout = n->arch.sizes[l];
    size_t W = n->w_off[l], B = n->b_off[l];
    if (dc_lanes_layer(c, l)) {
        /* cc's fast mode: gcc vectorises a loop over single rows across
         * four rows (a transpose per four weights) once it has unrolled the
         * row; with two rows written out per iteration it keeps its vectors
         * along the rows. (p, d and in never overlap: d is the step's own,
         * in the step's own or the sample's, which is not in the
         * parameters.) */
        dc_buf_printf(b, "static void %s_sgd%d(%s *restrict p, const %s *restrict d, const %s *restrict in, %s scale)\n{\n",
                      c->P, l, T, T, T, T);
        dc_buf_printf(b, "    %s *w = p + %zu, *bb = p + %zu;\n    int k;\n", T, W, B);
        int full = nout / 2 * 2;
        if (full) {
            dc_buf_printf(b, "    for (k = 0; k < %d; k += 2) {\n        %s *wk = w + k * %d;\n"
                             "        %s d0 = scale * d[k], d1 = scale * d[k + 1];\n", full, T, nin, T);
            for (int r = 0; r < 2; r++)
                for (int j = 0; j < nin; j++)
                    dc_buf_printf(b, "        wk[%d] -= d%d * in[%d];\n", r * nin + j, r, j);
            dc_buf_puts(b, "    }\n");
        }
        if (nout > full) {
            dc_buf_printf(b, "    {\n        %s *wk = w + %d, d0 = scale * d[%d];\n", T, full * nin, full);
            for (int j = 0; j < nin; j++)
                dc_buf_printf(b, "        wk[%d] -= d0 * in[%d];\n", j, j);
            dc_buf_puts(b, "    }\n");
        }
        dc_buf_printf(b, "    for (k = 0; k < %d; k++)\n        bb[k] -= scale * d[k];\n}\n\n", nout);
        return;
    }
    dc_buf_printf(b, "static void %s_sgd%d(%s *p, const %s *d, const %s *in, %s scale)\n{\n", c->P, l, T, T, T, T);
    if (c->tcc_jit && (c->loops[l] == DC_LAYER_UNROLLED || c->loops[l] == DC_LAYER_KERNELS)) {
        dc_buf_printf(b, "    dck_sgdlayer%s(p + %zu, p + %zu, d, in, scale, %d, %d);\n", c->lit[0] ? "f" : "d", W, B,
                      nout, nin);
    } else if (c->loops[l] == DC_LAYER_UNROLLED && (size_t)nin * (size_t)nout <= DC_SGD_UNROLL_MAX) {
        dc_buf_printf(b, "    %s dk;\n", T);
        for (int k = 0; k < nout; k++) {
            dc_buf_printf(b, "    dk = d[%d];\n    p[%zu] -= scale * dk;\n", k, B + (size_t)k);
            for (int j = 0; j < nin; j++)
                dc_buf_printf(b, "    p[%zu] -= scale * (dk * in[%d]);\n", W + (size_t)k * (size_t)nin + (size_t)j, j);
        }
    } else if (c->loops[l] == DC_LAYER_KERNELS) {
        dc_buf_printf(b,
                      "    int k;\n"
                      "    for (k = 0; k < %d; k++) {\n"
                      "        p[%zu + k] -= scale * d[k];\n"
                      "        dck_sgdrow%s(p + %zu + k * %d, in, d[k], scale, %d);\n"
                      "    }\n",
                      nout, B, c->lit[0] ? "f" : "d", W, nin, nin);
    } else {
        dc_buf_printf(b,
                      "    %s *w = p + %zu, *bb = p + %zu;\n"
                      "    int k, j;\n"
                      "    for (k = 0; k < %d; k++) {\n"
                      "        %s dk = d[k], *wk = w + k * %d;\n"
                      "        bb[k] -= scale * dk;\n"
                      "        for (j = 0; j < %d; j++)\n"
                      "            wk[j] -= scale * (dk * in[j]);\n"
                      "    }\n",
                      T, W, B, nout, T, nin, nin);
    }
    dc_buf_puts(b, "}\n\n");
}

/* P_sgd_step: P_loss_grad and a plain-SGD update at lr in one pass, for
 * batches of one sample (dcr_engine.sgd_step). Every delta is computed
 * before any weight changes. */
static void emit_sgd_step(dc_buf *b, const dc_emit_ctx *c)
{
    const dcr_arch *a = &c->net->arch;
    const char *T = c->T, *P = c->P;
    int L = a->n_layers;
    for (int l = 1; l <= L; l++)
        emit_sgd_layer(b, c, l);
    dc_buf_puts(b, "/* one plain-SGD step on one sample: p -= lr * dE/dp, fused; returns E */\n");
    dc_buf_printf(b, "double %s_sgd_step(%s *p, const %s *x, const %s *y, double lr)\n{\n", P, T, T, T);
    emit_locals(b, c, 1);
    dc_buf_printf(b, "    %s loss, scale = (%s)lr;\n", T, T);
    emit_fwd_out_bwd_calls(b, c);
    for (int l = 1; l <= L; l++) {
        if (l == 1)
            dc_buf_printf(b, "    %s_sgd1(p, d1, x, scale);\n", P);
        else
            dc_buf_printf(b, "    %s_sgd%d(p, d%d, a%d, scale);\n", P, l, l, l - 1);
    }
    dc_buf_puts(b, "    return loss;\n}\n\n");
    dc_buf_printf(b, "double %s_sgd_step_v(void *p, const void *x, const void *y, double lr)\n"
                     "{\n    return %s_sgd_step((%s *)p, (const %s *)x, (const %s *)y, lr);\n}\n\n",
                  P, P, T, T, T);
}

void dc_emit_net(dc_buf *b, const dc_emit_ctx *c)
{
    const dcr_arch *a = &c->net->arch;
    const char *T = c->T, *P = c->P;
    int L = a->n_layers;
    for (int l = 1; l <= L; l++)
        (c->loops[l] ? dc_loops_fwd : dc_unrolled_fwd)(b, c, l);
    (c->loops[L] ? dc_loops_out : dc_unrolled_out)(b, c);
    for (int l = L - 1; l >= 1; l--)
        (c->loops[l + 1] ? dc_loops_bwd : dc_unrolled_bwd)(b, c, l);
    for (int l = 1; l <= L; l++)
        (c->loops[l] ? dc_loops_grad : dc_unrolled_grad)(b, c, l);

    dc_buf_printf(b, "/* out[%d] = the network's output for x[%d] */\n", a->sizes[L], a->sizes[0]);
    dc_buf_printf(b, "void %s_forward(%s *out, const %s *p, const %s *x)\n{\n", P, T, T, T);
    emit_locals(b, c, 0);
    emit_fwd_calls(b, c);
    for (int k = 0; k < a->sizes[L]; k++)
        dc_buf_printf(b, "    out[%d] = a%d[%d];\n", k, L, k);
    dc_buf_puts(b, "}\n\n");

    emit_loss_grad(b, c, 0);
    emit_loss_grad(b, c, 1);
    emit_update(b, c);
    emit_sgd_step(b, c);
}
