/* The system-compiler backend (--jit cc): exact mode equals the reference
 * engine bit for bit, fast mode within rounding, the cache is hit and kept
 * private, and every failure is an error with a message. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "deltac.h"

static char cache[64];

static void make_cache(void)
{
    strcpy(cache, "/tmp/deltac-cc-test-XXXXXX");
    cr_assert_not_null(mkdtemp(cache));
}

static void drop_cache(void)
{
    DIR *d = opendir(cache);
    if (!d)
        return;
    struct dirent *e;
    char p[sizeof cache + sizeof e->d_name + 2];
    while ((e = readdir(d)))
        if (e->d_name[0] != '.') {
            snprintf(p, sizeof p, "%s/%s", cache, e->d_name);
            unlink(p);
        }
    closedir(d);
    rmdir(cache);
}

/* files in the cache folder, and how many of them are not NAME.so */
static int count_files(int *others)
{
    DIR *d = opendir(cache);
    cr_assert_not_null(d);
    struct dirent *e;
    int n = 0;
    *others = 0;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.') {
            n++;
            size_t l = strlen(e->d_name);
            if (l != 67 || strcmp(e->d_name + 64, ".so") != 0)
                (*others)++;
        }
    closedir(d);
    return n;
}

static void arch_of(dcr_arch *a, dcr_dtype t, int n, const int *sizes, const dcr_act *acts, dcr_loss loss)
{
    memset(a, 0, sizeof *a);
    a->dtype = t;
    a->n_layers = n;
    for (int l = 0; l <= n; l++)
        a->sizes[l] = sizes[l];
    for (int l = 1; l <= n; l++)
        a->act[l] = acts[l - 1];
    a->loss = loss;
}

static void *rnd(size_t n, dcr_dtype t, dcr_rng *r)
{
    double *d = malloc(n * sizeof *d);
    for (size_t i = 0; i < n; i++)
        d[i] = 2 * dcr_rng_uniform(r) - 1;
    void *p = dcr_pack(d, n, t);
    free(d);
    return p;
}

/* The largest difference of got[i] from want[i], relative to |want[i]|
 * (at least 1e-3); NaN wins. */
static double worst_rel(const void *got, const void *want, size_t n, dcr_dtype t)
{
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double x = t == DCR_F64 ? ((const double *)got)[i] : ((const float *)got)[i];
        double y = t == DCR_F64 ? ((const double *)want)[i] : ((const float *)want)[i];
        double d = fabs(x - y) / (fabs(y) > 1e-3 ? fabs(y) : 1e-3);
        if (d > worst || d != d)
            worst = d;
    }
    return worst;
}

/* 20 steps of batch 19 (two blocks of 8 samples and 3 more) on the arch with optimizer o through the cc backend
 * (exact or fast) and the reference engine; the largest relative
 * difference of the parameters. */
static double cc_vs_reference(const dcr_arch *a, const dcr_optim *o, int exact)
{
    dcr_error err = {0};
    dc_net net;
    cr_assert_eq(dc_net_make(&net, a, "ccnet", &err), 0, "%s", err.msg);
    cr_assert_eq(dc_net_set_optim(&net, o, &err), 0, "%s", err.msg);
    char *src;
    size_t len;
    /* what --jit cc --unroll auto emits: loops and the minibatch kernels */
    dc_emit_opts eo = {.strategy = DC_EMIT_AUTO, .target = DC_JIT_CC, .fast_math = !exact};
    cr_assert_eq(dc_emit(&src, &len, &net, &eo, &err), 0, "%s", err.msg);
    cr_assert(strstr(src, "minibatch kernels of 8 samples") != NULL, "not the blocked minibatch driver");
    cr_assert((strstr(src, "DCM_tanh") != NULL) == !exact, "fast exp/tanh exactly in fast mode");
    dc_jit_opts jo = {.backend = DC_JIT_CC, .cache_dir = cache, .exact = exact};
    dc_jit *j;
    int rc = dc_jit_compile_opts(&j, &jo, src, len, &err);
    free(src);
    cr_assert_eq(rc, 0, "%s", err.msg);
    dcr_engine e, ref;
    cr_assert_eq(dc_jit_engine(&e, j, &net, &err), 0, "%s", err.msg);
    cr_assert_eq(dcr_ref_engine_opt(&ref, &net.arch, &net.opt, &err), 0, "%s", err.msg);
    dcr_rng r;
    dcr_rng_seed(&r, 7);
    size_t es = dcr_dtype_size(a->dtype), np = net.n_params;
    int B = 19, nin = a->sizes[0], nout = a->sizes[a->n_layers];
    void *p1 = rnd(np, a->dtype, &r), *X = rnd((size_t)B * (size_t)nin, a->dtype, &r);
    void *Y = rnd((size_t)B * (size_t)nout, a->dtype, &r);
    if (a->loss == DCR_LOSS_CROSS_ENTROPY) { /* one-hot targets */
        double *y = calloc((size_t)B * (size_t)nout, sizeof *y);
        for (int i = 0; i < B; i++)
            y[i * nout + i % nout] = 1;
        free(Y);
        Y = dcr_pack(y, (size_t)B * (size_t)nout, a->dtype);
        free(y);
    }
    void *p2 = malloc(np * es), *g = malloc(np * es);
    void *s1 = calloc(net.n_state + 1, es), *s2 = calloc(net.n_state + 1, es);
    memcpy(p2, p1, np * es);
    for (int t = 1; t <= 20; t++) {
        dcr_step st = {0.05, 1.0 / B, (uint64_t)t};
        e.batch_grad(e.self, g, p1, X, Y, B);
        e.update(e.self, p1, s1, g, &st);
        ref.batch_grad(ref.self, g, p2, X, Y, B);
        ref.update(ref.self, p2, s2, g, &st);
    }
    double worst = worst_rel(p1, p2, np, a->dtype);
    free(p1); free(p2); free(g); free(s1); free(s2); free(X); free(Y);
    dc_jit_engine_free(&e);
    dcr_ref_engine_free(&ref);
    dc_jit_free(j);
    return worst;
}

