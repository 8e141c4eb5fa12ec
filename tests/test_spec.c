/* Spec validation: every class of error names FILE:LINE:COL and the JSON
 * path, and valid specs come through with their defaults. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "deltac.h"

#define REST ", \"input\": 4, " GOOD_LAYERS ", \"loss\": \"cross_entropy\"}"
#define GOOD_LAYERS "\"layers\": [{\"units\": 3, \"activation\": \"tanh\"}, {\"units\": 2, \"activation\": \"softmax\"}]"

/* Parses text; expects failure with want as a substring of the message. */
static void expect_error(const char *text, const char *want)
{
    dc_spec s;
    dcr_error err = {0};
    int rc = dc_spec_parse(&s, text, strlen(text), "t.json", &err);
    cr_assert_eq(rc, -1, "accepted:\n%s", text);
    cr_expect(strstr(err.msg, want) != NULL, "message\n  %s\ndoes not contain\n  %s", err.msg, want);
    cr_expect_eq(err.status, DCR_ERR_SPEC, "status %d for: %s", err.status, err.msg);
    dc_spec_free(&s);
}

Test(spec, valid_minimal_gets_defaults)
{
    const char *t = "{\"name\": \"n1\", \"input\": 4, " GOOD_LAYERS ", \"loss\": \"cross_entropy\"}";
    dc_spec s;
    dcr_error err = {0};
    cr_assert_eq(dc_spec_parse(&s, t, strlen(t), "dir/t.json", &err), 0, "%s", err.msg);
    cr_expect_str_eq(s.name, "n1");
    cr_expect_eq(s.arch.dtype, DCR_F32);
    cr_expect_eq(s.arch.n_layers, 2);
    cr_expect_eq(s.arch.sizes[0], 4);
    cr_expect_eq(s.arch.sizes[1], 3);
    cr_expect_eq(s.arch.act[2], DCR_ACT_SOFTMAX);
    cr_expect_eq(s.arch.loss, DCR_LOSS_CROSS_ENTROPY);
    cr_expect_eq(s.init.scheme, DCR_INIT_XAVIER_UNIFORM);
    cr_expect_eq(s.train.batch_size, 1);
    cr_expect_eq(s.data.present, 0);
    cr_expect_eq(strlen(s.sha256_hex), 64);
    dc_spec_free(&s);
}

Test(spec, data_paths_are_relative_to_the_spec)
{
    const char *t = "{\"name\": \"n\", \"input\": 4, " GOOD_LAYERS ", \"loss\": \"cross_entropy\","
                    "\"data\": {\"train\": \"a.csv\", \"test\": \"/abs/b.csv\"}}";
    dc_spec s;
    dcr_error err = {0};
    cr_assert_eq(dc_spec_parse(&s, t, strlen(t), "some/dir/t.json", &err), 0, "%s", err.msg);
    cr_expect_str_eq(s.data.train, "some/dir/a.csv");
    cr_expect_str_eq(s.data.test, "/abs/b.csv");
    dc_spec_free(&s);
}

Test(spec, sha256_of_the_bytes)
{
    const char *a = "{\"name\": \"n\", \"input\": 4, " GOOD_LAYERS ", \"loss\": \"cross_entropy\"}";
    const char *b = "{\"name\": \"n\",  \"input\": 4, " GOOD_LAYERS ", \"loss\": \"cross_entropy\"}";
    dc_spec s1, s2;
    dcr_error err = {0};
    cr_assert_eq(dc_spec_parse(&s1, a, strlen(a), "t.json", &err), 0);
    cr_assert_eq(dc_spec_parse(&s2, b, strlen(b), "t.json", &err), 0);
    cr_expect_neq(memcmp(s1.sha256, s2.sha256, 32), 0);
    dc_spec_free(&s1);
    dc_spec_free(&s2);
}

Test(spec, syntax)
{
    expect_error("", "t.json:1:1: $: the file is empty");
    expect_error("  \n ", "t.json:2:2: $: the file is empty");
    expect_error("{\"name\": \"n\",\n \"input\": 4", "t.json:2:12: $: unexpected end of file");
    expect_error("{\"name\": \"n\",\n \"input\": 4x}", "t.json:2:12: $: invalid JSON");
    expect_error("{\"a\": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}",
                 "nested deeper than 64 levels");
    expect_error("[1, 2]", "t.json:1:1: $: expected an object, got an array");
    expect_error("{} {}", "t.json:1:4: $: invalid JSON");
}

