/* test_runtime_train.c: dcr_train and dcr_evaluate over the reference
 * engine (validation, early stopping, hooks, delta traces and non-finite
 * gradients too), and the job's data splits. */
#define _POSIX_C_SOURCE 200809L /* mkstemp, fdopen */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dcr.h"

#define MAXP 512

/* Two Gaussian-ish blobs in 2-D, class 0 around (-1, -1) and class 1 around
 * (1, 1): separable, so a small network must learn it. */
static dcr_dataset blobs(size_t n, uint64_t seed, int values)
{
    dcr_dataset d = {0};
    d.n_rows = n;
    d.n_in = 2;
    d.n_out = values ? 1 : 2;
    d.x = malloc(n * 2 * sizeof(double));
    d.y = calloc(n * (size_t)d.n_out, sizeof(double));
    d.label = values ? NULL : malloc(n * sizeof(int));
    cr_assert(d.x && d.y && (values || d.label));
    dcr_rng r;
    dcr_rng_seed(&r, seed);
    for (size_t i = 0; i < n; i++) {
        int c = (int)(i % 2);
        double cx = c ? 1 : -1;
        d.x[2 * i] = cx + (dcr_rng_uniform(&r) - 0.5) * 0.8;
        d.x[2 * i + 1] = cx + (dcr_rng_uniform(&r) - 0.5) * 0.8;
        if (values) {
            d.y[i] = d.x[2 * i] + 2 * d.x[2 * i + 1];
        } else {
            d.y[2 * i + (size_t)c] = 1;
            d.label[i] = c;
        }
    }
    return d;
}

static dcr_arch net(dcr_dtype t, int values)
{
    dcr_arch a;
    memset(&a, 0, sizeof a);
    a.dtype = t;
    a.n_layers = 2;
    a.sizes[0] = 2;
    a.sizes[1] = 6;
    a.sizes[2] = values ? 1 : 2;
    a.act[1] = DCR_ACT_TANH;
    a.act[2] = values ? DCR_ACT_IDENTITY : DCR_ACT_SOFTMAX;
    a.loss = values ? DCR_LOSS_MSE : DCR_LOSS_CROSS_ENTROPY;
    return a;
}

typedef struct {
    int calls;
    dcr_epoch_stats s[64];
} log_t;

static int on_epoch(void *user, const dcr_epoch_stats *s, const dcr_train_state *st, dcr_error *err)
{
    (void)err;
    log_t *l = user;
    cr_assert_lt(l->calls, 64);
    cr_assert_eq(st->epoch, s->epoch);
    l->s[l->calls++] = *s;
    return 0;
}

#define HOOKS(l) (&(dcr_train_hooks){on_epoch, NULL, (l)})

/* plain SGD at a constant rate */
static dcr_train_opts opts(double lr, int batch_size, int epochs, int shuffle, uint64_t seed)
{
    dcr_train_opts o;
    memset(&o, 0, sizeof o);
    o.lr = lr;
    o.batch_size = batch_size;
    o.epochs = epochs;
    o.shuffle = shuffle;
    o.seed = seed;
    return o;
}

static void setup_net(dcr_engine *e, void *p, const dcr_arch *a, uint64_t seed)
{
    dcr_error err = {0};
    cr_assert_eq(dcr_ref_engine(e, a, &err), 0, "%s", err.msg);
    cr_assert_leq(dcr_arch_n_params(a), MAXP);
    dcr_init in = {DCR_INIT_XAVIER_UNIFORM, 0, seed};
    dcr_init_params(p, a, &in);
}

Test(train, learns_blobs_and_reports_epochs)
{
    dcr_dataset tr = blobs(120, 1, 0), te = blobs(40, 2, 0);
    dcr_arch a = net(DCR_F64, 0);
    dcr_engine e;
    double p[MAXP];
    setup_net(&e, p, &a, 3);
    dcr_train_opts o = opts(0.1, 8, 20, 1, 5);
    log_t l = {0};
    dcr_error err = {0};
    cr_assert_eq(dcr_train(p, &e, &tr, NULL, &te, &o, NULL, HOOKS(&l), NULL, &err), 0, "%s", err.msg);
    cr_assert_eq(l.calls, 20);
    for (int i = 0; i < 20; i++) {
        cr_assert_eq(l.s[i].epoch, i + 1);
        cr_assert(l.s[i].has_test);
        cr_assert_geq(l.s[i].seconds, 0);
        cr_assert(l.s[i].train_acc >= 0 && l.s[i].train_acc <= 1);
    }
    cr_assert_lt(l.s[19].train_loss, l.s[0].train_loss * 0.5, "%g -> %g", l.s[0].train_loss,
                 l.s[19].train_loss);
    cr_assert_geq(l.s[19].train_acc, 0.99);
    cr_assert_geq(l.s[19].test_acc, 0.95);

    /* the last epoch's test numbers are dcr_evaluate's */
    double loss, acc;
    cr_assert_eq(dcr_evaluate(&loss, &acc, &e, p, &te, &err), 0, "%s", err.msg);
    cr_assert_eq(loss, l.s[19].test_loss);
    cr_assert_eq(acc, l.s[19].test_acc);
    cr_assert_eq(dcr_evaluate(&loss, &acc, &e, p, &tr, &err), 0, "%s", err.msg);
    cr_assert_eq(acc, l.s[19].train_acc);
    dcr_ref_engine_free(&e);
    dcr_dataset_free(&tr);
    dcr_dataset_free(&te);
}