TestSuite(jit_cc, .init = make_cache, .fini = drop_cache);

Test(jit_cc, exact_mode_is_bit_identical_to_the_reference)
{
    if (!dc_jit_cc_available(NULL))
        cr_skip_test("no C compiler");
    const int s1[] = {3, 6, 5, 2};
    const dcr_act a1[] = {DCR_ACT_TANH, DCR_ACT_SIGMOID, DCR_ACT_IDENTITY};
    const int s2[] = {5, 8, 4};
    const dcr_act a2[] = {DCR_ACT_RELU, DCR_ACT_SOFTMAX};
    dcr_arch a;
    dcr_optim sgd = {0}, adam = {0};
    sgd.type = DCR_OPT_SGD;
    adam.type = DCR_OPT_ADAM;
    adam.beta1 = 0.9;
    adam.beta2 = 0.999;
    adam.eps = 1e-8;
    arch_of(&a, DCR_F64, 3, s1, a1, DCR_LOSS_MSE);
    cr_expect_eq(cc_vs_reference(&a, &sgd, 1), 0.0);
    arch_of(&a, DCR_F64, 2, s2, a2, DCR_LOSS_CROSS_ENTROPY);
    cr_expect_eq(cc_vs_reference(&a, &adam, 1), 0.0);
    arch_of(&a, DCR_F32, 2, s2, a2, DCR_LOSS_CROSS_ENTROPY);
    cr_expect_eq(cc_vs_reference(&a, &sgd, 1), 0.0);
    /* float32 takes the sample-minor minibatch driver: tanh and sigmoid,
     * the other hidden activations (their derivatives are applied as the
     * kernels store a tile), layers wider than a tile and not a multiple of
     * it (overlapping tiles), a single output unit */
    arch_of(&a, DCR_F32, 3, s1, a1, DCR_LOSS_MSE);
    cr_expect_eq(cc_vs_reference(&a, &adam, 1), 0.0);
    const int s3[] = {9, 7, 11, 6, 5, 1};
    const dcr_act a3[] = {DCR_ACT_LEAKY_RELU, DCR_ACT_ELU, DCR_ACT_SOFTPLUS, DCR_ACT_GELU, DCR_ACT_SIGMOID};
    arch_of(&a, DCR_F32, 5, s3, a3, DCR_LOSS_MSE);
    a.alpha[1] = 0.01;
    a.alpha[2] = 1.0;
    cr_expect_eq(cc_vs_reference(&a, &adam, 1), 0.0);
}

Test(jit_cc, fast_mode_agrees_within_rounding)
{
    if (!dc_jit_cc_available(NULL))
        cr_skip_test("no C compiler");
    const int s1[] = {3, 6, 5, 2};
    const dcr_act a1[] = {DCR_ACT_TANH, DCR_ACT_SIGMOID, DCR_ACT_IDENTITY};
    dcr_arch a;
    dcr_optim sgd = {0};
    arch_of(&a, DCR_F64, 3, s1, a1, DCR_LOSS_MSE);
    /* reassociated sums, FMA and fastmath.h's tanh (2e-15 relative in
     * float64, 4e-7 in float32; docs/fastmath.md): a few ulp per operation,
     * over 20 steps */
    double d = cc_vs_reference(&a, &sgd, 0);
    cr_expect_lt(d, 1e-12, "float64 fast mode differs by %g", d);
    arch_of(&a, DCR_F32, 3, s1, a1, DCR_LOSS_MSE);
    d = cc_vs_reference(&a, &sgd, 0);
    cr_expect_lt(d, 1e-4, "float32 fast mode differs by %g", d);
}

