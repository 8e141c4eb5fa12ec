/* jit_cc.c: the system C compiler as a JIT backend. The source goes to a
 * file, `cc -O2 -march=native -shared -fPIC` makes a shared object of it,
 * and dlopen loads it. The object is kept in a cache folder under a name
 * that is the SHA-256 of everything that decides its contents (the source,
 * the flags, the compiler binary and the CPU), so compiling the same network
 * again costs a hash and a dlopen.
 *
 * The compiler runs through posix_spawn with a fixed argument vector (no
 * shell), on file names deltac made itself. The cache folder must belong to
 * the user and not be writable by others: code is loaded from it. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "internal.h"
#include "jit.h"

extern char **environ;

typedef struct {
    void *dl;
    size_t code_bytes;
    int cache_hit;
} cc_state;

/* ---- the flags ---------------------------------------------------------------- */

/* exact: no contraction into FMA and no reassociation, so float results
 * equal the reference engine's and tcc's bit for bit. Otherwise gcc may
 * contract, reassociate sums (which is what lets it vectorise dot
 * products) and ignore errno and the sign of zero; NaN and Inf still
 * propagate (no -ffinite-math-only), so diverged training is still seen. */
static const char *const flags_exact[] = {"-O2", "-march=native", "-std=c99", "-ffp-contract=off",
                                          "-fno-math-errno", NULL};
static const char *const flags_fast[] = {"-O3", "-march=native", "-std=c99", "-ffp-contract=fast",
                                         "-fno-math-errno", "-fno-trapping-math", "-fassociative-math",
                                         "-fno-signed-zeros", NULL};

const char *dc_jit_cc_flags(int exact)
{
    return exact ? "-O2 -march=native -std=c99 -ffp-contract=off -fno-math-errno"
                 : "-O3 -march=native -std=c99 -ffp-contract=fast -fno-math-errno -fno-trapping-math "
                   "-fassociative-math -fno-signed-zeros";
}

/* ---- finding the compiler ------------------------------------------------------- */

/* The absolute path of the executable cmd (searched in PATH when it has no
 * slash) into out; -1 when there is none. */
static int find_exe(char *out, size_t cap, const char *cmd)
{
    if (strchr(cmd, '/')) {
        if (access(cmd, X_OK) != 0 || !realpath(cmd, out))
            return -1;
        return 0;
    }
    const char *path = getenv("PATH");
    if (!path || !*path)
        path = "/usr/local/bin:/usr/bin:/bin";
    while (*path) {
        const char *end = strchr(path, ':');
        size_t n = end ? (size_t)(end - path) : strlen(path);
        char cand[4096];
        if (n > 0 && n + strlen(cmd) + 2 < sizeof cand) {
            memcpy(cand, path, n);
            cand[n] = '/';
            strcpy(cand + n + 1, cmd);
            struct stat st;
            if (stat(cand, &st) == 0 && S_ISREG(st.st_mode) && access(cand, X_OK) == 0) {
                char *rp = realpath(cand, NULL);
                if (rp && strlen(rp) < cap) {
                    strcpy(out, rp);
                    free(rp);
                    return 0;
                }
                free(rp);
            }
        }
        path += n + (end ? 1 : 0);
    }
    return -1;
}

static const char *cc_command(const dc_jit_opts *o)
{
    if (o && o->cc && *o->cc)
        return o->cc;
    const char *env = getenv("CC");
    return env && *env ? env : "cc";
}

int dc_jit_cc_available(const dc_jit_opts *o)
{
    char p[4096];
    return find_exe(p, sizeof p, cc_command(o)) == 0;
}

/* ---- the cache folder --------------------------------------------------------- */

/* Creates dir (and its parents) with mode 0700 where missing. */
static int make_dirs(const char *dir)
{
    char p[4096];
    if (strlen(dir) >= sizeof p)
        return -1;
    strcpy(p, dir);
    for (char *s = p + 1; *s; s++)
        if (*s == '/') {
            *s = 0;
            if (mkdir(p, 0700) != 0 && errno != EEXIST)
                return -1;
            *s = '/';
        }
    if (mkdir(p, 0700) != 0 && errno != EEXIST)
        return -1;
    return 0;
}

/* The cache folder into out: o->cache_dir, $DELTAC_CACHE,
 * $XDG_CACHE_HOME/deltac or $HOME/.cache/deltac; "" when caching is off. */
static void cache_dir(char *out, size_t cap, const dc_jit_opts *o)
{
    const char *d = o ? o->cache_dir : NULL, *e;
    out[0] = 0;
    if (d) {
        snprintf(out, cap, "%s", d);
    } else if ((e = getenv("DELTAC_CACHE")) && *e) {
        snprintf(out, cap, "%s", e);
    } else if ((e = getenv("XDG_CACHE_HOME")) && *e == '/') {
        snprintf(out, cap, "%s/deltac", e);
    } else if ((e = getenv("HOME")) && *e == '/') {
        snprintf(out, cap, "%s/.cache/deltac", e);
    }
}

