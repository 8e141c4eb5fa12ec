/* progress.c: what training prints while it runs (docs/plots.md).
 *
 * On a terminal, a bar for the epoch under way, redrawn in place with '\r'
 * at most every PROG_REDRAW seconds and wiped with spaces (no escape
 * sequences) before anything else is printed:
 *
 *   epoch   3 [####............]  17,408/60,000  41,800 samples/s  ETA 0:00:01
 *
 * and, on terminals and elsewhere alike, one line per epoch (plus a line of
 * mean |delta| per layer when they are traced), flushed at once. The epoch
 * line's format is documented in docs/plots.md and tests rely on it.
 *
 * Like every runtime file, this one is also pasted into standalone trainers
 * compiled as C99: file-scope names carry the prog_ prefix. */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dcr_internal.h"

#define PROG_REDRAW 0.1 /* seconds between two drawings of the bar */
#define PROG_BAR 16     /* cells in the bar: the line stays within 80 columns */
#define PROG_LINE 160   /* longest bar line */

struct dcr_progress {
    FILE *out;
    int tty;
    double last_draw;  /* when the bar was last drawn (or the object made) */
    size_t shown;      /* characters of the bar on screen now; 0: none */
    uint64_t epoch;    /* the epoch the batch counts belong to */
    int have_epoch;
    double t_mark;     /* when the previous epoch ended (or the object was made) */
    int has_mark;      /* t_mark not yet used by an epoch */
    double t_start;    /* start of the rate measurement for this epoch */
    size_t done_start; /* samples done at t_start */
};

static double prog_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* v with a comma every three digits */
static void prog_group(char *buf, size_t size, unsigned long long v)
{
    char digits[32];
    int n = snprintf(digits, sizeof digits, "%llu", v);
    size_t j = 0;
    for (int i = 0; i < n && j + 1 < size; i++) {
        if (i > 0 && (n - i) % 3 == 0 && j + 2 < size)
            buf[j++] = ',';
        buf[j++] = digits[i];
    }
    buf[j] = '\0';
}

dcr_progress *dcr_progress_new(FILE *out, int tty)
{
    dcr_progress *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->out = out;
    p->tty = tty != 0;
    p->t_mark = p->last_draw = prog_now();
    p->has_mark = 1;
    return p;
}

/* wipes the bar off the terminal line */
static void prog_clear(dcr_progress *p)
{
    if (!p->shown)
        return;
    fputc('\r', p->out);
    for (size_t i = 0; i < p->shown; i++)
        fputc(' ', p->out);
    fputc('\r', p->out);
    p->shown = 0;
}

void dcr_progress_batch(dcr_progress *p, uint64_t epoch, size_t done, size_t total)
{
    if (!p || !p->out || !p->tty || total == 0)
        return;
    double t = prog_now();
    if (!p->have_epoch || epoch != p->epoch || done < p->done_start) {
        /* a new epoch: measure from the end of the previous one when we saw
         * it end, else from this first report */
        p->have_epoch = 1;
        p->epoch = epoch;
        if (p->has_mark) {
            p->t_start = p->t_mark;
            p->done_start = 0;
            p->has_mark = 0;
        } else {
            p->t_start = t;
            p->done_start = done;
        }
    }
    if (t - p->last_draw < PROG_REDRAW)
        return;
    p->last_draw = t;
    if (done > total)
        done = total;

    char line[PROG_LINE], sdone[32], stotal[32], srate[32], seta[32];
    char bar[PROG_BAR + 1];
    size_t fill = (size_t)((double)done / (double)total * PROG_BAR);
    for (size_t i = 0; i < PROG_BAR; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[PROG_BAR] = '\0';
    prog_group(sdone, sizeof sdone, (unsigned long long)done);
    prog_group(stotal, sizeof stotal, (unsigned long long)total);
    double dt = t - p->t_start, rate = dt > 0 ? (double)(done - p->done_start) / dt : 0;
    if (rate > 0 && rate < 1e18) {
        prog_group(srate, sizeof srate, (unsigned long long)(rate + 0.5));
        double eta = (double)(total - done) / rate;
        if (eta < 360000) {
            unsigned long s = (unsigned long)(eta + 0.5);
            snprintf(seta, sizeof seta, "%lu:%02lu:%02lu", s / 3600, s / 60 % 60, s % 60);
        } else {
            snprintf(seta, sizeof seta, "--:--:--");
        }
    } else {
        snprintf(srate, sizeof srate, "--");
        snprintf(seta, sizeof seta, "--:--:--");
    }
    int n = snprintf(line, sizeof line, "epoch %3llu [%s]  %s/%s  %s samples/s  ETA %s",
                     (unsigned long long)epoch, bar, sdone, stotal, srate, seta);
    if (n < 0)
        return;
    size_t len = (size_t)n < sizeof line ? (size_t)n : sizeof line - 1;
    fputc('\r', p->out);
    fputs(line, p->out);
    for (size_t i = len; i < p->shown; i++) /* the rest of a longer, older bar */
        fputc(' ', p->out);
    p->shown = len > p->shown ? len : p->shown;
    fflush(p->out);
}

void dcr_progress_epoch(dcr_progress *p, const dcr_epoch_stats *s, int classify, int n_layers)
{
    if (!p || !p->out || !s)
        return;
    FILE *o = p->out;
    prog_clear(p);
    fprintf(o, "epoch %4llu  loss %.6f", (unsigned long long)s->epoch, s->train_loss);
    if (classify && s->train_acc >= 0)
        fprintf(o, "  train acc %.4f", s->train_acc);
    if (s->has_val) {
        fprintf(o, "  val loss %.6f", s->val_loss);
        if (classify && s->val_acc >= 0)
            fprintf(o, "  val acc %.4f", s->val_acc);
    }
    if (s->has_test) {
        fprintf(o, "  test loss %.6f", s->test_loss);
        if (classify && s->test_acc >= 0)
            fprintf(o, "  test acc %.4f", s->test_acc);
    }
    fprintf(o, "  lr %g  (%.1f ms)\n", s->lr, 1e3 * s->seconds);
    if (s->has_deltas && n_layers > 0) {
        if (n_layers > DCR_MAX_LAYERS)
            n_layers = DCR_MAX_LAYERS;
        fputs("           |d|", o);
        for (int l = 1; l <= n_layers; l++)
            fprintf(o, " %.2e", s->delta_mean[l]);
        fputc('\n', o);
    }
    fflush(o);
    /* the next epoch starts now */
    p->t_mark = prog_now();
    p->has_mark = 1;
    p->have_epoch = 0;
}

void dcr_progress_free(dcr_progress *p)
{
    if (!p)
        return;
    if (p->out) {
        prog_clear(p);
        fflush(p->out);
    }
    free(p);
}
