/* build.c: from a spec to an engine that runs its network. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int cli_load(dc_spec *s, dc_net *n, const char *path, dcr_error *err)
{
    memset(n, 0, sizeof *n);
    if (dc_spec_load(s, path, err))
        return -1;
    if (dc_net_from_spec(n, s, err)) {
        dc_spec_free(s);
        return -1;
    }
    return 0;
}

int cli_engine_opt(cli_args *a, cli_engine *e)
{
    const char *v;
    if (cli_opt(a, "--engine", NULL, 1, &v)) {
        if (strcmp(v, "jit") != 0 && strcmp(v, "reference") != 0)
            cli_usage_error("--engine: expected jit or reference, got '%s'", v);
        e->reference = strcmp(v, "reference") == 0;
    } else if (cli_opt(a, "--jit", NULL, 1, &v)) {
        if (strcmp(v, "tcc") != 0 && strcmp(v, "cc") != 0)
            cli_usage_error("--jit: expected tcc or cc, got '%s'", v);
        e->backend = strcmp(v, "cc") == 0 ? DC_JIT_CC : DC_JIT_TCC;
    } else if (cli_opt(a, "--exact-math", NULL, 0, &v)) {
        e->exact = 1;
    } else if (cli_opt(a, "--unroll", NULL, 1, &v)) {
        e->unroll = cli_unroll(v);
    } else {
        return 0;
    }
    return 1;
}

dc_strategy cli_unroll(const char *v)
{
    if (strcmp(v, "auto") == 0)
        return DC_EMIT_AUTO;
    if (strcmp(v, "full") == 0)
        return DC_EMIT_UNROLLED;
    if (strcmp(v, "loops") == 0)
        return DC_EMIT_LOOPS;
    if (strcmp(v, "blocked") == 0)
        return DC_EMIT_BLOCKED;
    if (strcmp(v, "kernels") == 0)
        return DC_EMIT_KERNELS;
    cli_usage_error("--unroll: expected auto, full, blocked, kernels or loops, got '%s'", v);
}

int cli_build(cli_built *b, const dc_net *net, const cli_engine *e, const char *cmd, dcr_error *err)
{
    static const cli_engine dflt = CLI_ENGINE_DEFAULT;
    if (!e)
        e = &dflt;
    memset(b, 0, sizeof *b);
    b->net = *net;
    b->is_ref = e->reference;
    if (e->reference)
        return dcr_ref_engine_opt(&b->engine, &b->net.arch, &b->net.opt, err);
    dc_jit_opts jo = {.backend = e->backend, .exact = e->exact};
    if (jo.backend == DC_JIT_CC && !dc_jit_cc_available(&jo)) {
        const char *cc = getenv("CC");
        fprintf(stderr, "deltac: no C compiler '%s' found; using libtcc instead (--jit tcc)\n",
                cc && *cc ? cc : "cc");
        jo.backend = DC_JIT_TCC;
    }
    double t0 = cli_now();
    /* no command line in the header comment: the same network must give the
     * same source, whatever the options, for the cc backend's cache */
    (void)cmd;
    dc_emit_opts o = {.strategy = e->unroll, .command_line = NULL, .target = (int)jo.backend,
                      .fast_math = !jo.exact};
    char *src;
    if (dc_emit(&src, &b->src_len, &b->net, &o, err))
        return -1;
    b->emit_ms = 1e3 * (cli_now() - t0);
    int rc = dc_jit_compile_opts(&b->jit, &jo, src, b->src_len, err);
    free(src);
    b->compile_ms = 1e3 * (cli_now() - t0);
    if (rc)
        return -1;
    dc_jit_get_info(b->jit, &b->info);
    if (dc_jit_engine(&b->engine, b->jit, &b->net, err)) {
        dc_jit_free(b->jit);
        b->jit = NULL;
        return -1;
    }
    return 0;
}

void cli_built_say(char *out, size_t cap, const cli_built *b)
{
    if (b->is_ref)
        snprintf(out, cap, "engine: reference (generic loops)");
    else if (b->info.backend == DC_JIT_TCC)
        snprintf(out, cap, "jit: libtcc compiled %zu bytes of C in %.1f ms", b->src_len, b->compile_ms);
    else
        snprintf(out, cap, "jit: cc %s %zu bytes of C in %.1f ms", b->info.cache_hit ? "loaded (cached)" : "compiled",
                 b->src_len, b->compile_ms);
}

void cli_unbuild(cli_built *b)
{
    if (b->is_ref) {
        dcr_ref_engine_free(&b->engine);
    } else if (b->jit) {
        dc_jit_engine_free(&b->engine);
        dc_jit_free(b->jit);
    }
    memset(b, 0, sizeof *b);
}

void cli_spec_io(dcr_job_io *io, const dc_spec *s)
{
    memset(io, 0, sizeof *io);
    io->train = s->data.train;
    io->train_labels = s->data.train_labels;
    io->test = s->data.test;
    io->test_labels = s->data.test_labels;
}

int cli_load_params(void **params, const char *ckpt, const dc_spec *s, dcr_error *err)
{
    *params = NULL;
    dcr_ckpt c;
    if (dcr_ckpt_read(&c, ckpt, err))
        return -1;
    if (dcr_ckpt_check(&c, ckpt, &s->arch, s->sha256, err)) {
        dcr_ckpt_free(&c);
        return -1;
    }
    *params = c.params; /* taken over */
    c.params = NULL;
    dcr_ckpt_free(&c);
    return 0;
}
