/* emit_batch.c: the minibatch driver P_batch_grad with register-blocked
 * kernels, for code the system C compiler builds. Samples go through the
 * network DC_SB at a time: each row of W is loaded once for the block's
 * DC_SB dot products (forward), and each element of the gradient of W is
 * loaded and stored once for the block's DC_SB products (gradient), instead
 * of once per sample. The delta recursion and the loss run per sample.
 *
 * The arithmetic is still the canonical one: every z starts at its bias and
 * adds its products in input order, every gradient element adds the
 * samples' terms in sample order; so exact builds equal the reference
 * engine bit for bit. The gradient kernel vectorises in every mode (each
 * element is independent); the forward kernel's dot products when
 * reassociation is allowed (the cc backend's fast mode). */
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

/* P_bgradL: g(W) += sum over the block's samples of d a^T, g(b) += d, each
 * element adding the samples in order */
static void emit_bgrad(dc_buf *b, const dc_emit_ctx *c, int l)
{
    const dc_net *n = c->net;
    const char *T = c->T, *P = c->P;
    int nin = n->arch.sizes[l - 1], nout = n->arch.sizes[l];
    dc_buf_printf(b, "static void %s_bgrad%d(%s *restrict g, const %s *restrict D, const %s *restrict In)\n{\n", P, l,
                  T, T, T);
    dc_buf_printf(b, "    %s *gw = g + %zu, *gb = g + %zu;\n    int k, j;\n", T, n->w_off[l], n->b_off[l]);
    dc_buf_printf(b, "    for (k = 0; k < %d; k++) {\n        %s *gk = gw + k * %d;\n", nout, T, nin);
    for (int i = 0; i < DC_SB; i++)
        dc_buf_printf(b, "        %s d%d = D[%d + k];\n", T, i, i * nout);
    for (int i = 0; i < DC_SB; i++)
        dc_buf_printf(b, "        gb[k] += d%d;\n", i);
    dc_buf_printf(b, "        for (j = 0; j < %d; j++) {\n            %s v = gk[j];\n", nin, T);
    for (int i = 0; i < DC_SB; i++)
        dc_buf_printf(b, "            v += d%d * In[%d + j];\n", i, i * nin);
    dc_buf_puts(b, "            gk[j] = v;\n        }\n    }\n}\n\n");
}

void dc_emit_batch_driver(dc_buf *b, const dc_emit_ctx *c)
{
    const dc_net *n = c->net;
    const dcr_arch *a = &n->arch;
    const char *T = c->T, *P = c->P;
    int L = a->n_layers, sm = a->act[L] == DCR_ACT_SOFTMAX;
    for (int l = 1; l <= L; l++)
        emit_bfwd(b, c, l);
    for (int l = 1; l <= L; l++)
        emit_bgrad(b, c, l);
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
