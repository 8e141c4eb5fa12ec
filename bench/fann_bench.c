/* bench/fann_bench.c: the FANN peer of the deltac benchmark.
 *
 *   fann_bench DIR [REPEAT]
 *
 * DIR is what `deltac bench SPEC --save-inputs DIR` writes: meta.json, X.npy,
 * Y.npy, the initial parameters W1.npy b1.npy ... (W[out][in], b[out], the
 * layout of torch.nn.Linear) and ref/W1.npy ... (deltac's reference engine's
 * parameters after the run). Builds the same network in FANN (float library),
 * copies the initial parameters in, takes the same steps on the same rows
 * (step s uses rows (s*B + i) mod n, i = 0..B-1), REPEAT times after one
 * warm-up run, each from the initial parameters, and prints one JSON line:
 *
 *   {"engine":"fann", "mode":..., "exact":..., "ns_per_step_min":...,
 *    "ns_per_step_median":..., "max_abs_diff":..., ...}
 *
 * What maps exactly onto FANN 2.2 (exact = true, max_abs_diff reported):
 *   tanh      -> FANN_SIGMOID_SYMMETRIC, steepness 1 (tanh z, derivative 1 - a^2
 *                with a clipped to +-0.98 inside fann_activation_derived)
 *   identity  -> FANN_LINEAR, steepness 1
 *   sigmoid   -> FANN_SIGMOID, steepness 0.5 (1/(1+e^-z); a clipped to [0.01, 0.99]
 *                in the derivative)
 *   loss mse  -> FANN_ERRORFUNC_LINEAR (E = 1/2 sum (y - t)^2 per sample)
 *   sgd, momentum 0, weight decay 0, constant rate
 *   batch 1   -> FANN_TRAIN_INCREMENTAL, fann_train per row
 *   batch B   -> FANN_TRAIN_BATCH, fann_train_epoch over the step's B rows
 *                (FANN's batch step is w += (lr / B) * sum of slopes: minibatch SGD)
 * Anything else runs FANN's nearest equivalent for timing only (exact = false,
 * max_abs_diff null, the substitutions listed in "note"):
 *   relu -> FANN_LINEAR_PIECE (FANN 2.2 has no ReLU; that one clips to [0, 1]),
 *   softmax + cross_entropy -> FANN_SIGMOID outputs with the squared error,
 *   adam / momentum / weight decay -> plain gradient descent with the same rate.
 *
 * FANN stores, for each non-bias neuron in layer order, its incoming weights
 * from every neuron of the previous layer and then from that layer's bias
 * neuron (the last neuron of every layer, value 1): weight c of neuron k is
 * W[k][c] for c < n_in and b[k] for c = n_in. This program does not assume
 * that: it reads the connection list (fann_get_connection_array), maps every
 * connection to its W or b entry, and fails if any parameter is missing or
 * doubled. For networks of up to 20,000 connections it also loads the
 * parameters once through fann_set_weight_array (quadratic in the
 * connections in FANN 2.2) and checks that the result is the same as writing
 * ann->weights directly, which is what every repeat does.
 */
#define _POSIX_C_SOURCE 200809L
#include <floatfann.h>

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "npy.h"

#define MAXL 33

static void die(const char *msg, const char *arg)
{
    fprintf(stderr, "fann_bench: %s%s%s\n", msg, arg ? ": " : "", arg ? arg : "");
    exit(1);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        die("cannot open", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    if (!s || fread(s, 1, (size_t)n, f) != (size_t)n)
        die("cannot read", path);
    s[n] = 0;
    fclose(f);
    return s;
}

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double num(const cJSON *o, const char *k1, const char *k2, double dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k1);
    if (!cJSON_IsNumber(v) && k2)
        v = cJSON_GetObjectItemCaseSensitive(o, k2);
    return cJSON_IsNumber(v) ? v->valuedouble : dflt;
}

static const char *str(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : "";
}

/* Appends to the note, separated by "; ". */
static void add_note(char *note, size_t cap, const char *what)
{
    if (strstr(note, what))
        return;
    size_t n = strlen(note);
    snprintf(note + n, cap - n, "%s%s", n ? "; " : "", what);
}

