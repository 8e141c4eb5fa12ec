/* emit_batch.c: the minibatch driver P_batch_grad with register-blocked
 * kernels, for code the system C compiler builds. Samples go through the
 * network DC_SB at a time, in one of two layouts of a block:
 *
 * - sample-major (V[s][k], the per-sample functions' layout): each row of W
 *   is loaded once for the block's DC_SB dot products (forward), and each
 *   element of the gradient of W once for the block's DC_SB products
 *   (gradient); the delta recursion and the loss run per sample;
 * - sample-minor (V[k][s] inside a block, float32, not too wide a layer):
 *   the hidden layers' forward pass and deltas by tiles of units x samples
 *   with a vector per unit (below), so narrow layers keep the vector lanes
 *   busy; the output layer and the gradients as in the sample-major driver
 *   on rows transposed per block.
 *
 * The arithmetic is still the canonical one: every z starts at its bias and
 * adds its products in input order, every delta adds its terms in the next
 * layer's unit order, every gradient element adds the samples' terms in
 * sample order; so exact builds equal the reference engine bit for bit. */
#include "internal.h"

/* the block's scratch (z, a, delta of every layer, DC_SB samples) must fit
 * comfortably on the stack */
#define DC_BATCH_STACK_MAX (256u << 10)

int dc_batch_fits(const dc_net *n)
{
    const dcr_arch *a = &n->arch;
    uint64_t units = 0;
    for (int l = 1; l <= a->n_layers; l++)
        units += (uint64_t)a->sizes[l];
    return units * 3 * DC_SB * dcr_dtype_size(a->dtype) <= DC_BATCH_STACK_MAX;
}

/* P_bfwdL: Z[DC_SB][nout] = In[DC_SB][nin] W^T + b, then each row's activation */
static void emit_bfwd(dc_buf *b, const dc_emit_ctx *c, int l)
{
    const dc_net *n = c->net;
    const char *T = c->T, *P = c->P;
    int nin = n->arch.sizes[l - 1], nout = n->arch.sizes[l];
    dcr_act act = n->arch.act[l];
    int sm = act == DCR_ACT_SOFTMAX;
    dc_buf_printf(b, "static void %s_bfwd%d(%s *restrict Z, %s *restrict A, %s%sconst %s *restrict p, const %s *restrict In)\n{\n",
                  P, l, T, T, sm ? T : "", sm ? " *restrict St, " : "", T, T);
    dc_emit_act_locals(b, c, act, n->arch.alpha[l], 0);
    dc_buf_printf(b, "    const %s *w = p + %zu, *bias = p + %zu;\n    int k, j, i;\n", T, n->w_off[l], n->b_off[l]);
    if (sm)
        dc_buf_printf(b, "    %s m, s;\n", T);
    dc_buf_printf(b, "    for (k = 0; k < %d; k++) {\n        const %s *wk = w + k * %d;\n", nout, T, nin);
    for (int i = 0; i < DC_SB; i++)
        dc_buf_printf(b, "        %s s%d = bias[k];\n", T, i);
    dc_buf_printf(b, "        for (j = 0; j < %d; j++) {\n            %s wj = wk[j];\n", nin, T);
    for (int i = 0; i < DC_SB; i++)
        dc_buf_printf(b, "            s%d += wj * In[%d + j];\n", i, i * nin);
    dc_buf_puts(b, "        }\n");
    for (int i = 0; i < DC_SB; i++)
        dc_buf_printf(b, "        Z[%d + k] = s%d;\n", i * nout, i);
    dc_buf_puts(b, "    }\n");
    /* the activation, row by row */
    dc_buf_printf(b, "    for (i = 0; i < %d; i++) {\n        const %s *z = Z + i * %d;\n        %s *a = A + i * %d;\n",
                  DC_SB, T, nout, T, nout);
    if (sm) {
        dc_emit_softmax_row(b, c, nout, "        ");
        dc_buf_puts(b, "        St[2 * i] = m;\n        St[2 * i + 1] = s;\n");
    } else {
        dc_buf_printf(b, "        for (k = 0; k < %d; k++) {\n", nout);
        dc_emit_act_fwd(b, c, act, "k");
        dc_buf_puts(b, "        }\n");
    }
    dc_buf_puts(b, "    }\n}\n\n");
}

