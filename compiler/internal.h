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

/* What every strategy is handed: the net, the C spelling of its scalar type
 * and of the libm functions for that type. */
typedef struct {
    const dc_net *net;
    const char *T;        /* "float" or "double" */
    const char *lit;      /* suffix for literals: "f" or "" */
    const char *exp, *tanh, *log;
    const char *P;        /* the name prefix */
    const char *log1p, *expm1; /* also libm, for softplus, elu and binary_cross_entropy */
} dc_emit_ctx;

/* A strategy writes P_forward, P_loss_grad and P_update (see deltac.h);
 * emit.c writes the rest of the file around them. */
typedef void (*dc_strategy_fn)(dc_buf *b, const dc_emit_ctx *c);

/* The runtime's sources as one text (runtime_bundle.c, made at build time
 * by compiler/tools/embed.c), pasted into standalone trainers. */
extern const char dc_runtime_bundle[];
extern const size_t dc_runtime_bundle_len;

/* ---- emit_unrolled.c ------------------------------------------------------ */
void dc_emit_unrolled(dc_buf *b, const dc_emit_ctx *c);
/* Estimated bytes of source for net, to refuse before emitting. */
uint64_t dc_emit_unrolled_estimate(const dc_net *net);

#endif
