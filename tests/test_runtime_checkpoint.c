/* test_runtime_checkpoint.c: checkpoints (dcr_ckpt_save, dcr_ckpt_read,
 * dcr_ckpt_check) byte by byte and every defect with its own message, and the
 * file layer under them (dcr_write_atomic, dcr_read_file) with injected
 * failures. */
#define _POSIX_C_SOURCE 200809L

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dcr.h"
#include "dcr_fileio.h"

static char dir[64];
static char path[128];

/* Removes everything in dir (the tests leave only regular files). */
static void clean_dir(void)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
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

static void setup(void)
{
    strcpy(dir, "/tmp/dcr_ckpt_XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/model.ckpt", dir);
    dcr_fault_hook = NULL;
}

static void teardown(void)
{
    dcr_fault_hook = NULL;
    clean_dir();
    rmdir(dir);
}

TestSuite(ckpt, .init = setup, .fini = teardown);
TestSuite(fileio, .init = setup, .fini = teardown);

/* ---- helpers ---------------------------------------------------------------- */

/* Entries in dir other than . and .. */
static int n_entries(void)
{
    DIR *d = opendir(dir);
    cr_assert_not_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            n++;
    closedir(d);
    return n;
}

/* The whole file at path (caller frees). */
static unsigned char *slurp(size_t *n)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "cannot open %s", path);
    size_t cap = 1 << 12, len = 0;
    unsigned char *b = malloc(cap);
    cr_assert_not_null(b);
    for (;;) {
        if (len == cap) {
            cap *= 2;
            b = realloc(b, cap);
            cr_assert_not_null(b);
        }
        size_t got = fread(b + len, 1, cap - len, f);
        if (got == 0)
            break;
        len += got;
    }
    fclose(f);
    *n = len;
    return b;
}

static void spit(const unsigned char *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(b, 1, n, f), n);
    cr_assert_eq(fclose(f), 0);
}

/* An independent bitwise CRC-32 (reflected, polynomial 0xEDB88320): what the
 * format promises, computed without zlib. */
static uint32_t crc32_ref(const unsigned char *p, size_t n)
{
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
    }
    return c ^ 0xffffffffu;
}

