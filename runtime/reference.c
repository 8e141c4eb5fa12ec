/* reference.c: the generic reference engine. Plain loops over dimensions read
 * at run time: slow, but small enough to trust, and the yardstick the
 * generated code is checked against (bit for bit in float64). */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dcr_internal.h"

typedef struct {
    dcr_arch arch; /* a copy, so the caller's may go away */
    size_t n_params;
    size_t w_off[DCR_MAX_LAYERS + 1], b_off[DCR_MAX_LAYERS + 1];
    /* z, a and delta of layer l start at these element offsets of scratch;
     * allocated once so that the hot path never allocates */
    size_t z_off[DCR_MAX_LAYERS + 1], a_off[DCR_MAX_LAYERS + 1], d_off[DCR_MAX_LAYERS + 1];
    void *scratch;
    dcr_optim opt; /* the update's optimizer (plain SGD when zeroed) */
} ref;

#define T float
#define SFX _f32
#define F_EXP expf
#define F_TANH tanhf
#define F_LOG logf
#define F_LOG1P log1pf
#define F_EXPM1 expm1f
#include "reference_impl.h"
#undef T
#undef SFX
#undef F_EXP
#undef F_TANH
#undef F_LOG
#undef F_LOG1P
#undef F_EXPM1

#define T double
#define SFX _f64
#define F_EXP exp
#define F_TANH tanh
#define F_LOG log
#define F_LOG1P log1p
#define F_EXPM1 expm1
#include "reference_impl.h"
#undef T
#undef SFX
#undef F_EXP
#undef F_TANH
#undef F_LOG
#undef F_LOG1P
#undef F_EXPM1

/* Everything the kernels assume, with a message for each way to break it. */
static int check_arch(const dcr_arch *a, dcr_error *err)
{
    if (!a)
        return dcr_fail(err, DCR_ERR_USAGE, "dcr_ref_engine: no architecture");
    if (a->dtype != DCR_F32 && a->dtype != DCR_F64)
        return dcr_fail(err, DCR_ERR_SPEC, "unknown dtype %d", (int)a->dtype);
    if (a->n_layers > DCR_MAX_LAYERS)
        return dcr_fail(err, DCR_ERR_LIMIT, "%d layers is more than DCR_MAX_LAYERS (%d)",
                        a->n_layers, DCR_MAX_LAYERS);
    if (a->n_layers < 1)
        return dcr_fail(err, DCR_ERR_SPEC, "the network needs at least one layer, got %d",
                        a->n_layers);
    for (int l = 0; l <= a->n_layers; l++)
        if (a->sizes[l] < 1)
            return dcr_fail(err, DCR_ERR_SPEC, "layer %d has %d units; it needs at least 1", l,
                            a->sizes[l]);
    int L = a->n_layers;
    for (int l = 1; l <= L; l++) {
        if ((int)a->act[l] < (int)DCR_ACT_IDENTITY || (int)a->act[l] >= DCR_N_ACTS)
            return dcr_fail(err, DCR_ERR_SPEC, "layer %d: unknown activation %d", l,
                            (int)a->act[l]);
        if (a->act[l] == DCR_ACT_SOFTMAX && l != L)
            return dcr_fail(err, DCR_ERR_SPEC,
                            "layer %d: softmax is only allowed on the output layer", l);
        if ((a->act[l] == DCR_ACT_LEAKY_RELU || a->act[l] == DCR_ACT_ELU) &&
            !(a->alpha[l] > 0 && a->alpha[l] <= DBL_MAX))
            return dcr_fail(err, DCR_ERR_SPEC, "layer %d: %s needs an alpha > 0 and finite, not %g",
                            l, dcr_act_name(a->act[l]), a->alpha[l]);
    }
    if ((int)a->loss < 0 || (int)a->loss >= DCR_N_LOSSES)
        return dcr_fail(err, DCR_ERR_SPEC, "unknown loss %d", (int)a->loss);
    /* The pairings the canonical deltas are defined for. */
    if (a->loss == DCR_LOSS_CROSS_ENTROPY && a->act[L] != DCR_ACT_SOFTMAX)
        return dcr_fail(err, DCR_ERR_SPEC,
                        "cross_entropy loss needs a softmax output layer, not %s",
                        dcr_act_name(a->act[L]));
    if (a->loss == DCR_LOSS_BINARY_CROSS_ENTROPY && a->act[L] != DCR_ACT_SIGMOID)
        return dcr_fail(err, DCR_ERR_SPEC,
                        "binary_cross_entropy needs a sigmoid output layer, not %s",
                        dcr_act_name(a->act[L]));
    if (a->loss == DCR_LOSS_MSE && a->act[L] == DCR_ACT_SOFTMAX)
        return dcr_fail(err, DCR_ERR_SPEC, "a softmax output layer needs cross_entropy loss");
    if (!dcr_arch_valid(a))
        return dcr_fail(err, DCR_ERR_LIMIT, "the parameter count does not fit in memory");
    return 0;
}