/* The gradient kernel of layer l: g(W) += sum over the block's samples of
 * d a^T, g(b) += d, each element adding the samples in order; In is
 * sample-major (In[DC_SB][nin]: the loop over inputs vectorises, the
 * block's deltas of a unit in registers). P_bgradL takes D sample-major
 * (D[DC_SB][nout]), P_tgradL sample-minor (D[nout][DC_SB]). */
static void emit_grad_kernel(dc_buf *b, const dc_emit_ctx *c, int l, int minor)
{
    const dc_net *n = c->net;
    const char *T = c->T, *P = c->P;
    int nin = n->arch.sizes[l - 1], nout = n->arch.sizes[l];
    dc_buf_printf(b, "static void %s_%cgrad%d(%s *restrict g, const %s *restrict D, const %s *restrict In)\n{\n", P,
                  minor ? 't' : 'b', l, T, T, T);
    dc_buf_printf(b, "    %s *gw = g + %zu, *gb = g + %zu;\n    int k, j;\n", T, n->w_off[l], n->b_off[l]);
    dc_buf_printf(b, "    for (k = 0; k < %d; k++) {\n        %s *gk = gw + k * %d;\n", nout, T, nin);
    for (int i = 0; i < DC_SB; i++) {
        if (minor)
            dc_buf_printf(b, "        %s d%d = D[k * %d + %d];\n", T, i, DC_SB, i);
        else
            dc_buf_printf(b, "        %s d%d = D[%d + k];\n", T, i, i * nout);
    }
    for (int i = 0; i < DC_SB; i++)
        dc_buf_printf(b, "        gb[k] += d%d;\n", i);
    dc_buf_printf(b, "        for (j = 0; j < %d; j++) {\n            %s v = gk[j];\n", nin, T);
    for (int i = 0; i < DC_SB; i++)
        dc_buf_printf(b, "            v += d%d * In[%d + j];\n", i, i * nin);
    dc_buf_puts(b, "            gk[j] = v;\n        }\n    }\n}\n\n");
}

/* ---- the sample-minor kernels ----------------------------------------------
 * Inside a block, a hidden layer's values are unit-major, sample-minor:
 * V[k][s], s = 0..DC_SB-1 contiguous (the block's samples of one unit make
 * whole vectors). A tile is R units x DC_SB samples of accumulators that
 * stay in registers (R = DC_TILE_UNITS = 4 in float32: 8 vectors of 128
 * bits); the loop over inputs around it (over the next layer's units, for
 * the deltas) loads the inputs' vectors once and adds one broadcast weight
 * times a vector per accumulator: every z, delta still adds its terms one at
 * a time in the canonical order, each lane being one sample.
 *
 * gcc 12 left to itself vectorises that loop instead (a reduction over the
 * inputs, with shuffles, or the loop over the tile's rows with one row left
 * in memory): 2-3x slower. A volatile read in the loop keeps its loop
 * vectoriser off the loop (it does not vectorise loops that touch volatile
 * memory); the rows are written out, so the basic-block vectoriser takes the
 * tile's statements and makes the intended code. The read costs one load
 * per iteration. When the units do not divide by R, the last tile
 * overlaps the one before (recomputing some units with the same result);
 * a layer narrower than R gets one narrower tile. docs/codegen.md has the
 * measurements. */

static int tile_units(const dc_emit_ctx *c, int n)
{
    int r = c->lit[0] ? DC_TILE_UNITS : DC_TILE_UNITS / 2;
    return n < r ? n : r;
}

