/* jit.h: what a JIT backend provides to jit.c. */
#ifndef DC_JIT_H
#define DC_JIT_H

#include "dcr.h"

int dc_jit_tcc_compile(void **out, const char *src, dcr_error *err);
void *dc_jit_tcc_symbol(void *state, const char *name);
void dc_jit_tcc_free(void *state);

#endif
