/* emit_loops.c: a layer as loops with constant bounds. The same functions
 * as the unrolled form (P_fwdL, P_out, P_bwdL, P_gradL) with the same
 * arithmetic in the same order, so exact builds agree with the reference
 * engine bit for bit; a few hundred bytes of source whatever the layer's
 * size, which is what lets gcc compile large layers in a second.
 *
 * The blocked form (DC_LAYER_BLOCKED) loops over the rows of W and writes
 * each row's work out with constant offsets: code in proportion to a row,
 * not to the layer, without the per-element loop overhead libtcc's plain
 * loops pay (it does no loop optimisation).
 *
 * The kernel form (DC_LAYER_KERNELS, for libtcc only) calls compiler/kernels.c
 * for the work along rows: dck_rows8 for 8 rows' dot products at once,
 * dck_scale and dck_axpy for the delta and the gradient.
 *
 * The loops are written for gcc's vectoriser: the forward pass is a dot
 * product over a contiguous row of W (vectorised when reassociation is
 * allowed: the cc backend's fast mode), the backward pass and the gradient
 * are axpy updates over contiguous memory (vectorised in every mode, as
 * each element keeps its own order of additions). */
#include "internal.h"

/* The blocked forward pass: R rows of W at a time, each with its own
 * accumulator, the dot products written out over the whole row (constant
 * offsets from the row pointers) and interleaved so that consecutive
 * statements are independent; the rows that do not fill a block come after
 * the loop, with constant indices. */
#define FWD_ROWS 8
static void fwd_rows(dc_buf *b, const dc_emit_ctx *c, int nin, int rows, const char *k, const char *ind)
{
    for (int r = 0; r < rows; r++)
        dc_buf_printf(b, "%s%s acc%d = bias[%s + %d];\n", ind, c->T, r, k, r);
    for (int j = 0; j < nin; j++)
        for (int r = 0; r < rows; r++)
            dc_buf_printf(b, "%sacc%d += wk[%d] * in[%d];\n", ind, r, r * nin + j, j);
    for (int r = 0; r < rows; r++)
        dc_buf_printf(b, "%sz[%s + %d] = acc%d;\n", ind, k, r, r);
}

static void fwd_blocked(dc_buf *b, const dc_emit_ctx *c, int nin, int nout)
{
    int full = nout / FWD_ROWS, rest = nout % FWD_ROWS;
    if (full) {
        dc_buf_printf(b, "    for (k = 0; k < %d; k += %d) {\n        const %s *wk = w + k * %d;\n", full * FWD_ROWS,
                      FWD_ROWS, c->T, nin);
        fwd_rows(b, c, nin, FWD_ROWS, "k", "        ");
        dc_buf_puts(b, "    }\n");
    }
    if (rest) {
        char k0[16];
        dc_buf_printf(b, "    {\n        const %s *wk = w + %d;\n", c->T, full * FWD_ROWS * nin);
        fwd_rows(b, c, nin, rest, dc_idx(k0, full * FWD_ROWS), "        ");
        dc_buf_puts(b, "    }\n");
    }
    dc_buf_puts(b, "    (void)j;\n");
}

/* The lane forms, for the cc backend's fast mode only (c->fast_math: the
 * code is compiled with -fassociative-math, so sums may be regrouped; exact
 * builds keep the plain loops and the reference order). When a row's loop
 * is short enough for gcc to unroll it completely, gcc vectorises the loop
 * over the rows instead, four rows at a time, with a 4x4 transpose of W
 * per four elements. These forms keep its vectors along the rows of W
 * (contiguous): the forward pass sums each row in DC_LANES partial sums
 * (an SLP group of four stores into acc[]) and adds the lanes at the end
 * (one transpose per four rows); the delta is written out row after row
 * (gcc would unroll the short loop over k and vectorise the sums over k
 * with strided loads; with more rows than that, two rows per iteration
 * of a loop over them). Only for layers of at most DC_LANE_MAX inputs
 * (rows gcc unrolls) and DC_LANE_MAX units, or DC_LANE_ROWS_MAX units
 * when the rows are longer than one vector: measured in docs/codegen.md,
 * layers with longer rows are faster as they were. */
#define DC_LANES 4