typedef void (*tile_body)(dc_buf *b, const dc_emit_ctx *c, int l, const char *k0, int R, const char *ind);

/* the tiles over n units: one loop body for every tile (gcc compiles a tile
 * at a constant start differently) */
static void emit_tiles(dc_buf *b, const dc_emit_ctx *c, int l, int n, const char *kv, tile_body body)
{
    int R = tile_units(c, n), nt = (n + R - 1) / R;
    if (nt * R == n)
        dc_buf_printf(b, "    for (t = 0; t < %d; t++) {\n        %s = t * %d;\n", nt, kv, R);
    else
        dc_buf_printf(b, "    for (t = 0; t < %d; t++) {\n        %s = t * %d < %d ? t * %d : %d;\n", nt, kv, R, n - R,
                      R, n - R);
    body(b, c, l, kv, R, "        ");
    dc_buf_puts(b, "    }\n");
}

static void tile_store(dc_buf *b, const char *dst, const char *k0, int R, const char *ind)
{
    dc_buf_printf(b,
                  "%sfor (r = 0; r < %d; r++)\n%s    for (s = 0; s < %d; s++)\n"
                  "%s        %s[(%s + r) * %d + s] = acc[r][s];\n",
                  ind, R, ind, DC_SB, ind, dst, k0, DC_SB);
}

/* z of units k0..k0+R-1: the bias, then w[k][j] in[j] in input order */
static void body_fwd(dc_buf *b, const dc_emit_ctx *c, int l, const char *k0, int R, const char *ind)
{
    int nin = c->net->arch.sizes[l - 1];
    const char *T = c->T;
    dc_buf_printf(b,
                  "%s%s acc[%d][%d];\n%sconst %s *wk = w + %s * %d;\n%sfor (r = 0; r < %d; r++)\n"
                  "%s    for (s = 0; s < %d; s++)\n%s        acc[r][s] = bias[%s + r];\n",
                  ind, T, R, DC_SB, ind, T, k0, nin, ind, R, ind, DC_SB, ind, k0);
    dc_buf_printf(b, "%sfor (j = 0; j < %d; j++) {\n%s    const %s *x = In + j * %d;\n%s    (void)guard;\n", ind, nin,
                  ind, T, DC_SB, ind);
    for (int r = 0; r < R; r++)
        dc_buf_printf(b, "%s    for (s = 0; s < %d; s++)\n%s        acc[%d][s] += wk[%d + j] * x[s];\n", ind, DC_SB, ind,
                      r, r * nin);
    dc_buf_printf(b, "%s}\n", ind);
    tile_store(b, "Z", k0, R, ind);
}

/* delta of units j0..j0+R-1 of layer l: w(l+1)[k][j] dn[k] in k order,
 * from -0 (x + -0 = x for every x, so the sum equals the one starting at
 * k = 0's product); the weights from W(l+1) transposed (wt[j][k]: the
 * tile's rows are apart, so each weight is one broadcast, as in the forward
 * kernel) */
static void body_bwd(dc_buf *b, const dc_emit_ctx *c, int l, const char *j0, int R, const char *ind)
{
    int nn = c->net->arch.sizes[l + 1];
    const char *T = c->T;
    dc_buf_printf(b,
                  "%s%s acc[%d][%d];\n%sconst %s *wj = wt + %s * %d;\n%sfor (r = 0; r < %d; r++)\n"
                  "%s    for (s = 0; s < %d; s++)\n%s        acc[r][s] = -0.0%s;\n",
                  ind, T, R, DC_SB, ind, T, j0, nn, ind, R, ind, DC_SB, ind, c->lit);
    dc_buf_printf(b, "%sfor (k = 0; k < %d; k++) {\n%s    const %s *dn = Dn + k * %d;\n%s    (void)guard;\n", ind, nn,
                  ind, T, DC_SB, ind);
    for (int r = 0; r < R; r++)
        dc_buf_printf(b, "%s    for (s = 0; s < %d; s++)\n%s        acc[%d][s] += wj[%d + k] * dn[s];\n", ind, DC_SB, ind,
                      r, r * nn);
    dc_buf_printf(b, "%s}\n", ind);
    /* times the derivative, as the tile is stored (a loop of its own over
     * the layer made gcc vectorise the tile badly) */
    dc_buf_printf(b, "%sfor (r = 0; r < %d; r++)\n%s    for (s = 0; s < %d; s++) {\n%s        q = (%s + r) * %d + s;\n",
                  ind, R, ind, DC_SB, ind, j0, DC_SB);
    dc_emit_deriv(b, c, c->net->arch.act[l], "d", "acc[r][s]", "q");
    dc_buf_printf(b, "%s    }\n", ind);
}

