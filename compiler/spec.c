/* spec.c: reads a spec (docs/spec.md) with cJSON and validates every key.
 * Everything that is not exactly right is an error naming the file, the
 * line and column, and the JSON path. cJSON's own leniencies (duplicate
 * keys, case-insensitive lookup, saturating valueint) are closed here. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "internal.h"

#define SPEC_MAX_DEPTH 64
#define SPEC_MAX_PATH 4096
#define SPEC_MAX_SEED 9007199254740991.0 /* 2^53 - 1: exact in a JSON number */

typedef struct {
    const char *file;
    const char *text;
    size_t len;
    dc_jpos pos;
    dcr_error *err;
} vctx;

/* ---- messages ------------------------------------------------------------- */

static int verr_at(vctx *c, size_t off, const char *jpath, const char *fmt, ...) DC_PRINTF(4, 5);
static int verr_at(vctx *c, size_t off, const char *jpath, const char *fmt, ...)
{
    char what[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    int line, col;
    dc_line_col(&line, &col, c->text, c->len, off);
    return dcr_fail(c->err, DCR_ERR_SPEC, "%s:%d:%d: %s: %s", c->file, line, col,
                    jpath[0] ? jpath : "$", what);
}

#define VERR(c, item, jpath, ...) verr_at(c, dc_jpos_value(&(c)->pos, item), jpath, __VA_ARGS__)
#define VERR_KEY(c, item, jpath, ...) verr_at(c, dc_jpos_key(&(c)->pos, item), jpath, __VA_ARGS__)

/* A short, printable rendering of text that came from the spec. */
static void show(char *out, size_t cap, const char *s)
{
    size_t o = 0;
    for (; *s && o + 5 < cap; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch >= 32 && ch < 127 && ch != '\\') {
            out[o++] = (char)ch;
        } else {
            o += (size_t)snprintf(out + o, cap - o, "\\x%02X", ch);
        }
    }
    if (*s && o + 4 < cap) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = 0;
}

static const char *type_name(const cJSON *v)
{
    if (cJSON_IsNull(v)) return "null";
    if (cJSON_IsBool(v)) return "a boolean";
    if (cJSON_IsNumber(v)) return "a number";
    if (cJSON_IsString(v)) return "a string";
    if (cJSON_IsArray(v)) return "an array";
    if (cJSON_IsObject(v)) return "an object";
    return "something else";
}

static void jpath_key(char *out, size_t cap, const char *parent, const char *key)
{
    snprintf(out, cap, "%s%s%s", parent, parent[0] ? "." : "", key);
}

/* ---- keys of an object ---------------------------------------------------- */

static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 40 || lb > 40)
        return 99;
    size_t d[41][41];
    for (size_t i = 0; i <= la; i++) d[i][0] = i;
    for (size_t j = 0; j <= lb; j++) d[0][j] = j;
    for (size_t i = 1; i <= la; i++)
        for (size_t j = 1; j <= lb; j++) {
            size_t s = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            size_t del = d[i - 1][j] + 1, ins = d[i][j - 1] + 1;
            d[i][j] = s < del ? (s < ins ? s : ins) : (del < ins ? del : ins);
        }
    return d[la][lb];
}

static const char *closest(const char *word, const char *const *names, size_t n)
{
    const char *best = NULL;
    size_t bd = 3;
    for (size_t i = 0; i < n; i++) {
        size_t d = edit_distance(word, names[i]);
        if (d < bd) {
            bd = d;
            best = names[i];
        }
    }
    return best;
}

static void join(char *out, size_t cap, const char *const *names, size_t n)
{
    out[0] = 0;
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(out);
        snprintf(out + l, cap - l, "%s%s", i ? ", " : "", names[i]);
    }
}

/* Checks that obj is an object whose keys are all in keys (exact case) and
 * none repeats; found[i] receives the member for keys[i] or NULL. */
static int check_object(vctx *c, const cJSON *obj, const char *jpath,
                        const char *const *keys, size_t n, const cJSON **found)
{
    if (!cJSON_IsObject(obj))
        return VERR(c, obj, jpath, "expected an object, got %s", type_name(obj));
    for (size_t i = 0; i < n; i++)
        found[i] = NULL;
    for (const cJSON *m = obj->child; m; m = m->next) {
        size_t i;
        for (i = 0; i < n; i++)
            if (strcmp(m->string, keys[i]) == 0)
                break;
        char shown[96], path[256];
        show(shown, sizeof shown, m->string);
        jpath_key(path, sizeof path, jpath, shown);
        if (i == n) {
            char all[512];
            join(all, sizeof all, keys, n);
            for (size_t k = 0; k < n; k++)
                if (strcasecmp(m->string, keys[k]) == 0)
                    return VERR_KEY(c, m, path, "unknown key \"%s\" (keys are case-sensitive: did you mean \"%s\"?)",
                                    shown, keys[k]);
            const char *near = closest(m->string, keys, n);
            if (near)
                return VERR_KEY(c, m, path, "unknown key \"%s\" (did you mean \"%s\"?)", shown, near);
            return VERR_KEY(c, m, path, "unknown key \"%s\" (expected one of: %s)", shown, all);
        }
        if (found[i]) {
            int line, col;
            dc_line_col(&line, &col, c->text, c->len, dc_jpos_key(&c->pos, found[i]));
            return VERR_KEY(c, m, path, "duplicate key \"%s\" (first given at %d:%d)", shown, line, col);
        }
        found[i] = m;
    }
    return 0;
}