static const char small_src[] = "double twice(double x) { return 2 * x; }\n";

Test(jit_cc, second_compile_comes_from_the_cache)
{
    if (!dc_jit_cc_available(NULL))
        cr_skip_test("no C compiler");
    dcr_error err = {0};
    dc_jit_opts jo = {.backend = DC_JIT_CC, .cache_dir = cache};
    dc_jit *j1, *j2;
    cr_assert_eq(dc_jit_compile_opts(&j1, &jo, small_src, strlen(small_src), &err), 0, "%s", err.msg);
    cr_assert_eq(dc_jit_compile_opts(&j2, &jo, small_src, strlen(small_src), &err), 0, "%s", err.msg);
    dc_jit_info i1, i2;
    dc_jit_get_info(j1, &i1);
    dc_jit_get_info(j2, &i2);
    cr_expect_eq(i1.cache_hit, 0);
    cr_expect_eq(i2.cache_hit, 1);
    cr_expect_gt(i2.code_bytes, 0);
    double (*f)(double) = (double (*)(double))dc_jit_symbol(j2, "twice");
    cr_assert_not_null(f);
    cr_expect_eq(f(21), 42.0);
    int others;
    cr_expect_eq(count_files(&others), 1, "one object in the cache");
    cr_expect_eq(others, 0, "no temporary files left");
    /* exact mode is a different object */
    jo.exact = 1;
    dc_jit *j3;
    cr_assert_eq(dc_jit_compile_opts(&j3, &jo, small_src, strlen(small_src), &err), 0, "%s", err.msg);
    cr_expect_eq(count_files(&others), 2);
    dc_jit_free(j1);
    dc_jit_free(j2);
    dc_jit_free(j3);
}

Test(jit_cc, no_cache_leaves_nothing_behind)
{
    if (!dc_jit_cc_available(NULL))
        cr_skip_test("no C compiler");
    char tmp[64];
    strcpy(tmp, "/tmp/deltac-cc-tmp-XXXXXX");
    cr_assert_not_null(mkdtemp(tmp));
    setenv("TMPDIR", tmp, 1);
    dcr_error err = {0};
    dc_jit_opts jo = {.backend = DC_JIT_CC, .cache_dir = ""};
    dc_jit *j;
    cr_assert_eq(dc_jit_compile_opts(&j, &jo, small_src, strlen(small_src), &err), 0, "%s", err.msg);
    double (*f)(double) = (double (*)(double))dc_jit_symbol(j, "twice");
    cr_expect_eq(f(1.5), 3.0);
    dc_jit_free(j);
    unsetenv("TMPDIR");
    cr_expect_eq(rmdir(tmp), 0, "the temporary folder is empty");
}

Test(jit_cc, a_cache_others_can_write_is_refused)
{
    if (!dc_jit_cc_available(NULL))
        cr_skip_test("no C compiler");
    chmod(cache, 0777);
    dcr_error err = {0};
    dc_jit_opts jo = {.backend = DC_JIT_CC, .cache_dir = cache};
    dc_jit *j;
    cr_expect_eq(dc_jit_compile_opts(&j, &jo, small_src, strlen(small_src), &err), -1);
    cr_expect_null(j);
    cr_expect(strstr(err.msg, "writable by others") != NULL, "%s", err.msg);
    chmod(cache, 0700);
}

Test(jit_cc, a_missing_compiler_is_an_error)
{
    dcr_error err = {0};
    dc_jit_opts jo = {.backend = DC_JIT_CC, .cache_dir = cache, .cc = "/nonexistent/cc"};
    cr_expect_eq(dc_jit_cc_available(&jo), 0);
    dc_jit *j;
    cr_expect_eq(dc_jit_compile_opts(&j, &jo, small_src, strlen(small_src), &err), -1);
    cr_expect_eq(err.status, DCR_ERR_JIT);
    cr_expect(strstr(err.msg, "no C compiler '/nonexistent/cc'") != NULL, "%s", err.msg);
}

Test(jit_cc, compiler_messages_come_back)
{
    if (!dc_jit_cc_available(NULL))
        cr_skip_test("no C compiler");
    static const char bad[] = "int f(void) { return undeclared_thing; }\n";
    dcr_error err = {0};
    dc_jit_opts jo = {.backend = DC_JIT_CC, .cache_dir = cache};
    dc_jit *j;
    cr_expect_eq(dc_jit_compile_opts(&j, &jo, bad, strlen(bad), &err), -1);
    cr_expect_eq(err.status, DCR_ERR_JIT);
    cr_expect(strstr(err.msg, "undeclared_thing") != NULL, "%s", err.msg);
    int others;
    cr_expect_eq(count_files(&others), 0, "nothing left in the cache after a failure");
}

