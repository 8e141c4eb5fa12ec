/* Concurrency: four threads, each with a different shipped spec, load it,
 * emit, JIT-compile under libtcc and train, all at the same time, and each
 * checks its network against the reference engine run in the same thread:
 * the same parameters, optimizer state, step count, RNG and per-epoch losses,
 * bit for bit, in the spec's dtype and in the other one.
 *
 * The normal and ASan builds run it like every test; tests/run.sh also builds
 * it alone with ThreadSanitizer (-DDELTAC_TSAN=ON) and runs it there, which
 * is what it is for: libtcc keeps global state behind one mutex
 * (compiler/jit_tcc.c), and everything else must be free of shared state.
 *
 * A plain C program rather than a Criterion test: Criterion cannot start
 * under ThreadSanitizer ("Could not initialize inheritable arena": its
 * shared-memory arena collides with TSan's shadow memory). Each thread
 * writes its first failure into its own buffer; main reports them after
 * pthread_join and exits 1 when there is one. */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deltac.h"

#define N_THREADS 4
#define EPOCHS 2
#define ROUNDS 2 /* of both dtypes, per thread */

static const char *const spec_files[N_THREADS] = {
    DELTAC_SOURCE_DIR "/specs/xor.json",  /* float64, sgd */
    DELTAC_SOURCE_DIR "/specs/sine.json", /* float32, sgd, regression, 3 layers */
    DELTAC_SOURCE_DIR "/specs/iris.json", /* float32, sgd, softmax + cross-entropy */
    DELTAC_SOURCE_DIR "/specs/wine.json", /* float32, sgd with momentum: optimizer state */
};

typedef struct {
    const char *spec_file;
    pthread_barrier_t *start;
    int checks;     /* comparisons that held */
    char msg[1024]; /* the first failure, "" when none */
} job;

static int failf(job *j, const char *fmt, ...)
{
    if (j->msg[0])
        return -1;
    int n = snprintf(j->msg, sizeof j->msg, "%s: ", j->spec_file);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(j->msg + n, sizeof j->msg - (size_t)n, fmt, ap);
    va_end(ap);
    return -1;
}

/* the loss of every epoch, from the on_epoch hook */
typedef struct {
    double loss[EPOCHS];
    int n;
} losses;

static int record(void *user, const dcr_epoch_stats *s, const dcr_train_state *st, dcr_error *err)
{
    (void)st;
    (void)err;
    losses *l = user;
    if (l->n < EPOCHS)
        l->loss[l->n++] = s->train_loss;
    return 0;
}

/* One engine's training run from params0: parameters, state and losses out. */
typedef struct {
    void *params;
    dcr_train_state st;
    losses l;
} run_out;

static int train_with(job *j, run_out *r, const dcr_engine *e, const void *params0, size_t pbytes,
                      const dcr_dataset *train, const dc_spec *s, const char *which)
{
    dcr_error err = {0};
    size_t es = dcr_dtype_size(e->arch->dtype);
    memset(r, 0, sizeof *r);
    r->params = malloc(pbytes);
    if (!r->params)
        return failf(j, "out of memory");
    memcpy(r->params, params0, pbytes);
    dcr_train_state_init(&r->st, s->train.seed);
    if (e->n_state && !(r->st.opt_state = calloc(e->n_state, es)))
        return failf(j, "out of memory");
    dcr_train_opts o = s->train;
    o.epochs = EPOCHS;
    dcr_train_hooks h = {.on_epoch = record, .user = &r->l};
    if (dcr_train(r->params, e, train, NULL, NULL, &o, &r->st, &h, NULL, &err))
        return failf(j, "%s engine: %s", which, err.msg);
    return 0;
}

static void run_free(run_out *r)
{
    free(r->params);
    free(r->st.opt_state);
}

