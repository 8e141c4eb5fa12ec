/* idx.c: MNIST-style IDX files (images and labels) into a dcr_dataset.
 *
 * An IDX file is a 4-byte magic (0x00 0x00 TYPE RANK), RANK big-endian u32
 * dimensions, then the items. Only unsigned bytes (TYPE 0x08) are read:
 * images have rank 3 (count, rows, columns), labels rank 1 (count). Either
 * file may be gzip compressed (its first two bytes are 0x1f 0x8b); it is then
 * inflated by zlib as it is read, so neither the compressed nor the
 * decompressed bytes are ever held whole. Offsets in messages count the IDX
 * bytes, after decompression.
 *
 * Both headers are read and checked before anything is allocated, and the
 * data must end exactly where the header says (for a gzip file, the stream
 * is inflated to its end so that its CRC is checked too).
 *
 * Like every runtime file, this one is also pasted into standalone trainers
 * compiled as C99: file-scope names carry the idx_ prefix. It needs zlib
 * (-lz) unless DCR_NO_ZLIB is defined; then a gzip file is refused with a
 * message saying how to rebuild. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifndef DCR_NO_ZLIB
#include <zlib.h>
#endif

#include "dcr_internal.h"

/* The most decompressed item bytes (pixels or labels) one file may hold; the
 * header is checked against it before anything is allocated. */
#ifndef DCR_MAX_IDX_BYTES
#define DCR_MAX_IDX_BYTES ((size_t)1 << 30)
#endif

#define IDX_CHUNK 65536
#define IDX_TYPE_UBYTE 0x08

/* A byte stream over a plain or gzip file. */
typedef struct {
    FILE *f;
    const char *path;
    int eof;              /* no more bytes: a clean end */
    int gz;               /* gzip compressed */
#ifndef DCR_NO_ZLIB
    int z_ready;          /* inflateInit2 succeeded: inflateEnd is due */
    int member_end;       /* the current gzip member has ended */
    z_stream zs;
#endif
    unsigned char in[IDX_CHUNK];
    size_t in_pos, in_len; /* plain files: unread bytes in[in_pos..in_len) */
    unsigned long long file_pos; /* bytes read from the file so far */
} idx_src;

static void idx_close(idx_src *s)
{
    if (!s)
        return;
#ifndef DCR_NO_ZLIB
    if (s->z_ready)
        inflateEnd(&s->zs);
#endif
    if (s->f)
        fclose(s->f);
    free(s);
}

/* Reads up to IDX_CHUNK bytes of the file into s->in; *got 0 at the end. */
static int idx_fill(idx_src *s, size_t *got, dcr_error *err)
{
    errno = 0;
    size_t n = fread(s->in, 1, sizeof s->in, s->f);
    if (n == 0 && ferror(s->f)) {
        int e = errno;
        return dcr_fail(err, DCR_ERR_IO, "%s: cannot read: %s", s->path,
                        e ? strerror(e) : "read error");
    }
    s->file_pos += n;
    *got = n;
    return 0;
}

static int idx_open(idx_src **out, const char *path, dcr_error *err)
{
    *out = NULL;
    idx_src *s = calloc(1, sizeof *s);
    if (!s)
        return dcr_fail(err, DCR_ERR_NOMEM, "%s: out of memory", path);
    s->path = path;
    s->f = fopen(path, "rb");
    if (!s->f) {
        int e = errno;
        free(s);
        return dcr_fail(err, DCR_ERR_IO, "%s: cannot open: %s", path, strerror(e));
    }
    size_t got = 0; /* (gcc -O3 cannot see that every path sets it) */
    if (idx_fill(s, &got, err)) {
        idx_close(s);
        return -1;
    }
    s->in_len = got;
    if (got >= 2 && s->in[0] == 0x1f && s->in[1] == 0x8b) {
        s->gz = 1;
#ifdef DCR_NO_ZLIB
        idx_close(s);
        return dcr_fail(err, DCR_ERR_DATA,
                        "%s: the file is gzip compressed, but this program was built without zlib "
                        "(rebuild it with -DDCR_HAVE_ZLIB and -lz, or gunzip the file)",
                        path);
#else
        /* 16 + MAX_WBITS: a gzip wrapper, whose CRC and length are checked. */
        int rc = inflateInit2(&s->zs, 16 + MAX_WBITS);
        if (rc != Z_OK) {
            idx_close(s);
            if (rc == Z_MEM_ERROR)
                return dcr_fail(err, DCR_ERR_NOMEM, "%s: out of memory", path);
            return dcr_fail(err, DCR_ERR_IO, "%s: cannot start zlib (error %d)", path, rc);
        }
        s->z_ready = 1;
        s->zs.next_in = s->in;
        s->zs.avail_in = (uInt)got;
#endif
    }
    *out = s;
    return 0;
}

