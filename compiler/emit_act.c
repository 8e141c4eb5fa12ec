/* emit_act.c: the statements every strategy shares: constants written so
 * that they read back exactly, and one unit's activation, derivative and
 * loss term in the canonical order of runtime/reference_impl.h. The unit's
 * index is text: a constant ("3") for unrolled code, a loop variable ("k")
 * for loops. */
#include <string.h>

#include "internal.h"

/* A constant of type T as text that reads back exactly: the value rounded
 * to T, printed with enough digits (and the f suffix for float). Only
 * validated numbers and the compiler's own constants come here. */
void dc_fmt_const(char *out, size_t cap, const dc_emit_ctx *c, double v)
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
void dc_emit_act_locals(dc_buf *b, const dc_emit_ctx *c, dcr_act act, double alpha, int deriv)
{
    char v1[40], v2[40], v3[40], v4[40];
    if (act == DCR_ACT_LEAKY_RELU || act == DCR_ACT_ELU) {
        dc_fmt_const(v1, sizeof v1, c, alpha);
        dc_buf_printf(b, "    const %s al = %s;\n", c->T, v1);
    } else if (act == DCR_ACT_GELU) {
        dc_fmt_const(v1, sizeof v1, c, 0.5);
        dc_fmt_const(v2, sizeof v2, c, GELU_K);
        dc_fmt_const(v3, sizeof v3, c, GELU_C);
        dc_buf_printf(b, "    const %s gh = %s, gk = %s, gc = %s", c->T, v1, v2, v3);
        if (deriv) {
            dc_fmt_const(v4, sizeof v4, c, GELU_C3);
            dc_buf_printf(b, ", gc3 = %s;\n    %s th", v4, c->T);
        }
        dc_buf_puts(b, ";\n");
    }
}

/* The derivative factor of a hidden or output activation applied to t:
 * writes "DST = t * sigma'" in the canonical form (the order of
 * runtime/reference_impl.h's act_deriv), with the locals of
 * dc_emit_act_locals(..., deriv = 1). */
void dc_emit_deriv(dc_buf *b, const dc_emit_ctx *c, dcr_act act, const char *dst, const char *t, const char *j)
{
    switch (act) {
    case DCR_ACT_IDENTITY:
        dc_buf_printf(b, "    %s[%s] = %s;\n", dst, j, t);
        break;
    case DCR_ACT_SIGMOID:
        dc_buf_printf(b, "    %s[%s] = %s * (a[%s] * (1 - a[%s]));\n", dst, j, t, j, j);
        break;
    case DCR_ACT_TANH:
        dc_buf_printf(b, "    %s[%s] = %s * (1 - a[%s] * a[%s]);\n", dst, j, t, j, j);
        break;
    case DCR_ACT_RELU:
        dc_buf_printf(b, "    %s[%s] = z[%s] > 0 ? %s : 0;\n", dst, j, j, t);
        break;
    case DCR_ACT_LEAKY_RELU:
        dc_buf_printf(b, "    %s[%s] = z[%s] > 0 ? %s : %s * al;\n", dst, j, j, t, t);
        break;
    case DCR_ACT_ELU:
        dc_buf_printf(b, "    %s[%s] = z[%s] > 0 ? %s : %s * (al * %s(z[%s]));\n", dst, j, j, t, t, c->exp, j);
        break;
    case DCR_ACT_SOFTPLUS:
        dc_buf_printf(b, "    %s[%s] = %s * (1 / (1 + %s(-z[%s])));\n", dst, j, t, c->exp, j);
        break;
    case DCR_ACT_GELU:
        dc_buf_printf(b, "    th = %s(gk * (z[%s] + gc * ((z[%s] * z[%s]) * z[%s])));\n", c->tanh, j, j, j, j);
        dc_buf_printf(b, "    %s[%s] = %s * ((gh * (1 + th)) + ((gh * z[%s]) * (1 - th * th)) * (gk * (1 + gc3 * (z[%s] * z[%s]))));\n",
                      dst, j, t, j, j, j);
        break;
    case DCR_ACT_SOFTMAX:
        DC_DIE("softmax has no separate derivative (fused with cross_entropy)");
    }
}

/* "v > 0 ? v + log1p(exp(-v)) : log1p(exp(v))" for the expression v
 * (a plain array element or local): softplus, as reference_impl.h has it */
void dc_emit_softplus(dc_buf *b, const dc_emit_ctx *c, const char *dst, const char *v)
{
    dc_buf_printf(b, "    %s = %s > 0 ? %s + %s(%s(-%s)) : %s(%s(%s));\n", dst, v, v, c->log1p, c->exp, v,
                  c->log1p, c->exp, v);
}

/* a[k] = sigma(z[k]) for an element-wise activation (softmax is done by
 * emit_fwd), with the locals of dc_emit_act_locals(..., deriv = 0) */
