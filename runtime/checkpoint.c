/* checkpoint.c: the checkpoint file (docs/checkpoint.md has the layout byte
 * by byte).
 *
 * Every field is packed little-endian by hand, floats through their bit
 * patterns (memcpy into uint32_t/uint64_t), so a file means the same on
 * every host. The reader checks everything it can before trusting a field,
 * and fills a fresh dcr_ckpt only: a model in memory is never touched by a
 * failed read.
 *
 * Like every runtime file, this one is also pasted into standalone trainers
 * compiled as C99: file-scope names carry the ckpt_ prefix. It uses zlib's
 * crc32() (-lz) unless DCR_NO_ZLIB is defined. */
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#ifndef DCR_NO_ZLIB
#include <zlib.h>
#endif

#include "dcr_internal.h"

/* The largest checkpoint file read; checked before anything is read. */
#ifndef DCR_CKPT_MAX_BYTES
#define DCR_CKPT_MAX_BYTES ((uint64_t)4 << 30)
#endif

static const unsigned char ckpt_magic[8] = {'D', 'E', 'L', 'T', 'A', 'C', 'K', 'P'};

/* Byte offsets of the fixed fields. The variable part (sizes, activations)
 * starts at CKPT_OFF_SIZES; what follows it is addressed from its end. */
#define CKPT_OFF_VERSION 8
#define CKPT_OFF_HEADER_LEN 12
#define CKPT_OFF_DTYPE 16
#define CKPT_OFF_LOSS 20
#define CKPT_OFF_N_LAYERS 24
#define CKPT_OFF_SIZES 28
/* after the activations: sha256 32, epoch 8, step 8, rng 32, n_params 8,
 * n_state 8, payload_len 8, header_crc 4 */
#define CKPT_TAIL 108
/* header_len = CKPT_HEADER_BASE + 8 * n_layers */
#define CKPT_HEADER_BASE (CKPT_OFF_SIZES + 4 + CKPT_TAIL)
/* magic, version and header_len: what must be there to say anything */
#define CKPT_MIN_BYTES 16

static void ckpt_put32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void ckpt_put64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t ckpt_get32(const unsigned char *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static uint64_t ckpt_get64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

/* CRC-32 (zlib's, as Python's zlib.crc32) of n bytes; zlib takes uInt
 * lengths, so long buffers go in pieces. A standalone trainer built without
 * zlib (DCR_NO_ZLIB) computes the same CRC bit by bit. */
#ifdef DCR_NO_ZLIB
static uint32_t ckpt_crc(const unsigned char *p, size_t n)
{
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
    }
    return c ^ 0xFFFFFFFFu;
}
#else
static uint32_t ckpt_crc(const unsigned char *p, size_t n)
{
    uLong c = crc32(0L, Z_NULL, 0);
    while (n > 0) {
        size_t k = n < ((size_t)1 << 30) ? n : ((size_t)1 << 30);
        c = crc32(c, p, (uInt)k);
        p += k;
        n -= k;
    }
    return (uint32_t)c;
}
#endif

/* n elements of dtype t from v to little-endian bytes at p. */
static void ckpt_pack(unsigned char *p, const void *v, size_t n, dcr_dtype t)
{
    if (t == DCR_F32) {
        const float *f = v;
        for (size_t i = 0; i < n; i++) {
            uint32_t u;
            memcpy(&u, &f[i], 4);
            ckpt_put32(p + 4 * i, u);
        }
    } else {
        const double *d = v;
        for (size_t i = 0; i < n; i++) {
            uint64_t u;
            memcpy(&u, &d[i], 8);
            ckpt_put64(p + 8 * i, u);
        }
    }
}

static void ckpt_unpack(void *v, const unsigned char *p, size_t n, dcr_dtype t)
{
    if (t == DCR_F32) {
        float *f = v;
        for (size_t i = 0; i < n; i++) {
            uint32_t u = ckpt_get32(p + 4 * i);
            memcpy(&f[i], &u, 4);
        }
    } else {
        double *d = v;
        for (size_t i = 0; i < n; i++) {
            uint64_t u = ckpt_get64(p + 8 * i);
            memcpy(&d[i], &u, 8);
        }
    }
}