static int require(vctx *c, const cJSON *obj, const cJSON *member, const char *jpath, const char *key)
{
    if (member)
        return 0;
    return VERR(c, obj, jpath[0] ? jpath : "$", "missing required key \"%s\"", key);
}

/* ---- typed values ------------------------------------------------------------- */

static int get_int(vctx *c, const cJSON *v, const char *jpath, double lo, double hi, long long *out)
{
    if (!cJSON_IsNumber(v))
        return VERR(c, v, jpath, "expected an integer from %.0f to %.0f, got %s", lo, hi, type_name(v));
    double d = v->valuedouble;
    if (!isfinite(d))
        return VERR(c, v, jpath, "number out of range (expected an integer from %.0f to %.0f)", lo, hi);
    if (d != floor(d))
        return VERR(c, v, jpath, "%.17g is not an integer (expected an integer from %.0f to %.0f)", d, lo, hi);
    if (d < lo || d > hi)
        return VERR(c, v, jpath, "%.17g is out of range (expected an integer from %.0f to %.0f)", d, lo, hi);
    *out = (long long)d;
    return 0;
}

/* A finite number with lo < v (or lo <= v when lo_incl) and v < hi (or <=). */
static int get_num(vctx *c, const cJSON *v, const char *jpath, double lo, int lo_incl,
                   double hi, int hi_incl, double *out)
{
    char want[128];
    snprintf(want, sizeof want, "a number %s %.17g and %s %.17g", lo_incl ? ">=" : ">", lo,
             hi_incl ? "<=" : "<", hi);
    if (!cJSON_IsNumber(v))
        return VERR(c, v, jpath, "expected %s, got %s", want, type_name(v));
    double d = v->valuedouble;
    if (!isfinite(d) || (lo_incl ? d < lo : d <= lo) || (hi_incl ? d > hi : d >= hi))
        return VERR(c, v, jpath, "%.17g is out of range (expected %s)", d, want);
    *out = d;
    return 0;
}

static int get_bool(vctx *c, const cJSON *v, const char *jpath, int *out)
{
    if (!cJSON_IsBool(v))
        return VERR(c, v, jpath, "expected true or false, got %s", type_name(v));
    *out = cJSON_IsTrue(v) ? 1 : 0;
    return 0;
}

static int get_enum(vctx *c, const cJSON *v, const char *jpath, const char *what,
                    const char *const *names, size_t n, int *out)
{
    char all[512];
    join(all, sizeof all, names, n);
    if (!cJSON_IsString(v))
        return VERR(c, v, jpath, "expected a string (one of: %s), got %s", all, type_name(v));
    for (size_t i = 0; i < n; i++)
        if (strcmp(v->valuestring, names[i]) == 0) {
            *out = (int)i;
            return 0;
        }
    char shown[96];
    show(shown, sizeof shown, v->valuestring);
    const char *near = closest(v->valuestring, names, n);
    if (near)
        return VERR(c, v, jpath, "unknown %s \"%s\" (expected one of: %s; did you mean \"%s\"?)",
                    what, shown, all, near);
    return VERR(c, v, jpath, "unknown %s \"%s\" (expected one of: %s)", what, shown, all);
}

static int get_path(vctx *c, const cJSON *v, const char *jpath, const char *base, char **out)
{
    if (!cJSON_IsString(v))
        return VERR(c, v, jpath, "expected a file path (a string), got %s", type_name(v));
    const char *s = v->valuestring;
    size_t n = strlen(s);
    if (n == 0)
        return VERR(c, v, jpath, "empty path (expected a file path)");
    if (n > SPEC_MAX_PATH)
        return VERR(c, v, jpath, "path longer than %d bytes", SPEC_MAX_PATH);
    /* relative paths are relative to the spec's folder */
    const char *slash = strrchr(base, '/');
    size_t dir = (s[0] == '/' || !slash) ? 0 : (size_t)(slash - base) + 1;
    char *p = malloc(dir + n + 1);
    if (!p)
        return dcr_fail(c->err, DCR_ERR_NOMEM, "out of memory");
    memcpy(p, base, dir);
    memcpy(p + dir, s, n + 1);
    *out = p;
    return 0;
}

/* ---- sections ------------------------------------------------------------------ */

/* in dcr_act / dcr_loss order */
static const char *const act_names[DCR_N_ACTS] = {"identity", "sigmoid",    "tanh",     "relu", "softmax",
                                                  "leaky_relu", "elu", "softplus", "gelu"};