static uint32_t get32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const unsigned char *p)
{
    return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

static void put32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void put64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

/* Recomputes the header CRC of a checkpoint image after a test edited it. */
static void fix_header_crc(unsigned char *b)
{
    uint32_t hl = get32(b + 12);
    put32(b + hl - 4, crc32_ref(b, hl - 4));
}

static dcr_arch arch3(dcr_dtype t)
{
    /* 3 inputs, 4 tanh units, 2 softmax outputs: 16 + 10 = 26 parameters */
    dcr_arch a;
    memset(&a, 0, sizeof a);
    a.dtype = t;
    a.n_layers = 2;
    a.sizes[0] = 3;
    a.sizes[1] = 4;
    a.sizes[2] = 2;
    a.act[1] = DCR_ACT_TANH;
    a.act[2] = DCR_ACT_SOFTMAX;
    a.loss = DCR_LOSS_CROSS_ENTROPY;
    return a;
}

/* Header length of a checkpoint of L layers (docs/checkpoint.md). */
static size_t header_len_of(int L)
{
    return 140 + 8 * (size_t)L;
}

/* Values that exercise every bit: signs, -0, subnormals, huge, NaN, Inf. */
static double value_at(size_t i)
{
    switch (i % 8) {
    case 0: return -0.0;
    case 1: return 1e-310;   /* float64 subnormal; 0 in float32 */
    case 2: return -1.5e30;
    case 3: return NAN;
    case 4: return 1e-40;    /* float32 subnormal */
    case 5: return -INFINITY;
    default: return sin((double)i) * 1000.0 + (double)i / 7.0;
    }
}

static void *make_values(dcr_dtype t, size_t n, size_t shift)
{
    void *v = malloc((n ? n : 1) * dcr_dtype_size(t));
    cr_assert_not_null(v);
    for (size_t i = 0; i < n; i++) {
        if (t == DCR_F32)
            ((float *)v)[i] = (float)value_at(i + shift);
        else
            ((double *)v)[i] = value_at(i + shift);
    }
    return v;
}

static const unsigned char SHA_A[32] = {0xab, 0x12, 0xcd, 0x34, 0xef, 0x56, 0x78, 0x9a, 0xbc,
                                        0xde, 0xf0, 0x01, 0x23, 0x45, 0x67, 0x89};
static const unsigned char SHA_B[32] = {0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0xfe,
                                        0xdc, 0xba, 0x98, 0x76, 0x54, 0x32, 0x10, 0xff};

/* A checkpoint of arch3 with n_state state elements (heap; free with
 * dcr_ckpt_free). */
static dcr_ckpt make_ckpt(dcr_dtype t, size_t n_state, size_t shift)
{
    dcr_ckpt c;
    memset(&c, 0, sizeof c);
    c.arch = arch3(t);
    memcpy(c.spec_sha256, SHA_A, 32);
    c.epoch = 0x0102030405060708ull;
    c.step = 0x1112131415161718ull + shift;
    c.rng[0] = 1;
    c.rng[1] = 0xffffffffffffffffull;
    c.rng[2] = 0x8000000000000000ull;
    c.rng[3] = 0x0123456789abcdefull + shift;
    c.n_params = dcr_arch_n_params(&c.arch);
    cr_assert_eq(c.n_params, 26);
    c.params = make_values(t, c.n_params, shift);
    c.n_state = n_state;
    c.state = n_state ? make_values(t, n_state, shift + 100) : NULL;
    return c;
}

static void save_ok(const dcr_ckpt *c)
{
    dcr_error e = {0};
    int rc = dcr_ckpt_save(path, c, &e);
    cr_assert_eq(rc, 0, "save failed: %s", e.msg);
}

static void assert_same(const dcr_ckpt *a, const dcr_ckpt *b)
{
    cr_assert_eq(a->arch.dtype, b->arch.dtype);
    cr_assert_eq(a->arch.loss, b->arch.loss);
    cr_assert_eq(a->arch.n_layers, b->arch.n_layers);
    for (int l = 0; l <= a->arch.n_layers; l++)
        cr_assert_eq(a->arch.sizes[l], b->arch.sizes[l]);
    for (int l = 1; l <= a->arch.n_layers; l++)
        cr_assert_eq(a->arch.act[l], b->arch.act[l]);
    cr_assert_eq(memcmp(a->spec_sha256, b->spec_sha256, 32), 0);
    cr_assert_eq(a->epoch, b->epoch);
    cr_assert_eq(a->step, b->step);
    for (int i = 0; i < 4; i++)
        cr_assert_eq(a->rng[i], b->rng[i]);
    size_t ds = dcr_dtype_size(a->arch.dtype);
    cr_assert_eq(a->n_params, b->n_params);
    cr_assert_eq(memcmp(a->params, b->params, a->n_params * ds), 0, "parameters differ");
    cr_assert_eq(a->n_state, b->n_state);
    if (a->n_state) {
        cr_assert_not_null(b->state);
        cr_assert_eq(memcmp(a->state, b->state, a->n_state * ds), 0, "state differs");
    } else {
        cr_assert_null(b->state);
    }
}

static void assert_empty(const dcr_ckpt *c)
{
    static const dcr_ckpt zero;
    cr_assert_eq(memcmp(c, &zero, sizeof *c), 0, "a failed read left something in out");
}

/* dcr_ckpt_read fails with status st and the message "<path><tail>", and
 * leaves out empty. */
static void read_err(dcr_status st, const char *tail)
{
    dcr_ckpt c;
    memset(&c, 0x5a, sizeof c); /* garbage: the reader must clear it */
    dcr_error e = {0};
    int rc = dcr_ckpt_read(&c, path, &e);
    char want[DCR_MSG_MAX];
    snprintf(want, sizeof want, "%s%s", path, tail);
    cr_assert_eq(rc, -1, "expected failure: %s", tail);
    cr_assert_str_eq(e.msg, want);
    cr_assert_eq(e.status, st, "status %d for %s", e.status, e.msg);
    assert_empty(&c);
}

/* Saves make_ckpt(t, 0, 0), returns its bytes (caller frees). */
static unsigned char *saved_image(dcr_dtype t, size_t *n)
{
    dcr_ckpt c = make_ckpt(t, 0, 0);
    save_ok(&c);
    dcr_ckpt_free(&c);
    return slurp(n);
}

/* ---- round trips ---------------------------------------------------------- */

static void round_trip(dcr_dtype t, size_t n_state)
{
    dcr_ckpt c = make_ckpt(t, n_state, 3), r;
    save_ok(&c);
    dcr_error e = {0};
    cr_assert_eq(dcr_ckpt_read(&r, path, &e), 0, "read failed: %s", e.msg);
    assert_same(&c, &r);
    cr_assert_eq(dcr_ckpt_check(&r, path, &c.arch, SHA_A, &e), 0, "check failed: %s", e.msg);
    cr_assert_eq(n_entries(), 1, "a temporary file was left behind");
    dcr_ckpt_free(&r);
    dcr_ckpt_free(&c);
    assert_empty(&c);
}

Test(ckpt, round_trip_float32) { round_trip(DCR_F32, 0); }
Test(ckpt, round_trip_float64) { round_trip(DCR_F64, 0); }
Test(ckpt, round_trip_float32_with_state) { round_trip(DCR_F32, 52); }
Test(ckpt, round_trip_float64_with_state) { round_trip(DCR_F64, 7); }

Test(ckpt, round_trip_one_layer_and_max_layers)
{
    for (int L = 1; L <= DCR_MAX_LAYERS; L += DCR_MAX_LAYERS - 1) {
        dcr_ckpt c;
        memset(&c, 0, sizeof c);
        c.arch.dtype = DCR_F64;
        c.arch.n_layers = L;
        for (int l = 0; l <= L; l++)
            c.arch.sizes[l] = 1 + l % 3;
        for (int l = 1; l <= L; l++)
            c.arch.act[l] = (dcr_act)(l % 4);
        c.arch.loss = DCR_LOSS_MSE;
        c.n_params = dcr_arch_n_params(&c.arch);
        c.params = make_values(DCR_F64, c.n_params, 0);
        save_ok(&c);
        size_t n;
        unsigned char *b = slurp(&n);
        cr_assert_eq(get32(b + 12), header_len_of(L));
        cr_assert_eq(n, header_len_of(L) + 8 * c.n_params + 4);
        free(b);
        dcr_ckpt r;
        dcr_error e = {0};
        cr_assert_eq(dcr_ckpt_read(&r, path, &e), 0, "L=%d: %s", L, e.msg);
        assert_same(&c, &r);
        dcr_ckpt_free(&r);
        dcr_ckpt_free(&c);
    }
}

Test(ckpt, save_overwrites_the_previous_checkpoint)
{
    dcr_ckpt a = make_ckpt(DCR_F32, 0, 0), b = make_ckpt(DCR_F32, 4, 9), r;
    save_ok(&a);
    save_ok(&b);
    dcr_error e = {0};
    cr_assert_eq(dcr_ckpt_read(&r, path, &e), 0, "%s", e.msg);
    assert_same(&b, &r);
    cr_assert_eq(n_entries(), 1);
    dcr_ckpt_free(&r);
    dcr_ckpt_free(&a);
    dcr_ckpt_free(&b);
}

/* The documented layout, checked byte by byte with an independent CRC. */
Test(ckpt, layout_is_the_documented_one)
{
    dcr_ckpt c;
    memset(&c, 0, sizeof c);
    c.arch.dtype = DCR_F32;
    c.arch.n_layers = 1;
    c.arch.sizes[0] = 1;
    c.arch.sizes[1] = 1;
    c.arch.act[1] = DCR_ACT_SIGMOID;
    c.arch.loss = DCR_LOSS_MSE;
    memcpy(c.spec_sha256, SHA_B, 32);
    c.epoch = 5;
    c.step = 0x0a0b0c0d0e0f1011ull;
    c.rng[0] = 0x1122334455667788ull;
    c.rng[3] = 42;
    float p[2] = {1.0f, -2.0f}, s[1] = {0.5f};
    c.n_params = 2;
    c.params = p;
    c.n_state = 1;
    c.state = s;
    save_ok(&c);
    size_t n;
    unsigned char *b = slurp(&n);
    cr_assert_eq(n, 148 + 12 + 4);
    cr_assert_eq(memcmp(b, "DELTACKP", 8), 0);
    cr_assert_eq(get32(b + 8), 1);      /* version */
    cr_assert_eq(get32(b + 12), 148);   /* header_len */
    cr_assert_eq(get32(b + 16), 0);     /* dtype float32 */
    cr_assert_eq(get32(b + 20), 0);     /* loss mse */
    cr_assert_eq(get32(b + 24), 1);     /* n_layers */
    cr_assert_eq(get32(b + 28), 1);     /* sizes[0] */
    cr_assert_eq(get32(b + 32), 1);     /* sizes[1] */
    cr_assert_eq(get32(b + 36), 1);     /* act[1] sigmoid */
    cr_assert_eq(memcmp(b + 40, SHA_B, 32), 0);
    cr_assert_eq(get64(b + 72), 5);     /* epoch */
    cr_assert_eq(b[80], 0x11);          /* step, little-endian */
    cr_assert_eq(b[87], 0x0a);
    cr_assert_eq(get64(b + 80), 0x0a0b0c0d0e0f1011ull);
    cr_assert_eq(b[88], 0x88);          /* rng[0], little-endian */
    cr_assert_eq(b[95], 0x11);
    cr_assert_eq(get64(b + 88), 0x1122334455667788ull);
    cr_assert_eq(get64(b + 96), 0);
    cr_assert_eq(get64(b + 112), 42);   /* rng[3] */
    cr_assert_eq(get64(b + 120), 2);    /* n_params */
    cr_assert_eq(get64(b + 128), 1);    /* n_state */
    cr_assert_eq(get64(b + 136), 12);   /* payload_len */
    cr_assert_eq(get32(b + 144), crc32_ref(b, 144));
    static const unsigned char payload[12] = {0x00, 0x00, 0x80, 0x3f,  /* 1.0f */
                                              0x00, 0x00, 0x00, 0xc0,  /* -2.0f */
                                              0x00, 0x00, 0x00, 0x3f}; /* 0.5f */
    cr_assert_eq(memcmp(b + 148, payload, 12), 0);
    cr_assert_eq(get32(b + 160), crc32_ref(payload, 12));
    free(b);
}

Test(ckpt, crc_is_the_standard_crc32)
{
    /* the check value of CRC-32/ISO-HDLC, which zlib computes */
    cr_assert_eq(crc32_ref((const unsigned char *)"123456789", 9), 0xcbf43926u);
}

/* ---- corruption, each with its own message --------------------------------- */

Test(ckpt, flipped_header_byte)
{
    size_t n;
    unsigned char *b = saved_image(DCR_F64, &n);
    b[50] ^= 0x01; /* inside the spec hash */
    spit(b, n);
    read_err(DCR_ERR_DATA, ": header is damaged (CRC mismatch)");
    free(b);
}

Test(ckpt, flipped_payload_byte)
{
    size_t n;
    unsigned char *b = saved_image(DCR_F64, &n);
    b[header_len_of(2) + 17] ^= 0x80;
    spit(b, n);
    read_err(DCR_ERR_DATA, ": payload is damaged (CRC mismatch)");
    free(b);
}

Test(ckpt, flipped_payload_crc)
{
    size_t n;
    unsigned char *b = saved_image(DCR_F32, &n);
    b[n - 1] ^= 0x01;
    spit(b, n);
    read_err(DCR_ERR_DATA, ": payload is damaged (CRC mismatch)");
    free(b);
}

/* Every single flipped byte anywhere in the file is caught, and the header
 * and payload CRC messages say which part. */
Test(ckpt, every_flipped_byte_is_caught)
{
    size_t n;
    unsigned char *b = saved_image(DCR_F32, &n);
    size_t hl = header_len_of(2);
    for (size_t i = 0; i < n; i++) {
        b[i] ^= 0x10;
        spit(b, n);
        dcr_ckpt c;
        dcr_error e = {0};
        int rc = dcr_ckpt_read(&c, path, &e);
        cr_assert_eq(rc, -1, "flipping byte %zu went unnoticed", i);
        assert_empty(&c);
        const char *m = e.msg + strlen(path);
        if (i < 8)
            cr_assert_str_eq(m, ": not a deltac checkpoint (bad magic)", "byte %zu: %s", i, e.msg);
        else if (i < 12)
            cr_assert(strstr(m, ": format version ") == m, "byte %zu: %s", i, e.msg);
        else if (i < 16)
            cr_assert(strstr(m, "header length") || strstr(m, "truncated") || strstr(m, "CRC"),
                      "byte %zu: %s", i, e.msg);
        else if (i < hl)
            cr_assert_str_eq(m, ": header is damaged (CRC mismatch)", "byte %zu: %s", i, e.msg);
        else
            cr_assert_str_eq(m, ": payload is damaged (CRC mismatch)", "byte %zu: %s", i, e.msg);
        b[i] ^= 0x10;
    }
    free(b);
}

Test(ckpt, truncated)
{
    size_t n;
    unsigned char *b = saved_image(DCR_F64, &n);
    size_t hl = header_len_of(2);
    cr_assert_eq(n, hl + 26 * 8 + 4);
    char tail[256];

    spit(b, 0);
    read_err(DCR_ERR_DATA, ": too short to be a checkpoint (0 bytes)");
    spit(b, 5);
    read_err(DCR_ERR_DATA, ": too short to be a checkpoint (5 bytes)");
    spit(b, 15);
    read_err(DCR_ERR_DATA, ": too short to be a checkpoint (15 bytes)");

    /* inside the header */
    size_t in_header[] = {16, 17, 40, 100, hl - 4, hl - 1};
    for (size_t i = 0; i < sizeof in_header / sizeof *in_header; i++) {
        spit(b, in_header[i]);
        snprintf(tail, sizeof tail, ": truncated: %zu bytes, expected at least %zu", in_header[i], hl);
        read_err(DCR_ERR_DATA, tail);
    }
    /* inside the payload or its CRC */
    size_t in_payload[] = {hl, hl + 1, hl + 100, n - 4, n - 1};
    for (size_t i = 0; i < sizeof in_payload / sizeof *in_payload; i++) {
        spit(b, in_payload[i]);
        snprintf(tail, sizeof tail, ": truncated: %zu bytes, expected %zu", in_payload[i], n);
        read_err(DCR_ERR_DATA, tail);
    }
    free(b);
}

Test(ckpt, trailing_bytes)
{
    size_t n;
    unsigned char *b = saved_image(DCR_F32, &n);
    unsigned char *big = calloc(n + 7, 1);
    cr_assert_not_null(big);
    memcpy(big, b, n);
    spit(big, n + 1);
    read_err(DCR_ERR_DATA, ": 1 trailing byte after the checkpoint");
    spit(big, n + 7);
    read_err(DCR_ERR_DATA, ": 7 trailing bytes after the checkpoint");
    free(big);
    free(b);
}

Test(ckpt, wrong_magic)
{
    size_t n;
    unsigned char *b = saved_image(DCR_F32, &n);
    b[7] = 'Q';
    spit(b, n);
    read_err(DCR_ERR_DATA, ": not a deltac checkpoint (bad magic)");
    const char *text = "epoch,loss\n1,0.5\n2,0.25\n";
    spit((const unsigned char *)text, strlen(text));
    read_err(DCR_ERR_DATA, ": not a deltac checkpoint (bad magic)");
    spit((const unsigned char *)"abc", 3); /* short, and not even the magic's start */
    read_err(DCR_ERR_DATA, ": not a deltac checkpoint (bad magic)");
    free(b);
}

Test(ckpt, newer_version)
{
    size_t n;
    unsigned char *b = saved_image(DCR_F32, &n);
    put32(b + 8, 7);
    fix_header_crc(b); /* so that only the version is wrong */
    spit(b, n);
    read_err(DCR_ERR_DATA, ": format version 7 is newer than this deltac reads (1)");
    put32(b + 8, 0);
    fix_header_crc(b);
    spit(b, n);
    read_err(DCR_ERR_DATA, ": format version 0 is not valid");
    free(b);
}

Test(ckpt, bad_header_length)
{
    size_t n;
    unsigned char *b = saved_image(DCR_F32, &n);
    uint32_t bad[] = {0, 147, 149, 140 + 8 * (DCR_MAX_LAYERS + 1), 0xffffffffu};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        put32(b + 12, bad[i]);
        spit(b, n);
        char tail[128];
        snprintf(tail, sizeof tail, ": header length %lu is not valid", (unsigned long)bad[i]);
        read_err(DCR_ERR_DATA, tail);
    }
    free(b);
}