int dc_lanes_layer(const dc_emit_ctx *c, int l)
{
    int nin = c->net->arch.sizes[l - 1], nout = c->net->arch.sizes[l];
    if (!c->fast_math || c->loops[l] != DC_LAYER_LOOPS || nin % DC_LANES != 0 || nin > DC_LANE_MAX)
        return 0;
    /* rows of one vector (4 inputs) gained nothing beyond 16 units */
    return nout <= DC_LANE_MAX || (nin > DC_LANES && nout <= DC_LANE_ROWS_MAX);
}

static void fwd_lanes(dc_buf *b, const dc_emit_ctx *c, int nin, int nout)
{
    dc_buf_printf(b,
                  "    %s acc[%d];\n"
                  "    int r, q;\n"
                  "    for (k = 0; k < %d; k++) {\n"
                  "        const %s *wk = w + k * %d;\n"
                  "        %s *ak = acc + %d * k;\n"
                  "        for (r = 0; r < %d; r++)\n"
                  "            ak[r] = wk[r] * in[r];\n"
                  "        for (q = %d; q < %d; q += %d)\n"
                  "            for (r = 0; r < %d; r++)\n"
                  "                ak[r] += wk[q + r] * in[q + r];\n"
                  "    }\n"
                  "    for (k = 0; k < %d; k++)\n"
                  "        z[k] = bias[k] + ((acc[%d * k] + acc[%d * k + 1]) + (acc[%d * k + 2] + acc[%d * k + 3]));\n"
                  "    (void)j;\n",
                  c->T, DC_LANES * nout, nout, c->T, nin, c->T, DC_LANES, DC_LANES, DC_LANES, nin, DC_LANES, DC_LANES,
                  nout, DC_LANES, DC_LANES, DC_LANES, DC_LANES);
}

void dc_loops_fwd(dc_buf *b, const dc_emit_ctx *c, int l)
{
    const dc_net *n = c->net;
    const char *T = c->T;
    int nin = n->arch.sizes[l - 1], nout = n->arch.sizes[l];
    dcr_act act = n->arch.act[l];
    if (act == DCR_ACT_SOFTMAX)
        dc_buf_printf(b, "static void %s_fwd%d(%s *restrict z, %s *restrict a, %s *st, const %s *restrict p, "
                         "const %s *restrict in)\n{\n", c->P, l, T, T, T, T, T);
    else
        dc_buf_printf(b, "static void %s_fwd%d(%s *restrict z, %s *restrict a, const %s *restrict p, "
                         "const %s *restrict in)\n{\n", c->P, l, T, T, T, T);
    dc_emit_act_locals(b, c, act, n->arch.alpha[l], 0);
    dc_buf_printf(b, "    const %s *w = p + %zu, *bias = p + %zu;\n    int k, j;\n", T, n->w_off[l], n->b_off[l]);
    if (act == DCR_ACT_SOFTMAX)
        dc_buf_printf(b, "    %s m, s;\n", T);
    if (c->loops[l] == DC_LAYER_KERNELS)
        dc_buf_printf(b,
                      "    for (k = 0; k < %d; k += 8)\n"
                      "        dck_rows8%s(z + k, w + k * %d, %d, in, bias + k, %d - k < 8 ? %d - k : 8);\n"
                      "    (void)j;\n",
                      nout, c->lit[0] ? "f" : "d", nin, nin, nout, nout);
    else if (c->loops[l] == DC_LAYER_BLOCKED)
        fwd_blocked(b, c, nin, nout);
    else if (dc_lanes_layer(c, l))
        fwd_lanes(b, c, nin, nout);
    else
        dc_buf_printf(b,
                      "    for (k = 0; k < %d; k++) {\n"
                      "        const %s *wk = w + k * %d;\n"
                      "        %s acc = bias[k];\n"
                      "        for (j = 0; j < %d; j++)\n"
                      "            acc += wk[j] * in[j];\n"
                      "        z[k] = acc;\n"
                      "    }\n",
                      nout, T, nin, T, nin);
    if (act == DCR_ACT_SOFTMAX) {
        dc_emit_softmax_row(b, c, nout, "    ");
        dc_buf_puts(b, "    st[0] = m;\n    st[1] = s;\n");
    } else if (!dc_emit_act_kernel(b, c, act, nout)) {
        dc_buf_printf(b, "    for (k = 0; k < %d; k++) {\n", nout);
        dc_emit_act_fwd(b, c, act, "k");
        dc_buf_puts(b, "    }\n");
    }
    dc_buf_puts(b, "}\n\n");
}

