/* deltac: the command-line client of libdeltac and the runtime. Only this
 * file prints and exits. Exit status: 0 success, 1 user error (spec, data,
 * training, JIT), 2 usage error. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "deltac.h"

#define EXIT_USER 1
#define EXIT_USAGE 2

#define GRADCHECK_SEED 1
#define GRADCHECK_SAMPLES 4
#define GRADCHECK_EPS 1e-4
#define GRADCHECK_FLOOR 1e-3
#define GRADCHECK_TOL 1e-7

static const char *prog = "deltac";

static const char usage_main[] =
    "usage: deltac COMMAND [options] SPEC\n"
    "\n"
    "deltac compiles a neural-network spec (JSON) to C in which every dimension is a\n"
    "constant and the forward and backward passes are fully unrolled, JIT-compiles it\n"
    "with libtcc and trains it.\n"
    "\n"
    "commands:\n"
    "  check SPEC       validate a spec and print a summary\n"
    "  emit SPEC        write the generated C (stdout, or -o FILE)\n"
    "  train SPEC       JIT-compile the network and train it on the spec's data\n"
    "  gradcheck SPEC   compare the backward pass with finite differences (float64)\n"
    "\n"
    "  deltac --version      print the version\n"
    "  deltac COMMAND --help the options of a command\n"
    "\n"
    "Exit status: 0 success, 1 an error in the input (spec, data, training), 2 a usage error.\n"
    "The spec format is documented in docs/spec.md.\n";

static const char usage_check[] =
    "usage: deltac check SPEC\n"
    "\n"
    "Validates SPEC and prints its layers, parameter count and FLOPs per sample.\n";

static const char usage_emit[] =
    "usage: deltac emit SPEC [-o FILE]\n"
    "\n"
    "Writes the generated C99 source of SPEC's network.\n"
    "  -o, --output FILE   write to FILE (atomically) instead of standard output\n";

static const char usage_train[] =
    "usage: deltac train SPEC [options]\n"
    "\n"
    "JIT-compiles SPEC's network with libtcc and trains it, printing one line per\n"
    "epoch and a summary. Options override the spec's values:\n"
    "  --train FILE        training data (CSV)\n"
    "  --test FILE         test data (CSV)\n"
    "  --epochs N          number of epochs\n"
    "  --lr X              learning rate\n"
    "  --batch-size N      minibatch size\n"
    "  --seed N            seed of the initialisation, the shuffle and the split\n"
    "  --engine NAME       jit (default): the generated code under libtcc;\n"
    "                      reference: the generic loop-based engine\n"
    "  -q, --quiet         print only the summary\n";

static const char usage_gradcheck[] =
    "usage: deltac gradcheck SPEC [--seed N]\n"
    "\n"
    "Builds SPEC's network in float64 (whatever its dtype), JIT-compiles it, and\n"
    "compares the gradient of the generated backward pass with central finite\n"
    "differences on seeded random parameters, inputs and targets. Prints the largest\n"
    "error per layer; exits 1 when any exceeds the tolerance.\n"
    "  --seed N            seed of the random parameters and samples (default 1)\n"
    "\n"
    "error = |analytic - numeric| / max(|analytic|, |numeric|, 1e-3); step 1e-4 (five-point stencil);\n"
    "tolerance 1e-7; 4 samples.\n";

/* ---- small helpers ---------------------------------------------------------------- */

static void die_usage(const char *fmt, const char *arg)
{
    fprintf(stderr, "%s: ", prog);
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nTry '%s --help'.\n", prog);
    exit(EXIT_USAGE);
}