static const char *const loss_names[DCR_N_LOSSES] = {"mse", "cross_entropy", "binary_cross_entropy"};
static const char *const dtype_names[] = {"float32", "float64"};
static const char *const init_names[] = {"xavier_uniform", "he_uniform", "uniform", "xavier_normal",
                                         "he_normal"};

static int parse_name(vctx *c, const cJSON *v, dc_spec *s)
{
    if (!cJSON_IsString(v))
        return VERR(c, v, "name", "expected an identifier [a-z][a-z0-9_]{0,31}, got %s", type_name(v));
    const char *n = v->valuestring;
    size_t len = strlen(n);
    int ok = len >= 1 && len <= DC_NAME_MAX && n[0] >= 'a' && n[0] <= 'z';
    for (size_t i = 1; ok && i < len; i++)
        ok = (n[i] >= 'a' && n[i] <= 'z') || (n[i] >= '0' && n[i] <= '9') || n[i] == '_';
    if (!ok) {
        char shown[96];
        show(shown, sizeof shown, n);
        return VERR(c, v, "name", "\"%s\" is not a valid name (expected [a-z][a-z0-9_]{0,31}: a lower-case letter, then up to 31 lower-case letters, digits or _)", shown);
    }
    memcpy(s->name, n, len + 1);
    return 0;
}

static int parse_layers(vctx *c, const cJSON *v, dc_spec *s)
{
    if (!cJSON_IsArray(v))
        return VERR(c, v, "layers", "expected an array of {\"units\": N, \"activation\": A}, got %s", type_name(v));
    int n = cJSON_GetArraySize(v);
    if (n < 1)
        return VERR(c, v, "layers", "no layers (expected at least one)");
    if (n > DCR_MAX_LAYERS)
        return VERR(c, v, "layers", "%d layers, more than the limit DCR_MAX_LAYERS = %d", n, DCR_MAX_LAYERS);
    static const char *const keys[] = {"units", "activation", "alpha"};
    int l = 0;
    for (const cJSON *e = v->child; e; e = e->next) {
        char jp[64], jk[80];
        snprintf(jp, sizeof jp, "layers[%d]", l);
        const cJSON *f[3];
        if (check_object(c, e, jp, keys, 3, f) || require(c, e, f[0], jp, "units") ||
            require(c, e, f[1], jp, "activation"))
            return -1;
        long long units;
        int act;
        snprintf(jk, sizeof jk, "%s.units", jp);
        if (get_int(c, f[0], jk, 1, DC_MAX_UNITS, &units))
            return -1;
        snprintf(jk, sizeof jk, "%s.activation", jp);
        if (get_enum(c, f[1], jk, "activation", act_names, DCR_N_ACTS, &act))
            return -1;
        /* leaky_relu: 0.01 and elu: 1.0 by default, as in PyTorch */
        double alpha = act == DCR_ACT_LEAKY_RELU ? 0.01 : act == DCR_ACT_ELU ? 1.0 : 0;
        if (f[2]) {
            snprintf(jk, sizeof jk, "%s.alpha", jp);
            if (act != DCR_ACT_LEAKY_RELU && act != DCR_ACT_ELU)
                return VERR_KEY(c, f[2], jk, "alpha applies only to leaky_relu and elu (this layer is %s)",
                                act_names[act]);
            if (!cJSON_IsNumber(f[2]))
                return VERR(c, f[2], jk, "expected a finite number > 0, got %s", type_name(f[2]));
            alpha = f[2]->valuedouble;
            if (!isfinite(alpha) || !(alpha > 0))
                return VERR(c, f[2], jk, "%.17g is out of range (expected a finite number > 0)", alpha);
        }
        if (act == DCR_ACT_SOFTMAX && l != n - 1)
            return VERR(c, f[1], jk, "softmax is only allowed on the last layer (this is layer %d of %d)", l + 1, n);
        if (act == DCR_ACT_SOFTMAX && units < 2)
        {
            snprintf(jk, sizeof jk, "%s.units", jp);
            return VERR(c, f[0], jk, "a softmax layer needs at least 2 units");
        }
        s->arch.sizes[l + 1] = (int)units;
        s->arch.act[l + 1] = (dcr_act)act;
        s->arch.alpha[l + 1] = alpha;
        l++;
    }
    s->arch.n_layers = n;
    return 0;
}

static int parse_init(vctx *c, const cJSON *v, dc_spec *s)
{
    static const char *const keys[] = {"scheme", "seed", "range"};
    const cJSON *f[3];
    if (check_object(c, v, "init", keys, 3, f))
        return -1;
    int scheme = DCR_INIT_XAVIER_UNIFORM;
    if (f[0] && get_enum(c, f[0], "init.scheme", "init scheme", init_names, 5, &scheme))
        return -1;
    s->init.scheme = (dcr_init_scheme)scheme;
    long long seed;
    if (f[1]) {
        if (get_int(c, f[1], "init.seed", 0, SPEC_MAX_SEED, &seed))
            return -1;
        s->init.seed = (uint64_t)seed;
    }
    if (f[2]) {
        if (scheme != DCR_INIT_UNIFORM)
            return VERR_KEY(c, f[2], "init.range", "range applies only to the scheme \"uniform\"");
        if (get_num(c, f[2], "init.range", 0, 0, 1e6, 1, &s->init.range))
            return -1;
    }
    return 0;
}