void dc_loops_out(dc_buf *b, const dc_emit_ctx *c)
{
    const dc_net *n = c->net;
    const char *T = c->T;
    int L = n->arch.n_layers, nout = n->arch.sizes[L];
    dcr_act act = n->arch.act[L];
    if (n->arch.loss == DCR_LOSS_CROSS_ENTROPY) {
        dc_buf_printf(b, "static %s %s_out(%s *d, const %s *z, const %s *a, const %s *st, const %s *y)\n{\n", T,
                      c->P, T, T, T, T, T);
        dc_buf_printf(b, "    %s m = st[0], ls = %s(st[1]), loss = 0;\n    int k;\n", T, c->log);
    } else if (n->arch.loss == DCR_LOSS_BINARY_CROSS_ENTROPY) {
        dc_buf_printf(b, "static %s %s_out(%s *d, const %s *z, const %s *a, const %s *y)\n{\n", T, c->P, T, T,
                      T, T);
        dc_buf_printf(b, "    %s v, sn, sp, loss = 0;\n    int k;\n", T);
    } else {
        dc_buf_printf(b, "static %s %s_out(%s *d, const %s *z, const %s *a, const %s *y)\n{\n", T, c->P, T, T,
                      T, T);
        dc_emit_act_locals(b, c, act, n->arch.alpha[L], 1);
        dc_buf_printf(b, "    %s e, loss = 0;\n    int k;\n    (void)z;\n", T);
    }
    dc_buf_printf(b, "    for (k = 0; k < %d; k++) {\n", nout);
    dc_emit_out_unit(b, c, "k");
    dc_buf_puts(b, "    }\n");
    if (n->arch.loss == DCR_LOSS_CROSS_ENTROPY)
        dc_buf_puts(b, "    return -loss;\n}\n\n");
    else if (n->arch.loss == DCR_LOSS_BINARY_CROSS_ENTROPY)
        dc_buf_puts(b, "    return loss;\n}\n\n");
    else
        dc_buf_printf(b, "    return 0.5%s * loss;\n}\n\n", c->lit);
}

void dc_loops_bwd(dc_buf *b, const dc_emit_ctx *c, int l)
{
    const dc_net *n = c->net;
    const char *T = c->T;
    int nl = n->arch.sizes[l], nn = n->arch.sizes[l + 1];
    dc_buf_printf(b, "static void %s_bwd%d(%s *restrict d, const %s *z, const %s *a, const %s *restrict p, "
                     "const %s *restrict dn)\n{\n",
                  c->P, l, T, T, T, T, T);
    dc_emit_act_locals(b, c, n->arch.act[l], n->arch.alpha[l], 1);
    dc_buf_printf(b, "    const %s *w = p + %zu;\n    int k, j;\n    (void)z;\n    (void)a;\n", T, n->w_off[l + 1]);
    /* d = W(l+1)^T delta(l+1): row k of W(l+1) scaled by dn[k], added in
     * k order (the reference engine's order for every d[j]) */
    if (c->loops[l + 1] == DC_LAYER_KERNELS) {
        const char *S = c->lit[0] ? "f" : "d";
        dc_buf_printf(b,
                      "    dck_scale%s(d, w, dn[0], %d);\n"
                      "    for (k = 1; k < %d; k++)\n"
                      "        dck_axpy%s(d, w + k * %d, dn[k], %d);\n",
                      S, nl, nn, S, nl, nl);
    } else if (c->loops[l + 1] == DC_LAYER_BLOCKED) {
        for (int j = 0; j < nl; j++)
            dc_buf_printf(b, "    d[%d] = w[%d] * dn[0];\n", j, j);
        dc_buf_printf(b, "    for (k = 1; k < %d; k++) {\n        const %s *wk = w + k * %d;\n        %s dk = dn[k];\n",
                      nn, T, nl, T);
        for (int j = 0; j < nl; j++)
            dc_buf_printf(b, "        d[%d] += wk[%d] * dk;\n", j, j);
        dc_buf_puts(b, "    }\n");
    } else if (dc_lanes_layer(c, l + 1)) {
        /* fast mode, short rows: written out, row after row (gcc would
         * unroll the loop over k and then vectorise the sums over k with
         * strided loads); the SLP vectors run along the rows. Beyond
         * DC_LANE_MAX rows, two rows written out per iteration of a loop
         * over them (as fast as all rows written out, a third of the
         * compile time at 256 rows), the odd row after it. */
        int k0 = 1;
        dc_buf_puts(b, "    (void)k;\n    (void)j;\n"); /* unused when written out with an identity activation */
        for (int j = 0; j < nl; j++)
            dc_buf_printf(b, "    d[%d] = w[%d] * dn[0];\n", j, j);
        if (nn > DC_LANE_MAX) {
            k0 = 1 + (nn - 1) / 2 * 2;
            dc_buf_printf(b, "    for (k = 1; k < %d; k += 2) {\n        const %s *wk = w + k * %d;\n", k0, T, nl);
            for (int r = 0; r < 2; r++)
                for (int j = 0; j < nl; j++)
                    dc_buf_printf(b, "        d[%d] += wk[%d] * dn[k + %d];\n", j, r * nl + j, r);
            dc_buf_puts(b, "    }\n");
        }
        for (int k = k0; k < nn; k++)
            for (int j = 0; j < nl; j++)
                dc_buf_printf(b, "    d[%d] += w[%d] * dn[%d];\n", j, k * nl + j, k);
    } else {
        dc_buf_printf(b,
                      "    for (j = 0; j < %d; j++)\n"
                      "        d[j] = w[j] * dn[0];\n"
                      "    for (k = 1; k < %d; k++) {\n"
                      "        const %s *wk = w + k * %d;\n"
                      "        %s dk = dn[k];\n"
                      "        for (j = 0; j < %d; j++)\n"
                      "            d[j] += wk[j] * dk;\n"
                      "    }\n",
                      nl, nn, T, nl, T, nl);
    }
    if (n->arch.act[l] != DCR_ACT_IDENTITY) {
        dc_buf_printf(b, "    for (j = 0; j < %d; j++) {\n", nl);
        dc_emit_deriv(b, c, n->arch.act[l], "d", "d[j]", "j");
        dc_buf_puts(b, "    }\n");
    }
    dc_buf_puts(b, "}\n\n");
}

