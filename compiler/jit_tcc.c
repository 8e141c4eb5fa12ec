/* jit_tcc.c: the libtcc backend. libtcc keeps global state, so every call
 * into it happens under one mutex; it can also exit(1) on a failed
 * allocation, so sources are capped before they reach it. The generated code
 * includes no headers: it gets its libm functions from us by address, and
 * tcc's own helpers from libtcc1.a (Debian package tcc). */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include <libtcc.h>

#include "internal.h"
#include "jit.h"
#include "kernels.h"

#define TCC_LIBTCC1 DC_TCC_LIB_DIR "/libtcc1.a"

static pthread_mutex_t tcc_lock = PTHREAD_MUTEX_INITIALIZER;

typedef struct {
    TCCState *s;
    size_t code_bytes;
} tcc_state;

typedef struct {
    char msg[DCR_MSG_MAX - 64];
    size_t len;
} diag;

static void on_diag(void *opaque, const char *m)
{
    diag *d = opaque;
    if (d->len + 2 >= sizeof d->msg)
        return;
    int n = snprintf(d->msg + d->len, sizeof d->msg - d->len, "%s%s", d->len ? "\n" : "", m);
    if (n > 0)
        d->len += (size_t)n < sizeof d->msg - d->len ? (size_t)n : sizeof d->msg - d->len - 1;
}

/* Debian's snapshot takes (state, ptr); current TinyCC takes only the state. */
static int relocate(TCCState *s)
{
#ifdef TCC_RELOCATE_AUTO
    return tcc_relocate(s, TCC_RELOCATE_AUTO);
#else
    return tcc_relocate(s);
#endif
}

typedef struct {
    const char *name;
    const void *addr;
} host_sym;

static int add_host_symbols(TCCState *s)
{
    /* taken by address so the generated code calls exactly the host's libm */
    double (*d1[5])(double) = {exp, tanh, log, log1p, expm1};
    float (*f1[5])(float) = {expf, tanhf, logf, log1pf, expm1f};
    const host_sym syms[] = {
        {"exp", (const void *)d1[0]},  {"tanh", (const void *)d1[1]},  {"log", (const void *)d1[2]},
        {"log1p", (const void *)d1[3]}, {"expm1", (const void *)d1[4]},
        {"expf", (const void *)f1[0]}, {"tanhf", (const void *)f1[1]}, {"logf", (const void *)f1[2]},
        {"log1pf", (const void *)f1[3]}, {"expm1f", (const void *)f1[4]},
    };
    for (size_t i = 0; i < sizeof syms / sizeof *syms; i++)
        if (tcc_add_symbol(s, syms[i].name, syms[i].addr) < 0)
            return -1;
    /* the optimizers' update (adam, adamw) */
    double (*pow_fn)(double, double) = pow;
    double (*sqrt_fn)(double) = sqrt;
    float (*sqrtf_fn)(float) = sqrtf;
    if (tcc_add_symbol(s, "pow", (const void *)pow_fn) < 0 || tcc_add_symbol(s, "sqrt", (const void *)sqrt_fn) < 0 ||
        tcc_add_symbol(s, "sqrtf", (const void *)sqrtf_fn) < 0)
        return -1;
    /* the row kernels of --unroll kernels (compiler/kernels.c) */
    const host_sym kern[] = {
        {"dck_rows8f", (const void *)dck_rows8f}, {"dck_rows8d", (const void *)dck_rows8d},
        {"dck_scalef", (const void *)dck_scalef}, {"dck_scaled", (const void *)dck_scaled},
        {"dck_axpyf", (const void *)dck_axpyf},   {"dck_axpyd", (const void *)dck_axpyd},
        {"dck_sgdf", (const void *)dck_sgdf},     {"dck_sgdd", (const void *)dck_sgdd},
        {"dck_zerof", (const void *)dck_zerof},   {"dck_zerod", (const void *)dck_zerod},
        {"dck_sgdrowf", (const void *)dck_sgdrowf}, {"dck_sgdrowd", (const void *)dck_sgdrowd},
        {"dck_sgdlayerf", (const void *)dck_sgdlayerf}, {"dck_sgdlayerd", (const void *)dck_sgdlayerd},
        {"dck_tanhf", (const void *)dck_tanhf},   {"dck_tanhd", (const void *)dck_tanhd},
        {"dck_sigmoidf", (const void *)dck_sigmoidf}, {"dck_sigmoidd", (const void *)dck_sigmoidd},
        {"dck_expsubf", (const void *)dck_expsubf}, {"dck_expsubd", (const void *)dck_expsubd},
    };
    for (size_t i = 0; i < sizeof kern / sizeof *kern; i++)
        if (tcc_add_symbol(s, kern[i].name, kern[i].addr) < 0)
            return -1;
    return 0;
}

int dc_jit_tcc_compile(void **out, const char *src, dcr_error *err)
{
    *out = NULL;
    if (access(TCC_LIBTCC1, R_OK) != 0)
        return dcr_fail(err, DCR_ERR_JIT, "%s is missing: apt-get install tcc", TCC_LIBTCC1);
    diag d = {{0}, 0};
    pthread_mutex_lock(&tcc_lock);
    TCCState *s = tcc_new();
    if (!s) {
        pthread_mutex_unlock(&tcc_lock);
        return dcr_fail(err, DCR_ERR_NOMEM, "libtcc: tcc_new failed");
    }
    tcc_set_error_func(s, &d, on_diag);
    tcc_set_lib_path(s, DC_TCC_LIB_DIR);
    tcc_set_options(s, "-nostdlib");
    int rc = tcc_set_output_type(s, TCC_OUTPUT_MEMORY);
    const char *stage = "setting up";
    if (rc >= 0) {
        stage = "compiling";
        rc = tcc_compile_string(s, src);
    }
    if (rc >= 0) {
        stage = "linking";
        rc = add_host_symbols(s);
    }
    if (rc >= 0)
        rc = tcc_add_file(s, TCC_LIBTCC1);
    int size = 0;
#ifdef TCC_RELOCATE_AUTO
    if (rc >= 0)
        rc = size = tcc_relocate(s, NULL); /* the code's size: what relocate allocates */
#endif
    if (rc >= 0)
        rc = relocate(s);
    if (rc < 0) {
        tcc_delete(s);
        pthread_mutex_unlock(&tcc_lock);
        return dcr_fail(err, DCR_ERR_JIT, "libtcc failed %s the generated code:\n%s", stage,
                        d.len ? d.msg : "(no message)");
    }
    pthread_mutex_unlock(&tcc_lock);
    tcc_state *t = malloc(sizeof *t);
    if (!t) {
        pthread_mutex_lock(&tcc_lock);
        tcc_delete(s);
        pthread_mutex_unlock(&tcc_lock);
        return dcr_fail(err, DCR_ERR_NOMEM, "out of memory");
    }
    t->s = s;
    t->code_bytes = (size_t)size;
    *out = t;
    return 0;
}

void *dc_jit_tcc_symbol(void *state, const char *name)
{
    tcc_state *t = state;
    pthread_mutex_lock(&tcc_lock);
    void *p = tcc_get_symbol(t->s, name);
    pthread_mutex_unlock(&tcc_lock);
    return p;
}

size_t dc_jit_tcc_code_bytes(void *state)
{
    return ((tcc_state *)state)->code_bytes;
}

void dc_jit_tcc_free(void *state)
{
    tcc_state *t = state;
    if (!t)
        return;
    pthread_mutex_lock(&tcc_lock);
    tcc_delete(t->s);
    pthread_mutex_unlock(&tcc_lock);
    free(t);
}
