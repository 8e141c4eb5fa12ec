/* test_runtime_idx.c: dcr_idx_load on small IDX files, plain and gzip'd,
 * every header and data error with its exact message, and (when the Debian
 * package dataset-fashion-mnist is installed) the real Fashion-MNIST test
 * set. */
#define _POSIX_C_SOURCE 200809L

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "dcr.h"

#define FASHION_DIR "/usr/share/datasets/fashion-mnist"

static char dir[64];
static char img_path[128], lab_path[128];

static void setup(void)
{
    strcpy(dir, "/tmp/dcr_idx_XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(img_path, sizeof img_path, "%s/images.idx", dir);
    snprintf(lab_path, sizeof lab_path, "%s/labels.idx", dir);
}

static void teardown(void)
{
    unlink(img_path);
    unlink(lab_path);
    rmdir(dir);
}

TestSuite(idx, .init = setup, .fini = teardown);

/* ---- building files ---------------------------------------------------------- */

typedef struct {
    unsigned char b[4096];
    size_t n;
} bytes;

static void put8(bytes *o, unsigned v)
{
    cr_assert_lt(o->n, sizeof o->b);
    o->b[o->n++] = (unsigned char)v;
}

static void put32(bytes *o, uint32_t v)
{
    put8(o, v >> 24);
    put8(o, (v >> 16) & 0xff);
    put8(o, (v >> 8) & 0xff);
    put8(o, v & 0xff);
}

/* A header: 0 0 type rank, then the dimensions. */
static void header(bytes *o, unsigned type, int rank, const uint32_t *dims)
{
    o->n = 0;
    put8(o, 0);
    put8(o, 0);
    put8(o, type);
    put8(o, (unsigned)rank);
    for (int i = 0; i < rank; i++)
        put32(o, dims[i]);
}

/* n images of r x c pixels: pixel k of the whole file is (k * 37) % 256. */
static bytes images(uint32_t n, uint32_t r, uint32_t c)
{
    bytes o;
    uint32_t d[3] = {n, r, c};
    header(&o, 0x08, 3, d);
    for (uint32_t k = 0; k < n * r * c; k++)
        put8(&o, (k * 37) % 256);
    return o;
}

/* n labels: label i is (i * 3) % k. */
static bytes labels(uint32_t n, unsigned k)
{
    bytes o;
    uint32_t d[1] = {n};
    header(&o, 0x08, 1, d);
    for (uint32_t i = 0; i < n; i++)
        put8(&o, (i * 3) % k);
    return o;
}

static void write_plain(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(data, 1, n, f), n);
    cr_assert_eq(fclose(f), 0);
}

/* gzip'd by zlib's own gzip writer. */
static void write_gz(const char *path, const void *data, size_t n)
{
    gzFile g = gzopen(path, "wb9");
    cr_assert_not_null(g);
    if (n)
        cr_assert_eq(gzwrite(g, data, (unsigned)n), (int)n);
    cr_assert_eq(gzclose(g), Z_OK);
}

static void write_bytes(const char *path, const bytes *b, int gz)
{
    if (gz)
        write_gz(path, b->b, b->n);
    else
        write_plain(path, b->b, b->n);
}

static size_t read_all(const char *path, unsigned char *buf, size_t cap)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f);
    size_t n = fread(buf, 1, cap, f);
    cr_assert_lt(n, cap, "test file too big");
    fclose(f);
    return n;
}

/* ---- loading ------------------------------------------------------------------ */

static void load_ok(dcr_dataset *d, int n_in, int n_out)
{
    dcr_error e = {0};
    memset(d, 0xAB, sizeof *d);
    int rc = dcr_idx_load(d, img_path, lab_path, n_in, n_out, &e);
    cr_assert_eq(rc, 0, "unexpected error: %s", e.msg);
    cr_assert_eq(d->n_in, n_in);
    cr_assert_eq(d->n_out, n_out);
    cr_assert_not_null(d->label);
}

/* Expects failure with status st and the message want, where "%I" and "%L"
 * in want stand for the image and label paths. */
