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
    DCR_ERR_NOMEM
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
    DCR_ACT_SOFTMAX
} dcr_act;

typedef enum { DCR_LOSS_MSE = 0, DCR_LOSS_CROSS_ENTROPY } dcr_loss;

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
    DCR_INIT_UNIFORM             /* U(-range, range) */
} dcr_init_scheme;

typedef struct {
    dcr_init_scheme scheme;
    double range;  /* DCR_INIT_UNIFORM only */
    uint64_t seed;
} dcr_init;

/* Fills params (dcr_arch_n_params elements of a->dtype): weights from the
 * scheme, one RNG stream in layout order, biases zero. */
void dcr_init_params(void *params, const dcr_arch *a, const dcr_init *init);

/* ---- datasets --------------------------------------------------------------- */
typedef enum { DCR_TARGET_CLASS = 0, DCR_TARGET_VALUES } dcr_target_kind;

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
 * All buffers are of arch->dtype. */
typedef struct {
    void *self;
    const dcr_arch *arch;
    /* out[n_out] = network(x) */
    void (*forward)(void *self, void *out, const void *params, const void *x);
    /* grad += dE/dparams for one sample; returns E */
    double (*loss_grad)(void *self, void *grad, const void *params,
                        const void *x, const void *y);
    /* one SGD step on n samples (rows of X, Y); returns the mean loss */
    double (*train_batch)(void *self, void *params, void *grad, const void *X,
                          const void *Y, int n, double lr);
} dcr_engine;
/* train_batch, exactly (both engines, same order, so float64 results agree
 * bit for bit): grad[i] = 0 for all i; for each sample in order, loss_grad;
 * scale = (dtype)(lr / n); params[i] -= scale * grad[i]; return
 * (sum of per-sample losses in double) / n. */

/* The reference engine: plain loops, dimensions read at run time. */
int dcr_ref_engine(dcr_engine *out, const dcr_arch *a, dcr_error *err);
void dcr_ref_engine_free(dcr_engine *e);

/* ---- training driver ------------------------------------------------------ */
typedef struct {
    double lr;
    int batch_size;
    int epochs;
    int shuffle;
    uint64_t seed;
} dcr_train_opts;

typedef struct {
    int epoch;          /* 1-based */
    double train_loss;  /* mean of the batch losses, weighted by batch size */
    double train_acc;   /* classification only, else -1 */
    int has_test;
    double test_loss;
    double test_acc;    /* classification only, else -1 */
    double seconds;     /* wall time of the epoch's training */
} dcr_epoch_stats;

typedef void (*dcr_epoch_fn)(void *user, const dcr_epoch_stats *s);

/* Trains params in place. test may be NULL. on_epoch (may be NULL) is called
 * after every epoch. Stops with DCR_ERR_TRAIN when a loss is not finite. */
int dcr_train(void *params, const dcr_engine *e, const dcr_dataset *train,
              const dcr_dataset *test, const dcr_train_opts *o,
              dcr_epoch_fn on_epoch, void *user, dcr_error *err);

/* Mean loss and (for datasets with labels) accuracy; *acc = -1 otherwise. */
int dcr_evaluate(double *loss, double *acc, const dcr_engine *e,
                 const void *params, const dcr_dataset *d, dcr_error *err);

/* ---- gradient check --------------------------------------------------------
 * Central differences of the summed loss over n samples (rows of X, Y)
 * against the engine's loss_grad, for every parameter. The error of one
 * parameter is |analytic - numeric| / max(|analytic|, |numeric|, floor):
 * relative, except that gradients below floor are compared absolutely. */
typedef struct {
    int n_layers;
    double max_rel_w[DCR_MAX_LAYERS + 1]; /* per layer, over W(l) */
    double max_rel_b[DCR_MAX_LAYERS + 1]; /* per layer, over b(l) */
    double max_rel;                       /* over all; INFINITY for a NaN */
    double max_abs_grad;                  /* 0 means every gradient was zero */
    size_t n_checked;
} dcr_gradcheck_result;

/* params (arch dtype) are perturbed and restored exactly. */
int dcr_gradcheck(dcr_gradcheck_result *out, const dcr_engine *e, void *params, const void *X,
                  const void *Y, int n, double eps, double floor_, dcr_error *err);
/* The same on seeded random parameters (biases included), inputs in
 * [-1, 1] and targets that fit the loss. */
int dcr_gradcheck_random(dcr_gradcheck_result *out, const dcr_engine *e, uint64_t seed, int n,
                         double eps, double floor_, dcr_error *err);

#endif