/* ---- writing ------------------------------------------------------------- */

int dcr_ckpt_save(const char *path, const dcr_ckpt *c, dcr_error *err)
{
    if (!path || !c)
        return dcr_fail(err, DCR_ERR_USAGE, "cannot save a checkpoint: nothing given");
    if (!dcr_arch_valid(&c->arch))
        return dcr_fail(err, DCR_ERR_USAGE, "%s: cannot save: the network description is not valid",
                        path);
    size_t n_params = dcr_arch_n_params(&c->arch);
    if (c->n_params != n_params)
        return dcr_fail(err, DCR_ERR_USAGE,
                        "%s: cannot save: %zu parameters given, the network has %zu", path,
                        c->n_params, n_params);
    if (!c->params || (c->n_state > 0 && !c->state))
        return dcr_fail(err, DCR_ERR_USAGE, "%s: cannot save: no %s given", path,
                        c->params ? "optimizer state" : "parameters");

    int L = c->arch.n_layers;
    size_t dsize = dcr_dtype_size(c->arch.dtype);
    size_t header_len = CKPT_HEADER_BASE + 8 * (size_t)L, elems, payload, total;
    if (!dcr_add_ok(&elems, n_params, c->n_state) || !dcr_mul_ok(&payload, elems, dsize) ||
        !dcr_add_ok(&total, header_len, payload) || !dcr_add_ok(&total, total, 4))
        return dcr_fail(err, DCR_ERR_LIMIT, "%s: cannot save: the checkpoint would not fit in memory",
                        path);
    unsigned char *buf = malloc(total);
    if (!buf)
        return dcr_fail(err, DCR_ERR_NOMEM, "%s: cannot save: out of memory (%zu bytes)", path,
                        total);

    unsigned char *p = buf;
    memcpy(p, ckpt_magic, 8);
    ckpt_put32(p + CKPT_OFF_VERSION, DCR_CKPT_VERSION);
    ckpt_put32(p + CKPT_OFF_HEADER_LEN, (uint32_t)header_len);
    ckpt_put32(p + CKPT_OFF_DTYPE, (uint32_t)c->arch.dtype);
    ckpt_put32(p + CKPT_OFF_LOSS, (uint32_t)c->arch.loss);
    ckpt_put32(p + CKPT_OFF_N_LAYERS, (uint32_t)L);
    p += CKPT_OFF_SIZES;
    for (int l = 0; l <= L; l++, p += 4)
        ckpt_put32(p, (uint32_t)c->arch.sizes[l]);
    for (int l = 1; l <= L; l++, p += 4)
        ckpt_put32(p, (uint32_t)c->arch.act[l]);
    memcpy(p, c->spec_sha256, 32);
    p += 32;
    ckpt_put64(p, c->epoch);
    ckpt_put64(p + 8, c->step);
    p += 16;
    for (int i = 0; i < 4; i++, p += 8)
        ckpt_put64(p, c->rng[i]);
    ckpt_put64(p, (uint64_t)n_params);
    ckpt_put64(p + 8, (uint64_t)c->n_state);
    ckpt_put64(p + 16, (uint64_t)payload);
    p += 24;
    DCR_ASSERT((size_t)(p - buf) == header_len - 4);
    ckpt_put32(p, ckpt_crc(buf, header_len - 4));
    p += 4;

    ckpt_pack(p, c->params, n_params, c->arch.dtype);
    if (c->n_state > 0)
        ckpt_pack(p + n_params * dsize, c->state, c->n_state, c->arch.dtype);
    ckpt_put32(p + payload, ckpt_crc(p, payload));

    int rc = dcr_write_atomic(path, buf, total, err);
    free(buf);
    return rc;
}

/* ---- reading ------------------------------------------------------------- */

/* Reads and checks the header fields (the header CRC has already matched)
 * into out; 0 or -1 with the reason. */