static void load_err(int n_in, int n_out, dcr_status st, const char *want)
{
    char msg[DCR_MSG_MAX];
    size_t m = 0;
    for (const char *p = want; *p && m + 200 < sizeof msg; p++) {
        if (p[0] == '%' && (p[1] == 'I' || p[1] == 'L')) {
            m += (size_t)snprintf(msg + m, sizeof msg - m, "%s", p[1] == 'I' ? img_path : lab_path);
            p++;
        } else {
            msg[m++] = *p;
        }
    }
    msg[m] = '\0';
    dcr_dataset d;
    memset(&d, 0xAB, sizeof d);
    dcr_error e = {0};
    int rc = dcr_idx_load(&d, img_path, lab_path, n_in, n_out, &e);
    cr_assert_eq(rc, -1, "expected failure: %s", msg);
    cr_assert_str_eq(e.msg, msg);
    cr_assert_eq(e.status, st, "status %d for %s", e.status, e.msg);
    cr_assert_null(d.x);
    cr_assert_null(d.y);
    cr_assert_null(d.label);
    cr_assert_eq(d.n_rows, 0);
}

/* Like load_err, but only the start of the message is fixed (zlib's words
 * follow). */
static void load_err_prefix(int n_in, int n_out, const char *path, const char *tail)
{
    char want[DCR_MSG_MAX];
    snprintf(want, sizeof want, "%s%s", path, tail);
    dcr_dataset d;
    memset(&d, 0xAB, sizeof d);
    dcr_error e = {0};
    cr_assert_eq(dcr_idx_load(&d, img_path, lab_path, n_in, n_out, &e), -1, "expected %s", want);
    cr_assert_eq(strncmp(e.msg, want, strlen(want)), 0, "message \"%s\" does not start with \"%s\"",
                 e.msg, want);
    cr_assert_eq(e.status, DCR_ERR_DATA);
    cr_assert_null(d.x);
    cr_assert_null(d.y);
    cr_assert_null(d.label);
}

static void check_small(const dcr_dataset *d, uint32_t n, uint32_t px, unsigned k)
{
    cr_assert_eq(d->n_rows, n);
    for (uint32_t i = 0; i < n * px; i++) {
        double want = (double)((i * 37) % 256) / 255.0;
        cr_assert_eq(d->x[i], want, "x[%u] = %.17g, expected %.17g", i, d->x[i], want);
        cr_assert(d->x[i] >= 0 && d->x[i] <= 1);
    }
    for (uint32_t i = 0; i < n; i++) {
        int lab = (int)((i * 3) % k);
        cr_assert_eq(d->label[i], lab, "label[%u] = %d", i, d->label[i]);
        for (unsigned j = 0; j < k; j++)
            cr_assert_eq(d->y[i * k + j], j == (unsigned)lab ? 1.0 : 0.0, "y[%u][%u]", i, j);
    }
}

/* ---- accepted files -------------------------------------------------------------- */

Test(idx, plain_values_one_hot_labels)
{
    bytes im = images(7, 2, 3), lb = labels(7, 4);
    write_bytes(img_path, &im, 0);
    write_bytes(lab_path, &lb, 0);
    dcr_dataset d;
    load_ok(&d, 6, 4);
    check_small(&d, 7, 6, 4);
    /* exact scaling at both ends: pixel 0 is 0, pixel 6 is 222, 255 maps to 1 */
    cr_assert_eq(d.x[0], 0.0);
    cr_assert_eq(d.x[6], 222 / 255.0);
    dcr_dataset_free(&d);
    cr_assert_null(d.x);
}

Test(idx, pixel_255_is_one)
{
    bytes im, lb = labels(1, 2);
    uint32_t dims[3] = {1, 1, 2};
    header(&im, 0x08, 3, dims);
    put8(&im, 255);
    put8(&im, 0);
    write_bytes(img_path, &im, 0);
    write_bytes(lab_path, &lb, 0);
    dcr_dataset d;
    load_ok(&d, 2, 2);
    cr_assert_eq(d.x[0], 1.0);
    cr_assert_eq(d.x[1], 0.0);
    dcr_dataset_free(&d);
}

