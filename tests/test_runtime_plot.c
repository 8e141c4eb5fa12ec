/* test_runtime_plot.c: the training history, its CSV log and SVG plot
 * (runtime/plot.c), and the progress output (runtime/progress.c); the
 * formats are in docs/plots.md.
 *
 * The SVG is checked with a small XML well-formedness checker written here
 * (tags balanced and properly nested, attributes quoted and unique, every
 * '&' an entity, no raw '<' in text or attributes, UTF-8 without control
 * characters, a single root) and then by its content: the root's
 * attributes, one polyline per curve with one point per finite value, the
 * legend texts, the escaped title, the log-scale panel. */
#define _POSIX_C_SOURCE 200809L

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dcr.h"

static char dir[64];
static char path[160];

static void setup(void)
{
    strcpy(dir, "/tmp/dcr_plot_XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/out", dir);
}

static void teardown(void)
{
    unlink(path);
    rmdir(dir);
}

TestSuite(history);
TestSuite(csv, .init = setup, .fini = teardown);
TestSuite(svg, .init = setup, .fini = teardown);
TestSuite(progress);

/* ---- helpers ----------------------------------------------------------------- */

static char *slurp(const char *p)
{
    FILE *f = fopen(p, "rb");
    cr_assert_not_null(f, "cannot open %s", p);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    cr_assert_not_null(s);
    cr_assert_eq(fread(s, 1, (size_t)n, f), (size_t)n);
    s[n] = '\0';
    fclose(f);
    return s;
}

/* the whole of a stream written so far */
static char *stream_text(FILE *f)
{
    fflush(f);
    long n = ftell(f);
    rewind(f);
    char *s = malloc((size_t)n + 1);
    cr_assert_not_null(s);
    cr_assert_eq(fread(s, 1, (size_t)n, f), (size_t)n);
    s[n] = '\0';
    return s;
}

static size_t count_str(const char *s, const char *needle)
{
    size_t n = 0, k = strlen(needle);
    for (const char *p = strstr(s, needle); p; p = strstr(p + k, needle))
        n++;
    return n;
}

static dcr_epoch_stats rec(uint64_t epoch, double loss)
{
    dcr_epoch_stats s;
    memset(&s, 0, sizeof s);
    s.epoch = epoch;
    s.train_loss = loss;
    s.train_acc = s.val_acc = s.test_acc = -1;
    s.lr = 0.05;
    s.seconds = 0.25;
    return s;
}

/* n epochs of a classification with validation, test and deltas for L layers */
static void full_history(dcr_history *h, size_t n, int L)
{
    memset(h, 0, sizeof *h);
    h->n_layers = L;
    h->classify = 1;
    for (size_t i = 0; i < n; i++) {
        dcr_epoch_stats s = rec(i + 1, 2.0 / (double)(i + 1));
        s.train_acc = 1 - 0.5 / (double)(i + 1);
        s.has_val = 1;
        s.val_loss = s.train_loss * 1.1;
        s.val_acc = s.train_acc - 0.02;
        s.has_test = 1;
        s.test_loss = s.train_loss * 1.2;
        s.test_acc = s.train_acc - 0.03;
        s.has_deltas = L > 0;
        for (int l = 1; l <= L; l++)
            s.delta_mean[l] = 1e-2 * pow(0.3, l) * pow(0.9, (double)i);
        cr_assert_eq(dcr_history_add(h, &s, NULL), 0);
    }
}

/* ---- an XML well-formedness checker ------------------------------------------------ */

typedef struct {
    const char *s;
    size_t i;
    char why[200];
    char root[64];
    int n_elements;
} xml;

static int xml_fail(xml *x, const char *what)
{
    snprintf(x->why, sizeof x->why, "at byte %zu: %s", x->i, what);
    return -1;
}

static int xml_name_char(char c, int first)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
           (!first && ((c >= '0' && c <= '9') || c == '-' || c == '.'));
}

static void xml_space(xml *x)
{
    while (x->s[x->i] == ' ' || x->s[x->i] == '\n' || x->s[x->i] == '\t' || x->s[x->i] == '\r')
        x->i++;
}

static int xml_name(xml *x, char *out, size_t size)
{
    size_t n = 0;
    if (!xml_name_char(x->s[x->i], 1))
        return xml_fail(x, "expected a name");
    while (xml_name_char(x->s[x->i], 0)) {
        if (n + 1 < size)
            out[n++] = x->s[x->i];
        x->i++;
    }
    out[n] = '\0';
    return 0;
}