static int fail(const dcr_error *err)
{
    fprintf(stderr, "%s: %s\n", prog, err->msg);
    return EXIT_USER;
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static long long parse_int(const char *opt, const char *v, long long lo, long long hi)
{
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (errno || end == v || *end || n < lo || n > hi) {
        fprintf(stderr, "%s: %s: expected an integer from %lld to %lld, got '%s'\n", prog, opt, lo, hi, v);
        exit(EXIT_USAGE);
    }
    return n;
}

static double parse_pos(const char *opt, const char *v)
{
    char *end;
    errno = 0;
    double d = strtod(v, &end);
    if (errno || end == v || *end || !isfinite(d) || d <= 0) {
        fprintf(stderr, "%s: %s: expected a positive number, got '%s'\n", prog, opt, v);
        exit(EXIT_USAGE);
    }
    return d;
}

/* Command-line options: "--name VALUE" or "--name=VALUE". */
typedef struct {
    int argc;
    char **argv;
    int i;
    const char *spec;
    const char *usage;
} args;

static int is_opt(args *a, const char *name, const char *alias, int takes, const char **val)
{
    const char *s = a->argv[a->i];
    size_t n = strlen(name);
    if (takes && strncmp(s, name, n) == 0 && s[n] == '=') {
        *val = s + n + 1;
        return 1;
    }
    if (strcmp(s, name) != 0 && !(alias && strcmp(s, alias) == 0))
        return 0;
    if (takes) {
        if (a->i + 1 >= a->argc)
            die_usage("option %s needs a value", name);
        *val = a->argv[++a->i];
    }
    return 1;
}

/* Handles --help and the positional SPEC; returns 1 when argv[i] was one. */
static int common(args *a)
{
    const char *s = a->argv[a->i];
    if (strcmp(s, "--help") == 0 || strcmp(s, "-h") == 0) {
        fputs(a->usage, stdout);
        exit(0);
    }
    if (s[0] == '-' && s[1])
        die_usage("unknown option '%s'", s);
    if (a->spec)
        die_usage("unexpected argument '%s' (one SPEC only)", s);
    a->spec = s;
    return 1;
}

static void need_spec(args *a)
{
    if (!a->spec) {
        fputs(a->usage, stderr);
        exit(EXIT_USAGE);
    }
}

static void describe(FILE *f, const dc_net *n)
{
    const dcr_arch *a = &n->arch;
    fprintf(f, "%s: %d", n->name, a->sizes[0]);
    for (int l = 1; l <= a->n_layers; l++)
        fprintf(f, " -> %d %s", a->sizes[l], dcr_act_name(a->act[l]));
    fprintf(f, ", loss %s, %s, %zu parameters\n", dcr_loss_name(a->loss), dcr_dtype_name(a->dtype),
            n->n_params);
}

static char *command_line(int argc, char **argv)
{
    size_t n = 1;
    for (int i = 0; i < argc; i++)
        n += strlen(argv[i]) + 1;
    char *s = malloc(n);
    if (!s)
        return NULL;
    s[0] = 0;
    for (int i = 0; i < argc; i++) {
        if (i)
            strcat(s, " ");
        strcat(s, i == 0 ? "deltac" : argv[i]);
    }
    return s;
}

/* Source for net, or NULL with err set. */
static char *generate(size_t *len, const dc_net *net, const char *cmd, dcr_error *err)
{
    dc_emit_opts o = {DC_EMIT_UNROLLED, cmd};
    char *src;
    if (dc_emit(&src, len, net, &o, err))
        return NULL;
    return src;
}

/* Writes data to path through a temporary file in the same folder, so that
 * path is either the old file or the whole new one. */
static int write_atomic(const char *path, const char *data, size_t len, dcr_error *err)
{
    size_t n = strlen(path);
    char *tmp = malloc(n + 16);
    if (!tmp)
        return dcr_fail(err, DCR_ERR_NOMEM, "out of memory");
    snprintf(tmp, n + 16, "%s.tmpXXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        dcr_fail(err, DCR_ERR_IO, "%s: cannot create a temporary file beside it: %s", path, strerror(errno));
        free(tmp);
        return -1;
    }
    FILE *f = fdopen(fd, "wb");
    int ok = f && fwrite(data, 1, len, f) == len && fflush(f) == 0 && fsync(fd) == 0;
    int e = errno;
    if (f)
        ok = (fclose(f) == 0) && ok;
    else
        close(fd);
    if (ok && rename(tmp, path) != 0) {
        ok = 0;
        e = errno;
    }
    if (!ok) {
        unlink(tmp);
        dcr_fail(err, DCR_ERR_IO, "%s: cannot write: %s", path, strerror(e));
    }
    free(tmp);
    return ok ? 0 : -1;
}

/* ---- check ------------------------------------------------------------------------- */

static int cmd_check(int argc, char **argv)
{
    args a = {argc, argv, 0, NULL, usage_check};
    for (a.i = 1; a.i < argc; a.i++)
        common(&a);
    need_spec(&a);
    dcr_error err;
    dc_spec s;
    dc_net n;
    if (dc_spec_load(&s, a.spec, &err))
        return fail(&err);
    if (dc_net_from_spec(&n, &s, &err)) {
        dc_spec_free(&s);
        return fail(&err);
    }
    printf("%s: ok\n", a.spec);
    printf("network   ");
    describe(stdout, &n);
    for (int l = 1; l <= n.arch.n_layers; l++)
        printf("  layer %d  %5d -> %-5d %-9s W%d[%d][%d] at %zu, b%d[%d] at %zu\n", l, n.arch.sizes[l - 1],
               n.arch.sizes[l], dcr_act_name(n.arch.act[l]), l, n.arch.sizes[l], n.arch.sizes[l - 1],
               n.w_off[l], l, n.arch.sizes[l], n.b_off[l]);
    printf("flops     %llu per sample forward, %llu per training step\n",
           (unsigned long long)n.flops_forward, (unsigned long long)n.flops_train);
    printf("train     sgd, learning rate %g, batch size %d, %d epochs, shuffle %s, seed %llu\n", s.train.lr,
           s.train.batch_size, s.train.epochs, s.train.shuffle ? "on" : "off",
           (unsigned long long)s.train.seed);
    if (s.data.present)
        printf("data      %s%s%s\n", s.data.train, s.data.test ? ", test " : "", s.data.test ? s.data.test : "");
    printf("sha256    %s\n", s.sha256_hex);
    dc_spec_free(&s);
    return 0;
}

/* ---- emit ----------------------------------------------------------------------- */

static int cmd_emit(int argc, char **argv)
{
    args a = {argc, argv, 0, NULL, usage_emit};
    const char *out = NULL, *v;
    for (a.i = 1; a.i < argc; a.i++) {
        if (is_opt(&a, "--output", "-o", 1, &v))
            out = v;
        else
            common(&a);
    }
    need_spec(&a);
    dcr_error err;
    dc_spec s;
    dc_net n;
    if (dc_spec_load(&s, a.spec, &err))
        return fail(&err);
    int rc = dc_net_from_spec(&n, &s, &err);
    dc_spec_free(&s);
    if (rc)
        return fail(&err);
    char *cmd = command_line(argc + 1, argv - 1);
    size_t len;
    char *src = generate(&len, &n, cmd, &err);
    free(cmd);
    if (!src)
        return fail(&err);
    if (out)
        rc = write_atomic(out, src, len, &err);
    else
        rc = (fwrite(src, 1, len, stdout) == len && fflush(stdout) == 0)
                 ? 0
                 : dcr_fail(&err, DCR_ERR_IO, "standard output: %s", strerror(errno));
    free(src);
    return rc ? fail(&err) : 0;
}

/* ---- the JIT pipeline shared by train and gradcheck ----------------------------- */

typedef struct {
    dc_net net;
    dc_jit *jit;
    dcr_engine engine;
    int is_ref;
} built;

static int build(built *b, const dc_net *net, int reference, const char *cmd, double *ms, size_t *src_len,
                 dcr_error *err)
{
    memset(b, 0, sizeof *b);
    b->net = *net;
    b->is_ref = reference;
    *ms = 0;
    *src_len = 0;
    if (reference)
        return dcr_ref_engine(&b->engine, &b->net.arch, err);
    double t0 = now();
    char *src = generate(src_len, &b->net, cmd, err);
    if (!src)
        return -1;
    int rc = dc_jit_compile(&b->jit, DC_JIT_TCC, src, *src_len, err);
    free(src);
    *ms = 1e3 * (now() - t0);
    if (rc)
        return -1;
    if (dc_jit_engine(&b->engine, b->jit, &b->net, err)) {
        dc_jit_free(b->jit);
        b->jit = NULL;
        return -1;
    }
    return 0;
}

static void unbuild(built *b)
{
    if (b->is_ref) {
        dcr_ref_engine_free(&b->engine);
    } else if (b->jit) {
        dc_jit_engine_free(&b->engine);
        dc_jit_free(b->jit);
    }
    memset(b, 0, sizeof *b);
}

/* ---- train ---------------------------------------------------------------------- */

typedef struct {
    int quiet;
    int classify;
} epoch_print;

static void on_epoch(void *user, const dcr_epoch_stats *s)
{
    const epoch_print *p = user;
    if (p->quiet)
        return;
    printf("epoch %4d  loss %.6f", s->epoch, s->train_loss);
    if (p->classify)
        printf("  train acc %.4f", s->train_acc);
    if (s->has_test) {
        printf("  test loss %.6f", s->test_loss);
        if (p->classify)
            printf("  test acc %.4f", s->test_acc);
    }
    printf("  (%.1f ms)\n", 1e3 * s->seconds);
    fflush(stdout);
}

static int load_data(dcr_dataset *train, dcr_dataset *test, const dc_spec *s, const char *train_path,
                     const char *test_path, const dc_net *n, dcr_error *err)
{
    int n_in = n->arch.sizes[0], n_out = n->arch.sizes[n->arch.n_layers];
    memset(train, 0, sizeof *train);
    memset(test, 0, sizeof *test);
    if (dcr_csv_load(train, train_path, &s->data.csv, n_in, n_out, err))
        return -1;
    if (test_path) {
        if (dcr_csv_load(test, test_path, &s->data.csv, n_in, n_out, err)) {
            dcr_dataset_free(train);
            return -1;
        }
    } else if (s->data.test_fraction > 0) {
        dcr_dataset all = *train;
        memset(train, 0, sizeof *train);
        if (dcr_dataset_split(train, test, &all, s->data.test_fraction, s->train.seed, err)) {
            dcr_dataset_free(&all);
            return -1;
        }
    }
    if (s->data.standardize)
        dcr_standardize(train, test->n_rows ? test : NULL);
    return 0;
}

static int cmd_train(int argc, char **argv)
{
    args a = {argc, argv, 0, NULL, usage_train};
    const char *train_path = NULL, *test_path = NULL, *v, *engine = "jit";
    long long epochs = -1, batch = -1, seed = -1;
    double lr = -1;
    int quiet = 0;
    for (a.i = 1; a.i < argc; a.i++) {
        if (is_opt(&a, "--train", NULL, 1, &v))
            train_path = v;
        else if (is_opt(&a, "--test", NULL, 1, &v))
            test_path = v;
        else if (is_opt(&a, "--epochs", NULL, 1, &v))
            epochs = parse_int("--epochs", v, 1, DC_MAX_EPOCHS);
        else if (is_opt(&a, "--batch-size", NULL, 1, &v))
            batch = parse_int("--batch-size", v, 1, DC_MAX_BATCH);
        else if (is_opt(&a, "--seed", NULL, 1, &v))
            seed = parse_int("--seed", v, 0, 9007199254740991LL);
        else if (is_opt(&a, "--lr", NULL, 1, &v))
            lr = parse_pos("--lr", v);
        else if (is_opt(&a, "--engine", NULL, 1, &v)) {
            if (strcmp(v, "jit") != 0 && strcmp(v, "reference") != 0)
                die_usage("--engine: expected jit or reference, got '%s'", v);
            engine = v;
        } else if (is_opt(&a, "--quiet", "-q", 0, &v))
            quiet = 1;
        else
            common(&a);
    }
    need_spec(&a);
    dcr_error err;
    dc_spec s;
    dc_net n;
    if (dc_spec_load(&s, a.spec, &err))
        return fail(&err);
    if (epochs > 0) s.train.epochs = (int)epochs;
    if (batch > 0) s.train.batch_size = (int)batch;
    if (lr > 0) s.train.lr = lr;
    if (seed >= 0) s.train.seed = s.init.seed = (uint64_t)seed;
    if (!train_path)
        train_path = s.data.train;
    if (!test_path)
        test_path = s.data.test;
    if (!train_path) {
        fprintf(stderr, "%s: %s has no \"data\" section: give the training data with --train FILE\n", prog,
                a.spec);
        dc_spec_free(&s);
        return EXIT_USAGE;
    }
    if (dc_net_from_spec(&n, &s, &err)) {
        dc_spec_free(&s);
        return fail(&err);
    }
    dcr_dataset train, test;
    if (load_data(&train, &test, &s, train_path, test_path, &n, &err)) {
        dc_spec_free(&s);
        return fail(&err);
    }
    int rc = EXIT_USER;
    built b;
    double ms;
    size_t src_len;
    void *params = NULL;
    char *cmd = command_line(argc + 1, argv - 1);
    if (build(&b, &n, strcmp(engine, "reference") == 0, cmd, &ms, &src_len, &err)) {
        fail(&err);
        goto out;
    }
    if (!quiet) {
        describe(stdout, &n);
        printf("data: %zu training rows, %zu test rows%s\n", train.n_rows, test.n_rows,
               s.data.standardize ? ", standardized" : "");
        if (b.is_ref)
            printf("engine: reference (generic loops)\n");
        else
            printf("jit: libtcc compiled %zu bytes of C in %.1f ms\n", src_len, ms);
    }
    params = calloc(n.n_params, dcr_dtype_size(n.arch.dtype));
    if (!params) {
        fprintf(stderr, "%s: out of memory\n", prog);
        goto out_built;
    }
    dcr_init_params(params, &n.arch, &s.init);
    epoch_print ep = {quiet, train.label != NULL};
    double t0 = now();
    if (dcr_train(params, &b.engine, &train, test.n_rows ? &test : NULL, &s.train, on_epoch, &ep, &err)) {
        fail(&err);
        goto out_built;
    }
    double secs = now() - t0;
    double loss, acc;
    const dcr_dataset *final = test.n_rows ? &test : &train;
    if (dcr_evaluate(&loss, &acc, &b.engine, params, final, &err)) {
        fail(&err);
        goto out_built;
    }
    const char *which = test.n_rows ? "test" : "train";
    printf("trained %d epochs in %.3f s\n", s.train.epochs, secs);
    if (acc >= 0)
        printf("%s accuracy: %.2f %% (%zu rows), %s loss %.6f\n", which, 100 * acc, final->n_rows, which, loss);
    else
        printf("%s loss: %.6f (%zu rows)\n", which, loss, final->n_rows);
    rc = 0;
out_built:
    unbuild(&b);
out:
    free(cmd);
    free(params);
    dcr_dataset_free(&train);
    dcr_dataset_free(&test);
    dc_spec_free(&s);
    return rc;
}

/* ---- gradcheck ------------------------------------------------------------------- */

static int cmd_gradcheck(int argc, char **argv)
{
    args a = {argc, argv, 0, NULL, usage_gradcheck};
    const char *v;
    long long seed = GRADCHECK_SEED;
    for (a.i = 1; a.i < argc; a.i++) {
        if (is_opt(&a, "--seed", NULL, 1, &v))
            seed = parse_int("--seed", v, 0, 9007199254740991LL);
        else
            common(&a);
    }
    need_spec(&a);
    dcr_error err;
    dc_spec s;
    dc_net n;
    if (dc_spec_load(&s, a.spec, &err))
        return fail(&err);
    s.arch.dtype = DCR_F64; /* finite differences need the precision */
    int rc = dc_net_from_spec(&n, &s, &err);
    dc_spec_free(&s);
    if (rc)
        return fail(&err);
    built b;
    double ms;
    size_t src_len;
    char *cmd = command_line(argc + 1, argv - 1);
    rc = build(&b, &n, 0, cmd, &ms, &src_len, &err);
    free(cmd);
    if (rc)
        return fail(&err);
    dcr_gradcheck_result r;
    rc = dcr_gradcheck_random(&r, &b.engine, (uint64_t)seed, GRADCHECK_SAMPLES, GRADCHECK_EPS, GRADCHECK_FLOOR,
                              &err);
    unbuild(&b);
    if (rc)
        return fail(&err);
    describe(stdout, &n);
    printf("gradcheck: float64, %zu parameters, %d samples, step %g, tolerance %g\n", r.n_checked,
           GRADCHECK_SAMPLES, GRADCHECK_EPS, GRADCHECK_TOL);
    for (int l = 1; l <= r.n_layers; l++)
        printf("  layer %d  %-8s max error  W %.3e  b %.3e\n", l, dcr_act_name(n.arch.act[l]),
               r.max_rel_w[l], r.max_rel_b[l]);
    if (r.max_abs_grad == 0) {
        fprintf(stderr, "%s: gradcheck: every gradient is zero, so the check proves nothing\n", prog);
        return EXIT_USER;
    }
    if (!(r.max_rel <= GRADCHECK_TOL)) {
        fprintf(stderr, "%s: gradcheck FAILED: max error %.3e > tolerance %g\n", prog, r.max_rel, GRADCHECK_TOL);
        return EXIT_USER;
    }
    printf("gradcheck passed: max error %.3e <= %g\n", r.max_rel, GRADCHECK_TOL);
    return 0;
}

/* ---- main ------------------------------------------------------------------------ */

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage_main, stderr);
        return EXIT_USAGE;
    }
    const char *c = argv[1];
    if (strcmp(c, "--help") == 0 || strcmp(c, "-h") == 0 || strcmp(c, "help") == 0) {
        fputs(usage_main, stdout);
        return 0;
    }
    if (strcmp(c, "--version") == 0 || strcmp(c, "-V") == 0) {
        printf("deltac %s\n", dc_version());
        return 0;
    }
    static const struct {
        const char *name;
        int (*run)(int, char **);
    } cmds[] = {{"check", cmd_check}, {"emit", cmd_emit}, {"train", cmd_train}, {"gradcheck", cmd_gradcheck}};
    for (size_t i = 0; i < sizeof cmds / sizeof *cmds; i++)
        if (strcmp(c, cmds[i].name) == 0)
            return cmds[i].run(argc - 1, argv + 1);
    die_usage("unknown command '%s'", c);
    return EXIT_USAGE;
}
