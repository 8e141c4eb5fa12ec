/* test_runtime_npy.c: NumPy .npy files: round trips, the exact bytes
 * numpy.save writes, headers written by other tools, and every rejection
 * with its own message. numpy itself is not needed: the expected bytes are
 * written out here by hand from numpy's format 1.0 rules. */
#define _POSIX_C_SOURCE 200809L

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dcr.h"
#include "dcr_fileio.h"

static char dir[64];
static char path[128];

static void setup(void)
{
    strcpy(dir, "/tmp/dcr_npy_XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/a.npy", dir);
    dcr_fault_hook = NULL;
}

static void teardown(void)
{
    dcr_fault_hook = NULL;
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                continue;
            char p[512];
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            unlink(p);
        }
        closedir(d);
    }
    rmdir(dir);
}

TestSuite(npy, .init = setup, .fini = teardown);

/* ---- helpers ---------------------------------------------------------------- */

static unsigned char *slurp(size_t *n)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f);
    cr_assert_eq(fseek(f, 0, SEEK_END), 0);
    long len = ftell(f);
    cr_assert_geq(len, 0);
    rewind(f);
    unsigned char *b = malloc((size_t)len + 1);
    cr_assert_not_null(b);
    cr_assert_eq(fread(b, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    *n = (size_t)len;
    return b;
}

static void spit(const void *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(b, 1, n, f), n);
    cr_assert_eq(fclose(f), 0);
}

/* A .npy file written by "another tool": magic, version major.0, the header
 * length (u16 for 1.0, u32 for 2.0), dict, then spaces and '\n' up to a
 * multiple of 64 (align) or just '\n' (!align), then n data bytes. */
static size_t make_npy(unsigned char *out, size_t cap, int major, const char *dict, int align,
                       const void *data, size_t n)
{
    size_t prefix = major == 1 ? 10 : 12, dl = strlen(dict);
    size_t hlen = dl + 1;
    if (align)
        hlen += (64 - (prefix + hlen) % 64) % 64;
    cr_assert_leq(prefix + hlen + n, cap);
    memcpy(out, "\x93NUMPY", 6);
    out[6] = (unsigned char)major;
    out[7] = 0;
    for (size_t i = 0; i < prefix - 8; i++)
        out[8 + i] = (unsigned char)(hlen >> (8 * i));
    memcpy(out + prefix, dict, dl);
    memset(out + prefix + dl, ' ', hlen - dl - 1);
    out[prefix + hlen - 1] = '\n';
    if (n)
        memcpy(out + prefix + hlen, data, n);
    return prefix + hlen + n;
}

/* Writes a format 1.0 file with dict and n data bytes (all 0x11). */
static void put_npy(const char *dict, size_t n)
{
    static unsigned char buf[1 << 16];
    unsigned char data[4096];
    cr_assert_leq(n, sizeof data);
    memset(data, 0x11, n);
    spit(buf, make_npy(buf, sizeof buf, 1, dict, 1, data, n));
}

/* Byte offset in the file of marker's first occurrence in a format 1.0
 * file's dict. */
static size_t at(const char *dict, const char *marker)
{
    const char *p = strstr(dict, marker);
    cr_assert_not_null(p, "marker %s", marker);
    return 10 + (size_t)(p - dict);
}

static void read_err(dcr_status st, const char *tail)
{
    dcr_npy a;
    memset(&a, 0x5a, sizeof a);
    dcr_error e = {0};
    int rc = dcr_npy_read(&a, path, &e);
    char want[DCR_MSG_MAX];
    snprintf(want, sizeof want, "%s%s", path, tail);
    cr_assert_eq(rc, -1, "expected failure: %s", tail);
    cr_assert_str_eq(e.msg, want);
    cr_assert_eq(e.status, st, "status %d for %s", e.status, e.msg);
    cr_assert_null(a.data, "a failed read left data");
    cr_assert_eq(a.ndim, 0);
    cr_assert_eq(a.count, 0);
}

static void dict_err(const char *dict, size_t n, const char *tail)
{
    put_npy(dict, n);
    read_err(DCR_ERR_DATA, tail);
}

/* dict_err for "malformed header: what (at byte <offset of marker>)" */
static void malformed(const char *dict, const char *marker, const char *what)
{
    char tail[512];
    snprintf(tail, sizeof tail, ": malformed header: %s (at byte %zu)", what, at(dict, marker));
    dict_err(dict, 0, tail);
}