/* one character of text or attribute value at x->i: entities, UTF-8 */
static int xml_char(xml *x, char quote)
{
    const unsigned char *u = (const unsigned char *)x->s + x->i;
    if (*u == '<')
        return xml_fail(x, "raw '<'");
    if (*u == '&') {
        static const char *const ent[] = {"&lt;", "&gt;", "&amp;", "&quot;", "&apos;"};
        for (int k = 0; k < 5; k++)
            if (!strncmp((const char *)u, ent[k], strlen(ent[k]))) {
                x->i += strlen(ent[k]);
                return 0;
            }
        if (u[1] == '#') {
            size_t j = 2;
            int hex = u[2] == 'x';
            j += (size_t)hex;
            size_t d = j;
            while (hex ? (u[j] >= '0' && u[j] <= '9') || (u[j] >= 'a' && u[j] <= 'f') || (u[j] >= 'A' && u[j] <= 'F')
                       : u[j] >= '0' && u[j] <= '9')
                j++;
            if (j > d && u[j] == ';') {
                x->i += j + 1;
                return 0;
            }
        }
        return xml_fail(x, "'&' not starting an entity");
    }
    if (quote && *u == (unsigned char)quote)
        return xml_fail(x, "quote inside a value");
    if ((*u < 0x20 && *u != '\n' && *u != '\t' && *u != '\r') || *u == 0x7f)
        return xml_fail(x, "a control character");
    size_t n = *u < 0x80 ? 1 : (*u & 0xe0) == 0xc0 ? 2 : (*u & 0xf0) == 0xe0 ? 3 : (*u & 0xf8) == 0xf0 ? 4 : 0;
    if (n == 0 || (n == 2 && *u < 0xc2))
        return xml_fail(x, "not UTF-8");
    for (size_t k = 1; k < n; k++)
        if ((u[k] & 0xc0) != 0x80)
            return xml_fail(x, "not UTF-8");
    x->i += n;
    return 0;
}

static int xml_element(xml *x, int depth);

static int xml_content(xml *x, const char *name, int depth)
{
    for (;;) {
        if (!x->s[x->i])
            return xml_fail(x, "unclosed element");
        if (!strncmp(x->s + x->i, "<!--", 4)) {
            const char *e = strstr(x->s + x->i + 4, "-->");
            if (!e)
                return xml_fail(x, "unclosed comment");
            x->i = (size_t)(e - x->s) + 3;
        } else if (!strncmp(x->s + x->i, "</", 2)) {
            char end[64];
            x->i += 2;
            if (xml_name(x, end, sizeof end))
                return -1;
            if (strcmp(end, name))
                return xml_fail(x, "end tag does not match");
            xml_space(x);
            if (x->s[x->i] != '>')
                return xml_fail(x, "expected '>'");
            x->i++;
            return 0;
        } else if (x->s[x->i] == '<') {
            if (xml_element(x, depth + 1))
                return -1;
        } else {
            if (!strncmp(x->s + x->i, "]]>", 3))
                return xml_fail(x, "']]>' in text");
            if (xml_char(x, 0))
                return -1;
        }
    }
}

static int xml_element(xml *x, int depth)
{
    char name[64], attrs[32][64];
    int n_attrs = 0;
    x->i++; /* '<' */
    if (xml_name(x, name, sizeof name))
        return -1;
    if (depth == 0)
        snprintf(x->root, sizeof x->root, "%s", name);
    x->n_elements++;
    for (;;) {
        size_t before = x->i;
        xml_space(x);
        if (x->s[x->i] == '/' && x->s[x->i + 1] == '>') {
            x->i += 2;
            return 0;
        }
        if (x->s[x->i] == '>') {
            x->i++;
            return xml_content(x, name, depth);
        }
        if (x->i == before)
            return xml_fail(x, "no space before an attribute");
        char an[64];
        if (xml_name(x, an, sizeof an))
            return -1;
        for (int k = 0; k < n_attrs; k++)
            if (!strcmp(attrs[k], an))
                return xml_fail(x, "duplicate attribute");
        if (n_attrs < 32)
            strcpy(attrs[n_attrs++], an);
        xml_space(x);
        if (x->s[x->i] != '=')
            return xml_fail(x, "expected '='");
        x->i++;
        xml_space(x);
        char q = x->s[x->i];
        if (q != '"' && q != '\'')
            return xml_fail(x, "unquoted attribute");
        x->i++;
        while (x->s[x->i] != q) {
            if (!x->s[x->i])
                return xml_fail(x, "unclosed attribute");
            if (xml_char(x, q))
                return -1;
        }
        x->i++;
    }
}