Test(train, values_have_no_accuracy)
{
    dcr_dataset tr = blobs(30, 1, 1);
    dcr_arch a = net(DCR_F32, 1);
    dcr_engine e;
    float p[MAXP];
    setup_net(&e, p, &a, 3);
    dcr_train_opts o = opts(0.05, 7, 30, 1, 5);
    log_t l = {0};
    dcr_error err = {0};
    cr_assert_eq(dcr_train(p, &e, &tr, NULL, NULL, &o, NULL, HOOKS(&l), NULL, &err), 0, "%s", err.msg);
    cr_assert_eq(l.calls, 30);
    cr_assert_eq(l.s[0].train_acc, -1);
    cr_assert_eq(l.s[0].has_test, 0);
    cr_assert_eq(l.s[0].test_acc, -1);
    cr_assert_lt(l.s[29].train_loss, l.s[0].train_loss * 0.2, "%g -> %g", l.s[0].train_loss,
                 l.s[29].train_loss);
    double loss, acc;
    cr_assert_eq(dcr_evaluate(&loss, &acc, &e, p, &tr, &err), 0, "%s", err.msg);
    cr_assert_eq(acc, -1);
    cr_assert(loss > 0 && loss < l.s[0].train_loss);
    dcr_ref_engine_free(&e);
    dcr_dataset_free(&tr);
}

Test(train, deterministic_and_shuffle_matters)
{
    dcr_dataset tr = blobs(50, 1, 0);
    dcr_arch a = net(DCR_F64, 0);
    dcr_engine e;
    double p1[MAXP], p2[MAXP], p3[MAXP];
    size_t n = dcr_arch_n_params(&a);
    setup_net(&e, p1, &a, 3);
    memcpy(p2, p1, n * sizeof *p1);
    memcpy(p3, p1, n * sizeof *p1);
    dcr_train_opts o = opts(0.1, 4, 3, 1, 9);
    cr_assert_eq(dcr_train(p1, &e, &tr, NULL, NULL, &o, NULL, NULL, NULL, NULL), 0);
    cr_assert_eq(dcr_train(p2, &e, &tr, NULL, NULL, &o, NULL, NULL, NULL, NULL), 0);
    cr_assert_arr_eq(p1, p2, n * sizeof *p1);
    o.shuffle = 0;
    cr_assert_eq(dcr_train(p3, &e, &tr, NULL, NULL, &o, NULL, NULL, NULL, NULL), 0);
    cr_assert(memcmp(p1, p3, n * sizeof *p1) != 0);
    dcr_ref_engine_free(&e);
    dcr_dataset_free(&tr);
}

/* What dcr_train does, written out for one epoch with a ragged last batch:
 * the seed's shuffle, gathered rows, one SGD step per batch. */
Test(train, follows_its_definition)
{
    enum { N = 10, BS = 4 };
    dcr_dataset tr = blobs(N, 1, 0);
    dcr_arch a = net(DCR_F64, 0);
    dcr_engine e;
    double p[MAXP], q[MAXP], g[MAXP];
    size_t n = dcr_arch_n_params(&a);
    setup_net(&e, p, &a, 3);
    memcpy(q, p, n * sizeof *p);
    dcr_train_opts o = opts(0.2, BS, 2, 1, 17);
    log_t l = {0};
    cr_assert_eq(dcr_train(p, &e, &tr, NULL, NULL, &o, NULL, HOOKS(&l), NULL, NULL), 0);

    dcr_rng r;
    dcr_rng_seed(&r, 17);
    for (int ep = 0; ep < 2; ep++) {
        size_t idx[N];
        for (size_t i = 0; i < N; i++)
            idx[i] = i;
        dcr_rng_shuffle(&r, idx, N);
        double sum = 0;
        for (size_t s = 0; s < N; s += BS) {
            size_t m = N - s < BS ? N - s : BS;
            double Xb[BS * 2], Yb[BS * 2];
            for (size_t i = 0; i < m; i++) {
                memcpy(Xb + 2 * i, tr.x + 2 * idx[s + i], 2 * sizeof(double));
                memcpy(Yb + 2 * i, tr.y + 2 * idx[s + i], 2 * sizeof(double));
            }
            sum += dcr_sgd_step(&e, q, g, Xb, Yb, (int)m, o.lr) * (double)m;
        }
        cr_assert_eq(l.s[ep].train_loss, sum / N, "epoch %d", ep + 1);
    }
    cr_assert_arr_eq(p, q, n * sizeof *p);
    dcr_ref_engine_free(&e);
    dcr_dataset_free(&tr);
}

Test(train, empty_test_set_means_no_test)
{
    dcr_dataset tr = blobs(10, 1, 0), te = {0};
    te.n_in = 2;
    te.n_out = 2;
    dcr_arch a = net(DCR_F64, 0);
    dcr_engine e;
    double p[MAXP];
    setup_net(&e, p, &a, 3);
    dcr_train_opts o = opts(0.1, 5, 1, 0, 1);
    log_t l = {0};
    cr_assert_eq(dcr_train(p, &e, &tr, NULL, &te, &o, NULL, HOOKS(&l), NULL, NULL), 0);
    cr_assert_eq(l.calls, 1);
    cr_assert_eq(l.s[0].has_test, 0);
    dcr_ref_engine_free(&e);
    dcr_dataset_free(&tr);
}

