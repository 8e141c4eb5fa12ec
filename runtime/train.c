/* train.c: the training driver and evaluation, over any dcr_engine. */
#define _POSIX_C_SOURCE 200809L

#include <math.h>
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

int dcr_train(void *params, const dcr_engine *e, const dcr_dataset *train,
              const dcr_dataset *test, const dcr_train_opts *o, dcr_train_state *state,
              dcr_epoch_fn on_epoch, void *user, dcr_error *err)
{
    if (!params || !train || !o)
        return dcr_fail(err, DCR_ERR_USAGE, "dcr_train: bad arguments");
    if (check_engine(e, err) || check_data(e->arch, train, "training", err))
        return -1;
    /* An empty test part (test fraction 0) just means no test. */
    if (test && test->n_rows == 0)
        test = NULL;
    if (test && check_data(e->arch, test, "test", err))
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

    const dcr_arch *a = e->arch;
    size_t es = dcr_dtype_size(a->dtype);
    size_t n = train->n_rows, n_in = (size_t)a->sizes[0], n_out = (size_t)a->sizes[a->n_layers];
    size_t bs = (size_t)o->batch_size;
    size_t row_x = n_in * es, row_y = n_out * es; /* fit: the packed data holds rows */

    packed tr = {0}, te = {0};
    size_t *idx = NULL, gbytes;
    void *grad = NULL, *out = NULL, *Xb = NULL, *Yb = NULL, *own_state = NULL;
    int rc = -1;
    if (pack_data(&tr, train, a->dtype, err) || (test && pack_data(&te, test, a->dtype, err)))
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

    dcr_train_state fresh, *st = state;
    if (!st) {
        dcr_train_state_init(&fresh, o->seed);
        st = &fresh;
        if (e->n_state) {
            size_t sbytes;
            st->opt_state = dcr_mul_ok(&sbytes, e->n_state, es) ? calloc(1, sbytes) : NULL;
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
    for (int run = 1; run <= o->epochs; run++) {
        uint64_t ep = st->epoch + 1;
        /* Reset before shuffling, so epoch k's order depends on the seed and
         * k alone: simpler for a standalone trainer to reproduce. */
        for (size_t i = 0; i < n; i++)
            idx[i] = i;
        if (o->shuffle)
            dcr_rng_shuffle(&st->rng, idx, n);
        double t0 = now(), sum = 0;
        size_t batch = 0;
        for (size_t s = 0; s < n; s += bs) {
            size_t m = n - s < bs ? n - s : bs;
            for (size_t i = 0; i < m; i++) {
                memcpy((char *)Xb + i * row_x, (const char *)tr.X + idx[s + i] * row_x, row_x);
                memcpy((char *)Yb + i * row_y, (const char *)tr.Y + idx[s + i] * row_y, row_y);
            }
            batch++;
            double loss = e->batch_grad(e->self, grad, params, Xb, Yb, (int)m);
            if (!isfinite(loss)) {
                /* spelled out: printf may write a NaN as "-nan" */
                dcr_fail(err, DCR_ERR_TRAIN,
                         "epoch %llu, batch %zu: loss is %s (NaN or infinite); lower the "
                         "learning rate",
                         (unsigned long long)ep, batch, isnan(loss) ? "nan" : loss > 0 ? "inf" : "-inf");
                goto done;
            }
            dcr_step step = {o->lr, 1.0 / (double)m, ++st->step};
            e->update(e->self, params, st->opt_state, grad, &step);
            sum += loss * (double)m;
        }
        st->epoch = ep;
        dcr_epoch_stats es = {0};
        es.seconds = now() - t0;
        es.epoch = ep;
        es.train_loss = sum / (double)n;
        es.train_acc = accuracy(e, params, &tr, out);
        if (test) {
            es.has_test = 1;
            eval_packed(&es.test_loss, &es.test_acc, e, params, &te, grad, out);
        } else {
            es.test_loss = 0;
            es.test_acc = -1;
        }
        if (on_epoch && on_epoch(user, &es, st, err))
            goto done;
    }
    rc = 0;
done:
    unpack(&tr);
    unpack(&te);
    free(idx);
    free(grad);
    free(out);
    free(Xb);
    free(Yb);
    free(own_state);
    return rc;
}
