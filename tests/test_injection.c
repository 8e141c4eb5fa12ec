/* test_injection.c: nothing from a spec is ever pasted into C text. Every
 * string a spec can hold (name, activation, loss, optimizer, schedule, init
 * scheme, data paths and format, target kind) and the command line recorded
 * in the header comment is tried with payloads that would break out of a
 * string or a comment or add a preprocessor line; each spec is either
 * rejected with FILE:LINE:COL, or every emitted form (source, header,
 * standalone) lacks the payload's marker and compiles. Numbers written
 * oddly read as the values they spell, or are rejected. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deltac.h"

#define MARK "pwned"

/* payloads, as JSON string contents (escapes are JSON's); each holds MARK */
static const char *const payloads[] = {
    "*/ int " MARK "; /*",
    "\\\" ); int " MARK "; //",
    "\\n#include <stdio.h>\\nint " MARK ";\\n",
    "\\u002a\\u002f int " MARK "; \\u002f\\u002a",
    "a\\\\\\nint " MARK ";",
    "?\?/\\nint " MARK ";",
    "\\r\\n#define x " MARK "\\r\\n",
    "x\\u0000" MARK,
    "%s%n" MARK,
};
#define N_PAYLOADS (sizeof payloads / sizeof *payloads)

/* spec templates: @ is replaced by the payload */
static const char *const templates[] = {
    "{\"name\": \"@\", \"input\": 2, \"layers\": [{\"units\": 2, \"activation\": \"softmax\"}], \"loss\": \"cross_entropy\"}",
    "{\"name\": \"n\", \"input\": 2, \"layers\": [{\"units\": 2, \"activation\": \"@\"}], \"loss\": \"mse\"}",
    "{\"name\": \"n\", \"input\": 2, \"layers\": [{\"units\": 2, \"activation\": \"softmax\"}], \"loss\": \"@\"}",
    "{\"name\": \"n\", \"input\": 2, \"layers\": [{\"units\": 2, \"activation\": \"softmax\"}], \"loss\": \"cross_entropy\","
    " \"train\": {\"optimizer\": {\"type\": \"@\"}}}",
    "{\"name\": \"n\", \"input\": 2, \"layers\": [{\"units\": 2, \"activation\": \"softmax\"}], \"loss\": \"cross_entropy\","
    " \"train\": {\"schedule\": {\"type\": \"@\"}}}",
    "{\"name\": \"n\", \"input\": 2, \"layers\": [{\"units\": 2, \"activation\": \"softmax\"}], \"loss\": \"cross_entropy\","
    " \"init\": {\"scheme\": \"@\"}}",
    "{\"name\": \"n\", \"input\": 2, \"layers\": [{\"units\": 2, \"activation\": \"softmax\"}], \"loss\": \"cross_entropy\","
    " \"data\": {\"train\": \"@.csv\", \"test\": \"t@\"}}",
    "{\"name\": \"n\", \"input\": 2, \"layers\": [{\"units\": 2, \"activation\": \"softmax\"}], \"loss\": \"cross_entropy\","
    " \"data\": {\"format\": \"idx\", \"train\": \"@\", \"train_labels\": \"@\"}}",
    "{\"name\": \"n\", \"input\": 2, \"layers\": [{\"units\": 2, \"activation\": \"softmax\"}], \"loss\": \"cross_entropy\","
    " \"data\": {\"train\": \"d.csv\", \"format\": \"@\"}}",
    "{\"name\": \"n\", \"input\": 2, \"layers\": [{\"units\": 2, \"activation\": \"softmax\"}], \"loss\": \"cross_entropy\","
    " \"data\": {\"train\": \"d.csv\", \"target\": {\"kind\": \"@\"}}}",
    "{\"name\": \"n\", \"input\": 2, \"layers\": [{\"units\": 2, \"activation\": \"softmax\"}], \"loss\": \"cross_entropy\","
    " \"@\": 1}",
};
#define N_TEMPLATES (sizeof templates / sizeof *templates)

static char *fill(const char *tpl, const char *payload)
{
    size_t n = strlen(tpl) + 1;
    for (const char *p = tpl; *p; p++)
        if (*p == '@')
            n += strlen(payload);
    char *s = malloc(n), *o = s;
    cr_assert_not_null(s);
    for (const char *p = tpl; *p; p++) {
        if (*p == '@') {
            strcpy(o, payload);
            o += strlen(payload);
        } else {
            *o++ = *p;
        }
    }
    *o = 0;
    return s;
}