Test(train, diverges_with_a_clear_error)
{
    dcr_dataset tr = blobs(20, 1, 1);
    for (size_t i = 0; i < tr.n_rows; i++)
        tr.y[i] *= 1e100;
    dcr_arch a = net(DCR_F64, 1);
    a.act[1] = DCR_ACT_IDENTITY;
    dcr_engine e;
    double p[MAXP];
    setup_net(&e, p, &a, 3);
    dcr_train_opts o = opts(10, 20, 50, 0, 1);
    log_t l = {0};
    dcr_error err = {0};
    cr_assert_eq(dcr_train(p, &e, &tr, NULL, NULL, &o, NULL, HOOKS(&l), NULL, &err), -1);
    cr_assert_eq(err.status, DCR_ERR_TRAIN);
    char want[DCR_MSG_MAX];
    snprintf(want, sizeof want,
             "epoch %d, batch 1: loss is inf (NaN or infinite); lower the learning rate",
             l.calls + 1);
    if (strstr(err.msg, "loss is nan"))
        snprintf(want, sizeof want,
                 "epoch %d, batch 1: loss is nan (NaN or infinite); lower the learning rate",
                 l.calls + 1);
    cr_assert_str_eq(err.msg, want);
    dcr_ref_engine_free(&e);
    dcr_dataset_free(&tr);
}

static void opts_fail(dcr_train_opts o, const char *msg)
{
    dcr_dataset tr = blobs(120, 1, 0);
    dcr_arch a = net(DCR_F64, 0);
    dcr_engine e;
    double p[MAXP];
    setup_net(&e, p, &a, 3);
    dcr_error err = {0};
    log_t l = {0};
    cr_assert_eq(dcr_train(p, &e, &tr, NULL, NULL, &o, NULL, HOOKS(&l), NULL, &err), -1, "%s", msg);
    cr_assert_str_eq(err.msg, msg);
    cr_assert_eq(err.status, DCR_ERR_SPEC);
    cr_assert_eq(l.calls, 0);
    dcr_ref_engine_free(&e);
    dcr_dataset_free(&tr);
}

Test(train, option_errors)
{
    opts_fail(opts(0, 10, 1, 1, 1),
              "learning rate 0 must be a positive finite number");
    opts_fail(opts(-1, 10, 1, 1, 1),
              "learning rate -1 must be a positive finite number");
    opts_fail(opts(NAN, 10, 1, 1, 1),
              "learning rate nan must be a positive finite number");
    opts_fail(opts(INFINITY, 10, 1, 1, 1),
              "learning rate inf must be a positive finite number");
    opts_fail(opts(0.1, 0, 1, 1, 1), "batch size 0 must be at least 1");
    opts_fail(opts(0.1, 200, 1, 1, 1),
              "batch size 200 is larger than the 120 training rows");
    opts_fail(opts(0.1, 10, 0, 1, 1), "epochs 0 must be at least 1");
}

Test(train, data_must_fit_the_network)
{
    dcr_dataset tr = blobs(10, 1, 0);
    dcr_arch a = net(DCR_F64, 0);
    a.sizes[0] = 3;
    dcr_engine e;
    double p[MAXP];
    setup_net(&e, p, &a, 3);
    dcr_train_opts o = opts(0.1, 5, 1, 0, 1);
    dcr_error err = {0};
    cr_assert_eq(dcr_train(p, &e, &tr, NULL, NULL, &o, NULL, NULL, NULL, &err), -1);
    cr_assert_str_eq(err.msg, "the training data has 2 features; the network has 3 inputs");
    double loss, acc;
    cr_assert_eq(dcr_evaluate(&loss, &acc, &e, p, &tr, &err), -1);
    cr_assert_str_eq(err.msg, "the evaluation data has 2 features; the network has 3 inputs");
    dcr_ref_engine_free(&e);
    dcr_dataset_free(&tr);
}

Test(evaluate, mean_loss_and_accuracy)
{
    dcr_dataset d = blobs(9, 4, 0);
    dcr_arch a = net(DCR_F64, 0);
    dcr_engine e;
    double p[MAXP], g[MAXP], out[2];
    setup_net(&e, p, &a, 3);
    double sum = 0;
    int correct = 0;
    for (size_t i = 0; i < d.n_rows; i++) {
        sum += e.loss_grad(e.self, g, p, d.x + 2 * i, d.y + 2 * i);
        e.forward(e.self, out, p, d.x + 2 * i);
        correct += (out[1] > out[0]) == (d.label[i] == 1);
    }
    double loss, acc;
    dcr_error err = {0};
    cr_assert_eq(dcr_evaluate(&loss, &acc, &e, p, &d, &err), 0, "%s", err.msg);
    cr_assert_eq(loss, sum / 9);
    cr_assert_eq(acc, correct / 9.0);
    dcr_dataset empty = {0};
    empty.n_in = 2;
    empty.n_out = 2;
    cr_assert_eq(dcr_evaluate(&loss, &acc, &e, p, &empty, &err), -1);
    cr_assert_str_eq(err.msg, "cannot evaluate on an empty dataset");
    dcr_ref_engine_free(&e);
    dcr_dataset_free(&d);
}

/* ---- validation, early stopping, hooks, traces, non-finite gradients ---------- */

/* blobs with the classes swapped: what the blobs teach is wrong here, so its
 * loss rises while the training loss falls */
static dcr_dataset swapped(size_t n, uint64_t seed)
{
    dcr_dataset d = blobs(n, seed, 0);
    for (size_t i = 0; i < n; i++) {
        d.label[i] = 1 - d.label[i];
        d.y[2 * i] = 1 - d.y[2 * i];
        d.y[2 * i + 1] = 1 - d.y[2 * i + 1];
    }
    return d;
}

