/* cmd_bench.c: `deltac bench`: the same training steps, on the same data,
 * from the same initial parameters, through every engine deltac has; the
 * time per step and how far each engine's parameters end from the
 * reference engine's. With --gradcost: the cost of a backprop gradient
 * against a forward pass and against finite differences. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

static const char usage_bench[] =
    "usage: deltac bench SPEC [options]\n"
    "\n"
    "Runs the same training steps on the same data from the same initial parameters\n"
    "through each engine and prints, per engine: compile time, source and code size,\n"
    "time per step (minimum and median over the repeats), steps per second, speed-up\n"
    "against the reference engine, and the largest absolute difference of the\n"
    "parameters from the reference engine's after the run.\n"
    "\n"
    "A step takes the B rows (s*B + i) mod n, i = 0..B-1, sums their gradients and\n"
    "makes one update with the spec's optimizer and constant learning rate (no\n"
    "schedule, no clipping); with B = 1 and plain SGD, the engine's fused step, as\n"
    "deltac train takes it. Every repeat starts again from the initial parameters.\n"
    "\n"
    "options:\n"
    "  --steps N         steps per repeat (default: about 2e8 FLOPs' worth, 10..20000)\n"
    "  --batch N         samples per step (default: the spec's batch_size)\n"
    "  --repeat N        timed repeats after one warm-up repeat (default 5)\n"
    "  --samples N       rows of random data when the spec has no data (default 1000)\n"
    "  --engines LIST    comma-separated, from: reference, tcc-exact, tcc, cc-exact,\n"
    "                    cc (default: all; the cc ones when a C compiler is present);\n"
    "                    the -exact ones compile with --exact-math\n"
    "  --json            print one JSON object instead of the table\n"
    "  --save-inputs DIR write the data (X.npy, Y.npy), the initial parameters (W1.npy,\n"
    "                    b1.npy, ...), the reference engine's final ones (DIR/ref/) and\n"
    "                    meta.json, for peers (bench/) to run the same steps\n"
    "  --unroll MODE     how the JIT engines' code is emitted: auto (default), full\n"
    "                    or loops (deltac train --help)\n"
    "  --gradcost        instead: one sample's forward pass, backprop gradient and\n"
    "                    central finite-difference gradient, timed on the first engine\n"
    "                    of --engines (default cc, else tcc)\n"
    "\n"
    "Data: the spec's training data when it has a \"data\" section, else seeded random\n"
    "rows: inputs uniform in [-1, 1]; targets uniform in [-1, 1] (mse), one-hot\n"
    "(cross_entropy) or 0/1 (binary_cross_entropy).\n";

#define MAX_ENGINES 5
#define MAX_REPEAT 1000

typedef struct {
    const char *name;
    cli_engine eng;
    int needs_cc;
} engine_def;

static const engine_def engine_defs[MAX_ENGINES] = {
    {"reference", {1, DC_JIT_TCC, 0, DC_EMIT_AUTO}, 0},
    {"tcc-exact", {0, DC_JIT_TCC, 1, DC_EMIT_AUTO}, 0},
    {"tcc", {0, DC_JIT_TCC, 0, DC_EMIT_AUTO}, 0},
    {"cc-exact", {0, DC_JIT_CC, 1, DC_EMIT_AUTO}, 1},
    {"cc", {0, DC_JIT_CC, 0, DC_EMIT_AUTO}, 1},
};

typedef struct {
    const engine_def *def;
    cli_built b;
    double ns_min, ns_median;
    double max_abs_diff;
    double final_loss;
} engine_run;

typedef struct {
    const dc_net *net;
    size_t es;          /* bytes per scalar */
    size_t n;           /* rows */
    int batch;
    long steps;
    int repeat;
    void *X, *Y;        /* [n + batch - 1] rows: the first batch - 1 rows again at the end */
    void *p0;           /* initial parameters */
    double lr;
} bench_ctx;