/* train.early_stopping; that it has a validation part to watch is checked
 * once the data section is read (validate) */
static int parse_early_stopping(vctx *c, const cJSON *v, dc_spec *s)
{
    static const char *const keys[] = {"patience", "min_delta"};
    const cJSON *f[2];
    if (check_object(c, v, "train.early_stopping", keys, 2, f) ||
        require(c, v, f[0], "train.early_stopping", "patience"))
        return -1;
    long long n;
    if (get_int(c, f[0], "train.early_stopping.patience", 1, DC_MAX_EPOCHS, &n))
        return -1;
    s->train.patience = (int)n;
    if (f[1] && get_num(c, f[1], "train.early_stopping.min_delta", 0, 1, 1e6, 1, &s->train.min_delta))
        return -1;
    return 0;
}

/* train.optimizer (docs/spec.md, docs/training.md). A key of another
 * optimizer type is an error naming the type it belongs to. */
static int parse_optimizer(vctx *c, const cJSON *v, dc_spec *s)
{
    static const char *const keys[] = {"type", "learning_rate", "momentum", "nesterov", "betas", "eps",
                                       "weight_decay"};
    enum { O_TYPE, O_LR, O_MOM, O_NEST, O_BETAS, O_EPS, O_WD, O_N };
    static const char *const names[] = {"sgd", "adam", "adamw"};
    const cJSON *f[O_N];
    if (check_object(c, v, "train.optimizer", keys, O_N, f))
        return -1;
    int type = DCR_OPT_SGD;
    if (f[O_TYPE] && get_enum(c, f[O_TYPE], "train.optimizer.type", "optimizer", names, 3, &type))
        return -1;
    const char *tn = names[type];
    const char *dflt = f[O_TYPE] ? "" : ", the default";
    dcr_optim *o = &s->train.opt;
    o->type = (dcr_opt_type)type;
    if (f[O_LR] && get_num(c, f[O_LR], "train.optimizer.learning_rate", 0, 0, 1e6, 1, &s->train.lr))
        return -1;
    if (type == DCR_OPT_SGD) {
        if (f[O_BETAS])
            return VERR_KEY(c, f[O_BETAS], "train.optimizer.betas",
                            "betas apply only to the optimizers \"adam\" and \"adamw\" (the type is \"%s\"%s)", tn,
                            dflt);
        if (f[O_EPS])
            return VERR_KEY(c, f[O_EPS], "train.optimizer.eps",
                            "eps applies only to the optimizers \"adam\" and \"adamw\" (the type is \"%s\"%s)", tn,
                            dflt);
        if (f[O_MOM] && get_num(c, f[O_MOM], "train.optimizer.momentum", 0, 1, 1, 0, &o->momentum))
            return -1;
        if (f[O_NEST] && get_bool(c, f[O_NEST], "train.optimizer.nesterov", &o->nesterov))
            return -1;
        if (o->nesterov && !(o->momentum > 0))
            return VERR(c, f[O_NEST], "train.optimizer.nesterov",
                        "nesterov needs a momentum above 0 (set \"momentum\", e.g. 0.9)");
    } else {
        if (f[O_MOM])
            return VERR_KEY(c, f[O_MOM], "train.optimizer.momentum",
                            "momentum applies only to the optimizer \"sgd\" (the type is \"%s\": its momentum "
                            "is betas[0])", tn);
        if (f[O_NEST])
            return VERR_KEY(c, f[O_NEST], "train.optimizer.nesterov",
                            "nesterov applies only to the optimizer \"sgd\" (the type is \"%s\")", tn);
        o->beta1 = 0.9;
        o->beta2 = 0.999;
        o->eps = 1e-8;
        if (f[O_BETAS]) {
            const cJSON *b = f[O_BETAS];
            if (!cJSON_IsArray(b))
                return VERR(c, b, "train.optimizer.betas",
                            "expected an array of two numbers [beta1, beta2], each >= 0 and < 1, got %s", type_name(b));
            if (cJSON_GetArraySize(b) != 2)
                return VERR(c, b, "train.optimizer.betas", "expected two numbers [beta1, beta2], got %d",
                            cJSON_GetArraySize(b));
            if (get_num(c, b->child, "train.optimizer.betas[0]", 0, 1, 1, 0, &o->beta1) ||
                get_num(c, b->child->next, "train.optimizer.betas[1]", 0, 1, 1, 0, &o->beta2))
                return -1;
        }
        if (f[O_EPS] && get_num(c, f[O_EPS], "train.optimizer.eps", 0, 0, 1e6, 1, &o->eps))
            return -1;
        /* PyTorch's defaults: AdamW decays by 0.01, Adam not at all */
        if (type == DCR_OPT_ADAMW)
            o->weight_decay = 0.01;
    }
    if (f[O_WD] && get_num(c, f[O_WD], "train.optimizer.weight_decay", 0, 1, 1e6, 1, &o->weight_decay))
        return -1;
    return 0;
}