/* P_tfwdL (a hidden layer): Z[nout][DC_SB] from In[nin][DC_SB], then the
 * activation, element by element */
static void emit_tfwd(dc_buf *b, const dc_emit_ctx *c, int l)
{
    const dc_net *n = c->net;
    const char *T = c->T;
    int nout = n->arch.sizes[l];
    dcr_act act = n->arch.act[l];
    dc_buf_printf(b,
                  "static void %s_tfwd%d(%s *restrict Z, %s *restrict A, const %s *restrict p, const %s *restrict In)\n"
                  "{\n",
                  c->P, l, T, T, T, T);
    dc_emit_act_locals(b, c, act, n->arch.alpha[l], 0);
    dc_buf_printf(b, "    const %s *w = p + %zu, *bias = p + %zu;\n    volatile int guard = 0;\n    int k, j, r, s, t;\n", T,
                  n->w_off[l], n->b_off[l]);
    emit_tiles(b, c, l, nout, "k", body_fwd);
    dc_buf_printf(b, "    for (k = 0; k < %d; k++) {\n        const %s *z = Z;\n        %s *a = A;\n", nout * DC_SB, T,
                  T);
    dc_emit_act_fwd(b, c, act, "k");
    dc_buf_puts(b, "    }\n}\n\n");
}

/* P_tbwdL: the block's deltas of layer l, D[nl][DC_SB] from Dn[nn][DC_SB]
 * through W(l+1), then the activation's derivative */
static void emit_tbwd(dc_buf *b, const dc_emit_ctx *c, int l)
{
    const dc_net *n = c->net;
    const char *T = c->T;
    dc_buf_printf(b,
                  "static void %s_tbwd%d(%s *restrict d, const %s *restrict z, const %s *restrict a, const %s "
                  "*restrict wt, const %s *restrict Dn)\n{\n",
                  c->P, l, T, T, T, T, T);
    dc_emit_act_locals(b, c, n->arch.act[l], n->arch.alpha[l], 1);
    dc_buf_puts(b, "    volatile int guard = 0;\n    int k, j, r, s, t, q;\n    (void)z;\n    (void)a;\n");
    emit_tiles(b, c, l, n->arch.sizes[l], "j", body_bwd);
    dc_buf_puts(b, "}\n\n");
}