Test(train, validation_is_evaluated_every_epoch)
{
    dcr_dataset tr = blobs(60, 1, 0), va = blobs(20, 7, 0), te = blobs(20, 2, 0);
    dcr_arch a = net(DCR_F64, 0);
    dcr_engine e;
    double p[MAXP], q[MAXP];
    size_t n = dcr_arch_n_params(&a);
    setup_net(&e, p, &a, 3);
    memcpy(q, p, n * sizeof *p);
    dcr_train_opts o = opts(0.1, 8, 5, 1, 5);
    log_t l = {0};
    dcr_error err = {0};
    cr_assert_eq(dcr_train(p, &e, &tr, &va, &te, &o, NULL, HOOKS(&l), NULL, &err), 0, "%s", err.msg);
    cr_assert_eq(l.calls, 5);
    for (int i = 0; i < 5; i++) {
        cr_assert(l.s[i].has_val && l.s[i].has_test);
        cr_assert(l.s[i].val_acc >= 0 && l.s[i].val_acc <= 1);
        cr_assert_eq(l.s[i].lr, 0.1);
        cr_assert_eq(l.s[i].has_deltas, 0);
    }
    double loss, acc;
    cr_assert_eq(dcr_evaluate(&loss, &acc, &e, p, &va, &err), 0, "%s", err.msg);
    cr_assert_eq(loss, l.s[4].val_loss);
    cr_assert_eq(acc, l.s[4].val_acc);
    /* the validation part changes nothing in training */
    log_t l2 = {0};
    cr_assert_eq(dcr_train(q, &e, &tr, NULL, &te, &o, NULL, HOOKS(&l2), NULL, &err), 0, "%s", err.msg);
    cr_assert_arr_eq(p, q, n * sizeof *p);
    cr_assert_eq(l2.s[4].has_val, 0);
    cr_assert_eq(l2.s[4].val_acc, -1);
    cr_assert_eq(l2.s[4].test_loss, l.s[4].test_loss);
    /* an empty validation part is none */
    dcr_dataset empty = {0};
    empty.n_in = 2;
    empty.n_out = 2;
    log_t l3 = {0};
    cr_assert_eq(dcr_train(q, &e, &tr, &empty, NULL, &o, NULL, HOOKS(&l3), NULL, &err), 0, "%s", err.msg);
    cr_assert_eq(l3.s[0].has_val, 0);
    dcr_ref_engine_free(&e);
    dcr_dataset_free(&tr);
    dcr_dataset_free(&va);
    dcr_dataset_free(&te);
}

/* A validation set that only gets worse: epoch 1 stays the best, training
 * stops after patience more epochs, and what comes back is epoch 1's
 * parameters and state, exactly as after a one-epoch run. */
Test(train, early_stopping_stops_after_patience_and_keeps_the_best)
{
    dcr_dataset tr = blobs(60, 1, 0), va = swapped(20, 7);
    dcr_arch a = net(DCR_F64, 0);
    dcr_engine e;
    double p[MAXP], q[MAXP];
    size_t n = dcr_arch_n_params(&a);
    setup_net(&e, p, &a, 3);
    memcpy(q, p, n * sizeof *p);
    dcr_train_opts o = opts(0.1, 8, 50, 1, 5);
    o.patience = 3;
    log_t l = {0};
    dcr_error err = {0};
    dcr_train_state st;
    dcr_train_state_init(&st, 5);
    dcr_train_result res;
    cr_assert_eq(dcr_train(p, &e, &tr, &va, NULL, &o, &st, HOOKS(&l), &res, &err), 0, "%s", err.msg);
    for (int i = 1; i < l.calls; i++)
        cr_assert_gt(l.s[i].val_loss, l.s[0].val_loss, "epoch %d", i + 1);
    cr_assert_eq(l.calls, 4, "1 + patience epochs");
    cr_assert_eq(res.epochs_run, 4);
    cr_assert_eq(res.last_epoch, 4);
    cr_assert_eq(res.stopped_early, 1);
    cr_assert_eq(res.best_epoch, 1);
    cr_assert_eq(res.best_val_loss, l.s[0].val_loss);

    dcr_train_state st1;
    dcr_train_state_init(&st1, 5);
    dcr_train_opts o1 = opts(0.1, 8, 1, 1, 5);
    cr_assert_eq(dcr_train(q, &e, &tr, NULL, NULL, &o1, &st1, NULL, NULL, &err), 0, "%s", err.msg);
    cr_assert_arr_eq(p, q, n * sizeof *p);
    cr_assert_eq(st.epoch, 1);
    cr_assert_eq(st.step, st1.step);
    cr_assert_eq(st.step, 8, "60 rows in batches of 8");
    cr_assert_arr_eq(st.rng.s, st1.rng.s, sizeof st.rng.s);
    double loss, acc;
    cr_assert_eq(dcr_evaluate(&loss, &acc, &e, p, &va, &err), 0, "%s", err.msg);
    cr_assert_eq(loss, l.s[0].val_loss);
    dcr_ref_engine_free(&e);
    dcr_dataset_free(&tr);
    dcr_dataset_free(&va);
}

/* On a validation set that improves, with patience to spare: all epochs
 * run, and the best one (the first lowest validation loss) comes back. */
Test(train, early_stopping_restores_the_best_at_the_end)
{
    dcr_dataset tr = blobs(60, 1, 0), va = blobs(20, 7, 0);
    dcr_arch a = net(DCR_F64, 0);
    dcr_engine e;
    double p[MAXP];
    setup_net(&e, p, &a, 3);
    dcr_train_opts o = opts(0.5, 8, 30, 1, 5);
    o.patience = 30;
    log_t l = {0};
    dcr_error err = {0};
    dcr_train_result res;
    cr_assert_eq(dcr_train(p, &e, &tr, &va, NULL, &o, NULL, HOOKS(&l), &res, &err), 0, "%s", err.msg);
    cr_assert_eq(l.calls, 30);
    cr_assert_eq(res.stopped_early, 0);
    int best = 0;
    for (int i = 1; i < 30; i++)
        if (l.s[i].val_loss < l.s[best].val_loss)
            best = i;
    cr_assert_eq(res.best_epoch, (uint64_t)best + 1);
    double loss, acc;
    cr_assert_eq(dcr_evaluate(&loss, &acc, &e, p, &va, &err), 0, "%s", err.msg);
    cr_assert_eq(loss, l.s[best].val_loss);

    /* an improvement must beat min_delta: with a huge one none does */
    dcr_ref_engine_free(&e);
    setup_net(&e, p, &a, 3);
    o.patience = 2;
    o.min_delta = 1e6;
    log_t l2 = {0};
    cr_assert_eq(dcr_train(p, &e, &tr, &va, NULL, &o, NULL, HOOKS(&l2), &res, &err), 0, "%s", err.msg);
    cr_assert_eq(l2.calls, 3);
    cr_assert_eq(res.best_epoch, 1);
    cr_assert_eq(res.stopped_early, 1);
    dcr_ref_engine_free(&e);
    dcr_dataset_free(&tr);
    dcr_dataset_free(&va);
}

