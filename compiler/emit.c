/* emit.c: the parts of a generated file every strategy shares: the header
 * comment, the declarations, the minibatch driver and the void-pointer entry
 * points. A strategy (emit_unrolled.c, ...) writes the network's functions.
 *
 * Nothing from a spec reaches the text but validated numbers and the
 * validated name prefix. The command line is the user's, not the spec's, and
 * is still made safe for a comment. */
#include <string.h>

#include "internal.h"

/* ---- the buffer -------------------------------------------------------------- */

static int buf_reserve(dc_buf *b, size_t more)
{
    if (b->failed)
        return -1;
    if (more > b->limit || b->len + more + 1 > b->limit) {
        b->failed = b->over_limit = 1;
        return -1;
    }
    if (b->len + more + 1 <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 1 << 16;
    while (cap < b->len + more + 1)
        cap *= 2;
    if (cap > b->limit + 1)
        cap = b->limit + 1;
    char *p = realloc(b->p, cap);
    if (!p) {
        b->failed = 1;
        return -1;
    }
    b->p = p;
    b->cap = cap;
    return 0;
}

void dc_buf_printf(dc_buf *b, const char *fmt, ...)
{
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        DC_DIE("vsnprintf failed");
    if (buf_reserve(b, (size_t)n))
        return;
    if ((size_t)n < sizeof small) {
        memcpy(b->p + b->len, small, (size_t)n + 1);
    } else {
        va_start(ap, fmt);
        vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    b->len += (size_t)n;
}

void dc_buf_puts(dc_buf *b, const char *s)
{
    size_t n = strlen(s);
    if (buf_reserve(b, n))
        return;
    memcpy(b->p + b->len, s, n + 1);
    b->len += n;
}

/* ---- the file around the strategy ------------------------------------------- */

static const char *const strategy_names[] = {
    [DC_EMIT_UNROLLED] = "full", [DC_EMIT_LOOPS] = "loops", [DC_EMIT_AUTO] = "auto", [DC_EMIT_BLOCKED] = "blocked",
    [DC_EMIT_KERNELS] = "kernels"};
static const char *const layer_names[] = {"unrolled", "loops", "blocked", "kernels"};

/* The cost model of --unroll auto (docs/codegen.md has the measurements
 * behind it). libtcc does no loop optimisation and keeps every value in
 * memory: fully unrolled code is its fastest only for small layers (2-8-1,
 * 4-16-16-1); beyond a few hundred weights the row kernels it calls
 * (compiler/kernels.c) win, and unrolled code that outgrows the caches is
 * 10x slower (784-128-10: 3.5 ms against 0.3 ms per step). So the smallest
 * layers are unrolled within a budget of weights and the rest call the
 * kernels. gcc vectorises plain loops and takes minutes over large
 * unrolled code, so under cc every layer is loops. */
#define DC_TCC_UNROLL_BUDGET 512 /* weights unrolled in all, under tcc */

void dc_emit_plan(unsigned char *loops, int *update_loops, const dc_net *net, dc_strategy st, dc_backend target,
                  int kernels_ok)
{
    const dcr_arch *a = &net->arch;
    memset(loops, 0, DCR_MAX_LAYERS + 1);
    int L = a->n_layers, all_unrolled = 1;
    if (st == DC_EMIT_AUTO && target == DC_JIT_CC) {
        st = DC_EMIT_LOOPS;
    } else if (st == DC_EMIT_AUTO) {
        /* smallest layers first, while the budget lasts */
        size_t used = 0;
        unsigned char done[DCR_MAX_LAYERS + 1] = {0};
        for (int n = 0; n < L; n++) {
            int best = 0;
            size_t bw = 0;
            for (int l = 1; l <= L; l++) {
                size_t w = (size_t)a->sizes[l] * (size_t)a->sizes[l - 1];
                if (!done[l] && (!best || w < bw)) {
                    best = l;
                    bw = w;
                }
            }
            done[best] = 1;
            if (used + bw <= DC_TCC_UNROLL_BUDGET)
                used += bw;
            else
                loops[best] = kernels_ok ? DC_LAYER_KERNELS : DC_LAYER_BLOCKED;
        }
    }
    for (int l = 1; l <= L; l++) {
        if (st == DC_EMIT_LOOPS)
            loops[l] = DC_LAYER_LOOPS;
        else if (st == DC_EMIT_BLOCKED)
            loops[l] = DC_LAYER_BLOCKED;
        else if (st == DC_EMIT_KERNELS)
            loops[l] = DC_LAYER_KERNELS;
        all_unrolled &= loops[l] == DC_LAYER_UNROLLED;
    }
    /* under the libtcc JIT the update calls the kernel even when every
     * layer is unrolled: one vectorised loop against a statement per
     * parameter (for 784-128-10 a third of the source and of the compile
     * time); the optimizer step is not part of the network's unrolling */
    *update_loops = st == DC_EMIT_LOOPS                               ? DC_LAYER_LOOPS
                    : target == DC_JIT_TCC && kernels_ok              ? DC_LAYER_KERNELS
                    : all_unrolled                                    ? DC_LAYER_UNROLLED
                    : st == DC_EMIT_KERNELS                           ? DC_LAYER_KERNELS
                                                                      : DC_LAYER_BLOCKED;
}

/* Printable ASCII only, and never the end of a comment. */
static void put_comment_text(dc_buf *b, const char *s)
{
    char prev = 0;
    for (; *s; s++) {
        char c = (*s >= 32 && *s < 127) ? *s : '?';
        if (prev == '*' && c == '/')
            dc_buf_puts(b, " ");
        char one[2] = {c, 0};
        dc_buf_puts(b, one);
        prev = c;
    }
}

static void emit_header(dc_buf *b, const dc_emit_ctx *c, const dc_emit_opts *o)
{
    const dc_net *n = c->net;
    const dcr_arch *a = &n->arch;
    dc_buf_printf(b, "/* Generated by deltac %s. Do not edit: change the spec and regenerate.\n", dc_version());
    dc_buf_puts(b, " * command:  ");
    put_comment_text(b, o && o->command_line ? o->command_line : "(library call)");
    dc_buf_printf(b, "\n * spec:     sha256 %s\n", n->spec_sha256[0] ? n->spec_sha256 : "(none)");
    dc_buf_printf(b, " * network:  %s, %s, %d", n->name, dcr_dtype_name(a->dtype), a->sizes[0]);
    for (int l = 1; l <= a->n_layers; l++)
        dc_buf_printf(b, " -> %d %s", a->sizes[l], dcr_act_name(a->act[l]));
    dc_buf_printf(b, ", loss %s\n", dcr_loss_name(a->loss));
    dc_buf_printf(b, " * strategy: %s for %s:", strategy_names[o ? o->strategy : 0],
                  o && o->target == DC_JIT_CC ? "cc" : "tcc");
    for (int l = 1; l <= a->n_layers; l++)
        dc_buf_printf(b, " layer %d %s,", l, layer_names[c->loops[l]]);
    dc_buf_printf(b, " update %s", layer_names[c->update_loops]);
    if (c->batched)
        dc_buf_printf(b, ", minibatch kernels of %d samples", DC_SB);
    if (c->fast_math)
        dc_buf_puts(b, ", fast exp/tanh");
    if (c->act_kernels)
        dc_buf_puts(b, ", fast tanh/sigmoid/softmax kernels");
    dc_buf_puts(b, "\n");
    dc_buf_printf(b, " * cost:     %zu parameters; per sample %llu FLOPs forward, %llu FLOPs per training step\n",
                  n->n_params, (unsigned long long)n->flops_forward, (unsigned long long)n->flops_train);
    dc_buf_printf(b, " * layout:   params[%zu] =", n->n_params);
    for (int l = 1; l <= a->n_layers; l++)
        dc_buf_printf(b, "%s W%d[%d][%d] @%zu, b%d[%d] @%zu", l > 1 ? "," : "", l, a->sizes[l],
                      a->sizes[l - 1], n->w_off[l], l, a->sizes[l], n->b_off[l]);
    dc_buf_puts(b, "\n *           (gradients use the same layout)\n */\n");
}

/* The macros describing the network, in every form. */
static void emit_constants(dc_buf *b, const dc_emit_ctx *c)
{
    const dc_net *n = c->net;
    const dcr_arch *a = &n->arch;
    dc_buf_printf(b, "#define %s_N_IN %d\n", c->P, a->sizes[0]);
    dc_buf_printf(b, "#define %s_N_OUT %d\n", c->P, a->sizes[a->n_layers]);
    dc_buf_printf(b, "#define %s_N_PARAMS %zu\n", c->P, n->n_params);
    dc_buf_printf(b, "#define %s_N_LAYERS %d\n", c->P, a->n_layers);
    dc_buf_printf(b, "#define %s_N_STATE %zu\n", c->P, n->n_state);
    for (int l = 1; l <= a->n_layers; l++)
        dc_buf_printf(b, "#define %s_W%d_OFFSET %zu\n#define %s_B%d_OFFSET %zu\n", c->P, l, n->w_off[l], c->P, l,
                      n->b_off[l]);
    dc_buf_puts(b, "\n");
}

static void emit_prelude(dc_buf *b, const dc_emit_ctx *c, int line_directive)
{
    if (line_directive) {
        /* keep the numbering of the file as written, so that tcc's
         * messages point into it */
        size_t lines = 1;
        for (size_t i = 0; i < b->len; i++)
            lines += b->p[i] == '\n';
        dc_buf_printf(b, "#line %zu \"%s.c\"\n", lines + 1, c->P);
    }
    if (c->fast_math) {
        dc_buf_puts(b, "/* ---- compiler/fastmath.h (--jit cc without --exact-math) ---- */\n");
        dc_buf_puts(b, dc_fastmath_text);
        dc_buf_printf(b, "/* ---- end of compiler/fastmath.h ---- */\n%s %s(%s);\n%s %s(%s);\n%s %s(%s);\n\n",
                      c->T, c->log, c->T, c->T, c->log1p, c->T, c->T, c->expm1, c->T);
    } else {
        dc_buf_printf(b, "%s %s(%s);\n%s %s(%s);\n%s %s(%s);\n%s %s(%s);\n%s %s(%s);\n\n", c->T, c->exp, c->T,
                      c->T, c->tanh, c->T, c->T, c->log, c->T, c->T, c->log1p, c->T, c->T, c->expm1, c->T);
    }
    int kern = c->update_loops == DC_LAYER_KERNELS;
    for (int l = 1; l <= c->net->arch.n_layers; l++)
        kern |= c->loops[l] == DC_LAYER_KERNELS;
    if (kern || c->tcc_jit) {
        const char *T = c->T, *S = c->lit[0] ? "f" : "d";
        dc_buf_puts(b, "/* inner loops compiled by gcc with deltac (compiler/kernels.h), for libtcc */\n");
        dc_buf_printf(b,
                      "void dck_rows8%s(%s *z, const %s *w, int nin, const %s *in, const %s *bias, int rows);\n"
                      "void dck_scale%s(%s *d, const %s *w, %s s, int n);\n"
                      "void dck_axpy%s(%s *d, const %s *w, %s s, int n);\n"
                      "void dck_sgd%s(%s *p, const %s *g, %s scale, long n);\n"
                      "void dck_sgdrow%s(%s *p, const %s *in, %s d, %s scale, int n);\n"
                      "void dck_sgdlayer%s(%s *w, %s *b, const %s *d, const %s *in, %s scale, int nout, int nin);\n"
                      "void dck_zero%s(%s *p, long n);\n\n",
                      S, T, T, T, T, S, T, T, T, S, T, T, T, S, T, T, T, S, T, T, T, T, S, T, T, T, T, T, S, T);
    }
    if (c->act_kernels)
        dc_buf_printf(b,
                      "/* fast activations (compiler/kernels_act.c: compiler/fastmath.h, not libm) */\n"
                      "void dck_tanh%s(%s *a, const %s *z, int n);\n"
                      "void dck_sigmoid%s(%s *a, const %s *z, int n);\n"
                      "void dck_expsub%s(%s *a, const %s *z, %s m, int n);\n\n",
                      c->lit[0] ? "f" : "d", c->T, c->T, c->lit[0] ? "f" : "d", c->T, c->T, c->lit[0] ? "f" : "d",
                      c->T, c->T, c->T);
    emit_constants(b, c);
}

static void emit_prototypes(dc_buf *b, const dc_emit_ctx *c)
{
    const char *P = c->P, *T = c->T;
    dc_buf_printf(b, "#ifndef %s_DELTAC_H\n#define %s_DELTAC_H\n\n", P, P);
    emit_constants(b, c);
    dc_buf_printf(b,
        "/* out[%s_N_OUT] = the network's output for x[%s_N_IN] */\n"
        "void %s_forward(%s *out, const %s *params, const %s *x);\n"
        "/* grad += dE/dparams for one sample (x, y); returns E */\n"
        "%s %s_loss_grad(%s *grad, const %s *params, const %s *x, const %s *y);\n"
        "/* grad = the sum of the per-sample gradients over n samples; returns the mean loss */\n"
        "double %s_batch_grad(%s *grad, const %s *params, const %s *X, const %s *Y, int n);\n"
        "/* one optimizer step from the gradient sum: lr, grad_scale (1/n, times clipping), t (1-based step) */\n"
        "void %s_update(%s *params, %s *state, const %s *grad, double lr, double grad_scale, double t);\n\n"
        "void %s_forward_v(void *out, const void *params, const void *x);\n"
        "double %s_loss_grad_v(void *grad, const void *params, const void *x, const void *y);\n"
        "double %s_batch_grad_v(void *grad, const void *params, const void *X, const void *Y, int n);\n"
        "void %s_update_v(void *params, void *state, const void *grad, double lr, double grad_scale, double t);\n\n"
        ,
        P, P, P, T, T, T, T, P, T, T, T, T, P, T, T, T, T, P, T, T, T, P, P, P, P);
    dc_buf_printf(b,
        "/* one plain-SGD step on one sample, fused: params -= lr * dE/dparams; returns E */\n"
        "double %s_sgd_step(%s *params, const %s *x, const %s *y, double lr);\n"
        "double %s_sgd_step_v(void *params, const void *x, const void *y, double lr);\n"
        "/* loss_grad that also adds sum_k |delta(l)[k]| into delta_abs[l], l = 1..L (--trace-deltas) */\n"
        "%s %s_loss_grad_trace(%s *grad, const %s *params, const %s *x, const %s *y, double *delta_abs);\n"
        "double %s_loss_grad_trace_v(void *grad, const void *params, const void *x, const void *y,\n"
        "                            double *delta_abs);\n\n"
        "#endif\n",
        P, T, T, T, P, T, P, T, T, T, T, P);
}

static void emit_driver(dc_buf *b, const dc_emit_ctx *c)
{
    const char *P = c->P, *T = c->T;
    if (c->batched) {
        dc_emit_batch_driver(b, c);
    } else {
        dc_buf_printf(b,
        "/* grad = the sum of the per-sample gradients over n samples (rows of X\n"
        " * and Y); returns the mean loss. */\n"
        "double %s_batch_grad(%s *grad, const %s *params, const %s *X, const %s *Y, int n)\n"
        "{\n"
        "    double loss = 0;\n"
        "    long i;\n", P, T, T, T, T);
        if (c->tcc_jit) /* a loop under libtcc costs several cycles per element */
            dc_buf_printf(b, "    dck_zero%s(grad, %s_N_PARAMS);\n", c->lit[0] ? "f" : "d", P);
        else
            dc_buf_printf(b, "    for (i = 0; i < %s_N_PARAMS; i++)\n        grad[i] = 0;\n", P);
        dc_buf_printf(b,
        "    for (i = 0; i < n; i++)\n"
        "        loss += %s_loss_grad(grad, params, X + i * %s_N_IN, Y + i * %s_N_OUT);\n"
        "    return loss / n;\n"
        "}\n\n",
        P, P, P);
    }
    dc_buf_printf(b,
        "/* The same entry points with void pointers, for hosts that pick the\n"
        " * scalar type at run time. */\n"
        "void %s_forward_v(void *out, const void *params, const void *x)\n"
        "{\n    %s_forward((%s *)out, (const %s *)params, (const %s *)x);\n}\n\n"
        "double %s_loss_grad_v(void *grad, const void *params, const void *x, const void *y)\n"
        "{\n    return %s_loss_grad((%s *)grad, (const %s *)params, (const %s *)x, (const %s *)y);\n}\n\n"
        "double %s_batch_grad_v(void *grad, const void *params, const void *X, const void *Y, int n)\n"
        "{\n    return %s_batch_grad((%s *)grad, (const %s *)params, (const %s *)X, (const %s *)Y, n);\n}\n\n"
        "void %s_update_v(void *params, void *state, const void *grad, double lr, double grad_scale, double t)\n"
        "{\n    %s_update((%s *)params, (%s *)state, (const %s *)grad, lr, grad_scale, t);\n}\n",
        P, P, T, T, T, P, P, T, T, T, T, P, P, T, T, T, T, P, P, T, T, T);
}

static const char *const act_enum[DCR_N_ACTS] = {
    "DCR_ACT_IDENTITY", "DCR_ACT_SIGMOID",    "DCR_ACT_TANH",     "DCR_ACT_RELU",    "DCR_ACT_SOFTMAX",
    "DCR_ACT_LEAKY_RELU", "DCR_ACT_ELU", "DCR_ACT_SOFTPLUS", "DCR_ACT_GELU"};
static const char *const loss_enum[DCR_N_LOSSES] = {"DCR_LOSS_MSE", "DCR_LOSS_CROSS_ENTROPY",
                                                    "DCR_LOSS_BINARY_CROSS_ENTROPY"};

/* .opt of the job's training settings, when it is not plain SGD at a
 * constant rate (validated numbers and enum names only) */
static void emit_trainer_optim(dc_buf *b, const dcr_optim *o)
{
    static const char *const opt_enum[] = {"DCR_OPT_SGD", "DCR_OPT_ADAM", "DCR_OPT_ADAMW"};
    static const char *const sched_enum[] = {"DCR_SCHED_CONSTANT", "DCR_SCHED_STEP", "DCR_SCHED_COSINE"};
    if (o->type == DCR_OPT_SGD && o->momentum == 0 && !o->nesterov && o->weight_decay == 0 && o->clip_norm == 0 &&
        o->schedule == DCR_SCHED_CONSTANT && o->warmup_steps == 0)
        return;
    dc_buf_printf(b, ",\n                  .opt = {.type = %s, .momentum = %.17g, .nesterov = %d, .beta1 = %.17g, "
                     ".beta2 = %.17g, .eps = %.17g,\n                          .weight_decay = %.17g, "
                     ".clip_norm = %.17g, .schedule = %s, .step_epochs = %d, .gamma = %.17g,\n"
                     "                          .min_lr = %.17g, .warmup_steps = %d}",
                  opt_enum[o->type], o->momentum, o->nesterov ? 1 : 0, o->beta1, o->beta2, o->eps, o->weight_decay,
                  o->clip_norm, sched_enum[o->schedule], o->step_epochs, o->gamma, o->min_lr, o->warmup_steps);
}

/* main() of a standalone trainer: the job as a constant (numbers and enum
 * names only; no string of the spec's) and an engine over the functions. */
static void emit_trainer(dc_buf *b, const dc_emit_ctx *c, const dcr_job *j)
{
    const char *P = c->P;
    const dcr_arch *a = &j->arch;
    dc_buf_printf(b, "/* ==== the trainer ==== */\n\n");
    dc_buf_printf(b,
        "static void %s_eng_forward(void *self, void *out, const void *params, const void *x)\n"
        "{\n    (void)self;\n    %s_forward_v(out, params, x);\n}\n\n"
        "static double %s_eng_loss_grad(void *self, void *grad, const void *params, const void *x, const void *y)\n"
        "{\n    (void)self;\n    return %s_loss_grad_v(grad, params, x, y);\n}\n\n"
        "static double %s_eng_batch_grad(void *self, void *grad, const void *params, const void *X, const void *Y,\n"
        "                                int n)\n"
        "{\n    (void)self;\n    return %s_batch_grad_v(grad, params, X, Y, n);\n}\n\n"
        "static void %s_eng_update(void *self, void *params, void *state, const void *grad, const dcr_step *s)\n"
        "{\n    (void)self;\n    %s_update_v(params, state, grad, s->lr, s->grad_scale, (double)s->t);\n}\n\n",
        P, P, P, P, P, P, P, P);
    dc_buf_printf(b,
        "static double %s_eng_loss_grad_trace(void *self, void *grad, const void *params, const void *x,\n"
        "                                     const void *y, double *delta_abs)\n"
        "{\n    (void)self;\n    return %s_loss_grad_trace_v(grad, params, x, y, delta_abs);\n}\n\n"
        "static double %s_eng_sgd_step(void *self, void *params, const void *x, const void *y, double lr)\n"
        "{\n    (void)self;\n    return %s_sgd_step_v(params, x, y, lr);\n}\n\n",
        P, P, P, P);
    /* designated initializers: every field named, the rest zero */
    dc_buf_puts(b, "int main(int argc, char **argv)\n{\n    static const dcr_job job = {\n");
    dc_buf_printf(b, "        .arch = {.dtype = %s, .n_layers = %d, .sizes = {", a->dtype == DCR_F64 ? "DCR_F64" : "DCR_F32",
                  a->n_layers);
    for (int l = 0; l <= a->n_layers; l++)
        dc_buf_printf(b, "%s%d", l ? ", " : "", a->sizes[l]);
    dc_buf_puts(b, "},\n                 .act = {DCR_ACT_IDENTITY");
    for (int l = 1; l <= a->n_layers; l++)
        dc_buf_printf(b, ", %s", act_enum[a->act[l]]);
    dc_buf_printf(b, "},\n                 .loss = %s", loss_enum[a->loss]);
    int any_alpha = 0;
    for (int l = 1; l <= a->n_layers; l++)
        any_alpha |= a->alpha[l] != 0;
    if (any_alpha) {
        /* validated finite numbers (leaky_relu, elu) */
        dc_buf_puts(b, ",\n                 .alpha = {0");
        for (int l = 1; l <= a->n_layers; l++)
            dc_buf_printf(b, ", %.17g", a->alpha[l]);
        dc_buf_puts(b, "}");
    }
    dc_buf_puts(b, "},\n");
    static const char *const init_enum[] = {"DCR_INIT_XAVIER_UNIFORM", "DCR_INIT_HE_UNIFORM", "DCR_INIT_UNIFORM",
                                            "DCR_INIT_XAVIER_NORMAL", "DCR_INIT_HE_NORMAL"};
    dc_buf_printf(b, "        .init = {.scheme = %s, .range = %.17g, .seed = %lluu},\n", init_enum[j->init.scheme],
                  j->init.range, (unsigned long long)j->init.seed);
    dc_buf_printf(b, "        .train = {.lr = %.17g, .batch_size = %d, .epochs = %d, .shuffle = %d, .seed = %lluu",
                  j->train.lr, j->train.batch_size, j->train.epochs, j->train.shuffle ? 1 : 0,
                  (unsigned long long)j->train.seed);
    emit_trainer_optim(b, &j->train.opt);
    if (j->train.patience > 0)
        dc_buf_printf(b, ",\n                  .patience = %d, .min_delta = %.17g", j->train.patience,
                      j->train.min_delta);
    dc_buf_puts(b, "},\n");
    dc_buf_printf(b, "        .format = %s,\n", j->format == DCR_FORMAT_IDX ? "DCR_FORMAT_IDX" : "DCR_FORMAT_CSV");
    dc_buf_printf(b, "        .csv = {.header = %d, .target_column = %d, .kind = %s},\n", j->csv.header ? 1 : 0,
                  j->csv.target_column, j->csv.kind == DCR_TARGET_VALUES ? "DCR_TARGET_VALUES" : "DCR_TARGET_CLASS");
    dc_buf_printf(b, "        .standardize = %d,\n        .test_fraction = %.17g,\n",
                  j->standardize ? 1 : 0, j->test_fraction);
    if (j->validation_fraction > 0)
        dc_buf_printf(b, "        .validation_fraction = %.17g,\n", j->validation_fraction);
    dc_buf_puts(b, "        .spec_sha256 = {");
    for (int i = 0; i < 32; i++)
        dc_buf_printf(b, "%s0x%02x", i ? (i % 12 ? ", " : ",\n                        ") : "", j->spec_sha256[i]);
    dc_buf_puts(b, "}};\n");
    dc_buf_printf(b,
        "    dcr_engine e;\n"
        "    e.self = 0;\n"
        "    e.arch = &job.arch;\n"
        "    e.forward = %s_eng_forward;\n"
        "    e.loss_grad = %s_eng_loss_grad;\n"
        "    e.batch_grad = %s_eng_batch_grad;\n"
        "    e.update = %s_eng_update;\n"
        "    e.loss_grad_trace = %s_eng_loss_grad_trace;\n"
        "    e.sgd_step = %s_eng_sgd_step;\n"
        "    e.n_state = %s_N_STATE;\n"
        "    return dcr_trainer_main(argc, argv, \"%s\", &job, &e);\n}\n",
        P, P, P, P, P, P, P, P);
}

int dc_emit(char **out_src, size_t *out_len, const dc_net *net, const dc_emit_opts *o, dcr_error *err)
{
    *out_src = NULL;
    *out_len = 0;
    dc_strategy st = o ? o->strategy : DC_EMIT_UNROLLED;
    if ((unsigned)st >= sizeof strategy_names / sizeof *strategy_names)
        return dcr_fail(err, DCR_ERR_USAGE, "unknown emission strategy %d", (int)st);
    int f64 = net->arch.dtype == DCR_F64;
    dc_emit_ctx c = {net, f64 ? "double" : "float", f64 ? "" : "f", f64 ? "exp" : "expf",
                     f64 ? "tanh" : "tanhf", f64 ? "log" : "logf", net->name,
                     f64 ? "log1p" : "log1pf", f64 ? "expm1" : "expm1f", {0}, 0, 0, 0, 0, 0};
    c.tcc_jit = (o ? o->target : DC_JIT_TCC) == DC_JIT_TCC && (o ? o->form : DC_FORM_SOURCE) == DC_FORM_SOURCE;
    /* fast mode: gcc inlines fastmath.h; libtcc calls it, vectorised, from
     * kernels_act.c (under libtcc itself it would be slower than libm) */
    c.fast_math = o && o->fast_math && !c.tcc_jit;
    c.act_kernels = o && o->fast_math && c.tcc_jit;
    if (c.fast_math) {
        c.exp = f64 ? "DCM_exp" : "DCM_expf";
        c.tanh = f64 ? "DCM_tanh" : "DCM_tanhf";
    }
    dc_emit_plan(c.loops, &c.update_loops, net, st, o ? o->target : DC_JIT_TCC, c.tcc_jit);
    int kern = c.update_loops == DC_LAYER_KERNELS;
    for (int l = 1; l <= net->arch.n_layers; l++)
        kern |= c.loops[l] == DC_LAYER_KERNELS;
    if (kern && ((o ? o->target : DC_JIT_TCC) != DC_JIT_TCC || (o && o->form != DC_FORM_SOURCE)))
        return dcr_fail(err, DCR_ERR_USAGE,
                        "--unroll kernels calls deltac's own compiled kernels: only for the libtcc JIT, not for "
                        "code built by a C compiler");
    /* the blocked minibatch kernels are for gcc: libtcc's loops are slow */
    c.batched = o && o->target == DC_JIT_CC && st != DC_EMIT_UNROLLED && dc_batch_fits(net);
    uint64_t est = dc_emit_estimate(net, c.loops, c.update_loops) + (c.fast_math ? dc_fastmath_text_len : 0);
    if (est > DC_MAX_SOURCE_BYTES)
        return dcr_fail(err, DCR_ERR_LIMIT,
                        "the %s source for this network would be about %llu MB, more than the limit "
                        "DC_MAX_SOURCE_BYTES = %u MB (make the network smaller, or use --unroll loops)",
                        strategy_names[st], (unsigned long long)(est >> 20), DC_MAX_SOURCE_BYTES >> 20);
    dc_form form = o ? o->form : DC_FORM_SOURCE;
    if (form == DC_FORM_STANDALONE && !o->job)
        return dcr_fail(err, DCR_ERR_USAGE, "a standalone trainer needs the job's settings");
    dc_buf b = {0};
    b.limit = DC_MAX_SOURCE_BYTES;
    emit_header(&b, &c, o);
    if (form == DC_FORM_HEADER) {
        emit_prototypes(&b, &c);
    } else if (form == DC_FORM_STANDALONE) {
        dc_buf_puts(&b, "/* A standalone trainer: the network, the deltac runtime and main().\n"
                        " * build: cc -O2 -std=c99 THIS.c -o trainer -lm\n"
                        " *        (gzip'd IDX data: add -DDCR_HAVE_ZLIB and -lz)\n"
                        " * run:   ./trainer --help */\n"
                        "#define _POSIX_C_SOURCE 200809L\n"
                        "#ifndef DCR_HAVE_ZLIB\n#define DCR_NO_ZLIB\n#endif\n");
        dc_buf_puts(&b, dc_runtime_bundle);
        dc_buf_puts(&b, "\n/* ==== the network ==== */\n\n");
        emit_prelude(&b, &c, 0);
        dc_emit_net(&b, &c);
        emit_driver(&b, &c);
        emit_trainer(&b, &c, o->job);
    } else {
        emit_prelude(&b, &c, 1);
        dc_emit_net(&b, &c);
        emit_driver(&b, &c);
    }
    if (b.failed) {
        free(b.p);
        if (b.over_limit)
            return dcr_fail(err, DCR_ERR_LIMIT, "the generated source exceeds DC_MAX_SOURCE_BYTES = %u MB",
                            DC_MAX_SOURCE_BYTES >> 20);
        return dcr_fail(err, DCR_ERR_NOMEM, "out of memory while generating code");
    }
    *out_src = b.p;
    *out_len = b.len;
    return 0;
}