static double median(double *v, int n)
{
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && v[j - 1] > v[j]; j--) {
            double t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* One repeat: steps from p0 into params (state zeroed); returns seconds. */
static double run_steps(const bench_ctx *c, const dcr_engine *e, void *params, void *grad, void *state,
                        double *last_loss)
{
    const dc_net *n = c->net;
    memcpy(params, c->p0, n->n_params * c->es);
    if (n->n_state)
        memset(state, 0, n->n_state * c->es);
    size_t row_in = (size_t)n->arch.sizes[0] * c->es, row_out = (size_t)n->arch.sizes[n->arch.n_layers] * c->es;
    dcr_step st = {c->lr, 1.0 / c->batch, 0};
    double loss = 0, t0 = cli_now();
    size_t at = 0;
    const dcr_optim *o = &n->opt;
    if (c->batch == 1 && e->sgd_step && o->type == DCR_OPT_SGD && !(o->momentum > 0) && !(o->weight_decay > 0)) {
        /* what dcr_train does for batches of one sample: the fused step */
        for (long s = 0; s < c->steps; s++) {
            loss = e->sgd_step(e->self, params, (const char *)c->X + at * row_in, (const char *)c->Y + at * row_out,
                               c->lr);
            if (++at == c->n) /* not %: a division costs a fifth of the smallest step */
                at = 0;
        }
        double t = cli_now() - t0;
        *last_loss = loss;
        return t;
    }
    for (long s = 0; s < c->steps; s++) {
        loss = e->batch_grad(e->self, grad, params, (const char *)c->X + at * row_in,
                             (const char *)c->Y + at * row_out, c->batch);
        st.t = (uint64_t)s + 1;
        e->update(e->self, params, state, grad, &st);
        at = (at + (size_t)c->batch) % c->n;
    }
    double t = cli_now() - t0;
    *last_loss = loss;
    return t;
}

static double max_abs_diff(const void *a, const void *b, size_t n, dcr_dtype t)
{
    double m = 0;
    for (size_t i = 0; i < n; i++) {
        double x = t == DCR_F64 ? ((const double *)a)[i] : ((const float *)a)[i];
        double y = t == DCR_F64 ? ((const double *)b)[i] : ((const float *)b)[i];
        double d = fabs(x - y);
        if (d > m || d != d)
            m = d;
    }
    return m;
}

/* ---- data ---------------------------------------------------------------------- */

static int load_data(double **X, double **Y, size_t *n, const dc_spec *s, size_t samples, dcr_error *err)
{
    const dcr_arch *a = &s->arch;
    int nin = a->sizes[0], nout = a->sizes[a->n_layers];
    if (s->data.present) {
        dcr_job job;
        dc_spec_job(&job, s);
        dcr_job_io io;
        cli_spec_io(&io, s);
        dcr_dataset tr, va, te;
        if (dcr_job_load_data(&tr, &va, &te, &job, &io, err))
            return -1;
        dcr_dataset_free(&va);
        dcr_dataset_free(&te);
        *X = tr.x;
        *Y = tr.y;
        *n = tr.n_rows;
        free(tr.label);
        return 0;
    }
    *n = samples;
    *X = malloc(samples * (size_t)nin * sizeof(double));
    *Y = malloc(samples * (size_t)nout * sizeof(double));
    if (!*X || !*Y) {
        free(*X);
        free(*Y);
        return dcr_fail(err, DCR_ERR_NOMEM, "out of memory for %zu rows of random data", samples);
    }
    dcr_rng r;
    dcr_rng_seed(&r, s->train.seed ^ 0x62656e6368ULL); /* "bench": not the init's stream */
    for (size_t i = 0; i < samples * (size_t)nin; i++)
        (*X)[i] = 2 * dcr_rng_uniform(&r) - 1;
    for (size_t i = 0; i < samples; i++) {
        double *y = *Y + i * (size_t)nout;
        if (a->loss == DCR_LOSS_CROSS_ENTROPY) {
            memset(y, 0, (size_t)nout * sizeof *y);
            y[dcr_rng_below(&r, (uint64_t)nout)] = 1;
        } else {
            for (int k = 0; k < nout; k++)
                y[k] = a->loss == DCR_LOSS_BINARY_CROSS_ENTROPY ? (double)dcr_rng_below(&r, 2)
                                                               : 2 * dcr_rng_uniform(&r) - 1;
        }
    }
    return 0;
}

/* rows [n + extra] of width w, the first extra rows again at the end, in dtype t */
static void *pack_wrapped(const double *v, size_t n, size_t extra, int w, dcr_dtype t)
{
    size_t tot = (n + extra) * (size_t)w;
    double *d = malloc(tot * sizeof *d);
    if (!d)
        return NULL;
    for (size_t i = 0; i < n + extra; i++)
        memcpy(d + i * (size_t)w, v + (i % n) * (size_t)w, (size_t)w * sizeof *d);
    void *p = dcr_pack(d, tot, t);
    free(d);
    return p;
}

/* ---- output ----------------------------------------------------------------------- */

static void net_shape(char *out, size_t cap, const dcr_arch *a)
{
    int k = snprintf(out, cap, "%d", a->sizes[0]);
    for (int l = 1; l <= a->n_layers && k > 0 && (size_t)k < cap; l++)
        k += snprintf(out + k, cap - (size_t)k, "-%d", a->sizes[l]);
}

static void cpu_model(char *out, size_t cap)
{
    snprintf(out, cap, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return;
    char line[512];
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "model name", 10)) {
            char *c = strchr(line, ':');
            if (c) {
                c++;
                while (*c == ' ')
                    c++;
                c[strcspn(c, "\n")] = 0;
                snprintf(out, cap, "%s", c);
            }
            break;
        }
    fclose(f);
}

