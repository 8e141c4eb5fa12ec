/* jit.h: what a JIT backend provides to jit.c. */
#ifndef DC_JIT_H
#define DC_JIT_H

#include "deltac.h"

/* jit_tcc.c: libtcc, in memory */
int dc_jit_tcc_compile(void **out, const char *src, dcr_error *err);
void *dc_jit_tcc_symbol(void *state, const char *name);
size_t dc_jit_tcc_code_bytes(void *state);
void dc_jit_tcc_free(void *state);

/* jit_cc.c: the system C compiler into a cached shared object */
int dc_jit_cc_compile(void **out, const char *src, size_t len, const dc_jit_opts *o, dcr_error *err);
void *dc_jit_cc_symbol(void *state, const char *name);
void dc_jit_cc_info(void *state, size_t *code_bytes, int *cache_hit);
void dc_jit_cc_free(void *state);

#endif