/* 0 when s is a well-formed XML document; the root's name in x->root */
static int xml_check(xml *x, const char *s)
{
    memset(x, 0, sizeof *x);
    x->s = s;
    if (!strncmp(s, "<?xml", 5)) {
        const char *e = strstr(s, "?>");
        if (!e)
            return xml_fail(x, "unclosed declaration");
        x->i = (size_t)(e - s) + 2;
    }
    int roots = 0;
    for (;;) {
        xml_space(x);
        if (!s[x->i])
            break;
        if (!strncmp(s + x->i, "<!--", 4)) {
            const char *e = strstr(s + x->i + 4, "-->");
            if (!e)
                return xml_fail(x, "unclosed comment");
            x->i = (size_t)(e - s) + 3;
            continue;
        }
        if (s[x->i] != '<')
            return xml_fail(x, "text outside the root");
        if (roots++)
            return xml_fail(x, "a second root element");
        if (xml_element(x, 0))
            return -1;
    }
    if (!roots)
        return xml_fail(x, "no root element");
    return 0;
}

/* the value of attribute name in the start tag at tag (to its '>') */
static int attr(const char *tag, const char *name, char *out, size_t size)
{
    const char *end = strchr(tag, '>');
    char key[64];
    snprintf(key, sizeof key, " %s=\"", name);
    const char *p = strstr(tag, key);
    if (!p || p > end)
        return -1;
    p += strlen(key);
    const char *q = strchr(p, '"');
    size_t n = (size_t)(q - p) < size - 1 ? (size_t)(q - p) : size - 1;
    memcpy(out, p, n);
    out[n] = '\0';
    return 0;
}

/* point counts of the polylines, in order; returns how many */
static int polylines(const char *svg, size_t *counts, int max)
{
    int n = 0;
    for (const char *p = strstr(svg, "<polyline"); p; p = strstr(p + 1, "<polyline")) {
        const char *a = strstr(p, " points=\"");
        cr_assert_not_null(a);
        a += 9;
        size_t k = 0;
        int in = 0;
        for (; *a != '"'; a++) {
            if (*a != ' ' && !in)
                k++;
            in = *a != ' ';
        }
        if (n < max)
            counts[n] = k;
        n++;
    }
    return n;
}

/* checks well-formedness and the root; returns the file's text */
static char *read_svg(void)
{
    char *s = slurp(path);
    xml x;
    cr_assert_eq(xml_check(&x, s), 0, "not well-formed: %s", x.why);
    cr_assert_str_eq(x.root, "svg");
    const char *root = strstr(s, "<svg");
    char v[128];
    cr_assert_eq(attr(root, "xmlns", v, sizeof v), 0);
    cr_assert_str_eq(v, "http://www.w3.org/2000/svg");
    int w, h, vw, vh;
    cr_assert_eq(attr(root, "width", v, sizeof v), 0);
    w = atoi(v);
    cr_assert_eq(attr(root, "height", v, sizeof v), 0);
    h = atoi(v);
    cr_assert_eq(attr(root, "viewBox", v, sizeof v), 0);
    cr_assert_eq(sscanf(v, "0 0 %d %d", &vw, &vh), 2);
    cr_assert(w > 100 && h > 100 && w == vw && h == vh, "%d x %d, viewBox %s", w, h, v);
    /* never a NaN or an infinity in a coordinate */
    cr_assert_null(strstr(s, "nan"));
    cr_assert_null(strstr(s, "inf"));
    /* self-contained */
    cr_assert_null(strstr(s, "http://www.w3.org/1999/xlink"));
    cr_assert_null(strstr(s, "<script"));
    cr_assert_null(strstr(s, "@import"));
    cr_assert_null(strstr(s, "url("));
    return s;
}

/* ---- the checker checks -------------------------------------------------------------- */