/* dst[s][k] = src[k][s] (or back) for an n x DC_SB tile */
static void emit_transpose(dc_buf *b, const dc_emit_ctx *c)
{
    const char *T = c->T;
    dc_buf_printf(b,
                  "/* t[s * n + k] = v[k * %d + s]: a block of n units, sample-minor to sample-major */\n"
                  "static void %s_to_rows(%s *restrict t, const %s *restrict v, int n)\n{\n"
                  "    int k, s;\n    for (k = 0; k < n; k++)\n        for (s = 0; s < %d; s++)\n"
                  "            t[s * n + k] = v[k * %d + s];\n}\n\n",
                  DC_SB, c->P, T, T, DC_SB, DC_SB);
    dc_buf_printf(b,
                  "/* v[k * %d + s] = t[s * n + k] */\n"
                  "static void %s_to_cols(%s *restrict v, const %s *restrict t, int n)\n{\n"
                  "    int k, s;\n    for (s = 0; s < %d; s++)\n        for (k = 0; k < n; k++)\n"
                  "            v[k * %d + s] = t[s * n + k];\n}\n\n",
                  DC_SB, c->P, T, T, DC_SB, DC_SB);
    dc_buf_printf(b,
                  "/* t[j * m + k] = v[k * n + j]: an m x n matrix transposed */\n"
                  "static void %s_transpose(%s *restrict t, const %s *restrict v, int n, int m)\n{\n"
                  "    int k, j;\n    for (k = 0; k < m; k++)\n        for (j = 0; j < n; j++)\n"
                  "            t[j * m + k] = v[k * n + j];\n}\n\n",
                  c->P, T, T);
}

/* one block of the sample-minor driver, x and y its rows (DC_SB of them):
 * the forward pass, the losses and the deltas; tail: the block is the last
 * samples padded with zero rows, m of them count */
static void emit_minor_block(dc_buf *b, const dc_emit_ctx *c, int tail, const char *ind)
{
    const dcr_arch *a = &c->net->arch;
    const char *P = c->P;
    int L = a->n_layers, sm = a->act[L] == DCR_ACT_SOFTMAX, nL = a->sizes[L], n0 = a->sizes[0];
    dc_buf_printf(b, "%s%s_to_cols(XT, x, %d);\n", ind, P, n0);
    for (int l = 1; l < L; l++) {
        if (l == 1)
            dc_buf_printf(b, "%s%s_tfwd1(Z1, A1, p, XT);\n", ind, P);
        else
            dc_buf_printf(b, "%s%s_tfwd%d(Z%d, A%d, p, A%d);\n", ind, P, l, l, l, l - 1);
        dc_buf_printf(b, "%s%s_to_rows(R%d, A%d, %d);\n", ind, P, l, l, a->sizes[l]);
    }
    char in[16];
    if (L == 1)
        snprintf(in, sizeof in, "x");
    else
        snprintf(in, sizeof in, "R%d", L - 1);
    if (sm)
        dc_buf_printf(b, "%s%s_bfwd%d(ZO, AO, St, p, %s);\n", ind, P, L, in);
    else
        dc_buf_printf(b, "%s%s_bfwd%d(ZO, AO, p, %s);\n", ind, P, L, in);
    /* every row's loss and delta (in the tail the padding rows' too: finite,
     * not counted) */
    dc_buf_printf(b, "%sfor (s = 0; s < %d; s++) {\n", ind, DC_SB);
    if (a->loss == DCR_LOSS_CROSS_ENTROPY)
        dc_buf_printf(b, "%s    ls = %s_out(DO + s * %d, ZO + s * %d, AO + s * %d, St + 2 * s, y + s * %d);\n", ind, P,
                      nL, nL, nL, nL);
    else
        dc_buf_printf(b, "%s    ls = %s_out(DO + s * %d, ZO + s * %d, AO + s * %d, y + s * %d);\n", ind, P, nL, nL,
                      nL, nL);
    if (tail)
        dc_buf_printf(b, "%s    if (s < m)\n%s        loss += ls;\n%s}\n", ind, ind, ind);
    else
        dc_buf_printf(b, "%s    loss += ls;\n%s}\n", ind, ind);
    if (L > 1)
        dc_buf_printf(b, "%s%s_to_cols(D%d, DO, %d);\n", ind, P, L, nL);
    for (int l = L - 1; l >= 1; l--)
        dc_buf_printf(b, "%s%s_tbwd%d(D%d, Z%d, A%d, WT%d, D%d);\n", ind, P, l, l, l, l, l + 1, l + 1);
    if (!tail) {
        for (int l = 1; l < L; l++) {
            if (l == 1)
                dc_buf_printf(b, "%s%s_tgrad1(grad, D1, x);\n", ind, P);
            else
                dc_buf_printf(b, "%s%s_tgrad%d(grad, D%d, R%d);\n", ind, P, l, l, l - 1);
        }
        dc_buf_printf(b, "%s%s_bgrad%d(grad, DO, %s);\n", ind, P, L, in);
        return;
    }
    /* the tail's gradients sample by sample (P_gradL, on rows) */
    for (int l = 1; l < L; l++)
        dc_buf_printf(b, "%s%s_to_rows(DR%d, D%d, %d);\n", ind, P, l, l, a->sizes[l]);
    dc_buf_printf(b, "%sfor (s = 0; s < m; s++) {\n", ind);
    for (int l = 1; l <= L; l++) {
        char d[32], x[32];
        if (l < L)
            snprintf(d, sizeof d, "DR%d + s * %d", l, a->sizes[l]);
        else
            snprintf(d, sizeof d, "DO + s * %d", nL);
        if (l == 1)
            snprintf(x, sizeof x, "x + s * %d", n0);
        else
            snprintf(x, sizeof x, "R%d + s * %d", l - 1, a->sizes[l - 1]);
        dc_buf_printf(b, "%s    %s_grad%d(grad, %s, %s);\n", ind, P, l, d, x);
    }
    dc_buf_printf(b, "%s}\n", ind);
}

