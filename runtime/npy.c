/* npy.c: NumPy .npy files of little-endian float32/float64 arrays.
 *
 * A .npy file is the magic "\x93NUMPY", a version (major, minor byte), the
 * header length (u16 LE in 1.0, u32 LE in 2.0), the header: a Python dict
 * literal such as
 *
 *   {'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }
 *
 * padded with spaces and a final '\n' so that the data start at a multiple
 * of 64 bytes, and then the data in C order.
 *
 * The writer produces the bytes numpy.save does (format 1.0, including the
 * spare spaces numpy adds after the dict so that shape[0] can later grow in
 * place to 21 digits). The reader takes versions 1.0 and 2.0 and parses the
 * dict with a small strict grammar instead of a Python evaluator: the three
 * keys in any order, each once, single- or double-quoted, whitespace between
 * tokens, an optional trailing comma; shape a tuple of decimal integers
 * (an 'L' suffix, as Python 2 wrote, is accepted as numpy does). Data are
 * decoded byte by byte, so big-endian hosts read the same numbers.
 *
 * Like every runtime file, this one is also pasted into standalone trainers
 * compiled as C99: file-scope names carry the npy_ prefix. */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dcr_internal.h"

/* The largest .npy file read; checked before anything is read. */
#ifndef DCR_NPY_MAX_BYTES
#define DCR_NPY_MAX_BYTES ((uint64_t)4 << 30)
#endif

#define NPY_MAGIC "\x93NUMPY"
#define NPY_MAGIC_LEN 6
#define NPY_ALIGN 64
/* numpy leaves room for shape[0] to grow to this many digits */
#define NPY_GROWTH_DIGITS 21
/* longest piece of header text echoed in a message */
#define NPY_ECHO_MAX 32

