/* train.c: the training driver and evaluation, over any dcr_engine. */
#define _POSIX_C_SOURCE 200809L

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dcr_internal.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double get(const void *buf, size_t i, dcr_dtype t)
{
    return t == DCR_F32 ? (double)((const float *)buf)[i] : ((const double *)buf)[i];
}

/* First maximum, so ties go to the lower class like numpy's argmax. */
static int argmax(const void *out, int n, dcr_dtype t)
{
    int best = 0;
    double bv = get(out, 0, t);
    for (int k = 1; k < n; k++) {
        double v = get(out, (size_t)k, t);
        if (v > bv) {
            bv = v;
            best = k;
        }
    }
    return best;
}

static int check_data(const dcr_arch *a, const dcr_dataset *d, const char *which,
                      dcr_error *err)
{
    int n_out = a->sizes[a->n_layers];
    if (d->n_in != a->sizes[0])
        return dcr_fail(err, DCR_ERR_USAGE, "the %s data has %d features; the network has %d inputs",
                        which, d->n_in, a->sizes[0]);
    if (d->n_out != n_out)
        return dcr_fail(err, DCR_ERR_USAGE,
                        "the %s data has %d targets per row; the network has %d outputs", which,
                        d->n_out, n_out);
    if (d->n_rows > 0 && (!d->x || !d->y))
        return dcr_fail(err, DCR_ERR_USAGE, "the %s data has no rows allocated", which);
    if (d->label)
        for (size_t i = 0; i < d->n_rows; i++)
            if (d->label[i] < 0 || d->label[i] >= n_out)
                return dcr_fail(err, DCR_ERR_USAGE,
                                "the %s data's row %zu has class %d; the network has %d outputs",
                                which, i + 1, d->label[i], n_out);
    return 0;
}

/* A dataset packed to the engine's dtype, once, so that epochs only copy. */
typedef struct {
    size_t n;
    void *X, *Y;
    const int *label;
} packed;

static int pack_data(packed *p, const dcr_dataset *d, dcr_dtype t, dcr_error *err)
{
    memset(p, 0, sizeof *p);
    size_t nx, ny;
    if (!dcr_mul_ok(&nx, d->n_rows, (size_t)d->n_in) ||
        !dcr_mul_ok(&ny, d->n_rows, (size_t)d->n_out))
        return dcr_fail(err, DCR_ERR_LIMIT, "dataset of %zu rows is too large", d->n_rows);
    p->X = dcr_pack(d->x, nx, t);
    p->Y = dcr_pack(d->y, ny, t);
    if (!p->X || !p->Y) {
        free(p->X);
        free(p->Y);
        p->X = p->Y = NULL;
        return dcr_fail(err, DCR_ERR_NOMEM, "out of memory for %zu rows", d->n_rows);
    }
    p->n = d->n_rows;
    p->label = d->label;
    return 0;
}

static void unpack(packed *p)
{
    free(p->X);
    free(p->Y);
    memset(p, 0, sizeof *p);
}

/* out holds n_out elements and grad n_params of the engine's dtype; grad is
 * scratch (loss_grad only adds into it). */
static void eval_packed(double *loss, double *acc, const dcr_engine *e, const void *params,
                        const packed *p, void *grad, void *out)
{
    const dcr_arch *a = e->arch;
    size_t es = dcr_dtype_size(a->dtype);
    size_t n_in = (size_t)a->sizes[0], n_out = (size_t)a->sizes[a->n_layers];
    double sum = 0;
    size_t correct = 0;
    for (size_t i = 0; i < p->n; i++) {
        const char *x = (const char *)p->X + i * n_in * es;
        const char *y = (const char *)p->Y + i * n_out * es;
        sum += e->loss_grad(e->self, grad, params, x, y);
        if (p->label) {
            e->forward(e->self, out, params, x);
            correct += argmax(out, (int)n_out, a->dtype) == p->label[i];
        }
    }
    *loss = sum / (double)p->n;
    *acc = p->label ? (double)correct / (double)p->n : -1;
}

static double accuracy(const dcr_engine *e, const void *params, const packed *p, void *out)
{
    const dcr_arch *a = e->arch;
    if (!p->label)
        return -1;
    size_t es = dcr_dtype_size(a->dtype), n_in = (size_t)a->sizes[0];
    size_t correct = 0;
    for (size_t i = 0; i < p->n; i++) {
        e->forward(e->self, out, params, (const char *)p->X + i * n_in * es);
        correct += argmax(out, a->sizes[a->n_layers], a->dtype) == p->label[i];
    }
    return (double)correct / (double)p->n;
}