/* s as a JSON string body: only printable ASCII kept, quotes and
 * backslashes escaped */
static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(f, "\\%c", ch);
        else if (ch >= 0x20 && ch < 0x7f)
            fputc(ch, f);
    }
    fputc('"', f);
}

static void json_num(FILE *f, double v)
{
    if (v != v || v == INFINITY || v == -INFINITY)
        fputs("null", f);
    else
        fprintf(f, "%.6g", v);
}

static void fmt_time(char *out, size_t cap, double ns)
{
    if (ns < 1e4)
        snprintf(out, cap, "%.0f ns", ns);
    else if (ns < 1e7)
        snprintf(out, cap, "%.1f us", ns / 1e3);
    else if (ns < 1e10)
        snprintf(out, cap, "%.1f ms", ns / 1e6);
    else
        snprintf(out, cap, "%.2f s", ns / 1e9);
}

static void fmt_bytes(char *out, size_t cap, size_t b)
{
    if (b == 0)
        snprintf(out, cap, "-");
    else if (b < 10000)
        snprintf(out, cap, "%zu B", b);
    else if (b < 10000000)
        snprintf(out, cap, "%.1f KB", (double)b / 1e3);
    else
        snprintf(out, cap, "%.1f MB", (double)b / 1e6);
}

static const char *engine_compiler(const engine_run *r)
{
    if (r->def->eng.reference)
        return "gcc (deltac's build)";
    return r->b.info.backend == DC_JIT_TCC ? "libtcc" : "cc";
}

static void print_table(const bench_ctx *c, const dc_spec *s, engine_run *runs, int n_runs, const char *cpu)
{
    char shape[256];
    net_shape(shape, sizeof shape, &c->net->arch);
    printf("bench %s: %s, %s, %s, %zu parameters\n", s->path, shape, dcr_dtype_name(c->net->arch.dtype),
           dcr_loss_name(c->net->arch.loss), c->net->n_params);
    printf("%ld steps of batch %d (%zu rows of %s data), %d repeats after a warm-up; %s\n\n", c->steps, c->batch,
           c->n, s->data.present ? "the spec's" : "random", c->repeat, cpu);
    printf("%-10s %11s %10s %10s %12s %12s %12s %9s %12s\n", "engine", "compile", "source", "code", "step min",
           "step median", "steps/s", "speed-up", "max |diff|");
    double ref_ns = 0;
    for (int i = 0; i < n_runs; i++)
        if (runs[i].def->eng.reference)
            ref_ns = runs[i].ns_min;
    for (int i = 0; i < n_runs; i++) {
        engine_run *r = &runs[i];
        char comp[32], src[32], code[32], tmin[32], tmed[32], spd[32];
        if (r->def->eng.reference)
            snprintf(comp, sizeof comp, "-");
        else
            snprintf(comp, sizeof comp, "%.1f ms%s", r->b.compile_ms, r->b.info.cache_hit ? "*" : "");
        fmt_bytes(src, sizeof src, r->b.src_len);
        fmt_bytes(code, sizeof code, r->b.info.code_bytes);
        fmt_time(tmin, sizeof tmin, r->ns_min);
        fmt_time(tmed, sizeof tmed, r->ns_median);
        if (ref_ns > 0)
            snprintf(spd, sizeof spd, "%.2fx", ref_ns / r->ns_min);
        else
            snprintf(spd, sizeof spd, "-");
        printf("%-10s %11s %10s %10s %12s %12s %12.0f %9s %12.3g\n", r->def->name, comp, src, code, tmin, tmed,
               1e9 / r->ns_min, spd, r->max_abs_diff);
    }
    int hit = 0;
    printf("\ncompile = emission + compilation; emission:");
    for (int i = 0; i < n_runs; i++) {
        hit |= runs[i].b.info.cache_hit;
        if (!runs[i].def->eng.reference)
            printf(" %s %.1f ms", runs[i].def->name, runs[i].b.emit_ms);
    }
    printf("\ncc flags: %s\n", dc_jit_cc_flags(0));
    printf("cc-exact flags: %s\n", dc_jit_cc_flags(1));
    if (hit)
        printf("* loaded from the compiled-code cache\n");
}

