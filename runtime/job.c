/* job.c: a whole training run, the same for `deltac train` and for a
 * standalone trainer, so that both print the same losses for the same
 * inputs. Reports go to a stream the caller chooses. */
#define _POSIX_C_SOURCE 200809L /* fileno, isatty */

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dcr_internal.h"

static int job_load_one(dcr_dataset *d, const dcr_job *job, const char *path, const char *labels,
                        const char *which, dcr_error *err)
{
    int n_in = job->arch.sizes[0], n_out = job->arch.sizes[job->arch.n_layers];
    if (job->format == DCR_FORMAT_IDX) {
        if (!labels)
            return dcr_fail(err, DCR_ERR_USAGE, "IDX data: the %s images %s need a labels file", which, path);
        return dcr_idx_load(d, path, labels, n_in, n_out, err);
    }
    return dcr_csv_load(d, path, &job->csv, n_in, n_out, err);
}

/* Standardizes val and test with train's statistics. dcr_standardize takes
 * one other part: with both, their features go through it side by side. */
static int job_standardize(dcr_dataset *train, dcr_dataset *val, dcr_dataset *test, dcr_error *err)
{
    if (!val->n_rows || !test->n_rows) {
        dcr_standardize(train, val->n_rows ? val : test->n_rows ? test : NULL);
        return 0;
    }
    size_t ni = (size_t)train->n_in, nv = val->n_rows * ni, nt = test->n_rows * ni, nx;
    if (!dcr_add_ok(&nx, nv, nt))
        return dcr_fail(err, DCR_ERR_LIMIT, "the validation and test parts are too large");
    dcr_dataset both;
    memset(&both, 0, sizeof both);
    both.n_rows = val->n_rows + test->n_rows;
    both.n_in = train->n_in;
    both.n_out = train->n_out;
    both.x = dcr_mul_ok(&nx, nx, sizeof(double)) ? malloc(nx) : NULL;
    if (!both.x)
        return dcr_fail(err, DCR_ERR_NOMEM, "out of memory standardizing the data");
    memcpy(both.x, val->x, nv * sizeof(double));
    memcpy(both.x + nv, test->x, nt * sizeof(double));
    dcr_standardize(train, &both);
    memcpy(val->x, both.x, nv * sizeof(double));
    memcpy(test->x, both.x + nv, nt * sizeof(double));
    free(both.x);
    return 0;
}

int dcr_job_load_data(dcr_dataset *train, dcr_dataset *val, dcr_dataset *test, const dcr_job *job,
                      const dcr_job_io *io, dcr_error *err)
{
    memset(train, 0, sizeof *train);
    memset(val, 0, sizeof *val);
    memset(test, 0, sizeof *test);
    if (!io->train)
        return dcr_fail(err, DCR_ERR_USAGE, "no training data given");
    if (!(job->validation_fraction >= 0 && job->validation_fraction < 1))
        return dcr_fail(err, DCR_ERR_SPEC, "validation fraction %g must be at least 0 and below 1",
                        job->validation_fraction);
    if (job_load_one(train, job, io->train, io->train_labels, "training", err))
        return -1;
    if (io->test) {
        if (job_load_one(test, job, io->test, io->test_labels, "test", err)) {
            dcr_dataset_free(train);
            return -1;
        }
    } else if (job->test_fraction > 0) {
        dcr_dataset all = *train;
        memset(train, 0, sizeof *train);
        if (dcr_dataset_split(train, test, &all, job->test_fraction, job->train.seed, err)) {
            dcr_dataset_free(&all);
            return -1;
        }
    }
    if (job->validation_fraction > 0) {
        /* the same rule as the test split: rounded, at least one row */
        size_t n = train->n_rows, n_val = (size_t)round(job->validation_fraction * (double)n);
        if (n_val == 0)
            n_val = 1;
        if (n_val >= n) {
            dcr_fail(err, DCR_ERR_DATA,
                     "validation fraction %g of %zu training row%s leaves no rows to train on",
                     job->validation_fraction, n, n == 1 ? "" : "s");
            dcr_dataset_free(train);
            dcr_dataset_free(test);
            return -1;
        }
        dcr_dataset all = *train;
        memset(train, 0, sizeof *train);
        if (dcr_dataset_split(train, val, &all, job->validation_fraction, job->train.seed + 1, err)) {
            dcr_dataset_free(&all);
            dcr_dataset_free(test);
            return -1;
        }
    }
    if (job->standardize && job_standardize(train, val, test, err)) {
        dcr_dataset_free(train);
        dcr_dataset_free(val);
        dcr_dataset_free(test);
        return -1;
    }
    return 0;
}