Test(train, early_stopping_needs_a_validation_part)
{
    dcr_dataset tr = blobs(20, 1, 0);
    dcr_arch a = net(DCR_F64, 0);
    dcr_engine e;
    double p[MAXP];
    setup_net(&e, p, &a, 3);
    dcr_train_opts o = opts(0.1, 5, 3, 1, 1);
    o.patience = 2;
    dcr_error err = {0};
    cr_assert_eq(dcr_train(p, &e, &tr, NULL, NULL, &o, NULL, NULL, NULL, &err), -1);
    cr_assert_str_eq(err.msg, "early stopping needs a validation part (data.validation_fraction above 0)");
    cr_assert_eq(err.status, DCR_ERR_SPEC);
    o.patience = 0;
    o.min_delta = -1;
    cr_assert_eq(dcr_train(p, &e, &tr, NULL, NULL, &o, NULL, NULL, NULL, &err), -1);
    cr_assert(strstr(err.msg, "min_delta -1") != NULL, "%s", err.msg);
    dcr_ref_engine_free(&e);
    dcr_dataset_free(&tr);
}

typedef struct {
    int calls;
    uint64_t epoch[64];
    size_t done[64], total[64];
} batches_t;

static void on_batch(void *user, uint64_t epoch, size_t done, size_t total)
{
    batches_t *b = ((void **)user)[1];
    cr_assert_lt(b->calls, 64);
    b->epoch[b->calls] = epoch;
    b->done[b->calls] = done;
    b->total[b->calls] = total;
    b->calls++;
}

static int on_epoch_pair(void *user, const dcr_epoch_stats *s, const dcr_train_state *st, dcr_error *err)
{
    return on_epoch(((void **)user)[0], s, st, err);
}

Test(train, batch_hook_reports_samples_done)
{
    dcr_dataset tr = blobs(10, 1, 0);
    dcr_arch a = net(DCR_F64, 0);
    dcr_engine e;
    double p[MAXP];
    setup_net(&e, p, &a, 3);
    dcr_train_opts o = opts(0.1, 4, 2, 1, 1);
    log_t l = {0};
    batches_t b = {0};
    void *both[2] = {&l, &b};
    dcr_train_hooks h = {on_epoch_pair, on_batch, both};
    dcr_error err = {0};
    cr_assert_eq(dcr_train(p, &e, &tr, NULL, NULL, &o, NULL, &h, NULL, &err), 0, "%s", err.msg);
    cr_assert_eq(l.calls, 2);
    cr_assert_eq(b.calls, 6, "3 batches (4 + 4 + 2) in each of 2 epochs");
    static const size_t want[6] = {4, 8, 10, 4, 8, 10};
    for (int i = 0; i < 6; i++) {
        cr_assert_eq(b.epoch[i], (uint64_t)(i / 3 + 1));
        cr_assert_eq(b.done[i], want[i]);
        cr_assert_eq(b.total[i], 10);
    }
    /* only a batch hook */
    dcr_train_hooks h2 = {NULL, on_batch, both};
    b.calls = 0;
    cr_assert_eq(dcr_train(p, &e, &tr, NULL, NULL, &o, NULL, &h2, NULL, &err), 0, "%s", err.msg);
    cr_assert_eq(b.calls, 6);
    dcr_ref_engine_free(&e);
    dcr_dataset_free(&tr);
}

/* An engine around the reference one (float64) that can spoil a gradient
 * and whose trace adds l into delta_abs[l] for every sample. */
typedef struct {
    dcr_engine in;
    int bad_call;      /* batch_grad call (1-based) to spoil; 0: none */
    size_t bad_index;
    double bad_value;
    int calls;
} wrap_t;

static void w_forward(void *self, void *out, const void *p, const void *x)
{
    wrap_t *w = self;
    w->in.forward(w->in.self, out, p, x);
}
static double w_loss_grad(void *self, void *g, const void *p, const void *x, const void *y)
{
    wrap_t *w = self;
    return w->in.loss_grad(w->in.self, g, p, x, y);
}
static double w_batch_grad(void *self, void *g, const void *p, const void *X, const void *Y, int n)
{
    wrap_t *w = self;
    double loss = w->in.batch_grad(w->in.self, g, p, X, Y, n);
    if (++w->calls == w->bad_call)
        ((double *)g)[w->bad_index] = w->bad_value;
    return loss;
}
static void w_update(void *self, void *p, void *st, const void *g, const dcr_step *s)
{
    wrap_t *w = self;
    w->in.update(w->in.self, p, st, g, s);
}
static double w_trace(void *self, void *g, const void *p, const void *x, const void *y, double *d)
{
    wrap_t *w = self;
    for (int l = 1; l <= w->in.arch->n_layers; l++)
        d[l] += l;
    return w->in.loss_grad(w->in.self, g, p, x, y);
}

