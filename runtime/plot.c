/* plot.c: the per-epoch history, its CSV log and its SVG plot
 * (docs/plots.md).
 *
 * Both files are built in memory with snprintf into a growing buffer and
 * written with dcr_write_atomic. The SVG is self-contained (no external
 * fonts, style sheets or scripts): up to three panels stacked above each
 * other, sharing the epoch axis:
 *
 *   loss      training, validation and test loss, linear y axis
 *   accuracy  the same accuracies, when the history is a classification's
 *   mean |d|  the mean |delta| of every layer, log y axis, when traced
 *
 * each with a frame, grid lines, ticks at "nice" values (1, 2 or 5 times a
 * power of ten; whole decades on the log axis), axis titles and a legend to
 * the right of the plot area, where it never covers a curve. Values that
 * are NaN or infinite (and values <= 0 on the log axis) are left out of
 * their curve; magnitudes beyond 1e300 are clamped.
 *
 * Like every runtime file, this one is also pasted into standalone trainers
 * compiled as C99: file-scope names carry the plot_ prefix. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dcr_internal.h"

/* ---- history ------------------------------------------------------------------ */

int dcr_history_add(dcr_history *h, const dcr_epoch_stats *s, dcr_error *err)
{
    if (!h || !s)
        return dcr_fail(err, DCR_ERR_USAGE, "dcr_history_add: no history or no record");
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap : 32, bytes;
        if (h->cap && !dcr_mul_ok(&cap, h->cap, 2))
            return dcr_fail(err, DCR_ERR_LIMIT, "the training history is too long");
        if (!dcr_mul_ok(&bytes, cap, sizeof *h->v))
            return dcr_fail(err, DCR_ERR_LIMIT, "the training history is too long");
        dcr_epoch_stats *v = realloc(h->v, bytes);
        if (!v)
            return dcr_fail(err, DCR_ERR_NOMEM, "out of memory for the training history (%zu epochs)", cap);
        h->v = v;
        h->cap = cap;
    }
    h->v[h->n++] = *s;
    return 0;
}

void dcr_history_free(dcr_history *h)
{
    if (!h)
        return;
    free(h->v);
    h->v = NULL;
    h->n = h->cap = 0;
}

/* ---- a growing text buffer -------------------------------------------------------- */

typedef struct {
    char *p;
    size_t len, cap;
    int failed; /* out of memory: everything after is dropped */
} plot_buf;

static int plot_reserve(plot_buf *b, size_t more)
{
    if (b->failed)
        return -1;
    size_t need;
    if (!dcr_add_ok(&need, b->len, more + 1)) {
        b->failed = 1;
        return -1;
    }
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < need) {
        if (!dcr_mul_ok(&cap, cap, 2)) {
            b->failed = 1;
            return -1;
        }
    }
    char *p = realloc(b->p, cap);
    if (!p) {
        b->failed = 1;
        return -1;
    }
    b->p = p;
    b->cap = cap;
    return 0;
}

static void plot_printf(plot_buf *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static void plot_printf(plot_buf *b, const char *fmt, ...)
{
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->failed = 1;
        return;
    }
    if (plot_reserve(b, (size_t)n))
        return;
    if ((size_t)n < sizeof small) {
        memcpy(b->p + b->len, small, (size_t)n + 1);
    } else {
        va_start(ap, fmt);
        vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    b->len += (size_t)n;
}

static void plot_puts(plot_buf *b, const char *s)
{
    size_t n = strlen(s);
    if (plot_reserve(b, n))
        return;
    memcpy(b->p + b->len, s, n + 1);
    b->len += n;
}

/* Length of the well-formed UTF-8 sequence at s (1..4), or 0. */
static size_t plot_utf8_len(const unsigned char *s)
{
    unsigned c = s[0];
    size_t n;
    unsigned min;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
        min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        min = 0x10000;
    } else {
        return 0;
    }
    unsigned long cp = c & (0x7f >> n);
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) || cp == 0xfffe || cp == 0xffff)
        return 0;
    return n;
}

/* s as XML character data or attribute text: markup characters as
 * entities, control characters (not allowed in XML 1.0) and bytes that are
 * not UTF-8 as '?', at most max characters (then an ellipsis). Returns the
 * characters in s; with b NULL only counts them. */