/* The marker must not occur in len bytes of text (which may hold NULs: it
 * must not). */
static void assert_clean(const char *text, size_t len, const char *what, const char *spec)
{
    cr_assert_eq(strlen(text), len, "%s of %s holds a NUL", what, spec);
    cr_assert_null(strstr(text, MARK), "%s of %s holds the payload", what, spec);
}

/* Every form of the spec's network: free of MARK, and compiled by libtcc
 * (the header together with the source, so that they agree). */
static void emit_all(const dc_spec *s, const char *command_line, const char *spec_text)
{
    dcr_error err = {0};
    dc_net n;
    cr_assert_eq(dc_net_from_spec(&n, s, &err), 0, "%s: %s", spec_text, err.msg);
    dcr_job job;
    dc_spec_job(&job, s);
    char *text[3];
    size_t len[3];
    for (int f = 0; f < 3; f++) {
        dc_emit_opts o = {.strategy = DC_EMIT_UNROLLED, .command_line = command_line, .form = (dc_form)f,
                          .job = &job};
        cr_assert_eq(dc_emit(&text[f], &len[f], &n, &o, &err), 0, "%s", err.msg);
        assert_clean(text[f], len[f], f == 0 ? "the source" : f == 1 ? "the header" : "the standalone trainer",
                     spec_text);
    }
    size_t both_len = len[1] + len[0];
    char *both = malloc(both_len + 1);
    cr_assert_not_null(both);
    memcpy(both, text[1], len[1]);
    memcpy(both + len[1], text[0], len[0] + 1);
    dc_jit *j;
    cr_assert_eq(dc_jit_compile(&j, DC_JIT_TCC, both, both_len, &err), 0, "%s: %s", spec_text, err.msg);
    cr_assert_not_null(dc_jit_symbol(j, "n_forward_v"), "%s: no n_forward_v", spec_text);
    dc_jit_free(j);
    free(both);
    for (int f = 0; f < 3; f++)
        free(text[f]);
}

Test(injection, no_spec_string_reaches_the_c_text)
{
    int rejected = 0, accepted = 0;
    for (size_t t = 0; t < N_TEMPLATES; t++)
        for (size_t p = 0; p < N_PAYLOADS; p++) {
            char *text = fill(templates[t], payloads[p]);
            dc_spec s;
            dcr_error err = {0};
            if (dc_spec_parse(&s, text, strlen(text), "inj.json", &err)) {
                /* rejected: with the file and a position */
                cr_assert(strncmp(err.msg, "inj.json:", 9) == 0, "%s: %s", text, err.msg);
                rejected++;
            } else {
                accepted++;
                emit_all(&s, "deltac emit inj.json", text);
                dc_spec_free(&s);
            }
            free(text);
        }
    /* the data paths take any string; names and enums none of these */
    cr_assert_gt(accepted, 0);
    cr_assert_gt(rejected, 0);
}

/* The command line is recorded in the header comment: a payload in it (a
 * spec path, say) stays inside the comment. */
Test(injection, the_command_line_stays_in_its_comment)
{
    const char *spec = "{\"name\": \"n\", \"input\": 2, \"layers\": [{\"units\": 2, \"activation\": \"softmax\"}],"
                       " \"loss\": \"cross_entropy\"}";
    const char *lines[] = {
        "deltac emit '*/ int " MARK "; /*.json'",
        "deltac emit 'a\n#include <stdio.h>\nint " MARK ";\n.json'",
        "deltac emit 'a\\\nint " MARK ";'",
        "deltac emit '\?\?/\nint " MARK ";'",
        "deltac emit '\r\n#define x " MARK "'",
    };
    dc_spec s;
    dcr_error err = {0};
    cr_assert_eq(dc_spec_parse(&s, spec, strlen(spec), "inj.json", &err), 0, "%s", err.msg);
    for (size_t i = 0; i < sizeof lines / sizeof *lines; i++) {
        dc_net n;
        cr_assert_eq(dc_net_from_spec(&n, &s, &err), 0, "%s", err.msg);
        dcr_job job;
        dc_spec_job(&job, &s);
        for (int f = 0; f < 3; f++) {
            char *text;
            size_t len;
            dc_emit_opts o = {.strategy = DC_EMIT_UNROLLED, .command_line = lines[i], .form = (dc_form)f,
                              .job = &job};
            cr_assert_eq(dc_emit(&text, &len, &n, &o, &err), 0, "%s", err.msg);
            /* the marker may be quoted in the comment, but no line of code holds it:
             * compile and check the symbol it would declare is absent */
            if (f == 0) {
                dc_jit *j;
                cr_assert_eq(dc_jit_compile(&j, DC_JIT_TCC, text, len, &err), 0, "%s: %s", lines[i], err.msg);
                cr_assert_null(dc_jit_symbol(j, MARK), "%s declared %s", lines[i], MARK);
                cr_assert_null(dc_jit_symbol(j, "x"), "%s", lines[i]);
                dc_jit_free(j);
            }
            /* and no line outside a comment starts with # but the generator's own */
            cr_assert_null(strstr(text, "\n#define x"), "%s: a #define line reached the text", lines[i]);
            cr_assert_null(strstr(text, "\n#include <stdio.h>\nint"), "%s: an #include reached the text", lines[i]);
            free(text);
        }
    }
    dc_spec_free(&s);
}

