/* cmd_train.c: the commands that run a network on data: train, eval,
 * predict. Training itself is the runtime's dcr_job_run, which standalone
 * trainers run too. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* SIGINT during training: ask the runtime to stop after the current batch
 * (it only stores a flag); a second Ctrl-C ends the process at once. */
static void cli_on_sigint(int sig)
{
    (void)sig;
    dcr_request_stop();
    signal(SIGINT, SIG_DFL);
}

static const char usage_train[] =
    "usage: deltac train SPEC [options]\n"
    "\n"
    "JIT-compiles SPEC's network with libtcc and trains it, printing one line per\n"
    "epoch and a summary. Options override the spec's values:\n"
    "  --train FILE          training data (CSV, or IDX images)\n"
    "  --train-labels FILE   training labels (IDX)\n"
    "  --test FILE           test data\n"
    "  --test-labels FILE    test labels (IDX)\n"
    "  --epochs N            number of epochs\n"
    "  --lr X                learning rate\n"
    "  --batch-size N        minibatch size\n"
    "  --seed N              seed of the initialisation, the shuffle and the split\n"
    "  --init CKPT           start from a checkpoint (resumes its epoch count and shuffle)\n"
    "  --save CKPT           save a checkpoint at the end (atomically)\n"
    "  --save-every N        and every N epochs\n"
    CLI_ENGINE_HELP
    "  --log FILE.csv        write per-epoch metrics as CSV (also after an early stop\n"
    "                        or a NaN)\n"
    "  --plot FILE.svg       plot the loss (and accuracy) curves as SVG\n"
    "  --trace-deltas        record the mean |delta| of every layer per epoch\n"
    "  --no-progress         no progress bar (it is only drawn on a terminal)\n"
    "  -q, --quiet           print only the summary\n";

static const char usage_eval[] =
    "usage: deltac eval SPEC --init CKPT [--data FILE [--labels FILE]]\n"
    "\n"
    "Prints the loss of the checkpoint's parameters and, for classes, the accuracy\n"
    "and the confusion matrix (rows: true class, columns: predicted), or for values\n"
    "the RMSE and MAE over all outputs: on FILE, or without --data on the spec's\n"
    "test data (its test file or its test_fraction split), or its training part\n"
    "when it has no test data. Features are standardized with the training part's\n"
    "statistics when the spec says so.\n"
    "  --init CKPT           the parameters (required)\n"
    "  --data FILE           data in the spec's format (CSV, or IDX images)\n"
    "  --labels FILE         labels of IDX images\n";

static const char usage_predict[] =
    "usage: deltac predict SPEC --init CKPT --data FILE [-o OUT]\n"
    "\n"
    "Writes the network's outputs for each row of FILE as CSV (a header y0,y1,...\n"
    "then one row per input row). FILE holds features only: a CSV file with the\n"
    "network's input count of numbers per row (a header line when the spec's data\n"
    "has one, as by default). Features are standardized with the training data's\n"
    "statistics when the spec says so.\n"
    "  --init CKPT           the parameters (required)\n"
    "  --data FILE           the rows (required)\n"
    "  -o, --output OUT      write to OUT (atomically) instead of standard output\n";

