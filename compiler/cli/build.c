/* build.c: from a spec to an engine that runs its network. */
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

int cli_build(cli_built *b, const dc_net *net, int reference, const char *cmd, dcr_error *err)
{
    memset(b, 0, sizeof *b);
    b->net = *net;
    b->is_ref = reference;
    if (reference)
        return dcr_ref_engine_opt(&b->engine, &b->net.arch, &b->net.opt, err);
    double t0 = cli_now();
    dc_emit_opts o = {.strategy = DC_EMIT_UNROLLED, .command_line = cmd};
    char *src;
    if (dc_emit(&src, &b->src_len, &b->net, &o, err))
        return -1;
    int rc = dc_jit_compile(&b->jit, DC_JIT_TCC, src, b->src_len, err);
    free(src);
    b->compile_ms = 1e3 * (cli_now() - t0);
    if (rc)
        return -1;
    if (dc_jit_engine(&b->engine, b->jit, &b->net, err)) {
        dc_jit_free(b->jit);
        b->jit = NULL;
        return -1;
    }
    return 0;
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