static dcr_engine wrapped(wrap_t *w, const dcr_arch *a)
{
    memset(w, 0, sizeof *w);
    dcr_error err = {0};
    cr_assert_eq(dcr_ref_engine(&w->in, a, &err), 0, "%s", err.msg);
    dcr_engine e = w->in;
    e.self = w;
    e.forward = w_forward;
    e.loss_grad = w_loss_grad;
    e.batch_grad = w_batch_grad;
    e.update = w_update;
    e.loss_grad_trace = w_trace;
    return e;
}

static void spoil(int call, size_t index, double value, const char *want)
{
    dcr_dataset tr = blobs(20, 1, 0);
    dcr_arch a = net(DCR_F64, 0);
    wrap_t w;
    dcr_engine e = wrapped(&w, &a);
    w.bad_call = call;
    w.bad_index = index;
    w.bad_value = value;
    double p[MAXP];
    dcr_init in = {DCR_INIT_XAVIER_UNIFORM, 0, 3};
    dcr_init_params(p, &a, &in);
    dcr_train_opts o = opts(0.1, 4, 3, 1, 1);
    log_t l = {0};
    dcr_error err = {0};
    cr_assert_eq(dcr_train(p, &e, &tr, NULL, NULL, &o, NULL, HOOKS(&l), NULL, &err), -1, "%s", want);
    cr_assert_str_eq(err.msg, want);
    cr_assert_eq(err.status, DCR_ERR_TRAIN);
    cr_assert_eq(l.calls, (call - 1) / 5, "epochs reported before the failure");
    dcr_ref_engine_free(&w.in);
    dcr_dataset_free(&tr);
}

Test(train, a_nonfinite_gradient_names_epoch_batch_and_layer)
{
    dcr_arch a = net(DCR_F64, 0); /* 2 -> 6 -> 2: W1 @0, b1 @12, W2 @18, b2 @30 */
    cr_assert_eq(dcr_arch_b_offset(&a, 2), 30);
    spoil(1, 0, NAN, "epoch 1, batch 1: the gradient of layer 1 (W1) is NaN; lower the learning rate");
    spoil(2, 13, INFINITY, "epoch 1, batch 2: the gradient of layer 1 (b1) is infinite; lower the learning rate");
    spoil(8, 29, -INFINITY, "epoch 2, batch 3: the gradient of layer 2 (W2) is infinite; lower the learning rate");
    spoil(15, 31, NAN, "epoch 3, batch 5: the gradient of layer 2 (b2) is NaN; lower the learning rate");
}

/* A real overflow in float64: the loss is finite (0.5e308) but dE/dW2 =
 * delta * a1 = 1e154 * 1e160 is not. */
Test(train, an_overflowing_gradient_names_its_layer)
{
    dcr_arch a;
    memset(&a, 0, sizeof a);
    a.dtype = DCR_F64;
    a.n_layers = 2;
    a.sizes[0] = a.sizes[1] = a.sizes[2] = 1;
    a.act[1] = a.act[2] = DCR_ACT_IDENTITY;
    a.loss = DCR_LOSS_MSE;
    dcr_engine e;
    dcr_error err = {0};
    cr_assert_eq(dcr_ref_engine(&e, &a, &err), 0, "%s", err.msg);
    double p[4] = {1, 0, 1e-6, 0}; /* W1 b1 W2 b2 */
    double x = 1e160, y = 0;
    dcr_dataset d = {1, 1, 1, &x, &y, NULL};
    dcr_train_opts o = opts(1e300, 1, 1, 0, 1);
    cr_assert_eq(dcr_train(p, &e, &d, NULL, NULL, &o, NULL, NULL, NULL, &err), -1);
    cr_assert_str_eq(err.msg,
                     "epoch 1, batch 1: the gradient of layer 2 (W2) is infinite; lower the learning rate");
    /* nothing was updated */
    cr_assert_eq(p[0], 1);
    cr_assert_eq(p[2], 1e-6);
    dcr_ref_engine_free(&e);
}

Test(train, trace_deltas_accumulate_per_epoch)
{
    dcr_dataset tr = blobs(10, 1, 0);
    dcr_arch a = net(DCR_F64, 0);
    wrap_t w;
    dcr_engine e = wrapped(&w, &a);
    double p[MAXP], q[MAXP];
    size_t n = dcr_arch_n_params(&a);
    dcr_init in = {DCR_INIT_XAVIER_UNIFORM, 0, 3};
    dcr_init_params(p, &a, &in);
    memcpy(q, p, n * sizeof *p);
    dcr_train_opts o = opts(0.1, 4, 2, 1, 1);
    o.trace_deltas = 1;
    log_t l = {0}, l2 = {0};
    dcr_error err = {0};
    cr_assert_eq(dcr_train(p, &e, &tr, NULL, NULL, &o, NULL, HOOKS(&l), NULL, &err), 0, "%s", err.msg);
    cr_assert_eq(w.calls, 0, "traced batches do not call batch_grad");
    for (int ep = 0; ep < 2; ep++) {
        cr_assert(l.s[ep].has_deltas);
        /* l added per sample, over 10 samples and sizes[l] units */
        cr_assert_eq(l.s[ep].delta_mean[1], 10.0 * 1 / (10.0 * 6));
        cr_assert_eq(l.s[ep].delta_mean[2], 10.0 * 2 / (10.0 * 2));
    }
    /* the same arithmetic as batch_grad: the same parameters and losses */
    o.trace_deltas = 0;
    cr_assert_eq(dcr_train(q, &e, &tr, NULL, NULL, &o, NULL, HOOKS(&l2), NULL, &err), 0, "%s", err.msg);
    cr_assert_arr_eq(p, q, n * sizeof *p);
    cr_assert_eq(l.s[1].train_loss, l2.s[1].train_loss);
    cr_assert_eq(l2.s[1].has_deltas, 0);
    /* an engine that cannot trace */
    e.loss_grad_trace = NULL;
    o.trace_deltas = 1;
    cr_assert_eq(dcr_train(q, &e, &tr, NULL, NULL, &o, NULL, NULL, NULL, &err), -1);
    cr_assert_str_eq(err.msg, "tracing deltas needs an engine with loss_grad_trace; this one has none");
    dcr_ref_engine_free(&w.in);
    dcr_dataset_free(&tr);
}

