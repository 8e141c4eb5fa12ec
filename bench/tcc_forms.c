/* bench/tcc_forms.c: the crossover data of docs/codegen.md's cost model. For
 * one spec, emits the network in each form for the libtcc JIT (full,
 * blocked, kernels, auto), compiles it and times the per-sample fused SGD
 * step over 1000 random rows: thread CPU time (so other jobs on the machine
 * count less), the minimum over 15 windows of STEPS steps.
 *
 *   cc -O2 -Icompiler -Iruntime bench/tcc_forms.c build/libdeltac.a build/libdcr.a \
 *      -lcjson -lcrypto -ltcc -lz -lm -ldl -lpthread -o build/tcc_forms
 *   build/tcc_forms SPEC FAST STEPS     (FAST 1: the default fast mode, 0: --exact-math)
 *
 * Prints "form=ns per step/compile ms" per form. float32 specs only. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "deltac.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static float rnd(void)
{
    return (float)rand() / (float)RAND_MAX * 2 - 1;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: tcc_forms SPEC FAST STEPS\n");
        return 2;
    }
    dc_spec s;
    dc_net n;
    dcr_error e = {0};
    if (dc_spec_load(&s, argv[1], &e) || dc_net_from_spec(&n, &s, &e)) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    if (n.arch.dtype != DCR_F32) {
        fprintf(stderr, "float32 specs only\n");
        return 2;
    }
    int fast = atoi(argv[2]);
    long steps = atol(argv[3]);
    static const struct {
        dc_strategy st;
        const char *name;
    } forms[] = {{DC_EMIT_UNROLLED, "full"}, {DC_EMIT_BLOCKED, "blocked"}, {DC_EMIT_KERNELS, "kernels"},
                 {DC_EMIT_AUTO, "auto"}};
    int nin = n.arch.sizes[0], nout = n.arch.sizes[n.arch.n_layers], rows = 1000;
    printf("%s", argv[1]);
    for (size_t f = 0; f < sizeof forms / sizeof *forms; f++) {
        dc_emit_opts o = {.strategy = forms[f].st, .target = DC_JIT_TCC, .fast_math = fast};
        char *src;
        size_t len;
        if (dc_emit(&src, &len, &n, &o, &e)) {
            printf(" %s=-", forms[f].name);
            continue;
        }
        double t0 = now();
        dc_jit *j;
        int rc = dc_jit_compile(&j, DC_JIT_TCC, src, len, &e);
        double tc = now() - t0;
        free(src);
        dcr_engine eng;
        if (rc || dc_jit_engine(&eng, j, &n, &e)) {
            fprintf(stderr, "%s\n", e.msg);
            return 1;
        }
        float *p = malloc(n.n_params * sizeof *p), *X = malloc((size_t)(rows * nin) * sizeof *X),
              *Y = malloc((size_t)(rows * nout) * sizeof *Y);
        if (!p || !X || !Y)
            return 1;
        srand(1);
        for (size_t i = 0; i < n.n_params; i++)
            p[i] = rnd() * 0.1f;
        for (int i = 0; i < rows * nin; i++)
            X[i] = rnd();
        for (int i = 0; i < rows * nout; i++)
            Y[i] = rnd();
        double best = 1e30;
        for (int r = 0; r < 15; r++) {
            double a = now();
            int at = 0;
            for (long k = 0; k < steps; k++) {
                eng.sgd_step(eng.self, p, X + at * nin, Y + at * nout, 1e-3);
                if (++at == rows)
                    at = 0;
            }
            double t = (now() - a) / (double)steps * 1e9;
            if (t < best)
                best = t;
        }
        printf(" %s=%.0fns/%.1fms", forms[f].name, best, tc * 1e3);
        free(p);
        free(X);
        free(Y);
        dc_jit_engine_free(&eng);
        dc_jit_free(j);
    }
    printf("\n");
    dc_spec_free(&s);
    return 0;
}