static int idx_read_plain(idx_src *s, unsigned char *buf, size_t n, size_t *got, dcr_error *err)
{
    while (*got < n && !s->eof) {
        if (s->in_pos == s->in_len) {
            size_t m;
            if (idx_fill(s, &m, err))
                return -1;
            s->in_pos = 0;
            s->in_len = m;
            if (m == 0) {
                s->eof = 1;
                break;
            }
        }
        size_t k = s->in_len - s->in_pos;
        if (k > n - *got)
            k = n - *got;
        memcpy(buf + *got, s->in + s->in_pos, k);
        s->in_pos += k;
        *got += k;
    }
    return 0;
}

#ifndef DCR_NO_ZLIB
static int idx_read_gz(idx_src *s, unsigned char *buf, size_t n, size_t *got, dcr_error *err)
{
    while (*got < n && !s->eof) {
        if (s->zs.avail_in == 0) {
            size_t m;
            if (idx_fill(s, &m, err))
                return -1;
            s->zs.next_in = s->in;
            s->zs.avail_in = (uInt)m;
            if (m == 0) {
                if (s->member_end) {
                    s->eof = 1;
                    break;
                }
                return dcr_fail(err, DCR_ERR_DATA,
                                "%s: corrupt gzip stream: truncated (the compressed file ends "
                                "after %llu bytes, before the end of the stream)",
                                s->path, s->file_pos);
            }
        }
        if (s->member_end) {
            /* More input after a complete member: gzip allows several
             * members back to back; anything else is trailing junk. */
            if (s->zs.next_in[0] != 0x1f)
                return dcr_fail(err, DCR_ERR_DATA,
                                "%s: corrupt gzip stream: trailing bytes after its end (compressed "
                                "offset %llu)",
                                s->path, s->file_pos - s->zs.avail_in);
            if (inflateReset(&s->zs) != Z_OK)
                return dcr_fail(err, DCR_ERR_DATA, "%s: corrupt gzip stream", s->path);
            s->member_end = 0;
        }
        size_t want = n - *got;
        if (want > IDX_CHUNK)
            want = IDX_CHUNK;
        s->zs.next_out = buf + *got;
        s->zs.avail_out = (uInt)want;
        int rc = inflate(&s->zs, Z_NO_FLUSH);
        *got += want - s->zs.avail_out;
        switch (rc) {
        case Z_OK:
            break;
        case Z_STREAM_END:
            s->member_end = 1;
            break;
        case Z_MEM_ERROR:
            return dcr_fail(err, DCR_ERR_NOMEM, "%s: out of memory inflating", s->path);
        case Z_DATA_ERROR:
            return dcr_fail(err, DCR_ERR_DATA, "%s: corrupt gzip stream: %s (near compressed offset %llu)",
                            s->path, s->zs.msg ? s->zs.msg : "invalid data",
                            s->file_pos - s->zs.avail_in);
        case Z_NEED_DICT:
            return dcr_fail(err, DCR_ERR_DATA, "%s: corrupt gzip stream: it asks for a preset dictionary",
                            s->path);
        case Z_BUF_ERROR:
            /* Input and output space were both available: no progress is
             * only possible on a damaged stream. */
            return dcr_fail(err, DCR_ERR_DATA, "%s: corrupt gzip stream: no progress possible",
                            s->path);
        default:
            return dcr_fail(err, DCR_ERR_DATA, "%s: corrupt gzip stream (zlib error %d)", s->path, rc);
        }
    }
    return 0;
}
#endif

/* Reads up to n bytes into buf; *got < n only at the end of the data. Fails
 * on a read error and, for gzip files, on a corrupt or truncated stream and
 * on bytes after it that are not another gzip member. */
static int idx_read(idx_src *s, unsigned char *buf, size_t n, size_t *got, dcr_error *err)
{
    *got = 0;
#ifndef DCR_NO_ZLIB
    if (s->gz)
        return idx_read_gz(s, buf, n, got, err);
#endif
    return idx_read_plain(s, buf, n, got, err);
}

static uint32_t idx_be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* Reads and checks the header of a file of unsigned bytes with the given
 * rank (3 for images, 1 for labels); dims[] receives the dimensions and
 * *items their product. */