/* train.schedule: the learning rate per epoch, and the warm-up. */
static int parse_schedule(vctx *c, const cJSON *v, dc_spec *s)
{
    static const char *const keys[] = {"type", "step_epochs", "gamma", "min_lr", "warmup_steps"};
    enum { S_TYPE, S_STEP, S_GAMMA, S_MIN, S_WARM, S_N };
    static const char *const names[] = {"constant", "step", "cosine"};
    const cJSON *f[S_N];
    if (check_object(c, v, "train.schedule", keys, S_N, f))
        return -1;
    int type = DCR_SCHED_CONSTANT;
    if (f[S_TYPE] && get_enum(c, f[S_TYPE], "train.schedule.type", "schedule", names, 3, &type))
        return -1;
    const char *tn = names[type];
    const char *dflt = f[S_TYPE] ? "" : ", the default";
    dcr_optim *o = &s->train.opt;
    o->schedule = (dcr_sched_type)type;
    long long n;
    if (type == DCR_SCHED_STEP) {
        if (require(c, v, f[S_STEP], "train.schedule", "step_epochs"))
            return -1;
        if (get_int(c, f[S_STEP], "train.schedule.step_epochs", 1, DC_MAX_EPOCHS, &n))
            return -1;
        o->step_epochs = (int)n;
        o->gamma = 0.1; /* StepLR's default */
        if (f[S_GAMMA] && get_num(c, f[S_GAMMA], "train.schedule.gamma", 0, 0, 1, 1, &o->gamma))
            return -1;
    } else {
        static const int step_only[] = {S_STEP, S_GAMMA};
        for (int i = 0; i < 2; i++)
            if (f[step_only[i]]) {
                char jp[64];
                snprintf(jp, sizeof jp, "train.schedule.%s", keys[step_only[i]]);
                return VERR_KEY(c, f[step_only[i]], jp, "%s applies only to the schedule \"step\" (the type is \"%s\"%s)",
                                keys[step_only[i]], tn, dflt);
            }
    }
    if (f[S_MIN]) {
        if (type != DCR_SCHED_COSINE)
            return VERR_KEY(c, f[S_MIN], "train.schedule.min_lr",
                            "min_lr applies only to the schedule \"cosine\" (the type is \"%s\"%s)", tn, dflt);
        if (get_num(c, f[S_MIN], "train.schedule.min_lr", 0, 1, 1e6, 1, &o->min_lr))
            return -1;
    }
    if (f[S_WARM]) {
        if (get_int(c, f[S_WARM], "train.schedule.warmup_steps", 0, 1e9, &n))
            return -1;
        o->warmup_steps = (int)n;
    }
    return 0;
}

static int parse_train(vctx *c, const cJSON *v, dc_spec *s)
{
    static const char *const keys[] = {"optimizer", "batch_size", "epochs", "shuffle", "seed",
                                       "early_stopping", "clip_norm", "schedule"};
    const cJSON *f[8];
    if (check_object(c, v, "train", keys, 8, f))
        return -1;
    if (f[5] && parse_early_stopping(c, f[5], s))
        return -1;
    if (f[0] && parse_optimizer(c, f[0], s))
        return -1;
    if (f[6] && get_num(c, f[6], "train.clip_norm", 0, 0, 1e6, 1, &s->train.opt.clip_norm))
        return -1;
    if (f[7] && parse_schedule(c, f[7], s))
        return -1;
    long long n;
    if (f[1]) {
        if (get_int(c, f[1], "train.batch_size", 1, DC_MAX_BATCH, &n))
            return -1;
        s->train.batch_size = (int)n;
    }
    if (f[2]) {
        if (get_int(c, f[2], "train.epochs", 1, DC_MAX_EPOCHS, &n))
            return -1;
        s->train.epochs = (int)n;
    }
    if (f[3] && get_bool(c, f[3], "train.shuffle", &s->train.shuffle))
        return -1;
    if (f[4]) {
        if (get_int(c, f[4], "train.seed", 0, SPEC_MAX_SEED, &n))
            return -1;
        s->train.seed = (uint64_t)n;
    }
    return 0;
}

