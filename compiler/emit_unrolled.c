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
#include "internal.h"

/* Measured: ~26 bytes per forward or delta statement, ~36 per gradient or
 * update statement (100 bytes per parameter for 784-128-10); the estimate
 * stays above the actual size. */
uint64_t dc_emit_unrolled_estimate(const dc_net *net)
{
    uint64_t units = 0, back = 0;
    for (int l = 1; l <= net->arch.n_layers; l++) {
        units += (uint64_t)net->arch.sizes[l];
        if (l >= 2)
            back += (uint64_t)net->arch.sizes[l] * (uint64_t)net->arch.sizes[l - 1];
    }
    return 40 * (3 * (uint64_t)net->n_params + back) + 160 * units + 16384;
}

/* The derivative factor of a hidden or output activation applied to t:
 * writes "DST = t * sigma'" in the canonical form. */
static void emit_deriv(dc_buf *b, dcr_act act, const char *dst, const char *t, int j)
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
    case DCR_ACT_SOFTMAX:
        DC_DIE("softmax has no separate derivative (fused with cross_entropy)");
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
    for (int k = 0; k < nout; k++) {
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
        case DCR_ACT_SOFTMAX:
            break;
        }
    }
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
        for (int k = 0; k < nout; k++) {
            dc_buf_printf(b, "    loss += y[%d] * ((z[%d] - m) - ls);\n", k, k);
            dc_buf_printf(b, "    d[%d] = a[%d] - y[%d];\n", k, k, k);
        }
        dc_buf_puts(b, "    return -loss;\n}\n\n");
        return;
    }
    dc_buf_printf(b, "static %s %s_out(%s *d, const %s *z, const %s *a, const %s *y)\n{\n", T, c->P, T, T,
                  T, T);
    dc_buf_printf(b, "    %s e, loss = 0;\n    (void)z;\n", T);
    for (int k = 0; k < nout; k++) {
        dc_buf_printf(b, "    e = a[%d] - y[%d];\n    loss += e * e;\n", k, k);
        emit_deriv(b, act, "d", "e", k);
    }
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
    dc_buf_puts(b, "    (void)z;\n    (void)a;\n");
    (void)T;
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
            emit_deriv(b, n->arch.act[l], "d", t, j);
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

    dc_buf_puts(b, "/* g += dE/dp for one sample (x, y); returns E */\n");
    dc_buf_printf(b, "%s %s_loss_grad(%s *g, const %s *p, const %s *x, const %s *y)\n{\n", T, P, T, T, T, T);
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
    dc_buf_puts(b, "    return loss;\n}\n\n");

    dc_buf_puts(b, "/* one optimizer step (plain SGD): p -= (lr * grad_scale) * g, where g is the\n"
                   " * gradient summed over a batch and grad_scale 1/n (times clipping) */\n");
    dc_buf_printf(b, "void %s_update(%s *p, %s *state, const %s *g, double lr, double grad_scale, double t)\n{\n",
                  P, T, T, T);
    dc_buf_printf(b, "    %s scale = (%s)(lr * grad_scale);\n    (void)state;\n    (void)t;\n", T, T);
    for (size_t i = 0; i < c->net->n_params; i++)
        dc_buf_printf(b, "    p[%zu] -= scale * g[%zu];\n", i, i);
    dc_buf_puts(b, "}\n\n");
}