/* Header fields that a buggy writer could produce: the CRC matches, the
 * content does not. */
static void bad_field(size_t off, int width, uint64_t v, const char *tail)
{
    size_t n;
    unsigned char *b = saved_image(DCR_F32, &n);
    if (width == 4)
        put32(b + off, (uint32_t)v);
    else
        put64(b + off, v);
    fix_header_crc(b);
    spit(b, n);
    read_err(DCR_ERR_DATA, tail);
    free(b);
}

/* offsets for arch3 (2 layers): sizes at 28, act at 40, sha at 48, epoch at
 * 80, step at 88, rng at 96, n_params at 128, n_state at 136, payload_len at
 * 144 */
Test(ckpt, bad_header_fields)
{
    bad_field(16, 4, 2, ": header is not valid: dtype 2 (0 float32 or 1 float64 expected)");
    bad_field(20, 4, 9, ": header is not valid: loss 9 is unknown");
    bad_field(24, 4, 0, ": header is not valid: 0 layers (1 to 32 allowed)");
    bad_field(24, 4, 3, ": header is not valid: 3 layers need a 164-byte header, not 156");
    bad_field(28, 4, 0, ": header is not valid: layer 0 has 0 units");
    bad_field(36, 4, 0x80000000u, ": header is not valid: layer 2 has 2147483648 units");
    bad_field(44, 4, 9, ": header is not valid: layer 2 has activation 9, which is unknown");
    bad_field(128, 8, 27, ": header is not valid: 27 parameters, the network has 26");
    bad_field(144, 8, 108,
              ": header is not valid: payload length 108 does not match 26 parameters and 0 "
              "state elements of float32");
    bad_field(136, 8, UINT64_MAX,
              ": header is not valid: payload length 104 does not match 26 parameters and "
              "18446744073709551615 state elements of float32");
}

