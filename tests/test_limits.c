/* Resource limits: every allocation whose size comes from an input (a spec's
 * layers, a CSV file's rows x columns, an IDX header's dimensions, a .npy
 * shape, a checkpoint header) is checked against a named limit, with
 * arithmetic that cannot overflow, before anything is allocated. Each case
 * here is a small file that claims something huge.
 *
 * "Before anything is allocated" is checked, not just believed: the cases
 * that could allocate by a claim run with the process's data memory capped
 * (RLIMIT_DATA) at what it uses plus 256 MiB, so a reader that sized an
 * array by the claim would fail with "out of memory" (or, under ASan, abort)
 * instead of giving the expected message. Criterion runs every test in a
 * process of its own, so the cap ends with the test. */
#define _POSIX_C_SOURCE 200809L

#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "deltac.h"

static char dir[64];

static void setup(void)
{
    strcpy(dir, "/tmp/dc_limits_XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void teardown(void)
{
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

TestSuite(limits, .init = setup, .fini = teardown);

static const char *in_dir(const char *name)
{
    static char p[4][128];
    static int k;
    k = (k + 1) % 4;
    snprintf(p[k], sizeof p[k], "%s/%s", dir, name);
    return p[k];
}

static void write_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "%s", path);
    cr_assert_eq(fwrite(data, 1, n, f), n);
    cr_assert_eq(fclose(f), 0);
}

/* A file of size bytes that takes no disk: a hole. */
static void sparse_file(const char *path, off_t size)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    cr_assert_geq(fd, 0);
    cr_assert_eq(ftruncate(fd, size), 0);
    close(fd);
}

/* Caps data memory (RLIMIT_DATA: heap and private mappings, which is where
 * malloc puts large blocks) at the current use plus 256 MiB. */
static void cap_memory(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    cr_assert_not_null(f);
    char line[256];
    unsigned long long kb = 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmData: %llu kB", &kb) == 1)
            break;
    fclose(f);
    cr_assert_gt(kb, 0, "no VmData in /proc/self/status");
    struct rlimit r;
    cr_assert_eq(getrlimit(RLIMIT_DATA, &r), 0);
    rlim_t want = (rlim_t)(kb * 1024 + (256ull << 20));
    if (r.rlim_max != RLIM_INFINITY && r.rlim_max < want)
        want = r.rlim_max;
    r.rlim_cur = want;
    cr_assert_eq(setrlimit(RLIMIT_DATA, &r), 0);
#if !defined(__SANITIZE_ADDRESS__)
    /* Does the cap work? A 1 GiB block must be refused now. (Under ASan it
     * would abort the test, which is also how a reader that allocates by a
     * claim shows there. Under valgrind, whose malloc ignores the cap, only
     * the messages are checked.) */
    void *p = malloc((size_t)1 << 30);
    int capped = p == NULL;
    free(p);
    if (!capped)
        cr_log_info("RLIMIT_DATA does not limit malloc here (valgrind?): only the messages are checked");
#endif
}

/* err has status and its message contains want */
static void expect_err(const dcr_error *e, int rc, dcr_status status, const char *want)
{
    cr_assert_eq(rc, -1, "accepted; expected: %s", want);
    cr_expect_eq(e->status, status, "status %d, want %d: %s", e->status, status, e->msg);
    cr_expect(strstr(e->msg, want) != NULL, "message\n  %s\nlacks\n  %s", e->msg, want);
}

/* ---- specs: file size, layers x units ------------------------------------------- */

static const char small_spec[] = "{\"name\": \"n\", \"input\": 4, \"layers\": [{\"units\": 3, "
                                 "\"activation\": \"softmax\"}], \"loss\": \"cross_entropy\"}";

Test(limits, spec_file_of_exactly_DC_MAX_SPEC_BYTES_loads)
{
    size_t n = DC_MAX_SPEC_BYTES;
    char *t = malloc(n);
    memset(t, ' ', n);
    memcpy(t, small_spec, sizeof small_spec - 1);
    t[n - 1] = '\n';
    write_file(in_dir("big.json"), t, n);
    free(t);
    dc_spec s;
    dcr_error e = {0};
    cr_assert_eq(dc_spec_load(&s, in_dir("big.json"), &e), 0, "%s", e.msg);
    dc_spec_free(&s);
}