static void npy_put32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void npy_put64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t npy_get32(const unsigned char *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static uint64_t npy_get64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

/* count * dtype size into *bytes; 0 when shape's product or the byte count
 * overflows size_t. */
static int npy_sizes(size_t *count, size_t *bytes, dcr_dtype t, int ndim, const size_t *shape)
{
    size_t c = 1;
    for (int i = 0; i < ndim; i++)
        if (!dcr_mul_ok(&c, c, shape[i]))
            return 0;
    if (!dcr_mul_ok(bytes, c, dcr_dtype_size(t)))
        return 0;
    *count = c;
    return 1;
}

/* "(2, 3)", "(3,)" or "()": Python's repr of the shape tuple. */
static void npy_shape_repr(char *buf, size_t cap, int ndim, const size_t *shape)
{
    size_t n = 0;
    buf[n++] = '(';
    for (int i = 0; i < ndim; i++) {
        int w = snprintf(buf + n, cap - n, i ? ", %zu" : "%zu", shape[i]);
        if (w < 0 || (size_t)w >= cap - n) /* cannot happen: callers size cap */
            DCR_DIE("shape text does not fit");
        n += (size_t)w;
    }
    if (ndim == 1)
        buf[n++] = ',';
    buf[n++] = ')';
    buf[n] = '\0';
}

/* ---- writing ------------------------------------------------------------- */

int dcr_npy_write(const char *path, dcr_dtype t, int ndim, const size_t *shape,
                  const void *data, dcr_error *err)
{
    if (!path)
        return dcr_fail(err, DCR_ERR_USAGE, "cannot write a .npy file: no file name given");
    if (t != DCR_F32 && t != DCR_F64)
        return dcr_fail(err, DCR_ERR_USAGE, "%s: cannot write: dtype %d is not valid", path, (int)t);
    if (ndim < 0 || ndim > DCR_NPY_MAX_DIMS)
        return dcr_fail(err, DCR_ERR_USAGE, "%s: cannot write: %d dimensions (0 to %d allowed)", path,
                        ndim, DCR_NPY_MAX_DIMS);
    if (ndim > 0 && !shape)
        return dcr_fail(err, DCR_ERR_USAGE, "%s: cannot write: no shape given", path);
    size_t count, bytes;
    if (!npy_sizes(&count, &bytes, t, ndim, shape))
        return dcr_fail(err, DCR_ERR_LIMIT, "%s: cannot write: the array's size overflows", path);
    if (count > 0 && !data)
        return dcr_fail(err, DCR_ERR_USAGE, "%s: cannot write: no data given", path);

    /* The dict as numpy writes it: sorted keys, repr values, ", " after each. */
    char shape_txt[8 + 22 * DCR_NPY_MAX_DIMS];
    npy_shape_repr(shape_txt, sizeof shape_txt, ndim, shape);
    char dict[64 + sizeof shape_txt];
    int dlen = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': %s, }",
                        t == DCR_F32 ? "<f4" : "<f8", shape_txt);
    if (dlen < 0 || (size_t)dlen >= sizeof dict)
        DCR_DIE("npy header does not fit");
    size_t growth = 0;
    if (ndim > 0) {
        char first[24];
        int w = snprintf(first, sizeof first, "%zu", shape[0]);
        growth = w < NPY_GROWTH_DIGITS ? (size_t)(NPY_GROWTH_DIGITS - w) : 0;
    }
    /* numpy: hlen = len(dict + growth) + 1 ('\n'); pad = 64 - (10 + hlen) % 64,
     * so an already aligned header still gets 64 spaces. */
    size_t hlen = (size_t)dlen + growth + 1;
    size_t pad = NPY_ALIGN - (10 + hlen) % NPY_ALIGN;
    size_t field = hlen + pad; /* < 512, fits the u16 of format 1.0 */
    size_t total;
    if (!dcr_add_ok(&total, 10 + field, bytes))
        return dcr_fail(err, DCR_ERR_LIMIT, "%s: cannot write: the array's size overflows", path);
    unsigned char *buf = malloc(total);
    if (!buf)
        return dcr_fail(err, DCR_ERR_NOMEM, "%s: cannot write: out of memory (%zu bytes)", path,
                        total);
    memcpy(buf, NPY_MAGIC, NPY_MAGIC_LEN);
    buf[6] = 1;
    buf[7] = 0;
    buf[8] = (unsigned char)(field & 0xff);
    buf[9] = (unsigned char)(field >> 8);
    memcpy(buf + 10, dict, (size_t)dlen);
    memset(buf + 10 + dlen, ' ', field - 1 - (size_t)dlen);
    buf[10 + field - 1] = '\n';

    unsigned char *p = buf + 10 + field;
    if (t == DCR_F32) {
        const float *f = data;
        for (size_t i = 0; i < count; i++) {
            uint32_t u;
            memcpy(&u, &f[i], 4);
            npy_put32(p + 4 * i, u);
        }
    } else {
        const double *d = data;
        for (size_t i = 0; i < count; i++) {
            uint64_t u;
            memcpy(&u, &d[i], 8);
            npy_put64(p + 8 * i, u);
        }
    }
    int rc = dcr_write_atomic(path, buf, total, err);
    free(buf);
    return rc;
}

/* ---- reading: the header dict -------------------------------------------- */

typedef struct {
    const char *start, *p, *end; /* the header text */
    size_t offset;               /* of start in the file, for messages */
    const char *path;
    dcr_error *err;
    /* what was found */
    int has_descr, has_fortran, has_shape;
    char descr[NPY_ECHO_MAX + 1];
    size_t descr_len;            /* may exceed what descr holds */
    int fortran;
    int ndim;                    /* may exceed DCR_NPY_MAX_DIMS */
    size_t shape[DCR_NPY_MAX_DIMS];
} npy_parser;

static int npy_malformed(npy_parser *ps, const char *what)
{
    return dcr_fail(ps->err, DCR_ERR_DATA, "%s: malformed header: %s (at byte %zu)", ps->path, what,
                    ps->offset + (size_t)(ps->p - ps->start));
}

static void npy_ws(npy_parser *ps)
{
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
        ps->p++;
}

/* Consumes c (after whitespace) or fails. */
static int npy_expect(npy_parser *ps, char c, const char *what)
{
    npy_ws(ps);
    if (ps->p >= ps->end || *ps->p != c)
        return npy_malformed(ps, what);
    ps->p++;
    return 0;
}

