/* cmd_spec.c: the commands about a spec and its code: check, emit,
 * gradcheck. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define GRADCHECK_SEED 1
#define GRADCHECK_SAMPLES 4
#define GRADCHECK_EPS 1e-4
#define GRADCHECK_FLOOR 1e-3
#define GRADCHECK_TOL 1e-7

static const char usage_check[] =
    "usage: deltac check SPEC\n"
    "\n"
    "Validates SPEC and prints its layers, parameter count and FLOPs per sample.\n";

static const char usage_emit[] =
    "usage: deltac emit SPEC [-o FILE] [--standalone | --library] [--unroll MODE]\n"
    "                        [--fast-math]\n"
    "\n"
    "Writes the generated C99 source of SPEC's network.\n"
    "  -o, --output FILE   write to FILE (atomically) instead of standard output\n"
    "  --standalone        a whole trainer in one file: the network, the deltac\n"
    "                      runtime and main(); builds with `cc -O2 -std=c99 FILE -lm`\n"
    "  --library           FILE.h and FILE.c (-o FILE required): the network's\n"
    "                      functions to embed in a program\n"
    "  --unroll MODE       full (default): every weight a statement; loops: each\n"
    "                      layer as constant-bound loops (gcc compiles large layers\n"
    "                      in seconds and vectorises them); auto: per layer, by the\n"
    "                      cost model for a build by the C compiler\n"
    "  --fast-math         tanh, sigmoid and exp from deltac's fastmath.h (pasted in)\n"
    "                      instead of libm, and the loop forms of --jit cc's fast\n"
    "                      mode: faster, results differ from libm's by rounding;\n"
    "                      build with -O3 -march=native to vectorise (docs/cli.md)\n";

static const char usage_gradcheck[] =
    "usage: deltac gradcheck SPEC [--seed N]\n"
    "\n"
    "Builds SPEC's network in float64 (whatever its dtype), JIT-compiles it, and\n"
    "compares the gradient of the generated backward pass with finite differences\n"
    "on seeded random parameters, inputs and targets. Prints the largest error per\n"
    "layer; exits 1 when any exceeds the tolerance.\n"
    "  --seed N            seed of the random parameters and samples (default 1)\n"
    "\n"
    "error = |analytic - numeric| / max(|analytic|, |numeric|, 1e-3); five-point\n"
    "stencil, step 1e-4 (retried with 1.25e-5 and 1.6e-6 above 1e-8, for kinks);\n"
    "tolerance 1e-7; 4 samples.\n";

int cmd_check(int argc, char **argv)
{
    cli_args a = {argc, argv, 0, NULL, usage_check};
    for (a.i = 1; a.i < argc; a.i++)
        cli_other(&a);
    cli_need_pos(&a);
    dcr_error err;
    dc_spec s;
    dc_net n;
    if (cli_load(&s, &n, a.pos, &err))
        return cli_fail(&err);
    printf("%s: ok\nnetwork   ", a.pos);
    cli_describe(stdout, &n);
    for (int l = 1; l <= n.arch.n_layers; l++) {
        printf("  layer %d  %5d -> %-5d %-10s W%d[%d][%d] at %zu, b%d[%d] at %zu", l, n.arch.sizes[l - 1],
               n.arch.sizes[l], dcr_act_name(n.arch.act[l]), l, n.arch.sizes[l], n.arch.sizes[l - 1],
               n.w_off[l], l, n.arch.sizes[l], n.b_off[l]);
        if (n.arch.act[l] == DCR_ACT_LEAKY_RELU || n.arch.act[l] == DCR_ACT_ELU)
            printf(", alpha %g", n.arch.alpha[l]);
        printf("\n");
    }
    printf("flops     %llu per sample forward, %llu per training step\n",
           (unsigned long long)n.flops_forward, (unsigned long long)n.flops_train);
    const dcr_optim *o = &s.train.opt;
    printf("train     %s", dcr_optim_name(o->type));
    if (o->type == DCR_OPT_SGD && o->momentum > 0)
        printf(" (momentum %g%s)", o->momentum, o->nesterov ? ", nesterov" : "");
    else if (o->type != DCR_OPT_SGD)
        printf(" (betas %g, %g, eps %g)", o->beta1, o->beta2, o->eps);
    if (o->weight_decay > 0)
        printf(", weight decay %g%s", o->weight_decay, o->type == DCR_OPT_ADAMW ? " (decoupled)" : "");
    printf(", learning rate %g, batch size %d, %d epochs, shuffle %s, seed %llu\n", s.train.lr,
           s.train.batch_size, s.train.epochs, s.train.shuffle ? "on" : "off",
           (unsigned long long)s.train.seed);
    if (o->schedule != DCR_SCHED_CONSTANT || o->warmup_steps > 0 || o->clip_norm > 0) {
        printf("schedule  %s", dcr_sched_name(o->schedule));
        if (o->schedule == DCR_SCHED_STEP)
            printf(" (x %g every %d epochs)", o->gamma, o->step_epochs);
        else if (o->schedule == DCR_SCHED_COSINE)
            printf(" (down to %g)", o->min_lr);
        if (o->warmup_steps > 0)
            printf(", warm-up %d steps", o->warmup_steps);
        if (o->clip_norm > 0)
            printf(", gradient norm clipped to %g", o->clip_norm);
        printf("\n");
    }
    if (s.data.validation_fraction > 0) {
        printf("validate  a %g fraction of the training part held out", s.data.validation_fraction);
        if (s.train.patience > 0)
            printf("; early stopping after %d epochs without improvement (min_delta %g)", s.train.patience,
                   s.train.min_delta);
        printf("\n");
    }
    if (s.data.present)
        printf("data      %s %s%s%s\n", s.data.format == DCR_FORMAT_IDX ? "idx" : "csv", s.data.train,
               s.data.test ? ", test " : "", s.data.test ? s.data.test : "");
    printf("sha256    %s\n", s.sha256_hex);
    dc_spec_free(&s);
    return 0;
}

/* Both files are generated before either is written. */
static int emit_library(const dc_net *n, const char *cmd, const char *base, dc_strategy st, int fast,
                        dcr_error *err)
{
    dc_emit_opts oc = {.strategy = st, .command_line = cmd, .form = DC_FORM_SOURCE, .target = DC_JIT_CC,
                       .fast_math = fast};
    dc_emit_opts oh = oc;
    oh.form = DC_FORM_HEADER;
    char *c = NULL, *h = NULL, *path = NULL;
    size_t lc, lh;
    int rc = -1;
    if (dc_emit(&c, &lc, n, &oc, err) || dc_emit(&h, &lh, n, &oh, err))
        goto out;
    size_t nb = strlen(base);
    path = malloc(nb + 3);
    if (!path) {
        dcr_fail(err, DCR_ERR_NOMEM, "out of memory");
        goto out;
    }
    snprintf(path, nb + 3, "%s.h", base);
    if (dcr_write_atomic(path, h, lh, err))
        goto out;
    snprintf(path, nb + 3, "%s.c", base);
    rc = dcr_write_atomic(path, c, lc, err);
out:
    free(c);
    free(h);
    free(path);
    return rc;
}

