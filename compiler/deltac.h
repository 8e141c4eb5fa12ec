/* deltac.h: the deltac compiler library.
 *
 *   spec.json --dc_spec_load--> dc_spec --dc_net_from_spec--> dc_net (the IR)
 *             --dc_emit--> C99 source --dc_jit_compile--> dc_jit --dc_jit_engine--> dcr_engine
 *
 * Every function returns 0 on success and -1 on failure, with the status and
 * a message in *err; the library never prints and never exits. Ownership is
 * stated per function. The runtime (dcr.h) supplies the network description,
 * errors and the engine interface the generated code is driven through. */
#ifndef DELTAC_H
#define DELTAC_H

#include <stddef.h>
#include <stdint.h>

#include "dcr.h"

const char *dc_version(void);

/* ---- limits: exceeding one is an error that names it --------------------- */
#define DC_NAME_MAX 32                     /* name: [a-z][a-z0-9_]{0,31} */
#define DC_MAX_UNITS 65536                 /* per layer, and inputs */
#define DC_MAX_PARAMS 2000000              /* weights and biases together */
#define DC_MAX_EPOCHS 1000000
#define DC_MAX_BATCH 1000000
#define DC_MAX_SPEC_BYTES (1u << 20)       /* a spec file */
#define DC_MAX_SOURCE_BYTES (512u << 20)   /* generated C; every valid spec fits */

/* ---- the spec (docs/spec.md) ---------------------------------------------- */
typedef struct {
    char name[DC_NAME_MAX + 1];
    char *path;            /* the spec file as given, owned */
    unsigned char sha256[32];
    char sha256_hex[65];   /* of the spec file's bytes */
    dcr_arch arch;
    dcr_init init;
    dcr_train_opts train;
    struct {
        int present;       /* the spec has a "data" object */
        char *train;       /* resolved against the spec's folder, owned */
        char *test;        /* NULL when absent, owned */
        char *train_labels; /* IDX only, owned */
        char *test_labels;  /* IDX only, owned */
        dcr_format format;
        dcr_csv_opts csv;
        int standardize;
        double test_fraction;
        double validation_fraction; /* of the training part, after the test split */
    } data;
} dc_spec;

/* Reads and validates a spec file. Errors read
 * "FILE:LINE:COL: json.path: what is wrong (what was expected)".
 * On success *out owns memory; free it with dc_spec_free. On failure *out is
 * left empty (safe to dc_spec_free). */
int dc_spec_load(dc_spec *out, const char *path, dcr_error *err);
/* The same from text; path names the text in messages and anchors relative
 * data paths. */
int dc_spec_parse(dc_spec *out, const char *text, size_t len, const char *path,
                  dcr_error *err);
void dc_spec_free(dc_spec *s);

/* ---- the network IR -------------------------------------------------------- */
typedef struct {
    char name[DC_NAME_MAX + 1];   /* a validated identifier: the C prefix */
    dcr_arch arch;
    size_t n_params;
    size_t w_off[DCR_MAX_LAYERS + 1]; /* index of W(l) in the flat array */
    size_t b_off[DCR_MAX_LAYERS + 1]; /* index of b(l) */
    uint64_t flops_forward;  /* per sample: 2 * weights (multiply + add) */
    uint64_t flops_train;    /* per sample: forward + deltas + gradients + update */
    char spec_sha256[65];    /* "" when not made from a spec */
    dcr_optim opt;           /* the optimizer P_update implements (zeroed: plain SGD) */
    size_t n_state;          /* its state elements: dcr_optim_n_state(&opt, n_params) */
} dc_net;

/* Builds the IR from an architecture, checking every limit. name must be a
 * valid identifier. */
int dc_net_make(dc_net *out, const dcr_arch *arch, const char *name, dcr_error *err);
int dc_net_from_spec(dc_net *out, const dc_spec *s, dcr_error *err);
/* Sets the optimizer the update implements (dc_net_make sets plain SGD,
 * dc_net_from_spec the spec's), with n_state and flops_train to match;
 * fails (DCR_ERR_USAGE) on an optimizer dcr_optim_check refuses. */
int dc_net_set_optim(dc_net *net, const dcr_optim *o, dcr_error *err);

/* ---- emission ------------------------------------------------------------------ */
typedef enum {
    DC_EMIT_UNROLLED = 0, /* --unroll full: every unit, weight and update a statement of its own */
    DC_EMIT_LOOPS,        /* --unroll loops: each layer as loops with constant bounds */
    DC_EMIT_AUTO,         /* --unroll auto: per layer, by the cost model for the target backend */
    DC_EMIT_BLOCKED,      /* --unroll blocked: loops over the rows of W, each row written out */
    DC_EMIT_KERNELS       /* --unroll kernels: loops calling deltac's compiled row kernels (libtcc only) */
} dc_strategy;

typedef enum {
    DC_FORM_SOURCE = 0,  /* the network's functions: what the JIT compiles, or a library's .c */
    DC_FORM_HEADER,      /* a header declaring them, for a library's .h */
    DC_FORM_STANDALONE   /* the functions, the runtime and main(): a trainer in one file */
} dc_form;