/* A quoted string without escapes: *s, *n (quotes excluded). */
static int npy_string(npy_parser *ps, const char **s, size_t *n)
{
    npy_ws(ps);
    if (ps->p >= ps->end || (*ps->p != '\'' && *ps->p != '"'))
        return npy_malformed(ps, "expected a quoted string");
    char q = *ps->p++;
    const char *a = ps->p;
    while (ps->p < ps->end && *ps->p != q) {
        unsigned char c = (unsigned char)*ps->p;
        if (c == '\\' || c < 0x20 || c > 0x7e)
            return npy_malformed(ps, "unexpected character in a string");
        ps->p++;
    }
    if (ps->p >= ps->end)
        return npy_malformed(ps, "unterminated string");
    *s = a;
    *n = (size_t)(ps->p - a);
    ps->p++;
    return 0;
}

static int npy_is_word(npy_parser *ps, const char *w)
{
    size_t n = strlen(w);
    if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, w, n) != 0)
        return 0;
    /* not the start of a longer identifier ("Falsey") */
    if ((size_t)(ps->end - ps->p) > n) {
        char c = ps->p[n];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')
            return 0;
    }
    ps->p += n;
    return 1;
}

static int npy_descr(npy_parser *ps)
{
    npy_ws(ps);
    if (ps->p < ps->end && (*ps->p == '[' || *ps->p == '{'))
        return dcr_fail(ps->err, DCR_ERR_DATA,
                        "%s: dtype is a structured type, not float32 or float64", ps->path);
    const char *s;
    size_t n;
    if (npy_string(ps, &s, &n))
        return -1;
    ps->descr_len = n;
    if (n > NPY_ECHO_MAX)
        n = NPY_ECHO_MAX;
    memcpy(ps->descr, s, n);
    ps->descr[n] = '\0';
    return 0;
}

static int npy_fortran(npy_parser *ps)
{
    npy_ws(ps);
    if (npy_is_word(ps, "True"))
        ps->fortran = 1;
    else if (npy_is_word(ps, "False"))
        ps->fortran = 0;
    else
        return npy_malformed(ps, "fortran_order must be True or False");
    return 0;
}

/* One dimension: decimal digits without leading zeros, optionally 'L'. */
static int npy_dim(npy_parser *ps, size_t *v)
{
    npy_ws(ps);
    const char *a = ps->p;
    size_t x = 0;
    int overflow = 0;
    while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9') {
        unsigned d = (unsigned)(*ps->p - '0');
        if (x > (SIZE_MAX - d) / 10)
            overflow = 1;
        else
            x = 10 * x + d;
        ps->p++;
    }
    size_t n = (size_t)(ps->p - a);
    if (n == 0) {
        ps->p = a;
        return npy_malformed(ps, "expected a non-negative integer in shape");
    }
    if (n > 1 && *a == '0') {
        ps->p = a;
        return npy_malformed(ps, "a dimension has a leading zero");
    }
    if (overflow)
        return dcr_fail(ps->err, DCR_ERR_DATA, "%s: dimension %.*s%s is too large (size overflow)",
                        ps->path, (int)(n > NPY_ECHO_MAX ? NPY_ECHO_MAX : n), a,
                        n > NPY_ECHO_MAX ? "..." : "");
    if (ps->p < ps->end && *ps->p == 'L')
        ps->p++;
    *v = x;
    return 0;
}

/* A tuple: "()", "(n,)", "(a, b)", "(a, b,)". */
static int npy_shape(npy_parser *ps)
{
    if (npy_expect(ps, '(', "shape must be a tuple"))
        return -1;
    npy_ws(ps);
    if (ps->p < ps->end && *ps->p == ')') {
        ps->p++;
        return 0;
    }
    for (;;) {
        size_t v = 0;
        if (npy_dim(ps, &v))
            return -1;
        if (ps->ndim < DCR_NPY_MAX_DIMS)
            ps->shape[ps->ndim] = v;
        if (ps->ndim < INT_MAX)
            ps->ndim++;
        npy_ws(ps);
        if (ps->p < ps->end && *ps->p == ')') {
            if (ps->ndim == 1)
                return npy_malformed(ps, "a one-dimensional shape needs a comma, as in (3,)");
            ps->p++;
            return 0;
        }
        if (npy_expect(ps, ',', "expected ',' or ')' in shape"))
            return -1;
        npy_ws(ps);
        if (ps->p < ps->end && *ps->p == ')') {
            ps->p++;
            return 0;
        }
    }
}