Test(idx, gzip_both)
{
    bytes im = images(9, 3, 2), lb = labels(9, 10);
    write_bytes(img_path, &im, 1);
    write_bytes(lab_path, &lb, 1);
    dcr_dataset d;
    load_ok(&d, 6, 10);
    check_small(&d, 9, 6, 10);
    dcr_dataset_free(&d);
}

Test(idx, gzip_images_plain_labels_and_back)
{
    bytes im = images(5, 2, 2), lb = labels(5, 3);
    write_bytes(img_path, &im, 1);
    write_bytes(lab_path, &lb, 0);
    dcr_dataset d;
    load_ok(&d, 4, 3);
    check_small(&d, 5, 4, 3);
    dcr_dataset_free(&d);
    write_bytes(img_path, &im, 0);
    write_bytes(lab_path, &lb, 1);
    load_ok(&d, 4, 3);
    check_small(&d, 5, 4, 3);
    dcr_dataset_free(&d);
}

/* Several gzip members back to back (what `cat a.gz b.gz` makes) are one
 * stream, as gzip -d reads them. */
Test(idx, gzip_concatenated_members)
{
    bytes im = images(6, 2, 2), lb = labels(6, 5);
    unsigned char a[4096], b[4096];
    write_gz(img_path, im.b, 10);
    size_t na = read_all(img_path, a, sizeof a);
    write_gz(img_path, im.b + 10, im.n - 10);
    size_t nb = read_all(img_path, b, sizeof b);
    memcpy(a + na, b, nb);
    write_plain(img_path, a, na + nb);
    write_bytes(lab_path, &lb, 1);
    dcr_dataset d;
    load_ok(&d, 4, 5);
    check_small(&d, 6, 4, 5);
    dcr_dataset_free(&d);
}

/* Larger than the reader's 64 KiB chunks, compressed and not. */
Test(idx, larger_than_one_chunk)
{
    uint32_t n = 300, r = 16, c = 16;
    size_t len = 16 + (size_t)n * r * c;
    unsigned char *buf = malloc(len);
    cr_assert_not_null(buf);
    bytes h;
    uint32_t dims[3] = {n, r, c};
    header(&h, 0x08, 3, dims);
    memcpy(buf, h.b, 16);
    for (size_t k = 0; k < (size_t)n * r * c; k++)
        buf[16 + k] = (unsigned char)((k * 37) % 256);
    bytes lb = labels(n, 10);
    write_bytes(lab_path, &lb, 0);
    for (int gz = 0; gz < 2; gz++) {
        if (gz)
            write_gz(img_path, buf, len);
        else
            write_plain(img_path, buf, len);
        dcr_dataset d;
        load_ok(&d, 256, 10);
        check_small(&d, n, 256, 10);
        dcr_dataset_free(&d);
    }
    free(buf);
}

/* ---- header errors ------------------------------------------------------------------ */

Test(idx, not_idx_magic)
{
    bytes im = images(1, 1, 1), lb = labels(1, 2);
    im.b[0] = 0x89;
    im.b[1] = 'P';
    write_bytes(img_path, &im, 0);
    write_bytes(lab_path, &lb, 0);
    load_err(1, 2, DCR_ERR_DATA,
             "%I: not an IDX file: magic starts 0x89 0x50 at offset 0, expected 0x00 0x00");
}

Test(idx, type_code_not_unsigned_byte)
{
    bytes im = images(1, 1, 1), lb = labels(1, 2);
    im.b[2] = 0x0D;
    write_bytes(img_path, &im, 1);
    write_bytes(lab_path, &lb, 0);
    load_err(1, 2, DCR_ERR_DATA, "%I: offset 2: type code 0x0D is not unsigned byte (0x08)");
    im.b[2] = 0x08;
    lb.b[2] = 0x0B;
    write_bytes(img_path, &im, 1);
    write_bytes(lab_path, &lb, 0);
    load_err(1, 2, DCR_ERR_DATA, "%L: offset 2: type code 0x0B is not unsigned byte (0x08)");
}