Test(svg, checker_rejects_malformed_xml)
{
    static const char *const bad[] = {
        "<svg><g></svg>",  "<svg a=\"1\" a=\"2\"/>", "<svg>a < b</svg>", "<svg>a & b</svg>",
        "<svg a=1/>",      "<svg/><svg/>",          "<svg>\x01</svg>",  "<svg>\xff</svg>",
        "<svg><g></g>",    "text<svg/>",            "<svg a=\"<\"/>",   "<svg>]]></svg>"};
    xml x;
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        cr_assert_eq(xml_check(&x, bad[i]), -1, "accepted %s", bad[i]);
    cr_assert_eq(xml_check(&x, "<?xml version=\"1.0\"?>\n<svg a='1' b=\"&lt;&#948;&#x3b4;\"><!-- c --><g/>"
                                   "t &amp; \xce\xb4</svg>\n"),
                 0, "%s", x.why);
}

/* ---- history -------------------------------------------------------------------------- */

Test(history, grows_and_frees)
{
    dcr_history h;
    memset(&h, 0, sizeof h);
    for (int i = 0; i < 1000; i++) {
        dcr_epoch_stats s = rec((uint64_t)i + 1, i * 0.5);
        cr_assert_eq(dcr_history_add(&h, &s, NULL), 0);
    }
    cr_assert_eq(h.n, 1000);
    cr_assert_geq(h.cap, 1000);
    for (int i = 0; i < 1000; i++) {
        cr_assert_eq(h.v[i].epoch, (uint64_t)i + 1);
        cr_assert_eq(h.v[i].train_loss, i * 0.5);
    }
    dcr_history_free(&h);
    cr_assert_null(h.v);
    cr_assert_eq(h.n, 0);
    dcr_history_free(&h); /* twice is harmless */
    dcr_error err;
    cr_assert_eq(dcr_history_add(NULL, NULL, &err), -1);
    cr_assert_eq(err.status, DCR_ERR_USAGE);
}

/* ---- CSV -------------------------------------------------------------------------------- */

Test(csv, regression_without_extras)
{
    dcr_history h;
    memset(&h, 0, sizeof h);
    h.n_layers = 2;
    dcr_epoch_stats s = rec(1, 0.1);
    cr_assert_eq(dcr_history_add(&h, &s, NULL), 0);
    s = rec(2, 1.0 / 3);
    s.lr = 0.025;
    s.seconds = 1.5;
    cr_assert_eq(dcr_history_add(&h, &s, NULL), 0);
    dcr_error err;
    cr_assert_eq(dcr_log_write_csv(path, &h, &err), 0, "%s", err.msg);
    char *t = slurp(path);
    cr_assert_str_eq(t, "epoch,lr,train_loss,train_acc,val_loss,val_acc,test_loss,test_acc,seconds\n"
                        "1,0.05,0.1,,,,,,0.25\n"
                        "2,0.025,0.333333333,,,,,,1.5\n");
    free(t);
    dcr_history_free(&h);
}

Test(csv, classification_with_everything)
{
    dcr_history h;
    full_history(&h, 3, 3);
    h.v[1].has_deltas = 0; /* an epoch without traces: empty fields */
    h.v[2].has_val = 0;
    dcr_error err;
    cr_assert_eq(dcr_log_write_csv(path, &h, &err), 0, "%s", err.msg);
    char *t = slurp(path);
    char *nl = strchr(t, '\n');
    cr_assert_not_null(nl);
    *nl = '\0';
    cr_assert_str_eq(t, "epoch,lr,train_loss,train_acc,val_loss,val_acc,test_loss,test_acc,seconds,"
                        "delta_1,delta_2,delta_3");
    char *rows = nl + 1;
    char expect[1024];
    const dcr_epoch_stats *v = h.v;
    snprintf(expect, sizeof expect,
             "1,0.05,2,0.5,%.9g,%.9g,%.9g,%.9g,0.25,%.9g,%.9g,%.9g\n"
             "2,0.05,1,0.75,%.9g,%.9g,%.9g,%.9g,0.25,,,\n"
             "3,0.05,%.9g,%.9g,,,%.9g,%.9g,0.25,%.9g,%.9g,%.9g\n",
             v[0].val_loss, v[0].val_acc, v[0].test_loss, v[0].test_acc, v[0].delta_mean[1],
             v[0].delta_mean[2], v[0].delta_mean[3], v[1].val_loss, v[1].val_acc, v[1].test_loss,
             v[1].test_acc, v[2].train_loss, v[2].train_acc, v[2].test_loss, v[2].test_acc,
             v[2].delta_mean[1], v[2].delta_mean[2], v[2].delta_mean[3]);
    cr_assert_str_eq(rows, expect);
    /* every row has as many fields as the header */
    cr_assert_eq(count_str(rows, ","), 3 * 11);
    free(t);
    dcr_history_free(&h);
}