/* With the reference engine's own trace (float32 and float64): training is
 * unchanged, and the means are positive and finite. */
Test(train, trace_deltas_with_the_reference_engine)
{
    for (int t = 0; t < 2; t++) {
        dcr_dataset tr = blobs(30, 1, 0);
        dcr_arch a = net(t ? DCR_F64 : DCR_F32, 0);
        dcr_engine e;
        double p[MAXP], q[MAXP];
        setup_net(&e, p, &a, 3);
        cr_assert(e.loss_grad_trace != NULL);
        size_t bytes = dcr_arch_n_params(&a) * dcr_dtype_size(a.dtype);
        memcpy(q, p, bytes);
        dcr_train_opts o = opts(0.1, 4, 3, 1, 1);
        o.trace_deltas = 1;
        log_t l = {0}, l2 = {0};
        dcr_error err = {0};
        cr_assert_eq(dcr_train(p, &e, &tr, NULL, NULL, &o, NULL, HOOKS(&l), NULL, &err), 0, "%s", err.msg);
        o.trace_deltas = 0;
        cr_assert_eq(dcr_train(q, &e, &tr, NULL, NULL, &o, NULL, HOOKS(&l2), NULL, &err), 0, "%s", err.msg);
        cr_assert_arr_eq(p, q, bytes);
        for (int ep = 0; ep < 3; ep++) {
            cr_assert_eq(l.s[ep].train_loss, l2.s[ep].train_loss);
            for (int k = 1; k <= 2; k++)
                cr_assert(l.s[ep].delta_mean[k] > 0 && isfinite(l.s[ep].delta_mean[k]), "epoch %d layer %d: %g",
                          ep + 1, k, l.s[ep].delta_mean[k]);
        }
        dcr_ref_engine_free(&e);
        dcr_dataset_free(&tr);
    }
}

/* The job's data: the test split, then the validation split of the rest,
 * standardized with the statistics of the rows left to train on. */
Test(job, validation_split_and_standardization)
{
    char path[] = "/tmp/dcr_job_val_XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    FILE *f = fdopen(fd, "w");
    cr_assert(f);
    fprintf(f, "a,b,y\n");
    for (int i = 0; i < 50; i++)
        fprintf(f, "%d,%g,%d\n", i, 100 + 3.5 * i * i, i % 2);
    fclose(f);
    dcr_job job;
    memset(&job, 0, sizeof job);
    job.arch = net(DCR_F64, 0);
    job.train = opts(0.1, 1, 1, 1, 3);
    job.format = DCR_FORMAT_CSV;
    job.csv = (dcr_csv_opts){1, -1, DCR_TARGET_CLASS};
    job.test_fraction = 0.2;
    job.validation_fraction = 0.25;
    dcr_job_io io;
    memset(&io, 0, sizeof io);
    io.train = path;
    dcr_dataset tr, va, te, str, sva, ste;
    dcr_error err = {0};
    cr_assert_eq(dcr_job_load_data(&tr, &va, &te, &job, &io, &err), 0, "%s", err.msg);
    cr_assert_eq(te.n_rows, 10);
    cr_assert_eq(va.n_rows, 10, "a quarter of the 40 left");
    cr_assert_eq(tr.n_rows, 30);
    /* every row in exactly one part (column a is the row's number) */
    int seen[50] = {0};
    const dcr_dataset *parts[3] = {&tr, &va, &te};
    for (int k = 0; k < 3; k++)
        for (size_t i = 0; i < parts[k]->n_rows; i++)
            seen[(int)parts[k]->x[2 * i]]++;
    for (int i = 0; i < 50; i++)
        cr_assert_eq(seen[i], 1, "row %d", i);
    /* the test part is the one without a validation split */
    job.validation_fraction = 0;
    dcr_dataset tr0, va0, te0;
    cr_assert_eq(dcr_job_load_data(&tr0, &va0, &te0, &job, &io, &err), 0, "%s", err.msg);
    cr_assert_eq(va0.n_rows, 0);
    cr_assert_arr_eq(te0.x, te.x, 20 * sizeof(double));
    dcr_dataset_free(&tr0);
    dcr_dataset_free(&va0);
    dcr_dataset_free(&te0);

    job.validation_fraction = 0.25;
    job.standardize = 1;
    cr_assert_eq(dcr_job_load_data(&str, &sva, &ste, &job, &io, &err), 0, "%s", err.msg);
    for (int j = 0; j < 2; j++) {
        double mean = 0, ss = 0;
        for (size_t i = 0; i < 30; i++)
            mean += tr.x[2 * i + (size_t)j];
        mean /= 30;
        for (size_t i = 0; i < 30; i++)
            ss += (tr.x[2 * i + (size_t)j] - mean) * (tr.x[2 * i + (size_t)j] - mean);
        double sd = sqrt(ss / 30);
        for (size_t i = 0; i < 10; i++) {
            cr_assert_float_eq(sva.x[2 * i + (size_t)j], (va.x[2 * i + (size_t)j] - mean) / sd, 1e-12);
            cr_assert_float_eq(ste.x[2 * i + (size_t)j], (te.x[2 * i + (size_t)j] - mean) / sd, 1e-12);
        }
        for (size_t i = 0; i < 30; i++)
            cr_assert_float_eq(str.x[2 * i + (size_t)j], (tr.x[2 * i + (size_t)j] - mean) / sd, 1e-12);
    }
    dcr_dataset_free(&str);
    dcr_dataset_free(&sva);
    dcr_dataset_free(&ste);

    /* too large a fraction, and one out of range */
    job.validation_fraction = 0.99;
    cr_assert_eq(dcr_job_load_data(&str, &sva, &ste, &job, &io, &err), -1);
    cr_assert_str_eq(err.msg, "validation fraction 0.99 of 40 training rows leaves no rows to train on");
    job.validation_fraction = 1;
    cr_assert_eq(dcr_job_load_data(&str, &sva, &ste, &job, &io, &err), -1);
    cr_assert_str_eq(err.msg, "validation fraction 1 must be at least 0 and below 1");
    remove(path);
    dcr_dataset_free(&tr);
    dcr_dataset_free(&va);
    dcr_dataset_free(&te);
}