static void read_ok(dcr_npy *a)
{
    dcr_error e = {0};
    int rc = dcr_npy_read(a, path, &e);
    cr_assert_eq(rc, 0, "read failed: %s", e.msg);
}

/* ---- round trips ------------------------------------------------------------ */

static void round_trip(dcr_dtype t, int ndim, const size_t *shape)
{
    size_t count = 1;
    for (int i = 0; i < ndim; i++)
        count *= shape[i];
    size_t ds = dcr_dtype_size(t);
    unsigned char *v = malloc(count * ds + 1);
    cr_assert_not_null(v);
    for (size_t i = 0; i < count; i++) {
        double x = (double)i * 1.25 - 3.0 + (i % 3 == 0 ? 1e-3 : 0.0);
        if (t == DCR_F32)
            ((float *)(void *)v)[i] = (float)x;
        else
            ((double *)(void *)v)[i] = x;
    }
    dcr_error e = {0};
    cr_assert_eq(dcr_npy_write(path, t, ndim, shape, v, &e), 0, "write failed: %s", e.msg);

    size_t n;
    unsigned char *b = slurp(&n);
    size_t header = (size_t)b[8] | (size_t)b[9] << 8;
    cr_assert_eq((10 + header) % 64, 0, "header not aligned to 64");
    cr_assert_eq(b[10 + header - 1], '\n');
    cr_assert_eq(n, 10 + header + count * ds);
    free(b);

    dcr_npy a;
    read_ok(&a);
    cr_assert_eq(a.dtype, t);
    cr_assert_eq(a.ndim, ndim);
    for (int i = 0; i < ndim; i++)
        cr_assert_eq(a.shape[i], shape[i]);
    cr_assert_eq(a.count, count);
    cr_assert_not_null(a.data);
    cr_assert_eq(memcmp(a.data, v, count * ds), 0, "data differ");
    dcr_npy_free(&a);
    cr_assert_null(a.data);
    free(v);
}

Test(npy, round_trip_0d)
{
    round_trip(DCR_F64, 0, NULL);
    round_trip(DCR_F32, 0, NULL);
}

Test(npy, round_trip_1d)
{
    size_t s[1] = {5};
    round_trip(DCR_F32, 1, s);
    round_trip(DCR_F64, 1, s);
}

Test(npy, round_trip_2d)
{
    size_t s[2] = {2, 3};
    round_trip(DCR_F64, 2, s);
    round_trip(DCR_F32, 2, s);
    size_t tall[2] = {1000, 1};
    round_trip(DCR_F32, 2, tall);
}

Test(npy, round_trip_3d_4d_and_empty)
{
    size_t s3[3] = {2, 3, 4}, s4[4] = {1, 2, 1, 3}, e1[1] = {0}, e2[2] = {2, 0};
    round_trip(DCR_F32, 3, s3);
    round_trip(DCR_F64, 4, s4);
    round_trip(DCR_F32, 1, e1);
    round_trip(DCR_F64, 2, e2);
}

/* ---- the bytes numpy writes -------------------------------------------------- */

/* The first total bytes of what np.save writes for dict: magic, version 1.0,
 * u16 header length, dict, spaces, '\n' at total - 1. */
static void assert_numpy_header(const unsigned char *b, const char *dict, size_t total)
{
    unsigned char want[512];
    cr_assert_leq(total, sizeof want);
    memcpy(want, "\x93NUMPY\x01\x00", 8);
    want[8] = (unsigned char)((total - 10) & 0xff);
    want[9] = (unsigned char)((total - 10) >> 8);
    size_t dl = strlen(dict);
    memcpy(want + 10, dict, dl);
    memset(want + 10 + dl, ' ', total - 11 - dl);
    want[total - 1] = '\n';
    for (size_t i = 0; i < total; i++)
        cr_assert_eq(b[i], want[i], "byte %zu: got 0x%02x, numpy writes 0x%02x", i, b[i], want[i]);
}

/* np.save(f, np.arange(6, dtype='<f8').reshape(2, 3)): a 128-byte header
 * (magic 6 + version 2 + length 2 + 118 of dict, spaces and '\n'), then
 * 0.0 .. 5.0 little-endian. */