Test(ckpt, state_length_is_checked_against_the_file)
{
    /* n_state and payload_len agree with each other but not with the file */
    size_t n;
    unsigned char *b = saved_image(DCR_F32, &n);
    put64(b + 136, 10);
    put64(b + 144, 36 * 4);
    fix_header_crc(b);
    spit(b, n);
    char tail[128];
    snprintf(tail, sizeof tail, ": truncated: %zu bytes, expected %zu", n, n + 40);
    read_err(DCR_ERR_DATA, tail);
    free(b);
}

Test(ckpt, missing_file_and_folder)
{
    read_err(DCR_ERR_IO, ": cannot open: No such file or directory");
    cr_assert_eq(mkdir(path, 0700), 0);
    read_err(DCR_ERR_IO, ": is a folder, not a file");
    rmdir(path);
}

/* ---- dcr_ckpt_check ----------------------------------------------------------- */

static void check_err(const dcr_ckpt *c, const dcr_arch *a, const unsigned char *sha,
                      const char *tail)
{
    dcr_error e = {0};
    cr_assert_eq(dcr_ckpt_check(c, path, a, sha, &e), -1, "expected: %s", tail);
    char want[DCR_MSG_MAX];
    snprintf(want, sizeof want, "%s%s", path, tail);
    cr_assert_str_eq(e.msg, want);
    cr_assert_eq(e.status, DCR_ERR_DATA);
}