/* ---- stopping on request (Ctrl-C: the program's handler calls dcr_request_stop) ---- */
static int stop_at_epoch(void *user, const dcr_epoch_stats *s, const dcr_train_state *st, dcr_error *err)
{
    (void)st;
    (void)err;
    if (s->epoch == *(uint64_t *)user)
        dcr_request_stop();
    return 0;
}

typedef struct {
    uint64_t epoch;
    size_t done;
} stop_pos;

static void stop_at_batch(void *user, uint64_t epoch, size_t done, size_t total)
{
    (void)total;
    stop_pos *sp = user;
    if (epoch == sp->epoch && done == sp->done)
        dcr_request_stop();
}

/* Stopped at an epoch boundary, a resumed run ends exactly where one
 * uninterrupted run does: parameters, step count and RNG. */
Test(train, interrupted_at_an_epoch_boundary_resumes_exactly)
{
    dcr_dataset tr = blobs(60, 1, 0);
    dcr_arch a = net(DCR_F64, 0);
    dcr_engine e;
    double p[MAXP], q[MAXP];
    size_t n = dcr_arch_n_params(&a);
    setup_net(&e, p, &a, 3);
    memcpy(q, p, n * sizeof *p);
    dcr_train_opts o = opts(0.1, 8, 5, 1, 5);
    dcr_error err = {0};
    dcr_train_state st, st1;
    dcr_train_state_init(&st, 5);
    dcr_train_state_init(&st1, 5);
    uint64_t at = 2;
    dcr_clear_stop();
    cr_assert_eq(dcr_train(p, &e, &tr, NULL, NULL, &o, &st, &(dcr_train_hooks){stop_at_epoch, NULL, &at},
                           NULL, &err), -1);
    cr_assert_eq(err.status, DCR_ERR_INTERRUPTED);
    cr_assert_str_eq(err.msg, "interrupted after epoch 2, batch 8 (the epoch's last)");
    cr_assert_eq(st.epoch, 2);
    cr_assert(dcr_stop_requested());
    dcr_clear_stop();
    cr_assert(!dcr_stop_requested());
    dcr_train_opts o3 = opts(0.1, 8, 3, 1, 5);
    cr_assert_eq(dcr_train(p, &e, &tr, NULL, NULL, &o3, &st, NULL, NULL, &err), 0, "%s", err.msg);
    cr_assert_eq(dcr_train(q, &e, &tr, NULL, NULL, &o, &st1, NULL, NULL, &err), 0, "%s", err.msg);
    cr_assert_arr_eq(p, q, n * sizeof *p);
    cr_assert_eq(st.epoch, 5);
    cr_assert_eq(st.step, st1.step);
    cr_assert_arr_eq(st.rng.s, st1.rng.s, sizeof st.rng.s);
    dcr_ref_engine_free(&e);
    dcr_dataset_free(&tr);
}

/* Stopped mid-epoch: the state records the epochs done, the steps taken and
 * the RNG before the unfinished epoch, which a resumed run repeats in the
 * same order (on the parameters after the batch). */
Test(train, interrupted_mid_epoch_records_the_position)
{
    dcr_dataset tr = blobs(60, 1, 0);
    dcr_arch a = net(DCR_F64, 0);
    dcr_engine e;
    double p[MAXP];
    setup_net(&e, p, &a, 3);
    dcr_train_opts o = opts(0.1, 8, 5, 1, 5);
    dcr_error err = {0};
    dcr_train_state st, st2;
    dcr_train_state_init(&st, 5);
    dcr_train_state_init(&st2, 5);
    stop_pos sp = {3, 24};
    dcr_clear_stop();
    cr_assert_eq(dcr_train(p, &e, &tr, NULL, NULL, &o, &st, &(dcr_train_hooks){NULL, stop_at_batch, &sp},
                           NULL, &err), -1);
    dcr_clear_stop();
    cr_assert_eq(err.status, DCR_ERR_INTERRUPTED);
    cr_assert_str_eq(err.msg, "interrupted after epoch 3, batch 3 of 8 (the epoch is unfinished: 2 epochs done)");
    cr_assert_eq(st.epoch, 2);
    cr_assert_eq(st.step, 2 * 8 + 3);
    /* the RNG is the one after two whole epochs */
    double q[MAXP];
    dcr_ref_engine_free(&e);
    setup_net(&e, q, &a, 3);
    dcr_train_opts o2 = opts(0.1, 8, 2, 1, 5);
    cr_assert_eq(dcr_train(q, &e, &tr, NULL, NULL, &o2, &st2, NULL, NULL, &err), 0, "%s", err.msg);
    cr_assert_arr_eq(st.rng.s, st2.rng.s, sizeof st.rng.s);
    dcr_ref_engine_free(&e);
    dcr_dataset_free(&tr);
}