static int check_private_dir(const char *dir, dcr_error *err)
{
    struct stat st;
    if (make_dirs(dir) != 0 || lstat(dir, &st) != 0)
        return dcr_fail(err, DCR_ERR_IO, "cannot create the compiled-code cache %s: %s (set DELTAC_CACHE)", dir,
                        strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return dcr_fail(err, DCR_ERR_IO, "the compiled-code cache %s is not a folder (set DELTAC_CACHE)", dir);
    if (st.st_uid != geteuid() || (st.st_mode & 022))
        return dcr_fail(err, DCR_ERR_IO,
                        "the compiled-code cache %s belongs to someone else or is writable by others; deltac "
                        "loads code from it, so it refuses (chmod go-w it, or set DELTAC_CACHE)",
                        dir);
    return 0;
}

/* ---- the key ------------------------------------------------------------------------ */

/* The CPU's model and feature flags, which -march=native depends on. */
static void cpu_id(EVP_MD_CTX *h)
{
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return;
    char line[8192];
    int got = 0;
    while (got < 2 && fgets(line, sizeof line, f))
        if (!strncmp(line, "model name", 10) || !strncmp(line, "flags", 5)) {
            EVP_DigestUpdate(h, line, strlen(line));
            got++;
        }
    fclose(f);
}

static int cache_key(char hex[65], const char *cc_path, const char *flags, const char *src, size_t len)
{
    unsigned char md[32];
    unsigned n = 0;
    EVP_MD_CTX *h = EVP_MD_CTX_new();
    if (!h)
        return -1;
    struct stat st;
    char id[8192];
    if (stat(cc_path, &st) != 0)
        memset(&st, 0, sizeof st);
    snprintf(id, sizeof id, "deltac %s\ncc %s %lld %lld\nflags %s\n", dc_version(), cc_path, (long long)st.st_size,
             (long long)st.st_mtime, flags);
    int ok = EVP_DigestInit_ex(h, EVP_sha256(), NULL) && EVP_DigestUpdate(h, id, strlen(id));
    if (ok) {
        cpu_id(h);
        ok = EVP_DigestUpdate(h, src, len) && EVP_DigestFinal_ex(h, md, &n) && n == 32;
    }
    EVP_MD_CTX_free(h);
    if (!ok)
        return -1;
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    return 0;
}

/* ---- running the compiler --------------------------------------------------------- */

static int write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

#define MAX_EXTRA 32

/* Runs cc_path with the flags on src_path into so_path; its messages (the
 * first DCR_MSG_MAX bytes) come back in err on failure. */
static int run_cc(const char *cc_path, int exact, const char *src_path, const char *so_path, dcr_error *err)
{
    const char *const *fl = exact ? flags_exact : flags_fast;
    const char *argv[32 + MAX_EXTRA];
    char extra[1024];
    int n = 0;
    argv[n++] = cc_path;
    for (int i = 0; fl[i]; i++)
        argv[n++] = fl[i];
    /* $DELTAC_CC_FLAGS: words appended to the flags (part of the cache key) */
    const char *e = getenv("DELTAC_CC_FLAGS");
    snprintf(extra, sizeof extra, "%s", e ? e : "");
    for (char *save = NULL, *w = strtok_r(extra, " \t", &save); w && n < 32 + MAX_EXTRA - 12;
         w = strtok_r(NULL, " \t", &save))
        argv[n++] = w;
    argv[n++] = "-shared";
    argv[n++] = "-fPIC";
    argv[n++] = "-w";
    argv[n++] = "-o";
    argv[n++] = so_path;
    argv[n++] = src_path;
    argv[n++] = "-lm";
    argv[n] = NULL;

    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0)
        return dcr_fail(err, DCR_ERR_JIT, "pipe: %s", strerror(errno));
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 2);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    pid_t pid;
    int rc = posix_spawn(&pid, cc_path, &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    if (rc != 0) {
        close(fds[0]);
        return dcr_fail(err, DCR_ERR_JIT, "cannot run the C compiler %s: %s", cc_path, strerror(rc));
    }
    char out[DCR_MSG_MAX - 128];
    size_t got = 0;
    for (;;) {
        char tmp[4096];
        ssize_t r = read(fds[0], tmp, sizeof tmp);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        size_t take = (size_t)r < sizeof out - 1 - got ? (size_t)r : sizeof out - 1 - got;
        memcpy(out + got, tmp, take);
        got += take;
    }
    out[got] = 0;
    close(fds[0]);
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return dcr_fail(err, DCR_ERR_JIT, "waiting for the C compiler: %s", strerror(errno));
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return dcr_fail(err, DCR_ERR_JIT, "the C compiler %s failed on the generated code (%s %d):\n%s", cc_path,
                        WIFEXITED(status) ? "exit status" : "signal",
                        WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status), got ? out : "(no message)");
    return 0;
}