static int npy_dict(npy_parser *ps)
{
    if (npy_expect(ps, '{', "expected '{'"))
        return -1;
    for (;;) {
        npy_ws(ps);
        if (ps->p < ps->end && *ps->p == '}')
            break;
        const char *key_at = ps->p, *k;
        size_t kn;
        if (npy_string(ps, &k, &kn))
            return -1;
        if (npy_expect(ps, ':', "expected ':' after a key"))
            return -1;
        int *seen;
        int (*value)(npy_parser *);
        if (kn == 5 && memcmp(k, "descr", 5) == 0) {
            seen = &ps->has_descr;
            value = npy_descr;
        } else if (kn == 13 && memcmp(k, "fortran_order", 13) == 0) {
            seen = &ps->has_fortran;
            value = npy_fortran;
        } else if (kn == 5 && memcmp(k, "shape", 5) == 0) {
            seen = &ps->has_shape;
            value = npy_shape;
        } else {
            ps->p = key_at;
            return npy_malformed(ps, "unknown key (descr, fortran_order and shape expected)");
        }
        if (*seen) {
            ps->p = key_at;
            return npy_malformed(ps, "a key appears twice");
        }
        *seen = 1;
        if (value(ps))
            return -1;
        npy_ws(ps);
        if (ps->p < ps->end && *ps->p == ',') {
            ps->p++;
            continue;
        }
        if (ps->p < ps->end && *ps->p == '}')
            break;
        return npy_malformed(ps, "expected ',' or '}'");
    }
    const char *close = ps->p;
    ps->p++;
    npy_ws(ps);
    if (ps->p != ps->end)
        return npy_malformed(ps, "unexpected text after the dictionary");
    ps->p = close; /* a missing key is reported at the closing brace */
    if (!ps->has_descr)
        return npy_malformed(ps, "key 'descr' is missing");
    if (!ps->has_fortran)
        return npy_malformed(ps, "key 'fortran_order' is missing");
    if (!ps->has_shape)
        return npy_malformed(ps, "key 'shape' is missing");
    return 0;
}

/* The dtype from descr: '<f4' or '<f8'; anything else is named. */
static int npy_dtype(dcr_dtype *t, const npy_parser *ps)
{
    const char *d = ps->descr;
    size_t n = ps->descr_len;
    const char *kind = d;
    char order = 0;
    if (n == 3 && strchr("<>=|", d[0])) {
        order = d[0];
        kind = d + 1;
    }
    int f4 = (n == 3 || n == 2) && strcmp(kind, "f4") == 0;
    int f8 = (n == 3 || n == 2) && strcmp(kind, "f8") == 0;
    if (!f4 && !f8)
        return dcr_fail(ps->err, DCR_ERR_DATA, "%s: dtype '%s%s' is not float32 or float64", ps->path,
                        d, n > NPY_ECHO_MAX ? "..." : "");
    if (order == '>')
        return dcr_fail(ps->err, DCR_ERR_DATA, "%s: dtype '%s' is big-endian (expected '<f4' or '<f8')",
                        ps->path, d);
    if (order != '<')
        return dcr_fail(ps->err, DCR_ERR_DATA,
                        "%s: dtype '%s' does not say little-endian (expected '<f4' or '<f8')",
                        ps->path, d);
    *t = f4 ? DCR_F32 : DCR_F64;
    return 0;
}

/* ---- reading: the file --------------------------------------------------- */