/* the sample-minor driver: the hidden layers' forward pass and deltas by
 * tiles; the output layer (whose loss is per sample) as in the sample-major
 * driver; the gradients by tiles on the hidden layers' rows transposed per
 * block. The samples after the last full block go through the same kernels
 * as a block padded with zero rows (each kernel then has two callers, which
 * also keeps gcc from inlining them into this function: inlined, they come
 * out slower) */
static void emit_minor_driver(dc_buf *b, const dc_emit_ctx *c)
{
    const dc_net *n = c->net;
    const dcr_arch *a = &n->arch;
    const char *T = c->T, *P = c->P;
    int L = a->n_layers, sm = a->act[L] == DCR_ACT_SOFTMAX, nL = a->sizes[L], n0 = a->sizes[0];
    emit_transpose(b, c);
    for (int l = 1; l < L; l++)
        emit_tfwd(b, c, l);
    emit_bfwd(b, c, L);
    for (int l = 1; l < L; l++)
        emit_tbwd(b, c, l);
    for (int l = 1; l < L; l++)
        emit_grad_kernel(b, c, l, 1);
    emit_grad_kernel(b, c, L, 0);
    dc_buf_printf(b,
                  "/* grad = the sum of the per-sample gradients over n samples (rows of X\n"
                  " * and Y), %d samples at a time (sample-minor blocks); returns the mean loss. */\n"
                  "double %s_batch_grad(%s *grad, const %s *p, const %s *X, const %s *Y, int n)\n{\n"
                  "    double loss = 0;\n    long i;\n    int s;\n    %s ls;\n",
                  DC_SB, P, T, T, T, T, T);
    dc_buf_printf(b, "    %s XT[%d];\n", T, DC_SB * n0);
    for (int l = 1; l < L; l++)
        dc_buf_printf(b, "    %s Z%d[%d], A%d[%d], D%d[%d], R%d[%d], DR%d[%d];\n", T, l, DC_SB * a->sizes[l], l,
                      DC_SB * a->sizes[l], l, DC_SB * a->sizes[l], l, DC_SB * a->sizes[l], l, DC_SB * a->sizes[l]);
    /* the output layer, sample-major, and its deltas sample-minor */
    dc_buf_printf(b, "    %s ZO[%d], AO[%d], DO[%d], D%d[%d];\n", T, DC_SB * nL, DC_SB * nL, DC_SB * nL, L, DC_SB * nL);
    if (sm)
        dc_buf_printf(b, "    %s St[%d];\n", T, 2 * DC_SB);
    /* W(l)^T for the deltas of layer l - 1 */
    for (int l = 2; l <= L; l++)
        dc_buf_printf(b, "    %s WT%d[%d];\n", T, l, a->sizes[l - 1] * a->sizes[l]);
    for (int l = 2; l <= L; l++)
        dc_buf_printf(b, "    %s_transpose(WT%d, p + %zu, %d, %d);\n", P, l, n->w_off[l], a->sizes[l - 1],
                      a->sizes[l]);
    dc_buf_printf(b, "    for (i = 0; i < %zu; i++)\n        grad[i] = 0;\n", n->n_params);
    dc_buf_printf(b, "    for (i = 0; i + %d <= n; i += %d) {\n", DC_SB, DC_SB);
    dc_buf_printf(b, "        const %s *x = X + i * %d, *y = Y + i * %d;\n", T, n0, nL);
    emit_minor_block(b, c, 0, "        ");
    dc_buf_puts(b, "    }\n");
    dc_buf_printf(b,
                  "    if (i < n) {\n"
                  "        /* the last n - i samples, padded with zero rows */\n"
                  "        %s x[%d], y[%d];\n"
                  "        int m = (int)(n - i);\n"
                  "        for (s = 0; s < %d; s++)\n"
                  "            x[s] = s < m * %d ? X[i * %d + s] : 0;\n"
                  "        for (s = 0; s < %d; s++)\n"
                  "            y[s] = s < m * %d ? Y[i * %d + s] : 0;\n",
                  T, DC_SB * n0, DC_SB * nL, DC_SB * n0, n0, n0, DC_SB * nL, nL, nL);
    emit_minor_block(b, c, 1, "        ");
    dc_buf_puts(b, "    }\n    return loss / n;\n}\n\n");
}

