/* csv.c: strict numeric CSV files into a dcr_dataset.
 *
 * Strict because a silently misread row trains a wrong network: every field
 * must be a finite number, every row the same width, and every error names
 * FILE:LINE:COL (1-based, COL in bytes, counted after a UTF-8 BOM) so the user
 * can jump to it. Numbers are read with strtod, so the decimal point follows
 * LC_NUMERIC; deltac never calls setlocale, which keeps it ".". */
#define _POSIX_C_SOURCE 200809L /* fstat, fileno */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "dcr_internal.h"

/* The whole file is read into memory; beyond this it is refused rather than
 * risking the machine. */
#ifndef DCR_MAX_CSV_BYTES
#define DCR_MAX_CSV_BYTES ((size_t)1 << 30)
#endif

/* Echoed field text is cut to this many bytes so that one huge field cannot
 * crowd the rest out of the message. */
#define ECHO_MAX 32

static int read_file(char **out, size_t *out_len, const char *path, dcr_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return dcr_fail(err, DCR_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    /* A regular file's size is checked before anything is allocated and
     * sizes the buffer (it may still grow while it is read); a pipe is read
     * as it comes, the limit checked as the buffer grows. */
    size_t cap = 1 << 16, len = 0;
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode)) {
        if (st.st_size < 0 || (uintmax_t)st.st_size > (uintmax_t)DCR_MAX_CSV_BYTES) {
            fclose(f);
            return dcr_fail(err, DCR_ERR_LIMIT, "%s: file is larger than %zu bytes (DCR_MAX_CSV_BYTES)", path,
                            (size_t)DCR_MAX_CSV_BYTES);
        }
        if ((size_t)st.st_size >= cap)
            cap = (size_t)st.st_size + 1; /* + 1: the end is seen without growing */
    }
    char *buf = malloc(cap + 1);
    if (!buf) {
        fclose(f);
        return dcr_fail(err, DCR_ERR_NOMEM, "%s: out of memory", path);
    }
    for (;;) {
        if (len == cap) {
            if (cap > DCR_MAX_CSV_BYTES) {
                free(buf);
                fclose(f);
                return dcr_fail(err, DCR_ERR_LIMIT,
                                "%s: file is larger than %zu bytes (DCR_MAX_CSV_BYTES)",
                                path, (size_t)DCR_MAX_CSV_BYTES);
            }
            /* One byte past the limit is enough to know the file is too big. */
            size_t ncap = cap > DCR_MAX_CSV_BYTES / 2 ? DCR_MAX_CSV_BYTES + 1 : cap * 2;
            char *nb = realloc(buf, ncap + 1);
            if (!nb) {
                free(buf);
                fclose(f);
                return dcr_fail(err, DCR_ERR_NOMEM, "%s: out of memory", path);
            }
            buf = nb;
            cap = ncap;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0) {
            if (ferror(f)) {
                int e = errno;
                free(buf);
                fclose(f);
                return dcr_fail(err, DCR_ERR_IO, "%s: cannot read: %s", path,
                                e ? strerror(e) : "read error");
            }
            break;
        }
    }
    fclose(f);
    if (len > DCR_MAX_CSV_BYTES) {
        free(buf);
        return dcr_fail(err, DCR_ERR_LIMIT, "%s: file is larger than %zu bytes (DCR_MAX_CSV_BYTES)",
                        path, (size_t)DCR_MAX_CSV_BYTES);
    }
    /* The terminator lets strtod stop at the last field of a file without a
     * final newline. */
    buf[len] = '\0';
    *out = buf;
    *out_len = len;
    return 0;
}

/* Walks physical lines; a line excludes its "\n" and a "\r" before it. */
typedef struct {
    char *p, *end;
    size_t next_no; /* number of the line p starts */
} lines;

static int next_line(lines *c, char **ls, char **le, size_t *no)
{
    if (c->p == c->end)
        return 0;
    char *s = c->p;
    char *nl = memchr(s, '\n', (size_t)(c->end - s));
    char *e = nl ? nl : c->end;
    c->p = nl ? nl + 1 : c->end;
    if (e > s && e[-1] == '\r')
        e--;
    *ls = s;
    *le = e;
    *no = c->next_no++;
    return 1;
}

static int is_blank(const char *s, const char *e)
{
    for (; s < e; s++)
        if (*s != ' ' && *s != '\t')
            return 0;
    return 1;
}

static size_t count_fields(const char *s, const char *e)
{
    size_t n = 1;
    for (; s < e; s++)
        n += *s == ',';
    return n;
}

typedef struct {
    const char *path;
    size_t line;
    const char *ls; /* start of the line, for columns */
    dcr_error *err;
} where;

