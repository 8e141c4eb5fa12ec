/* optim.c: what the training driver needs of an optimizer besides the
 * update itself (which each engine implements: the generated P_update, the
 * reference engine's ref_update): the names, the checks, the size of the
 * state, the learning-rate schedule with warm-up, and clipping by global
 * norm. docs/training.md has the equations.
 *
 * Like every runtime file, this one is also pasted into standalone trainers
 * compiled as C99: file-scope names carry the optim_ prefix. */
#include <math.h>
#include <stdint.h>

#include "dcr_internal.h"

const char *dcr_optim_name(dcr_opt_type t)
{
    switch (t) {
    case DCR_OPT_SGD: return "sgd";
    case DCR_OPT_ADAM: return "adam";
    case DCR_OPT_ADAMW: return "adamw";
    }
    return "?";
}

const char *dcr_sched_name(dcr_sched_type t)
{
    switch (t) {
    case DCR_SCHED_CONSTANT: return "constant";
    case DCR_SCHED_STEP: return "step";
    case DCR_SCHED_COSINE: return "cosine";
    }
    return "?";
}

/* A finite number in [lo, hi) (hi_open) or [lo, hi]. */
static int optim_in(double v, double lo, double hi, int hi_open)
{
    return isfinite(v) && v >= lo && (hi_open ? v < hi : v <= hi);
}

int dcr_optim_check(const dcr_optim *o, dcr_error *err)
{
    if (!o)
        return dcr_fail(err, DCR_ERR_USAGE, "no optimizer given");
    if ((unsigned)o->type > (unsigned)DCR_OPT_ADAMW)
        return dcr_fail(err, DCR_ERR_USAGE, "unknown optimizer type %d", (int)o->type);
    const char *name = dcr_optim_name(o->type);
    int sgd = o->type == DCR_OPT_SGD;
    if (sgd) {
        if (!optim_in(o->momentum, 0, 1, 1))
            return dcr_fail(err, DCR_ERR_USAGE, "momentum %g must be in [0, 1)", o->momentum);
        if (o->nesterov != 0 && o->nesterov != 1)
            return dcr_fail(err, DCR_ERR_USAGE, "nesterov %d must be 0 or 1", o->nesterov);
        if (o->nesterov && !(o->momentum > 0))
            return dcr_fail(err, DCR_ERR_USAGE, "nesterov needs a momentum > 0");
        if (o->beta1 != 0 || o->beta2 != 0 || o->eps != 0)
            return dcr_fail(err, DCR_ERR_USAGE, "betas and eps apply to adam and adamw, not sgd");
    } else {
        if (o->momentum != 0 || o->nesterov != 0)
            return dcr_fail(err, DCR_ERR_USAGE, "momentum and nesterov apply to sgd, not %s", name);
        if (!optim_in(o->beta1, 0, 1, 1) || !optim_in(o->beta2, 0, 1, 1))
            return dcr_fail(err, DCR_ERR_USAGE, "betas (%g, %g) must each be in [0, 1)", o->beta1,
                            o->beta2);
        if (!(o->eps > 0) || !isfinite(o->eps))
            return dcr_fail(err, DCR_ERR_USAGE, "eps %g must be a positive finite number", o->eps);
    }
    if (!optim_in(o->weight_decay, 0, INFINITY, 1))
        return dcr_fail(err, DCR_ERR_USAGE, "weight_decay %g must be a finite number >= 0",
                        o->weight_decay);
    if (!optim_in(o->clip_norm, 0, INFINITY, 1))
        return dcr_fail(err, DCR_ERR_USAGE, "clip_norm %g must be a finite number >= 0 (0: off)",
                        o->clip_norm);
    if ((unsigned)o->schedule > (unsigned)DCR_SCHED_COSINE)
        return dcr_fail(err, DCR_ERR_USAGE, "unknown schedule %d", (int)o->schedule);
    if (o->schedule == DCR_SCHED_STEP) {
        if (o->step_epochs < 1)
            return dcr_fail(err, DCR_ERR_USAGE, "step_epochs %d must be at least 1", o->step_epochs);
        if (!(o->gamma > 0) || !isfinite(o->gamma))
            return dcr_fail(err, DCR_ERR_USAGE, "gamma %g must be a positive finite number", o->gamma);
    } else if (o->step_epochs != 0 || o->gamma != 0) {
        return dcr_fail(err, DCR_ERR_USAGE, "step_epochs and gamma apply to the schedule step, not %s",
                        dcr_sched_name(o->schedule));
    }
    if (o->schedule == DCR_SCHED_COSINE) {
        if (!optim_in(o->min_lr, 0, INFINITY, 1))
            return dcr_fail(err, DCR_ERR_USAGE, "min_lr %g must be a finite number >= 0", o->min_lr);
    } else if (o->min_lr != 0) {
        return dcr_fail(err, DCR_ERR_USAGE, "min_lr applies to the schedule cosine, not %s",
                        dcr_sched_name(o->schedule));
    }
    if (o->warmup_steps < 0)
        return dcr_fail(err, DCR_ERR_USAGE, "warmup_steps %d must be >= 0", o->warmup_steps);
    return 0;
}