static int npy_read_bytes(dcr_npy *out, const unsigned char *b, size_t n, const char *path,
                          dcr_error *err)
{
    size_t m = n < NPY_MAGIC_LEN ? n : NPY_MAGIC_LEN;
    if (memcmp(b, NPY_MAGIC, m) != 0)
        return dcr_fail(err, DCR_ERR_DATA, "%s: not a .npy file (bad magic)", path);
    if (n < 10)
        return dcr_fail(err, DCR_ERR_DATA, "%s: truncated: %zu bytes, expected at least 10", path, n);
    unsigned major = b[6], minor = b[7];
    if ((major != 1 && major != 2) || minor != 0)
        return dcr_fail(err, DCR_ERR_DATA, "%s: unknown format version %u.%u (1.0 or 2.0 expected)",
                        path, major, minor);
    size_t prefix = major == 1 ? 10 : 12;
    if (n < prefix)
        return dcr_fail(err, DCR_ERR_DATA, "%s: truncated: %zu bytes, expected at least %zu", path, n,
                        prefix);
    uint64_t hlen = major == 1 ? (uint64_t)b[8] | (uint64_t)b[9] << 8 : npy_get32(b + 8);
    if ((uint64_t)(n - prefix) < hlen)
        return dcr_fail(err, DCR_ERR_DATA, "%s: truncated: %zu bytes, expected at least %llu", path, n,
                        (unsigned long long)(prefix + hlen));
    size_t header_end = prefix + (size_t)hlen;

    npy_parser ps;
    memset(&ps, 0, sizeof ps);
    ps.start = ps.p = (const char *)b + prefix;
    ps.end = (const char *)b + header_end;
    ps.offset = prefix;
    ps.path = path;
    ps.err = err;
    if (npy_dict(&ps))
        return -1;
    dcr_dtype t = DCR_F64;
    if (npy_dtype(&t, &ps))
        return -1;
    if (ps.fortran)
        return dcr_fail(err, DCR_ERR_DATA, "%s: fortran_order is True (C order expected)", path);
    if (ps.ndim > DCR_NPY_MAX_DIMS)
        return dcr_fail(err, DCR_ERR_DATA, "%s: shape has %d dimensions (at most %d are supported)",
                        path, ps.ndim, DCR_NPY_MAX_DIMS);
    size_t count, bytes, want;
    if (!npy_sizes(&count, &bytes, t, ps.ndim, ps.shape) || !dcr_add_ok(&want, header_end, bytes)) {
        char txt[8 + 22 * DCR_NPY_MAX_DIMS];
        npy_shape_repr(txt, sizeof txt, ps.ndim, ps.shape);
        return dcr_fail(err, DCR_ERR_DATA, "%s: shape %s holds more bytes than fit in memory (size overflow)",
                        path, txt);
    }
    size_t avail = n - header_end;
    if (avail < bytes)
        return dcr_fail(err, DCR_ERR_DATA, "%s: truncated: %zu bytes, expected %zu", path, n, want);
    if (avail > bytes) {
        size_t extra = avail - bytes;
        return dcr_fail(err, DCR_ERR_DATA, "%s: %zu trailing byte%s after the array data", path, extra,
                        extra == 1 ? "" : "s");
    }

    void *data = malloc(bytes ? bytes : 1);
    if (!data)
        return dcr_fail(err, DCR_ERR_NOMEM, "%s: out of memory (%zu bytes)", path, bytes);
    const unsigned char *p = b + header_end;
    if (t == DCR_F32) {
        float *f = data;
        for (size_t i = 0; i < count; i++) {
            uint32_t u = npy_get32(p + 4 * i);
            memcpy(&f[i], &u, 4);
        }
    } else {
        double *d = data;
        for (size_t i = 0; i < count; i++) {
            uint64_t u = npy_get64(p + 8 * i);
            memcpy(&d[i], &u, 8);
        }
    }
    out->dtype = t;
    out->ndim = ps.ndim;
    for (int i = 0; i < ps.ndim; i++)
        out->shape[i] = ps.shape[i];
    out->count = count;
    out->data = data;
    return 0;
}

int dcr_npy_read(dcr_npy *out, const char *path, dcr_error *err)
{
    if (!out)
        return dcr_fail(err, DCR_ERR_USAGE, "cannot read a .npy file: nowhere to put it");
    memset(out, 0, sizeof *out);
    size_t max = DCR_NPY_MAX_BYTES > SIZE_MAX ? SIZE_MAX : (size_t)DCR_NPY_MAX_BYTES;
    unsigned char *b;
    size_t n;
    if (dcr_read_file(&b, &n, path, max, err)) {
        if (err && err->status == DCR_ERR_LIMIT)
            dcr_fail(err, DCR_ERR_LIMIT, "%s: file is larger than %zu bytes (DCR_NPY_MAX_BYTES)", path,
                     max);
        return -1;
    }
    int rc = npy_read_bytes(out, b, n, path, err);
    free(b);
    return rc;
}

void dcr_npy_free(dcr_npy *a)
{
    if (!a)
        return;
    free(a->data);
    memset(a, 0, sizeof *a);
}