static int ckpt_parse_header(dcr_ckpt *out, uint64_t *payload_len, const unsigned char *b,
                             size_t header_len, const char *path, dcr_error *err)
{
    uint32_t dtype = ckpt_get32(b + CKPT_OFF_DTYPE);
    uint32_t loss = ckpt_get32(b + CKPT_OFF_LOSS);
    uint32_t L = ckpt_get32(b + CKPT_OFF_N_LAYERS);
    if (L < 1 || L > DCR_MAX_LAYERS)
        return dcr_fail(err, DCR_ERR_DATA, "%s: header is not valid: %lu layers (1 to %d allowed)",
                        path, (unsigned long)L, DCR_MAX_LAYERS);
    if (header_len != CKPT_HEADER_BASE + 8 * (size_t)L)
        return dcr_fail(err, DCR_ERR_DATA,
                        "%s: header is not valid: %lu layers need a %zu-byte header, not %zu",
                        path, (unsigned long)L, CKPT_HEADER_BASE + 8 * (size_t)L, header_len);
    if (dtype != DCR_F32 && dtype != DCR_F64)
        return dcr_fail(err, DCR_ERR_DATA,
                        "%s: header is not valid: dtype %lu (0 float32 or 1 float64 expected)", path,
                        (unsigned long)dtype);
    if (loss >= DCR_N_LOSSES)
        return dcr_fail(err, DCR_ERR_DATA, "%s: header is not valid: loss %lu is unknown", path,
                        (unsigned long)loss);

    dcr_arch *a = &out->arch;
    a->dtype = (dcr_dtype)dtype;
    a->loss = (dcr_loss)loss;
    a->n_layers = (int)L;
    a->act[0] = DCR_ACT_IDENTITY;
    const unsigned char *p = b + CKPT_OFF_SIZES;
    for (uint32_t l = 0; l <= L; l++, p += 4) {
        uint32_t s = ckpt_get32(p);
        if (s < 1 || s > INT_MAX)
            return dcr_fail(err, DCR_ERR_DATA, "%s: header is not valid: layer %lu has %lu units",
                            path, (unsigned long)l, (unsigned long)s);
        a->sizes[l] = (int)s;
    }
    for (uint32_t l = 1; l <= L; l++, p += 4) {
        uint32_t act = ckpt_get32(p);
        if (act >= DCR_N_ACTS)
            return dcr_fail(err, DCR_ERR_DATA,
                            "%s: header is not valid: layer %lu has activation %lu, which is unknown",
                            path, (unsigned long)l, (unsigned long)act);
        a->act[l] = (dcr_act)act;
    }
    memcpy(out->spec_sha256, p, 32);
    p += 32;
    out->epoch = ckpt_get64(p);
    out->step = ckpt_get64(p + 8);
    p += 16;
    for (int i = 0; i < 4; i++, p += 8)
        out->rng[i] = ckpt_get64(p);
    uint64_t n_params = ckpt_get64(p), n_state = ckpt_get64(p + 8);
    *payload_len = ckpt_get64(p + 16);

    if (!dcr_arch_valid(a))
        return dcr_fail(err, DCR_ERR_DATA,
                        "%s: header is not valid: the network has more parameters than fit in memory",
                        path);
    size_t want = dcr_arch_n_params(a);
    if (n_params != (uint64_t)want)
        return dcr_fail(err, DCR_ERR_DATA,
                        "%s: header is not valid: %llu parameters, the network has %zu", path,
                        (unsigned long long)n_params, want);
    uint64_t dsize = dcr_dtype_size(a->dtype);
    if (n_state > UINT64_MAX - n_params || n_params + n_state > UINT64_MAX / dsize ||
        (n_params + n_state) * dsize != *payload_len)
        return dcr_fail(err, DCR_ERR_DATA,
                        "%s: header is not valid: payload length %llu does not match "
                        "%llu parameters and %llu state elements of %s",
                        path, (unsigned long long)*payload_len, (unsigned long long)n_params,
                        (unsigned long long)n_state, dcr_dtype_name(a->dtype));
    if (n_state > SIZE_MAX)
        return dcr_fail(err, DCR_ERR_DATA, "%s: header is not valid: %llu state elements", path,
                        (unsigned long long)n_state);
    out->n_params = want;
    out->n_state = (size_t)n_state;
    return 0;
}