typedef struct {
    FILE *out;
    const dcr_job *job;
    const dcr_job_io *io;
    const void *params;
    size_t n_state;
    int classify;
    double seconds;     /* of training, summed over epochs */
    dcr_progress *prog; /* NULL: nothing printed per epoch */
    dcr_history *hist;  /* NULL: no log or plot asked for */
} job_progress;

static int job_save(const job_progress *p, const dcr_train_state *st, dcr_error *err)
{
    dcr_ckpt c;
    memset(&c, 0, sizeof c);
    c.arch = p->job->arch;
    memcpy(c.spec_sha256, p->job->spec_sha256, 32);
    c.epoch = st->epoch;
    c.step = st->step;
    memcpy(c.rng, st->rng.s, sizeof c.rng);
    c.n_params = dcr_arch_n_params(&p->job->arch);
    c.params = (void *)p->params;
    c.n_state = p->n_state;
    c.state = st->opt_state;
    return dcr_ckpt_save(p->io->save, &c, err);
}

static int job_on_epoch(void *user, const dcr_epoch_stats *s, const dcr_train_state *st, dcr_error *err)
{
    job_progress *p = user;
    p->seconds += s->seconds;
    if (p->prog)
        dcr_progress_epoch(p->prog, s, p->classify, p->job->arch.n_layers);
    if (p->hist && dcr_history_add(p->hist, s, err))
        return -1;
    if (p->io->save && p->io->save_every > 0 && st->epoch % (uint64_t)p->io->save_every == 0)
        return job_save(p, st, err);
    return 0;
}

static void job_on_batch(void *user, uint64_t epoch, size_t done, size_t total)
{
    job_progress *p = user;
    if (p->prog)
        dcr_progress_batch(p->prog, epoch, done, total);
}

/* The log and the plot of the epochs recorded in h. */
static int job_write_curves(const dcr_job_io *io, const dcr_history *h, dcr_error *err)
{
    if (io->log && dcr_log_write_csv(io->log, h, err))
        return -1;
    if (io->plot && dcr_plot_write_svg(io->plot, h, io->name ? io->name : "deltac", err))
        return -1;
    return 0;
}

static void job_say_curves(FILE *out, const dcr_job_io *io, const dcr_history *h)
{
    if (out && io->log)
        fprintf(out, "wrote %s (%zu epoch%s)\n", io->log, h->n, h->n == 1 ? "" : "s");
    if (out && io->plot)
        fprintf(out, "wrote %s\n", io->plot);
}

/* Parameters and training state from io->init, or fresh ones; st's
 * opt_state (n_state elements, zeroed) is already allocated. */
static int job_start(void *params, dcr_train_state *st, size_t n_state, const dcr_job *job,
                     const dcr_job_io *io, dcr_error *err)
{
    void *opt_state = st->opt_state;
    dcr_train_state_init(st, job->train.seed);
    st->opt_state = opt_state;
    if (!io->init) {
        dcr_init_params(params, &job->arch, &job->init);
        return 0;
    }
    dcr_ckpt c;
    if (dcr_ckpt_read(&c, io->init, err))
        return -1;
    if (dcr_ckpt_check(&c, io->init, &job->arch, job->spec_sha256, err)) {
        dcr_ckpt_free(&c);
        return -1;
    }
    if (c.n_state != n_state) {
        dcr_fail(err, DCR_ERR_DATA, "%s: holds %zu optimizer state values, the spec's optimizer keeps %zu",
                 io->init, c.n_state, n_state);
        dcr_ckpt_free(&c);
        return -1;
    }
    memcpy(params, c.params, c.n_params * dcr_dtype_size(job->arch.dtype));
    if (n_state)
        memcpy(st->opt_state, c.state, n_state * dcr_dtype_size(job->arch.dtype));
    st->epoch = c.epoch;
    st->step = c.step;
    memcpy(st->rng.s, c.rng, sizeof st->rng.s);
    dcr_ckpt_free(&c);
    return 0;
}

