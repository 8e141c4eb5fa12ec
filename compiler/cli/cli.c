/* cli.c: argument parsing and messages shared by the commands. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

void cli_usage_error(const char *fmt, const char *arg)
{
    fputs("deltac: ", stderr);
    fprintf(stderr, fmt, arg);
    fputs("\nTry 'deltac --help'.\n", stderr);
    exit(EXIT_USAGE);
}

int cli_fail(const dcr_error *err)
{
    fflush(stdout);
    fprintf(stderr, "deltac: %s\n", err->msg);
    return EXIT_USER;
}

double cli_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

long long cli_int(const char *opt, const char *v, long long lo, long long hi)
{
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (errno || end == v || *end || n < lo || n > hi) {
        fprintf(stderr, "deltac: %s: expected an integer from %lld to %lld, got '%s'\n", opt, lo, hi, v);
        exit(EXIT_USAGE);
    }
    return n;
}

double cli_positive(const char *opt, const char *v)
{
    char *end;
    errno = 0;
    double d = strtod(v, &end);
    if (errno || end == v || *end || !isfinite(d) || d <= 0) {
        fprintf(stderr, "deltac: %s: expected a positive number, got '%s'\n", opt, v);
        exit(EXIT_USAGE);
    }
    return d;
}

int cli_opt(cli_args *a, const char *name, const char *alias, int takes, const char **val)
{
    const char *s = a->argv[a->i];
    size_t n = strlen(name);
    if (takes && strncmp(s, name, n) == 0 && s[n] == '=') {
        *val = s + n + 1;
        return 1;
    }
    if (strcmp(s, name) != 0 && !(alias && strcmp(s, alias) == 0))
        return 0;
    if (takes) {
        if (a->i + 1 >= a->argc)
            cli_usage_error("option %s needs a value", name);
        *val = a->argv[++a->i];
    }
    return 1;
}

void cli_other(cli_args *a)
{
    const char *s = a->argv[a->i];
    if (strcmp(s, "--help") == 0 || strcmp(s, "-h") == 0) {
        fputs(a->usage, stdout);
        exit(0);
    }
    if (s[0] == '-' && s[1])
        cli_usage_error("unknown option '%s'", s);
    if (a->pos)
        cli_usage_error("unexpected argument '%s'", s);
    a->pos = s;
}

void cli_need_pos(cli_args *a)
{
    if (!a->pos) {
        fputs(a->usage, stderr);
        exit(EXIT_USAGE);
    }
}

char *cli_command_line(int argc, char **argv)
{
    size_t n = 8;
    for (int i = 1; i < argc; i++)
        n += strlen(argv[i]) + 1;
    char *s = malloc(n);
    if (!s)
        return NULL;
    strcpy(s, "deltac");
    for (int i = 1; i < argc; i++) {
        strcat(s, " ");
        strcat(s, argv[i]);
    }
    return s;
}

void cli_describe(FILE *f, const dc_net *n)
{
    const dcr_arch *a = &n->arch;
    fprintf(f, "%s: %d", n->name, a->sizes[0]);
    for (int l = 1; l <= a->n_layers; l++)
        fprintf(f, " -> %d %s", a->sizes[l], dcr_act_name(a->act[l]));
    fprintf(f, ", loss %s, %s, %zu parameters\n", dcr_loss_name(a->loss), dcr_dtype_name(a->dtype),
            n->n_params);
}