Test(csv, empty_history_is_the_header)
{
    dcr_history h;
    memset(&h, 0, sizeof h);
    cr_assert_eq(dcr_log_write_csv(path, &h, NULL), 0);
    char *t = slurp(path);
    cr_assert_str_eq(t, "epoch,lr,train_loss,train_acc,val_loss,val_acc,test_loss,test_acc,seconds\n");
    free(t);
}

Test(csv, unwritable_path_fails)
{
    dcr_history h;
    full_history(&h, 2, 0);
    dcr_error err;
    char bad[200];
    snprintf(bad, sizeof bad, "%s/no/such/dir/log.csv", dir);
    cr_assert_eq(dcr_log_write_csv(bad, &h, &err), -1);
    cr_assert_eq(err.status, DCR_ERR_IO);
    cr_assert_eq(dcr_plot_write_svg(bad, &h, "t", &err), -1);
    cr_assert_eq(err.status, DCR_ERR_IO);
    dcr_history_free(&h);
}

/* ---- SVG --------------------------------------------------------------------------------- */

Test(svg, all_panels)
{
    dcr_history h;
    full_history(&h, 30, 8);
    dcr_error err;
    cr_assert_eq(dcr_plot_write_svg(path, &h, "net <&> \"x\"", &err), 0, "%s", err.msg);
    char *s = read_svg();
    /* the title, escaped, as the document's title and the visible one */
    cr_assert_eq(count_str(s, "net &lt;&amp;&gt; &quot;x&quot;"), 2);
    cr_assert_null(strstr(s, "<&>"));
    /* 3 loss + 3 accuracy + 8 delta curves of 30 points each */
    size_t c[32];
    int n = polylines(s, c, 32);
    cr_assert_eq(n, 3 + 3 + 8);
    for (int i = 0; i < n; i++)
        cr_assert_eq(c[i], 30, "curve %d has %zu points", i, c[i]);
    /* legends: training/validation/test twice, layer 1..8 */
    cr_assert_eq(count_str(s, ">training</text>"), 2);
    cr_assert_eq(count_str(s, ">validation</text>"), 2);
    cr_assert_eq(count_str(s, ">test</text>"), 2);
    for (int l = 1; l <= 8; l++) {
        char t[32];
        snprintf(t, sizeof t, ">layer %d</text>", l);
        cr_assert_eq(count_str(s, t), 1, "%s", t);
    }
    cr_assert_null(strstr(s, ">layer 9<"));
    cr_assert_not_null(strstr(s, "Loss"));
    cr_assert_not_null(strstr(s, "Accuracy"));
    cr_assert_not_null(strstr(s, "(log scale)"));
    /* decade labels on the log axis: 10 with a superscript exponent */
    cr_assert_not_null(strstr(s, ">10<tspan"));
    cr_assert_geq(count_str(s, ">epoch</text>"), 3);
    /* the eight layers' colours differ */
    char col[8][16];
    const char *p = s;
    for (int i = 0; i < 6; i++) /* past the loss and accuracy curves */
        p = strstr(p, "<polyline") + 1;
    for (int l = 0; l < 8; l++) {
        p = strstr(p, "<polyline");
        cr_assert_not_null(p);
        cr_assert_eq(attr(p, "stroke", col[l], sizeof col[l]), 0);
        for (int k = 0; k < l; k++)
            cr_assert_str_neq(col[k], col[l]);
        p++;
    }
    free(s);
    dcr_history_free(&h);
}

Test(svg, regression_has_only_the_loss_panel)
{
    dcr_history h;
    memset(&h, 0, sizeof h);
    h.n_layers = 2;
    for (int i = 1; i <= 12; i++) {
        dcr_epoch_stats s = rec((uint64_t)i, 1.0 / i);
        s.has_test = i % 2 == 0; /* test loss every other epoch */
        s.test_loss = 1.5 / i;
        cr_assert_eq(dcr_history_add(&h, &s, NULL), 0);
    }
    cr_assert_eq(dcr_plot_write_svg(path, &h, NULL, NULL), 0);
    char *s = read_svg();
    size_t c[8];
    cr_assert_eq(polylines(s, c, 8), 2);
    cr_assert_eq(c[0], 12);
    cr_assert_eq(c[1], 6);
    cr_assert_not_null(strstr(s, ">training</text>"));
    cr_assert_not_null(strstr(s, ">test</text>"));
    cr_assert_null(strstr(s, ">validation</text>"));
    cr_assert_null(strstr(s, "Accuracy"));
    cr_assert_null(strstr(s, "log scale"));
    free(s);
    dcr_history_free(&h);
}

