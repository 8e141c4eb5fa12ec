/* job.c: a whole training run, the same for `deltac train` and for a
 * standalone trainer, so that both print the same losses for the same
 * inputs. Reports go to a stream the caller chooses. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

int dcr_job_load_data(dcr_dataset *train, dcr_dataset *test, const dcr_job *job,
                      const dcr_job_io *io, dcr_error *err)
{
    memset(train, 0, sizeof *train);
    memset(test, 0, sizeof *test);
    if (!io->train)
        return dcr_fail(err, DCR_ERR_USAGE, "no training data given");
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
    if (job->standardize)
        dcr_standardize(train, test->n_rows ? test : NULL);
    return 0;
}

typedef struct {
    FILE *out;
    const dcr_job *job;
    const dcr_job_io *io;
    const void *params;
    size_t n_state;
    int classify;
    double seconds; /* of training, summed over epochs */
} job_progress;

static int job_save(const job_progress *p, const dcr_train_state *st, dcr_error *err)
{
    dcr_ckpt c;
    memset(&c, 0, sizeof c);
    c.arch = p->job->arch;
    memcpy(c.spec_sha256, p->job->spec_sha256, 32);
    c.epoch = st->epoch;
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
    if (p->out && !p->io->quiet) {
        fprintf(p->out, "epoch %4llu  loss %.6f", (unsigned long long)s->epoch, s->train_loss);
        if (p->classify)
            fprintf(p->out, "  train acc %.4f", s->train_acc);
        if (s->has_test) {
            fprintf(p->out, "  test loss %.6f", s->test_loss);
            if (p->classify)
                fprintf(p->out, "  test acc %.4f", s->test_acc);
        }
        fprintf(p->out, "  (%.1f ms)\n", 1e3 * s->seconds);
        fflush(p->out);
    }
    if (p->io->save && p->io->save_every > 0 && st->epoch % (uint64_t)p->io->save_every == 0)
        return job_save(p, st, err);
    return 0;
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
    memcpy(st->rng.s, c.rng, sizeof st->rng.s);
    dcr_ckpt_free(&c);
    return 0;
}

int dcr_job_run(const dcr_job *job, const dcr_engine *e, const dcr_job_io *io, FILE *out,
                dcr_error *err)
{
    dcr_dataset train, test;
    if (dcr_job_load_data(&train, &test, job, io, err))
        return -1;
    int rc = -1;
    dcr_train_state st;
    memset(&st, 0, sizeof st);
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
        fprintf(out, "data: %zu training rows, %zu test rows%s\n", train.n_rows, test.n_rows,
                job->standardize ? ", standardized" : "");
        if (io->init)
            fprintf(out, "resuming from %s after epoch %llu\n", io->init, (unsigned long long)st.epoch);
    }
    job_progress p = {out, job, io, params, e->n_state, train.label != NULL, 0};
    const dcr_dataset *final = test.n_rows ? &test : &train;
    if (dcr_train(params, e, &train, test.n_rows ? &test : NULL, &job->train, &st, job_on_epoch, &p, err))
        goto done;
    if (io->save && job_save(&p, &st, err))
        goto done;
    double loss, acc;
    if (dcr_evaluate(&loss, &acc, e, params, final, err))
        goto done;
    if (out) {
        const char *which = test.n_rows ? "test" : "train";
        fprintf(out, "trained %d epochs in %.3f s (%llu epochs in all)\n", job->train.epochs, p.seconds,
                (unsigned long long)st.epoch);
        if (acc >= 0)
            fprintf(out, "%s accuracy: %.2f %% (%zu rows), %s loss %.6f\n", which, 100 * acc, final->n_rows,
                    which, loss);
        else
            fprintf(out, "%s loss: %.6f (%zu rows)\n", which, loss, final->n_rows);
        if (io->save)
            fprintf(out, "saved %s\n", io->save);
    }
    rc = 0;
done:
    free(st.opt_state);
    free(params);
    dcr_dataset_free(&train);
    dcr_dataset_free(&test);
    return rc;
}
