/* emit_unrolled.c: the fully unrolled strategy. Every unit, weight,
 * gradient and update is a statement of its own with constant indices, in
 * the canonical order of runtime/reference.c, so that float64 results agree
 * with the reference engine bit for bit. Statements are flat single
 * operations on arrays: tcc limits expression depth and gives every scalar
 * local a stack slot of its own.
 *
 * Within a layer, consecutive statements update different units (input-
 * major order): tcc keeps every array element in memory, so a unit-major
 * order would chain each statement to the store of the one before.
 *
 * Per layer l the file has static functions P_fwdL (z, a from the layer's
 * input), P_bwdL (delta of layer l from delta of l+1) and P_gradL (gradient
 * of W(l), b(l)); P_out computes the loss and the output delta. */
#include <string.h>

#include "internal.h"

/* A constant of type T as text that reads back exactly: the value rounded
 * to T, printed with enough digits (and the f suffix for float). Only
 * validated numbers and the compiler's own constants come here. */
static void fmt_const(char *out, size_t cap, const dc_emit_ctx *c, double v)
{
    if (c->lit[0])
        snprintf(out, cap, "%.9gf", (double)(float)v);
    else
        snprintf(out, cap, "%.17g", v);
    /* "1f" is not a float literal: make sure there is a point or exponent */
    if (!strpbrk(out, ".en")) {
        size_t n = strlen(out) - (c->lit[0] ? 1 : 0);
        char tail[4];
        snprintf(tail, sizeof tail, "%s", c->lit);
        if (n + 3 < cap)
            snprintf(out + n, cap - n, ".0%s", tail);
    }
}

/* The gelu constants of runtime/reference_impl.h */
#define GELU_K 0.7978845608028654 /* sqrt(2/pi) */
#define GELU_C 0.044715
#define GELU_C3 0.134145          /* 3 * 0.044715 */

/* Declares the constants (and scratch) that the statements of activation
 * act use, as locals of type T at the top of a function: al (leaky_relu,
 * elu), gh, gk, gc (gelu), and for its derivative (deriv) also gc3 and th.
 * Locals keep each unit's statement short. */
static void emit_act_locals(dc_buf *b, const dc_emit_ctx *c, dcr_act act, double alpha, int deriv)
{
    char v1[40], v2[40], v3[40], v4[40];
    if (act == DCR_ACT_LEAKY_RELU || act == DCR_ACT_ELU) {
        fmt_const(v1, sizeof v1, c, alpha);
        dc_buf_printf(b, "    const %s al = %s;\n", c->T, v1);
    } else if (act == DCR_ACT_GELU) {
        fmt_const(v1, sizeof v1, c, 0.5);
        fmt_const(v2, sizeof v2, c, GELU_K);
        fmt_const(v3, sizeof v3, c, GELU_C);
        dc_buf_printf(b, "    const %s gh = %s, gk = %s, gc = %s", c->T, v1, v2, v3);
        if (deriv) {
            fmt_const(v4, sizeof v4, c, GELU_C3);
            dc_buf_printf(b, ", gc3 = %s;\n    %s th", v4, c->T);
        }
        dc_buf_puts(b, ";\n");
    }
}

/* The derivative factor of a hidden or output activation applied to t:
 * writes "DST = t * sigma'" in the canonical form (the order of
 * runtime/reference_impl.h's act_deriv), with the locals of
 * emit_act_locals(..., deriv = 1). */
static void emit_deriv(dc_buf *b, const dc_emit_ctx *c, dcr_act act, const char *dst, const char *t, int j)
{
    switch (act) {
    case DCR_ACT_IDENTITY:
        dc_buf_printf(b, "    %s[%d] = %s;\n", dst, j, t);
        break;
    case DCR_ACT_SIGMOID:
        dc_buf_printf(b, "    %s[%d] = %s * (a[%d] * (1 - a[%d]));\n", dst, j, t, j, j);
        break;
    case DCR_ACT_TANH:
        dc_buf_printf(b, "    %s[%d] = %s * (1 - a[%d] * a[%d]);\n", dst, j, t, j, j);
        break;
    case DCR_ACT_RELU:
        dc_buf_printf(b, "    %s[%d] = z[%d] > 0 ? %s : 0;\n", dst, j, j, t);
        break;
    case DCR_ACT_LEAKY_RELU:
        dc_buf_printf(b, "    %s[%d] = z[%d] > 0 ? %s : %s * al;\n", dst, j, j, t, t);
        break;
    case DCR_ACT_ELU:
        dc_buf_printf(b, "    %s[%d] = z[%d] > 0 ? %s : %s * (al * %s(z[%d]));\n", dst, j, j, t, t, c->exp, j);
        break;
    case DCR_ACT_SOFTPLUS:
        dc_buf_printf(b, "    %s[%d] = %s * (1 / (1 + %s(-z[%d])));\n", dst, j, t, c->exp, j);
        break;
    case DCR_ACT_GELU:
        dc_buf_printf(b, "    th = %s(gk * (z[%d] + gc * ((z[%d] * z[%d]) * z[%d])));\n", c->tanh, j, j, j, j);
        dc_buf_printf(b, "    %s[%d] = %s * ((gh * (1 + th)) + ((gh * z[%d]) * (1 - th * th)) * (gk * (1 + gc3 * (z[%d] * z[%d]))));\n",
                      dst, j, t, j, j, j);
        break;
    case DCR_ACT_SOFTMAX:
        DC_DIE("softmax has no separate derivative (fused with cross_entropy)");
    }
}