int cmd_emit(int argc, char **argv)
{
    cli_args a = {argc, argv, 0, NULL, usage_emit};
    const char *out = NULL, *v;
    dc_form form = DC_FORM_SOURCE;
    int library = 0, fast = 0;
    dc_strategy st = DC_EMIT_UNROLLED;
    for (a.i = 1; a.i < argc; a.i++) {
        if (cli_opt(&a, "--output", "-o", 1, &v))
            out = v;
        else if (cli_opt(&a, "--standalone", NULL, 0, &v))
            form = DC_FORM_STANDALONE;
        else if (cli_opt(&a, "--library", NULL, 0, &v))
            library = 1;
        else if (cli_opt(&a, "--unroll", NULL, 1, &v))
            st = cli_unroll(v);
        else if (cli_opt(&a, "--fast-math", NULL, 0, &v))
            fast = 1;
        else
            cli_other(&a);
    }
    cli_need_pos(&a);
    if (library && form == DC_FORM_STANDALONE)
        cli_usage_error("%s", "--library and --standalone exclude each other");
    if (library && !out)
        cli_usage_error("%s", "--library needs -o BASE (writes BASE.h and BASE.c)");
    dcr_error err;
    dc_spec s;
    dc_net n;
    if (cli_load(&s, &n, a.pos, &err))
        return cli_fail(&err);
    dcr_job job;
    dc_spec_job(&job, &s);
    dc_spec_free(&s);
    char *cmd = cli_command_line(argc + 1, argv - 1);
    int rc;
    if (library) {
        rc = emit_library(&n, cmd, out, st, fast, &err);
        free(cmd);
        return rc ? cli_fail(&err) : 0;
    }
    dc_emit_opts o = {.strategy = st, .command_line = cmd, .form = form, .job = &job, .target = DC_JIT_CC,
                      .fast_math = fast};
    size_t len;
    char *src;
    rc = dc_emit(&src, &len, &n, &o, &err);
    free(cmd);
    if (rc)
        return cli_fail(&err);
    if (out)
        rc = dcr_write_atomic(out, src, len, &err);
    else
        rc = (fwrite(src, 1, len, stdout) == len && fflush(stdout) == 0)
                 ? 0
                 : dcr_fail(&err, DCR_ERR_IO, "standard output: %s", strerror(errno));
    free(src);
    return rc ? cli_fail(&err) : 0;
}

