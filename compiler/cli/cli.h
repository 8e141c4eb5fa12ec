/* cli.h: what the deltac command's files share. Only the CLI prints and
 * exits; the libraries return errors. */
#ifndef DC_CLI_H
#define DC_CLI_H

#include <stdio.h>

#include "deltac.h"

#define EXIT_USER 1  /* an error in the input: spec, data, checkpoint, training */
#define EXIT_USAGE 2 /* an unknown command or option, a malformed value */
#define EXIT_INTERRUPTED 130 /* train: stopped by Ctrl-C (SIGINT), as a shell reports it */

/* ---- cli.c: arguments and messages ------------------------------------------ */
typedef struct {
    int argc;
    char **argv;
    int i;
    const char *pos;   /* the positional argument (SPEC, CKPT or DIR) */
    const char *usage; /* the command's --help text */
} cli_args;

/* 1 when argv[i] is option name (or alias), taking its value into *val
 * when takes ("--name VALUE" or "--name=VALUE"). */
int cli_opt(cli_args *a, const char *name, const char *alias, int takes, const char **val);
/* Anything else: --help, an unknown option (exit 2), or the positional. */
void cli_other(cli_args *a);
/* Exits 2 with the usage when the positional is missing. */
void cli_need_pos(cli_args *a);
long long cli_int(const char *opt, const char *v, long long lo, long long hi);
double cli_positive(const char *opt, const char *v);
void cli_usage_error(const char *fmt, const char *arg) __attribute__((noreturn));
int cli_fail(const dcr_error *err); /* prints, returns EXIT_USER */
double cli_now(void);
char *cli_command_line(int argc, char **argv); /* "deltac ..." (caller frees) */
void cli_describe(FILE *f, const dc_net *n);

/* ---- build.c: from a spec to a running engine ---------------------------------- */
/* How to run the network: the options --engine, --jit and --exact-math. */
typedef struct {
    int reference;      /* the generic loop-based engine instead of generated code */
    dc_backend backend; /* DC_JIT_TCC (default) or DC_JIT_CC */
    int exact;          /* cc: no FMA contraction or reassociation (bit-identical to tcc) */
    dc_strategy unroll; /* --unroll: DC_EMIT_AUTO by default */
} cli_engine;

#define CLI_ENGINE_HELP                                                                      \
    "  --engine NAME         jit (default): the generated code; reference: the generic\n"   \
    "                        loop-based engine\n"                                            \
    "  --jit NAME            tcc (default): libtcc, in memory; cc: the system C compiler\n"  \
    "                        (-O3 -march=native), cached in ~/.cache/deltac ($DELTAC_CACHE)\n" \
    "  --exact-math          with --jit cc: no FMA contraction or reassociation, so the\n"   \
    "                        results equal libtcc's and the reference engine's bit for bit\n" \
    "  --unroll MODE         auto (default): per layer, by the cost model for the backend;\n" \
    "                        full: every weight a statement; loops: constant-bound loops;\n" \
    "                        blocked: loops over rows of W, each row written out;\n"     \
    "                        kernels (libtcc): loops calling deltac's compiled row kernels\n"

#define CLI_ENGINE_DEFAULT {0, DC_JIT_TCC, 0, DC_EMIT_AUTO}
/* 1 when argv[a->i] is one of the engine options (taken into *e). */
int cli_engine_opt(cli_args *a, cli_engine *e);
/* --unroll's value (exits 2 on a bad one) */
dc_strategy cli_unroll(const char *v);

typedef struct {
    dc_net net;
    dc_jit *jit;
    dcr_engine engine;
    int is_ref;
    double compile_ms; /* emission and compilation */
    double emit_ms;    /* emission alone (part of compile_ms) */
    size_t src_len;
    dc_jit_info info;  /* the compiler's side */
} cli_built;

/* The spec and its IR. On failure both are empty. */
int cli_load(dc_spec *s, dc_net *n, const char *path, dcr_error *err);
/* The engine e asks for (NULL: the libtcc JIT) for net. With --jit cc and
 * no C compiler, says so on stderr and uses libtcc. */
int cli_build(cli_built *b, const dc_net *net, const cli_engine *e, const char *cmd, dcr_error *err);
/* "libtcc compiled 4,910 bytes of C in 0.8 ms" and the like, into out */
void cli_built_say(char *out, size_t cap, const cli_built *b);
void cli_unbuild(cli_built *b);
/* io's data paths: the spec's "data" section (the rest of io zeroed) */
void cli_spec_io(dcr_job_io *io, const dc_spec *s);
/* A checkpoint's parameters for spec s (read and checked); caller frees. */
int cli_load_params(void **params, const char *ckpt, const dc_spec *s, dcr_error *err);

/* cmd_params.c: params as DIR/W1.npy, b1.npy, ... ([out, in] and [out]), DIR created */
int cli_npy_write_params(const char *dir, const dcr_arch *a, const void *params, dcr_error *err);

/* ---- the commands ------------------------------------------------------------------ */
int cmd_check(int argc, char **argv);
int cmd_emit(int argc, char **argv);
int cmd_gradcheck(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_predict(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_import(int argc, char **argv);
int cmd_bench(int argc, char **argv);

#endif
