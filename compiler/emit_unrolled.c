/* emit_unrolled.c: the fully unrolled strategy. Every unit, weight,
 * gradient and update is written out with constant indices, in the
 * canonical order of runtime/reference.c, so that float64 results agree
 * with the reference engine bit for bit.
 *
 * A unit's forward sum and a delta's sum are one chained expression,
 * "z[k] = b + w0 * in[0] + w1 * in[1] + ...": C adds left to right, which is
 * the reference engine's order, and libtcc keeps the running sum in a
 * register instead of storing and reloading it for every product (a
 * third fewer instructions, and a third less text to compile than one
 * statement per product). Gradient and update statements stay one per
 * weight, with the unit's delta in a local.
 *
 * Per layer l the file has static functions P_fwdL (z, a from the layer's
 * input), P_bwdL (delta of layer l from delta of l+1) and P_gradL (gradient
 * of W(l), b(l)); P_out computes the loss and the output delta. */
#include <string.h>

#include "internal.h"

/* An input of every unit (in[j], dn[k]) is read once per unit: when there
 * are at least DC_LOCALS_MIN_USERS units, the inputs are first copied to
 * locals (pfx0, pfx1, ...), which libtcc reads with one load instead of
 * two and parses a quarter faster (784-128-10 fully unrolled: 0.28 s to
 * 0.21 s). Returns whether it did. */
#define DC_LOCALS_MIN_USERS 4
static int emit_in_locals(dc_buf *b, const dc_emit_ctx *c, char pfx, const char *arr, int n, int users)
{
    if (users < DC_LOCALS_MIN_USERS)
        return 0;
    dc_buf_printf(b, "    %s %c0 = %s[0]", c->T, pfx, arr);
    for (int j = 1; j < n; j++)
        dc_buf_printf(b, ",%s %c%d = %s[%d]", j % DC_CHAIN_LINE ? "" : "\n       ", pfx, j, arr, j);
    dc_buf_puts(b, ";\n");
    return 1;
}

/* input j as text: the local or the array element (buf[32]) */
static const char *in_ref(char *buf, int local, char pfx, const char *arr, int j)
{
    if (local)
        snprintf(buf, 32, "%c%d", pfx, j);
    else
        snprintf(buf, 32, "%s[%d]", arr, j);
    return buf;
}

