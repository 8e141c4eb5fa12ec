/* internal.h: what the compiler's files share and nobody else sees.
 * One section per file. */
#ifndef DC_INTERNAL_H
#define DC_INTERNAL_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include <cjson/cJSON.h>

#include "deltac.h"

#define DC_PRINTF(f, a) __attribute__((format(printf, f, a)))

/* An internal invariant broke: a bug in deltac, not a user error. */
#define DC_DIE(...) dc_die(__FILE__, __LINE__, __VA_ARGS__)
#define DC_ASSERT(c) ((c) ? (void)0 : DC_DIE("assertion failed: %s", #c))
_Noreturn void dc_die(const char *file, int line, const char *fmt, ...) DC_PRINTF(3, 4);

/* ---- json_pos.c: where each cJSON item sits in the text ------------------- */
typedef struct {
    const cJSON *item;
    size_t key_off;   /* the member's key, or the value for array elements */
    size_t val_off;
} dc_jpos_entry;

typedef struct {
    dc_jpos_entry *v;
    size_t n, cap;
} dc_jpos;

/* Offsets of every item of root, which cJSON parsed from text. Returns -1
 * only when out of memory. Free with dc_jpos_free. */
int dc_jpos_build(dc_jpos *out, const cJSON *root, const char *text, size_t len);
void dc_jpos_free(dc_jpos *p);
/* The offset of item's value (or key) in the text; 0 when unknown. */
size_t dc_jpos_value(const dc_jpos *p, const cJSON *item);
size_t dc_jpos_key(const dc_jpos *p, const cJSON *item);
/* 1-based line and column (in bytes) of offset off. */
void dc_line_col(int *line, int *col, const char *text, size_t len, size_t off);
/* Offset of the first bracket deeper than limit outside strings, or
 * (size_t)-1 when none is. */
size_t dc_json_too_deep(const char *text, size_t len, int limit);

/* ---- emit.c: the emitter's output buffer --------------------------------- */
typedef struct {
    char *p;
    size_t len, cap;
    size_t limit;      /* DC_MAX_SOURCE_BYTES */
    int failed;        /* out of memory or over the limit: appends are ignored */
    int over_limit;
} dc_buf;

void dc_buf_printf(dc_buf *b, const char *fmt, ...) DC_PRINTF(2, 3);
void dc_buf_puts(dc_buf *b, const char *s);

/* How one layer is written (dc_emit_ctx.loops[l]) */
enum { DC_LAYER_UNROLLED = 0, DC_LAYER_LOOPS = 1, DC_LAYER_BLOCKED = 2, DC_LAYER_KERNELS = 3 };

/* What every strategy is handed: the net, the C spelling of its scalar type
 * and of the libm functions for that type. */
typedef struct {
    const dc_net *net;
    const char *T;        /* "float" or "double" */
    const char *lit;      /* suffix for literals: "f" or "" */
    const char *exp, *tanh, *log;
    const char *P;        /* the name prefix */
    const char *log1p, *expm1; /* also libm, for softplus, elu and binary_cross_entropy */
    unsigned char loops[DCR_MAX_LAYERS + 1]; /* layer l: DC_LAYER_UNROLLED, _LOOPS or _BLOCKED */
    int update_loops;     /* P_update: DC_LAYER_UNROLLED, _LOOPS or _BLOCKED */
    int batched;          /* P_batch_grad with the register-blocked kernels of emit_batch.c */
    int fast_math;        /* exp, tanh are compiler/fastmath.h's DCM_ functions, not libm's */
    int act_kernels;      /* libtcc fast mode: tanh, sigmoid and softmax's exp through the
                             vectorised kernels of compiler/kernels_act.c */
    int tcc_jit;          /* compiled by the libtcc JIT: compiler/kernels.c may be called */
} dc_emit_ctx;

/* emit.c: each layer's form under strategy st for the target backend
 * (loops[0..DCR_MAX_LAYERS], DC_LAYER_*) and P_update's; kernels_ok when the
 * code is for the libtcc JIT (compiler/kernels.c can be called). */
void dc_emit_plan(unsigned char *loops, int *update_loops, const dc_net *net, dc_strategy st, dc_backend target,
                  int kernels_ok);

/* The runtime's sources as one text (runtime_bundle.c, made at build time
 * by compiler/tools/embed.c), pasted into standalone trainers. */