Test(spec, keys)
{
    expect_error("{\"name\": \"n\", \"input\": 4, " GOOD_LAYERS ",\n  \"los\": \"mse\"}",
                 "t.json:2:3: los: unknown key \"los\" (did you mean \"loss\"?)");
    expect_error("{\"name\": \"n\", \"Input\": 4}",
                 "t.json:1:15: Input: unknown key \"Input\" (keys are case-sensitive: did you mean \"input\"?)");
    expect_error("{\"name\": \"n\", \"name\": \"m\"}",
                 "t.json:1:15: name: duplicate key \"name\" (first given at 1:2)");
    expect_error("{\"name\": \"n\", \"input\": 4, " GOOD_LAYERS "}", "t.json:1:1: $: missing required key \"loss\"");
    expect_error("{\"name\": \"n\", \"input\": 4, \"layers\": [{\"units\": 3, \"activaton\": \"tanh\"}], \"loss\": \"mse\"}",
                 "layers[0].activaton: unknown key \"activaton\" (did you mean \"activation\"?)");
    expect_error("{\"name\": \"n\", \"input\": 4, " GOOD_LAYERS ", \"loss\": \"cross_entropy\", \"train\": {\"epochs\": 2, \"epochs\": 3}}",
                 "train.epochs: duplicate key");
    expect_error("{\"name\": \"n\", \"zzzzzz\": 1}", "zzzzzz: unknown key \"zzzzzz\" (expected one of: version, name,");
}

Test(spec, numbers)
{
    expect_error("{\"name\": \"n\", \"input\": 4, \"layers\": [{\"units\": 0, \"activation\": \"tanh\"}], \"loss\": \"mse\"}",
                 "t.json:1:48: layers[0].units: 0 is out of range (expected an integer from 1 to 65536)");
    expect_error("{\"name\": \"n\", \"input\": 4, \"layers\": [{\"units\": 3.5, \"activation\": \"tanh\"}], \"loss\": \"mse\"}",
                 "t.json:1:48: layers[0].units: 3.5 is not an integer");
    expect_error("{\"name\": \"n\", \"input\": -2, " GOOD_LAYERS ", \"loss\": \"cross_entropy\"}",
                 "t.json:1:24: input: -2 is out of range");
    expect_error("{\"name\": \"n\", \"input\": 1e999, " GOOD_LAYERS ", \"loss\": \"cross_entropy\"}",
                 "input: number out of range");
    expect_error("{\"name\": \"n\", \"input\": \"4\", " GOOD_LAYERS ", \"loss\": \"cross_entropy\"}",
                 "input: expected an integer from 1 to 65536, got a string");
    expect_error("{\"name\": \"n\", \"input\": 4, " GOOD_LAYERS ", \"loss\": \"cross_entropy\", \"train\": {\"optimizer\": {\"learning_rate\": 0}}}",
                 "train.optimizer.learning_rate: 0 is out of range (expected a number > 0");
    expect_error("{\"name\": \"n\", \"input\": 4, " GOOD_LAYERS ", \"loss\": \"cross_entropy\", \"train\": {\"batch_size\": true}}",
                 "train.batch_size: expected an integer from 1 to 1000000, got a boolean");
    expect_error("{\"name\": \"n\", \"input\": 4, " GOOD_LAYERS ", \"loss\": \"cross_entropy\", \"data\": {\"train\": \"a\", \"test_fraction\": 1}}",
                 "data.test_fraction: 1 is out of range");
}

Test(spec, enums_and_names)
{
    expect_error("{\"name\": \"n\", \"input\": 4, \"layers\": [{\"units\": 3, \"activation\": \"tanhh\"}], \"loss\": \"mse\"}",
                 "layers[0].activation: unknown activation \"tanhh\" (expected one of: identity, sigmoid, tanh, relu, softmax, leaky_relu, elu, softplus, gelu; did you mean \"tanh\"?)");
    expect_error("{\"name\": \"n\", \"input\": 4, " GOOD_LAYERS ", \"loss\": \"hinge\"}", "loss: unknown loss \"hinge\"");
    expect_error("{\"name\": \"n\", \"dtype\": \"float16\"" REST, "dtype: unknown dtype \"float16\"");
    expect_error("{\"name\": \"N\"" REST, "t.json:1:10: name: \"N\" is not a valid name");
    expect_error("{\"name\": \"a;b\"" REST, "name: \"a;b\" is not a valid name");
    expect_error("{\"name\": \"x*/int main(){}/*\"" REST, "is not a valid name");
    expect_error("{\"name\": \"abcdefghijabcdefghijabcdefghijabc\"" REST, "is not a valid name");
    expect_error("{\"name\": 5" REST, "name: expected an identifier");
    expect_error("{\"name\": \"n\", \"input\": 4, " GOOD_LAYERS ", \"loss\": \"cross_entropy\", \"train\": {\"optimizer\": {\"type\": \"adagrad\"}}}",
                 "train.optimizer.type: unknown optimizer \"adagrad\"");
}