/* The sample-minor driver's scratch (elements): the inputs' block and the
 * tail's rows, five arrays per hidden layer, four for the output layer, the
 * softmax's, and W(l)^T for l >= 2 */
static uint64_t minor_scratch(const dc_net *n)
{
    const dcr_arch *a = &n->arch;
    int L = a->n_layers;
    uint64_t e = (uint64_t)DC_SB * (2 * (uint64_t)a->sizes[0] + 5 * (uint64_t)a->sizes[L] + 2);
    for (int l = 1; l < L; l++)
        e += 5 * (uint64_t)DC_SB * (uint64_t)a->sizes[l];
    for (int l = 2; l <= L; l++)
        e += (uint64_t)a->sizes[l - 1] * (uint64_t)a->sizes[l];
    return e;
}

/* The sample-minor driver, or the sample-major one. Float32 only: in
 * float64 a tile is 2 units (4 vectors of a unit's 8 samples each) and
 * the driver measured slower than the sample-major one. In fast mode the
 * sample-major forward kernel's dot products over a wide input (784) are
 * the faster (they vectorise by reassociation); with every layer's inputs
 * DC_MINOR_MAX_INPUTS or fewer the sample-minor driver wins (docs/codegen.md
 * has the measurements). In exact mode the sample-major dot products do
 * not vectorise at all, and the sample-minor driver wins everywhere. */
#define DC_MINOR_MAX_INPUTS 512
static int use_minor(const dc_emit_ctx *c)
{
    const dcr_arch *a = &c->net->arch;
    if (a->dtype != DCR_F32 || minor_scratch(c->net) * dcr_dtype_size(a->dtype) > DC_BATCH_STACK_MAX)
        return 0;
    if (!c->fast_math)
        return 1;
    for (int l = 1; l <= a->n_layers; l++)
        if (a->sizes[l - 1] > DC_MINOR_MAX_INPUTS)
            return 0;
    return 1;
}