void dc_unrolled_fwd(dc_buf *b, const dc_emit_ctx *c, int l)
{
    char ix[16];
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
    dc_emit_act_locals(b, c, act, n->arch.alpha[l], 0);
    if (act == DCR_ACT_SOFTMAX)
        dc_buf_printf(b, "    %s m, s;\n", T);
    char v[32];
    int loc = emit_in_locals(b, c, 'i', "in", nin, nout);
    for (int k = 0; k < nout; k++) {
        dc_buf_printf(b, "    z[%d] = p[%zu]", k, B + (size_t)k);
        for (int j = 0; j < nin; j++)
            dc_buf_printf(b, "%s + p[%zu] * %s", j == 0 || j % DC_CHAIN_LINE ? "" : "\n       ",
                          W + (size_t)k * (size_t)nin + (size_t)j, in_ref(v, loc, 'i', "in", j));
        dc_buf_puts(b, ";\n");
    }
    if (!dc_emit_act_kernel(b, c, act, nout))
        for (int k = 0; k < nout; k++)
            dc_emit_act_fwd(b, c, act, dc_idx(ix, k));
    if (act == DCR_ACT_SOFTMAX) {
        /* shifted by the maximum so exp never overflows */
        dc_buf_puts(b, "    m = z[0];\n");
        for (int k = 1; k < nout; k++)
            dc_buf_printf(b, "    if (z[%d] > m) m = z[%d];\n", k, k);
        if (c->act_kernels)
            dc_buf_printf(b, "    dck_expsub%s(a, z, m, %d);\n", c->lit[0] ? "f" : "d", nout);
        else
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
void dc_unrolled_out(dc_buf *b, const dc_emit_ctx *c)
{
    char ix[16];
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
            dc_emit_out_unit(b, c, dc_idx(ix, k));
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
            dc_emit_out_unit(b, c, dc_idx(ix, k));
        dc_buf_puts(b, "    return loss;\n}\n\n");
        return;
    }
    dc_emit_act_locals(b, c, act, n->arch.alpha[L], 1);
    dc_buf_printf(b, "    %s e, loss = 0;\n    (void)z;\n", T);
    for (int k = 0; k < nout; k++)
        dc_emit_out_unit(b, c, dc_idx(ix, k));
    dc_buf_printf(b, "    return 0.5%s * loss;\n}\n\n", c->lit);
}

/* delta(l) = (W(l+1)^T delta(l+1)) (.) sigma'(z(l)) */
void dc_unrolled_bwd(dc_buf *b, const dc_emit_ctx *c, int l)
{
    char ix[16];
    const dc_net *n = c->net;
    const char *T = c->T;
    int nl = n->arch.sizes[l], nn = n->arch.sizes[l + 1];
    size_t W = n->w_off[l + 1];
    dc_buf_printf(b, "static void %s_bwd%d(%s *d, const %s *z, const %s *a, const %s *p, const %s *dn)\n{\n",
                  c->P, l, T, T, T, T, T);
    dc_emit_act_locals(b, c, n->arch.act[l], n->arch.alpha[l], 1);
    dc_buf_puts(b, "    (void)z;\n    (void)a;\n");
    /* d[j] = sum over k of W(l+1)[k][j] dn[k], k increasing (the reference
     * engine's order) */
    char v[32];
    int loc = emit_in_locals(b, c, 'n', "dn", nn, nl);
    for (int j = 0; j < nl; j++) {
        dc_buf_printf(b, "    d[%d] = p[%zu] * %s", j, W + (size_t)j, in_ref(v, loc, 'n', "dn", 0));
        for (int k = 1; k < nn; k++)
            dc_buf_printf(b, "%s + p[%zu] * %s", k % DC_CHAIN_LINE ? "" : "\n       ",
                          W + (size_t)k * (size_t)nl + (size_t)j, in_ref(v, loc, 'n', "dn", k));
        dc_buf_puts(b, ";\n");
    }
    if (n->arch.act[l] != DCR_ACT_IDENTITY)
        for (int j = 0; j < nl; j++) {
            char t[32];
            snprintf(t, sizeof t, "d[%d]", j);
            dc_emit_deriv(b, c, n->arch.act[l], "d", t, dc_idx(ix, j));
        }
    dc_buf_puts(b, "}\n\n");
}

/* dE/db(l) += delta(l), dE/dW(l) += delta(l) a(l-1)^T */
void dc_unrolled_grad(dc_buf *b, const dc_emit_ctx *c, int l)
{
    const dc_net *n = c->net;
    const char *T = c->T;
    int nin = n->arch.sizes[l - 1], nout = n->arch.sizes[l];
    size_t W = n->w_off[l], B = n->b_off[l];
    dc_buf_printf(b, "static void %s_grad%d(%s *g, const %s *d, const %s *in)\n{\n    %s dk;\n", c->P, l, T, T, T, T);
    char v[32];
    int loc = emit_in_locals(b, c, 'i', "in", nin, nout);
    for (int k = 0; k < nout; k++) {
        dc_buf_printf(b, "    dk = d[%d];\n    g[%zu] += dk;\n", k, B + (size_t)k);
        for (int j = 0; j < nin; j++)
            dc_buf_printf(b, "    g[%zu] += dk * %s;\n", W + (size_t)k * (size_t)nin + (size_t)j,
                          in_ref(v, loc, 'i', "in", j));
    }
    dc_buf_puts(b, "}\n\n");
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
 * Per weight: forward, delta (layers 2..L), gradient, update and fused-step statements;
 * a layer emitted as loops costs a few kilobytes whatever its size;
 * per unit: activation, derivative, loss and trace statements, written once
 * for the layer's last unit and counted for every unit. */
uint64_t dc_emit_estimate(const dc_net *net, const unsigned char *loops, int update_loops)
{
    const dcr_arch *a = &net->arch;
    int f64 = a->dtype == DCR_F64, L = a->n_layers;
    dc_emit_ctx c = {net, f64 ? "double" : "float", f64 ? "" : "f", f64 ? "exp" : "expf", f64 ? "tanh" : "tanhf",
                     f64 ? "log" : "logf", net->name, f64 ? "log1p" : "log1pf", f64 ? "expm1" : "expm1f", {0}, 0, 0, 0, 0, 0};
    size_t np = net->n_params;
    /* the optimizer step: one statement per parameter */
    uint64_t total = update_loops ? 16384 : (uint64_t)np * stmt_len("    p[%zu] -= scale * g[%zu];\n", np, np, 0) + 16384;
    for (int l = 1; l <= L; l++) {
        if (loops && loops[l]) { /* a few loops; the delta through W(l+1) may still be unrolled */
            total += 8192;
            if (loops[l] == DC_LAYER_BLOCKED) /* 8 rows of the forward pass, a row of the gradient, delta */
                total += (uint64_t)(17 * (uint64_t)a->sizes[l - 1] + 2 * (uint64_t)a->sizes[l]) *
                         stmt_len("        acc%zu += wk[%zu] * in[%zu];\n", 7, 8 * (size_t)a->sizes[l - 1], (size_t)a->sizes[l - 1]);
            if (l < L && !loops[l + 1])
                total += (uint64_t)a->sizes[l + 1] * (uint64_t)a->sizes[l] *
                         (stmt_len(" + p[%zu] * dn[%zu]", np, (size_t)a->sizes[l + 1], 0) + 8 / DC_CHAIN_LINE + 1);
            continue;
        }
        size_t k = (size_t)a->sizes[l] - 1, j = (size_t)a->sizes[l - 1] - 1;
        uint64_t w = (uint64_t)a->sizes[l] * (uint64_t)a->sizes[l - 1];
        /* the inputs as locals, in P_fwdL and P_gradL (a line break's share included) */
        if (a->sizes[l] >= DC_LOCALS_MIN_USERS)
            total += 2 * (uint64_t)a->sizes[l - 1] * (stmt_len(", i%zu = in[%zu]", j, j, 0) + 1) + 64;
        if (l < L && a->sizes[l] >= DC_LOCALS_MIN_USERS) /* dn as locals in P_bwdL */
            total += (uint64_t)a->sizes[l + 1] * (stmt_len(", n%zu = dn[%zu]", (size_t)a->sizes[l + 1], (size_t)a->sizes[l + 1], 0) + 1) + 64;
        /* a product of a chained sum, with its share of the line breaks */
        uint64_t per_w = stmt_len(" + p[%zu] * in[%zu]", np, j, 0) + 8 / DC_CHAIN_LINE + 1 +
                         stmt_len("    g[%zu] += dk * in[%zu];\n", np, j, 0);
        if (w <= DC_SGD_UNROLL_MAX) /* P_sgd_step, written out for small layers */
            per_w += stmt_len("    p[%zu] -= scale * (dk * in[%zu]);\n", np, j, 0);
        if (l < L) /* the delta of layer l runs through W(l+1) */
            total += (uint64_t)a->sizes[l + 1] * (uint64_t)a->sizes[l] *
                     (stmt_len(" + p[%zu] * dn[%zu]", np, (size_t)a->sizes[l + 1], 0) + 8 / DC_CHAIN_LINE + 1);
        total += w * per_w;
        char ix[16];
        dc_buf u = {0};
        u.limit = 1 << 16;
        /* a sum's start and end (its products are counted per weight) */
        dc_buf_printf(&u, "    z[%zu] = p[%zu];\n    dk = d[%zu];\n    g[%zu] += dk;\n    out[%zu] = a%d[%zu];\n", k,
                      np, k, np, k, l, k);
        if (l < L)
            dc_buf_printf(&u, "    d[%zu] = ;\n", k);
        if (w <= DC_SGD_UNROLL_MAX)
            dc_buf_printf(&u, "    dk = d[%zu];\n    p[%zu] -= scale * dk;\n", k, np);
        if (a->act[l] == DCR_ACT_SOFTMAX)
            dc_buf_printf(&u, "    if (z[%zu] > m) m = z[%zu];\n    a[%zu] = %s(z[%zu] - m);\n    s += a[%zu];\n"
                              "    a[%zu] = a[%zu] / s;\n", k, k, k, c.exp, k, k, k, k);
        else
            dc_emit_act_fwd(&u, &c, a->act[l], dc_idx(ix, (int)k));
        if (l < L) {
            char t[32];
            snprintf(t, sizeof t, "d[%zu]", k);
            dc_emit_deriv(&u, &c, a->act[l], "d", t, dc_idx(ix, (int)k));
        } else {
            dc_emit_out_unit(&u, &c, dc_idx(ix, (int)k));
        }
        dc_buf_printf(&u, "    delta_abs[%d] += d%d[%zu] < 0 ? -d%d[%zu] : d%d[%zu];\n", l, l, k, l, k, l, k);
        DC_ASSERT(!u.failed);
        /* plus the layer's functions, locals and calls */
        total += (uint64_t)u.len * (uint64_t)a->sizes[l] + 4096;
        free(u.p);
    }
    return total;
}