static void print_json(const bench_ctx *c, const dc_spec *s, engine_run *runs, int n_runs, const char *cpu)
{
    char shape[256];
    net_shape(shape, sizeof shape, &c->net->arch);
    double ref_ns = 0;
    for (int i = 0; i < n_runs; i++)
        if (runs[i].def->eng.reference)
            ref_ns = runs[i].ns_min;
    printf("{\"spec\": ");
    json_str(stdout, s->path);
    printf(", \"network\": \"%s\", \"dtype\": \"%s\", \"loss\": \"%s\", \"batch\": %d, \"steps\": %ld, "
           "\"repeat\": %d, \"samples\": %zu, \"n_params\": %zu, \"flops_per_sample\": %llu, \"cpu\": ",
           shape, dcr_dtype_name(c->net->arch.dtype), dcr_loss_name(c->net->arch.loss), c->batch, c->steps,
           c->repeat, c->n, c->net->n_params, (unsigned long long)c->net->flops_train);
    json_str(stdout, cpu);
    printf(", \"cc_flags\": ");
    json_str(stdout, dc_jit_cc_flags(0));
    printf(", \"engines\": [");
    for (int i = 0; i < n_runs; i++) {
        engine_run *r = &runs[i];
        printf("%s\n  {\"engine\": \"%s\", \"compiler\": \"%s\", \"compile_ms\": ", i ? "," : "", r->def->name,
               engine_compiler(r));
        json_num(stdout, r->def->eng.reference ? 0 : r->b.compile_ms);
        printf(", \"emit_ms\": ");
        json_num(stdout, r->def->eng.reference ? 0 : r->b.emit_ms);
        printf(", \"cache_hit\": %s, \"source_bytes\": %zu, \"code_bytes\": %zu, \"ns_per_step_min\": ",
               r->b.info.cache_hit ? "true" : "false", r->b.src_len, r->b.info.code_bytes);
        json_num(stdout, r->ns_min);
        printf(", \"ns_per_step_median\": ");
        json_num(stdout, r->ns_median);
        printf(", \"steps_per_s\": ");
        json_num(stdout, 1e9 / r->ns_min);
        printf(", \"speedup_vs_reference\": ");
        json_num(stdout, ref_ns > 0 ? ref_ns / r->ns_min : NAN);
        printf(", \"max_abs_diff\": ");
        json_num(stdout, r->max_abs_diff);
        printf(", \"final_loss\": ");
        json_num(stdout, r->final_loss);
        printf("}");
    }
    printf("\n]}\n");
}

/* ---- --save-inputs ------------------------------------------------------------------ */