Test(limits, spec_file_over_DC_MAX_SPEC_BYTES_is_refused_unread)
{
    cap_memory();
    /* one byte over, and far over: refused from the size alone */
    sparse_file(in_dir("over.json"), DC_MAX_SPEC_BYTES + 1);
    dc_spec s;
    dcr_error e = {0};
    expect_err(&e, dc_spec_load(&s, in_dir("over.json"), &e), DCR_ERR_LIMIT,
               "over.json: 1048577 bytes, more than the limit DC_MAX_SPEC_BYTES = 1048576");
    sparse_file(in_dir("huge.json"), (off_t)1 << 40);
    expect_err(&e, dc_spec_load(&s, in_dir("huge.json"), &e), DCR_ERR_LIMIT,
               "huge.json: 1099511627776 bytes, more than the limit DC_MAX_SPEC_BYTES");
}

static void on_alarm(int sig)
{
    (void)sig;
    static const char m[] = "dc_spec_load blocked on a FIFO\n";
    if (write(2, m, sizeof m - 1) < 0) {
        /* nothing more to do */
    }
    _exit(3);
}

Test(limits, spec_from_a_fifo_is_refused_without_waiting_for_a_writer)
{
    cr_assert_eq(mkfifo(in_dir("fifo.json"), 0600), 0);
    signal(SIGALRM, on_alarm);
    alarm(10);
    dc_spec s;
    dcr_error e = {0};
    expect_err(&e, dc_spec_load(&s, in_dir("fifo.json"), &e), DCR_ERR_IO, "fifo.json: not a regular file");
    alarm(0);
}

static void spec_err(const char *text, const char *want)
{
    dc_spec s;
    dcr_error e = {0};
    expect_err(&e, dc_spec_parse(&s, text, strlen(text), "t.json", &e), DCR_ERR_SPEC, want);
}

Test(limits, DC_MAX_PARAMS_exactly_and_one_layer_over)
{
    /* 1000 units x (1999 inputs + 1) = 2,000,000 parameters: the limit itself */
    const char *at = "{\"name\": \"n\", \"input\": 1999, \"layers\": [{\"units\": 1000, \"activation\": "
                     "\"identity\"}], \"loss\": \"mse\"}";
    dc_spec s;
    dcr_error e = {0};
    cr_assert_eq(dc_spec_parse(&s, at, strlen(at), "t.json", &e), 0, "%s", e.msg);
    dc_net net;
    cr_assert_eq(dc_net_from_spec(&net, &s, &e), 0, "%s", e.msg);
    cr_expect_eq(net.n_params, DC_MAX_PARAMS);
    dc_spec_free(&s);
    spec_err("{\"name\": \"n\", \"input\": 2000, \"layers\": [{\"units\": 1000, \"activation\": \"identity\"}], "
             "\"loss\": \"mse\"}",
             "layers: the network has 2001000 parameters, more than the limit DC_MAX_PARAMS = 2000000");
}

Test(limits, the_largest_layers_times_units_are_counted_without_overflow)
{
    /* 32 layers of 65536 units after 65536 inputs: 32 x 65536 x 65537
     * parameters, counted exactly (2^37: it would wrap in 32 bits) */
    char t[8192];
    int o = snprintf(t, sizeof t, "{\"name\": \"n\", \"input\": 65536, \"layers\": [");
    for (int i = 0; i < 32; i++)
        o += snprintf(t + o, sizeof t - (size_t)o, "%s{\"units\": 65536, \"activation\": \"%s\"}", i ? ", " : "",
                      i == 31 ? "identity" : "tanh");
    snprintf(t + o, sizeof t - (size_t)o, "], \"loss\": \"mse\"}");
    spec_err(t, "layers: the network has 137441050624 parameters, more than the limit DC_MAX_PARAMS");
    spec_err("{\"name\": \"n\", \"input\": 65537, \"layers\": [{\"units\": 3, \"activation\": \"softmax\"}], "
             "\"loss\": \"cross_entropy\"}",
             "input: ");
    spec_err("{\"name\": \"n\", \"input\": 3, \"layers\": [{\"units\": 65537, \"activation\": \"softmax\"}], "
             "\"loss\": \"cross_entropy\"}",
             "layers[0].units: ");
}

/* ---- CSV: file size, rows x columns ------------------------------------------------- */

static const dcr_csv_opts class_last = {.header = 0, .target_column = -1, .kind = DCR_TARGET_CLASS};

Test(limits, csv_file_over_DCR_MAX_CSV_BYTES_is_refused_unread)
{
    cap_memory();
    sparse_file(in_dir("big.csv"), (off_t)(1u << 30) + 1);
    dcr_dataset d;
    dcr_error e = {0};
    expect_err(&e, dcr_csv_load(&d, in_dir("big.csv"), &class_last, 1, 2, &e), DCR_ERR_LIMIT,
               "big.csv: file is larger than 1073741824 bytes (DCR_MAX_CSV_BYTES)");
}