int cmd_train(int argc, char **argv)
{
    cli_args a = {argc, argv, 0, NULL, usage_train};
    dcr_job_io io;
    memset(&io, 0, sizeof io);
    io.progress = 1;
    int trace = 0;
    const char *v, *train = NULL, *train_labels = NULL, *test = NULL, *test_labels = NULL;
    long long epochs = -1, batch = -1, seed = -1;
    double lr = -1;
    cli_engine eng = CLI_ENGINE_DEFAULT;
    for (a.i = 1; a.i < argc; a.i++) {
        if (cli_opt(&a, "--train", NULL, 1, &v)) train = v;
        else if (cli_opt(&a, "--train-labels", NULL, 1, &v)) train_labels = v;
        else if (cli_opt(&a, "--test", NULL, 1, &v)) test = v;
        else if (cli_opt(&a, "--test-labels", NULL, 1, &v)) test_labels = v;
        else if (cli_opt(&a, "--epochs", NULL, 1, &v)) epochs = cli_int("--epochs", v, 1, DC_MAX_EPOCHS);
        else if (cli_opt(&a, "--batch-size", NULL, 1, &v)) batch = cli_int("--batch-size", v, 1, DC_MAX_BATCH);
        else if (cli_opt(&a, "--seed", NULL, 1, &v)) seed = cli_int("--seed", v, 0, 9007199254740991LL);
        else if (cli_opt(&a, "--lr", NULL, 1, &v)) lr = cli_positive("--lr", v);
        else if (cli_opt(&a, "--init", NULL, 1, &v)) io.init = v;
        else if (cli_opt(&a, "--save", NULL, 1, &v)) io.save = v;
        else if (cli_opt(&a, "--save-every", NULL, 1, &v)) io.save_every = (int)cli_int("--save-every", v, 1, DC_MAX_EPOCHS);
        else if (cli_engine_opt(&a, &eng)) continue;
        else if (cli_opt(&a, "--log", NULL, 1, &v)) io.log = v;
        else if (cli_opt(&a, "--plot", NULL, 1, &v)) io.plot = v;
        else if (cli_opt(&a, "--trace-deltas", NULL, 0, &v)) trace = 1;
        else if (cli_opt(&a, "--no-progress", NULL, 0, &v)) io.progress = 0;
        else if (cli_opt(&a, "--quiet", "-q", 0, &v)) io.quiet = 1;
        else cli_other(&a);
    }
    cli_need_pos(&a);
    if (io.save_every && !io.save)
        cli_usage_error("%s", "--save-every needs --save CKPT");
    dcr_error err;
    dc_spec s;
    dc_net n;
    if (cli_load(&s, &n, a.pos, &err))
        return cli_fail(&err);
    dcr_job job;
    dc_spec_job(&job, &s);
    if (epochs > 0) job.train.epochs = (int)epochs;
    if (batch > 0) job.train.batch_size = (int)batch;
    if (lr > 0) job.train.lr = lr;
    if (seed >= 0) job.train.seed = job.init.seed = (uint64_t)seed;
    if (trace) job.train.trace_deltas = 1;
    io.name = s.name;
    io.train = train ? train : s.data.train;
    io.train_labels = train_labels ? train_labels : s.data.train_labels;
    io.test = test ? test : s.data.test;
    io.test_labels = test_labels ? test_labels : s.data.test_labels;
    if (!io.train) {
        fprintf(stderr, "deltac: %s has no \"data\" section: give the training data with --train FILE\n", a.pos);
        dc_spec_free(&s);
        return EXIT_USAGE;
    }
    cli_built b;
    char *cmd = cli_command_line(argc + 1, argv - 1);
    int rc = cli_build(&b, &n, &eng, cmd, &err);
    free(cmd);
    if (rc) {
        dc_spec_free(&s);
        return cli_fail(&err);
    }
    if (!io.quiet) {
        cli_describe(stdout, &n);
        char say[256];
        cli_built_say(say, sizeof say, &b);
        printf("%s\n", say);
    }
    /* Ctrl-C stops after the current batch (saving with --save); exit 130 */
    dcr_clear_stop();
    signal(SIGINT, cli_on_sigint);
    rc = dcr_job_run(&job, &b.engine, &io, stdout, &err);
    signal(SIGINT, SIG_DFL);
    cli_unbuild(&b);
    dc_spec_free(&s);
    if (rc && err.status == DCR_ERR_INTERRUPTED) {
        cli_fail(&err);
        return EXIT_INTERRUPTED;
    }
    return rc ? cli_fail(&err) : 0;
}

/* Standardizes d as the spec's training data was: with the statistics of
 * the training part. */