Test(idx, wrong_rank_and_swapped_files)
{
    bytes im = images(2, 1, 1), lb = labels(2, 2);
    /* the two files given the wrong way round */
    write_bytes(img_path, &lb, 0);
    write_bytes(lab_path, &im, 0);
    load_err(1, 2, DCR_ERR_DATA,
             "%I: offset 3: rank 1, expected 3 (an image file: count, rows, columns)");
    write_bytes(img_path, &im, 0);
    load_err(1, 2, DCR_ERR_DATA, "%L: offset 3: rank 3, expected 1 (a label file: count)");
}

Test(idx, zero_dimensions)
{
    bytes lb = labels(1, 2), im;
    write_bytes(lab_path, &lb, 0);
    uint32_t d1[3] = {0, 2, 2}, d2[3] = {1, 0, 2}, d3[3] = {1, 2, 0};
    header(&im, 0x08, 3, d1);
    write_bytes(img_path, &im, 0);
    load_err(4, 2, DCR_ERR_DATA, "%I: offset 4: the number of images is zero");
    header(&im, 0x08, 3, d2);
    write_bytes(img_path, &im, 0);
    load_err(4, 2, DCR_ERR_DATA, "%I: offset 8: the number of rows is zero");
    header(&im, 0x08, 3, d3);
    write_bytes(img_path, &im, 0);
    load_err(4, 2, DCR_ERR_DATA, "%I: offset 12: the number of columns is zero");
    im = images(1, 2, 2);
    write_bytes(img_path, &im, 0);
    uint32_t d0[1] = {0};
    header(&lb, 0x08, 1, d0);
    write_bytes(lab_path, &lb, 0);
    load_err(4, 2, DCR_ERR_DATA, "%L: offset 4: the number of labels is zero");
}

Test(idx, size_overflow)
{
    bytes im, lb = labels(1, 2);
    uint32_t d[3] = {0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu};
    header(&im, 0x08, 3, d);
    write_bytes(img_path, &im, 0);
    write_bytes(lab_path, &lb, 0);
    load_err(4, 2, DCR_ERR_DATA,
             "%I: 4294967295 images of 4294967295x4294967295 pixels: the size overflows size_t");
}

Test(idx, more_than_the_limit)
{
    bytes im, lb = labels(1, 2);
    /* 65537 * 128 * 128 = 2^30 + 16384 bytes: just over 1 GiB */
    uint32_t d[3] = {65537, 128, 128};
    header(&im, 0x08, 3, d);
    write_bytes(img_path, &im, 0);
    write_bytes(lab_path, &lb, 0);
    load_err(16384, 2, DCR_ERR_LIMIT,
             "%I: 1073758208 bytes of pixels are more than 1073741824 (DCR_MAX_IDX_BYTES)");
    /* a label count over the limit, behind a valid image header */
    im = images(1, 1, 1);
    write_bytes(img_path, &im, 0);
    uint32_t n[1] = {0x40000001u};
    header(&lb, 0x08, 1, n);
    write_bytes(lab_path, &lb, 0);
    load_err(1, 2, DCR_ERR_LIMIT,
             "%L: 1073741825 bytes of labels are more than 1073741824 (DCR_MAX_IDX_BYTES)");
}

Test(idx, truncated_header)
{
    bytes im = images(1, 1, 1), lb = labels(1, 2);
    write_plain(img_path, im.b, 10);
    write_bytes(lab_path, &lb, 0);
    load_err(1, 2, DCR_ERR_DATA, "%I: truncated header: 10 bytes, expected 16");
    write_plain(img_path, im.b, 0);
    load_err(1, 2, DCR_ERR_DATA, "%I: truncated header: 0 bytes, expected 16");
    write_gz(img_path, im.b, 3);
    load_err(1, 2, DCR_ERR_DATA, "%I: truncated header: 3 bytes, expected 16");
    write_bytes(img_path, &im, 0);
    write_plain(lab_path, lb.b, 6);
    load_err(1, 2, DCR_ERR_DATA, "%L: truncated header: 6 bytes, expected 8");
}

/* ---- data errors ----------------------------------------------------------------------- */