int dcr_ref_engine(dcr_engine *out, const dcr_arch *a, dcr_error *err)
{
    dcr_optim sgd;
    memset(&sgd, 0, sizeof sgd);
    return dcr_ref_engine_opt(out, a, &sgd, err);
}

int dcr_ref_engine_opt(dcr_engine *out, const dcr_arch *a, const dcr_optim *o, dcr_error *err)
{
    if (!out)
        return dcr_fail(err, DCR_ERR_USAGE, "dcr_ref_engine: no engine to fill");
    if (check_arch(a, err) || dcr_optim_check(o, err))
        return -1;
    ref *r = calloc(1, sizeof *r);
    if (!r)
        return dcr_fail(err, DCR_ERR_NOMEM, "out of memory for the reference engine");
    r->arch = *a;
    r->opt = *o;
    r->n_params = dcr_arch_n_params(a);
    size_t units = 0, bytes;
    for (int l = 1; l <= a->n_layers; l++) {
        r->w_off[l] = dcr_arch_w_offset(a, l);
        r->b_off[l] = dcr_arch_b_offset(a, l);
        /* units is at most the parameter count, which fits */
        units += (size_t)a->sizes[l];
    }
    size_t off = 0;
    for (int l = 1; l <= a->n_layers; l++) {
        r->z_off[l] = off;
        r->a_off[l] = off + units;
        r->d_off[l] = off + 2 * units;
        off += (size_t)a->sizes[l];
    }
    if (!dcr_mul_ok(&bytes, units, 3) || !dcr_mul_ok(&bytes, bytes, dcr_dtype_size(a->dtype))) {
        free(r);
        return dcr_fail(err, DCR_ERR_LIMIT, "the reference engine's scratch does not fit");
    }
    r->scratch = calloc(1, bytes);
    if (!r->scratch) {
        free(r);
        return dcr_fail(err, DCR_ERR_NOMEM, "out of memory for the reference engine");
    }
    memset(out, 0, sizeof *out);
    out->self = r;
    out->arch = &r->arch;
    out->n_state = dcr_optim_n_state(o, r->n_params);
    if (a->dtype == DCR_F32) {
        out->forward = ref_forward_f32;
        out->loss_grad = ref_loss_grad_f32;
        out->batch_grad = ref_batch_grad_f32;
        out->update = ref_update_f32;
        out->loss_grad_trace = ref_loss_grad_trace_f32;
    } else {
        out->forward = ref_forward_f64;
        out->loss_grad = ref_loss_grad_f64;
        out->batch_grad = ref_batch_grad_f64;
        out->update = ref_update_f64;
        out->loss_grad_trace = ref_loss_grad_trace_f64;
    }
    return 0;
}

void dcr_ref_engine_free(dcr_engine *e)
{
    if (!e)
        return;
    ref *r = e->self;
    if (r) {
        free(r->scratch);
        free(r);
    }
    memset(e, 0, sizeof *e);
}