Test(ckpt, check_names_the_first_difference)
{
    dcr_ckpt c = make_ckpt(DCR_F64, 0, 0), r;
    save_ok(&c);
    dcr_error e = {0};
    cr_assert_eq(dcr_ckpt_read(&r, path, &e), 0, "%s", e.msg);
    dcr_arch a = arch3(DCR_F64);
    cr_assert_eq(dcr_ckpt_check(&r, path, &a, SHA_A, &e), 0, "%s", e.msg);

    check_err(&r, &a, SHA_B, ": saved from another spec (sha256 ab12cd34ef56..., this spec 0123456789ab...)");

    a = arch3(DCR_F32);
    check_err(&r, &a, SHA_A, ": saved with float64, the spec says float32");
    a = arch3(DCR_F64);
    a.loss = DCR_LOSS_MSE;
    check_err(&r, &a, SHA_A, ": saved with loss cross_entropy, the spec says mse");
    a = arch3(DCR_F64);
    a.n_layers = 3;
    a.sizes[3] = 2;
    a.act[3] = DCR_ACT_SOFTMAX;
    check_err(&r, &a, SHA_A, ": saved with 2 layers, the spec says 3");
    a = arch3(DCR_F64);
    a.sizes[0] = 5;
    check_err(&r, &a, SHA_A, ": saved with 3 inputs, the spec says 5");
    a = arch3(DCR_F64);
    a.sizes[1] = 8;
    check_err(&r, &a, SHA_A, ": saved with 4 units in layer 1, the spec says 8");
    a = arch3(DCR_F64);
    a.act[1] = DCR_ACT_RELU;
    check_err(&r, &a, SHA_A, ": saved with tanh in layer 1, the spec says relu");
    /* dims differ and the spec too: the network is named first */
    a = arch3(DCR_F64);
    a.sizes[2] = 3;
    check_err(&r, &a, SHA_B, ": saved with 2 units in layer 2, the spec says 3");

    dcr_ckpt_free(&r);
    dcr_ckpt_free(&c);
}