static int fail_at(const where *w, const char *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail_at(const where *w, const char *at, const char *fmt, ...)
{
    char what[DCR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return dcr_fail(w->err, DCR_ERR_DATA, "%s:%zu:%zu: %s", w->path, w->line,
                    (size_t)(at - w->ls) + 1, what);
}

/* The field's text [a, b) for a message: cut, and with control bytes (a NUL
 * would end the text early) shown as '?'. */
typedef struct {
    char s[ECHO_MAX + 4];
} echo_buf;

static const char *echo(echo_buf *e, const char *a, const char *b)
{
    size_t n = (size_t)(b - a), i;
    for (i = 0; i < n && i < ECHO_MAX; i++)
        e->s[i] = (unsigned char)a[i] < 0x20 || a[i] == 0x7f ? '?' : a[i];
    if (n > ECHO_MAX)
        for (int k = 0; k < 3; k++)
            e->s[i++] = '.';
    e->s[i] = '\0';
    return e->s;
}

static void trim(char **a, char **b)
{
    while (*a < *b && (**a == ' ' || **a == '\t'))
        (*a)++;
    while (*b > *a && ((*b)[-1] == ' ' || (*b)[-1] == '\t'))
        (*b)--;
}

/* Parses the field [fs, fe) into *v; surrounding spaces and tabs allowed. */
static int parse_number(double *v, char *fs, char *fe, const where *w)
{
    char *a = fs, *b = fe;
    echo_buf eb;
    trim(&a, &b);
    if (a == b)
        return fail_at(w, fs, "empty field");
    /* strtod would skip other white space (a stray "\r", "\f") silently. */
    if (isspace((unsigned char)*a))
        return fail_at(w, fs, "'%s' is not a number", echo(&eb, a, b));
    char save = *b;
    *b = '\0';
    char *q;
    double x = strtod(a, &q);
    *b = save;
    if (q != b)
        return fail_at(w, fs, "'%s' is not a number%s", echo(&eb, a, b),
                       w->line == 1 ? " (is line 1 a header?)" : "");
    if (!isfinite(x))
        return fail_at(w, fs, "'%s' is not a finite number", echo(&eb, a, b));
    *v = x;
    return 0;
}

static int parse_label(int *label, char *fs, char *fe, int n_out, const where *w)
{
    double x;
    if (parse_number(&x, fs, fe, w))
        return -1;
    char *a = fs, *b = fe;
    trim(&a, &b);
    echo_buf eb;
    if (floor(x) != x)
        return fail_at(w, fs, "class label %s is not an integer", echo(&eb, a, b));
    if (x < 0 || x >= n_out)
        return fail_at(w, fs, "class label %s out of range 0..%d (the output layer has %d unit%s)",
                       echo(&eb, a, b), n_out - 1, n_out, n_out == 1 ? "" : "s");
    *label = (int)x;
    return 0;
}

/* Resolves target_column against rows of width fields into the first target
 * field's index. */
static int target_start(int *start, const dcr_csv_opts *o, int width, int n_targets,
                        dcr_error *err)
{
    long long s = o->target_column < 0 ? (long long)width + o->target_column
                                       : (long long)o->target_column;
    if (s < 0 || s + n_targets > width) {
        if (n_targets == 1)
            return dcr_fail(err, DCR_ERR_SPEC,
                            "target column %d is out of range: rows have %d fields, so it "
                            "must be in 0..%d or -%d..-1",
                            o->target_column, width, width - 1, width);
        return dcr_fail(err, DCR_ERR_SPEC,
                        "target column %d is out of range: rows have %d fields and the %d "
                        "targets must fit from it, so it must be in 0..%d or -%d..-%d",
                        o->target_column, width, n_targets, width - n_targets, width,
                        n_targets);
    }
    *start = (int)s;
    return 0;
}

int dcr_csv_load(dcr_dataset *out, const char *path, const dcr_csv_opts *o, int n_in,
                 int n_out, dcr_error *err)
{
    if (!out || !path || !o || n_in < 1 || n_out < 1)
        return dcr_fail(err, DCR_ERR_USAGE, "dcr_csv_load: bad arguments");
    if (o->kind != DCR_TARGET_CLASS && o->kind != DCR_TARGET_VALUES && o->kind != DCR_TARGET_NONE)
        return dcr_fail(err, DCR_ERR_USAGE, "dcr_csv_load: bad target kind");
    int is_class = o->kind == DCR_TARGET_CLASS;
    int n_targets = is_class ? 1 : o->kind == DCR_TARGET_NONE ? 0 : n_out;
    if (n_targets > INT_MAX - n_in)
        return dcr_fail(err, DCR_ERR_LIMIT, "dcr_csv_load: too many columns");
    int width = n_in + n_targets;
    int start = width; /* no target field */
    if (n_targets > 0 && target_start(&start, o, width, n_targets, err))
        return -1;

    char *buf = NULL;
    size_t len = 0;
    if (read_file(&buf, &len, path, err))
        return -1;
    char *text = buf;
    if (len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0)
        text += 3;

    /* First pass: rows that have the right width bound the rows we keep, so
     * the arrays are sized to what the file can fill, not to its line count. */
    lines c = {text, buf + len, 1};
    char *ls, *le;
    size_t no, cap_rows = 0;
    int first = 1;
    if (o->header && c.p == c.end) {
        free(buf);
        return dcr_fail(err, DCR_ERR_DATA, "%s:1:1: the file is empty (expected a header line)",
                        path);
    }
    while (next_line(&c, &ls, &le, &no)) {
        if (first && o->header) {
            first = 0;
            continue;
        }
        first = 0;
        if (!is_blank(ls, le) && count_fields(ls, le) == (size_t)width)
            cap_rows++;
    }

    double *x = NULL, *y = NULL;
    int *label = NULL;
    size_t nx, ny;
    if (!dcr_dataset_fits(cap_rows, (size_t)n_in, (size_t)n_out, is_class)) {
        free(buf);
        return dcr_fail(err, DCR_ERR_LIMIT,
                        "%s: %zu rows of %d inputs and %d outputs take more than %llu bytes "
                        "(DCR_MAX_DATASET_BYTES)",
                        path, cap_rows, n_in, n_out, (unsigned long long)DCR_MAX_DATASET_BYTES);
    }
    /* the products fit: dcr_dataset_fits checked them */
    nx = cap_rows * (size_t)n_in * sizeof(double);
    ny = cap_rows * (size_t)n_out * sizeof(double);
    if (cap_rows > 0) {
        x = malloc(nx);
        y = calloc(1, ny);
        label = is_class ? malloc(cap_rows * sizeof(int)) : NULL;
        if (!x || !y || (is_class && !label)) {
            free(x);
            free(y);
            free(label);
            free(buf);
            return dcr_fail(err, DCR_ERR_NOMEM, "%s: out of memory for %zu rows", path, cap_rows);
        }
    }

    /* Second pass: everything is checked in file order, so the first error
     * in the file is the one reported. */
    c = (lines){text, buf + len, 1};
    size_t rows = 0, blank_no = 0;
    int rc = 0;
    first = 1;
    where w = {path, 0, NULL, err};
    while (rc == 0 && next_line(&c, &ls, &le, &no)) {
        w.line = no;
        w.ls = ls;
        if (first && o->header) {
            first = 0;
            continue;
        }
        first = 0;
        if (is_blank(ls, le)) {
            if (!blank_no)
                blank_no = no;
            continue;
        }
        if (blank_no) {
            /* A gap means the file was cut or concatenated; trailing blank
             * lines are what editors leave and are harmless. */
            rc = dcr_fail(err, DCR_ERR_DATA,
                          "%s:%zu:1: blank line (only blank lines at the end of the file "
                          "are allowed)",
                          path, blank_no);
            break;
        }
        size_t nf = count_fields(ls, le);
        if (nf != (size_t)width) {
            if (rows == 0) {
                rc = dcr_fail(err, DCR_ERR_DATA,
                              "%s:%zu:1: row has %zu field%s; the network needs %d input%s + "
                              "%d target field%s",
                              path, no, nf, nf == 1 ? "" : "s", n_in, n_in == 1 ? "" : "s",
                              n_targets, n_targets == 1 ? "" : "s");
                break;
            }
            /* Point at the first extra field, or where the missing one
             * should start. */
            const char *at = le;
            if (nf > (size_t)width) {
                int commas = 0;
                for (at = ls; at < le; at++)
                    if (*at == ',' && ++commas == width)
                        break;
                at++;
            }
            rc = dcr_fail(err, DCR_ERR_DATA, "%s:%zu:%zu: expected %d fields, got %zu", path, no,
                          (size_t)(at - ls) + 1, width, nf);
            break;
        }
        DCR_ASSERT(rows < cap_rows);
        double *xr = x + rows * (size_t)n_in;
        double *yr = y + rows * (size_t)n_out;
        char *fs = ls;
        int xi = 0;
        for (int f = 0; f < width; f++) {
            char *fe = f == width - 1 ? le : memchr(fs, ',', (size_t)(le - fs));
            DCR_ASSERT(fe);
            if (is_class && f == start) {
                rc = parse_label(&label[rows], fs, fe, n_out, &w);
                if (rc == 0)
                    yr[label[rows]] = 1;
            } else if (!is_class && f >= start && f < start + n_targets) {
                rc = parse_number(&yr[f - start], fs, fe, &w);
            } else {
                rc = parse_number(&xr[xi++], fs, fe, &w);
            }
            if (rc)
                break;
            fs = fe + 1;
        }
        if (rc == 0)
            rows++;
    }
    if (rc == 0 && rows == 0)
        rc = dcr_fail(err, DCR_ERR_DATA, "%s: no data rows%s", path,
                      o->header ? " after the header line" : "");
    free(buf);
    if (rc) {
        free(x);
        free(y);
        free(label);
        return -1;
    }
    DCR_ASSERT(rows == cap_rows);
    out->n_rows = rows;
    out->n_in = n_in;
    out->n_out = n_out;
    out->x = x;
    out->y = y;
    out->label = label;
    return 0;
}