static int idx_header(idx_src *s, int rank, uint32_t *dims, size_t *items, dcr_error *err)
{
    static const char *const idx_image_dims[3] = {"number of images", "number of rows",
                                                  "number of columns"};
    static const char *const idx_label_dims[1] = {"number of labels"};
    const char *const *names = rank == 3 ? idx_image_dims : idx_label_dims;
    const char *kind = rank == 3 ? "an image file: count, rows, columns" : "a label file: count";
    size_t expect = 4 + 4 * (size_t)rank, got;
    unsigned char h[16];

    if (idx_read(s, h, 4, &got, err))
        return -1;
    if (got < 4)
        return dcr_fail(err, DCR_ERR_DATA, "%s: truncated header: %zu bytes, expected %zu",
                        s->path, got, expect);
    if (h[0] != 0 || h[1] != 0)
        return dcr_fail(err, DCR_ERR_DATA,
                        "%s: not an IDX file: magic starts 0x%02X 0x%02X at offset 0, expected "
                        "0x00 0x00",
                        s->path, h[0], h[1]);
    if (h[2] != IDX_TYPE_UBYTE)
        return dcr_fail(err, DCR_ERR_DATA,
                        "%s: offset 2: type code 0x%02X is not unsigned byte (0x08)", s->path, h[2]);
    if (h[3] != rank)
        return dcr_fail(err, DCR_ERR_DATA, "%s: offset 3: rank %d, expected %d (%s)", s->path,
                        h[3], rank, kind);
    if (idx_read(s, h + 4, 4 * (size_t)rank, &got, err))
        return -1;
    if (got < 4 * (size_t)rank)
        return dcr_fail(err, DCR_ERR_DATA, "%s: truncated header: %zu bytes, expected %zu",
                        s->path, 4 + got, expect);
    size_t total = 1;
    for (int i = 0; i < rank; i++) {
        dims[i] = idx_be32(h + 4 + 4 * i);
        if (dims[i] == 0)
            return dcr_fail(err, DCR_ERR_DATA, "%s: offset %d: the %s is zero", s->path, 4 + 4 * i,
                            names[i]);
    }
    for (int i = 0; i < rank; i++) {
        if (!dcr_mul_ok(&total, total, (size_t)dims[i])) {
            if (rank == 3)
                return dcr_fail(err, DCR_ERR_DATA,
                                "%s: %lu images of %lux%lu pixels: the size overflows size_t",
                                s->path, (unsigned long)dims[0], (unsigned long)dims[1],
                                (unsigned long)dims[2]);
            return dcr_fail(err, DCR_ERR_DATA, "%s: %lu labels: the size overflows size_t",
                            s->path, (unsigned long)dims[0]);
        }
    }
    if (total > DCR_MAX_IDX_BYTES)
        return dcr_fail(err, DCR_ERR_LIMIT,
                        "%s: %zu bytes of %s are more than %zu (DCR_MAX_IDX_BYTES)", s->path,
                        total, rank == 3 ? "pixels" : "labels", (size_t)DCR_MAX_IDX_BYTES);
    *items = total;
    return 0;
}

/* After the items: the file must end here. */
static int idx_expect_end(idx_src *s, size_t offset, dcr_error *err)
{
    unsigned char buf[4096];
    size_t got, extra = 0;
    do {
        if (idx_read(s, buf, sizeof buf, &got, err))
            return -1;
        extra += got;
    } while (got == sizeof buf && extra <= DCR_MAX_IDX_BYTES);
    if (extra > DCR_MAX_IDX_BYTES)
        return dcr_fail(err, DCR_ERR_DATA, "%s: more than %zu trailing bytes after the data (offset %zu)",
                        s->path, (size_t)DCR_MAX_IDX_BYTES, offset);
    if (extra)
        return dcr_fail(err, DCR_ERR_DATA, "%s: %zu trailing byte%s after the data (offset %zu)",
                        s->path, extra, extra == 1 ? "" : "s", offset);
    return 0;
}