/* "v > 0 ? v + log1p(exp(-v)) : log1p(exp(v))" for the expression v
 * (a plain array element or local): softplus, as reference_impl.h has it */
static void emit_softplus(dc_buf *b, const dc_emit_ctx *c, const char *dst, const char *v)
{
    dc_buf_printf(b, "    %s = %s > 0 ? %s + %s(%s(-%s)) : %s(%s(%s));\n", dst, v, v, c->log1p, c->exp, v,
                  c->log1p, c->exp, v);
}

/* a[k] = sigma(z[k]) for an element-wise activation (softmax is done by
 * emit_fwd), with the locals of emit_act_locals(..., deriv = 0) */
static void emit_act_fwd(dc_buf *b, const dc_emit_ctx *c, dcr_act act, int k)
{
    switch (act) {
    case DCR_ACT_IDENTITY:
        dc_buf_printf(b, "    a[%d] = z[%d];\n", k, k);
        break;
    case DCR_ACT_SIGMOID:
        dc_buf_printf(b, "    a[%d] = 1 / (1 + %s(-z[%d]));\n", k, c->exp, k);
        break;
    case DCR_ACT_TANH:
        dc_buf_printf(b, "    a[%d] = %s(z[%d]);\n", k, c->tanh, k);
        break;
    case DCR_ACT_RELU:
        dc_buf_printf(b, "    a[%d] = z[%d] > 0 ? z[%d] : 0;\n", k, k, k);
        break;
    case DCR_ACT_LEAKY_RELU:
        dc_buf_printf(b, "    a[%d] = z[%d] > 0 ? z[%d] : al * z[%d];\n", k, k, k, k);
        break;
    case DCR_ACT_ELU:
        dc_buf_printf(b, "    a[%d] = z[%d] > 0 ? z[%d] : al * %s(z[%d]);\n", k, k, k, c->expm1, k);
        break;
    case DCR_ACT_SOFTPLUS: {
        char dst[32], v[32];
        snprintf(dst, sizeof dst, "a[%d]", k);
        snprintf(v, sizeof v, "z[%d]", k);
        emit_softplus(b, c, dst, v);
        break;
    }
    case DCR_ACT_GELU:
        dc_buf_printf(b, "    a[%d] = (gh * z[%d]) * (1 + %s(gk * (z[%d] + gc * ((z[%d] * z[%d]) * z[%d]))));\n", k,
                      k, c->tanh, k, k, k, k);
        break;
    case DCR_ACT_SOFTMAX:
        break;
    }
}