static int parse_data(vctx *c, const cJSON *v, dc_spec *s)
{
    static const char *const keys[] = {"train", "train_labels", "test", "test_labels", "format",
                                       "header", "target", "standardize", "test_fraction",
                                       "validation_fraction"};
    enum { D_TRAIN, D_TRAIN_LABELS, D_TEST, D_TEST_LABELS, D_FORMAT, D_HEADER, D_TARGET, D_STD, D_FRAC,
           D_VAL, D_N };
    const cJSON *f[D_N];
    if (check_object(c, v, "data", keys, D_N, f) || require(c, v, f[D_TRAIN], "data", "train"))
        return -1;
    s->data.present = 1;
    static const char *const formats[] = {"csv", "idx"};
    int fmt = DCR_FORMAT_CSV;
    if (f[D_FORMAT] && get_enum(c, f[D_FORMAT], "data.format", "format", formats, 2, &fmt))
        return -1;
    s->data.format = (dcr_format)fmt;
    if (fmt == DCR_FORMAT_IDX) {
        /* IDX carries its own labels: class targets, no header */
        static const int csv_only[] = {D_HEADER, D_TARGET};
        for (int i = 0; i < 2; i++)
            if (f[csv_only[i]]) {
                char jp[64];
                snprintf(jp, sizeof jp, "data.%s", keys[csv_only[i]]);
                return VERR_KEY(c, f[csv_only[i]], jp, "%s applies to CSV data only (the format is idx)",
                                keys[csv_only[i]]);
            }
        if (require(c, v, f[D_TRAIN_LABELS], "data", "train_labels"))
            return -1;
        if (f[D_TEST] && require(c, v, f[D_TEST_LABELS], "data", "test_labels"))
            return -1;
        if (f[D_TEST_LABELS] && !f[D_TEST])
            return VERR_KEY(c, f[D_TEST_LABELS], "data.test_labels", "test_labels without test images (\"test\")");
    } else {
        static const int idx_only[] = {D_TRAIN_LABELS, D_TEST_LABELS};
        for (int i = 0; i < 2; i++)
            if (f[idx_only[i]]) {
                char jp[64];
                snprintf(jp, sizeof jp, "data.%s", keys[idx_only[i]]);
                return VERR_KEY(c, f[idx_only[i]], jp, "%s applies to IDX data only (set \"format\": \"idx\")",
                                keys[idx_only[i]]);
            }
    }
    const struct {
        int key;
        char **dst;
    } paths[] = {{D_TRAIN, &s->data.train}, {D_TRAIN_LABELS, &s->data.train_labels},
                 {D_TEST, &s->data.test}, {D_TEST_LABELS, &s->data.test_labels}};
    for (int i = 0; i < 4; i++) {
        char jp[64];
        snprintf(jp, sizeof jp, "data.%s", keys[paths[i].key]);
        if (f[paths[i].key] && get_path(c, f[paths[i].key], jp, s->path, paths[i].dst))
            return -1;
    }
    if (f[D_HEADER] && get_bool(c, f[D_HEADER], "data.header", &s->data.csv.header))
        return -1;
    int n_out = s->arch.sizes[s->arch.n_layers];
    const cJSON *col = NULL;
    if (f[D_TARGET]) {
        static const char *const tkeys[] = {"column", "kind"};
        static const char *const kinds[] = {"class", "values"};
        const cJSON *t[2];
        int kind;
        if (check_object(c, f[D_TARGET], "data.target", tkeys, 2, t))
            return -1;
        if (t[1]) {
            if (get_enum(c, t[1], "data.target.kind", "target kind", kinds, 2, &kind))
                return -1;
            s->data.csv.kind = (dcr_target_kind)kind;
        }
        col = t[0];
    }
    s->data.csv.target_column = s->data.csv.kind == DCR_TARGET_CLASS ? -1 : -n_out;
    if (col) {
        long long k;
        if (get_int(c, col, "data.target.column", -DC_MAX_UNITS - 1.0, DC_MAX_UNITS + 1.0, &k))
            return -1;
        s->data.csv.target_column = (int)k;
    }
    if (s->data.csv.kind == DCR_TARGET_CLASS && n_out < 2)
        return VERR(c, f[D_TARGET] ? f[D_TARGET] : v, f[D_TARGET] ? "data.target" : "data",
                    "class targets are one-hot encoded over the output units, but the last layer has %d unit (use \"kind\": \"values\", or 2 or more output units)",
                    n_out);
    if (f[D_STD] && get_bool(c, f[D_STD], "data.standardize", &s->data.standardize))
        return -1;
    if (f[D_FRAC]) {
        if (get_num(c, f[D_FRAC], "data.test_fraction", 0, 1, 1, 0, &s->data.test_fraction))
            return -1;
        if (f[D_TEST] && s->data.test_fraction > 0)
            return VERR_KEY(c, f[D_FRAC], "data.test_fraction",
                            "give either \"test\" or \"test_fraction\", not both");
    }
    if (f[D_VAL] &&
        get_num(c, f[D_VAL], "data.validation_fraction", 0, 1, 1, 0, &s->data.validation_fraction))
        return -1;
    return 0;
}