Test(idx, truncated_pixels)
{
    bytes im = images(3, 2, 2), lb = labels(3, 2);
    write_plain(img_path, im.b, im.n - 5);
    write_bytes(lab_path, &lb, 0);
    load_err(4, 2, DCR_ERR_DATA, "%I: truncated: 7 bytes of pixels, expected 12");
    /* the same inside a complete gzip stream */
    write_gz(img_path, im.b, im.n - 1);
    load_err(4, 2, DCR_ERR_DATA, "%I: truncated: 11 bytes of pixels, expected 12");
}

Test(idx, truncated_labels)
{
    bytes im = images(3, 2, 2), lb = labels(3, 2);
    write_bytes(img_path, &im, 0);
    write_plain(lab_path, lb.b, lb.n - 2);
    load_err(4, 2, DCR_ERR_DATA, "%L: truncated: 1 bytes of labels, expected 3");
}

Test(idx, trailing_bytes)
{
    bytes im = images(3, 2, 2), lb = labels(3, 2);
    put8(&im, 0);
    put8(&im, 0);
    write_bytes(img_path, &im, 0);
    write_bytes(lab_path, &lb, 0);
    load_err(4, 2, DCR_ERR_DATA, "%I: 2 trailing bytes after the data (offset 28)");
    write_bytes(img_path, &im, 1);
    load_err(4, 2, DCR_ERR_DATA, "%I: 2 trailing bytes after the data (offset 28)");
    im.n -= 2;
    write_bytes(img_path, &im, 0);
    put8(&lb, 1);
    write_bytes(lab_path, &lb, 1);
    load_err(4, 2, DCR_ERR_DATA, "%L: 1 trailing byte after the data (offset 11)");
}

Test(idx, counts_differ)
{
    bytes im = images(3, 2, 2), lb = labels(4, 2);
    write_bytes(img_path, &im, 0);
    write_bytes(lab_path, &lb, 1);
    load_err(4, 2, DCR_ERR_DATA, "%I has 3 images but %L has 4 labels");
}

Test(idx, pixels_do_not_fit_inputs)
{
    bytes im = images(2, 4, 5), lb = labels(2, 2);
    write_bytes(img_path, &im, 0);
    write_bytes(lab_path, &lb, 0);
    load_err(100, 2, DCR_ERR_DATA, "%I: images are 4x5 = 20 pixels; the network has 100 inputs");
}

Test(idx, label_out_of_range)
{
    bytes im = images(20, 1, 1), lb = labels(20, 10);
    lb.b[8 + 17] = 12;
    write_bytes(img_path, &im, 0);
    write_bytes(lab_path, &lb, 0);
    load_err(1, 10, DCR_ERR_DATA, "%L: item 17 (offset 25): label 12 out of range 0..9");
    /* every label fits 10 classes, not 3 */
    lb = labels(20, 10);
    write_bytes(lab_path, &lb, 1);
    load_err(1, 3, DCR_ERR_DATA, "%L: item 1 (offset 9): label 3 out of range 0..2");
}

/* ---- corrupt gzip ------------------------------------------------------------------------ */

Test(idx, gzip_corrupt_deflate_data)
{
    bytes im = images(40, 4, 4), lb = labels(40, 2);
    write_bytes(lab_path, &lb, 0);
    write_bytes(img_path, &im, 1);
    unsigned char z[8192];
    size_t n = read_all(img_path, z, sizeof z);
    /* A stored-block header with a wrong length check: type bits 00 after
     * the 10-byte gzip header, then LEN and NLEN that disagree. */
    z[10] = 0x00;
    z[11] = 0x05;
    z[12] = 0x00;
    z[13] = 0x05;
    z[14] = 0x00;
    write_plain(img_path, z, n);
    load_err(16, 2, DCR_ERR_DATA,
             "%I: corrupt gzip stream: invalid stored block lengths (near compressed offset 15)");
    /* an invalid block type (binary 11) */
    z[10] = 0x07;
    write_plain(img_path, z, n);
    load_err_prefix(16, 2, img_path, ": corrupt gzip stream: invalid block type");
}