Test(npy, numpy_bytes_arange_2x3_float64)
{
    double v[6] = {0, 1, 2, 3, 4, 5};
    size_t shape[2] = {2, 3};
    dcr_error e = {0};
    cr_assert_eq(dcr_npy_write(path, DCR_F64, 2, shape, v, &e), 0, "%s", e.msg);
    size_t n;
    unsigned char *b = slurp(&n);
    cr_assert_eq(n, 128 + 48);
    cr_assert_eq(b[8], 118);
    cr_assert_eq(b[9], 0);
    assert_numpy_header(b, "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }", 128);
    static const unsigned char one[8] = {0, 0, 0, 0, 0, 0, 0xf0, 0x3f};
    static const unsigned char five[8] = {0, 0, 0, 0, 0, 0, 0x14, 0x40};
    cr_assert_eq(memcmp(b + 128, "\0\0\0\0\0\0\0\0", 8), 0);
    cr_assert_eq(memcmp(b + 136, one, 8), 0);
    cr_assert_eq(memcmp(b + 168, five, 8), 0);
    free(b);
}

Test(npy, numpy_bytes_scalar_and_vector_float32)
{
    float x = 1.0f;
    dcr_error e = {0};
    cr_assert_eq(dcr_npy_write(path, DCR_F32, 0, NULL, &x, &e), 0, "%s", e.msg);
    size_t n;
    unsigned char *b = slurp(&n);
    cr_assert_eq(n, 128 + 4);
    assert_numpy_header(b, "{'descr': '<f4', 'fortran_order': False, 'shape': (), }", 128);
    static const unsigned char onef[4] = {0, 0, 0x80, 0x3f};
    cr_assert_eq(memcmp(b + 128, onef, 4), 0);
    free(b);

    float v[3] = {1, 2, 3};
    size_t s[1] = {3};
    cr_assert_eq(dcr_npy_write(path, DCR_F32, 1, s, v, &e), 0, "%s", e.msg);
    b = slurp(&n);
    cr_assert_eq(n, 128 + 12);
    assert_numpy_header(b, "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", 128);
    free(b);
}

/* numpy pads the dict with 21 - len(str(shape[0])) spaces before aligning,
 * so that shape[0] can grow in place. Here that pushes the header from 128
 * to 192 bytes: dict 103 + 20 + '\n' = 124, 10 + 124 = 134 -> 192. */
Test(npy, numpy_growth_padding)
{
    size_t s[4] = {1, 0, (size_t)10000000000000000000ull, (size_t)10000000000000000000ull};
    dcr_error e = {0};
    cr_assert_eq(dcr_npy_write(path, DCR_F64, 4, s, NULL, &e), 0, "%s", e.msg);
    size_t n;
    unsigned char *b = slurp(&n);
    cr_assert_eq(n, 192);
    assert_numpy_header(b,
                        "{'descr': '<f8', 'fortran_order': False, 'shape': (1, 0, "
                        "10000000000000000000, 10000000000000000000), }",
                        192);
    free(b);
    dcr_npy a;
    read_ok(&a);
    cr_assert_eq(a.ndim, 4);
    cr_assert_eq(a.count, 0);
    cr_assert_eq(a.shape[3], (size_t)10000000000000000000ull);
    dcr_npy_free(&a);
}

/* ---- headers from other writers ----------------------------------------------- */

Test(npy, reads_other_spellings_of_the_header)
{
    static unsigned char buf[1024];
    unsigned char data[24];
    for (int i = 0; i < 6; i++) {
        float f = (float)i + 0.5f;
        uint32_t u;
        memcpy(&u, &f, 4);
        for (int k = 0; k < 4; k++)
            data[4 * i + k] = (unsigned char)(u >> (8 * k));
    }
    const char *dicts[] = {
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }",
        "{\"shape\": (2,3,), \"fortran_order\": False, \"descr\": \"<f4\"}",
        "  {\n\t'fortran_order'  :False ,'descr':'<f4',\r\n 'shape' : ( 2 , 3 ) }  \t",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2L, 3L), }",
    };
    for (size_t d = 0; d < sizeof dicts / sizeof *dicts; d++) {
        for (int major = 1; major <= 2; major++) {
            for (int align = 0; align <= 1; align++) {
                spit(buf, make_npy(buf, sizeof buf, major, dicts[d], align, data, 24));
                dcr_npy a;
                dcr_error e = {0};
                int rc = dcr_npy_read(&a, path, &e);
                cr_assert_eq(rc, 0, "dict %zu, version %d.0: %s", d, major, e.msg);
                cr_assert_eq(a.dtype, DCR_F32);
                cr_assert_eq(a.ndim, 2);
                cr_assert_eq(a.shape[0], 2);
                cr_assert_eq(a.shape[1], 3);
                cr_assert_eq(((float *)a.data)[5], 5.5f);
                dcr_npy_free(&a);
            }
        }
    }
}