void dc_emit_act_fwd(dc_buf *b, const dc_emit_ctx *c, dcr_act act, const char *k)
{
    switch (act) {
    case DCR_ACT_IDENTITY:
        dc_buf_printf(b, "    a[%s] = z[%s];\n", k, k);
        break;
    case DCR_ACT_SIGMOID:
        dc_buf_printf(b, "    a[%s] = 1 / (1 + %s(-z[%s]));\n", k, c->exp, k);
        break;
    case DCR_ACT_TANH:
        dc_buf_printf(b, "    a[%s] = %s(z[%s]);\n", k, c->tanh, k);
        break;
    case DCR_ACT_RELU:
        dc_buf_printf(b, "    a[%s] = z[%s] > 0 ? z[%s] : 0;\n", k, k, k);
        break;
    case DCR_ACT_LEAKY_RELU:
        dc_buf_printf(b, "    a[%s] = z[%s] > 0 ? z[%s] : al * z[%s];\n", k, k, k, k);
        break;
    case DCR_ACT_ELU:
        dc_buf_printf(b, "    a[%s] = z[%s] > 0 ? z[%s] : al * %s(z[%s]);\n", k, k, k, c->expm1, k);
        break;
    case DCR_ACT_SOFTPLUS: {
        char dst[32], v[32];
        snprintf(dst, sizeof dst, "a[%s]", k);
        snprintf(v, sizeof v, "z[%s]", k);
        dc_emit_softplus(b, c, dst, v);
        break;
    }
    case DCR_ACT_GELU:
        dc_buf_printf(b, "    a[%s] = (gh * z[%s]) * (1 + %s(gk * (z[%s] + gc * ((z[%s] * z[%s]) * z[%s]))));\n", k,
                      k, c->tanh, k, k, k, k);
        break;
    case DCR_ACT_SOFTMAX:
        break;
    }
}

int dc_emit_act_kernel(dc_buf *b, const dc_emit_ctx *c, dcr_act act, int n)
{
    const char *f = act == DCR_ACT_TANH ? "tanh" : act == DCR_ACT_SIGMOID ? "sigmoid" : NULL;
    if (!c->act_kernels || !f)
        return 0;
    dc_buf_printf(b, "    dck_%s%s(a, z, %d);\n", f, c->lit[0] ? "f" : "d", n);
    return 1;
}

/* The statements of P_out for output unit k: its loss term and delta. */
void dc_emit_out_unit(dc_buf *b, const dc_emit_ctx *c, const char *k)
{
    const dcr_arch *a = &c->net->arch;
    switch (a->loss) {
    case DCR_LOSS_CROSS_ENTROPY:
        dc_buf_printf(b, "    loss += y[%s] * ((z[%s] - m) - ls);\n", k, k);
        dc_buf_printf(b, "    d[%s] = a[%s] - y[%s];\n", k, k, k);
        break;
    case DCR_LOSS_BINARY_CROSS_ENTROPY: {
        char zk[32];
        snprintf(zk, sizeof zk, "z[%s]", k);
        dc_buf_printf(b, "    v = -z[%s];\n", k);
        dc_emit_softplus(b, c, "sn", "v");
        dc_emit_softplus(b, c, "sp", zk);
        dc_buf_printf(b, "    loss += y[%s] * sn + (1 - y[%s]) * sp;\n", k, k);
        dc_buf_printf(b, "    d[%s] = a[%s] - y[%s];\n", k, k, k);
        break;
    }
    case DCR_LOSS_MSE:
        dc_buf_printf(b, "    e = a[%s] - y[%s];\n    loss += e * e;\n", k, k);
        dc_emit_deriv(b, c, a->act[a->n_layers], "d", "e", k);
        break;
    }
}

/* v rounded to T, as a literal that reads back exactly */
void dc_opt_const(char *out, size_t cap, const dc_emit_ctx *c, double v)
{
    if (c->lit[0])
        snprintf(out, cap, "%.9gf", (double)(float)v);
    else
        snprintf(out, cap, "%.17g", v);
}


/* The softmax of one row: a[k] = exp(z[k] - m) / s with m = max z and s
 * the sum, in the reference engine's order, over the locals z, a, m, s (T)
 * and k (int); m and s are left for the caller (the loss needs them).
 * Each line starts with ind. */
void dc_emit_softmax_row(dc_buf *b, const dc_emit_ctx *c, int n, const char *ind)
{
    if (c->act_kernels) {
        dc_buf_printf(b,
                      "%sm = z[0];\n"
                      "%sfor (k = 1; k < %d; k++)\n"
                      "%s    if (z[k] > m) m = z[k];\n"
                      "%sdck_expsub%s(a, z, m, %d);\n"
                      "%ss = a[0];\n"
                      "%sfor (k = 1; k < %d; k++)\n"
                      "%s    s += a[k];\n"
                      "%sfor (k = 0; k < %d; k++)\n"
                      "%s    a[k] = a[k] / s;\n",
                      ind, ind, n, ind, ind, c->lit[0] ? "f" : "d", n, ind, ind, n, ind, ind, n, ind);
        return;
    }
    dc_buf_printf(b,
                  "%sm = z[0];\n"
                  "%sfor (k = 1; k < %d; k++)\n"
                  "%s    if (z[k] > m) m = z[k];\n"
                  "%sfor (k = 0; k < %d; k++)\n"
                  "%s    a[k] = %s(z[k] - m);\n"
                  "%ss = a[0];\n"
                  "%sfor (k = 1; k < %d; k++)\n"
                  "%s    s += a[k];\n"
                  "%sfor (k = 0; k < %d; k++)\n"
                  "%s    a[k] = a[k] / s;\n",
                  ind, ind, n, ind, ind, n, ind, c->exp, ind, ind, n, ind, ind, n, ind);
}
