/* dcr.h: the deltac runtime. Everything a network needs at run time that
 * does not depend on the network's shape: errors, the network description,
 * RNG and parameter initialisation, CSV datasets, the training driver and the
 * generic loop-based reference engine.
 *
 * The runtime knows nothing about the compiler. The compiler's generated code
 * and the reference engine are both driven through dcr_engine.
 *
 * Ownership: every function that fills a struct with heap memory says so, and
 * the matching *_free releases it. Functions return 0 on success and -1 on
 * failure with the reason in a dcr_error; the runtime never prints and never
 * exits. */
#ifndef DCR_H
#define DCR_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* ---- limits (overridable at build time) ---------------------------------- */
#ifndef DCR_MAX_LAYERS
#define DCR_MAX_LAYERS 32 /* layers after the input */
#endif
#define DCR_MSG_MAX 1024

/* ---- errors ---------------------------------------------------------------- */
typedef enum {
    DCR_OK = 0,
    DCR_ERR_USAGE,  /* a caller passed something impossible */
    DCR_ERR_SPEC,   /* the spec is wrong */
    DCR_ERR_IO,     /* a file could not be read or written */
    DCR_ERR_DATA,   /* a data file is wrong */
    DCR_ERR_LIMIT,  /* a named limit was exceeded */
    DCR_ERR_JIT,    /* the JIT failed (tcc's message follows) */
    DCR_ERR_TRAIN,  /* training diverged (NaN/Inf) */
    DCR_ERR_NOMEM,
    DCR_ERR_INTERRUPTED /* training stopped at the caller's request (dcr_request_stop) */
} dcr_status;

typedef struct {
    dcr_status status;
    char msg[DCR_MSG_MAX];
} dcr_error;