static size_t plot_escape_n(plot_buf *b, const char *s, size_t max)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t chars = 0;
    while (*u) {
        size_t n = plot_utf8_len(u);
        if (n == 0)
            n = 1;
        if (b && chars == max) {
            plot_puts(b, "&#8230;");
            b = NULL;
        }
        chars++;
        if (!b) {
            u += n;
            continue;
        }
        switch (*u) {
        case '<': plot_puts(b, "&lt;"); break;
        case '>': plot_puts(b, "&gt;"); break;
        case '&': plot_puts(b, "&amp;"); break;
        case '"': plot_puts(b, "&quot;"); break;
        case '\'': plot_puts(b, "&apos;"); break;
        case '\n':
        case '\r': plot_puts(b, " "); break;
        default:
            if (plot_utf8_len(u) == 0 || (*u < 0x20 && *u != '\t') || *u == 0x7f) {
                plot_puts(b, "?");
            } else if (!plot_reserve(b, n)) {
                memcpy(b->p + b->len, u, n);
                b->len += n;
                b->p[b->len] = '\0';
            }
            break;
        }
        u += n;
    }
    return chars;
}

static void plot_escape(plot_buf *b, const char *s)
{
    plot_escape_n(b, s, (size_t)-1);
}

/* ---- the CSV log -------------------------------------------------------------------- */

static void plot_csv_num(plot_buf *b, int present, double v)
{
    if (present)
        plot_printf(b, ",%.9g", v);
    else
        plot_puts(b, ",");
}

static int plot_n_layers(const dcr_history *h)
{
    int L = h->n_layers;
    if (L < 0)
        L = 0;
    if (L > DCR_MAX_LAYERS)
        L = DCR_MAX_LAYERS;
    return L;
}

static int plot_any_deltas(const dcr_history *h)
{
    if (plot_n_layers(h) == 0)
        return 0;
    for (size_t i = 0; i < h->n; i++)
        if (h->v[i].has_deltas)
            return 1;
    return 0;
}

static int plot_finish(plot_buf *b, const char *path, const char *what, dcr_error *err)
{
    if (b->failed) {
        free(b->p);
        return dcr_fail(err, DCR_ERR_NOMEM, "%s: out of memory while writing the %s", path, what);
    }
    int rc = dcr_write_atomic(path, b->p, b->len, err);
    free(b->p);
    return rc;
}

int dcr_log_write_csv(const char *path, const dcr_history *h, dcr_error *err)
{
    if (!path || !h)
        return dcr_fail(err, DCR_ERR_USAGE, "dcr_log_write_csv: no path or no history");
    int L = plot_any_deltas(h) ? plot_n_layers(h) : 0;
    plot_buf b = {NULL, 0, 0, 0};
    plot_puts(&b, "epoch,lr,train_loss,train_acc,val_loss,val_acc,test_loss,test_acc,seconds");
    for (int l = 1; l <= L; l++)
        plot_printf(&b, ",delta_%d", l);
    plot_puts(&b, "\n");
    for (size_t i = 0; i < h->n; i++) {
        const dcr_epoch_stats *s = &h->v[i];
        int acc = h->classify != 0;
        plot_printf(&b, "%llu", (unsigned long long)s->epoch);
        plot_csv_num(&b, 1, s->lr);
        plot_csv_num(&b, 1, s->train_loss);
        plot_csv_num(&b, acc && s->train_acc >= 0, s->train_acc);
        plot_csv_num(&b, s->has_val, s->val_loss);
        plot_csv_num(&b, s->has_val && acc && s->val_acc >= 0, s->val_acc);
        plot_csv_num(&b, s->has_test, s->test_loss);
        plot_csv_num(&b, s->has_test && acc && s->test_acc >= 0, s->test_acc);
        plot_csv_num(&b, 1, s->seconds);
        for (int l = 1; l <= L; l++)
            plot_csv_num(&b, s->has_deltas, s->delta_mean[l]);
        plot_puts(&b, "\n");
    }
    return plot_finish(&b, path, "log", err);
}

/* ---- the SVG plot ------------------------------------------------------------------- */