/* The per-sample fused step (what deltac train and bench take for batches
 * of one) on nets whose short rows get cc's lane forms in fast mode
 * (compiler/emit_loops.c, dc_lanes_layer): 60 steps through cc against
 * batch_grad + update of the reference engine, one sample each. Fast
 * mode within 1e-4 (float32) and 1e-12 (float64) relative, exact mode
 * bit for bit. */
static double fused_vs_reference(const dcr_arch *a, int exact)
{
    dcr_error err = {0};
    dc_net net;
    cr_assert_eq(dc_net_make(&net, a, "lanes", &err), 0, "%s", err.msg);
    char *src;
    size_t len;
    dc_emit_opts eo = {.strategy = DC_EMIT_AUTO, .target = DC_JIT_CC, .fast_math = !exact};
    cr_assert_eq(dc_emit(&src, &len, &net, &eo, &err), 0, "%s", err.msg);
    /* the lane forms' partial sums, exactly in fast mode */
    cr_assert((strstr(src, "ak[r] += wk[q + r] * in[q + r];") != NULL) == !exact, "lane forms %s",
              exact ? "in exact mode" : "missing");
    dc_jit_opts jo = {.backend = DC_JIT_CC, .cache_dir = cache, .exact = exact};
    dc_jit *j;
    int rc = dc_jit_compile_opts(&j, &jo, src, len, &err);
    free(src);
    cr_assert_eq(rc, 0, "%s", err.msg);
    dcr_engine e, ref;
    cr_assert_eq(dc_jit_engine(&e, j, &net, &err), 0, "%s", err.msg);
    cr_assert_not_null(e.sgd_step);
    cr_assert_eq(dcr_ref_engine_opt(&ref, &net.arch, &net.opt, &err), 0, "%s", err.msg);
    dcr_rng r;
    dcr_rng_seed(&r, 11);
    size_t es = dcr_dtype_size(a->dtype), np = net.n_params;
    int n = 7, nin = a->sizes[0], nout = a->sizes[a->n_layers];
    void *p1 = rnd(np, a->dtype, &r), *X = rnd((size_t)n * (size_t)nin, a->dtype, &r);
    void *Y = rnd((size_t)n * (size_t)nout, a->dtype, &r);
    void *p2 = malloc(np * es), *g = malloc(np * es);
    memcpy(p2, p1, np * es);
    dcr_step st = {0.05, 1.0, 1};
    for (int t = 0; t < 60; t++) {
        const char *x = (const char *)X + (size_t)(t % n) * (size_t)nin * es;
        const char *y = (const char *)Y + (size_t)(t % n) * (size_t)nout * es;
        e.sgd_step(e.self, p1, x, y, 0.05);
        ref.batch_grad(ref.self, g, p2, x, y, 1);
        ref.update(ref.self, p2, NULL, g, &st);
    }
    double worst = worst_rel(p1, p2, np, a->dtype);
    free(p1); free(p2); free(g); free(X); free(Y);
    dc_jit_engine_free(&e);
    dcr_ref_engine_free(&ref);
    dc_jit_free(j);
    return worst;
}

Test(jit_cc, fused_step_with_lane_forms)
{
    if (!dc_jit_cc_available(NULL))
        cr_skip_test("no C compiler");
    static const struct {
        int n;
        int sizes[4];
        dcr_act acts[3];
    } nets[] = {
        {3, {4, 16, 16, 1}, {DCR_ACT_TANH, DCR_ACT_TANH, DCR_ACT_IDENTITY}},       /* lanes up to 16 */
        {3, {16, 32, 32, 4}, {DCR_ACT_TANH, DCR_ACT_SIGMOID, DCR_ACT_IDENTITY}},   /* 16 inputs, 32 rows */
        {2, {12, 40, 3}, {DCR_ACT_RELU, DCR_ACT_IDENTITY}},                        /* the delta loop's odd rows */
    };
    for (size_t i = 0; i < sizeof nets / sizeof *nets; i++)
        for (int t = 0; t < 2; t++) {
            dcr_arch a;
            arch_of(&a, t ? DCR_F64 : DCR_F32, nets[i].n, nets[i].sizes, nets[i].acts, DCR_LOSS_MSE);
            double fast = fused_vs_reference(&a, 0), exact = fused_vs_reference(&a, 1);
            cr_expect_leq(fast, t ? 1e-12 : 1e-4, "net %zu %s: fast mode off by %.3g", i, t ? "float64" : "float32",
                          fast);
            cr_expect_eq(exact, 0, "net %zu %s: exact mode off by %.3g", i, t ? "float64" : "float32", exact);
            fprintf(stderr, "fused step, lane forms, net %zu %s: fast %.3g, exact %.3g\n", i,
                    t ? "float64" : "float32", fast, exact);
        }
}