size_t dcr_optim_n_state(const dcr_optim *o, size_t n_params)
{
    if (o->type == DCR_OPT_SGD)
        return o->momentum > 0 ? n_params : 0;
    return n_params > SIZE_MAX / 2 ? SIZE_MAX : 2 * n_params;
}

/* The schedule is a function of the epoch (the rate stays the same within
 * an epoch, as when torch's epoch schedulers step once per epoch), and the
 * warm-up a factor on top of it, a function of the step:
 *   constant  lr_e = base
 *   step      lr_e = base gamma^floor(e / step_epochs)          (StepLR)
 *   cosine    lr_e = min + (base - min) (1 + cos(pi e / E)) / 2  (CosineAnnealingLR,
 *             T_max = E = total_epochs), and min for e >= E
 *   lr = lr_e min(1, t / warmup_steps)
 * with e = epoch0 the 0-based index of the epoch. */
double dcr_optim_lr(const dcr_optim *o, double base_lr, uint64_t epoch0, uint64_t total_epochs,
                    uint64_t t)
{
    double lr = base_lr;
    switch (o->schedule) {
    case DCR_SCHED_CONSTANT:
        break;
    case DCR_SCHED_STEP:
        if (o->step_epochs > 0)
            lr = base_lr * pow(o->gamma, (double)(epoch0 / (uint64_t)o->step_epochs));
        break;
    case DCR_SCHED_COSINE:
        if (epoch0 >= total_epochs)
            lr = o->min_lr;
        else
            lr = o->min_lr + (base_lr - o->min_lr) *
                                 (1 + cos(3.141592653589793 * (double)epoch0 / (double)total_epochs)) / 2;
        break;
    }
    if (o->warmup_steps > 0 && t < (uint64_t)o->warmup_steps)
        lr = lr * ((double)t / (double)o->warmup_steps);
    return lr;
}

double dcr_optim_clip(const dcr_optim *o, const void *grad_sum, size_t n, dcr_dtype t, int batch_n)
{
    if (!(o->clip_norm > 0) || batch_n < 1)
        return 1;
    double sum = 0;
    if (t == DCR_F32) {
        const float *g = grad_sum;
        for (size_t i = 0; i < n; i++)
            sum += (double)g[i] * (double)g[i];
    } else {
        const double *g = grad_sum;
        for (size_t i = 0; i < n; i++)
            sum += g[i] * g[i];
    }
    /* the norm of the mean gradient; torch: clip_coef = max_norm /
     * (total_norm + 1e-6), clamped to at most 1 */
    double norm = sqrt(sum) / (double)batch_n;
    double f = o->clip_norm / (norm + 1e-6);
    return f < 1 ? f : 1;
}