/* Everything for one spec in one dtype, in this thread. */
static int one_round(job *j, dcr_dtype dtype)
{
    dcr_error err = {0};
    dc_spec s;
    dc_net net;
    dc_jit *jit = NULL;
    dcr_engine jeng, reng;
    int have_jeng = 0, have_reng = 0, rc = -1;
    dcr_dataset all = {0}, train = {0}, test = {0};
    void *p0 = NULL;
    run_out a, b;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    char *src = NULL;
    size_t len;

    if (dc_spec_load(&s, j->spec_file, &err)) {
        failf(j, "%s", err.msg);
        return -1;
    }
    s.arch.dtype = dtype;
    const char *tname = dtype == DCR_F64 ? "float64" : "float32";
    if (dc_net_from_spec(&net, &s, &err) || dc_emit(&src, &len, &net, NULL, &err)) {
        failf(j, "%s: %s", tname, err.msg);
        goto out;
    }
    if (dc_jit_compile(&jit, DC_JIT_TCC, src, len, &err) || dc_jit_engine(&jeng, jit, &net, &err)) {
        failf(j, "%s: %s", tname, err.msg);
        goto out;
    }
    have_jeng = 1;
    if (dcr_ref_engine_opt(&reng, &net.arch, &net.opt, &err)) {
        failf(j, "%s: %s", tname, err.msg);
        goto out;
    }
    have_reng = 1;
    if (jeng.n_state != reng.n_state || jeng.n_state != net.n_state) {
        failf(j, "%s: n_state jit %zu, reference %zu, net %zu", tname, jeng.n_state, reng.n_state, net.n_state);
        goto out;
    }

    int n_in = net.arch.sizes[0], n_out = net.arch.sizes[net.arch.n_layers];
    if (dcr_csv_load(&all, s.data.train, &s.data.csv, n_in, n_out, &err)) {
        failf(j, "%s", err.msg);
        goto out;
    }
    if (s.data.test_fraction > 0) {
        if (dcr_dataset_split(&train, &test, &all, s.data.test_fraction, s.train.seed, &err)) {
            failf(j, "%s", err.msg);
            goto out;
        }
    } else {
        train = all;
        memset(&all, 0, sizeof all);
    }
    if (s.data.standardize)
        dcr_standardize(&train, test.n_rows ? &test : NULL);

    size_t pbytes = net.n_params * dcr_dtype_size(dtype);
    if (!(p0 = malloc(pbytes))) {
        failf(j, "out of memory");
        goto out;
    }
    dcr_init_params(p0, &net.arch, &s.init);
    if (train_with(j, &a, &jeng, p0, pbytes, &train, &s, "jit") ||
        train_with(j, &b, &reng, p0, pbytes, &train, &s, "reference"))
        goto out;

    if (memcmp(a.params, p0, pbytes) == 0) {
        failf(j, "%s: training did not change the parameters", tname);
        goto out;
    }
    if (memcmp(a.params, b.params, pbytes) != 0) {
        for (size_t i = 0; i < net.n_params; i++) {
            double x = dtype == DCR_F64 ? ((double *)a.params)[i] : ((float *)a.params)[i];
            double y = dtype == DCR_F64 ? ((double *)b.params)[i] : ((float *)b.params)[i];
            if (memcmp((char *)a.params + i * dcr_dtype_size(dtype), (char *)b.params + i * dcr_dtype_size(dtype),
                       dcr_dtype_size(dtype)) != 0) {
                failf(j, "%s: parameter %zu: jit %.17g, reference %.17g", tname, i, x, y);
                break;
            }
        }
        goto out;
    }
    if (net.n_state && memcmp(a.st.opt_state, b.st.opt_state, net.n_state * dcr_dtype_size(dtype)) != 0) {
        failf(j, "%s: the optimizer states differ", tname);
        goto out;
    }
    if (a.st.epoch != EPOCHS || b.st.epoch != EPOCHS || a.st.step != b.st.step || a.st.step < EPOCHS ||
        memcmp(&a.st.rng, &b.st.rng, sizeof a.st.rng) != 0) {
        failf(j, "%s: training states differ: epochs %llu/%llu, steps %llu/%llu", tname,
              (unsigned long long)a.st.epoch, (unsigned long long)b.st.epoch, (unsigned long long)a.st.step,
              (unsigned long long)b.st.step);
        goto out;
    }
    if (a.l.n != EPOCHS || b.l.n != EPOCHS || memcmp(a.l.loss, b.l.loss, sizeof a.l.loss) != 0) {
        failf(j, "%s: epoch losses differ: jit %.17g, reference %.17g", tname, a.l.loss[0], b.l.loss[0]);
        goto out;
    }
    j->checks++;
    rc = 0;
out:
    run_free(&a);
    run_free(&b);
    free(p0);
    free(src);
    dcr_dataset_free(&all);
    dcr_dataset_free(&train);
    dcr_dataset_free(&test);
    if (have_reng)
        dcr_ref_engine_free(&reng);
    if (have_jeng)
        dc_jit_engine_free(&jeng);
    dc_jit_free(jit);
    dc_spec_free(&s);
    return rc;
}

static void *thread_main(void *arg)
{
    job *j = arg;
    pthread_barrier_wait(j->start);
    for (int round = 0; round < ROUNDS; round++)
        if (one_round(j, DCR_F64) || one_round(j, DCR_F32))
            break;
    return NULL;
}

int main(void)
{
    pthread_barrier_t start;
    job jobs[N_THREADS];
    pthread_t t[N_THREADS];
    if (pthread_barrier_init(&start, NULL, N_THREADS) != 0) {
        fprintf(stderr, "pthread_barrier_init failed\n");
        return 1;
    }
    for (int i = 0; i < N_THREADS; i++) {
        memset(&jobs[i], 0, sizeof jobs[i]);
        jobs[i].spec_file = spec_files[i];
        jobs[i].start = &start;
        if (pthread_create(&t[i], NULL, thread_main, &jobs[i]) != 0) {
            fprintf(stderr, "pthread_create failed\n");
            return 1;
        }
    }
    for (int i = 0; i < N_THREADS; i++)
        pthread_join(t[i], NULL);
    pthread_barrier_destroy(&start);
    int failed = 0;
    for (int i = 0; i < N_THREADS; i++) {
        if (jobs[i].msg[0]) {
            fprintf(stderr, "FAIL: %s\n", jobs[i].msg);
            failed = 1;
        } else if (jobs[i].checks != 2 * ROUNDS) {
            fprintf(stderr, "FAIL: %s: %d of %d rounds checked\n", jobs[i].spec_file, jobs[i].checks, 2 * ROUNDS);
            failed = 1;
        }
    }
    printf("test_threads: %d threads x %d rounds x 2 dtypes: %s\n", N_THREADS, ROUNDS, failed ? "FAILED" : "passed");
    return failed;
}