/* ---- saving: atomicity ---------------------------------------------------------- */

static const char *fail_op;
static int fail_calls;

static int fail_hook(const char *op)
{
    if (strcmp(op, fail_op) == 0) {
        fail_calls++;
        return 1;
    }
    return 0;
}

/* With op failing, a save reports it, the previous checkpoint is intact and
 * readable, and no temporary file is left. */
static void failed_save_keeps_previous(const char *op, int errnum)
{
    dcr_ckpt old = make_ckpt(DCR_F64, 3, 0), new = make_ckpt(DCR_F64, 3, 5), r;
    save_ok(&old);
    size_t n0;
    unsigned char *before = slurp(&n0);

    fail_op = op;
    fail_calls = 0;
    dcr_fault_hook = fail_hook;
    dcr_error e = {0};
    int rc = dcr_ckpt_save(path, &new, &e);
    dcr_fault_hook = NULL;
    cr_assert_eq(rc, -1, "the %s failure went unnoticed", op);
    cr_assert_gt(fail_calls, 0, "the hook was not asked about %s", op);
    char want[DCR_MSG_MAX];
    snprintf(want, sizeof want, "%s: cannot write: %s", path, strerror(errnum));
    cr_assert_str_eq(e.msg, want);
    cr_assert_eq(e.status, DCR_ERR_IO);

    cr_assert_eq(n_entries(), 1, "a temporary file was left after a failed %s", op);
    size_t n1;
    unsigned char *after = slurp(&n1);
    cr_assert_eq(n1, n0);
    cr_assert_eq(memcmp(before, after, n0), 0, "the previous checkpoint changed");
    cr_assert_eq(dcr_ckpt_read(&r, path, &e), 0, "%s", e.msg);
    assert_same(&old, &r);

    dcr_ckpt_free(&r);
    free(before);
    free(after);
    dcr_ckpt_free(&old);
    dcr_ckpt_free(&new);
}