Test(spec, structure)
{
    expect_error("{\"name\": \"n\", \"input\": 4, \"layers\": [{\"units\": 3, \"activation\": \"softmax\"}, {\"units\": 2, \"activation\": \"tanh\"}], \"loss\": \"mse\"}",
                 "layers[0].activation: softmax is only allowed on the last layer");
    expect_error("{\"name\": \"n\", \"input\": 4, \"layers\": [{\"units\": 3, \"activation\": \"tanh\"}], \"loss\": \"cross_entropy\"}",
                 "loss: cross_entropy needs a softmax output layer, but layers[0].activation is tanh");
    expect_error("{\"name\": \"n\", \"input\": 4, " GOOD_LAYERS ", \"loss\": \"mse\"}",
                 "loss: a softmax output layer needs the loss cross_entropy");
    expect_error("{\"name\": \"n\", \"input\": 4, \"layers\": [], \"loss\": \"mse\"}", "layers: no layers");
    expect_error("{\"name\": \"n\", \"input\": 4, \"layers\": {}, \"loss\": \"mse\"}", "layers: expected an array");
    expect_error("{\"name\": \"n\", \"input\": 4, \"layers\": [3], \"loss\": \"mse\"}", "layers[0]: expected an object, got a number");
    expect_error("{\"name\": \"n\", \"input\": 65536, \"layers\": [{\"units\": 65536, \"activation\": \"tanh\"}], \"loss\": \"mse\"}",
                 "layers: the network has 4295032832 parameters, more than the limit DC_MAX_PARAMS = 2000000");
    expect_error("{\"name\": \"n\", \"input\": 4, \"layers\": [{\"units\": 1, \"activation\": \"tanh\"}], \"loss\": \"mse\", \"data\": {\"train\": \"a\"}}",
                 "data: class targets are one-hot encoded");
    expect_error("{\"name\": \"n\", \"input\": 4, " GOOD_LAYERS ", \"loss\": \"cross_entropy\", \"data\": {\"test\": \"a\"}}",
                 "data: missing required key \"train\"");
    expect_error("{\"name\": \"n\", \"input\": 4, " GOOD_LAYERS ", \"loss\": \"cross_entropy\", \"data\": {\"train\": \"a\", \"test\": \"b\", \"test_fraction\": 0.2}}",
                 "data.test_fraction: give either \"test\" or \"test_fraction\", not both");
    expect_error("{\"name\": \"n\", \"input\": 4, " GOOD_LAYERS ", \"loss\": \"cross_entropy\", \"init\": {\"scheme\": \"he_uniform\", \"range\": 1}}",
                 "init.range: range applies only to the scheme \"uniform\"");
    expect_error("{\"name\": \"n\", \"input\": 4, " GOOD_LAYERS ", \"loss\": \"cross_entropy\", \"data\": {\"train\": \"\"}}",
                 "data.train: empty path");
}

Test(spec, too_many_layers)
{
    char t[8192];
    int o = snprintf(t, sizeof t, "{\"name\": \"n\", \"input\": 4, \"layers\": [");
    for (int i = 0; i < DCR_MAX_LAYERS + 1; i++)
        o += snprintf(t + o, sizeof t - (size_t)o, "%s{\"units\": 2, \"activation\": \"tanh\"}", i ? "," : "");
    snprintf(t + o, sizeof t - (size_t)o, "], \"loss\": \"mse\"}");
    expect_error(t, "layers: 33 layers, more than the limit DCR_MAX_LAYERS = 32");
}

Test(spec, load_reports_missing_and_oversized_files)
{
    dc_spec s;
    dcr_error err = {0};
    cr_assert_eq(dc_spec_load(&s, "/nonexistent/x.json", &err), -1);
    cr_expect(strstr(err.msg, "/nonexistent/x.json: cannot open") != NULL, "%s", err.msg);
    cr_assert_eq(dc_spec_load(&s, "/tmp", &err), -1);
    cr_expect(strstr(err.msg, "not a regular file") != NULL, "%s", err.msg);
}