typedef struct {
    dc_strategy strategy;
    const char *command_line; /* for the header comment; may be NULL */
    dc_form form;
    const dcr_job *job;       /* DC_FORM_STANDALONE: the training settings (dc_spec_job) */
    int target;               /* the dc_backend that will compile it, for DC_EMIT_AUTO's choices:
                                 DC_JIT_TCC (0): the libtcc JIT, whose code may call deltac's own
                                 kernels (compiler/kernels.h); DC_JIT_CC, also for any code a C
                                 compiler builds ahead of time */
    int fast_math;            /* tanh, sigmoid and softmax's exp by compiler/fastmath.h instead of
                                 libm (error bounds in docs/fastmath.md): pasted in and inlined
                                 for code a C compiler builds, which also gets the fast-mode loop
                                 forms; for the libtcc JIT, calls of deltac's vectorised
                                 kernels (compiler/kernels_act.c). 0: results equal the
                                 reference engine's bit for bit in float64 */
} dc_emit_opts;

/* Writes the C99 source for net into *out_src (NUL-terminated, *out_len
 * bytes, caller frees with free()). o may be NULL (unrolled source).
 * Diagnostics about it name "NAME.c". Fails with DCR_ERR_LIMIT when the
 * source would exceed DC_MAX_SOURCE_BYTES.
 *
 * The source defines, with P the net's name and T float or double:
 *   void   P_forward(T *out, const T *params, const T *x);
 *   T      P_loss_grad(T *grad, const T *params, const T *x, const T *y);  adds into grad
 *   double P_batch_grad(T *grad, const T *params, const T *X, const T *Y, int n);
 *          grad = the sum of the per-sample gradients; returns the mean loss
 *   void   P_update(T *params, T *state, const T *grad, double lr, double grad_scale, double t);
 *          one optimizer step from the gradient sum (net->opt; state holds
 *          P_N_STATE elements: sgd with momentum its buffer, adam and adamw m
 *          then v; t is the 1-based step; docs/training.md)
 * the same with void pointers and a _v suffix (which dc_jit_engine uses),
 * and macros P_N_IN, P_N_OUT, P_N_PARAMS, P_N_STATE, P_N_LAYERS,
 * P_W<l>_OFFSET, P_B<l>_OFFSET. */
int dc_emit(char **out_src, size_t *out_len, const dc_net *net,
            const dc_emit_opts *o, dcr_error *err);

/* The training settings of a spec, as a standalone trainer or
 * dcr_job_run takes them (data paths are not part of them). */
void dc_spec_job(dcr_job *out, const dc_spec *s);

/* ---- JIT --------------------------------------------------------------------- */
typedef enum {
    DC_JIT_TCC = 0, /* libtcc, in memory: milliseconds to compile, plain code */
    DC_JIT_CC       /* the system C compiler (cc -O3 -march=native -shared), loaded with dlopen */
} dc_backend;
typedef struct dc_jit dc_jit;

typedef struct {
    dc_backend backend;
    /* DC_JIT_CC only: */
    const char *cc;        /* the compiler command; NULL: $CC, else "cc" */
    const char *cache_dir; /* compiled objects are kept here by a SHA-256 of source, flags,
                              compiler and CPU; NULL: $DELTAC_CACHE, $XDG_CACHE_HOME/deltac or
                              ~/.cache/deltac; "": no cache (a temporary folder) */
    int exact;             /* no FMA contraction or reassociation: float results equal the
                              reference engine's and libtcc's bit for bit */
} dc_jit_opts;

typedef struct {
    dc_backend backend;
    double compile_ms;   /* dc_jit_compile_opts's own time */
    size_t code_bytes;   /* tcc: the relocated code and data; cc: the shared object file */
    int cache_hit;       /* cc: loaded from the cache without compiling */
} dc_jit_info;

/* Compiles src (len bytes and a NUL) with the backend and options of o
 * (NULL: libtcc). Diagnostics come back in err->msg. Safe to call from
 * several threads at once. *out owns the code: every pointer taken from it
 * dies with dc_jit_free. */
int dc_jit_compile_opts(dc_jit **out, const dc_jit_opts *o, const char *src, size_t len, dcr_error *err);
/* The same with the backend's defaults. */
int dc_jit_compile(dc_jit **out, dc_backend backend, const char *src, size_t len,
                   dcr_error *err);
void *dc_jit_symbol(dc_jit *j, const char *name);
void dc_jit_get_info(const dc_jit *j, dc_jit_info *out);
void dc_jit_free(dc_jit *j);
/* 1 when the C compiler o names (or $CC, or cc) is on PATH. */
int dc_jit_cc_available(const dc_jit_opts *o);
/* The flags DC_JIT_CC compiles with (static text). */
const char *dc_jit_cc_flags(int exact);

/* Fills an engine that runs net's generated functions from j. The engine
 * borrows j and net (keep both alive); release it with dc_jit_engine_free. */
int dc_jit_engine(dcr_engine *out, dc_jit *j, const dc_net *net, dcr_error *err);
void dc_jit_engine_free(dcr_engine *e);

#endif