static void emit_fwd(dc_buf *b, const dc_emit_ctx *c, int l)
{
    const dc_net *n = c->net;
    const char *T = c->T;
    int nin = n->arch.sizes[l - 1], nout = n->arch.sizes[l];
    dcr_act act = n->arch.act[l];
    size_t W = n->w_off[l], B = n->b_off[l];
    if (act == DCR_ACT_SOFTMAX)
        dc_buf_printf(b, "static void %s_fwd%d(%s *z, %s *a, %s *st, const %s *p, const %s *in)\n{\n", c->P,
                      l, T, T, T, T, T);
    else
        dc_buf_printf(b, "static void %s_fwd%d(%s *z, %s *a, const %s *p, const %s *in)\n{\n", c->P, l, T,
                      T, T, T);
    emit_act_locals(b, c, act, n->arch.alpha[l], 0);
    if (act == DCR_ACT_SOFTMAX)
        dc_buf_printf(b, "    %s m, s;\n", T);
    /* input-major order: consecutive statements update different units,
     * so they do not wait for each other (tcc keeps z in memory), while
     * each z[k] still adds its terms in the reference engine's order */
    for (int k = 0; k < nout; k++)
        dc_buf_printf(b, "    z[%d] = p[%zu];\n", k, B + (size_t)k);
    for (int j = 0; j < nin; j++)
        for (int k = 0; k < nout; k++)
            dc_buf_printf(b, "    z[%d] += p[%zu] * in[%d];\n", k, W + (size_t)k * (size_t)nin + (size_t)j, j);
    for (int k = 0; k < nout; k++)
        emit_act_fwd(b, c, act, k);
    if (act == DCR_ACT_SOFTMAX) {
        /* shifted by the maximum so exp never overflows */
        dc_buf_puts(b, "    m = z[0];\n");
        for (int k = 1; k < nout; k++)
            dc_buf_printf(b, "    if (z[%d] > m) m = z[%d];\n", k, k);
        for (int k = 0; k < nout; k++)
            dc_buf_printf(b, "    a[%d] = %s(z[%d] - m);\n", k, c->exp, k);
        dc_buf_puts(b, "    s = a[0];\n");
        for (int k = 1; k < nout; k++)
            dc_buf_printf(b, "    s += a[%d];\n", k);
        for (int k = 0; k < nout; k++)
            dc_buf_printf(b, "    a[%d] = a[%d] / s;\n", k, k);
        dc_buf_puts(b, "    st[0] = m;\n    st[1] = s;\n");
    }
    dc_buf_puts(b, "}\n\n");
}

/* The statements of P_out for output unit k: its loss term and delta. */
static void emit_out_unit(dc_buf *b, const dc_emit_ctx *c, int k)
{
    const dcr_arch *a = &c->net->arch;
    switch (a->loss) {
    case DCR_LOSS_CROSS_ENTROPY:
        dc_buf_printf(b, "    loss += y[%d] * ((z[%d] - m) - ls);\n", k, k);
        dc_buf_printf(b, "    d[%d] = a[%d] - y[%d];\n", k, k, k);
        break;
    case DCR_LOSS_BINARY_CROSS_ENTROPY: {
        char zk[32];
        snprintf(zk, sizeof zk, "z[%d]", k);
        dc_buf_printf(b, "    v = -z[%d];\n", k);
        emit_softplus(b, c, "sn", "v");
        emit_softplus(b, c, "sp", zk);
        dc_buf_printf(b, "    loss += y[%d] * sn + (1 - y[%d]) * sp;\n", k, k);
        dc_buf_printf(b, "    d[%d] = a[%d] - y[%d];\n", k, k, k);
        break;
    }
    case DCR_LOSS_MSE:
        dc_buf_printf(b, "    e = a[%d] - y[%d];\n    loss += e * e;\n", k, k);
        emit_deriv(b, c, a->act[a->n_layers], "d", "e", k);
        break;
    }
}

/* Loss of one sample and the output delta. */
static void emit_out(dc_buf *b, const dc_emit_ctx *c)
{
    const dc_net *n = c->net;
    const char *T = c->T;
    int L = n->arch.n_layers, nout = n->arch.sizes[L];
    dcr_act act = n->arch.act[L];
    if (n->arch.loss == DCR_LOSS_CROSS_ENTROPY) {
        /* log softmax as (z - m) - log(s): no log(0) */
        dc_buf_printf(b, "static %s %s_out(%s *d, const %s *z, const %s *a, const %s *st, const %s *y)\n{\n",
                      T, c->P, T, T, T, T, T);
        dc_buf_printf(b, "    %s m = st[0], ls = %s(st[1]), loss = 0;\n", T, c->log);
        for (int k = 0; k < nout; k++)
            emit_out_unit(b, c, k);
        dc_buf_puts(b, "    return -loss;\n}\n\n");
        return;
    }
    dc_buf_printf(b, "static %s %s_out(%s *d, const %s *z, const %s *a, const %s *y)\n{\n", T, c->P, T, T,
                  T, T);
    if (n->arch.loss == DCR_LOSS_BINARY_CROSS_ENTROPY) {
        /* -(y log a + (1 - y) log(1 - a)) with log a = -softplus(-z) and
         * log(1 - a) = -softplus(z): no log(0) */
        dc_buf_printf(b, "    %s v, sn, sp, loss = 0;\n", T);
        for (int k = 0; k < nout; k++)
            emit_out_unit(b, c, k);
        dc_buf_puts(b, "    return loss;\n}\n\n");
        return;
    }
    emit_act_locals(b, c, act, n->arch.alpha[L], 1);
    dc_buf_printf(b, "    %s e, loss = 0;\n    (void)z;\n", T);
    for (int k = 0; k < nout; k++)
        emit_out_unit(b, c, k);
    dc_buf_printf(b, "    return 0.5%s * loss;\n}\n\n", c->lit);
}