Test(fileio, failed_open_keeps_previous) { failed_save_keeps_previous("open", EIO); }
Test(fileio, failed_write_keeps_previous) { failed_save_keeps_previous("write", ENOSPC); }
Test(fileio, failed_fsync_keeps_previous) { failed_save_keeps_previous("fsync", EIO); }
Test(fileio, failed_close_keeps_previous) { failed_save_keeps_previous("close", EIO); }
Test(fileio, failed_rename_keeps_previous) { failed_save_keeps_previous("rename", EIO); }

Test(fileio, failed_first_save_leaves_nothing)
{
    dcr_ckpt c = make_ckpt(DCR_F32, 0, 0);
    fail_op = "fsync";
    dcr_fault_hook = fail_hook;
    dcr_error e = {0};
    cr_assert_eq(dcr_ckpt_save(path, &c, &e), -1);
    dcr_fault_hook = NULL;
    cr_assert_eq(n_entries(), 0, "a failed first save left a file");
    dcr_ckpt_free(&c);
}

Test(fileio, failed_folder_sync_is_reported_but_the_file_is_new)
{
    dcr_ckpt old = make_ckpt(DCR_F32, 0, 0), new = make_ckpt(DCR_F32, 0, 1), r;
    save_ok(&old);
    fail_op = "dirsync";
    fail_calls = 0;
    dcr_fault_hook = fail_hook;
    dcr_error e = {0};
    cr_assert_eq(dcr_ckpt_save(path, &new, &e), -1);
    dcr_fault_hook = NULL;
    cr_assert_eq(fail_calls, 1);
    char want[DCR_MSG_MAX];
    snprintf(want, sizeof want,
             "%s: written, but its folder could not be synced: %s (the new file is in place but "
             "may not survive a crash)",
             path, strerror(EIO));
    cr_assert_str_eq(e.msg, want);
    cr_assert_eq(e.status, DCR_ERR_IO);
    cr_assert_eq(n_entries(), 1);
    cr_assert_eq(dcr_ckpt_read(&r, path, &e), 0, "%s", e.msg);
    assert_same(&new, &r);
    dcr_ckpt_free(&r);
    dcr_ckpt_free(&old);
    dcr_ckpt_free(&new);
}

Test(fileio, save_into_a_missing_folder)
{
    dcr_ckpt c = make_ckpt(DCR_F32, 0, 0);
    char p[256];
    snprintf(p, sizeof p, "%s/no/such/folder/model.ckpt", dir);
    dcr_error e = {0};
    cr_assert_eq(dcr_ckpt_save(p, &c, &e), -1);
    char want[DCR_MSG_MAX];
    snprintf(want, sizeof want, "%s: cannot write: No such file or directory", p);
    cr_assert_str_eq(e.msg, want);
    cr_assert_eq(e.status, DCR_ERR_IO);
    cr_assert_eq(n_entries(), 0);
    dcr_ckpt_free(&c);
}

Test(fileio, save_over_a_folder_fails_and_cleans_up)
{
    cr_assert_eq(mkdir(path, 0700), 0);
    dcr_ckpt c = make_ckpt(DCR_F32, 0, 0);
    dcr_error e = {0};
    cr_assert_eq(dcr_ckpt_save(path, &c, &e), -1);
    char want[DCR_MSG_MAX];
    snprintf(want, sizeof want, "%s: cannot write: %s", path, strerror(EISDIR));
    cr_assert_str_eq(e.msg, want);
    cr_assert_eq(n_entries(), 1, "the temporary file was left beside the folder");
    rmdir(path);
    dcr_ckpt_free(&c);
}