/* geometry, in SVG user units (pixels) */
#define PLOT_LEFT 86       /* left of the plot areas: y tick labels and title */
#define PLOT_W 620         /* width of a plot area */
#define PLOT_H 220         /* height of a plot area */
#define PLOT_TOP 46        /* the title's band */
#define PLOT_HEAD 26       /* a panel's heading, above its plot area */
#define PLOT_FOOT 46       /* x tick labels and the axis title, below a plot area */
#define PLOT_GAP 14        /* between panels */
#define PLOT_LEG_GAP 22    /* between a plot area and its legend */
#define PLOT_LEG_ROW 18    /* legend line height */
#define PLOT_LEG_COL 96    /* legend column width */
#define PLOT_MARGIN 16     /* right and bottom */
#define PLOT_MARKERS 25    /* dots on the points when there are at most this many epochs */
#define PLOT_MAX_SERIES (DCR_MAX_LAYERS + 1)
#define PLOT_HUGE 1e300    /* larger magnitudes are clamped */

enum { PLOT_TRAIN_LOSS, PLOT_VAL_LOSS, PLOT_TEST_LOSS, PLOT_TRAIN_ACC, PLOT_VAL_ACC, PLOT_TEST_ACC,
       PLOT_DELTA };

static const char *const plot_colors[10] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                            "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
static const char *const plot_dashes[4] = {NULL, "7 4", "2 3", "10 3 2 3"};

typedef struct {
    char name[24];
    int kind, layer;
    const char *color, *dash;
} plot_series;

typedef struct {
    const char *heading, *ytitle;
    int log;
    int unit; /* values in [0, 1]: so is the axis */
    int n;
    plot_series s[PLOT_MAX_SERIES];
} plot_panel;

/* the value of a series at record s, or NAN when it has none there */
static double plot_value(const dcr_history *h, const dcr_epoch_stats *s, int kind, int layer)
{
    int acc = h->classify != 0;
    double v = NAN;
    switch (kind) {
    case PLOT_TRAIN_LOSS: v = s->train_loss; break;
    case PLOT_VAL_LOSS: v = s->has_val ? s->val_loss : NAN; break;
    case PLOT_TEST_LOSS: v = s->has_test ? s->test_loss : NAN; break;
    case PLOT_TRAIN_ACC: v = acc && s->train_acc >= 0 ? s->train_acc : NAN; break;
    case PLOT_VAL_ACC: v = acc && s->has_val && s->val_acc >= 0 ? s->val_acc : NAN; break;
    case PLOT_TEST_ACC: v = acc && s->has_test && s->test_acc >= 0 ? s->test_acc : NAN; break;
    case PLOT_DELTA:
        v = s->has_deltas && layer >= 1 && layer <= plot_n_layers(h) ? s->delta_mean[layer] : NAN;
        if (!(v > 0)) /* nothing at or below zero on a log axis */
            v = NAN;
        break;
    default: break;
    }
    if (!isfinite(v))
        return NAN;
    return v;
}

static size_t plot_count(const dcr_history *h, int kind, int layer)
{
    size_t n = 0;
    for (size_t i = 0; i < h->n; i++)
        if (!isnan(plot_value(h, &h->v[i], kind, layer)))
            n++;
    return n;
}

static void plot_add(plot_panel *p, const dcr_history *h, int kind, int layer, const char *name,
                     const char *color, const char *dash)
{
    if (p->n >= PLOT_MAX_SERIES || plot_count(h, kind, layer) == 0)
        return;
    plot_series *s = &p->s[p->n++];
    snprintf(s->name, sizeof s->name, "%s", name);
    s->kind = kind;
    s->layer = layer;
    s->color = color;
    s->dash = dash;
}

static double plot_clamp(double v)
{
    return v > PLOT_HUGE ? PLOT_HUGE : v < -PLOT_HUGE ? -PLOT_HUGE : v;
}

/* 1, 2 or 5 times a power of ten near x > 0: the nearest when nearest,
 * else the next at or above */
static double plot_nice(double x, int nearest)
{
    double e = floor(log10(x)), p = pow(10, e), f = x / p, n;
    if (nearest)
        n = f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10;
    else
        n = f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10;
    return n * p;
}

