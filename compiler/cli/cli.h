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
typedef struct {
    dc_net net;
    dc_jit *jit;
    dcr_engine engine;
    int is_ref;
    double compile_ms; /* emission and compilation */
    size_t src_len;
} cli_built;

/* The spec and its IR. On failure both are empty. */
int cli_load(dc_spec *s, dc_net *n, const char *path, dcr_error *err);
/* The JIT engine (or with reference, the generic one) for net. */
int cli_build(cli_built *b, const dc_net *net, int reference, const char *cmd, dcr_error *err);
void cli_unbuild(cli_built *b);
/* A checkpoint's parameters for spec s (read and checked); caller frees. */
int cli_load_params(void **params, const char *ckpt, const dc_spec *s, dcr_error *err);

/* ---- the commands ------------------------------------------------------------------ */
int cmd_check(int argc, char **argv);
int cmd_emit(int argc, char **argv);
int cmd_gradcheck(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_predict(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_import(int argc, char **argv);

#endif