/* A fresh name dir/NAME-XXXXXX.EXT, created empty; -1 on failure. */
static int make_temp(char *out, size_t cap, const char *dir, const char *name, const char *ext)
{
    int n = snprintf(out, cap, "%s/%s-XXXXXX%s", dir, name, ext);
    if (n < 0 || (size_t)n >= cap)
        return -1;
    int fd = mkstemps(out, (int)strlen(ext));
    if (fd < 0)
        return -1;
    return fd;
}

static int load(cc_state *s, const char *so_path, dcr_error *err)
{
    struct stat st;
    s->dl = dlopen(so_path, RTLD_NOW | RTLD_LOCAL);
    if (!s->dl)
        return dcr_fail(err, DCR_ERR_JIT, "cannot load the compiled code %s: %s", so_path, dlerror());
    s->code_bytes = stat(so_path, &st) == 0 ? (size_t)st.st_size : 0;
    return 0;
}

int dc_jit_cc_compile(void **out, const char *src, size_t len, const dc_jit_opts *o, dcr_error *err)
{
    *out = NULL;
    char cc_path[4096];
    const char *cmd = cc_command(o);
    if (find_exe(cc_path, sizeof cc_path, cmd) != 0)
        return dcr_fail(err, DCR_ERR_JIT, "no C compiler '%s' found (install gcc, set CC, or use --jit tcc)", cmd);
    int exact = o ? o->exact : 0;
    char dir[4096 - 128];
    cache_dir(dir, sizeof dir, o);
    int cached = dir[0] != 0;
    if (cached && check_private_dir(dir, err))
        return -1;
    if (!cached) {
        /* a private folder of our own for the files, gone after loading */
        const char *tmp = getenv("TMPDIR");
        snprintf(dir, sizeof dir, "%s/deltac-XXXXXX", tmp && *tmp == '/' ? tmp : "/tmp");
        if (!mkdtemp(dir))
            return dcr_fail(err, DCR_ERR_IO, "cannot make a temporary folder %s: %s", dir, strerror(errno));
    }
    cc_state *s = calloc(1, sizeof *s);
    if (!s)
        return dcr_fail(err, DCR_ERR_NOMEM, "out of memory");
    char key[65], final_so[4096 + 80], src_path[4096 + 80], tmp_so[4096 + 80];
    src_path[0] = tmp_so[0] = 0;
    char flags[2048];
    const char *extra = getenv("DELTAC_CC_FLAGS");
    snprintf(flags, sizeof flags, "%s %s", dc_jit_cc_flags(exact), extra ? extra : "");
    if (cache_key(key, cc_path, flags, src, len) != 0) {
        free(s);
        if (!cached)
            rmdir(dir);
        return dcr_fail(err, DCR_ERR_JIT, "SHA-256 failed");
    }
    snprintf(final_so, sizeof final_so, "%s/%s.so", dir, key);
    if (cached && access(final_so, R_OK) == 0 && load(s, final_so, err) == 0) {
        s->cache_hit = 1;
        *out = s;
        return 0;
    }
    int rc = -1, fd = make_temp(src_path, sizeof src_path, dir, key, ".c");
    if (fd < 0) {
        dcr_fail(err, DCR_ERR_IO, "cannot write the generated code into %s: %s", dir, strerror(errno));
        src_path[0] = 0;
        goto done;
    }
    if (write_all(fd, src, len) != 0) {
        dcr_fail(err, DCR_ERR_IO, "cannot write %s: %s", src_path, strerror(errno));
        close(fd);
        goto done;
    }
    close(fd);
    fd = make_temp(tmp_so, sizeof tmp_so, dir, key, ".so");
    if (fd < 0) {
        dcr_fail(err, DCR_ERR_IO, "cannot make a file in %s: %s", dir, strerror(errno));
        tmp_so[0] = 0;
        goto done;
    }
    close(fd);
    if (run_cc(cc_path, exact, src_path, tmp_so, err) != 0)
        goto done;
    /* another process may have put the same object there meanwhile: same
     * key, same contents, so replacing it is harmless */
    if (rename(tmp_so, final_so) != 0) {
        dcr_fail(err, DCR_ERR_IO, "cannot rename %s to %s: %s", tmp_so, final_so, strerror(errno));
        goto done;
    }
    tmp_so[0] = 0;
    if (load(s, final_so, err) != 0)
        goto done;
    rc = 0;
done:
    if (src_path[0])
        unlink(src_path);
    if (tmp_so[0])
        unlink(tmp_so);
    if (!cached) {
        unlink(final_so); /* the mapping stays valid */
        rmdir(dir);
    }
    if (rc) {
        free(s);
        return -1;
    }
    *out = s;
    return 0;
}

void *dc_jit_cc_symbol(void *state, const char *name)
{
    cc_state *s = state;
    return dlsym(s->dl, name);
}

void dc_jit_cc_info(void *state, size_t *code_bytes, int *cache_hit)
{
    cc_state *s = state;
    *code_bytes = s->code_bytes;
    *cache_hit = s->cache_hit;
}

void dc_jit_cc_free(void *state)
{
    cc_state *s = state;
    if (!s)
        return;
    if (s->dl)
        dlclose(s->dl);
    free(s);
}