/* Numbers written oddly: the value they spell, or a rejection with a
 * position; never text copied through. */
Test(injection, numbers_written_oddly)
{
    static const struct {
        const char *lr;  /* learning_rate as written */
        double want;     /* NAN: rejected */
        int may_reject;  /* not JSON, but cJSON reads it as the number it spells */
    } cases[] = {
        {"1e-2", 0.01, 0}, {"1E-2", 0.01, 0}, {"1E+0", 1, 0}, {"0.0000001e5", 0.01, 0}, {"1e2", 100, 0},
        {"-0", NAN, 0},    {"0", NAN, 0},     {"1e400", NAN, 0}, {"1e-400", NAN, 0}, {"-1e-2", NAN, 0},
        {"0x10", NAN, 0},  {"01", 1, 1},      {".5", NAN, 0},    {"1.", 1, 1},      {"NaN", NAN, 0},
        {"Infinity", NAN, 0}, {"\"0.1\"", NAN, 0}, {"1e2/**/", NAN, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char text[512];
        snprintf(text, sizeof text,
                 "{\"name\": \"n\", \"input\": 2, \"layers\": [{\"units\": 2, \"activation\": \"softmax\"}],"
                 " \"loss\": \"cross_entropy\", \"train\": {\"optimizer\": {\"learning_rate\": %s}}}",
                 cases[i].lr);
        dc_spec s;
        dcr_error err = {0};
        int rc = dc_spec_parse(&s, text, strlen(text), "num.json", &err);
        if (isnan(cases[i].want) || (rc && cases[i].may_reject)) {
            cr_assert_eq(rc, -1, "learning_rate %s was accepted", cases[i].lr);
            cr_assert(strncmp(err.msg, "num.json:1:", 11) == 0, "%s: %s", cases[i].lr, err.msg);
            continue;
        }
        cr_assert_eq(rc, 0, "learning_rate %s: %s", cases[i].lr, err.msg);
        cr_assert_eq(s.train.lr, cases[i].want, "learning_rate %s read as %.17g", cases[i].lr, s.train.lr);
        emit_all(&s, "deltac emit num.json", text);
        dc_spec_free(&s);
    }
    /* integers: 1e1 and 10.0 are 10 or rejected, never 1 */
    static const char *const units[] = {"1e1", "1E+1", "10.0", "10.5", "1e400", "-0", "2147483658"};
    for (size_t i = 0; i < sizeof units / sizeof *units; i++) {
        char text[512];
        snprintf(text, sizeof text,
                 "{\"name\": \"n\", \"input\": 2, \"layers\": [{\"units\": %s, \"activation\": \"tanh\"}],"
                 " \"loss\": \"mse\"}",
                 units[i]);
        dc_spec s;
        dcr_error err = {0};
        if (dc_spec_parse(&s, text, strlen(text), "num.json", &err)) {
            cr_assert(strncmp(err.msg, "num.json:1:", 11) == 0, "%s: %s", units[i], err.msg);
            continue;
        }
        cr_assert_eq(s.arch.sizes[1], 10, "units %s read as %d", units[i], s.arch.sizes[1]);
        emit_all(&s, "deltac emit num.json", text);
        dc_spec_free(&s);
    }
}