static int ckpt_read_bytes(dcr_ckpt *out, const unsigned char *b, size_t n, const char *path,
                           dcr_error *err)
{
    if (n < CKPT_MIN_BYTES) {
        /* A short file that does not even start like one is something else. */
        if (memcmp(b, ckpt_magic, n < 8 ? n : 8) != 0)
            return dcr_fail(err, DCR_ERR_DATA, "%s: not a deltac checkpoint (bad magic)", path);
        return dcr_fail(err, DCR_ERR_DATA, "%s: too short to be a checkpoint (%zu bytes)", path, n);
    }
    if (memcmp(b, ckpt_magic, 8) != 0)
        return dcr_fail(err, DCR_ERR_DATA, "%s: not a deltac checkpoint (bad magic)", path);
    uint32_t version = ckpt_get32(b + CKPT_OFF_VERSION);
    if (version > DCR_CKPT_VERSION)
        return dcr_fail(err, DCR_ERR_DATA, "%s: format version %lu is newer than this deltac reads (%d)",
                        path, (unsigned long)version, DCR_CKPT_VERSION);
    if (version == 0)
        return dcr_fail(err, DCR_ERR_DATA, "%s: format version 0 is not valid", path);

    /* The header length says where the header CRC is; check that it could
     * belong to some network before using it. */
    uint32_t header_len = ckpt_get32(b + CKPT_OFF_HEADER_LEN);
    if (header_len < CKPT_HEADER_BASE + 8 || header_len > CKPT_HEADER_BASE + 8 * DCR_MAX_LAYERS ||
        (header_len - CKPT_HEADER_BASE) % 8 != 0)
        return dcr_fail(err, DCR_ERR_DATA, "%s: header length %lu is not valid", path,
                        (unsigned long)header_len);
    if (n < header_len)
        return dcr_fail(err, DCR_ERR_DATA, "%s: truncated: %zu bytes, expected at least %lu", path,
                        n, (unsigned long)header_len);
    if (ckpt_crc(b, header_len - 4) != ckpt_get32(b + header_len - 4))
        return dcr_fail(err, DCR_ERR_DATA, "%s: header is damaged (CRC mismatch)", path);

    uint64_t payload_len = 0;
    if (ckpt_parse_header(out, &payload_len, b, header_len, path, err))
        return -1;
    /* payload_len <= (2^64 - 1) / 1, so only the sum can overflow */
    if (payload_len > UINT64_MAX - header_len - 4)
        return dcr_fail(err, DCR_ERR_DATA, "%s: header is not valid: payload length %llu", path,
                        (unsigned long long)payload_len);
    uint64_t want = header_len + payload_len + 4;
    if ((uint64_t)n < want)
        return dcr_fail(err, DCR_ERR_DATA, "%s: truncated: %zu bytes, expected %llu", path, n,
                        (unsigned long long)want);
    if ((uint64_t)n > want) {
        uint64_t extra = (uint64_t)n - want;
        return dcr_fail(err, DCR_ERR_DATA, "%s: %llu trailing byte%s after the checkpoint", path,
                        (unsigned long long)extra, extra == 1 ? "" : "s");
    }
    /* Now payload_len < n, so every size below fits size_t. */
    const unsigned char *pl = b + header_len;
    size_t plen = (size_t)payload_len;
    if (ckpt_crc(pl, plen) != ckpt_get32(pl + plen))
        return dcr_fail(err, DCR_ERR_DATA, "%s: payload is damaged (CRC mismatch)", path);

    size_t dsize = dcr_dtype_size(out->arch.dtype);
    out->params = malloc(out->n_params * dsize);
    if (!out->params)
        return dcr_fail(err, DCR_ERR_NOMEM, "%s: out of memory (%zu parameters)", path,
                        out->n_params);
    ckpt_unpack(out->params, pl, out->n_params, out->arch.dtype);
    if (out->n_state > 0) {
        out->state = malloc(out->n_state * dsize);
        if (!out->state)
            return dcr_fail(err, DCR_ERR_NOMEM, "%s: out of memory (%zu state elements)", path,
                            out->n_state);
        ckpt_unpack(out->state, pl + out->n_params * dsize, out->n_state, out->arch.dtype);
    }
    return 0;
}