static int idx_load(dcr_dataset *d, idx_src *im, idx_src *lb, int n_in, int n_out, dcr_error *err)
{
    uint32_t idim[3] = {0}, ldim[1] = {0}; /* (set by the header reads; gcc -O3 cannot tell) */
    size_t n_pix = 0, n_lab = 0;
    if (idx_header(im, 3, idim, &n_pix, err) || idx_header(lb, 1, ldim, &n_lab, err))
        return -1;
    if (idim[0] != ldim[0])
        return dcr_fail(err, DCR_ERR_DATA, "%s has %lu images but %s has %lu labels", im->path,
                        (unsigned long)idim[0], lb->path, (unsigned long)ldim[0]);
    size_t n = n_lab, per = n_pix / n;
    if (per != (size_t)n_in)
        return dcr_fail(err, DCR_ERR_DATA,
                        "%s: images are %lux%lu = %zu pixels; the network has %d inputs", im->path,
                        (unsigned long)idim[1], (unsigned long)idim[2], per, n_in);

    /* The header's claim is checked against the limit first; then the
     * pixels are read into an array that grows with what the file really
     * holds, so that a short file claiming a billion pixels is refused as
     * truncated without 8 GiB being allocated for it. The labels' arrays
     * come after all pixels are in: n <= n_pix of them. */
    if (!dcr_dataset_fits(n, (size_t)n_in, (size_t)n_out, 1))
        return dcr_fail(err, DCR_ERR_LIMIT,
                        "%s: %zu images of %d pixels with %d outputs take more than %llu bytes "
                        "(DCR_MAX_DATASET_BYTES)",
                        im->path, n, n_in, n_out, (unsigned long long)DCR_MAX_DATASET_BYTES);
    unsigned char *buf = malloc(IDX_CHUNK);
    if (!buf)
        return dcr_fail(err, DCR_ERR_NOMEM, "%s: out of memory", im->path);
    size_t done = 0, got, cap = 0;
    while (done < n_pix) {
        size_t want = n_pix - done < IDX_CHUNK ? n_pix - done : IDX_CHUNK;
        if (idx_read(im, buf, want, &got, err)) {
            free(buf);
            return -1;
        }
        if (done + got > cap) {
            /* doubling from 1 Mi pixels, never past n_pix; n_pix doubles fit
             * (dcr_dataset_fits) */
            size_t ncap = cap ? (cap <= n_pix / 2 ? cap * 2 : n_pix) : (size_t)1 << 20;
            if (ncap > n_pix)
                ncap = n_pix;
            double *nx = realloc(d->x, ncap * sizeof(double));
            if (!nx) {
                free(buf);
                return dcr_fail(err, DCR_ERR_NOMEM, "%s: out of memory for %zu pixels (%zu bytes)", im->path,
                                ncap, ncap * sizeof(double));
            }
            d->x = nx;
            cap = ncap;
        }
        for (size_t i = 0; i < got; i++)
            d->x[done + i] = buf[i] / 255.0;
        done += got;
        if (got < want) {
            free(buf);
            return dcr_fail(err, DCR_ERR_DATA, "%s: truncated: %zu bytes of pixels, expected %zu",
                            im->path, done, n_pix);
        }
    }
    d->y = calloc(n, (size_t)n_out * sizeof(double));
    d->label = malloc(n * sizeof(int));
    if (!d->y || !d->label) {
        free(buf);
        return dcr_fail(err, DCR_ERR_NOMEM, "%s: out of memory for %zu labels", lb->path, n);
    }
    done = 0;
    while (done < n) {
        size_t want = n - done < IDX_CHUNK ? n - done : IDX_CHUNK;
        if (idx_read(lb, buf, want, &got, err)) {
            free(buf);
            return -1;
        }
        for (size_t i = 0; i < got; i++) {
            size_t item = done + i;
            int label = buf[i];
            if (label >= n_out) {
                free(buf);
                return dcr_fail(err, DCR_ERR_DATA,
                                "%s: item %zu (offset %zu): label %d out of range 0..%d", lb->path,
                                item, 8 + item, label, n_out - 1);
            }
            d->label[item] = label;
            d->y[item * (size_t)n_out + (size_t)label] = 1;
        }
        done += got;
        if (got < want) {
            free(buf);
            return dcr_fail(err, DCR_ERR_DATA, "%s: truncated: %zu bytes of labels, expected %zu",
                            lb->path, done, n);
        }
    }
    free(buf);
    if (idx_expect_end(im, 16 + n_pix, err) || idx_expect_end(lb, 8 + n, err))
        return -1;
    d->n_rows = n;
    d->n_in = n_in;
    d->n_out = n_out;
    return 0;
}

int dcr_idx_load(dcr_dataset *out, const char *images, const char *labels, int n_in, int n_out,
                 dcr_error *err)
{
    if (!out || !images || !labels || n_in < 1 || n_out < 1)
        return dcr_fail(err, DCR_ERR_USAGE, "dcr_idx_load: bad arguments");
    memset(out, 0, sizeof *out);
    idx_src *im = NULL, *lb = NULL;
    dcr_dataset d;
    memset(&d, 0, sizeof d);
    int rc = -1;
    if (idx_open(&im, images, err) == 0 && idx_open(&lb, labels, err) == 0)
        rc = idx_load(&d, im, lb, n_in, n_out, err);
    idx_close(im);
    idx_close(lb);
    if (rc) {
        dcr_dataset_free(&d);
        return -1;
    }
    *out = d;
    return 0;
}