static int standardize_like_training(dcr_dataset *d, const dc_spec *s, dcr_error *err)
{
    if (!s->data.standardize)
        return 0;
    dcr_job job;
    dc_spec_job(&job, s);
    job.standardize = 0;
    dcr_job_io io;
    cli_spec_io(&io, s);
    dcr_dataset train, val, test;
    if (dcr_job_load_data(&train, &val, &test, &job, &io, err))
        return -1;
    dcr_standardize(&train, d);
    dcr_dataset_free(&train);
    dcr_dataset_free(&val);
    dcr_dataset_free(&test);
    return 0;
}

/* The spec, its net, a JIT engine and the checkpoint's parameters. */
typedef struct {
    dc_spec s;
    dc_net n;
    cli_built b;
    void *params;
} loaded;

static int load_all(loaded *l, const char *spec, const char *ckpt, int argc, char **argv, dcr_error *err)
{
    memset(l, 0, sizeof *l);
    if (cli_load(&l->s, &l->n, spec, err))
        return -1;
    if (cli_load_params(&l->params, ckpt, &l->s, err)) {
        dc_spec_free(&l->s);
        return -1;
    }
    char *cmd = cli_command_line(argc + 1, argv - 1);
    int rc = cli_build(&l->b, &l->n, NULL, cmd, err);
    free(cmd);
    if (rc) {
        free(l->params);
        dc_spec_free(&l->s);
        return -1;
    }
    return 0;
}

static void unload(loaded *l)
{
    cli_unbuild(&l->b);
    free(l->params);
    dc_spec_free(&l->s);
}

int cmd_eval(int argc, char **argv)
{
    cli_args a = {argc, argv, 0, NULL, usage_eval};
    const char *v, *ckpt = NULL, *data = NULL, *labels = NULL;
    for (a.i = 1; a.i < argc; a.i++) {
        if (cli_opt(&a, "--init", NULL, 1, &v)) ckpt = v;
        else if (cli_opt(&a, "--data", NULL, 1, &v)) data = v;
        else if (cli_opt(&a, "--labels", NULL, 1, &v)) labels = v;
        else cli_other(&a);
    }
    cli_need_pos(&a);
    if (!ckpt)
        cli_usage_error("%s", "eval needs --init CKPT");
    dcr_error err;
    loaded l;
    if (load_all(&l, a.pos, ckpt, argc, argv, &err))
        return cli_fail(&err);
    dcr_job job;
    dc_spec_job(&job, &l.s);
    dcr_dataset train, val, test, *d;
    memset(&train, 0, sizeof train);
    memset(&val, 0, sizeof val);
    memset(&test, 0, sizeof test);
    dcr_metrics m;
    memset(&m, 0, sizeof m);
    int rc = -1;
    const char *what;
    if (data) {
        /* the file as training data of the spec's format, without a split */
        job.test_fraction = 0;
        job.validation_fraction = 0;
        job.standardize = 0;
        dcr_job_io io;
        memset(&io, 0, sizeof io);
        io.train = data;
        io.train_labels = labels;
        if (dcr_job_load_data(&train, &val, &test, &job, &io, &err) ||
            standardize_like_training(&train, &l.s, &err))
            goto out;
        d = &train;
        what = data;
    } else {
        if (!l.s.data.present) {
            dcr_fail(&err, DCR_ERR_USAGE, "%s has no \"data\" section: give the data with --data FILE", a.pos);
            goto out;
        }
        dcr_job_io io;
        memset(&io, 0, sizeof io);
        io.train = l.s.data.train;
        io.train_labels = l.s.data.train_labels;
        io.test = l.s.data.test;
        io.test_labels = l.s.data.test_labels;
        if (dcr_job_load_data(&train, &val, &test, &job, &io, &err))
            goto out;
        d = test.n_rows ? &test : &train;
        what = test.n_rows ? "the test data" : val.n_rows ? "the training part" : "the training data";
    }
    if (dcr_metrics_compute(&m, &l.b.engine, l.params, d, &err))
        goto out;
    printf("%s: %zu rows\nloss: %.6f\n", what, d->n_rows, m.loss);
    dcr_metrics_write(stdout, &m);
    rc = 0;
out:
    dcr_metrics_free(&m);
    dcr_dataset_free(&train);
    dcr_dataset_free(&val);
    dcr_dataset_free(&test);
    unload(&l);
    return rc ? cli_fail(&err) : 0;
}