int dcr_ckpt_read(dcr_ckpt *out, const char *path, dcr_error *err)
{
    if (!out)
        return dcr_fail(err, DCR_ERR_USAGE, "cannot read a checkpoint: nowhere to put it");
    memset(out, 0, sizeof *out);
    size_t max = DCR_CKPT_MAX_BYTES > SIZE_MAX ? SIZE_MAX : (size_t)DCR_CKPT_MAX_BYTES;
    unsigned char *b;
    size_t n;
    if (dcr_read_file(&b, &n, path, max, err)) {
        if (err && err->status == DCR_ERR_LIMIT)
            dcr_fail(err, DCR_ERR_LIMIT, "%s: file is larger than %zu bytes (DCR_CKPT_MAX_BYTES)",
                     path, max);
        return -1;
    }
    int rc = ckpt_read_bytes(out, b, n, path, err);
    free(b);
    if (rc)
        dcr_ckpt_free(out);
    return rc;
}

/* ---- comparing with a spec ----------------------------------------------- */

static void ckpt_hex12(char out[13], const unsigned char *sha)
{
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < 6; i++) {
        out[2 * i] = digits[sha[i] >> 4];
        out[2 * i + 1] = digits[sha[i] & 15];
    }
    out[12] = '\0';
}

int dcr_ckpt_check(const dcr_ckpt *c, const char *path, const dcr_arch *arch,
                   const unsigned char sha[32], dcr_error *err)
{
    if (!c || !path || !arch || !sha)
        return dcr_fail(err, DCR_ERR_USAGE, "cannot check a checkpoint: nothing given");
    const dcr_arch *s = &c->arch;
    if (s->dtype != arch->dtype)
        return dcr_fail(err, DCR_ERR_DATA, "%s: saved with %s, the spec says %s", path,
                        dcr_dtype_name(s->dtype), dcr_dtype_name(arch->dtype));
    if (s->loss != arch->loss)
        return dcr_fail(err, DCR_ERR_DATA, "%s: saved with loss %s, the spec says %s", path,
                        dcr_loss_name(s->loss), dcr_loss_name(arch->loss));
    if (s->n_layers != arch->n_layers)
        return dcr_fail(err, DCR_ERR_DATA, "%s: saved with %d layers, the spec says %d", path,
                        s->n_layers, arch->n_layers);
    if (s->sizes[0] != arch->sizes[0])
        return dcr_fail(err, DCR_ERR_DATA, "%s: saved with %d inputs, the spec says %d", path,
                        s->sizes[0], arch->sizes[0]);
    for (int l = 1; l <= s->n_layers; l++)
        if (s->sizes[l] != arch->sizes[l])
            return dcr_fail(err, DCR_ERR_DATA, "%s: saved with %d units in layer %d, the spec says %d",
                            path, s->sizes[l], l, arch->sizes[l]);
    for (int l = 1; l <= s->n_layers; l++)
        if (s->act[l] != arch->act[l])
            return dcr_fail(err, DCR_ERR_DATA, "%s: saved with %s in layer %d, the spec says %s", path,
                            dcr_act_name(s->act[l]), l, dcr_act_name(arch->act[l]));
    if (memcmp(c->spec_sha256, sha, 32) != 0) {
        char a[13], b[13];
        ckpt_hex12(a, c->spec_sha256);
        ckpt_hex12(b, sha);
        return dcr_fail(err, DCR_ERR_DATA, "%s: saved from another spec (sha256 %s..., this spec %s...)",
                        path, a, b);
    }
    return 0;
}

void dcr_ckpt_free(dcr_ckpt *c)
{
    if (!c)
        return;
    free(c->params);
    free(c->state);
    memset(c, 0, sizeof *c);
}