/* ---- rejections ------------------------------------------------------------------ */

Test(npy, bad_magic)
{
    spit("\x93NUMPX\x01\x00", 8);
    read_err(DCR_ERR_DATA, ": not a .npy file (bad magic)");
    spit("x,y\n1,2\n3,4\n", 12);
    read_err(DCR_ERR_DATA, ": not a .npy file (bad magic)");
    spit("\x93NUM", 4);
    read_err(DCR_ERR_DATA, ": truncated: 4 bytes, expected at least 10");
    spit("", 0);
    read_err(DCR_ERR_DATA, ": truncated: 0 bytes, expected at least 10");
}

Test(npy, unknown_version)
{
    static unsigned char buf[256];
    size_t n = make_npy(buf, sizeof buf, 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (), }",
                        1, "\0\0\0\0\0\0\0\0", 8);
    buf[6] = 3;
    spit(buf, n);
    read_err(DCR_ERR_DATA, ": unknown format version 3.0 (1.0 or 2.0 expected)");
    buf[6] = 1;
    buf[7] = 1;
    spit(buf, n);
    read_err(DCR_ERR_DATA, ": unknown format version 1.1 (1.0 or 2.0 expected)");
    buf[6] = 0;
    buf[7] = 0;
    spit(buf, n);
    read_err(DCR_ERR_DATA, ": unknown format version 0.0 (1.0 or 2.0 expected)");
}

Test(npy, malformed_headers)
{
    const char *d;
    d = "['descr', '<f8']";
    malformed(d, "[", "expected '{'");
    d = "{'descr': '<f8', 'fortran_order': False}";
    malformed(d, "}", "key 'shape' is missing");
    d = "{'descr': '<f8', 'shape': ()}";
    malformed(d, "}", "key 'fortran_order' is missing");
    d = "{'fortran_order': False, 'shape': ()}";
    malformed(d, "}", "key 'descr' is missing");
    d = "{'descr': '<f8', 'fortran_order': False, 'shape': (), 'extra': 1}";
    malformed(d, "'extra'", "unknown key (descr, fortran_order and shape expected)");
    d = "{'descr': '<f8', 'fortran_order': False, 'shape': (), 'descr': '<f4'}";
    malformed(d, "'descr': '<f4'", "a key appears twice");
    d = "{'descr': '<f8', 'fortran_order': False, 'shape': (3)}";
    malformed(d, ")}", "a one-dimensional shape needs a comma, as in (3,)");
    d = "{'descr': '<f8', 'fortran_order': False, 'shape': 3}";
    malformed(d, "3}", "shape must be a tuple");
    d = "{'descr': '<f8', 'fortran_order': False, 'shape': (-3,)}";
    malformed(d, "-3", "expected a non-negative integer in shape");
    d = "{'descr': '<f8', 'fortran_order': False, 'shape': (03,)}";
    malformed(d, "03", "a dimension has a leading zero");
    d = "{'descr': '<f8', 'fortran_order': False, 'shape': (2 3)}";
    malformed(d, "3)", "expected ',' or ')' in shape");
    d = "{'descr': '<f8', 'fortran_order': Maybe, 'shape': ()}";
    malformed(d, "Maybe", "fortran_order must be True or False");
    d = "{'descr': '<f8', 'fortran_order': Falsey, 'shape': ()}";
    malformed(d, "Falsey", "fortran_order must be True or False");
    d = "{'descr': '<f8' 'fortran_order': False, 'shape': ()}";
    malformed(d, "'fortran_order'", "expected ',' or '}'");
    d = "{'descr' '<f8', 'fortran_order': False, 'shape': ()}";
    malformed(d, "'<f8'", "expected ':' after a key");
    d = "{descr: '<f8', 'fortran_order': False, 'shape': ()}";
    malformed(d, "descr", "expected a quoted string");
    d = "{'descr': <f8, 'fortran_order': False, 'shape': ()}";
    malformed(d, "<f8", "expected a quoted string");
    d = "{'descr': '<f\\x38', 'fortran_order': False, 'shape': ()}";
    malformed(d, "\\", "unexpected character in a string");
    d = "{'descr': '<f8', 'fortran_order': False, 'shape': ()} x";
    malformed(d, "x", "unexpected text after the dictionary");
}

