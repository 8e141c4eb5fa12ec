/* ir.c: the network IR. Everything the emitters need is computed here once,
 * and every limit is checked before anything is sized by the network. */
#include <string.h>

#include "internal.h"

const char *dc_version(void)
{
    return DELTAC_VERSION;
}

void dc_die(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "deltac: internal error at %s:%d: ", file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    abort();
}

static int valid_name(const char *n)
{
    size_t len = strlen(n);
    if (len < 1 || len > DC_NAME_MAX || n[0] < 'a' || n[0] > 'z')
        return 0;
    for (size_t i = 1; i < len; i++)
        if (!((n[i] >= 'a' && n[i] <= 'z') || (n[i] >= '0' && n[i] <= '9') || n[i] == '_'))
            return 0;
    return 1;
}

int dc_net_make(dc_net *out, const dcr_arch *arch, const char *name, dcr_error *err)
{
    memset(out, 0, sizeof *out);
    if (!valid_name(name))
        return dcr_fail(err, DCR_ERR_USAGE, "\"%s\" is not a valid name ([a-z][a-z0-9_]{0,31})", name);
    int L = arch->n_layers;
    if (L < 1 || L > DCR_MAX_LAYERS)
        return dcr_fail(err, DCR_ERR_LIMIT, "%d layers (expected 1 to DCR_MAX_LAYERS = %d)", L, DCR_MAX_LAYERS);
    if (arch->dtype != DCR_F32 && arch->dtype != DCR_F64)
        return dcr_fail(err, DCR_ERR_USAGE, "unknown dtype %d", (int)arch->dtype);
    uint64_t params = 0, weights = 0, back = 0;
    for (int l = 0; l <= L; l++) {
        if (arch->sizes[l] < 1 || arch->sizes[l] > DC_MAX_UNITS)
            return dcr_fail(err, DCR_ERR_LIMIT, "layer %d has %d units (expected 1 to DC_MAX_UNITS = %d)",
                            l, arch->sizes[l], DC_MAX_UNITS);
        if (l == 0)
            continue;
        if ((unsigned)arch->act[l] > DCR_ACT_SOFTMAX)
            return dcr_fail(err, DCR_ERR_USAGE, "layer %d: unknown activation %d", l, (int)arch->act[l]);
        if (arch->act[l] == DCR_ACT_SOFTMAX && (l != L || arch->loss != DCR_LOSS_CROSS_ENTROPY))
            return dcr_fail(err, DCR_ERR_USAGE, "layer %d: softmax only on the last layer with cross_entropy", l);
        uint64_t w = (uint64_t)arch->sizes[l] * (uint64_t)arch->sizes[l - 1];
        out->w_off[l] = (size_t)params;
        out->b_off[l] = (size_t)(params + w);
        params += w + (uint64_t)arch->sizes[l];
        weights += w;
        if (l >= 2)
            back += w;
        if (params > DC_MAX_PARAMS)
            return dcr_fail(err, DCR_ERR_LIMIT, "more than DC_MAX_PARAMS = %u parameters", (unsigned)DC_MAX_PARAMS);
    }
    if (arch->loss == DCR_LOSS_CROSS_ENTROPY && arch->act[L] != DCR_ACT_SOFTMAX)
        return dcr_fail(err, DCR_ERR_USAGE, "cross_entropy needs a softmax output layer");
    memcpy(out->name, name, strlen(name) + 1);
    out->arch = *arch;
    out->n_params = (size_t)params;
    out->flops_forward = 2 * weights;
    /* forward, delta recursion (layers 2..L), weight gradients, SGD update */
    out->flops_train = 2 * weights + 2 * back + 2 * weights + 2 * params;
    return 0;
}

int dc_net_from_spec(dc_net *out, const dc_spec *s, dcr_error *err)
{
    if (dc_net_make(out, &s->arch, s->name, err))
        return -1;
    memcpy(out->spec_sha256, s->sha256_hex, sizeof out->spec_sha256);
    return 0;
}