Test(svg, one_epoch)
{
    dcr_history h;
    full_history(&h, 1, 2);
    cr_assert_eq(dcr_plot_write_svg(path, &h, "one", NULL), 0);
    char *s = read_svg();
    size_t c[16];
    cr_assert_eq(polylines(s, c, 16), 3 + 3 + 2);
    for (int i = 0; i < 8; i++)
        cr_assert_eq(c[i], 1);
    /* a lone point is drawn as a dot */
    cr_assert_geq(count_str(s, "<circle"), 8);
    free(s);
    dcr_history_free(&h);
}

Test(svg, empty_history)
{
    dcr_history h;
    memset(&h, 0, sizeof h);
    cr_assert_eq(dcr_plot_write_svg(path, &h, "", NULL), 0);
    char *s = read_svg();
    cr_assert_eq(count_str(s, "<polyline"), 0);
    cr_assert_not_null(strstr(s, "no data"));
    free(s);
}

Test(svg, constant_curves)
{
    dcr_history h;
    full_history(&h, 10, 2);
    for (size_t i = 0; i < h.n; i++) {
        h.v[i].train_loss = h.v[i].val_loss = h.v[i].test_loss = 0.5;
        h.v[i].train_acc = h.v[i].val_acc = h.v[i].test_acc = 1;
        h.v[i].delta_mean[1] = h.v[i].delta_mean[2] = 1e-3;
    }
    cr_assert_eq(dcr_plot_write_svg(path, &h, "flat", NULL), 0);
    char *s = read_svg();
    size_t c[16];
    cr_assert_eq(polylines(s, c, 16), 8);
    free(s);
    /* all zero */
    for (size_t i = 0; i < h.n; i++)
        h.v[i].train_loss = h.v[i].val_loss = h.v[i].test_loss = 0;
    cr_assert_eq(dcr_plot_write_svg(path, &h, "zero", NULL), 0);
    s = read_svg();
    free(s);
    dcr_history_free(&h);
}

Test(svg, non_finite_values_are_skipped)
{
    dcr_history h;
    full_history(&h, 20, 3);
    h.v[3].train_loss = NAN;
    h.v[4].train_loss = INFINITY;
    h.v[5].val_loss = -INFINITY;
    h.v[6].test_acc = NAN;
    h.v[7].delta_mean[2] = 0;     /* not on a log axis */
    h.v[8].delta_mean[2] = -1e-3; /* nor this */
    h.v[9].delta_mean[3] = NAN;
    cr_assert_eq(dcr_plot_write_svg(path, &h, "holes", NULL), 0);
    char *s = read_svg();
    size_t c[16];
    cr_assert_eq(polylines(s, c, 16), 9);
    size_t expect[9] = {18, 19, 20, 20, 20, 19, 20, 18, 19};
    for (int i = 0; i < 9; i++)
        cr_assert_eq(c[i], expect[i], "curve %d: %zu points", i, c[i]);
    free(s);
    dcr_history_free(&h);
}

Test(svg, huge_and_tiny_values)
{
    static const double scale[] = {1e-300, 1e-12, 1e12, 1e300, 1e308};
    for (size_t k = 0; k < sizeof scale / sizeof *scale; k++) {
        dcr_history h;
        full_history(&h, 15, 2);
        for (size_t i = 0; i < h.n; i++) {
            h.v[i].train_loss *= scale[k];
            h.v[i].val_loss *= scale[k];
            h.v[i].test_loss *= -scale[k];
            h.v[i].delta_mean[1] = scale[k] * (double)(i + 1);
            h.v[i].delta_mean[2] = 4.9e-324; /* the smallest double */
        }
        h.v[0].train_loss = 1e308 * 10; /* inf: skipped */
        cr_assert_eq(dcr_plot_write_svg(path, &h, "extremes", NULL), 0);
        char *s = read_svg();
        size_t c[16];
        cr_assert_eq(polylines(s, c, 16), 8, "scale %g", scale[k]);
        cr_assert_eq(c[0], 14);
        /* tick labels stay short */
        for (const char *p = strstr(s, "text-anchor=\"end\">"); p; p = strstr(p + 1, "text-anchor=\"end\">")) {
            const char *e = strchr(p, '<');
            cr_assert_lt(e - p - 18, 40, "scale %g: a long tick label", scale[k]);
        }
        free(s);
        dcr_history_free(&h);
    }
}