Test(idx, gzip_bad_crc_and_length)
{
    bytes im = images(3, 2, 2), lb = labels(3, 2);
    write_bytes(lab_path, &lb, 0);
    write_bytes(img_path, &im, 1);
    unsigned char z[4096];
    size_t n = read_all(img_path, z, sizeof z);
    z[n - 8] ^= 0x01; /* CRC-32 */
    write_plain(img_path, z, n);
    load_err_prefix(4, 2, img_path, ": corrupt gzip stream: incorrect data check");
    z[n - 8] ^= 0x01;
    z[n - 4] ^= 0x01; /* ISIZE */
    write_plain(img_path, z, n);
    load_err_prefix(4, 2, img_path, ": corrupt gzip stream: incorrect length check");
}

Test(idx, gzip_truncated)
{
    bytes im = images(3, 2, 2), lb = labels(3, 2);
    write_bytes(img_path, &im, 0);
    write_bytes(lab_path, &lb, 1);
    unsigned char z[4096];
    size_t n = read_all(lab_path, z, sizeof z);
    /* without its 8-byte trailer the data is complete but the stream is not */
    write_plain(lab_path, z, n - 8);
    char want[256];
    snprintf(want, sizeof want,
             "%%L: corrupt gzip stream: truncated (the compressed file ends after %zu bytes, "
             "before the end of the stream)",
             n - 8);
    load_err(4, 2, DCR_ERR_DATA, want);
    /* just the gzip magic */
    write_plain(lab_path, z, 2);
    load_err(4, 2, DCR_ERR_DATA,
             "%L: corrupt gzip stream: truncated (the compressed file ends after 2 bytes, before "
             "the end of the stream)");
}

Test(idx, gzip_trailing_garbage)
{
    bytes im = images(3, 2, 2), lb = labels(3, 2);
    write_bytes(img_path, &im, 0);
    write_bytes(lab_path, &lb, 1);
    unsigned char z[4096];
    size_t n = read_all(lab_path, z, sizeof z);
    memcpy(z + n, "junk", 4);
    write_plain(lab_path, z, n + 4);
    char want[256];
    snprintf(want, sizeof want,
             "%%L: corrupt gzip stream: trailing bytes after its end (compressed offset %zu)", n);
    load_err(4, 2, DCR_ERR_DATA, want);
    /* something that starts like a second member but is not one */
    memcpy(z + n, "\x1f\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00", 12);
    write_plain(lab_path, z, n + 12);
    load_err_prefix(4, 2, lab_path, ": corrupt gzip stream: incorrect header check");
}

/* ---- files and arguments -------------------------------------------------------------------- */

Test(idx, missing_file)
{
    bytes lb = labels(1, 2);
    write_bytes(lab_path, &lb, 0);
    load_err(1, 2, DCR_ERR_IO, "%I: cannot open: No such file or directory");
    bytes im = images(1, 1, 1);
    write_bytes(img_path, &im, 0);
    unlink(lab_path);
    load_err(1, 2, DCR_ERR_IO, "%L: cannot open: No such file or directory");
}

Test(idx, a_folder_is_an_io_error)
{
    bytes lb = labels(1, 2);
    write_bytes(lab_path, &lb, 0);
    dcr_dataset d;
    dcr_error e = {0};
    cr_assert_eq(dcr_idx_load(&d, dir, lab_path, 1, 2, &e), -1);
    cr_assert_eq(e.status, DCR_ERR_IO, "%s", e.msg);
    cr_assert_null(d.x);
}

Test(idx, bad_arguments)
{
    dcr_dataset d;
    dcr_error e = {0};
    cr_assert_eq(dcr_idx_load(&d, img_path, lab_path, 0, 2, &e), -1);
    cr_assert_eq(e.status, DCR_ERR_USAGE);
    cr_assert_eq(dcr_idx_load(&d, img_path, lab_path, 1, 0, &e), -1);
    cr_assert_eq(dcr_idx_load(&d, NULL, lab_path, 1, 2, &e), -1);
    cr_assert_eq(dcr_idx_load(&d, img_path, NULL, 1, 2, &e), -1);
    cr_assert_eq(dcr_idx_load(NULL, img_path, lab_path, 1, 2, &e), -1);
    cr_assert_eq(dcr_idx_load(&d, img_path, lab_path, 1, 2, NULL), -1);
}

