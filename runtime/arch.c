/* arch.c: names and the flat parameter layout of a dcr_arch. */
#include "dcr_internal.h"

size_t dcr_dtype_size(dcr_dtype t)
{
    switch (t) {
    case DCR_F32: return sizeof(float);
    case DCR_F64: return sizeof(double);
    }
    DCR_DIE("bad dtype");
}

const char *dcr_dtype_name(dcr_dtype t)
{
    switch (t) {
    case DCR_F32: return "float32";
    case DCR_F64: return "float64";
    }
    return "?";
}

const char *dcr_act_name(dcr_act a)
{
    switch (a) {
    case DCR_ACT_IDENTITY: return "identity";
    case DCR_ACT_SIGMOID: return "sigmoid";
    case DCR_ACT_TANH: return "tanh";
    case DCR_ACT_RELU: return "relu";
    case DCR_ACT_SOFTMAX: return "softmax";
    case DCR_ACT_LEAKY_RELU: return "leaky_relu";
    case DCR_ACT_ELU: return "elu";
    case DCR_ACT_SOFTPLUS: return "softplus";
    case DCR_ACT_GELU: return "gelu";
    }
    return "?";
}

const char *dcr_loss_name(dcr_loss l)
{
    switch (l) {
    case DCR_LOSS_MSE: return "mse";
    case DCR_LOSS_CROSS_ENTROPY: return "cross_entropy";
    case DCR_LOSS_BINARY_CROSS_ENTROPY: return "binary_cross_entropy";
    }
    return "?";
}

/* *out = parameters of layers 1..upto-1, plus W(upto) when with_w. Returns 0
 * when the count does not fit size_t. */
static int count(size_t *out, const dcr_arch *a, int upto, int with_w)
{
    size_t n = 0, w;
    for (int l = 1; l < upto; l++) {
        if (!dcr_mul_ok(&w, (size_t)a->sizes[l], (size_t)a->sizes[l - 1]) ||
            !dcr_add_ok(&n, n, w) || !dcr_add_ok(&n, n, (size_t)a->sizes[l]))
            return 0;
    }
    if (with_w) {
        if (!dcr_mul_ok(&w, (size_t)a->sizes[upto], (size_t)a->sizes[upto - 1]) ||
            !dcr_add_ok(&n, n, w))
            return 0;
    }
    *out = n;
    return 1;
}

int dcr_arch_valid(const dcr_arch *a)
{
    if (!a || (a->dtype != DCR_F32 && a->dtype != DCR_F64))
        return 0;
    if (a->n_layers < 1 || a->n_layers > DCR_MAX_LAYERS)
        return 0;
    if ((int)a->loss < 0 || (int)a->loss >= DCR_N_LOSSES)
        return 0;
    for (int l = 0; l <= a->n_layers; l++)
        if (a->sizes[l] < 1)
            return 0;
    for (int l = 1; l <= a->n_layers; l++)
        if ((int)a->act[l] < (int)DCR_ACT_IDENTITY || (int)a->act[l] >= DCR_N_ACTS)
            return 0;
    size_t n;
    return count(&n, a, a->n_layers + 1, 0);
}

/* 0 for an arch that is not valid (see dcr_arch_valid), which includes a
 * parameter count that does not fit size_t: no real network has 0. */
size_t dcr_arch_n_params(const dcr_arch *a)
{
    size_t n;
    if (!dcr_arch_valid(a) || !count(&n, a, a->n_layers + 1, 0))
        return 0;
    return n;
}

size_t dcr_arch_w_offset(const dcr_arch *a, int l)
{
    size_t n;
    DCR_ASSERT(dcr_arch_valid(a) && l >= 1 && l <= a->n_layers);
    DCR_ASSERT(count(&n, a, l, 0));
    return n;
}

size_t dcr_arch_b_offset(const dcr_arch *a, int l)
{
    size_t n;
    DCR_ASSERT(dcr_arch_valid(a) && l >= 1 && l <= a->n_layers);
    DCR_ASSERT(count(&n, a, l, 1));
    return n;
}