/* An axis: lo..hi in data units (log10 of them on a log axis), ticks
 * first, first + step, ... up to hi. */
typedef struct {
    double lo, hi, step;
    int log;
    int exp_fmt;  /* labels as 1.5e+07 */
    int digits;   /* decimals (or mantissa digits with exp_fmt) */
} plot_axis;

/* a linear axis around data in [lo, hi] with about `want` intervals */
static void plot_linear_axis(plot_axis *a, double lo, double hi, int want, int integer)
{
    memset(a, 0, sizeof *a);
    double mag = fmax(fabs(lo), fabs(hi));
    if (!(hi - lo > 1e-290) || hi - lo <= mag * 1e-9) { /* constant, for the axis */
        double m = lo / 2 + hi / 2, d = fabs(m) * 0.1;
        if (m == 0 && !integer) {
            lo = 0;
            hi = 1;
        } else if (d < 1e-290) {
            lo = m - 1;
            hi = m + 1;
        } else {
            lo = m - d;
            hi = m + d;
        }
    }
    double step = plot_nice(plot_nice(hi - lo, 0) / want, 1);
    if (integer && step < 1)
        step = 1;
    a->lo = floor(lo / step) * step;
    a->hi = ceil(hi / step) * step;
    if (a->hi <= a->lo)
        a->hi = a->lo + step;
    a->step = step;
    int ks = (int)floor(log10(step) + 1e-9);
    double top = fmax(fabs(a->lo), fabs(a->hi));
    if (top >= 1e6 || top < 1e-4) {
        a->exp_fmt = 1;
        int d = (int)floor(log10(top) + 1e-9) - ks;
        a->digits = d < 0 ? 0 : d > 8 ? 8 : d;
    } else {
        a->digits = ks >= 0 ? 0 : -ks > 10 ? 10 : -ks;
    }
}

/* a log axis (in decades) around positive data in [lo, hi] */
static void plot_log_axis(plot_axis *a, double lo, double hi)
{
    memset(a, 0, sizeof *a);
    a->log = 1;
    double l0 = floor(log10(lo) + 1e-9), l1 = ceil(log10(hi) - 1e-9);
    if (l1 <= l0) {
        l0 -= 1;
        l1 += 1;
    }
    double k = ceil((l1 - l0) / 8);
    if (k < 1)
        k = 1;
    a->lo = floor(l0 / k) * k;
    a->hi = ceil(l1 / k) * k;
    a->step = k;
}

/* m 10^e on log axis a: written out within 0.01 .. 1000, else with a
 * superscript exponent */
static void plot_log_label(plot_buf *b, const plot_axis *a, int e, int m)
{
    if (a->lo >= -2 && a->hi <= 3) {
        plot_printf(b, "%.*f", e < 0 ? -e : 0, m * pow(10, e));
        return;
    }
    if (m != 1)
        plot_printf(b, "%d&#215;", m);
    plot_puts(b, "10<tspan dy=\"-6\" font-size=\"9\">");
    if (e < 0)
        plot_printf(b, "&#8722;%d", -e);
    else
        plot_printf(b, "%d", e);
    plot_puts(b, "</tspan>");
}

static void plot_tick_label(plot_buf *b, const plot_axis *a, double v, double x, double y,
                            const char *anchor)
{
    plot_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\">", x, y, anchor);
    if (a->log) {
        plot_log_label(b, a, (int)floor(v + 0.5), 1);
    } else {
        if (fabs(v) < a->step * 1e-6)
            v = 0;
        char t[48];
        if (a->exp_fmt)
            snprintf(t, sizeof t, "%.*e", a->digits, v);
        else
            snprintf(t, sizeof t, "%.*f", a->digits, v);
        plot_puts(b, t[0] == '-' ? "&#8722;" : "");
        plot_puts(b, t[0] == '-' ? t + 1 : t);
    }
    plot_puts(b, "</text>\n");
}

/* pixel of data value v on axis a spanning [p0, p1] pixels */
static double plot_px(const plot_axis *a, double v, double p0, double p1)
{
    if (a->log)
        v = log10(v);
    else
        v = plot_clamp(v);
    double t = (v - a->lo) / (a->hi - a->lo);
    if (!(t >= 0))
        t = 0;
    if (t > 1)
        t = 1;
    return p0 + t * (p1 - p0);
}