/* One CSV line per output row; %.9g (float32) and %.17g (float64) read
 * back to the same value. */
static char *format_outputs(size_t *len, const loaded *l, const dcr_dataset *d, dcr_error *err)
{
    const dcr_arch *ar = &l->n.arch;
    int n_in = ar->sizes[0], n_out = ar->sizes[ar->n_layers];
    size_t es = dcr_dtype_size(ar->dtype);
    size_t cap = 64 + (size_t)n_out * 8 + d->n_rows * (size_t)n_out * 26;
    char *buf = malloc(cap);
    void *x = dcr_pack(d->x, d->n_rows * (size_t)n_in, ar->dtype);
    double *o64 = malloc((size_t)n_out * 8);
    if (!buf || !x || !o64) {
        free(buf);
        free(x);
        free(o64);
        dcr_fail(err, DCR_ERR_NOMEM, "out of memory");
        return NULL;
    }
    size_t p = 0;
    for (int k = 0; k < n_out; k++)
        p += (size_t)snprintf(buf + p, cap - p, "%sy%d", k ? "," : "", k);
    buf[p++] = '\n';
    for (size_t i = 0; i < d->n_rows; i++) {
        l->b.engine.forward(l->b.engine.self, o64, l->params, (const char *)x + i * (size_t)n_in * es);
        for (int k = 0; k < n_out; k++) {
            double y = ar->dtype == DCR_F64 ? o64[k] : (double)((float *)o64)[k];
            p += (size_t)snprintf(buf + p, cap - p, ar->dtype == DCR_F64 ? "%s%.17g" : "%s%.9g", k ? "," : "", y);
        }
        buf[p++] = '\n';
    }
    free(x);
    free(o64);
    *len = p;
    return buf;
}

int cmd_predict(int argc, char **argv)
{
    cli_args a = {argc, argv, 0, NULL, usage_predict};
    const char *v, *ckpt = NULL, *data = NULL, *out = NULL;
    for (a.i = 1; a.i < argc; a.i++) {
        if (cli_opt(&a, "--init", NULL, 1, &v)) ckpt = v;
        else if (cli_opt(&a, "--data", NULL, 1, &v)) data = v;
        else if (cli_opt(&a, "--output", "-o", 1, &v)) out = v;
        else cli_other(&a);
    }
    cli_need_pos(&a);
    if (!ckpt || !data)
        cli_usage_error("%s", "predict needs --init CKPT and --data FILE");
    dcr_error err;
    loaded l;
    if (load_all(&l, a.pos, ckpt, argc, argv, &err))
        return cli_fail(&err);
    dcr_csv_opts o = l.s.data.csv;
    if (!l.s.data.present)
        o.header = 1;
    o.kind = DCR_TARGET_NONE;
    dcr_dataset d;
    memset(&d, 0, sizeof d);
    int rc = -1;
    char *text = NULL;
    size_t len = 0;
    if (dcr_csv_load(&d, data, &o, l.n.arch.sizes[0], l.n.arch.sizes[l.n.arch.n_layers], &err) ||
        standardize_like_training(&d, &l.s, &err))
        goto done;
    text = format_outputs(&len, &l, &d, &err);
    if (!text)
        goto done;
    if (out)
        rc = dcr_write_atomic(out, text, len, &err);
    else
        rc = fwrite(text, 1, len, stdout) == len ? 0 : dcr_fail(&err, DCR_ERR_IO, "standard output: write error");
done:
    free(text);
    dcr_dataset_free(&d);
    unload(&l);
    return rc ? cli_fail(&err) : 0;
}