int cmd_gradcheck(int argc, char **argv)
{
    cli_args a = {argc, argv, 0, NULL, usage_gradcheck};
    const char *v;
    long long seed = GRADCHECK_SEED;
    for (a.i = 1; a.i < argc; a.i++) {
        if (cli_opt(&a, "--seed", NULL, 1, &v))
            seed = cli_int("--seed", v, 0, 9007199254740991LL);
        else
            cli_other(&a);
    }
    cli_need_pos(&a);
    dcr_error err;
    dc_spec s;
    dc_net n;
    if (dc_spec_load(&s, a.pos, &err))
        return cli_fail(&err);
    s.arch.dtype = DCR_F64; /* finite differences need the precision */
    int rc = dc_net_from_spec(&n, &s, &err);
    dc_spec_free(&s);
    if (rc)
        return cli_fail(&err);
    cli_built b;
    char *cmd = cli_command_line(argc + 1, argv - 1);
    rc = cli_build(&b, &n, NULL, cmd, &err);
    free(cmd);
    if (rc)
        return cli_fail(&err);
    dcr_gradcheck_result r;
    rc = dcr_gradcheck_random(&r, &b.engine, (uint64_t)seed, GRADCHECK_SAMPLES, GRADCHECK_EPS, GRADCHECK_FLOOR,
                              &err);
    cli_unbuild(&b);
    if (rc)
        return cli_fail(&err);
    cli_describe(stdout, &n);
    printf("gradcheck: float64, %zu parameters, %d samples, step %g (five-point), tolerance %g\n", r.n_checked,
           GRADCHECK_SAMPLES, GRADCHECK_EPS, GRADCHECK_TOL);
    for (int l = 1; l <= r.n_layers; l++)
        printf("  layer %d  %-10s max error  W %.3e  b %.3e\n", l, dcr_act_name(n.arch.act[l]), r.max_rel_w[l],
               r.max_rel_b[l]);
    if (r.max_abs_grad == 0) {
        fprintf(stderr, "deltac: gradcheck: every gradient is zero, so the check proves nothing\n");
        return EXIT_USER;
    }
    if (!(r.max_rel <= GRADCHECK_TOL)) {
        fprintf(stderr, "deltac: gradcheck FAILED: max error %.3e > tolerance %g\n", r.max_rel, GRADCHECK_TOL);
        return EXIT_USER;
    }
    if (r.n_smaller_step)
        printf("  %zu parameter%s passed only with a smaller step (a ReLU kink within %g of its value)\n",
               r.n_smaller_step, r.n_smaller_step == 1 ? "" : "s", GRADCHECK_EPS);
    printf("gradcheck passed: max error %.3e <= %g\n", r.max_rel, GRADCHECK_TOL);
    return 0;
}