static int save_inputs(const char *dir, const bench_ctx *c, const double *X, const double *Y,
                       const void *p_ref, dcr_error *err)
{
    const dc_net *n = c->net;
    const dcr_arch *a = &n->arch;
    if (cli_npy_write_params(dir, a, c->p0, err))
        return -1;
    size_t cap = strlen(dir) + 32;
    char *path = malloc(cap);
    if (!path)
        return dcr_fail(err, DCR_ERR_NOMEM, "out of memory");
    int rc = -1;
    void *px = NULL, *py = NULL;
    size_t sx[2] = {c->n, (size_t)a->sizes[0]}, sy[2] = {c->n, (size_t)a->sizes[a->n_layers]};
    px = dcr_pack(X, sx[0] * sx[1], a->dtype);
    py = dcr_pack(Y, sy[0] * sy[1], a->dtype);
    if (!px || !py) {
        dcr_fail(err, DCR_ERR_NOMEM, "out of memory");
        goto out;
    }
    snprintf(path, cap, "%s/X.npy", dir);
    if (dcr_npy_write(path, a->dtype, 2, sx, px, err))
        goto out;
    snprintf(path, cap, "%s/Y.npy", dir);
    if (dcr_npy_write(path, a->dtype, 2, sy, py, err))
        goto out;
    snprintf(path, cap, "%s/ref", dir);
    if (cli_npy_write_params(path, a, p_ref, err))
        goto out;
    snprintf(path, cap, "%s/meta.json", dir);
    {
        /* the text first, then written atomically like every other file */
        char meta[4096];
        int k = snprintf(meta, sizeof meta, "{\"sizes\": [");
        for (int l = 0; l <= a->n_layers; l++)
            k += snprintf(meta + k, sizeof meta - (size_t)k, "%s%d", l ? ", " : "", a->sizes[l]);
        k += snprintf(meta + k, sizeof meta - (size_t)k, "], \"activations\": [");
        for (int l = 1; l <= a->n_layers; l++)
            k += snprintf(meta + k, sizeof meta - (size_t)k, "%s\"%s\"", l > 1 ? ", " : "", dcr_act_name(a->act[l]));
        const dcr_optim *o = &n->opt;
        k += snprintf(meta + k, sizeof meta - (size_t)k,
                      "], \"alpha\": [");
        for (int l = 1; l <= a->n_layers; l++)
            k += snprintf(meta + k, sizeof meta - (size_t)k, "%s%.17g", l > 1 ? ", " : "", a->alpha[l]);
        k += snprintf(meta + k, sizeof meta - (size_t)k,
                      "], \"loss\": \"%s\", \"optimizer\": {\"type\": \"%s\", \"lr\": %.17g, \"momentum\": %.17g, "
                      "\"nesterov\": %s, \"beta1\": %.17g, \"beta2\": %.17g, \"eps\": %.17g, \"weight_decay\": "
                      "%.17g}, \"steps\": %ld, \"batch\": %d, \"samples\": %zu, \"dtype\": \"%s\"}\n",
                      dcr_loss_name(a->loss), o->type == DCR_OPT_ADAM ? "adam" : o->type == DCR_OPT_ADAMW ? "adamw" : "sgd",
                      c->lr, o->momentum, o->nesterov ? "true" : "false", o->beta1, o->beta2, o->eps,
                      o->weight_decay, c->steps, c->batch, c->n, dcr_dtype_name(a->dtype));
        if (k < 0 || (size_t)k >= sizeof meta) {
            dcr_fail(err, DCR_ERR_USAGE, "meta.json too long");
            goto out;
        }
        if (dcr_write_atomic(path, meta, (size_t)k, err))
            goto out;
    }
    rc = 0;
out:
    free(px);
    free(py);
    free(path);
    return rc;
}

/* ---- --gradcost ----------------------------------------------------------------------- */

/* The loss of one sample from the network's output, as the engines define it. */
static double sample_loss(const dcr_arch *a, const void *out, const void *y)
{
    int nout = a->sizes[a->n_layers];
    double loss = 0;
    for (int k = 0; k < nout; k++) {
        double o = a->dtype == DCR_F64 ? ((const double *)out)[k] : ((const float *)out)[k];
        double t = a->dtype == DCR_F64 ? ((const double *)y)[k] : ((const float *)y)[k];
        if (a->loss == DCR_LOSS_MSE)
            loss += 0.5 * (o - t) * (o - t);
        else if (a->loss == DCR_LOSS_CROSS_ENTROPY)
            loss -= t > 0 ? t * log(o) : 0;
        else
            loss -= t * log(o) + (1 - t) * log1p(-o);
    }
    return loss;
}

static void set_param(void *p, size_t i, double v, dcr_dtype t)
{
    if (t == DCR_F64)
        ((double *)p)[i] = v;
    else
        ((float *)p)[i] = (float)v;
}

static double get_param(const void *p, size_t i, dcr_dtype t)
{
    return t == DCR_F64 ? ((const double *)p)[i] : ((const float *)p)[i];
}

/* ns per call of body: the repetitions that take at least 2 ms, then the
 * minimum of 25 such rounds (short windows: on a shared machine a long one
 * always includes time the process did not run) */
