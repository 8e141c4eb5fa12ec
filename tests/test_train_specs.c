/* The shipped specs train to what they promise, through the whole pipeline:
 * spec -> IR -> unrolled C -> libtcc -> runtime training driver. */
#include <criterion/criterion.h>
#include <string.h>

#include "deltac.h"

typedef struct {
    dc_spec spec;
    dc_net net;
    dc_jit *jit;
    dcr_engine eng;
    dcr_dataset train, test;
    void *params;
} pipeline;

static void run(pipeline *p, const char *spec_file)
{
    dcr_error err = {0};
    memset(p, 0, sizeof *p);
    cr_assert_eq(dc_spec_load(&p->spec, spec_file, &err), 0, "%s", err.msg);
    cr_assert_eq(dc_net_from_spec(&p->net, &p->spec, &err), 0, "%s", err.msg);
    char *src;
    size_t len;
    cr_assert_eq(dc_emit(&src, &len, &p->net, NULL, &err), 0, "%s", err.msg);
    int rc = dc_jit_compile(&p->jit, DC_JIT_TCC, src, len, &err);
    free(src);
    cr_assert_eq(rc, 0, "%s", err.msg);
    cr_assert_eq(dc_jit_engine(&p->eng, p->jit, &p->net, &err), 0, "%s", err.msg);
    int n_in = p->net.arch.sizes[0], n_out = p->net.arch.sizes[p->net.arch.n_layers];
    dcr_dataset all;
    cr_assert_eq(dcr_csv_load(&all, p->spec.data.train, &p->spec.data.csv, n_in, n_out, &err), 0, "%s", err.msg);
    if (p->spec.data.test_fraction > 0) {
        cr_assert_eq(dcr_dataset_split(&p->train, &p->test, &all, p->spec.data.test_fraction, p->spec.train.seed,
                                       &err), 0, "%s", err.msg);
    } else {
        p->train = all;
    }
    if (p->spec.data.standardize)
        dcr_standardize(&p->train, p->test.n_rows ? &p->test : NULL);
    p->params = calloc(p->net.n_params, dcr_dtype_size(p->net.arch.dtype));
    dcr_init_params(p->params, &p->net.arch, &p->spec.init);
    cr_assert_eq(dcr_train(p->params, &p->eng, &p->train, NULL, p->test.n_rows ? &p->test : NULL,
                           &p->spec.train, NULL, NULL, NULL, &err), 0, "%s", err.msg);
}

static void drop(pipeline *p)
{
    free(p->params);
    dcr_dataset_free(&p->train);
    dcr_dataset_free(&p->test);
    dc_jit_engine_free(&p->eng);
    dc_jit_free(p->jit);
    dc_spec_free(&p->spec);
}

Test(specs, xor_learns_all_four_rows)
{
    pipeline p;
    run(&p, DELTAC_SOURCE_DIR "/specs/xor.json");
    cr_assert_eq(p.train.n_rows, 4);
    for (size_t i = 0; i < 4; i++) {
        double out;
        p.eng.forward(p.eng.self, &out, p.params, p.train.x + 2 * i);
        double want = p.train.y[i];
        cr_expect(want > 0.5 ? out > 0.5 : out < 0.5, "xor(%g, %g) = %g, want %g", p.train.x[2 * i],
                  p.train.x[2 * i + 1], out, want);
    }
    drop(&p);
}

/* The real data sets reach the accuracies of issue 4 (at or above the
 * reference in shared/data/README.md) on their seeded 80/20 splits. */
static void expect_accuracy(const char *spec, size_t test_rows, double want)
{
    pipeline p;
    run(&p, spec);
    cr_assert_eq(p.test.n_rows, test_rows, "%s: the 80/20 split", spec);
    double loss, acc;
    dcr_error err = {0};
    cr_assert_eq(dcr_evaluate(&loss, &acc, &p.eng, p.params, &p.test, &err), 0, "%s", err.msg);
    cr_expect_geq(acc, want, "%s: test accuracy %.4f < %.4f", spec, acc, want);
    drop(&p);
}

Test(specs, iris_reaches_96_percent)
{
    expect_accuracy(DELTAC_SOURCE_DIR "/specs/iris.json", 30, 0.96);
}

Test(specs, wine_reaches_97_percent)
{
    expect_accuracy(DELTAC_SOURCE_DIR "/specs/wine.json", 36, 0.97);
}

Test(specs, breast_cancer_reaches_97_percent)
{
    expect_accuracy(DELTAC_SOURCE_DIR "/specs/breast_cancer.json", 114, 0.97);
}

Test(specs, digits_reaches_97_5_percent)
{
    expect_accuracy(DELTAC_SOURCE_DIR "/specs/digits.json", 359, 0.975);
}

Test(specs, sine_fits)
{
    pipeline p;
    run(&p, DELTAC_SOURCE_DIR "/specs/sine.json");
    double loss, acc;
    dcr_error err = {0};
    cr_assert_eq(dcr_evaluate(&loss, &acc, &p.eng, p.params, &p.test, &err), 0, "%s", err.msg);
    cr_expect_lt(loss, 0.005, "sine test loss %g (1/2 squared error)", loss);
    drop(&p);
}