Test(limits, csv_rows_times_outputs_over_DCR_MAX_DATASET_BYTES)
{
    /* two rows, but 2^31 - 1 classes: the one-hot targets alone would be
     * 32 GiB */
    cap_memory();
    write_file(in_dir("two.csv"), "0.5,1\n0.25,0\n", 13);
    dcr_dataset d;
    dcr_error e = {0};
    expect_err(&e, dcr_csv_load(&d, in_dir("two.csv"), &class_last, 1, INT_MAX, &e), DCR_ERR_LIMIT,
               "two.csv: 2 rows of 1 inputs and 2147483647 outputs take more than 17179869184 bytes "
               "(DCR_MAX_DATASET_BYTES)");
    /* within the limit, the same file loads */
    cr_assert_eq(dcr_csv_load(&d, in_dir("two.csv"), &class_last, 1, 2, &e), 0, "%s", e.msg);
    cr_expect_eq(d.n_rows, 2);
    dcr_dataset_free(&d);
}

/* ---- IDX: the header's dimensions ------------------------------------------------- */

static size_t idx_header(unsigned char *b, int rank, const uint32_t *dims)
{
    b[0] = 0;
    b[1] = 0;
    b[2] = 0x08;
    b[3] = (unsigned char)rank;
    for (int i = 0; i < rank; i++) {
        b[4 + 4 * i] = (unsigned char)(dims[i] >> 24);
        b[5 + 4 * i] = (unsigned char)(dims[i] >> 16);
        b[6 + 4 * i] = (unsigned char)(dims[i] >> 8);
        b[7 + 4 * i] = (unsigned char)dims[i];
    }
    return 4 + 4 * (size_t)rank;
}

/* images.idx and labels.idx holding only their headers (gzip'd when gz) */
static void idx_headers(uint32_t n, uint32_t rows, uint32_t cols, uint32_t n_labels, int gz)
{
    unsigned char im[16], lb[8];
    uint32_t d3[3] = {n, rows, cols}, d1[1] = {n_labels};
    size_t ni = idx_header(im, 3, d3), nl = idx_header(lb, 1, d1);
    if (!gz) {
        write_file(in_dir("images.idx"), im, ni);
        write_file(in_dir("labels.idx"), lb, nl);
        return;
    }
    gzFile g = gzopen(in_dir("images.idx"), "wb");
    cr_assert_not_null(g);
    cr_assert_eq(gzwrite(g, im, (unsigned)ni), (int)ni);
    cr_assert_eq(gzclose(g), Z_OK);
    g = gzopen(in_dir("labels.idx"), "wb");
    cr_assert_not_null(g);
    cr_assert_eq(gzwrite(g, lb, (unsigned)nl), (int)nl);
    cr_assert_eq(gzclose(g), Z_OK);
}

static void idx_err(int n_in, int n_out, dcr_status status, const char *want)
{
    dcr_dataset d;
    dcr_error e = {0};
    expect_err(&e, dcr_idx_load(&d, in_dir("images.idx"), in_dir("labels.idx"), n_in, n_out, &e), status, want);
}

Test(limits, idx_header_claiming_2_31_by_2_31_items_is_refused_unallocated)
{
    cap_memory();
    /* 2^31 images of 2^31 x 1 pixels: 2^62 bytes, fits size_t, over DCR_MAX_IDX_BYTES */
    idx_headers(0x80000000u, 0x80000000u, 1, 0x80000000u, 0);
    idx_err(INT_MAX, 10, DCR_ERR_LIMIT,
            "images.idx: 4611686018427387904 bytes of pixels are more than 1073741824 (DCR_MAX_IDX_BYTES)");
    /* and 2^31 labels behind a small image header */
    idx_headers(1, 1, 1, 0x80000000u, 0);
    idx_err(1, 10, DCR_ERR_LIMIT, "labels.idx: 2147483648 bytes of labels are more than 1073741824 (DCR_MAX_IDX_BYTES)");
}

Test(limits, idx_truncated_file_claiming_a_gigabyte_is_refused_unallocated)
{
    /* 65536 images of 128 x 128: exactly DCR_MAX_IDX_BYTES of pixels (8 GiB
     * as doubles), but the files end after their headers */
    cap_memory();
    for (int gz = 0; gz <= 1; gz++) {
        idx_headers(65536, 128, 128, 65536, gz);
        idx_err(16384, 10, DCR_ERR_DATA, "images.idx: truncated: 0 bytes of pixels, expected 1073741824");
    }
}

