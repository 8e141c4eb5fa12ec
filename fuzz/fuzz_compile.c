/* fuzz_compile: any small spec that validates must emit, JIT-compile and
 * run one forward pass on zeros. A failure after validation is a finding
 * (abort). Small: at most 2,000 parameters and 4 layers, so that each input
 * compiles quickly. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deltac.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void finding(const char *what, const dcr_error *err)
{
    fprintf(stderr, "fuzz_compile: %s failed on a valid spec: %s\n", what, err->msg);
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    dc_spec s;
    dcr_error err;
    if (dc_spec_parse(&s, (const char *)data, size, "fuzz.json", &err) != 0) {
        dc_spec_free(&s);
        return 0;
    }
    if (s.arch.n_layers > 4 || dcr_arch_n_params(&s.arch) > 2000) {
        dc_spec_free(&s);
        return 0;
    }
    dc_net net;
    if (dc_net_from_spec(&net, &s, &err) != 0)
        finding("dc_net_from_spec", &err);
    char *src = NULL;
    size_t len = 0;
    dc_emit_opts o = {.strategy = DC_EMIT_UNROLLED, .command_line = "fuzz"};
    if (dc_emit(&src, &len, &net, &o, &err) != 0)
        finding("dc_emit", &err);
    dc_jit *j = NULL;
    if (dc_jit_compile(&j, DC_JIT_TCC, src, len, &err) != 0) {
        fprintf(stderr, "%s\n", src);
        finding("dc_jit_compile", &err);
    }
    free(src);
    dcr_engine e;
    if (dc_jit_engine(&e, j, &net, &err) != 0)
        finding("dc_jit_engine", &err);
    size_t es = dcr_dtype_size(net.arch.dtype);
    void *params = calloc(net.n_params ? net.n_params : 1, es);
    void *x = calloc((size_t)net.arch.sizes[0], es);
    void *out = calloc((size_t)net.arch.sizes[net.arch.n_layers], es);
    if (!params || !x || !out)
        abort();
    e.forward(e.self, out, params, x);
    free(params);
    free(x);
    free(out);
    dc_jit_engine_free(&e);
    dc_jit_free(j);
    dc_spec_free(&s);
    return 0;
}