Test(npy, malformed_header_edges)
{
    static unsigned char buf[256];
    const char *d = "{'descr': '<f8', 'fortran_order': False, 'shape': ()}";
    size_t n = make_npy(buf, sizeof buf, 1, d, 0, NULL, 0);
    /* the header length cuts the dict inside a string: "{'descr': '<f" */
    buf[8] = 13;
    spit(buf, n);
    read_err(DCR_ERR_DATA, ": malformed header: unterminated string (at byte 23)");
    /* a header of just "{" */
    buf[8] = 1;
    spit(buf, 11);
    read_err(DCR_ERR_DATA, ": malformed header: expected a quoted string (at byte 11)");
    /* an empty header */
    buf[8] = 0;
    spit(buf, 10);
    read_err(DCR_ERR_DATA, ": malformed header: expected '{' (at byte 10)");
    /* a second closing brace */
    d = "{'descr': '<f8', 'fortran_order': False, 'shape': ()}}";
    char tail[256];
    snprintf(tail, sizeof tail, ": malformed header: unexpected text after the dictionary (at byte %zu)",
             at(d, "}}") + 1);
    dict_err(d, 0, tail);
}

Test(npy, dtype_rejections)
{
    dict_err("{'descr': '>f8', 'fortran_order': False, 'shape': ()}", 8,
             ": dtype '>f8' is big-endian (expected '<f4' or '<f8')");
    dict_err("{'descr': '>f4', 'fortran_order': False, 'shape': ()}", 4,
             ": dtype '>f4' is big-endian (expected '<f4' or '<f8')");
    dict_err("{'descr': '<i4', 'fortran_order': False, 'shape': ()}", 4,
             ": dtype '<i4' is not float32 or float64");
    dict_err("{'descr': '<f2', 'fortran_order': False, 'shape': ()}", 2,
             ": dtype '<f2' is not float32 or float64");
    dict_err("{'descr': '|u1', 'fortran_order': False, 'shape': ()}", 1,
             ": dtype '|u1' is not float32 or float64");
    dict_err("{'descr': '<f16', 'fortran_order': False, 'shape': ()}", 16,
             ": dtype '<f16' is not float32 or float64");
    dict_err("{'descr': '=f8', 'fortran_order': False, 'shape': ()}", 8,
             ": dtype '=f8' does not say little-endian (expected '<f4' or '<f8')");
    dict_err("{'descr': 'f8', 'fortran_order': False, 'shape': ()}", 8,
             ": dtype 'f8' does not say little-endian (expected '<f4' or '<f8')");
    dict_err("{'descr': [('x', '<f8')], 'fortran_order': False, 'shape': ()}", 8,
             ": dtype is a structured type, not float32 or float64");
    dict_err("{'descr': '<U0123456789012345678901234567890123456789', 'fortran_order': False, "
             "'shape': ()}",
             8, ": dtype '<U012345678901234567890123456789...' is not float32 or float64");
}

Test(npy, fortran_order_true)
{
    dict_err("{'descr': '<f8', 'fortran_order': True, 'shape': (2, 3), }", 48,
             ": fortran_order is True (C order expected)");
}

Test(npy, too_many_dimensions)
{
    dict_err("{'descr': '<f8', 'fortran_order': False, 'shape': (1, 1, 1, 1, 1), }", 8,
             ": shape has 5 dimensions (at most 4 are supported)");
}