Test(svg, many_layers_and_late_epochs)
{
    dcr_history h;
    full_history(&h, 40, DCR_MAX_LAYERS);
    for (size_t i = 0; i < h.n; i++)
        h.v[i].epoch += 1000; /* a resumed run */
    cr_assert_eq(dcr_plot_write_svg(path, &h, "deep", NULL), 0);
    char *s = read_svg();
    size_t c[64];
    cr_assert_eq(polylines(s, c, 64), 6 + DCR_MAX_LAYERS);
    char t[32];
    snprintf(t, sizeof t, ">layer %d</text>", DCR_MAX_LAYERS);
    cr_assert_not_null(strstr(s, t));
    cr_assert_not_null(strstr(s, "text-anchor=\"middle\">1040</text>"));
    cr_assert_not_null(strstr(s, "text-anchor=\"middle\">1000</text>"));
    cr_assert_null(strstr(s, "text-anchor=\"middle\">0</text>"), "the epoch axis starts near the first epoch");
    free(s);
    dcr_history_free(&h);
}

Test(svg, title_with_control_and_broken_utf8)
{
    dcr_history h;
    full_history(&h, 3, 0);
    cr_assert_eq(dcr_plot_write_svg(path, &h, "a\x01 b\xff\xfe c \xce\xb4 ' \"\n", NULL), 0);
    char *s = read_svg();
    cr_assert_not_null(strstr(s, "a? b?? c \xce\xb4 &apos; &quot; "));
    free(s);
    dcr_history_free(&h);
}

Test(svg, long_title_is_shortened_on_the_picture_only)
{
    dcr_history h;
    full_history(&h, 3, 0);
    char title[401];
    memset(title, 'W', 400);
    title[400] = '\0';
    cr_assert_eq(dcr_plot_write_svg(path, &h, title, NULL), 0);
    char *s = read_svg();
    char want[420];
    snprintf(want, sizeof want, "<title>%s</title>", title);
    cr_assert_not_null(strstr(s, want), "the document title is whole");
    const char *vis = strstr(s, "font-weight=\"bold\">W");
    cr_assert_not_null(vis);
    const char *end = strstr(vis, "</text>");
    cr_assert_eq(strncmp(end - 7, "&#8230;", 7), 0, "an ellipsis at the end");
    cr_assert_lt(end - vis, 200);
    free(s);
    dcr_history_free(&h);
}

Test(svg, rewrites_atomically)
{
    dcr_history h;
    full_history(&h, 5, 1);
    cr_assert_eq(dcr_plot_write_svg(path, &h, "first", NULL), 0);
    cr_assert_eq(dcr_plot_write_svg(path, &h, "second", NULL), 0);
    char *s = read_svg();
    cr_assert_not_null(strstr(s, "second"));
    cr_assert_null(strstr(s, "first"));
    free(s);
    dcr_history_free(&h);
}

/* ---- progress ------------------------------------------------------------------------------ */

static void nap_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

Test(progress, lines_without_a_terminal)
{
    FILE *f = tmpfile();
    cr_assert_not_null(f);
    dcr_progress *p = dcr_progress_new(f, 0);
    cr_assert_not_null(p);
    for (int ep = 1; ep <= 3; ep++) {
        for (size_t done = 0; done <= 1000; done += 250) {
            dcr_progress_batch(p, (uint64_t)ep, done, 1000);
            nap_ms(done == 500 ? 110 : 0);
        }
        dcr_epoch_stats s = rec((uint64_t)ep, 1.0 / ep);
        dcr_progress_epoch(p, &s, 0, 0);
    }
    dcr_progress_free(p);
    char *t = stream_text(f);
    cr_assert_null(strchr(t, '\r'));
    cr_assert_str_eq(t, "epoch    1  loss 1.000000  lr 0.05  (250.0 ms)\n"
                        "epoch    2  loss 0.500000  lr 0.05  (250.0 ms)\n"
                        "epoch    3  loss 0.333333  lr 0.05  (250.0 ms)\n");
    free(t);
    fclose(f);
}