/* delta(l) = (W(l+1)^T delta(l+1)) (.) sigma'(z(l)) */
static void emit_bwd(dc_buf *b, const dc_emit_ctx *c, int l)
{
    const dc_net *n = c->net;
    const char *T = c->T;
    int nl = n->arch.sizes[l], nn = n->arch.sizes[l + 1];
    size_t W = n->w_off[l + 1];
    dc_buf_printf(b, "static void %s_bwd%d(%s *d, const %s *z, const %s *a, const %s *p, const %s *dn)\n{\n",
                  c->P, l, T, T, T, T, T);
    emit_act_locals(b, c, n->arch.act[l], n->arch.alpha[l], 1);
    dc_buf_puts(b, "    (void)z;\n    (void)a;\n");
    /* d accumulates W(l+1)^T delta(l+1) in the reference engine's order
     * (k increasing for each j), with independent neighbouring statements */
    for (int j = 0; j < nl; j++)
        dc_buf_printf(b, "    d[%d] = p[%zu] * dn[0];\n", j, W + (size_t)j);
    for (int k = 1; k < nn; k++)
        for (int j = 0; j < nl; j++)
            dc_buf_printf(b, "    d[%d] += p[%zu] * dn[%d];\n", j, W + (size_t)k * (size_t)nl + (size_t)j, k);
    if (n->arch.act[l] != DCR_ACT_IDENTITY)
        for (int j = 0; j < nl; j++) {
            char t[32];
            snprintf(t, sizeof t, "d[%d]", j);
            emit_deriv(b, c, n->arch.act[l], "d", t, j);
        }
    dc_buf_puts(b, "}\n\n");
}

/* dE/db(l) += delta(l), dE/dW(l) += delta(l) a(l-1)^T */
static void emit_grad(dc_buf *b, const dc_emit_ctx *c, int l)
{
    const dc_net *n = c->net;
    const char *T = c->T;
    int nin = n->arch.sizes[l - 1], nout = n->arch.sizes[l];
    size_t W = n->w_off[l], B = n->b_off[l];
    dc_buf_printf(b, "static void %s_grad%d(%s *g, const %s *d, const %s *in)\n{\n", c->P, l, T, T, T);
    for (int k = 0; k < nout; k++) {
        dc_buf_printf(b, "    g[%zu] += d[%d];\n", B + (size_t)k, k);
        for (int j = 0; j < nin; j++)
            dc_buf_printf(b, "    g[%zu] += d[%d] * in[%d];\n", W + (size_t)k * (size_t)nin + (size_t)j, k, j);
    }
    dc_buf_puts(b, "}\n\n");
}

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
    emit_fwd_calls(b, c);
    if (a->loss == DCR_LOSS_CROSS_ENTROPY)
        dc_buf_printf(b, "    loss = %s_out(d%d, z%d, a%d, st, y);\n", P, L, L, L);
    else
        dc_buf_printf(b, "    loss = %s_out(d%d, z%d, a%d, y);\n", P, L, L, L);
    for (int l = L - 1; l >= 1; l--)
        dc_buf_printf(b, "    %s_bwd%d(d%d, z%d, a%d, p, d%d);\n", P, l, l, l, l, l + 1);
    for (int l = 1; l <= L; l++) {
        if (l == 1)
            dc_buf_printf(b, "    %s_grad1(g, d1, x);\n", P);
        else
            dc_buf_printf(b, "    %s_grad%d(g, d%d, a%d);\n", P, l, l, l - 1);
    }
    if (trace)
        for (int l = 1; l <= L; l++)
            for (int k = 0; k < a->sizes[l]; k++)
                emit_trace_unit(b, l, k);
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

/* v rounded to T, as a literal that reads back exactly */
static void opt_const(char *out, size_t cap, const dc_emit_ctx *c, double v)
{
    if (c->lit[0])
        snprintf(out, cap, "%.9gf", (double)(float)v);
    else
        snprintf(out, cap, "%.17g", v);
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
        for (size_t i = 0; i < np; i++)
            dc_buf_printf(b, "    p[%zu] -= scale * g[%zu];\n", i, i);
        dc_buf_puts(b, "}\n\n");
        return;
    }
    char k_wd[48], k_a[48], k_b[48], k_c1[48], k_c2[48], k_eps[48];
    opt_const(k_wd, sizeof k_wd, c, o->weight_decay);
    if (o->type == DCR_OPT_SGD) {
        int mom = o->momentum > 0;
        opt_const(k_a, sizeof k_a, c, o->momentum);
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
        opt_const(k_a, sizeof k_a, c, o->beta1);
        opt_const(k_b, sizeof k_b, c, o->beta2);
        opt_const(k_c1, sizeof k_c1, c, 1 - o->beta1);
        opt_const(k_c2, sizeof k_c2, c, 1 - o->beta2);
        opt_const(k_eps, sizeof k_eps, c, o->eps);
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
    for (size_t i = 0; i < np; i++)
        dc_buf_printf(b, "    DC_UPD(%zu)\n", i);
    dc_buf_puts(b, "#undef DC_UPD\n}\n\n");
}

