/* bench/npy.h: a tiny reader of NumPy .npy files for the benchmark peers.
 *
 * Reads format 1.0/2.0/3.0, little-endian float32 ('<f4') or float64 ('<f8'),
 * C order, up to 4 dimensions, and returns the values converted to float.
 * Header-only (static functions); no dependency on deltac's runtime, so the
 * peers build even while the runtime changes. Errors are printed to stderr.
 */
#ifndef BENCH_NPY_H
#define BENCH_NPY_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    int ndim;
    size_t shape[4];
    size_t count;
    float *data; /* [count], malloc'd */
} npy_f32;

static void npy_free(npy_f32 *a)
{
    free(a->data);
    memset(a, 0, sizeof *a);
}

/* 0 on success, -1 (message on stderr) on failure. */
static int npy_read_f32(const char *path, npy_f32 *out)
{
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "npy: cannot open %s\n", path);
        return -1;
    }
    unsigned char pre[12];
    char *hdr = NULL;
    void *raw = NULL;
    if (fread(pre, 1, 10, f) != 10 || memcmp(pre, "\x93NUMPY", 6) != 0) {
        fprintf(stderr, "npy: %s: not a .npy file\n", path);
        goto fail;
    }
    size_t hlen;
    if (pre[6] == 1) {
        hlen = (size_t)pre[8] | ((size_t)pre[9] << 8);
    } else if (pre[6] == 2 || pre[6] == 3) {
        if (fread(pre + 10, 1, 2, f) != 2)
            goto trunc;
        hlen = (size_t)pre[8] | ((size_t)pre[9] << 8) | ((size_t)pre[10] << 16) |
               ((size_t)pre[11] << 24);
    } else {
        fprintf(stderr, "npy: %s: unknown version %d\n", path, pre[6]);
        goto fail;
    }
    if (hlen > (1u << 20)) {
        fprintf(stderr, "npy: %s: header too long\n", path);
        goto fail;
    }
    hdr = malloc(hlen + 1);
    if (!hdr || fread(hdr, 1, hlen, f) != hlen)
        goto trunc;
    hdr[hlen] = 0;
    int is64;
    if (strstr(hdr, "'<f4'"))
        is64 = 0;
    else if (strstr(hdr, "'<f8'"))
        is64 = 1;
    else {
        fprintf(stderr, "npy: %s: dtype is not <f4 or <f8: %s\n", path, hdr);
        goto fail;
    }
    if (strstr(hdr, "'fortran_order': True")) {
        fprintf(stderr, "npy: %s: fortran order\n", path);
        goto fail;
    }
    const char *s = strstr(hdr, "'shape':");
    if (!s || !(s = strchr(s, '('))) {
        fprintf(stderr, "npy: %s: no shape\n", path);
        goto fail;
    }
    s++;
    out->count = 1;
    while (*s && *s != ')') {
        while (*s == ' ' || *s == ',')
            s++;
        if (*s == ')')
            break;
        char *e;
        unsigned long long v = strtoull(s, &e, 10);
        if (e == s || out->ndim == 4) {
            fprintf(stderr, "npy: %s: bad shape\n", path);
            goto fail;
        }
        out->shape[out->ndim++] = (size_t)v;
        out->count *= (size_t)v;
        s = e;
    }
    size_t esz = is64 ? 8 : 4;
    raw = malloc(out->count * esz + 1);
    out->data = malloc(out->count * sizeof(float) + 1);
    if (!raw || !out->data)
        goto fail;
    if (fread(raw, esz, out->count, f) != out->count)
        goto trunc;
    for (size_t i = 0; i < out->count; i++) {
        if (is64) {
            double d;
            memcpy(&d, (char *)raw + 8 * i, 8);
            out->data[i] = (float)d;
        } else {
            memcpy(&out->data[i], (char *)raw + 4 * i, 4);
        }
    }
    free(raw);
    free(hdr);
    fclose(f);
    return 0;
trunc:
    fprintf(stderr, "npy: %s: truncated\n", path);
fail:
    free(raw);
    free(hdr);
    fclose(f);
    npy_free(out);
    return -1;
}

#endif