Test(fileio, save_in_the_current_folder)
{
    /* a name without a slash: the folder synced is "." */
    char cwd[512];
    cr_assert_not_null(getcwd(cwd, sizeof cwd));
    cr_assert_eq(chdir(dir), 0);
    dcr_error e = {0};
    int rc = dcr_write_atomic("plain.bin", "abc", 3, &e);
    cr_assert_eq(chdir(cwd), 0);
    cr_assert_eq(rc, 0, "%s", e.msg);
    cr_assert_eq(n_entries(), 1);
}

Test(fileio, permissions_of_a_replaced_file_are_kept)
{
    dcr_error e = {0};
    cr_assert_eq(dcr_write_atomic(path, "one", 3, &e), 0, "%s", e.msg);
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0644, "a new file is 0644, like other tools' output");
    cr_assert_eq(chmod(path, 0640), 0);
    cr_assert_eq(dcr_write_atomic(path, "two", 3, &e), 0, "%s", e.msg);
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0640);
}

Test(fileio, save_rejects_an_inconsistent_checkpoint)
{
    dcr_ckpt c = make_ckpt(DCR_F32, 0, 0);
    dcr_error e = {0};
    c.n_params = 25;
    cr_assert_eq(dcr_ckpt_save(path, &c, &e), -1);
    cr_assert_eq(e.status, DCR_ERR_USAGE);
    c.n_params = 26;
    c.n_state = 2; /* but no state */
    cr_assert_eq(dcr_ckpt_save(path, &c, &e), -1);
    cr_assert_eq(e.status, DCR_ERR_USAGE);
    c.n_state = 0;
    c.arch.sizes[1] = 0;
    cr_assert_eq(dcr_ckpt_save(path, &c, &e), -1);
    cr_assert_eq(e.status, DCR_ERR_USAGE);
    cr_assert_eq(n_entries(), 0);
    c.arch.sizes[1] = 4;
    dcr_ckpt_free(&c);
}

/* ---- reading files -------------------------------------------------------------- */

Test(fileio, read_file_limits_and_empty_files)
{
    unsigned char data[100];
    for (int i = 0; i < 100; i++)
        data[i] = (unsigned char)(i * 7);
    spit(data, 100);
    unsigned char *b;
    size_t n;
    dcr_error e = {0};
    cr_assert_eq(dcr_read_file(&b, &n, path, 100, &e), 0, "%s", e.msg);
    cr_assert_eq(n, 100);
    cr_assert_eq(memcmp(b, data, 100), 0);
    free(b);

    cr_assert_eq(dcr_read_file(&b, &n, path, 99, &e), -1);
    cr_assert_null(b);
    char want[DCR_MSG_MAX];
    snprintf(want, sizeof want, "%s: file is larger than 99 bytes", path);
    cr_assert_str_eq(e.msg, want);
    cr_assert_eq(e.status, DCR_ERR_LIMIT);

    spit(data, 0);
    cr_assert_eq(dcr_read_file(&b, &n, path, 0, &e), 0, "%s", e.msg);
    cr_assert_eq(n, 0);
    cr_assert_not_null(b, "an empty file still gives a buffer to free");
    free(b);
}

Test(fileio, read_errors)
{
    fail_op = "read";
    dcr_fault_hook = fail_hook;
    spit((const unsigned char *)"abc", 3);
    unsigned char *b;
    size_t n;
    dcr_error e = {0};
    cr_assert_eq(dcr_read_file(&b, &n, path, 10, &e), -1);
    dcr_fault_hook = NULL;
    cr_assert_null(b);
    char want[DCR_MSG_MAX];
    snprintf(want, sizeof want, "%s: cannot read: %s", path, strerror(EIO));
    cr_assert_str_eq(e.msg, want);
    cr_assert_eq(e.status, DCR_ERR_IO);

    /* through dcr_ckpt_read */
    dcr_fault_hook = fail_hook;
    read_err(DCR_ERR_IO, want + strlen(path));
    dcr_fault_hook = NULL;
}

Test(fileio, read_refuses_fifos_without_blocking)
{
    cr_assert_eq(mkfifo(path, 0600), 0);
    read_err(DCR_ERR_IO, ": not a regular file");
}

Test(fileio, checkpoint_size_limit_names_the_macro)
{
    /* a sparse file just over the limit: no disk is used */
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fclose(f), 0);
    if (truncate(path, (off_t)((uint64_t)4 << 30) + 1) != 0)
        cr_skip_test("cannot make a sparse file here: %s", strerror(errno));
    char tail[128];
    snprintf(tail, sizeof tail, ": file is larger than %zu bytes (DCR_CKPT_MAX_BYTES)",
             (size_t)((uint64_t)4 << 30));
    read_err(DCR_ERR_LIMIT, tail);
}