/* ---- the real thing ---------------------------------------------------------------------------- */

Test(idx, fashion_mnist_test_set)
{
    const char *im = FASHION_DIR "/t10k-images-idx3-ubyte.gz";
    const char *lb = FASHION_DIR "/t10k-labels-idx1-ubyte.gz";
    if (access(im, R_OK) != 0 || access(lb, R_OK) != 0)
        cr_skip_test("%s not installed (apt-get install dataset-fashion-mnist)", im);
    dcr_dataset d;
    dcr_error e = {0};
    cr_assert_eq(dcr_idx_load(&d, im, lb, 784, 10, &e), 0, "%s", e.msg);
    cr_assert_eq(d.n_rows, 10000);
    cr_assert_eq(d.n_in, 784);
    cr_assert_eq(d.n_out, 10);
    /* The test set is balanced: 1000 of each class. Its first item is an
     * ankle boot (9), the second a pullover (2). */
    int count[10] = {0};
    double sum = 0, mx = 0;
    for (size_t i = 0; i < d.n_rows; i++) {
        cr_assert(d.label[i] >= 0 && d.label[i] < 10);
        count[d.label[i]]++;
        double row = 0;
        for (int j = 0; j < 10; j++)
            row += d.y[i * 10 + (size_t)j];
        cr_assert_eq(row, 1.0);
        cr_assert_eq(d.y[i * 10 + (size_t)d.label[i]], 1.0);
    }
    for (int c = 0; c < 10; c++)
        cr_assert_eq(count[c], 1000, "class %d: %d items", c, count[c]);
    cr_assert_eq(d.label[0], 9);
    cr_assert_eq(d.label[1], 2);
    for (size_t i = 0; i < d.n_rows * 784; i++) {
        cr_assert(d.x[i] >= 0 && d.x[i] <= 1, "x[%zu] = %g", i, d.x[i]);
        sum += d.x[i];
        if (d.x[i] > mx)
            mx = d.x[i];
    }
    cr_assert_eq(mx, 1.0);
    /* Fashion-MNIST's mean pixel is about 0.286 */
    double mean = sum / (double)(d.n_rows * 784);
    cr_assert(mean > 0.25 && mean < 0.32, "mean pixel %g", mean);
    dcr_dataset_free(&d);
}

/* ---- built without zlib ------------------------------------------------------------------------
 * A standalone trainer may paste the runtime without zlib (DCR_NO_ZLIB).
 * The library under test is built with it, so that configuration is
 * compiled here, from the same source, under another name. */
#define DCR_NO_ZLIB
#define dcr_idx_load idx_load_without_zlib
#include "../runtime/idx.c"
#undef dcr_idx_load

Test(idx, without_zlib_plain_loads_gzip_refused)
{
    bytes im = images(4, 2, 2), lb = labels(4, 3);
    write_bytes(img_path, &im, 0);
    write_bytes(lab_path, &lb, 0);
    dcr_dataset d;
    dcr_error e = {0};
    cr_assert_eq(idx_load_without_zlib(&d, img_path, lab_path, 4, 3, &e), 0, "%s", e.msg);
    check_small(&d, 4, 4, 3);
    dcr_dataset_free(&d);
    write_bytes(lab_path, &lb, 1);
    memset(&d, 0xAB, sizeof d);
    cr_assert_eq(idx_load_without_zlib(&d, img_path, lab_path, 4, 3, &e), -1);
    char want[DCR_MSG_MAX];
    snprintf(want, sizeof want,
             "%s: the file is gzip compressed, but this program was built without zlib (rebuild "
             "it with -DDCR_HAVE_ZLIB and -lz, or gunzip the file)",
             lab_path);
    cr_assert_str_eq(e.msg, want);
    cr_assert_eq(e.status, DCR_ERR_DATA);
    cr_assert_null(d.x);
}
