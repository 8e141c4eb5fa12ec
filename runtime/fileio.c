/* fileio.c: whole-file reads and atomic whole-file writes.
 *
 * dcr_write_atomic writes PATH.tmpXXXXXX (mkstemp) beside PATH, fsyncs and
 * closes it, renames it over PATH and then fsyncs the folder, so that after a
 * crash PATH is either the old file or the whole new one. Every failure
 * before the rename removes the temporary and leaves PATH as it was.
 *
 * Like every runtime file, this one is also pasted into standalone trainers
 * compiled as C99: file-scope names carry the fio_ prefix. */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "dcr_fileio.h"
#include "dcr_internal.h"

int (*dcr_fault_hook)(const char *op) = NULL;

#define FIO_SUFFIX ".tmpXXXXXX"
/* The most bytes handed to one read(2) or write(2): Linux moves at most
 * 0x7ffff000 per call anyway, and ssize_t must hold the result. */
#define FIO_CHUNK ((size_t)1 << 30)

/* 0 when op may go ahead; -1 with errno = e when the test hook says no. */
static int fio_fault(const char *op, int e)
{
    if (dcr_fault_hook && dcr_fault_hook(op)) {
        errno = e;
        return -1;
    }
    return 0;
}

static int fio_write_all(int fd, const unsigned char *p, size_t len)
{
    while (len > 0) {
        size_t n = len < FIO_CHUNK ? len : FIO_CHUNK;
        if (fio_fault("write", ENOSPC))
            return -1;
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (w == 0) { /* not for a regular file, but never loop forever */
            errno = EIO;
            return -1;
        }
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

static int fio_fsync(int fd, const char *op)
{
    if (fio_fault(op, EIO))
        return -1;
    while (fsync(fd) != 0) {
        if (errno != EINTR)
            return -1;
    }
    return 0;
}

/* The folder of path, written into buf (which holds at least strlen(path)
 * + 2 bytes): "." without a slash, "/" for a file in the root. */
static void fio_dirname(char *buf, const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash) {
        strcpy(buf, ".");
        return;
    }
    size_t n = slash == path ? 1 : (size_t)(slash - path);
    memcpy(buf, path, n);
    buf[n] = '\0';
}

/* After the rename: makes the new directory entry durable. A folder that
 * cannot be opened for reading (EACCES) or whose file system cannot sync
 * folders (EINVAL) is skipped: there is nothing more the writer can do. */
static int fio_sync_dir(char *buf, const char *path)
{
    fio_dirname(buf, path);
    int fd = open(buf, O_RDONLY | O_DIRECTORY);
    if (fd < 0)
        return errno == EACCES ? 0 : -1;
    int rc = fio_fsync(fd, "dirsync");
    int e = errno;
    close(fd);
    if (rc != 0 && e == EINVAL)
        return 0;
    errno = e;
    return rc;
}

int dcr_write_atomic(const char *path, const void *data, size_t len, dcr_error *err)
{
    if (!path || !*path)
        return dcr_fail(err, DCR_ERR_USAGE, "cannot write: no file name given");
    if (!data && len > 0)
        return dcr_fail(err, DCR_ERR_USAGE, "%s: cannot write: no data given", path);
    size_t n = strlen(path), size;
    if (!dcr_add_ok(&size, n, sizeof FIO_SUFFIX))
        return dcr_fail(err, DCR_ERR_LIMIT, "cannot write: the file name is too long");
    char *tmp = malloc(size);
    if (!tmp)
        return dcr_fail(err, DCR_ERR_NOMEM, "%s: cannot write: out of memory", path);
    memcpy(tmp, path, n);
    memcpy(tmp + n, FIO_SUFFIX, sizeof FIO_SUFFIX);

    int fd = fio_fault("open", EIO) ? -1 : mkstemp(tmp);
    if (fd < 0) {
        int e = errno;
        free(tmp);
        return dcr_fail(err, DCR_ERR_IO, "%s: cannot write: %s", path, strerror(e));
    }
    /* mkstemp creates the file 0600. Replacing a file keeps its permissions;
     * a new file gets 0644, like most tools' output (reading the umask is
     * not thread-safe). Best effort: a file system without modes (FAT)
     * refuses, and the data matter more. */
    struct stat st;
    mode_t mode = (stat(path, &st) == 0 && S_ISREG(st.st_mode)) ? (st.st_mode & 07777) : 0644;
    if (fchmod(fd, mode) != 0) {
        /* keep 0600 */
    }

    int ok = fio_write_all(fd, data, len) == 0 && fio_fsync(fd, "fsync") == 0;
    int e = errno;
    /* close always releases the descriptor; its error still counts (NFS
     * reports a failed write-back there). */
    int closed = close(fd) == 0 && !fio_fault("close", EIO);
    if (ok && !closed) {
        ok = 0;
        e = errno;
    }
    if (ok && (fio_fault("rename", EIO) || rename(tmp, path) != 0)) {
        ok = 0;
        e = errno;
    }
    if (!ok) {
        unlink(tmp);
        free(tmp);
        return dcr_fail(err, DCR_ERR_IO, "%s: cannot write: %s", path, strerror(e));
    }
    /* tmp (strlen(path) + 11 bytes) is free now and holds the folder name. */
    int rc = fio_sync_dir(tmp, path);
    e = errno;
    free(tmp);
    if (rc != 0)
        return dcr_fail(err, DCR_ERR_IO,
                        "%s: written, but its folder could not be synced: %s "
                        "(the new file is in place but may not survive a crash)",
                        path, strerror(e));
    return 0;
}

/* read(2) of up to n bytes, retried on EINTR; the hook can fail it. */
static ssize_t fio_read(int fd, unsigned char *p, size_t n)
{
    for (;;) {
        if (fio_fault("read", EIO))
            return -1;
        ssize_t r = read(fd, p, n < FIO_CHUNK ? n : FIO_CHUNK);
        if (r >= 0 || errno != EINTR)
            return r;
    }
}

static int fio_too_big(const char *path, size_t max_bytes, dcr_error *err)
{
    return dcr_fail(err, DCR_ERR_LIMIT, "%s: file is larger than %zu bytes", path, max_bytes);
}

int dcr_read_file(unsigned char **out, size_t *len, const char *path, size_t max_bytes,
                  dcr_error *err)
{
    *out = NULL;
    *len = 0;
    if (!path || !*path)
        return dcr_fail(err, DCR_ERR_USAGE, "cannot read: no file name given");
    /* O_NONBLOCK: opening a FIFO must not hang before fstat can refuse it. */
    int fd = open(path, O_RDONLY | O_NONBLOCK);
    if (fd < 0)
        return dcr_fail(err, DCR_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return dcr_fail(err, DCR_ERR_IO, "%s: cannot read: %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return dcr_fail(err, DCR_ERR_IO, "%s: %s", path,
                        S_ISDIR(st.st_mode) ? "is a folder, not a file" : "not a regular file");
    }
    if (st.st_size < 0 || (uintmax_t)st.st_size > (uintmax_t)max_bytes) {
        close(fd);
        return fio_too_big(path, max_bytes, err);
    }

    /* The size from fstat is a hint: the file may change while it is read,
     * so the buffer grows when more comes and the limit is checked again. */
    size_t cap = (size_t)st.st_size, n = 0;
    unsigned char *buf = malloc(cap ? cap : 1);
    if (!buf) {
        close(fd);
        return dcr_fail(err, DCR_ERR_NOMEM, "%s: out of memory (%zu bytes)", path, cap);
    }
    for (;;) {
        unsigned char probe;
        int full = n == cap;
        ssize_t r = full ? fio_read(fd, &probe, 1) : fio_read(fd, buf + n, cap - n);
        if (r < 0) {
            int e = errno;
            free(buf);
            close(fd);
            return dcr_fail(err, DCR_ERR_IO, "%s: cannot read: %s", path, strerror(e));
        }
        if (r == 0)
            break;
        if (!full) {
            n += (size_t)r;
            continue;
        }
        /* The file grew past its fstat size. */
        if (n >= max_bytes) {
            free(buf);
            close(fd);
            return fio_too_big(path, max_bytes, err);
        }
        size_t ncap = cap <= max_bytes / 2 ? (cap ? cap * 2 : 4096) : max_bytes;
        if (ncap > max_bytes)
            ncap = max_bytes;
        unsigned char *nb = realloc(buf, ncap);
        if (!nb) {
            free(buf);
            close(fd);
            return dcr_fail(err, DCR_ERR_NOMEM, "%s: out of memory (%zu bytes)", path, ncap);
        }
        buf = nb;
        cap = ncap;
        buf[n++] = probe;
    }
    close(fd);
    *out = buf;
    *len = n;
    return 0;
}