extern const char dc_runtime_bundle[];
extern const size_t dc_runtime_bundle_len;
/* compiler/fastmath.h as text (fastmath_text.c, made the same way) */
extern const char dc_fastmath_text[];
extern const size_t dc_fastmath_text_len;

/* ---- emit_act.c: statements shared by the strategies ------------------------ */
/* A constant of type T that reads back exactly (with a point or exponent). */
void dc_fmt_const(char *out, size_t cap, const dc_emit_ctx *c, double v);
/* v rounded to T, as a literal that reads back exactly */
void dc_opt_const(char *out, size_t cap, const dc_emit_ctx *c, double v);
/* The T locals an activation's statements use (al; gh, gk, gc; with deriv gc3, th). */
void dc_emit_act_locals(dc_buf *b, const dc_emit_ctx *c, dcr_act act, double alpha, int deriv);
/* "DST[j] = t * sigma'(unit j)", j a constant or a loop variable */
void dc_emit_deriv(dc_buf *b, const dc_emit_ctx *c, dcr_act act, const char *dst, const char *t, const char *j);
void dc_emit_softplus(dc_buf *b, const dc_emit_ctx *c, const char *dst, const char *v);
/* "a[k] = sigma(z[k])" for an element-wise activation */
void dc_emit_act_fwd(dc_buf *b, const dc_emit_ctx *c, dcr_act act, const char *k);
/* the softmax of one row over locals z, a, m, s, k (emit_act.c) */
void dc_emit_softmax_row(dc_buf *b, const dc_emit_ctx *c, int n, const char *ind);
/* With c->act_kernels, a layer's tanh or sigmoid as one kernel call over
 * its n units (a from z); returns 0 (and writes nothing) otherwise. */
int dc_emit_act_kernel(dc_buf *b, const dc_emit_ctx *c, dcr_act act, int n);
/* output unit k's loss term and delta */
void dc_emit_out_unit(dc_buf *b, const dc_emit_ctx *c, const char *k);
/* k as text in buf[16] (returned) */
static inline const char *dc_idx(char *buf, int k)
{
    snprintf(buf, 16, "%d", k);
    return buf;
}

/* ---- the layers' functions, per strategy ---------------------------------------
 * P_fwdL (layer l), P_out (loss and output delta), P_bwdL (delta of layer l
 * through W(l+1)), P_gradL (gradient of W(l), b(l)). */
#define DC_CHAIN_LINE 8 /* products per line of an unrolled sum */
void dc_unrolled_fwd(dc_buf *b, const dc_emit_ctx *c, int l);
void dc_unrolled_out(dc_buf *b, const dc_emit_ctx *c);
void dc_unrolled_bwd(dc_buf *b, const dc_emit_ctx *c, int l);
void dc_unrolled_grad(dc_buf *b, const dc_emit_ctx *c, int l);
void dc_loops_fwd(dc_buf *b, const dc_emit_ctx *c, int l);
void dc_loops_out(dc_buf *b, const dc_emit_ctx *c);
void dc_loops_bwd(dc_buf *b, const dc_emit_ctx *c, int l);
void dc_loops_grad(dc_buf *b, const dc_emit_ctx *c, int l);

/* ---- emit_batch.c: the register-blocked minibatch driver ------------------ */
#define DC_SB 8 /* samples per block */
#define DC_TILE_UNITS 4 /* units per tile of the sample-minor kernels (float32: 8 vectors) */
/* 1 when the block's scratch fits the stack budget */
int dc_batch_fits(const dc_net *n);
void dc_emit_batch_driver(dc_buf *b, const dc_emit_ctx *c);

/* ---- emit_net.c: the network's functions around the layers' --------------- */
#define DC_LANE_MAX 16       /* cc fast mode: layers of at most this many inputs and units take the lane forms */
#define DC_LANE_ROWS_MAX 256 /* ... and of 8-16 inputs, up to this many units (emit_loops.c; acc[] is 4 per unit) */
/* a layer (and the delta through its W) in the lane forms */
int dc_lanes_layer(const dc_emit_ctx *c, int l);
#define DC_SGD_UNROLL_MAX 4096 /* weights of an unrolled layer whose fused SGD step is written out */
void dc_emit_net(dc_buf *b, const dc_emit_ctx *c);

/* An upper bound of the source's size with the plan's choices, to refuse
 * a network before emitting it. */
uint64_t dc_emit_estimate(const dc_net *net, const unsigned char *loops, int update_loops);

#endif