#define TIME_NS(out, body)                                                  \
    do {                                                                    \
        long reps_ = 1;                                                     \
        for (;;) {                                                          \
            double t0_ = cli_now();                                         \
            for (long r_ = 0; r_ < reps_; r_++) { body; }                   \
            if (cli_now() - t0_ > 0.002 || reps_ > (1L << 30)) break;       \
            reps_ *= 2;                                                     \
        }                                                                   \
        double best_ = 1e300;                                               \
        for (int k_ = 0; k_ < 25; k_++) {                                   \
            double t0_ = cli_now();                                         \
            for (long r_ = 0; r_ < reps_; r_++) { body; }                   \
            double ns_ = 1e9 * (cli_now() - t0_) / (double)reps_;           \
            if (ns_ < best_) best_ = ns_;                                   \
        }                                                                   \
        (out) = best_;                                                      \
    } while (0)

static int gradcost(const dc_spec *s, const dc_net *n, const engine_run *r, const bench_ctx *c, int json)
{
    const dcr_arch *a = &n->arch;
    const dcr_engine *e = &r->b.engine;
    size_t es = c->es, np = n->n_params;
    void *p = malloc(np * es), *g = calloc(np, es), *out = malloc((size_t)a->sizes[a->n_layers] * es);
    if (!p || !g || !out) {
        free(p);
        free(g);
        free(out);
        fprintf(stderr, "deltac: out of memory\n");
        return EXIT_USER;
    }
    memcpy(p, c->p0, np * es);
    const void *x = c->X, *y = c->Y;
    double fwd, bwd, fd;
    TIME_NS(fwd, e->forward(e->self, out, p, x));
    TIME_NS(bwd, (void)e->loss_grad(e->self, g, p, x, y));
    /* central differences: 2 forwards per parameter; on a subset of at
     * most 4096 parameters spread over the whole array, scaled to all */
    size_t m = np < 4096 ? np : 4096;
    double h = a->dtype == DCR_F64 ? 1e-6 : 1e-3, sink = 0;
    /* per parameter: the minimum over chunks of parameters that take about
     * 2 ms each (short windows, like the passes above, so that a shared
     * machine's preemption does not count), times N */
    double per_param = 1e300;
    size_t chunk = (size_t)(2e6 / (2 * fwd + 1)) + 1;
    for (size_t k0 = 0; k0 < m; k0 += chunk) {
        size_t k1 = k0 + chunk < m ? k0 + chunk : m;
        double t0 = cli_now();
        for (size_t k = k0; k < k1; k++) {
            size_t i = m == np ? k : (size_t)((double)k * (double)np / (double)m);
            double v = get_param(p, i, a->dtype);
            set_param(p, i, v + h, a->dtype);
            e->forward(e->self, out, p, x);
            double lp = sample_loss(a, out, y);
            set_param(p, i, v - h, a->dtype);
            e->forward(e->self, out, p, x);
            double lm = sample_loss(a, out, y);
            set_param(p, i, v, a->dtype);
            sink += (lp - lm) / (2 * h);
        }
        double ns = 1e9 * (cli_now() - t0) / (double)(k1 - k0);
        if (ns < per_param)
            per_param = ns;
    }
    fd = per_param * (double)np;
    char shape[256];
    net_shape(shape, sizeof shape, a);
    if (json) {
        printf("{\"spec\": ");
        json_str(stdout, s->path);
        printf(", \"network\": \"%s\", \"engine\": \"%s\", \"n_params\": %zu, \"forward_ns\": %.6g, "
               "\"backprop_ns\": %.6g, \"backprop_over_forward\": %.6g, \"fd_ns\": %.6g, \"fd_over_forward\": "
               "%.6g, \"fd_params_measured\": %zu}\n",
               shape, r->def->name, np, fwd, bwd, bwd / fwd, fd, fd / fwd, m);
    } else {
        char t1[32], t2[32], t3[32];
        fmt_time(t1, sizeof t1, fwd);
        fmt_time(t2, sizeof t2, bwd);
        fmt_time(t3, sizeof t3, fd);
        printf("gradient cost of %s (%s, %zu parameters), engine %s, one sample:\n", s->path, shape, np,
               r->def->name);
        printf("  forward pass                %12s\n", t1);
        printf("  backprop gradient           %12s  %10.2f x forward\n", t2, bwd / fwd);
        printf("  finite-difference gradient  %12s  %10.0f x forward  (2 forwards per parameter", t3, fd / fwd);
        if (m < np)
            printf("; %zu of %zu parameters timed, scaled", m, np);
        printf(")\n");
    }
    if (sink != sink && !json)
        printf("  (the finite differences saw NaN)\n");
    free(p);
    free(g);
    free(out);
    return 0;
}