void dc_emit_unrolled(dc_buf *b, const dc_emit_ctx *c)
{
    const dcr_arch *a = &c->net->arch;
    const char *T = c->T, *P = c->P;
    int L = a->n_layers;
    for (int l = 1; l <= L; l++)
        emit_fwd(b, c, l);
    emit_out(b, c);
    for (int l = L - 1; l >= 1; l--)
        emit_bwd(b, c, l);
    for (int l = 1; l <= L; l++)
        emit_grad(b, c, l);

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
}

/* Bytes of one statement written with fmt and the widest indices. */
static uint64_t stmt_len(const char *fmt, size_t i1, size_t i2, size_t i3)
{
    char tmp[256];
    int n = snprintf(tmp, sizeof tmp, fmt, i1, i2, i3);
    DC_ASSERT(n > 0 && (size_t)n < sizeof tmp);
    return (uint64_t)n;
}

/* An upper bound of the source's size, to refuse a network before emitting
 * it: every statement is counted with the widest indices it can have.
 * Per weight: forward, delta (layers 2..L), gradient and update statements;
 * per unit: activation, derivative, loss and trace statements, written once
 * for the layer's last unit and counted for every unit. */
uint64_t dc_emit_unrolled_estimate(const dc_net *net)
{
    const dcr_arch *a = &net->arch;
    int f64 = a->dtype == DCR_F64, L = a->n_layers;
    dc_emit_ctx c = {net, f64 ? "double" : "float", f64 ? "" : "f", f64 ? "exp" : "expf", f64 ? "tanh" : "tanhf",
                     f64 ? "log" : "logf", net->name, f64 ? "log1p" : "log1pf", f64 ? "expm1" : "expm1f"};
    size_t np = net->n_params;
    /* the optimizer step: one statement per parameter */
    uint64_t total = (uint64_t)np * stmt_len("    p[%zu] -= scale * g[%zu];\n", np, np, 0) + 16384;
    for (int l = 1; l <= L; l++) {
        size_t k = (size_t)a->sizes[l] - 1, j = (size_t)a->sizes[l - 1] - 1;
        uint64_t w = (uint64_t)a->sizes[l] * (uint64_t)a->sizes[l - 1];
        uint64_t per_w = stmt_len("    z[%zu] += p[%zu] * in[%zu];\n", k, np, j) +
                         stmt_len("    g[%zu] += d[%zu] * in[%zu];\n", np, k, j);
        if (l < L) /* the delta of layer l runs through W(l+1) */
            total += (uint64_t)a->sizes[l + 1] * (uint64_t)a->sizes[l] *
                     stmt_len("    d[%zu] += p[%zu] * dn[%zu];\n", k, np, (size_t)a->sizes[l + 1]);
        total += w * per_w;
        dc_buf u = {0};
        u.limit = 1 << 16;
        dc_buf_printf(&u, "    z[%zu] = p[%zu];\n    g[%zu] += d[%zu];\n    out[%zu] = a%d[%zu];\n", k, np, np, k,
                      k, l, k);
        if (a->act[l] == DCR_ACT_SOFTMAX)
            dc_buf_printf(&u, "    if (z[%zu] > m) m = z[%zu];\n    a[%zu] = %s(z[%zu] - m);\n    s += a[%zu];\n"
                              "    a[%zu] = a[%zu] / s;\n", k, k, k, c.exp, k, k, k, k);
        else
            emit_act_fwd(&u, &c, a->act[l], (int)k);
        if (l < L) {
            char t[32];
            snprintf(t, sizeof t, "d[%zu]", k);
            emit_deriv(&u, &c, a->act[l], "d", t, (int)k);
        } else {
            emit_out_unit(&u, &c, (int)k);
        }
        emit_trace_unit(&u, l, (int)k);
        DC_ASSERT(!u.failed);
        /* plus the layer's functions, locals and calls */
        total += (uint64_t)u.len * (uint64_t)a->sizes[l] + 4096;
        free(u.p);
    }
    return total;
}