static int check_engine(const dcr_engine *e, dcr_error *err)
{
    if (!e || !e->arch || !e->forward || !e->loss_grad || !e->batch_grad || !e->update ||
        !dcr_arch_valid(e->arch))
        return dcr_fail(err, DCR_ERR_USAGE, "the engine is not set up");
    return 0;
}

int dcr_evaluate(double *loss, double *acc, const dcr_engine *e, const void *params,
                 const dcr_dataset *d, dcr_error *err)
{
    if (!loss || !acc || !params || !d)
        return dcr_fail(err, DCR_ERR_USAGE, "dcr_evaluate: bad arguments");
    if (check_engine(e, err) || check_data(e->arch, d, "evaluation", err))
        return -1;
    if (d->n_rows == 0)
        return dcr_fail(err, DCR_ERR_DATA, "cannot evaluate on an empty dataset");
    const dcr_arch *a = e->arch;
    size_t es = dcr_dtype_size(a->dtype);
    packed p;
    if (pack_data(&p, d, a->dtype, err))
        return -1;
    size_t gbytes;
    /* calloc: loss_grad adds into it, and adding into garbage is no less
     * correct but trips memory checkers */
    void *grad = dcr_mul_ok(&gbytes, dcr_arch_n_params(a), es) ? calloc(1, gbytes) : NULL;
    void *out = malloc((size_t)a->sizes[a->n_layers] * es);
    if (!grad || !out) {
        free(grad);
        free(out);
        unpack(&p);
        return dcr_fail(err, DCR_ERR_NOMEM, "out of memory evaluating");
    }
    eval_packed(loss, acc, e, params, &p, grad, out);
    free(grad);
    free(out);
    unpack(&p);
    return 0;
}

static volatile sig_atomic_t train_stop_flag = 0;

void dcr_request_stop(void)
{
    train_stop_flag = 1;
}

void dcr_clear_stop(void)
{
    train_stop_flag = 0;
}

int dcr_stop_requested(void)
{
    return train_stop_flag != 0;
}

void dcr_train_state_init(dcr_train_state *st, uint64_t seed)
{
    st->epoch = 0;
    st->step = 0;
    st->opt_state = NULL;
    dcr_rng_seed(&st->rng, seed);
}

double dcr_sgd_step(const dcr_engine *e, void *params, void *grad, const void *X, const void *Y, int n,
                    double lr)
{
    double loss = e->batch_grad(e->self, grad, params, X, Y, n);
    dcr_step s = {lr, 1.0 / (double)n, 1};
    e->update(e->self, params, NULL, grad, &s);
    return loss;
}

/* The first non-finite element of v[off, off + n), as an index from off,
 * or n when all are finite. Compares the exponent bits (all ones: NaN or
 * infinite), which is cheap enough to run after every batch. */
static size_t first_nonfinite(const void *v, size_t off, size_t n, dcr_dtype t)
{
    if (t == DCR_F32) {
        const float *f = (const float *)v + off;
        for (size_t i = 0; i < n; i++) {
            uint32_t u;
            memcpy(&u, f + i, sizeof u);
            if ((u & 0x7f800000u) == 0x7f800000u)
                return i;
        }
    } else {
        const double *d = (const double *)v + off;
        for (size_t i = 0; i < n; i++) {
            uint64_t u;
            memcpy(&u, d + i, sizeof u);
            if ((u & UINT64_C(0x7ff0000000000000)) == UINT64_C(0x7ff0000000000000))
                return i;
        }
    }
    return n;
}

/* The first layer l (and k: 0 for W(l), 1 for b(l)) of a parameter-shaped
 * buffer with a NaN or infinite element, its value in *v; 0 when none. */
static int first_bad_layer(const dcr_arch *a, const void *buf, int *k_out, double *v)
{
    for (int l = 1; l <= a->n_layers; l++) {
        size_t nw = (size_t)a->sizes[l] * (size_t)a->sizes[l - 1], nb = (size_t)a->sizes[l];
        size_t off[2] = {dcr_arch_w_offset(a, l), dcr_arch_b_offset(a, l)}, n[2] = {nw, nb};
        for (int k = 0; k < 2; k++) {
            size_t i = first_nonfinite(buf, off[k], n[k], a->dtype);
            if (i == n[k])
                continue;
            *k_out = k;
            *v = get(buf, off[k] + i, a->dtype);
            return l;
        }
    }
    return 0;
}

/* Scans the gradient sum layer by layer, W(l) then b(l), and fails naming
 * the first layer with a NaN or infinite element. */