/* The whole network must fit the limits before anything is sized by it. */
static int check_network(vctx *c, const cJSON *layers, const cJSON *loss, dc_spec *s)
{
    uint64_t params = 0;
    for (int l = 1; l <= s->arch.n_layers; l++)
        params += (uint64_t)s->arch.sizes[l] * ((uint64_t)s->arch.sizes[l - 1] + 1);
    if (params > DC_MAX_PARAMS)
        return VERR(c, layers, "layers", "the network has %llu parameters, more than the limit DC_MAX_PARAMS = %u",
                    (unsigned long long)params, (unsigned)DC_MAX_PARAMS);
    dcr_act out = s->arch.act[s->arch.n_layers];
    if (s->arch.loss == DCR_LOSS_CROSS_ENTROPY && out != DCR_ACT_SOFTMAX)
        return VERR(c, loss, "loss", "cross_entropy needs a softmax output layer, but layers[%d].activation is %s%s",
                    s->arch.n_layers - 1, dcr_act_name(out),
                    out == DCR_ACT_SIGMOID ? " (independent sigmoid outputs go with binary_cross_entropy)" : "");
    if (s->arch.loss == DCR_LOSS_BINARY_CROSS_ENTROPY && out != DCR_ACT_SIGMOID)
        return VERR(c, loss, "loss",
                    "binary_cross_entropy needs a sigmoid output layer, but layers[%d].activation is %s",
                    s->arch.n_layers - 1, dcr_act_name(out));
    if (s->arch.loss != DCR_LOSS_CROSS_ENTROPY && out == DCR_ACT_SOFTMAX)
        return VERR(c, loss, "loss", "a softmax output layer needs the loss cross_entropy, not %s",
                    dcr_loss_name(s->arch.loss));
    return 0;
}

static void set_defaults(dc_spec *s)
{
    s->arch.dtype = DCR_F32;
    s->init = (dcr_init){DCR_INIT_XAVIER_UNIFORM, 0.1, 1};
    s->train = (dcr_train_opts){.lr = 0.01, .batch_size = 1, .epochs = 10, .shuffle = 1, .seed = 1};
    s->data.csv = (dcr_csv_opts){1, -1, DCR_TARGET_CLASS};
}

static int validate(vctx *c, const cJSON *root, dc_spec *s)
{
    static const char *const keys[] = {"version", "name", "dtype", "input", "layers",
                                       "loss", "init", "train", "data"};
    enum { K_VERSION, K_NAME, K_DTYPE, K_INPUT, K_LAYERS, K_LOSS, K_INIT, K_TRAIN, K_DATA, K_N };
    const cJSON *f[K_N];
    if (check_object(c, root, "", keys, K_N, f))
        return -1;
    static const int required[] = {K_NAME, K_INPUT, K_LAYERS, K_LOSS};
    for (size_t i = 0; i < sizeof required / sizeof *required; i++)
        if (require(c, root, f[required[i]], "", keys[required[i]]))
            return -1;
    long long n;
    if (f[K_VERSION] && get_int(c, f[K_VERSION], "version", 1, 1, &n))
        return -1;
    if (parse_name(c, f[K_NAME], s))
        return -1;
    int e;
    if (f[K_DTYPE]) {
        if (get_enum(c, f[K_DTYPE], "dtype", "dtype", dtype_names, 2, &e))
            return -1;
        s->arch.dtype = (dcr_dtype)e;
    }
    if (get_int(c, f[K_INPUT], "input", 1, DC_MAX_UNITS, &n))
        return -1;
    s->arch.sizes[0] = (int)n;
    if (parse_layers(c, f[K_LAYERS], s))
        return -1;
    if (get_enum(c, f[K_LOSS], "loss", "loss", loss_names, DCR_N_LOSSES, &e))
        return -1;
    s->arch.loss = (dcr_loss)e;
    if (check_network(c, f[K_LAYERS], f[K_LOSS], s))
        return -1;
    if (f[K_INIT] && parse_init(c, f[K_INIT], s))
        return -1;
    if (f[K_TRAIN] && parse_train(c, f[K_TRAIN], s))
        return -1;
    if (f[K_DATA] && parse_data(c, f[K_DATA], s))
        return -1;
    if (s->train.patience > 0 && !(s->data.validation_fraction > 0))
        return VERR_KEY(c, cJSON_GetObjectItemCaseSensitive(f[K_TRAIN], "early_stopping"),
                        "train.early_stopping",
                        "early stopping watches the validation loss: set data.validation_fraction above 0");
    return 0;
}

static void hash(dc_spec *s, const char *text, size_t len)
{
    unsigned int n = 0;
    if (!EVP_Digest(text, len, s->sha256, &n, EVP_sha256(), NULL) || n != 32)
        DC_DIE("SHA-256 failed");
    for (int i = 0; i < 32; i++)
        snprintf(s->sha256_hex + 2 * i, 3, "%02x", s->sha256[i]);
}

/* The offset of the first \u0000 escape inside a JSON string, or -1.
 * cJSON decodes it to a NUL that silently ends the C string: a name or a
 * path would be read as its part before the escape. */
static size_t escaped_nul(const char *t, size_t len)
{
    int in_str = 0;
    for (size_t i = 0; i < len; i++) {
        if (!in_str) {
            in_str = t[i] == '"';
        } else if (t[i] == '\\') {
            if (len - i > 5 && t[i + 1] == 'u' && memcmp(t + i + 2, "0000", 4) == 0)
                return i;
            i++; /* the escaped character */
        } else if (t[i] == '"') {
            in_str = 0;
        }
    }
    return (size_t)-1;
}