Test(npy, size_overflow)
{
    dict_err("{'descr': '<f8', 'fortran_order': False, 'shape': (99999999999999999999999,), }", 0,
             ": dimension 99999999999999999999999 is too large (size overflow)");
    dict_err("{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296), }", 0,
             ": shape (4294967296, 4294967296) holds more bytes than fit in memory (size overflow)");
    dict_err("{'descr': '<f8', 'fortran_order': False, 'shape': (2305843009213693952,), }", 0,
             ": shape (2305843009213693952,) holds more bytes than fit in memory (size overflow)");
    /* fits size_t as bytes, but not with the header in front */
    dict_err("{'descr': '<f8', 'fortran_order': False, 'shape': (2305843009213693951,), }", 0,
             ": shape (2305843009213693951,) holds more bytes than fit in memory (size overflow)");
}

Test(npy, truncated)
{
    const char *d = "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }";
    char tail[128];
    put_npy(d, 47);
    snprintf(tail, sizeof tail, ": truncated: %d bytes, expected %d", 128 + 47, 128 + 48);
    read_err(DCR_ERR_DATA, tail);
    put_npy(d, 0);
    snprintf(tail, sizeof tail, ": truncated: 128 bytes, expected %d", 128 + 48);
    read_err(DCR_ERR_DATA, tail);
    /* inside the header */
    static unsigned char buf[256];
    size_t n = make_npy(buf, sizeof buf, 1, d, 1, NULL, 0);
    cr_assert_eq(n, 128);
    spit(buf, 100);
    read_err(DCR_ERR_DATA, ": truncated: 100 bytes, expected at least 128");
    n = make_npy(buf, sizeof buf, 2, d, 1, NULL, 0);
    spit(buf, 11);
    read_err(DCR_ERR_DATA, ": truncated: 11 bytes, expected at least 12");
    spit(buf, 60);
    read_err(DCR_ERR_DATA, ": truncated: 60 bytes, expected at least 128");
}

Test(npy, trailing_bytes)
{
    const char *d = "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }";
    put_npy(d, 13);
    read_err(DCR_ERR_DATA, ": 1 trailing byte after the array data");
    put_npy(d, 20);
    read_err(DCR_ERR_DATA, ": 8 trailing bytes after the array data");
}

Test(npy, missing_file)
{
    read_err(DCR_ERR_IO, ": cannot open: No such file or directory");
}

/* ---- writing ------------------------------------------------------------------------ */

Test(npy, write_rejects_impossible_arrays)
{
    size_t s[5] = {1, 1, 1, 1, 1};
    double v = 0;
    dcr_error e = {0};
    cr_assert_eq(dcr_npy_write(path, DCR_F64, 5, s, &v, &e), -1);
    cr_assert_eq(e.status, DCR_ERR_USAGE);
    cr_assert_eq(dcr_npy_write(path, DCR_F64, -1, s, &v, &e), -1);
    cr_assert_eq(e.status, DCR_ERR_USAGE);
    cr_assert_eq(dcr_npy_write(path, DCR_F64, 1, s, NULL, &e), -1);
    cr_assert_eq(e.status, DCR_ERR_USAGE);
    size_t big[2] = {SIZE_MAX / 2, 3};
    cr_assert_eq(dcr_npy_write(path, DCR_F64, 2, big, &v, &e), -1);
    cr_assert_eq(e.status, DCR_ERR_LIMIT);
    cr_assert_eq(access(path, F_OK), -1, "a rejected write created the file");
}

static int fail_rename(const char *op)
{
    return strcmp(op, "rename") == 0;
}

Test(npy, failed_write_keeps_previous_file)
{
    double a[2] = {1, 2}, b[3] = {3, 4, 5};
    size_t sa[1] = {2}, sb[1] = {3};
    dcr_error e = {0};
    cr_assert_eq(dcr_npy_write(path, DCR_F64, 1, sa, a, &e), 0, "%s", e.msg);
    dcr_fault_hook = fail_rename;
    cr_assert_eq(dcr_npy_write(path, DCR_F64, 1, sb, b, &e), -1);
    dcr_fault_hook = NULL;
    char want[DCR_MSG_MAX];
    snprintf(want, sizeof want, "%s: cannot write: %s", path, strerror(EIO));
    cr_assert_str_eq(e.msg, want);
    dcr_npy r;
    read_ok(&r);
    cr_assert_eq(r.count, 2);
    cr_assert_eq(((double *)r.data)[1], 2.0);
    dcr_npy_free(&r);
}