Test(limits, idx_images_times_outputs_over_DCR_MAX_DATASET_BYTES)
{
    /* the pixels are within DCR_MAX_IDX_BYTES, but 65536 images x 65536
     * one-hot outputs would be 32 GiB */
    cap_memory();
    idx_headers(65536, 128, 128, 65536, 0);
    idx_err(16384, 65536, DCR_ERR_LIMIT,
            "images.idx: 65536 images of 16384 pixels with 65536 outputs take more than 17179869184 bytes "
            "(DCR_MAX_DATASET_BYTES)");
}

/* ---- .npy: the shape --------------------------------------------------------------- */

/* a .npy file of format 1.0 with the given header dict and no data */
static void npy_header_only(const char *path, const char *dict)
{
    unsigned char b[256];
    size_t dl = strlen(dict), field = ((10 + dl + 1 + 63) / 64) * 64 - 10;
    cr_assert_lt(10 + field, sizeof b);
    memcpy(b, "\x93NUMPY\x01\x00", 8);
    b[8] = (unsigned char)(field & 0xff);
    b[9] = (unsigned char)(field >> 8);
    memcpy(b + 10, dict, dl);
    memset(b + 10 + dl, ' ', field - dl - 1);
    b[10 + field - 1] = '\n';
    write_file(path, b, 10 + field);
}

Test(limits, npy_shape_claiming_terabytes_is_refused_unallocated)
{
    cap_memory();
    dcr_npy a;
    dcr_error e = {0};
    /* 2^40 float64 elements, fits size_t: refused as truncated, from the file's size */
    npy_header_only(in_dir("big.npy"), "{'descr': '<f8', 'fortran_order': False, 'shape': (1048576, 1048576), }");
    expect_err(&e, dcr_npy_read(&a, in_dir("big.npy"), &e), DCR_ERR_DATA, "big.npy: truncated: 128 bytes, expected 8796093022336");
    /* a product that overflows size_t */
    npy_header_only(in_dir("wrap.npy"),
                    "{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296, 2), }");
    expect_err(&e, dcr_npy_read(&a, in_dir("wrap.npy"), &e), DCR_ERR_DATA,
               "wrap.npy: shape (4294967296, 4294967296, 2) holds more bytes than fit in memory (size overflow)");
    /* a file over DCR_NPY_MAX_BYTES is refused from its size */
    sparse_file(in_dir("huge.npy"), ((off_t)4 << 30) + 1);
    expect_err(&e, dcr_npy_read(&a, in_dir("huge.npy"), &e), DCR_ERR_LIMIT,
               "huge.npy: file is larger than 4294967296 bytes (DCR_NPY_MAX_BYTES)");
}

/* ---- checkpoints: the header's sizes --------------------------------------------- */

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

Test(limits, checkpoint_header_claiming_32_GiB_is_refused_unallocated)
{
    /* A valid header (CRC and all, docs/checkpoint.md) of a 65536-65536
     * float64 network: 4295032832 parameters, a 32 GiB payload, in a file
     * that ends after the header */
    cap_memory();
    unsigned char h[148 + 4];
    memset(h, 0, sizeof h);
    memcpy(h, "DELTACKP", 8);
    put32(h + 8, 1);        /* version */
    put32(h + 12, 148);     /* header_len = 140 + 8 L */
    put32(h + 16, 1);       /* float64 */
    put32(h + 20, 0);       /* mse */
    put32(h + 24, 1);       /* L */
    put32(h + 28, 65536);   /* inputs */
    put32(h + 32, 65536);   /* units */
    put32(h + 36, 0);       /* identity */
    uint64_t np = 65536ull * 65536ull + 65536ull;
    put64(h + 120, np);     /* n_params */
    put64(h + 128, 0);      /* n_state */
    put64(h + 136, np * 8); /* payload_len */
    put32(h + 144, (uint32_t)crc32(0L, h, 144));
    write_file(in_dir("big.ckpt"), h, sizeof h);
    dcr_ckpt c;
    dcr_error e = {0};
    expect_err(&e, dcr_ckpt_read(&c, in_dir("big.ckpt"), &e), DCR_ERR_DATA,
               "big.ckpt: truncated: 152 bytes, expected 34360262808");
    /* a file over DCR_CKPT_MAX_BYTES is refused from its size */
    sparse_file(in_dir("huge.ckpt"), ((off_t)4 << 30) + 1);
    expect_err(&e, dcr_ckpt_read(&c, in_dir("huge.ckpt"), &e), DCR_ERR_LIMIT,
               "huge.ckpt: file is larger than 4294967296 bytes (DCR_CKPT_MAX_BYTES)");
}
