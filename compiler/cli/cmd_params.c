/* cmd_params.c: parameters in and out of deltac as NumPy .npy files, one per
 * tensor, in the layout torch.nn.Linear and NumPy use: W<l>.npy as
 * [out, in] and b<l>.npy as [out], C order, little-endian, the spec's dtype. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

static const char usage_export[] =
    "usage: deltac export CKPT --npy DIR\n"
    "\n"
    "Writes the checkpoint's parameters to DIR (created if missing) as W1.npy,\n"
    "b1.npy, W2.npy, ...: W as [out, in], b as [out], the checkpoint's dtype, C order,\n"
    "little-endian (torch.nn.Linear's weight and bias).\n";

static const char usage_import[] =
    "usage: deltac import DIR --spec SPEC -o CKPT\n"
    "\n"
    "Reads W1.npy, b1.npy, ... from DIR, checks each against SPEC's network (shape,\n"
    "dtype, C order, little-endian) and writes a checkpoint (epoch 0) for SPEC.\n";

static char *tensor_path(const char *dir, char kind, int l)
{
    size_t n = strlen(dir) + 32;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%c%d.npy", dir, kind, l);
    return p;
}

int cli_npy_write_params(const char *dir, const dcr_arch *a, const void *params, dcr_error *err)
{
    if (mkdir(dir, 0777) != 0 && errno != EEXIST)
        return dcr_fail(err, DCR_ERR_IO, "%s: cannot create the folder: %s", dir, strerror(errno));
    size_t es = dcr_dtype_size(a->dtype);
    const char *base = params;
    for (int l = 1; l <= a->n_layers; l++) {
        size_t shape_w[2] = {(size_t)a->sizes[l], (size_t)a->sizes[l - 1]};
        size_t shape_b[1] = {(size_t)a->sizes[l]};
        char *pw = tensor_path(dir, 'W', l), *pb = tensor_path(dir, 'b', l);
        int bad = !pw || !pb ||
                  dcr_npy_write(pw, a->dtype, 2, shape_w, base + dcr_arch_w_offset(a, l) * es, err) ||
                  dcr_npy_write(pb, a->dtype, 1, shape_b, base + dcr_arch_b_offset(a, l) * es, err);
        if (!pw || !pb)
            dcr_fail(err, DCR_ERR_NOMEM, "out of memory");
        free(pw);
        free(pb);
        if (bad)
            return -1;
    }
    return 0;
}

int cmd_export(int argc, char **argv)
{
    cli_args a = {argc, argv, 0, NULL, usage_export};
    const char *v, *dir = NULL;
    for (a.i = 1; a.i < argc; a.i++) {
        if (cli_opt(&a, "--npy", NULL, 1, &v))
            dir = v;
        else
            cli_other(&a);
    }
    cli_need_pos(&a);
    if (!dir)
        cli_usage_error("%s", "export needs --npy DIR");
    dcr_error err;
    dcr_ckpt c;
    if (dcr_ckpt_read(&c, a.pos, &err))
        return cli_fail(&err);
    int rc = -1;
    if (cli_npy_write_params(dir, &c.arch, c.params, &err))
        goto out;
    printf("wrote %d layers (W1.npy ... b%d.npy, %s) to %s\n", c.arch.n_layers, c.arch.n_layers,
           dcr_dtype_name(c.arch.dtype), dir);
    rc = 0;
out:
    dcr_ckpt_free(&c);
    return rc ? cli_fail(&err) : 0;
}

/* Reads one tensor and checks it against the expected shape and dtype. */
static int read_tensor(void *dst, const char *path, dcr_dtype t, int ndim, const size_t *shape, dcr_error *err)
{
    dcr_npy a;
    if (dcr_npy_read(&a, path, err))
        return -1;
    int rc = 0;
    if (a.dtype != t) {
        rc = dcr_fail(err, DCR_ERR_DATA, "%s: dtype %s, but the spec says %s", path, dcr_dtype_name(a.dtype),
                      dcr_dtype_name(t));
    } else if (a.ndim != ndim || a.shape[0] != shape[0] || (ndim == 2 && a.shape[1] != shape[1])) {
        char got[64] = "(", want[64];
        for (int i = 0; i < a.ndim; i++) {
            size_t n = strlen(got);
            snprintf(got + n, sizeof got - n, "%s%zu", i ? ", " : "", a.shape[i]);
        }
        strcat(got, a.ndim == 1 ? ",)" : ")");
        if (ndim == 2)
            snprintf(want, sizeof want, "(%zu, %zu)", shape[0], shape[1]);
        else
            snprintf(want, sizeof want, "(%zu,)", shape[0]);
        rc = dcr_fail(err, DCR_ERR_DATA, "%s: shape %s, but the spec's layer needs %s", path, got, want);
    } else {
        memcpy(dst, a.data, a.count * dcr_dtype_size(t));
    }
    dcr_npy_free(&a);
    return rc;
}

int cmd_import(int argc, char **argv)
{
    cli_args a = {argc, argv, 0, NULL, usage_import};
    const char *v, *spec = NULL, *out = NULL;
    for (a.i = 1; a.i < argc; a.i++) {
        if (cli_opt(&a, "--spec", NULL, 1, &v))
            spec = v;
        else if (cli_opt(&a, "--output", "-o", 1, &v))
            out = v;
        else
            cli_other(&a);
    }
    cli_need_pos(&a);
    if (!spec || !out)
        cli_usage_error("%s", "import needs --spec SPEC and -o CKPT");
    dcr_error err;
    dc_spec s;
    dc_net n;
    if (cli_load(&s, &n, spec, &err))
        return cli_fail(&err);
    dcr_ckpt c;
    memset(&c, 0, sizeof c);
    c.arch = s.arch;
    memcpy(c.spec_sha256, s.sha256, 32);
    dcr_train_state st;
    dcr_train_state_init(&st, s.train.seed);
    memcpy(c.rng, st.rng.s, sizeof c.rng);
    c.n_params = n.n_params;
    size_t es = dcr_dtype_size(s.arch.dtype);
    c.params = calloc(n.n_params, es);
    int rc = -1;
    if (!c.params) {
        dcr_fail(&err, DCR_ERR_NOMEM, "out of memory");
        goto out;
    }
    for (int l = 1; l <= s.arch.n_layers; l++) {
        size_t shape_w[2] = {(size_t)s.arch.sizes[l], (size_t)s.arch.sizes[l - 1]};
        size_t shape_b[1] = {(size_t)s.arch.sizes[l]};
        char *pw = tensor_path(a.pos, 'W', l), *pb = tensor_path(a.pos, 'b', l);
        int bad = !pw || !pb ||
                  read_tensor((char *)c.params + n.w_off[l] * es, pw, s.arch.dtype, 2, shape_w, &err) ||
                  read_tensor((char *)c.params + n.b_off[l] * es, pb, s.arch.dtype, 1, shape_b, &err);
        if (!pw || !pb)
            dcr_fail(&err, DCR_ERR_NOMEM, "out of memory");
        free(pw);
        free(pb);
        if (bad)
            goto out;
    }
    if (dcr_ckpt_save(out, &c, &err))
        goto out;
    printf("wrote %s (%zu parameters of %s)\n", out, n.n_params, s.name);
    rc = 0;
out:
    free(c.params);
    dc_spec_free(&s);
    return rc ? cli_fail(&err) : 0;
}