int dc_spec_parse(dc_spec *out, const char *text, size_t len, const char *path, dcr_error *err)
{
    memset(out, 0, sizeof *out);
    set_defaults(out);
    out->path = strdup(path);
    if (!out->path)
        return dcr_fail(err, DCR_ERR_NOMEM, "out of memory");
    vctx c = {path, text, len, {0}, err};
    size_t skip = (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) ? 3 : 0;
    size_t i = skip;
    while (i < len && (unsigned char)text[i] <= 32 && text[i] != 0)
        i++;
    if (i == len) {
        verr_at(&c, len, "", "the file is empty (expected a JSON object)");
        goto fail;
    }
    const char *nul = memchr(text, 0, len);
    if (nul) {
        verr_at(&c, (size_t)(nul - text), "", "NUL byte in the file (expected JSON text)");
        goto fail;
    }
    size_t enul = escaped_nul(text, len);
    if (enul != (size_t)-1) {
        verr_at(&c, enul, "", "\\u0000 (a NUL character) in a string is not allowed");
        goto fail;
    }
    size_t deep = dc_json_too_deep(text, len, SPEC_MAX_DEPTH);
    if (deep != (size_t)-1) {
        verr_at(&c, deep, "", "nested deeper than %d levels", SPEC_MAX_DEPTH);
        goto fail;
    }
    /* cJSON 1.7.15 with require_null_terminated wants the terminator
     * inside the length it is given: hand it a terminated copy */
    char *z = malloc(len + 1);
    if (!z) {
        dcr_fail(err, DCR_ERR_NOMEM, "out of memory");
        goto fail;
    }
    memcpy(z, text, len);
    z[len] = 0;
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(z, len + 1, &end, 1);
    size_t off = end ? (size_t)(end - z) : 0;
    free(z);
    if (!root) {
        if (off >= len)
            verr_at(&c, len, "", "unexpected end of file (truncated JSON?)");
        else
            verr_at(&c, off, "", "invalid JSON here");
        goto fail;
    }
    if (dc_jpos_build(&c.pos, root, text, len)) {
        cJSON_Delete(root);
        dcr_fail(err, DCR_ERR_NOMEM, "out of memory");
        goto fail;
    }
    int rc = validate(&c, root, out);
    dc_jpos_free(&c.pos);
    cJSON_Delete(root);
    if (rc)
        goto fail;
    hash(out, text, len);
    return 0;
fail:
    dc_spec_free(out);
    return -1;
}

int dc_spec_load(dc_spec *out, const char *path, dcr_error *err)
{
    memset(out, 0, sizeof *out);
    /* O_NONBLOCK: opening a FIFO would otherwise wait for a writer before
     * fstat could refuse it */
    int fd = open(path, O_RDONLY | O_NONBLOCK);
    if (fd < 0)
        return dcr_fail(err, DCR_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return dcr_fail(err, DCR_ERR_IO, "%s: not a regular file", path);
    }
    FILE *f = fdopen(fd, "rb");
    if (!f) {
        int e = errno;
        close(fd);
        return dcr_fail(err, DCR_ERR_IO, "%s: cannot open: %s", path, strerror(e));
    }
    if ((uint64_t)st.st_size > DC_MAX_SPEC_BYTES) {
        fclose(f);
        return dcr_fail(err, DCR_ERR_LIMIT, "%s: %lld bytes, more than the limit DC_MAX_SPEC_BYTES = %u",
                        path, (long long)st.st_size, (unsigned)DC_MAX_SPEC_BYTES);
    }
    size_t cap = (size_t)st.st_size;
    char *text = malloc(cap + 1);
    if (!text) {
        fclose(f);
        return dcr_fail(err, DCR_ERR_NOMEM, "out of memory");
    }
    size_t len = fread(text, 1, cap, f);
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(text);
        return dcr_fail(err, DCR_ERR_IO, "%s: read error", path);
    }
    text[len] = 0;
    int rc = dc_spec_parse(out, text, len, path, err);
    free(text);
    return rc;
}

void dc_spec_job(dcr_job *out, const dc_spec *s)
{
    memset(out, 0, sizeof *out);
    out->arch = s->arch;
    out->init = s->init;
    out->train = s->train;
    out->format = s->data.format;
    out->csv = s->data.csv;
    out->standardize = s->data.standardize;
    out->test_fraction = s->data.test_fraction;
    out->validation_fraction = s->data.validation_fraction;
    memcpy(out->spec_sha256, s->sha256, sizeof out->spec_sha256);
}

void dc_spec_free(dc_spec *s)
{
    free(s->path);
    free(s->data.train);
    free(s->data.test);
    free(s->data.train_labels);
    free(s->data.test_labels);
    memset(s, 0, sizeof *s);
}