void dc_emit_batch_driver(dc_buf *b, const dc_emit_ctx *c)
{
    const dc_net *n = c->net;
    const dcr_arch *a = &n->arch;
    const char *T = c->T, *P = c->P;
    int L = a->n_layers, sm = a->act[L] == DCR_ACT_SOFTMAX;
    if (use_minor(c)) {
        emit_minor_driver(b, c);
        return;
    }
    for (int l = 1; l <= L; l++)
        emit_bfwd(b, c, l);
    for (int l = 1; l <= L; l++)
        emit_grad_kernel(b, c, l, 0);
    dc_buf_printf(b,
                  "/* grad = the sum of the per-sample gradients over n samples (rows of X\n"
                  " * and Y), %d samples at a time; returns the mean loss. */\n"
                  "double %s_batch_grad(%s *grad, const %s *p, const %s *X, const %s *Y, int n)\n{\n"
                  "    double loss = 0;\n    long i;\n    int s;\n",
                  DC_SB, P, T, T, T, T);
    for (int l = 1; l <= L; l++)
        dc_buf_printf(b, "    %s Z%d[%d], A%d[%d], D%d[%d];\n", T, l, DC_SB * a->sizes[l], l, DC_SB * a->sizes[l], l,
                      DC_SB * a->sizes[l]);
    if (sm)
        dc_buf_printf(b, "    %s St[%d];\n", T, 2 * DC_SB);
    dc_buf_printf(b, "    for (i = 0; i < %zu; i++)\n        grad[i] = 0;\n", n->n_params);
    dc_buf_printf(b, "    for (i = 0; i + %d <= n; i += %d) {\n", DC_SB, DC_SB);
    dc_buf_printf(b, "        const %s *x = X + i * %d, *y = Y + i * %d;\n", T, a->sizes[0], a->sizes[L]);
    for (int l = 1; l <= L; l++) {
        char in[16];
        if (l == 1)
            snprintf(in, sizeof in, "x");
        else
            snprintf(in, sizeof in, "A%d", l - 1);
        if (a->act[l] == DCR_ACT_SOFTMAX)
            dc_buf_printf(b, "        %s_bfwd%d(Z%d, A%d, St, p, %s);\n", P, l, l, l, in);
        else
            dc_buf_printf(b, "        %s_bfwd%d(Z%d, A%d, p, %s);\n", P, l, l, l, in);
    }
    dc_buf_printf(b, "        for (s = 0; s < %d; s++) {\n", DC_SB);
    int nL = a->sizes[L];
    if (a->loss == DCR_LOSS_CROSS_ENTROPY)
        dc_buf_printf(b, "            loss += %s_out(D%d + s * %d, Z%d + s * %d, A%d + s * %d, St + 2 * s, y + s * %d);\n", P,
                      L, nL, L, nL, L, nL, nL);
    else
        dc_buf_printf(b, "            loss += %s_out(D%d + s * %d, Z%d + s * %d, A%d + s * %d, y + s * %d);\n", P, L, nL,
                      L, nL, L, nL, nL);
    for (int l = L - 1; l >= 1; l--)
        dc_buf_printf(b, "            %s_bwd%d(D%d + s * %d, Z%d + s * %d, A%d + s * %d, p, D%d + s * %d);\n", P, l, l,
                      a->sizes[l], l, a->sizes[l], l, a->sizes[l], l + 1, a->sizes[l + 1]);
    dc_buf_puts(b, "        }\n");
    for (int l = 1; l <= L; l++) {
        if (l == 1)
            dc_buf_printf(b, "        %s_bgrad1(grad, D1, x);\n", P);
        else
            dc_buf_printf(b, "        %s_bgrad%d(grad, D%d, A%d);\n", P, l, l, l - 1);
    }
    dc_buf_puts(b, "    }\n");
    dc_buf_printf(b,
                  "    for (; i < n; i++)\n"
                  "        loss += %s_loss_grad(grad, p, X + i * %d, Y + i * %d);\n"
                  "    return loss / n;\n}\n\n",
                  P, a->sizes[0], nL);
}