static void plot_stroke(plot_buf *b, const plot_series *s)
{
    plot_printf(b, "stroke=\"%s\" stroke-width=\"2\"", s->color);
    if (s->dash)
        plot_printf(b, " stroke-dasharray=\"%s\"", s->dash);
}

/* legend size for n entries beside a plot area */
static int plot_leg_rows(void)
{
    return (PLOT_H - 8) / PLOT_LEG_ROW;
}

static int plot_leg_width(int n)
{
    int rows = plot_leg_rows(), cols = (n + rows - 1) / rows;
    return cols * PLOT_LEG_COL;
}

static void plot_draw_panel(plot_buf *b, const dcr_history *h, const plot_panel *p, double top,
                            const plot_axis *ax)
{
    double x0 = PLOT_LEFT, x1 = PLOT_LEFT + PLOT_W, y0 = top + PLOT_HEAD, y1 = y0 + PLOT_H;

    /* the y axis from the data */
    double lo = INFINITY, hi = -INFINITY;
    for (int k = 0; k < p->n; k++)
        for (size_t i = 0; i < h->n; i++) {
            double v = plot_value(h, &h->v[i], p->s[k].kind, p->s[k].layer);
            if (isnan(v))
                continue;
            v = p->log ? v : plot_clamp(v);
            lo = fmin(lo, v);
            hi = fmax(hi, v);
        }
    int empty = !(lo <= hi);
    plot_axis ay;
    if (p->log)
        plot_log_axis(&ay, empty ? 1e-3 : lo, empty ? 1 : hi);
    else
        plot_linear_axis(&ay, empty ? 0 : lo, empty ? 1 : hi, 5, 0);
    if (p->unit && !empty) { /* 1 and 0 are multiples of every step */
        if (ay.hi > 1 && hi <= 1)
            ay.hi = 1;
        if (ay.lo < 0 && lo >= 0)
            ay.lo = 0;
    }

    plot_printf(b, "<g>\n<text x=\"%.1f\" y=\"%.1f\" font-size=\"14\" font-weight=\"bold\">%s</text>\n", x0,
                top + 17, p->heading);
    plot_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%d\" height=\"%d\" fill=\"#fbfbfb\" stroke=\"none\"/>\n",
                x0, y0, PLOT_W, PLOT_H);

    /* grid lines and y ticks */
    plot_puts(b, "<g stroke=\"#e2e2e2\" stroke-width=\"1\">\n");
    int ny = (int)floor((ay.hi - ay.lo) / ay.step + 0.5);
    for (int i = 0; i <= ny; i++) {
        double y = y1 - (double)i / ny * PLOT_H;
        plot_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", x0, y, x1, y);
    }
    int nx = (int)floor((ax->hi - ax->lo) / ax->step + 0.5);
    for (int i = 0; i <= nx; i++) {
        double x = x0 + (double)i / nx * PLOT_W;
        plot_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", x, y0, x, y1);
    }
    plot_puts(b, "</g>\n");
    /* minor ticks on a log axis of single decades */
    int minor = p->log && ay.step == 1 && ny <= 10;
    if (minor) {
        plot_puts(b, "<g stroke=\"#555\" stroke-width=\"1\">\n");
        for (int i = 0; i < ny; i++)
            for (int m = 2; m <= 9; m++) {
                double y = y1 - (i + log10(m)) / ny * PLOT_H;
                plot_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", x0 - 3, y, x0, y);
            }
        plot_puts(b, "</g>\n");
        if (ny <= 2) { /* few decades: label 2 and 5 times each too */
            plot_puts(b, "<g fill=\"#222\">\n");
            for (int i = 0; i < ny; i++)
                for (int m = 2; m <= 5; m += 3) {
                    double y = y1 - (i + log10(m)) / ny * PLOT_H;
                    plot_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">", x0 - 9, y + 4);
                    plot_log_label(b, &ay, (int)floor(ay.lo + i + 0.5), m);
                    plot_puts(b, "</text>\n");
                }
            plot_puts(b, "</g>\n");
        }
    }
    /* the frame and the major tick marks */
    plot_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#333\"/>\n",
                x0, y0, PLOT_W, PLOT_H);
    plot_puts(b, "<g stroke=\"#333\" stroke-width=\"1\">\n");
    for (int i = 0; i <= ny; i++) {
        double y = y1 - (double)i / ny * PLOT_H;
        plot_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", x0 - 6, y, x0, y);
    }
    for (int i = 0; i <= nx; i++) {
        double x = x0 + (double)i / nx * PLOT_W;
        plot_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", x, y1, x, y1 + 6);
    }
    plot_puts(b, "</g>\n<g fill=\"#222\">\n");
    for (int i = 0; i <= ny; i++)
        plot_tick_label(b, &ay, ay.lo + i * ay.step, x0 - 9, y1 - (double)i / ny * PLOT_H + 4, "end");
    for (int i = 0; i <= nx; i++)
        plot_tick_label(b, ax, ax->lo + i * ax->step, x0 + (double)i / nx * PLOT_W, y1 + 20, "middle");
    plot_puts(b, "</g>\n");
    /* axis titles */
    plot_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"13\">epoch</text>\n",
                x0 + PLOT_W / 2.0, y1 + 39);
    plot_printf(b,
                "<text transform=\"translate(%d,%.1f) rotate(-90)\" text-anchor=\"middle\" "
                "font-size=\"13\">%s</text>\n",
                18, y0 + PLOT_H / 2.0, p->ytitle);
    if (empty)
        plot_printf(b,
                    "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"14\" "
                    "fill=\"#888\">no data</text>\n",
                    x0 + PLOT_W / 2.0, y0 + PLOT_H / 2.0);

    /* the curves */
    for (int k = 0; k < p->n; k++) {
        const plot_series *s = &p->s[k];
        plot_puts(b, "<polyline fill=\"none\" ");
        plot_stroke(b, s);
        plot_puts(b, " stroke-linejoin=\"round\" points=\"");
        int first = 1;
        for (size_t i = 0; i < h->n; i++) {
            double v = plot_value(h, &h->v[i], s->kind, s->layer);
            if (isnan(v))
                continue;
            plot_printf(b, "%s%.1f,%.1f", first ? "" : " ", plot_px(ax, (double)h->v[i].epoch, x0, x1),
                        plot_px(&ay, v, y1, y0));
            first = 0;
        }
        plot_puts(b, "\"/>\n");
        if (h->n <= PLOT_MARKERS || plot_count(h, s->kind, s->layer) == 1) {
            plot_printf(b, "<g fill=\"%s\">", s->color);
            for (size_t i = 0; i < h->n; i++) {
                double v = plot_value(h, &h->v[i], s->kind, s->layer);
                if (!isnan(v))
                    plot_printf(b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\"/>",
                                plot_px(ax, (double)h->v[i].epoch, x0, x1), plot_px(&ay, v, y1, y0));
            }
            plot_puts(b, "</g>\n");
        }
    }

    /* the legend */
    int rows = plot_leg_rows();
    for (int k = 0; k < p->n; k++) {
        double lx = x1 + PLOT_LEG_GAP + (k / rows) * PLOT_LEG_COL;
        double ly = y0 + 12 + (k % rows) * PLOT_LEG_ROW;
        plot_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" ", lx, ly - 4, lx + 26, ly - 4);
        plot_stroke(b, &p->s[k]);
        plot_printf(b, "/>\n<text x=\"%.1f\" y=\"%.1f\">", lx + 32, ly);
        plot_escape(b, p->s[k].name);
        plot_puts(b, "</text>\n");
    }
    plot_puts(b, "</g>\n");
}