static void load(const char *dir, const char *name, npy_f32 *a)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (npy_read_f32(path, a) != 0)
        exit(1);
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3 || argv[1][0] == '-') {
        fprintf(stderr, "usage: fann_bench DIR [REPEAT]\n");
        return 2;
    }
    const char *dir = argv[1];
    int repeat = argc > 2 ? atoi(argv[2]) : 5;
    if (repeat < 1)
        repeat = 1;

    /* ---- meta.json */
    char path[4096];
    snprintf(path, sizeof path, "%s/meta.json", dir);
    char *text = slurp(path);
    cJSON *meta = cJSON_Parse(text);
    if (!meta)
        die("not JSON", path);
    const cJSON *jsizes = cJSON_GetObjectItemCaseSensitive(meta, "sizes");
    const cJSON *jacts = cJSON_GetObjectItemCaseSensitive(meta, "activations");
    const cJSON *jopt = cJSON_GetObjectItemCaseSensitive(meta, "optimizer");
    int nl = cJSON_GetArraySize(jsizes); /* layers including the input */
    if (!cJSON_IsArray(jsizes) || nl < 2 || nl > MAXL || !cJSON_IsArray(jacts) ||
        cJSON_GetArraySize(jacts) != nl - 1 || !cJSON_IsObject(jopt))
        die("meta.json needs sizes, activations (one per layer after the input) and optimizer",
            path);
    unsigned int sizes[MAXL];
    for (int l = 0; l < nl; l++)
        sizes[l] = (unsigned int)cJSON_GetArrayItem(jsizes, l)->valuedouble;
    const char *loss = str(meta, "loss");
    const char *opt = str(jopt, "type");
    double lr = num(jopt, "lr", "learning_rate", -1);
    double momentum = num(jopt, "momentum", NULL, 0);
    double wd = num(jopt, "weight_decay", NULL, 0);
    long steps = (long)num(meta, "steps", NULL, -1);
    long batch = (long)num(meta, "batch", NULL, -1);
    if (lr <= 0 || steps < 1 || batch < 1)
        die("meta.json needs optimizer.lr > 0, steps >= 1, batch >= 1", path);
    if (strcmp(str(meta, "dtype"), "float32") != 0 && str(meta, "dtype")[0])
        fprintf(stderr, "fann_bench: note: dtype %s, FANN computes in float32\n",
                str(meta, "dtype"));

    /* ---- the network, and what maps exactly */
    char note[1024] = "";
    int exact = 1;
    struct fann *ann = fann_create_standard_array((unsigned int)nl, sizes);
    if (!ann)
        die("fann_create_standard_array failed", NULL);
    for (int l = 1; l < nl; l++) {
        const char *a = cJSON_GetArrayItem(jacts, l - 1)->valuestring;
        if (!a)
            die("activations must be strings", path);
        enum fann_activationfunc_enum f;
        fann_type steep = 1.0f;
        int last = l == nl - 1;
        if (strcmp(a, "tanh") == 0) {
            f = FANN_SIGMOID_SYMMETRIC;
        } else if (strcmp(a, "identity") == 0) {
            f = FANN_LINEAR;
        } else if (strcmp(a, "sigmoid") == 0) {
            f = FANN_SIGMOID;
            steep = 0.5f;
        } else if (strcmp(a, "relu") == 0) {
            f = FANN_LINEAR_PIECE;
            exact = 0;
            add_note(note, sizeof note, "relu -> FANN_LINEAR_PIECE (FANN 2.2 has no ReLU)");
        } else if (strcmp(a, "softmax") == 0 && last) {
            f = FANN_SIGMOID;
            steep = 0.5f;
            exact = 0;
            add_note(note, sizeof note, "softmax -> FANN_SIGMOID outputs (FANN has no softmax)");
        } else {
            f = FANN_SIGMOID_SYMMETRIC;
            exact = 0;
            char m[128];
            snprintf(m, sizeof m, "%s -> FANN_SIGMOID_SYMMETRIC", a);
            add_note(note, sizeof note, m);
        }
        fann_set_activation_function_layer(ann, f, l);
        fann_set_activation_steepness_layer(ann, steep, l);
    }
    if (strcmp(loss, "mse") != 0) {
        exact = 0;
        char m[128];
        snprintf(m, sizeof m, "loss %s -> squared error (FANN has no cross-entropy)", loss);
        add_note(note, sizeof note, m);
    }
    if (strcmp(opt, "sgd") != 0 || momentum != 0 || wd != 0) {
        exact = 0;
        char m[160];
        snprintf(m, sizeof m,
                 "optimizer %s%s -> plain gradient descent, rate %g (FANN has no Adam; "
                 "its default RPROP not used)",
                 opt, (momentum != 0 || wd != 0) ? " with momentum/decay" : "", lr);
        add_note(note, sizeof note, m);
    }
    fann_set_train_error_function(ann, FANN_ERRORFUNC_LINEAR);
    fann_set_learning_rate(ann, (float)lr);
    fann_set_learning_momentum(ann, 0.0f);
    fann_set_training_algorithm(ann, batch == 1 ? FANN_TRAIN_INCREMENTAL : FANN_TRAIN_BATCH);

    /* ---- data */
    npy_f32 X, Y;
    load(dir, "X.npy", &X);
    load(dir, "Y.npy", &Y);
    if (X.ndim != 2 || Y.ndim != 2 || X.shape[1] != sizes[0] || Y.shape[1] != sizes[nl - 1] ||
        X.shape[0] != Y.shape[0] || X.shape[0] == 0)
        die("X.npy / Y.npy do not fit the network", dir);
    size_t n = X.shape[0];
    if ((size_t)batch > n)
        die("batch larger than the data", dir);

    /* ---- parameters: connection c -> index into the flat deltac layout */
    unsigned int nc = fann_get_total_connections(ann);
    size_t np = 0, off[MAXL], woff[MAXL];
    for (int l = 1; l < nl; l++) {
        woff[l] = np;
        np += (size_t)sizes[l] * sizes[l - 1];
        off[l] = np; /* b(l) */
        np += sizes[l];
    }
    if (np != nc)
        die("FANN's connection count differs from the parameter count", NULL);
    struct fann_connection *con = malloc(nc * sizeof *con);
    size_t *map = malloc(nc * sizeof *map);
    unsigned char *seen = calloc(np, 1);
    if (!con || !map || !seen)
        die("out of memory", NULL);
    fann_get_connection_array(ann, con);
    unsigned int first[MAXL]; /* FANN's number of the first neuron of each layer */
    first[0] = 0;
    for (int l = 1; l < nl; l++)
        first[l] = first[l - 1] + sizes[l - 1] + 1; /* + the bias neuron */
    int in_order = 1;
    for (unsigned int c = 0; c < nc; c++) {
        unsigned int to = con[c].to_neuron, from = con[c].from_neuron;
        int l = 0;
        for (int k = 1; k < nl; k++)
            if (to >= first[k] && to < first[k] + sizes[k])
                l = k;
        if (l == 0 || from < first[l - 1] || from > first[l - 1] + sizes[l - 1])
            die("unexpected FANN connection", NULL);
        size_t k = to - first[l], j = from - first[l - 1];
        size_t idx = j == sizes[l - 1] ? off[l] + k : woff[l] + k * sizes[l - 1] + j;
        if (seen[idx]++)
            die("two FANN connections map to one parameter", NULL);
        map[c] = idx;
        /* the expected order: per neuron, W[k][0..in-1] then b[k] */
        if (c > 0 && !(to > con[c - 1].to_neuron ||
                       (to == con[c - 1].to_neuron && from == con[c - 1].from_neuron + 1)))
            in_order = 0;
    }
    float *p0 = malloc(np * sizeof *p0), *ref = malloc(np * sizeof *ref);
    fann_type *w0 = malloc(nc * sizeof *w0);
    if (!p0 || !ref || !w0)
        die("out of memory", NULL);
    int have_ref = 1;
    for (int l = 1; l < nl; l++) {
        for (int r = 0; r < 2; r++) {
            char name[64];
            npy_f32 a;
            snprintf(name, sizeof name, "%s/%s%d.npy", r ? "ref" : ".", "W", l);
            snprintf(path, sizeof path, "%s/%s", dir, name);
            if (r && access(path, R_OK) != 0) { /* no reference: no difference */
                have_ref = 0;
                continue;
            }
            load(dir, name, &a);
            if (a.count != (size_t)sizes[l] * sizes[l - 1])
                die("wrong shape", path);
            memcpy((r ? ref : p0) + woff[l], a.data, a.count * sizeof(float));
            npy_free(&a);
            snprintf(name, sizeof name, "%s/%s%d.npy", r ? "ref" : ".", "b", l);
            load(dir, name, &a);
            if (a.count != sizes[l])
                die("wrong shape", name);
            memcpy((r ? ref : p0) + off[l], a.data, a.count * sizeof(float));
            npy_free(&a);
        }
    }
    for (unsigned int c = 0; c < nc; c++)
        w0[c] = p0[map[c]];
    if (nc <= 20000) { /* cross-check the direct copy against FANN's own setter */
        for (unsigned int c = 0; c < nc; c++)
            con[c].weight = w0[c];
        fann_set_weight_array(ann, con, nc);
        if (memcmp(ann->weights, w0, nc * sizeof *w0) != 0)
            die("fann_set_weight_array disagrees with the connection map", NULL);
    }

    /* ---- the rows of every step */
    fann_type **rin = malloc((size_t)steps * (size_t)batch * sizeof *rin);
    fann_type **rout = malloc((size_t)steps * (size_t)batch * sizeof *rout);
    if (!rin || !rout)
        die("out of memory", NULL);
    for (long s = 0; s < steps; s++)
        for (long i = 0; i < batch; i++) {
            size_t row = ((size_t)s * (size_t)batch + (size_t)i) % n;
            rin[s * batch + i] = X.data + row * sizes[0];
            rout[s * batch + i] = Y.data + row * sizes[nl - 1];
        }
    struct fann_train_data td;
    memset(&td, 0, sizeof td);
    td.num_data = (unsigned int)batch;
    td.num_input = sizes[0];
    td.num_output = sizes[nl - 1];

    /* ---- warm-up (counting FANN's derivative clips) and timed repeats */
    double *t = malloc((size_t)repeat * sizeof *t);
    long long clips = 0, hidden_values = 0;
    for (int r = -1; r < repeat; r++) {
        memcpy(ann->weights, w0, nc * sizeof *w0);
        if (ann->prev_weights_deltas)
            memset(ann->prev_weights_deltas, 0, nc * sizeof(fann_type));
        if (ann->train_slopes)
            memset(ann->train_slopes, 0, nc * sizeof(fann_type));
        double t0 = now_ns();
        if (batch == 1) {
            for (long s = 0; s < steps; s++) {
                fann_train(ann, rin[s], rout[s]);
                if (r < 0) { /* warm-up: hidden tanh outputs beyond +-0.98 */
                    for (struct fann_layer *L = ann->first_layer + 1; L < ann->last_layer - 1;
                         L++)
                        for (struct fann_neuron *u = L->first_neuron; u < L->last_neuron - 1;
                             u++) {
                            if (u->activation_function == FANN_SIGMOID_SYMMETRIC &&
                                fabsf(u->value) > 0.98f)
                                clips++;
                            hidden_values++;
                        }
                }
            }
        } else {
            for (long s = 0; s < steps; s++) {
                td.input = rin + s * batch;
                td.output = rout + s * batch;
                fann_train_epoch(ann, &td);
            }
        }
        double t1 = now_ns();
        if (r >= 0)
            t[r] = (t1 - t0) / (double)steps;
    }
    qsort(t, (size_t)repeat, sizeof *t, cmp_double);
    double tmin = t[0];
    double tmed = repeat % 2 ? t[repeat / 2] : 0.5 * (t[repeat / 2 - 1] + t[repeat / 2]);

    /* ---- difference from deltac's reference engine */
    double diff = 0, rel = 0;
    int finite = 1;
    for (unsigned int c = 0; c < nc; c++) {
        double w = ann->weights[c];
        if (!isfinite(w))
            finite = 0;
        double d = fabs(w - (double)ref[map[c]]);
        if (d > diff)
            diff = d;
        double m = fabs((double)ref[map[c]]);
        if (m > 1e-3 && d / m > rel)
            rel = d / m;
    }

    printf("{\"engine\":\"fann\",\"mode\":\"%s\",\"exact\":%s,\"steps\":%ld,\"batch\":%ld,"
           "\"repeat\":%d,\"samples\":%zu,\"n_params\":%zu,\"connection_order\":\"%s\","
           "\"ns_per_step_min\":%.1f,\"ns_per_step_median\":%.1f,\"steps_per_s\":%.1f,",
           batch == 1 ? "incremental" : "batch", exact ? "true" : "false", steps, batch, repeat,
           n, np, in_order ? "per neuron: W[k][0..in-1], b[k]" : "other (mapped)", tmin, tmed,
           1e9 / tmin);
    if (exact && have_ref && finite)
        printf("\"max_abs_diff\":%.3g,\"max_rel_diff\":%.3g,", diff, rel);
    else
        printf("\"max_abs_diff\":null,");
    if (batch == 1)
        printf("\"tanh_clips\":%lld,\"tanh_values\":%lld,", clips, hidden_values);
    printf("\"note\":\"%s\"}\n", note);

    fann_destroy(ann);
    cJSON_Delete(meta);
    free(text);
    free(con);
    free(map);
    free(seen);
    free(p0);
    free(ref);
    free(w0);
    free(rin);
    free(rout);
    free(t);
    npy_free(&X);
    npy_free(&Y);
    return 0;
}