/* Sets err (when not NULL) and returns -1. */
int dcr_fail(dcr_error *err, dcr_status status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* ---- the network description ---------------------------------------------- */
typedef enum { DCR_F32 = 0, DCR_F64 = 1 } dcr_dtype;

typedef enum {
    DCR_ACT_IDENTITY = 0,
    DCR_ACT_SIGMOID,
    DCR_ACT_TANH,
    DCR_ACT_RELU,
    DCR_ACT_SOFTMAX,
    DCR_ACT_LEAKY_RELU, /* z > 0 ? z : alpha z */
    DCR_ACT_ELU,        /* z > 0 ? z : alpha (e^z - 1) */
    DCR_ACT_SOFTPLUS,   /* log(1 + e^z), computed stably */
    DCR_ACT_GELU        /* tanh approximation: z/2 (1 + tanh(sqrt(2/pi) (z + 0.044715 z^3))) */
} dcr_act;
#define DCR_N_ACTS 9 /* the codes are stored in checkpoints: append only */

typedef enum {
    DCR_LOSS_MSE = 0,
    DCR_LOSS_CROSS_ENTROPY,       /* with a softmax output; delta fused to a - y */
    DCR_LOSS_BINARY_CROSS_ENTROPY /* with sigmoid outputs, each independent; delta fused to a - y */
} dcr_loss;
#define DCR_N_LOSSES 3

/* A fully connected network. Parameters live in one flat array: for each
 * layer l = 1..n_layers in order, W(l) as [sizes[l]][sizes[l-1]] row-major
 * (nn.Linear's layout), then b(l) as [sizes[l]]. Gradients use the same
 * layout. */
typedef struct {
    dcr_dtype dtype;
    int n_layers;                     /* L: layers after the input */
    int sizes[DCR_MAX_LAYERS + 1];    /* sizes[0] inputs, sizes[l] units of layer l */
    dcr_act act[DCR_MAX_LAYERS + 1];  /* act[l] for l = 1..L; act[0] unused */
    dcr_loss loss;
    double alpha[DCR_MAX_LAYERS + 1]; /* leaky_relu and elu: their alpha; else 0 */
} dcr_arch;

size_t dcr_dtype_size(dcr_dtype t);
const char *dcr_dtype_name(dcr_dtype t);
const char *dcr_act_name(dcr_act a);
const char *dcr_loss_name(dcr_loss l);
size_t dcr_arch_n_params(const dcr_arch *a);
size_t dcr_arch_w_offset(const dcr_arch *a, int l); /* index of W(l)[0][0] */
size_t dcr_arch_b_offset(const dcr_arch *a, int l); /* index of b(l)[0] */

/* ---- RNG: xoshiro256** seeded by splitmix64 ---------------------------------
 * The same seed gives the same stream everywhere (JIT, standalone trainer,
 * reference engine). */
typedef struct {
    uint64_t s[4];
} dcr_rng;

void dcr_rng_seed(dcr_rng *r, uint64_t seed);
uint64_t dcr_rng_next(dcr_rng *r);
double dcr_rng_uniform(dcr_rng *r);              /* [0, 1), 53 bits */
uint64_t dcr_rng_below(dcr_rng *r, uint64_t n);  /* [0, n), unbiased; n > 0 */
void dcr_rng_shuffle(dcr_rng *r, size_t *idx, size_t n); /* Fisher-Yates */

/* ---- initialisation ------------------------------------------------------- */
typedef enum {
    DCR_INIT_XAVIER_UNIFORM = 0, /* U(-r, r), r = sqrt(6 / (fan_in + fan_out)) */
    DCR_INIT_HE_UNIFORM,         /* U(-r, r), r = sqrt(6 / fan_in) */
    DCR_INIT_UNIFORM,            /* U(-range, range) */
    DCR_INIT_XAVIER_NORMAL,      /* N(0, s^2), s = sqrt(2 / (fan_in + fan_out)) */
    DCR_INIT_HE_NORMAL           /* N(0, s^2), s = sqrt(2 / fan_in) */
} dcr_init_scheme;

typedef struct {
    dcr_init_scheme scheme;
    double range;  /* DCR_INIT_UNIFORM only */
    uint64_t seed;
} dcr_init;

/* Fills params (dcr_arch_n_params elements of a->dtype): weights from the
 * scheme, one RNG stream in layout order, biases zero. A uniform weight
 * takes one draw u: (2u - 1) r; a normal weight takes two, u1 then u2
 * (Box-Muller): s sqrt(-2 ln(1 - u1)) cos(2 pi u2). */
void dcr_init_params(void *params, const dcr_arch *a, const dcr_init *init);

/* ---- datasets --------------------------------------------------------------- */
typedef enum {
    DCR_TARGET_CLASS = 0, /* one integer label column, one-hot encoded */
    DCR_TARGET_VALUES,    /* n_out value columns */
    DCR_TARGET_NONE       /* features only (prediction); y is all zero */
} dcr_target_kind;

typedef struct {
    size_t n_rows;
    int n_in;       /* features per row */
    int n_out;      /* targets per row (one-hot width for classes) */
    double *x;      /* [n_rows][n_in], owned */
    double *y;      /* [n_rows][n_out], owned; one-hot for classes */
    int *label;     /* [n_rows] class index, owned; NULL for values */
} dcr_dataset;

typedef struct {
    int header;                /* first line is a header row, skipped */
    int target_column;         /* negative counts from the end; see docs/spec.md */
    dcr_target_kind kind;
} dcr_csv_opts;

/* Reads a CSV file into out (owned by the caller, free with
 * dcr_dataset_free). Each row must have n_in + (class ? 1 : n_out) numeric,
 * finite fields. Errors name FILE:LINE:COLUMN. */
int dcr_csv_load(dcr_dataset *out, const char *path, const dcr_csv_opts *o,
                 int n_in, int n_out, dcr_error *err);
void dcr_dataset_free(dcr_dataset *d);

/* Moves a seeded random test_fraction of all into test and the rest into
 * train (both owned by the caller); all is emptied. The order of rows in
 * each part follows the order in all. */
int dcr_dataset_split(dcr_dataset *train, dcr_dataset *test, dcr_dataset *all,
                      double test_fraction, uint64_t seed, dcr_error *err);

/* Feature standardisation with statistics of train only; applied to train
 * and (when not NULL) test. A constant feature is only centred. */
void dcr_standardize(dcr_dataset *train, dcr_dataset *test);

/* Converts n doubles to dtype t in a new buffer (caller frees), or NULL. */
void *dcr_pack(const double *v, size_t n, dcr_dtype t);

/* ---- engines ---------------------------------------------------------------
 * The interface both the generated code and the reference engine present.
 * All buffers are of arch->dtype. A training step is batch_grad, then
 * (after the driver's checks, clipping and schedule) update. */

/* What one optimizer step is told besides the gradient. */
typedef struct {
    double lr;          /* this step's learning rate (after schedule and warm-up) */
    double grad_scale;  /* the gradient sum is multiplied by this first: 1/n, times the clipping factor */
    uint64_t t;         /* 1-based count of steps taken (Adam's bias correction) */
} dcr_step;

typedef struct {
    void *self;
    const dcr_arch *arch;
    size_t n_state;  /* optimizer state elements (0 for plain SGD), saved in checkpoints */
    /* out[n_out] = network(x) */
    void (*forward)(void *self, void *out, const void *params, const void *x);
    /* grad += dE/dparams for one sample; returns E */
    double (*loss_grad)(void *self, void *grad, const void *params,
                        const void *x, const void *y);
    /* grad = the sum of the per-sample gradients over n samples (rows of X,
     * Y), zeroed first; returns the mean loss */
    double (*batch_grad)(void *self, void *grad, const void *params, const void *X,
                         const void *Y, int n);
    /* one optimizer step on params (and state[n_state]) from the gradient sum */
    void (*update)(void *self, void *params, void *state, const void *grad, const dcr_step *s);
    /* optional (NULL when absent): loss_grad that also adds sum_k |delta(l)[k]|
     * into delta_abs[l] for l = 1..L (--trace-deltas) */
    double (*loss_grad_trace)(void *self, void *grad, const void *params, const void *x,
                              const void *y, double *delta_abs);
    /* optional (NULL when absent): one plain-SGD step on one sample,
     * params -= (T)lr * dE/dparams, fused (no gradient buffer, one pass);
     * returns E. Equal to batch_grad on that sample and update with
     * grad_scale 1, except that a parameter of exactly -0 may come out +0.
     * dcr_train uses it for batches of one sample with plain SGD, no
     * clipping and no delta trace. */
    double (*sgd_step)(void *self, void *params, const void *x, const void *y, double lr);
} dcr_engine;
/* Canonical arithmetic (both engines, same order, so float64 results agree
 * bit for bit): batch_grad: grad[i] = 0; loss_grad for each sample in
 * order; return (sum of per-sample losses in double) / n. Plain SGD update:
 * scale = (dtype)(lr * grad_scale); params[i] -= scale * grad[i]; the
 * other optimizers' order is written out at ref_update in
 * runtime/reference_impl.h (and in docs/training.md). */

/* batch_grad then update with lr, grad_scale 1/n and t 1, state NULL (plain
 * SGD); returns the mean loss. For tests and simple callers. */
double dcr_sgd_step(const dcr_engine *e, void *params, void *grad, const void *X, const void *Y,
                    int n, double lr);

/* The reference engine: plain loops, dimensions read at run time.
 * dcr_ref_engine steps with plain SGD; dcr_ref_engine_opt with the optimizer
 * o (its type and hyper-parameters; n_state set to match). */
int dcr_ref_engine(dcr_engine *out, const dcr_arch *a, dcr_error *err);
void dcr_ref_engine_free(dcr_engine *e);

/* ---- optimizers ------------------------------------------------------------
 * PyTorch's update equations (docs/training.md states any difference). */
typedef enum { DCR_OPT_SGD = 0, DCR_OPT_ADAM, DCR_OPT_ADAMW } dcr_opt_type;
typedef enum { DCR_SCHED_CONSTANT = 0, DCR_SCHED_STEP, DCR_SCHED_COSINE } dcr_sched_type;

typedef struct {
    dcr_opt_type type;
    double momentum;      /* sgd: 0 = none */
    int nesterov;         /* sgd with momentum */
    double beta1, beta2, eps; /* adam, adamw */
    double weight_decay;  /* sgd, adam: L2 added to the gradient; adamw: decoupled */
    double clip_norm;     /* > 0: scale the mean gradient down to this global L2 norm */
    dcr_sched_type schedule;
    int step_epochs;      /* step: multiply the rate by gamma every step_epochs epochs */
    double gamma;
    double min_lr;        /* cosine: the rate at the end */
    int warmup_steps;     /* linear warm-up over the first steps; 0 = none */
} dcr_optim;

/* The learning-rate schedule, clipping and the optimizers' state (optim.c;
 * docs/training.md). An engine's update implements the type and its
 * hyper-parameters; the training driver applies the schedule, the warm-up
 * and clipping through the dcr_step it passes. */
const char *dcr_optim_name(dcr_opt_type t);     /* "sgd", "adam", "adamw" */
const char *dcr_sched_name(dcr_sched_type t);   /* "constant", "step", "cosine" */
/* 0 when every field is in range and the fields of other types are zero;
 * else -1 (DCR_ERR_USAGE) naming the field. */
int dcr_optim_check(const dcr_optim *o, dcr_error *err);
/* State elements for n_params parameters: sgd with momentum n_params (the
 * momentum buffer), adam and adamw 2 n_params (m, then v), else 0; SIZE_MAX
 * when that does not fit. */
size_t dcr_optim_n_state(const dcr_optim *o, size_t n_params);
/* The learning rate of step t (1-based, counting every step since the
 * start, earlier runs included) taken in the epoch after epoch0 epochs, in a
 * run that ends after total_epochs epochs: the schedule (per epoch) times the
 * warm-up factor min(1, t / warmup_steps). */
double dcr_optim_lr(const dcr_optim *o, double base_lr, uint64_t epoch0, uint64_t total_epochs,
                    uint64_t t);
/* Gradient clipping by global norm, as torch.nn.utils.clip_grad_norm_ on the
 * mean gradient grad_sum / batch_n (grad_sum: n elements of dtype t):
 * returns min(1, clip_norm / (norm + 1e-6)), or 1 when clip_norm is 0. The
 * factor goes into dcr_step.grad_scale. */
double dcr_optim_clip(const dcr_optim *o, const void *grad_sum, size_t n, dcr_dtype t, int batch_n);
/* The reference engine with optimizer o (checked with dcr_optim_check). */
int dcr_ref_engine_opt(dcr_engine *out, const dcr_arch *a, const dcr_optim *o, dcr_error *err);

/* ---- training driver ------------------------------------------------------ */
typedef struct {
    double lr;
    int batch_size;
    int epochs;
    int shuffle;
    uint64_t seed;
    dcr_optim opt;        /* zeroed = plain SGD at a constant rate */
    int patience;         /* early stopping on the validation loss; 0 = off */
    double min_delta;     /* an improvement smaller than this does not count */
    int trace_deltas;     /* record the mean |delta| of every layer per epoch */
} dcr_train_opts;

typedef struct {
    uint64_t epoch;     /* 1-based, counting the epochs of earlier runs */
    double train_loss;  /* mean of the batch losses, weighted by batch size */
    double train_acc;   /* classification only, else -1 */
    int has_val;        /* a validation part was held out of the training data */
    double val_loss;
    double val_acc;     /* classification only, else -1 */
    int has_test;
    double test_loss;
    double test_acc;    /* classification only, else -1 */
    double lr;          /* the learning rate at the epoch's last step */
    double seconds;     /* wall time of the epoch's training */
    int has_deltas;     /* trace_deltas: */
    double delta_mean[DCR_MAX_LAYERS + 1]; /* mean |delta(l)| over the epoch's samples and layer l's units */
} dcr_epoch_stats;

/* Where training stands: epochs done and the shuffle RNG. Saved in
 * checkpoints, so that a resumed run continues exactly. */
typedef struct {
    uint64_t epoch;
    uint64_t step;     /* optimizer steps taken */
    dcr_rng rng;
    void *opt_state;   /* [engine's n_state] of the dtype, zeroed at the start; owned by the caller; NULL when n_state is 0 */
} dcr_train_state;

/* epoch 0, step 0, the RNG seeded with seed (the spec's train.seed);
 * opt_state is left to the caller */
void dcr_train_state_init(dcr_train_state *st, uint64_t seed);

/* Called after every epoch with the state after it; returning -1 (with err
 * set) stops training with that error. */
typedef int (*dcr_epoch_fn)(void *user, const dcr_epoch_stats *s, const dcr_train_state *st,
                            dcr_error *err);
/* Called after every optimizer step: done of total training samples of the
 * epoch (1-based, counting earlier runs) have been used. */
typedef void (*dcr_batch_fn)(void *user, uint64_t epoch, size_t done, size_t total);

typedef struct {
    dcr_epoch_fn on_epoch; /* NULL: none */
    dcr_batch_fn on_batch; /* NULL: none */
    void *user;            /* handed to both */
} dcr_train_hooks;

/* What one dcr_train call did. */
typedef struct {
    int epochs_run;         /* epochs trained by this call */
    uint64_t last_epoch;    /* the last epoch trained (before any restore) */
    int stopped_early;      /* early stopping: patience ran out before o->epochs */
    uint64_t best_epoch;    /* early stopping: the epoch restored; 0 when off */
    double best_val_loss;   /* its validation loss */
} dcr_train_result;

/* Trains params in place for o->epochs more epochs. val and test may be
 * NULL or empty; val is evaluated after every epoch (dcr_epoch_stats.val_*)
 * and is what early stopping (o->patience > 0, which needs val) watches: an
 * epoch improves when its validation loss is below the best so far minus
 * o->min_delta; after o->patience epochs without improvement training
 * stops, and at the end the best epoch's parameters and training state
 * (epoch, step, RNG, optimizer state) are copied back into params and
 * state. o->trace_deltas needs e->loss_grad_trace. state (in and out) may
 * be NULL for a fresh start from o->seed; hooks and result may be NULL.
 * Stops with DCR_ERR_TRAIN when a loss or a gradient is not finite, naming
 * the epoch, the batch and (for a gradient) the layer. */
/* Stopping on request (Ctrl-C). The runtime installs no signal handler: a
 * program's own SIGINT handler calls dcr_request_stop, which only stores
 * to a volatile sig_atomic_t (async-signal-safe). dcr_train checks it after
 * every batch: after an epoch's last batch it finishes the epoch (its stats
 * and on_epoch hook) and stops at the epoch boundary; after any other batch
 * it stops at once, the state recording the epochs done, the steps taken
 * and the shuffle RNG as it was before the unfinished epoch (a resumed run
 * repeats that epoch from its start, on the parameters after the batch).
 * Either way it fails with DCR_ERR_INTERRUPTED, "interrupted after epoch E,
 * batch B ...", without restoring an early-stopping best epoch.
 * dcr_clear_stop forgets a request; dcr_stop_requested tells. */
void dcr_request_stop(void);
void dcr_clear_stop(void);
int dcr_stop_requested(void);

int dcr_train(void *params, const dcr_engine *e, const dcr_dataset *train,
              const dcr_dataset *val, const dcr_dataset *test, const dcr_train_opts *o,
              dcr_train_state *state, const dcr_train_hooks *hooks, dcr_train_result *result,
              dcr_error *err);

/* Mean loss and (for datasets with labels) accuracy; *acc = -1 otherwise. */
int dcr_evaluate(double *loss, double *acc, const dcr_engine *e,
                 const void *params, const dcr_dataset *d, dcr_error *err);

/* ---- metrics (metrics.c) ----------------------------------------------------
 * Classification (datasets with labels): accuracy and a confusion matrix,
 * the predicted class being the first largest output. Regression: RMSE and
 * MAE over all outputs of all rows. */
typedef struct {
    size_t n_rows;
    int n_out;
    double loss;        /* mean loss (dcr_metrics_compute; 0 from outputs) */
    int classify;       /* the data has labels */
    double accuracy;    /* classification, else -1 */
    size_t *confusion;  /* classification: [n_out][n_out] counts, row = true class,
                         * column = predicted; owned; NULL otherwise */
    double rmse, mae;   /* regression, else -1 */
} dcr_metrics;

/* From outputs[n_rows][n_out] (doubles) against d's labels or targets.
 * out owns memory: free with dcr_metrics_free. */
int dcr_metrics_from_outputs(dcr_metrics *out, const double *outputs, const dcr_dataset *d,
                             dcr_error *err);
/* Runs the engine over d: the mean loss (as dcr_evaluate) and the rest. */
int dcr_metrics_compute(dcr_metrics *out, const dcr_engine *e, const void *params,
                        const dcr_dataset *d, dcr_error *err);
/* Writes the metrics after the loss: "accuracy: X %" and the confusion
 * matrix as an aligned table with class indices, or "rmse: X" and "mae: X". */
void dcr_metrics_write(FILE *out, const dcr_metrics *m);
void dcr_metrics_free(dcr_metrics *m);

/* ---- files ------------------------------------------------------------------
 * Writes len bytes to path atomically: a temporary file in the same folder,
 * written, flushed and fsynced, then renamed over path (and the folder
 * fsynced). On any failure path is untouched and the temporary removed. */
int dcr_write_atomic(const char *path, const void *data, size_t len, dcr_error *err);
/* Reads a whole file (at most max_bytes) into a new buffer (caller frees). */
int dcr_read_file(unsigned char **out, size_t *len, const char *path, size_t max_bytes, dcr_error *err);

/* ---- checkpoints (docs/checkpoint.md) -----------------------------------------
 * A little-endian binary file: magic, format version, the network (dtype,
 * loss, sizes, activations), the spec's SHA-256, training progress (epochs
 * done, the shuffle RNG's state), a header CRC-32, the parameters and the
 * optimizer state, and a CRC-32 of the whole payload. */
#define DCR_CKPT_VERSION 1

typedef struct {
    dcr_arch arch;
    unsigned char spec_sha256[32];
    uint64_t epoch;        /* epochs trained so far */
    uint64_t step;         /* optimizer steps taken so far */
    uint64_t rng[4];       /* the shuffle RNG after those epochs */
    size_t n_params;       /* dcr_arch_n_params(&arch) */
    void *params;          /* [n_params] of arch.dtype, owned */
    size_t n_state;        /* optimizer state elements (0 for plain SGD) */
    void *state;           /* [n_state] of arch.dtype, owned; NULL when 0 */
} dcr_ckpt;

/* Saves c atomically (dcr_write_atomic). */
int dcr_ckpt_save(const char *path, const dcr_ckpt *c, dcr_error *err);
/* Reads and verifies a checkpoint into out (caller frees with
 * dcr_ckpt_free). Each defect has its own message: not a checkpoint (magic),
 * a newer format version, a damaged header, truncated, trailing bytes, a bad
 * payload CRC. On failure out is empty. */
int dcr_ckpt_read(dcr_ckpt *out, const char *path, dcr_error *err);
/* 0 when c fits arch and sha (same dtype, loss, sizes, activations, spec),
 * else -1 naming the first difference ("saved with float64, the spec says
 * float32"; "saved from another spec (sha256 ab12... , this spec cd34...)"). */
int dcr_ckpt_check(const dcr_ckpt *c, const char *path, const dcr_arch *arch,
                   const unsigned char sha[32], dcr_error *err);
void dcr_ckpt_free(dcr_ckpt *c);

/* ---- NumPy .npy (format 1.0/2.0) ----------------------------------------------
 * Little-endian float32 ('<f4') or float64 ('<f8') arrays in C order. */
#define DCR_NPY_MAX_DIMS 4

typedef struct {
    dcr_dtype dtype;
    int ndim;                        /* 0..DCR_NPY_MAX_DIMS */
    size_t shape[DCR_NPY_MAX_DIMS];
    size_t count;                    /* product of shape (1 for ndim 0) */
    void *data;                      /* [count] of dtype, owned */
} dcr_npy;

/* Writes an array atomically. */
int dcr_npy_write(const char *path, dcr_dtype t, int ndim, const size_t *shape,
                  const void *data, dcr_error *err);
/* Reads an array; rejects, each with its own message naming the file: a
 * wrong magic, an unknown version, a malformed header, a dtype other than
 * <f4/<f8 (big-endian '>f8' is named as such), fortran_order True, more
 * than DCR_NPY_MAX_DIMS dimensions, a size overflow, a truncated file,
 * trailing bytes. */
int dcr_npy_read(dcr_npy *out, const char *path, dcr_error *err);
void dcr_npy_free(dcr_npy *a);

/* ---- IDX data sets (MNIST format) -------------------------------------------------
 * Images: magic 0x00000803 (unsigned bytes, rank 3: n, rows, cols), labels:
 * 0x00000801 (rank 1: n); big-endian dimensions; either file may be gzip
 * compressed (detected by its first two bytes). Pixels are scaled to [0, 1];
 * labels become one-hot over n_out. rows * cols must equal n_in. */
int dcr_idx_load(dcr_dataset *out, const char *images, const char *labels,
                 int n_in, int n_out, dcr_error *err);

/* ---- progress, logs and plots (progress.c, plot.c) ----------------------------
 * On a terminal a bar per epoch (samples done, samples/s, ETA) redrawn in
 * place; elsewhere (pipes, files) plain per-epoch lines only. */
typedef struct dcr_progress dcr_progress;

/* tty: draw the bar (the caller decides, e.g. isatty); NULL when out of memory */
dcr_progress *dcr_progress_new(FILE *out, int tty);
/* done of total samples of this epoch; redraws at most every 100 ms */
void dcr_progress_batch(dcr_progress *p, uint64_t epoch, size_t done, size_t total);
/* clears the bar and prints the epoch's line */
void dcr_progress_epoch(dcr_progress *p, const dcr_epoch_stats *s, int classify, int n_layers);
void dcr_progress_free(dcr_progress *p);

/* Per-epoch records, for the log and the plot. */
typedef struct {
    size_t n, cap;
    dcr_epoch_stats *v;  /* owned */
    int n_layers;
    int classify;        /* accuracies are meaningful */
} dcr_history;

int dcr_history_add(dcr_history *h, const dcr_epoch_stats *s, dcr_error *err);
void dcr_history_free(dcr_history *h);
/* One row per epoch: epoch, lr, train/val/test loss and accuracy, seconds,
 * mean |delta| per layer (empty fields where absent). Written atomically. */
int dcr_log_write_csv(const char *path, const dcr_history *h, dcr_error *err);
/* Training, validation and test loss (and accuracy, and the delta traces on
 * a log scale) against epochs: an SVG with axes, ticks and a legend.
 * title is shown escaped. Written atomically. */
int dcr_plot_write_svg(const char *path, const dcr_history *h, const char *title, dcr_error *err);

/* ---- training jobs -----------------------------------------------------------
 * What `deltac train` and a standalone trainer both run: load the data,
 * initialise or resume, train, save, evaluate, reporting to a stream. */
typedef enum { DCR_FORMAT_CSV = 0, DCR_FORMAT_IDX } dcr_format;

typedef struct {
    dcr_arch arch;
    dcr_init init;
    dcr_train_opts train;
    dcr_format format;
    dcr_csv_opts csv;              /* DCR_FORMAT_CSV */
    int standardize;
    double test_fraction;          /* used when there is no test file */
    double validation_fraction;    /* of the training part (after the test split), held out */
    unsigned char spec_sha256[32]; /* recorded in and checked against checkpoints */
} dcr_job;

typedef struct {
    const char *train, *train_labels; /* labels: IDX only */
    const char *test, *test_labels;   /* NULL: none (or the test_fraction split) */
    const char *init;                 /* checkpoint to resume from, or NULL */
    const char *save;                 /* checkpoint written at the end, or NULL */
    int save_every;                   /* also every N epochs; 0: only at the end */
    int quiet;                        /* only the summary */
    int progress;                     /* a progress bar when the output is a terminal */
    const char *log;                  /* per-epoch metrics as CSV, or NULL */
    const char *plot;                 /* loss (and accuracy, delta) curves as SVG, or NULL */
    const char *name;                 /* the network's, for the plot's title; NULL: none */
} dcr_job_io;

/* Loads the data a job names (all owned by the caller; val and test may
 * come back empty): the training file, the test file or else the seeded
 * test_fraction split (seed train.seed), then from the training part the
 * seeded validation_fraction split (seed train.seed + 1); standardized with
 * the statistics of the remaining training rows. */
int dcr_job_load_data(dcr_dataset *train, dcr_dataset *val, dcr_dataset *test, const dcr_job *job,
                      const dcr_job_io *io, dcr_error *err);

/* Runs the job on engine e (whose arch must be job->arch). Writes to out
 * (NULL: nothing) one line per epoch through dcr_progress (unless
 * io->quiet; a bar too when io->progress and out is a terminal) and a
 * summary (with early stopping: the epoch it stopped after and the best
 * one, restored). Writes io->log and io->plot at the end, and when training
 * fails with what was recorded before the failure. */
int dcr_job_run(const dcr_job *job, const dcr_engine *e, const dcr_job_io *io, FILE *out,
                dcr_error *err);

/* The whole main() of a standalone trainer: parses argv (see --help),
 * runs the job, prints errors to stderr; returns the exit status (0, 1 for
 * an error in the input, 2 for a usage error, 130 when interrupted by
 * SIGINT: its handler, installed here, calls dcr_request_stop). name is the
 * network's. */
int dcr_trainer_main(int argc, char **argv, const char *name, const dcr_job *job,
                     const dcr_engine *e);

/* ---- gradient check --------------------------------------------------------
 * Central differences of the summed loss over n samples (rows of X, Y)
 * against the engine's loss_grad, for every parameter. The error of one
 * parameter is |analytic - numeric| / max(|analytic|, |numeric|, floor):
 * relative, except that gradients below floor are compared absolutely. A
 * parameter whose error exceeds 1e-8 is checked again with steps eps/8 and
 * eps/64 and keeps its smallest error: a kink within the step (ReLU at 0)
 * spoils one difference quotient, a wrong gradient all of them. */
typedef struct {
    int n_layers;
    double max_rel_w[DCR_MAX_LAYERS + 1]; /* per layer, over W(l) */
    double max_rel_b[DCR_MAX_LAYERS + 1]; /* per layer, over b(l) */
    double max_rel;                       /* over all; INFINITY for a NaN */
    double max_abs_grad;                  /* 0 means every gradient was zero */
    size_t n_checked;
    size_t n_smaller_step; /* passed only with a smaller step: a kink (ReLU at 0) lay within eps */
} dcr_gradcheck_result;

/* params (arch dtype) are perturbed and restored exactly. */
int dcr_gradcheck(dcr_gradcheck_result *out, const dcr_engine *e, void *params, const void *X,
                  const void *Y, int n, double eps, double floor_, dcr_error *err);
/* The same on seeded random parameters (biases included), inputs in
 * [-1, 1] and targets that fit the loss. */
int dcr_gradcheck_random(dcr_gradcheck_result *out, const dcr_engine *e, uint64_t seed, int n,
                         double eps, double floor_, dcr_error *err);

#endif