Test(progress, exact_epoch_lines)
{
    FILE *f = tmpfile();
    cr_assert_not_null(f);
    dcr_progress *p = dcr_progress_new(f, 0);
    dcr_epoch_stats s = rec(3, 0.4123449);
    s.train_acc = 0.85123;
    s.seconds = 0.0123;
    dcr_progress_batch(p, 3, 500, 1000);
    dcr_progress_epoch(p, &s, 1, 2);
    s = rec(100, 0.01);
    s.train_acc = 0.75;
    s.has_val = 1;
    s.val_loss = 0.02;
    s.val_acc = 0.5;
    s.has_test = 1;
    s.test_loss = 0.03;
    s.test_acc = 0.25;
    s.lr = 0.0125;
    s.seconds = 1.25;
    s.has_deltas = 1;
    s.delta_mean[1] = 1.234e-3;
    s.delta_mean[2] = 4.5e-4;
    dcr_progress_epoch(p, &s, 1, 2);
    dcr_progress_epoch(p, &s, 0, 0); /* regression, deltas not shown without layers */
    dcr_progress_free(p);
    char *t = stream_text(f);
    cr_assert_str_eq(t, "epoch    3  loss 0.412345  train acc 0.8512  lr 0.05  (12.3 ms)\n"
                        "epoch  100  loss 0.010000  train acc 0.7500  val loss 0.020000  val acc 0.5000"
                        "  test loss 0.030000  test acc 0.2500  lr 0.0125  (1250.0 ms)\n"
                        "           |d| 1.23e-03 4.50e-04\n"
                        "epoch  100  loss 0.010000  val loss 0.020000  test loss 0.030000  lr 0.0125"
                        "  (1250.0 ms)\n");
    free(t);
    fclose(f);
}

Test(progress, bar_on_a_terminal)
{
    FILE *f = tmpfile();
    cr_assert_not_null(f);
    dcr_progress *p = dcr_progress_new(f, 1);
    cr_assert_not_null(p);
    dcr_progress_batch(p, 7, 100, 60000); /* within 100 ms of the start: not drawn */
    fflush(f);
    cr_assert_eq(ftell(f), 0);
    for (size_t done = 15000; done <= 30000; done += 15000) {
        nap_ms(120);
        dcr_progress_batch(p, 7, done, 60000);
    }
    dcr_epoch_stats s = rec(7, 0.5);
    dcr_progress_epoch(p, &s, 0, 0);
    dcr_progress_free(p);
    char *t = stream_text(f);
    cr_assert_not_null(strchr(t, '\r'));
    cr_assert_not_null(strstr(t, "\repoch   7 [####............]  15,000/60,000  "), "%s", t);
    cr_assert_not_null(strstr(t, "\repoch   7 [########........]  30,000/60,000  "), "%s", t);
    cr_assert_not_null(strstr(t, " samples/s  ETA 0:00:"), "%s", t);
    /* the bar is wiped (spaces, then '\r') before the epoch line */
    const char *line = strstr(t, "epoch    7  loss 0.500000  lr 0.05  (250.0 ms)\n");
    cr_assert_not_null(line, "%s", t);
    cr_assert_eq(line[-1], '\r');
    cr_assert_eq(line[-2], ' ');
    /* nothing after the epoch line: the bar is gone */
    cr_assert_str_eq(line, "epoch    7  loss 0.500000  lr 0.05  (250.0 ms)\n");
    free(t);
    fclose(f);
}

Test(progress, no_bar_without_a_terminal)
{
    FILE *f = tmpfile();
    dcr_progress *p = dcr_progress_new(f, 0);
    for (int i = 1; i <= 3; i++) {
        nap_ms(110);
        dcr_progress_batch(p, 1, (size_t)i * 10, 30);
    }
    dcr_progress_free(p);
    fflush(f);
    cr_assert_eq(ftell(f), 0);
    fclose(f);
}

Test(progress, null_is_harmless)
{
    dcr_epoch_stats s = rec(1, 1);
    dcr_progress_batch(NULL, 1, 1, 2);
    dcr_progress_epoch(NULL, &s, 0, 0);
    dcr_progress_free(NULL);
    dcr_progress *p = dcr_progress_new(NULL, 1);
    cr_assert_not_null(p);
    nap_ms(110);
    dcr_progress_batch(p, 1, 1, 2);
    dcr_progress_epoch(p, &s, 0, 0);
    dcr_progress_free(p);
}
