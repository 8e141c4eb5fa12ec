/* ir.c: the network IR. Everything the emitters need is computed here once,
 * and every limit is checked before anything is sized by the network. */
#include <math.h>
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
        if ((unsigned)arch->act[l] >= DCR_N_ACTS)
            return dcr_fail(err, DCR_ERR_USAGE, "layer %d: unknown activation %d", l, (int)arch->act[l]);
        /* alpha is written into the source as a number: it must be one */
        if ((arch->act[l] == DCR_ACT_LEAKY_RELU || arch->act[l] == DCR_ACT_ELU) &&
            !(arch->alpha[l] > 0 && arch->alpha[l] < HUGE_VAL))
            return dcr_fail(err, DCR_ERR_USAGE, "layer %d: %s needs an alpha > 0 and finite, not %g", l,
                            dcr_act_name(arch->act[l]), arch->alpha[l]);
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
    if ((unsigned)arch->loss >= DCR_N_LOSSES)
        return dcr_fail(err, DCR_ERR_USAGE, "unknown loss %d", (int)arch->loss);
    if (arch->loss == DCR_LOSS_CROSS_ENTROPY && arch->act[L] != DCR_ACT_SOFTMAX)
        return dcr_fail(err, DCR_ERR_USAGE, "cross_entropy needs a softmax output layer");
    if (arch->loss == DCR_LOSS_BINARY_CROSS_ENTROPY && arch->act[L] != DCR_ACT_SIGMOID)
        return dcr_fail(err, DCR_ERR_USAGE, "binary_cross_entropy needs a sigmoid output layer");
    memcpy(out->name, name, strlen(name) + 1);
    out->arch = *arch;
    out->n_params = (size_t)params;
    out->flops_forward = 2 * weights;
    /* forward, delta recursion (layers 2..L), weight gradients, SGD update */
    out->flops_train = 2 * weights + 2 * back + 2 * weights + 2 * params;
    return 0;
}

/* Operations per parameter of one update (the order of ref_update in
 * runtime/reference_impl.h). */
static uint64_t update_flops(const dcr_optim *o)
{
    int wd = o->weight_decay > 0;
    if (o->type == DCR_OPT_SGD && !(o->momentum > 0) && !wd)
        return 2;
    if (o->type == DCR_OPT_SGD)
        return 3 + (wd ? 2 : 0) + (o->momentum > 0 ? 2 : 0) + (o->nesterov ? 2 : 0);
    return 14 + (wd ? (o->type == DCR_OPT_ADAMW ? 1 : 2) : 0);
}

int dc_net_set_optim(dc_net *net, const dcr_optim *o, dcr_error *err)
{
    if (dcr_optim_check(o, err))
        return -1;
    uint64_t np = (uint64_t)net->n_params;
    net->flops_train = net->flops_train - update_flops(&net->opt) * np + update_flops(o) * np;
    net->opt = *o;
    net->n_state = dcr_optim_n_state(o, net->n_params);
    return 0;
}

int dc_net_from_spec(dc_net *out, const dc_spec *s, dcr_error *err)
{
    if (dc_net_make(out, &s->arch, s->name, err))
        return -1;
    if (dc_net_set_optim(out, &s->train.opt, err))
        return -1;
    memcpy(out->spec_sha256, s->sha256_hex, sizeof out->spec_sha256);
    return 0;
}