void dc_loops_grad(dc_buf *b, const dc_emit_ctx *c, int l)
{
    const dc_net *n = c->net;
    const char *T = c->T;
    int nin = n->arch.sizes[l - 1], nout = n->arch.sizes[l];
    dc_buf_printf(b, "static void %s_grad%d(%s *restrict g, const %s *restrict d, const %s *restrict in)\n{\n",
                  c->P, l, T, T, T);
    if (c->loops[l] == DC_LAYER_KERNELS) {
        dc_buf_printf(b,
                      "    %s *gw = g + %zu, *gb = g + %zu;\n"
                      "    int k;\n"
                      "    for (k = 0; k < %d; k++) {\n"
                      "        gb[k] += d[k];\n"
                      "        dck_axpy%s(gw + k * %d, in, d[k], %d);\n"
                      "    }\n}\n\n",
                      T, n->w_off[l], n->b_off[l], nout, c->lit[0] ? "f" : "d", nin, nin);
        return;
    }
    if (c->loops[l] == DC_LAYER_BLOCKED) {
        dc_buf_printf(b,
                      "    %s *gw = g + %zu, *gb = g + %zu;\n"
                      "    int k;\n"
                      "    for (k = 0; k < %d; k++) {\n"
                      "        %s *gk = gw + k * %d;\n"
                      "        %s dk = d[k];\n"
                      "        gb[k] += dk;\n",
                      T, n->w_off[l], n->b_off[l], nout, T, nin, T);
        for (int j = 0; j < nin; j++)
            dc_buf_printf(b, "        gk[%d] += dk * in[%d];\n", j, j);
        dc_buf_puts(b, "    }\n}\n\n");
        return;
    }
    dc_buf_printf(b,
                  "    %s *gw = g + %zu, *gb = g + %zu;\n"
                  "    int k, j;\n"
                  "    for (k = 0; k < %d; k++) {\n"
                  "        %s *gk = gw + k * %d;\n"
                  "        %s dk = d[k];\n"
                  "        gb[k] += dk;\n"
                  "        for (j = 0; j < %d; j++)\n"
                  "            gk[j] += dk * in[j];\n"
                  "    }\n}\n\n",
                  T, n->w_off[l], n->b_off[l], nout, T, nin, T, nin);
}