int dcr_plot_write_svg(const char *path, const dcr_history *h, const char *title, dcr_error *err)
{
    if (!path || !h)
        return dcr_fail(err, DCR_ERR_USAGE, "dcr_plot_write_svg: no path or no history");
    plot_panel *pl = calloc(3, sizeof *pl); /* loss, accuracy, deltas */
    if (!pl)
        return dcr_fail(err, DCR_ERR_NOMEM, "%s: out of memory while writing the plot", path);
    int np = 0;

    plot_panel *p = &pl[np++];
    p->heading = "Loss";
    p->ytitle = "loss";
    plot_add(p, h, PLOT_TRAIN_LOSS, 0, "training", plot_colors[0], plot_dashes[0]);
    plot_add(p, h, PLOT_VAL_LOSS, 0, "validation", plot_colors[1], plot_dashes[1]);
    plot_add(p, h, PLOT_TEST_LOSS, 0, "test", plot_colors[2], plot_dashes[3]);
    if (h->classify) {
        p = &pl[np];
        p->heading = "Accuracy";
        p->ytitle = "accuracy";
        p->unit = 1;
        plot_add(p, h, PLOT_TRAIN_ACC, 0, "training", plot_colors[0], plot_dashes[0]);
        plot_add(p, h, PLOT_VAL_ACC, 0, "validation", plot_colors[1], plot_dashes[1]);
        plot_add(p, h, PLOT_TEST_ACC, 0, "test", plot_colors[2], plot_dashes[3]);
        if (p->n)
            np++;
    }
    p = &pl[np];
    p->heading = "Mean |&#948;| per layer (log scale)";
    p->ytitle = "mean |&#948;|";
    p->log = 1;
    for (int l = 1; l <= plot_n_layers(h); l++) {
        char name[24];
        snprintf(name, sizeof name, "layer %d", l);
        plot_add(p, h, PLOT_DELTA, l, name, plot_colors[(l - 1) % 10], plot_dashes[(l - 1) / 10 % 4]);
    }
    if (p->n)
        np++;

    /* the shared epoch axis */
    double elo = INFINITY, ehi = -INFINITY;
    for (size_t i = 0; i < h->n; i++) {
        elo = fmin(elo, (double)h->v[i].epoch);
        ehi = fmax(ehi, (double)h->v[i].epoch);
    }
    if (!(elo <= ehi))
        elo = ehi = 1;
    plot_axis ax;
    plot_linear_axis(&ax, elo, ehi, 6, 1);
    if (ax.lo < 0) {
        ax.hi -= ax.lo;
        ax.lo = 0;
    }

    int leg = 0;
    for (int i = 0; i < np; i++) {
        int w = plot_leg_width(pl[i].n);
        leg = w > leg ? w : leg;
    }
    int width = PLOT_LEFT + PLOT_W + PLOT_LEG_GAP + (leg ? leg : PLOT_LEG_COL) + PLOT_MARGIN;
    int height = PLOT_TOP + np * (PLOT_HEAD + PLOT_H + PLOT_FOOT) + (np - 1) * PLOT_GAP + PLOT_MARGIN;

    plot_buf b = {NULL, 0, 0, 0};
    plot_printf(&b,
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
                "font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\" font-size=\"12\">\n",
                width, height, width, height);
    const char *t = title && *title ? title : "deltac training";
    plot_puts(&b, "<title>");
    plot_escape(&b, t);
    plot_puts(&b, "</title>\n");
    plot_puts(&b, "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n");
    /* a title too long for the picture gets a smaller font, then an
     * ellipsis (a bold character is about 0.62 em wide, 'x' 0.66, 'W' 1) */
    double avail = width - 2 * PLOT_MARGIN, fs = 17;
    size_t chars = plot_escape_n(NULL, t, 0), max = (size_t)-1;
    if (chars * 0.62 * fs > avail) {
        fs = avail / (chars * 0.62);
        if (fs < 11) {
            fs = 11;
            max = (size_t)(avail / (0.72 * fs)) - 1;
        }
    }
    plot_printf(&b, "<text x=\"%.1f\" y=\"30\" text-anchor=\"middle\" font-size=\"%.1f\" font-weight=\"bold\">",
                width / 2.0, fs);
    plot_escape_n(&b, t, max);
    plot_puts(&b, "</text>\n");

    for (int i = 0; i < np; i++)
        plot_draw_panel(&b, h, &pl[i], PLOT_TOP + i * (PLOT_HEAD + PLOT_H + PLOT_FOOT + PLOT_GAP), &ax);
    plot_puts(&b, "</svg>\n");
    free(pl);
    return plot_finish(&b, path, "plot", err);
}