/* ---- the command ------------------------------------------------------------------------ */

static int parse_engines(const engine_def **out, const char *list)
{
    int n = 0;
    const char *p = list;
    while (*p) {
        size_t len = strcspn(p, ",");
        int found = 0;
        for (int i = 0; i < MAX_ENGINES; i++)
            if (strlen(engine_defs[i].name) == len && !strncmp(engine_defs[i].name, p, len)) {
                for (int k = 0; k < n; k++)
                    if (out[k] == &engine_defs[i])
                        cli_usage_error("--engines: '%s' is named twice", engine_defs[i].name);
                out[n++] = &engine_defs[i];
                found = 1;
            }
        if (!found)
            cli_usage_error("--engines: expected a comma-separated list of reference, tcc-exact, tcc, cc-exact, cc; got '%s'",
                            list);
        p += len;
        if (*p == ',')
            p++;
    }
    if (n == 0)
        cli_usage_error("%s", "--engines: the list is empty");
    return n;
}

int cmd_bench(int argc, char **argv)
{
    cli_args a = {argc, argv, 0, NULL, usage_bench};
    const char *v, *engines = NULL, *save_dir = NULL;
    long long steps = -1, batch = -1, repeat = 5, samples = 1000;
    int json = 0, grad = 0;
    dc_strategy unroll = DC_EMIT_AUTO;
    for (a.i = 1; a.i < argc; a.i++) {
        if (cli_opt(&a, "--steps", NULL, 1, &v)) steps = cli_int("--steps", v, 1, 100000000);
        else if (cli_opt(&a, "--batch", NULL, 1, &v)) batch = cli_int("--batch", v, 1, DC_MAX_BATCH);
        else if (cli_opt(&a, "--repeat", NULL, 1, &v)) repeat = cli_int("--repeat", v, 1, MAX_REPEAT);
        else if (cli_opt(&a, "--samples", NULL, 1, &v)) samples = cli_int("--samples", v, 1, 10000000);
        else if (cli_opt(&a, "--engines", NULL, 1, &v)) engines = v;
        else if (cli_opt(&a, "--json", NULL, 0, &v)) json = 1;
        else if (cli_opt(&a, "--save-inputs", NULL, 1, &v)) save_dir = v;
        else if (cli_opt(&a, "--gradcost", NULL, 0, &v)) grad = 1;
        else if (cli_opt(&a, "--unroll", NULL, 1, &v)) unroll = cli_unroll(v);
        else cli_other(&a);
    }
    cli_need_pos(&a);
    const engine_def *want[MAX_ENGINES];
    int n_want;
    int have_cc = dc_jit_cc_available(NULL);
    if (engines) {
        n_want = parse_engines(want, engines);
        for (int i = 0; i < n_want; i++)
            if (want[i]->needs_cc && !have_cc) {
                fprintf(stderr, "deltac: engine %s needs a C compiler ('cc' or $CC), and there is none\n",
                        want[i]->name);
                return EXIT_USAGE;
            }
    } else {
        n_want = 0;
        if (grad) {
            want[n_want++] = &engine_defs[have_cc ? 4 : 2];
        } else {
            for (int i = 0; i < MAX_ENGINES; i++)
                if (!engine_defs[i].needs_cc || have_cc)
                    want[n_want++] = &engine_defs[i];
            if (!have_cc && !json)
                fprintf(stderr, "deltac: no C compiler ('cc' or $CC): the cc engines are left out\n");
        }
    }

    dcr_error err;
    dc_spec s;
    dc_net n;
    if (cli_load(&s, &n, a.pos, &err))
        return cli_fail(&err);
    const dcr_arch *ar = &n.arch;
    int nin = ar->sizes[0], nout = ar->sizes[ar->n_layers];
    bench_ctx c;
    memset(&c, 0, sizeof c);
    c.net = &n;
    c.es = dcr_dtype_size(ar->dtype);
    c.batch = batch > 0 ? (int)batch : s.train.batch_size;
    c.repeat = (int)repeat;
    c.lr = s.train.lr;
    double *X = NULL, *Y = NULL;
    engine_run runs[MAX_ENGINES];
    memset(runs, 0, sizeof runs);
    int n_runs = 0, rc = EXIT_USER;
    void *params = NULL, *grad_buf = NULL, *state = NULL, *p_ref = NULL, *p_fin = NULL;
    if (load_data(&X, &Y, &c.n, &s, (size_t)samples, &err))
        goto fail;
    if ((size_t)c.batch > c.n) {
        dcr_fail(&err, DCR_ERR_USAGE, "--batch %d is larger than the %zu rows of data", c.batch, c.n);
        goto fail;
    }
    c.X = pack_wrapped(X, c.n, (size_t)c.batch - 1, nin, ar->dtype);
    c.Y = pack_wrapped(Y, c.n, (size_t)c.batch - 1, nout, ar->dtype);
    c.p0 = malloc(n.n_params * c.es);
    params = malloc(n.n_params * c.es);
    grad_buf = malloc(n.n_params * c.es);
    state = calloc(n.n_state ? n.n_state : 1, c.es);
    p_ref = malloc(n.n_params * c.es);
    p_fin = malloc(n.n_params * c.es);
    if (!c.X || !c.Y || !c.p0 || !params || !grad_buf || !state || !p_ref || !p_fin) {
        dcr_fail(&err, DCR_ERR_NOMEM, "out of memory");
        goto fail;
    }
    dcr_init_params(c.p0, ar, &s.init);
    if (steps > 0) {
        c.steps = (long)steps;
    } else {
        double f = (double)n.flops_train * c.batch;
        double st = 2e8 / (f > 1 ? f : 1);
        c.steps = st < 10 ? 10 : st > 20000 ? 20000 : (long)st;
    }

    char *cmd = cli_command_line(argc + 1, argv - 1);
    for (int i = 0; i < n_want; i++) {
        engine_run *r = &runs[n_runs];
        r->def = want[i];
        cli_engine eng = want[i]->eng;
        eng.unroll = unroll;
        if (cli_build(&r->b, &n, &eng, cmd, &err)) {
            free(cmd);
            goto fail;
        }
        n_runs++;
    }
    free(cmd);

    if (grad) {
        rc = gradcost(&s, &n, &runs[0], &c, json);
        goto done;
    }

    /* the reference engine's result, the yardstick (run even when not listed) */
    {
        dcr_engine ref;
        if (dcr_ref_engine_opt(&ref, ar, &n.opt, &err))
            goto fail;
        double l;
        run_steps(&c, &ref, p_ref, grad_buf, state, &l);
        dcr_ref_engine_free(&ref);
    }
    double *times = malloc((size_t)c.repeat * sizeof *times);
    if (!times) {
        dcr_fail(&err, DCR_ERR_NOMEM, "out of memory");
        goto fail;
    }
    /* engines take turns within each repeat, so a change in the machine's
     * load falls on all of them alike */
    double *all = malloc((size_t)c.repeat * (size_t)n_runs * sizeof *all);
    if (!all) {
        free(times);
        dcr_fail(&err, DCR_ERR_NOMEM, "out of memory");
        goto fail;
    }
    for (int rep = -1; rep < c.repeat; rep++)
        for (int i = 0; i < n_runs; i++) {
            double t = run_steps(&c, &runs[i].b.engine, params, grad_buf, state, &runs[i].final_loss);
            if (rep >= 0)
                all[(size_t)i * (size_t)c.repeat + (size_t)rep] = 1e9 * t / (double)c.steps;
            if (rep == c.repeat - 1)
                runs[i].max_abs_diff = max_abs_diff(params, p_ref, n.n_params, ar->dtype);
        }
    for (int i = 0; i < n_runs; i++) {
        memcpy(times, all + (size_t)i * (size_t)c.repeat, (size_t)c.repeat * sizeof *times);
        runs[i].ns_median = median(times, c.repeat);
        runs[i].ns_min = times[0];
    }
    free(all);
    free(times);
    char cpu[256];
    cpu_model(cpu, sizeof cpu);
    if (json)
        print_json(&c, &s, runs, n_runs, cpu);
    else
        print_table(&c, &s, runs, n_runs, cpu);
    if (save_dir && save_inputs(save_dir, &c, X, Y, p_ref, &err))
        goto fail;
    rc = 0;
    goto done;
fail:
    rc = cli_fail(&err);
done:
    for (int i = 0; i < n_runs; i++)
        cli_unbuild(&runs[i].b);
    free(X);
    free(Y);
    free(c.X);
    free(c.Y);
    free(c.p0);
    free(params);
    free(grad_buf);
    free(state);
    free(p_ref);
    free(p_fin);
    dc_spec_free(&s);
    return rc;
}