int dcr_job_run(const dcr_job *job, const dcr_engine *e, const dcr_job_io *io, FILE *out,
                dcr_error *err)
{
    dcr_dataset train, val, test;
    if (dcr_job_load_data(&train, &val, &test, job, io, err))
        return -1;
    int rc = -1;
    dcr_train_state st;
    memset(&st, 0, sizeof st);
    dcr_history hist;
    memset(&hist, 0, sizeof hist);
    hist.n_layers = job->arch.n_layers;
    hist.classify = train.label != NULL;
    job_progress p;
    memset(&p, 0, sizeof p);
    size_t np = dcr_arch_n_params(&job->arch);
    void *params = calloc(np ? np : 1, dcr_dtype_size(job->arch.dtype));
    if (!params) {
        dcr_fail(err, DCR_ERR_NOMEM, "out of memory for %zu parameters", np);
        goto done;
    }
    st.opt_state = e->n_state ? calloc(e->n_state, dcr_dtype_size(job->arch.dtype)) : NULL;
    if (e->n_state && !st.opt_state) {
        dcr_fail(err, DCR_ERR_NOMEM, "out of memory for the optimizer's state");
        goto done;
    }
    if (job_start(params, &st, e->n_state, job, io, err))
        goto done;
    if (out && !io->quiet) {
        fprintf(out, "data: %zu training rows, ", train.n_rows);
        if (val.n_rows)
            fprintf(out, "%zu validation rows, ", val.n_rows);
        fprintf(out, "%zu test rows%s\n", test.n_rows, job->standardize ? ", standardized" : "");
        if (io->init)
            fprintf(out, "resuming from %s after epoch %llu\n", io->init, (unsigned long long)st.epoch);
    }
    p.out = out;
    p.job = job;
    p.io = io;
    p.params = params;
    p.n_state = e->n_state;
    p.classify = train.label != NULL;
    p.hist = io->log || io->plot ? &hist : NULL;
    if (out && !io->quiet) {
        /* a bar only on a terminal: in a pipe or a file it would be noise */
        p.prog = dcr_progress_new(out, io->progress && isatty(fileno(out)));
        if (!p.prog) {
            dcr_fail(err, DCR_ERR_NOMEM, "out of memory for the progress display");
            goto done;
        }
    }
    const dcr_dataset *final = test.n_rows ? &test : &train;
    dcr_train_hooks hooks = {job_on_epoch, job_on_batch, &p};
    dcr_train_result res;
    int trc = dcr_train(params, e, &train, &val, &test, &job->train, &st, &hooks, &res, err);
    dcr_progress_free(p.prog);
    p.prog = NULL;
    if (trc && err->status == DCR_ERR_INTERRUPTED && io->save) {
        /* Ctrl-C: keep what was trained (dcr_train left st where it stopped) */
        dcr_error serr;
        if (job_save(&p, &st, &serr)) {
            size_t len = strlen(err->msg);
            snprintf(err->msg + len, sizeof err->msg - len, " (and saving failed: %s)", serr.msg);
        } else {
            size_t len = strlen(err->msg);
            snprintf(err->msg + len, sizeof err->msg - len, "; saved %s (%llu epochs done)", io->save,
                     (unsigned long long)st.epoch);
        }
    }
    if (trc) {
        /* what was recorded up to the failure, then the failure */
        if (p.hist) {
            dcr_error werr;
            if (job_write_curves(io, &hist, &werr)) {
                size_t len = strlen(err->msg);
                snprintf(err->msg + len, sizeof err->msg - len, " (and then: %s)", werr.msg);
            } else {
                job_say_curves(out, io, &hist);
            }
        }
        goto done;
    }
    if (p.hist && job_write_curves(io, &hist, err))
        goto done;
    if (io->save && job_save(&p, &st, err))
        goto done;
    double loss, acc;
    if (dcr_evaluate(&loss, &acc, e, params, final, err))
        goto done;
    if (out) {
        const char *which = test.n_rows ? "test" : "train";
        fprintf(out, "trained %d epochs in %.3f s (%llu epochs in all)\n", res.epochs_run, p.seconds,
                (unsigned long long)res.last_epoch);
        if (res.stopped_early)
            fprintf(out, "stopped early after epoch %llu: the validation loss did not improve for %d epoch%s\n",
                    (unsigned long long)res.last_epoch, job->train.patience,
                    job->train.patience == 1 ? "" : "s");
        if (res.best_epoch)
            fprintf(out, "best epoch %llu (validation loss %.6f)%s\n", (unsigned long long)res.best_epoch,
                    res.best_val_loss,
                    res.best_epoch != res.last_epoch ? ": its parameters were restored" : "");
        if (acc >= 0)
            fprintf(out, "%s accuracy: %.2f %% (%zu rows), %s loss %.6f\n", which, 100 * acc, final->n_rows,
                    which, loss);
        else
            fprintf(out, "%s loss: %.6f (%zu rows)\n", which, loss, final->n_rows);
        if (io->save)
            fprintf(out, "saved %s%s\n", io->save,
                    res.best_epoch && res.best_epoch != res.last_epoch ? " (the best epoch)" : "");
        if (p.hist)
            job_say_curves(out, io, &hist);
    }
    rc = 0;
done:
    dcr_progress_free(p.prog);
    dcr_history_free(&hist);
    free(st.opt_state);
    free(params);
    dcr_dataset_free(&train);
    dcr_dataset_free(&val);
    dcr_dataset_free(&test);
    return rc;
}