Test(spec, validation_fraction_and_early_stopping)
{
    const char *t = "{\"name\": \"n\", \"input\": 4, " GOOD_LAYERS ", \"loss\": \"cross_entropy\","
                    "\"train\": {\"early_stopping\": {\"patience\": 5, \"min_delta\": 0.001}},"
                    "\"data\": {\"train\": \"a.csv\", \"test_fraction\": 0.2, \"validation_fraction\": 0.25}}";
    dc_spec s;
    dcr_error err = {0};
    cr_assert_eq(dc_spec_parse(&s, t, strlen(t), "t.json", &err), 0, "%s", err.msg);
    cr_expect_eq(s.train.patience, 5);
    cr_expect_eq(s.train.min_delta, 0.001);
    cr_expect_eq(s.data.validation_fraction, 0.25);
    dcr_job job;
    dc_spec_job(&job, &s);
    cr_expect_eq(job.validation_fraction, 0.25);
    cr_expect_eq(job.train.patience, 5);
    cr_expect_eq(job.train.min_delta, 0.001);
    dc_spec_free(&s);

    /* defaults: none held out, no early stopping; min_delta 0 */
    const char *u = "{\"name\": \"n\", \"input\": 4, " GOOD_LAYERS ", \"loss\": \"cross_entropy\","
                    "\"train\": {\"early_stopping\": {\"patience\": 1}},"
                    "\"data\": {\"train\": \"a.csv\", \"test\": \"b.csv\", \"validation_fraction\": 0.1}}";
    cr_assert_eq(dc_spec_parse(&s, u, strlen(u), "t.json", &err), 0, "%s", err.msg);
    cr_expect_eq(s.train.patience, 1);
    cr_expect_eq(s.train.min_delta, 0);
    dc_spec_free(&s);
    const char *v = "{\"name\": \"n\", \"input\": 4, " GOOD_LAYERS ", \"loss\": \"cross_entropy\"}";
    cr_assert_eq(dc_spec_parse(&s, v, strlen(v), "t.json", &err), 0, "%s", err.msg);
    cr_expect_eq(s.train.patience, 0);
    cr_expect_eq(s.data.validation_fraction, 0);
    dc_spec_free(&s);

#define ES_SPEC(train, data) \
    "{\"name\": \"n\", \"input\": 4, " GOOD_LAYERS ", \"loss\": \"cross_entropy\", \"train\": {" train "}, " \
    "\"data\": {\"train\": \"a.csv\"" data "}}"
    expect_error(ES_SPEC("", ", \"validation_fraction\": 1"),
                 "data.validation_fraction: 1 is out of range (expected a number >= 0 and < 1)");
    expect_error(ES_SPEC("", ", \"validation_fraction\": -0.1"), "data.validation_fraction: -0.10000000000000001 is out of range");
    expect_error(ES_SPEC("", ", \"validation_fraction\": \"0.1\""),
                 "data.validation_fraction: expected a number >= 0 and < 1, got a string");
    expect_error(ES_SPEC("\"early_stopping\": {\"patience\": 3}", ""),
                 "t.json:1:149: train.early_stopping: early stopping watches the validation loss: set "
                 "data.validation_fraction above 0");
    expect_error(ES_SPEC("\"early_stopping\": {\"patience\": 3}", ", \"validation_fraction\": 0"),
                 "train.early_stopping: early stopping watches the validation loss");
    expect_error(ES_SPEC("\"early_stopping\": {}", ", \"validation_fraction\": 0.2"),
                 "train.early_stopping: missing required key \"patience\"");
    expect_error(ES_SPEC("\"early_stopping\": {\"patience\": 0}", ", \"validation_fraction\": 0.2"),
                 "train.early_stopping.patience: 0 is out of range (expected an integer from 1 to 1000000)");
    expect_error(ES_SPEC("\"early_stopping\": {\"patience\": 2.5}", ", \"validation_fraction\": 0.2"),
                 "train.early_stopping.patience: 2.5 is not an integer");
    expect_error(ES_SPEC("\"early_stopping\": {\"patience\": 2, \"min_delta\": -1}", ", \"validation_fraction\": 0.2"),
                 "train.early_stopping.min_delta: -1 is out of range (expected a number >= 0");
    expect_error(ES_SPEC("\"early_stopping\": {\"patience\": 2, \"min_dleta\": 1}", ", \"validation_fraction\": 0.2"),
                 "train.early_stopping.min_dleta: unknown key \"min_dleta\" (did you mean \"min_delta\"?)");
    expect_error(ES_SPEC("\"early_stopping\": 3", ", \"validation_fraction\": 0.2"),
                 "train.early_stopping: expected an object, got a number");
    expect_error(ES_SPEC("\"early_stoping\": {\"patience\": 2}", ", \"validation_fraction\": 0.2"),
                 "train.early_stoping: unknown key \"early_stoping\" (did you mean \"early_stopping\"?)");
#undef ES_SPEC
}