static int check_grad(const dcr_arch *a, const void *grad, uint64_t ep, size_t batch, dcr_error *err)
{
    int k;
    double v;
    int l = first_bad_layer(a, grad, &k, &v);
    if (!l)
        return 0;
    return dcr_fail(err, DCR_ERR_TRAIN,
                    "epoch %llu, batch %zu: the gradient of layer %d (%c%d) is %s; lower the "
                    "learning rate",
                    (unsigned long long)ep, batch, l, k ? 'b' : 'W', l, isnan(v) ? "NaN" : "infinite");
}

/* What early stopping keeps of the best epoch so far. */
typedef struct {
    uint64_t epoch; /* 0: none yet */
    double val_loss;
    int since;      /* epochs since it, without improvement */
    void *params;   /* [n_params] */
    void *opt;      /* [n_state]; NULL when 0 */
    dcr_train_state st;
} train_best;

int dcr_train(void *params, const dcr_engine *e, const dcr_dataset *train,
              const dcr_dataset *val, const dcr_dataset *test, const dcr_train_opts *o,
              dcr_train_state *state, const dcr_train_hooks *hooks, dcr_train_result *result,
              dcr_error *err)
{
    if (result)
        memset(result, 0, sizeof *result);
    if (!params || !train || !o)
        return dcr_fail(err, DCR_ERR_USAGE, "dcr_train: bad arguments");
    if (check_engine(e, err) || check_data(e->arch, train, "training", err))
        return -1;
    /* An empty test or validation part (fraction 0) just means none. */
    if (test && test->n_rows == 0)
        test = NULL;
    if (val && val->n_rows == 0)
        val = NULL;
    if ((test && check_data(e->arch, test, "test", err)) ||
        (val && check_data(e->arch, val, "validation", err)))
        return -1;
    if (train->n_rows == 0)
        return dcr_fail(err, DCR_ERR_DATA, "there are no training rows");
    if (!(o->lr > 0) || !isfinite(o->lr))
        return dcr_fail(err, DCR_ERR_SPEC, "learning rate %g must be a positive finite number",
                        o->lr);
    if (o->batch_size < 1)
        return dcr_fail(err, DCR_ERR_SPEC, "batch size %d must be at least 1", o->batch_size);
    if ((size_t)o->batch_size > train->n_rows)
        return dcr_fail(err, DCR_ERR_SPEC, "batch size %d is larger than the %zu training rows",
                        o->batch_size, train->n_rows);
    if (o->epochs < 1)
        return dcr_fail(err, DCR_ERR_SPEC, "epochs %d must be at least 1", o->epochs);
    if (o->patience < 0 || !(o->min_delta >= 0) || !isfinite(o->min_delta))
        return dcr_fail(err, DCR_ERR_SPEC,
                        "early stopping: patience %d must be at least 0 and min_delta %g a finite "
                        "number at least 0",
                        o->patience, o->min_delta);
    if (o->patience > 0 && !val)
        return dcr_fail(err, DCR_ERR_SPEC,
                        "early stopping needs a validation part (data.validation_fraction above 0)");
    if (o->trace_deltas && !e->loss_grad_trace)
        return dcr_fail(err, DCR_ERR_USAGE,
                        "tracing deltas needs an engine with loss_grad_trace; this one has none");

    const dcr_arch *a = e->arch;
    size_t es = dcr_dtype_size(a->dtype);
    size_t n = train->n_rows, n_in = (size_t)a->sizes[0], n_out = (size_t)a->sizes[a->n_layers];
    size_t bs = (size_t)o->batch_size;
    size_t row_x = n_in * es, row_y = n_out * es; /* fit: the packed data holds rows */
    dcr_epoch_fn on_epoch = hooks ? hooks->on_epoch : NULL;
    dcr_batch_fn on_batch = hooks ? hooks->on_batch : NULL;
    void *user = hooks ? hooks->user : NULL;

    packed tr = {0}, te = {0}, va = {0};
    train_best best;
    memset(&best, 0, sizeof best);
    size_t *idx = NULL, gbytes = 0, sbytes = 0;
    void *grad = NULL, *out = NULL, *Xb = NULL, *Yb = NULL, *own_state = NULL;
    int rc = -1;
    if (pack_data(&tr, train, a->dtype, err) || (test && pack_data(&te, test, a->dtype, err)) ||
        (val && pack_data(&va, val, a->dtype, err)))
        goto done;
    /* bs <= n rows, so bs * row bytes fit like the packed data does */
    idx = malloc(n * sizeof *idx);
    grad = dcr_mul_ok(&gbytes, dcr_arch_n_params(a), es) ? calloc(1, gbytes) : NULL;
    out = malloc(row_y);
    Xb = malloc(bs * row_x);
    Yb = malloc(bs * row_y);
    if (!idx || !grad || !out || !Xb || !Yb) {
        dcr_fail(err, DCR_ERR_NOMEM, "out of memory for training");
        goto done;
    }
    if (e->n_state && !dcr_mul_ok(&sbytes, e->n_state, es)) {
        dcr_fail(err, DCR_ERR_NOMEM, "out of memory for the optimizer's state");
        goto done;
    }

    dcr_train_state fresh, *st = state;
    if (!st) {
        dcr_train_state_init(&fresh, o->seed);
        st = &fresh;
        if (e->n_state) {
            st->opt_state = calloc(1, sbytes);
            own_state = st->opt_state;
            if (!own_state) {
                dcr_fail(err, DCR_ERR_NOMEM, "out of memory for the optimizer's state");
                goto done;
            }
        }
    } else if (e->n_state && !st->opt_state) {
        dcr_fail(err, DCR_ERR_USAGE, "dcr_train: the optimizer needs a state buffer");
        goto done;
    }
    if (o->patience > 0) {
        best.params = malloc(gbytes);
        best.opt = e->n_state ? malloc(sbytes) : NULL;
        if (!best.params || (e->n_state && !best.opt)) {
            dcr_fail(err, DCR_ERR_NOMEM, "out of memory for early stopping's copy of the parameters");
            goto done;
        }
    }
    int trace = o->trace_deltas != 0;
    /* batches of one sample with plain SGD, no clipping and no trace take
     * the engine's fused step when it has one */
    int fused_ok = e->sgd_step && !trace && o->opt.type == DCR_OPT_SGD && !(o->opt.momentum > 0) &&
                   !(o->opt.weight_decay > 0) && !(o->opt.clip_norm > 0);
    for (int run = 1; run <= o->epochs; run++) {
        uint64_t ep = st->epoch + 1;
        /* Reset before shuffling, so epoch k's order depends on the seed and
         * k alone: simpler for a standalone trainer to reproduce. */
        for (size_t i = 0; i < n; i++)
            idx[i] = i;
        dcr_rng rng0 = st->rng; /* an interruption mid-epoch goes back to it */
        if (o->shuffle)
            dcr_rng_shuffle(&st->rng, idx, n);
        double t0 = now(), sum = 0, lr = o->lr;
        double dsum[DCR_MAX_LAYERS + 1] = {0};
        size_t batch = 0;
        for (size_t s = 0; s < n; s += bs) {
            size_t m = n - s < bs ? n - s : bs;
            for (size_t i = 0; i < m; i++) {
                memcpy((char *)Xb + i * row_x, (const char *)tr.X + idx[s + i] * row_x, row_x);
                memcpy((char *)Yb + i * row_y, (const char *)tr.Y + idx[s + i] * row_y, row_y);
            }
            batch++;
            double loss;
            int fused = fused_ok && m == 1;
            if (fused) {
                /* one sample, plain SGD, no clipping, no trace: the engine's
                 * fused step (dcr_engine.sgd_step); there is no gradient, so
                 * the checks below look at the parameters */
                st->step++;
                lr = dcr_optim_lr(&o->opt, o->lr, ep - 1, ep - (uint64_t)run + (uint64_t)o->epochs, st->step);
                loss = e->sgd_step(e->self, params, Xb, Yb, lr);
            } else if (trace) {
                /* batch_grad's canonical arithmetic, one traced sample at a time */
                double ls = 0;
                memset(grad, 0, gbytes);
                for (size_t i = 0; i < m; i++)
                    ls += e->loss_grad_trace(e->self, grad, params, (const char *)Xb + i * row_x,
                                             (const char *)Yb + i * row_y, dsum);
                loss = ls / (double)m;
            } else {
                loss = e->batch_grad(e->self, grad, params, Xb, Yb, (int)m);
            }
            if (!isfinite(loss)) {
                /* spelled out: printf may write a NaN as "-nan" */
                dcr_fail(err, DCR_ERR_TRAIN,
                         "epoch %llu, batch %zu: loss is %s (NaN or infinite); lower the "
                         "learning rate",
                         (unsigned long long)ep, batch, isnan(loss) ? "nan" : loss > 0 ? "inf" : "-inf");
                /* name a layer: one whose parameters the last step made so,
                 * else the first whose gradient is */
                int k, pl;
                double v;
                int l = pl = first_bad_layer(a, params, &k, &v);
                if (!l)
                    l = first_bad_layer(a, grad, &k, &v);
                if (l && err) {
                    size_t len = strlen(err->msg);
                    snprintf(err->msg + len, sizeof err->msg - len, " (the %s of layer %d (%c%d) %s %s)",
                             pl ? "parameters" : "gradient", l, k ? 'b' : 'W', l, pl ? "are" : "is",
                             isnan(v) ? "NaN" : "infinite");
                }
                goto done;
            }
            if (fused) {
                int k;
                double v;
                int l = first_bad_layer(a, params, &k, &v);
                if (l) {
                    dcr_fail(err, DCR_ERR_TRAIN, "epoch %llu, batch %zu: the parameters of layer %d (%c%d) are %s; "
                             "lower the learning rate", (unsigned long long)ep, batch, l, k ? 'b' : 'W', l,
                             isnan(v) ? "NaN" : "infinite");
                    goto done;
                }
                sum += loss;
                if (on_batch)
                    on_batch(user, ep, s + m, n);
                goto batch_done;
            }
            if (check_grad(a, grad, ep, batch, err))
                goto done;
            /* the schedule over this run's epochs (those before it included),
             * the warm-up and clipping: runtime/optim.c */
            st->step++;
            dcr_step step = {dcr_optim_lr(&o->opt, o->lr, ep - 1, ep - (uint64_t)run + (uint64_t)o->epochs, st->step),
                             dcr_optim_clip(&o->opt, grad, dcr_arch_n_params(a), a->dtype, (int)m) / (double)m,
                             st->step};
            lr = step.lr;
            e->update(e->self, params, st->opt_state, grad, &step);
            sum += loss * (double)m;
            if (on_batch)
                on_batch(user, ep, s + m, n);
        batch_done:
            if (train_stop_flag && s + m < n) {
                st->rng = rng0;
                dcr_fail(err, DCR_ERR_INTERRUPTED,
                         "interrupted after epoch %llu, batch %zu of %zu (the epoch is unfinished: %llu "
                         "epoch%s done)",
                         (unsigned long long)ep, batch, (n + bs - 1) / bs, (unsigned long long)(ep - 1),
                         ep - 1 == 1 ? "" : "s");
                goto done;
            }
        }
        st->epoch = ep;
        dcr_epoch_stats stats = {0};
        stats.seconds = now() - t0;
        stats.epoch = ep;
        stats.lr = lr;
        stats.train_loss = sum / (double)n;
        stats.train_acc = accuracy(e, params, &tr, out);
        stats.val_acc = stats.test_acc = -1;
        if (val) {
            stats.has_val = 1;
            eval_packed(&stats.val_loss, &stats.val_acc, e, params, &va, grad, out);
        }
        if (test) {
            stats.has_test = 1;
            eval_packed(&stats.test_loss, &stats.test_acc, e, params, &te, grad, out);
        }
        if (trace) {
            stats.has_deltas = 1;
            for (int l = 1; l <= a->n_layers; l++)
                stats.delta_mean[l] = dsum[l] / ((double)n * (double)a->sizes[l]);
        }
        if (result) {
            result->epochs_run = run;
            result->last_epoch = ep;
        }
        if (o->patience > 0) {
            if (isfinite(stats.val_loss) && (!best.epoch || stats.val_loss < best.val_loss - o->min_delta)) {
                best.epoch = ep;
                best.val_loss = stats.val_loss;
                best.since = 0;
                memcpy(best.params, params, gbytes);
                if (e->n_state)
                    memcpy(best.opt, st->opt_state, sbytes);
                best.st = *st;
            } else {
                best.since++;
            }
        }
        if (on_epoch && on_epoch(user, &stats, st, err))
            goto done;
        if (train_stop_flag) {
            dcr_fail(err, DCR_ERR_INTERRUPTED, "interrupted after epoch %llu, batch %zu (the epoch's last)",
                     (unsigned long long)ep, batch);
            goto done;
        }
        if (o->patience > 0 && best.since >= o->patience) {
            if (result)
                result->stopped_early = run < o->epochs;
            break;
        }
    }
    if (best.epoch) {
        /* back to the best epoch: its parameters and where training stood */
        memcpy(params, best.params, gbytes);
        if (e->n_state)
            memcpy(st->opt_state, best.opt, sbytes);
        st->epoch = best.st.epoch;
        st->step = best.st.step;
        st->rng = best.st.rng;
        if (result) {
            result->best_epoch = best.epoch;
            result->best_val_loss = best.val_loss;
        }
    }
    rc = 0;
done:
    unpack(&tr);
    unpack(&te);
    unpack(&va);
    free(idx);
    free(grad);
    free(out);
    free(Xb);
    free(Yb);
    free(own_state);
    free(best.params);
    free(best.opt);
    return rc;
}
