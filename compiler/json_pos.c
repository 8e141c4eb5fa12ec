/* json_pos.c: cJSON keeps no positions, so after a successful parse we walk
 * the same text once more, in the same order as cJSON built the tree, and
 * record where each item's key and value begin. The text is known to be
 * valid JSON at this point, which keeps the walker small. */
#include <string.h>

#include "internal.h"

typedef struct {
    const char *t;
    size_t len, i;
    dc_jpos *out;
    int oom;
} walker;

static void skip_ws(walker *w)
{
    /* cJSON treats every byte <= 32 as white space. */
    while (w->i < w->len && (unsigned char)w->t[w->i] <= 32)
        w->i++;
}

static void skip_string(walker *w)
{
    w->i++; /* opening quote */
    while (w->i < w->len && w->t[w->i] != '"')
        w->i += (w->t[w->i] == '\\') ? 2 : 1;
    w->i++; /* closing quote */
}

static void record(walker *w, const cJSON *item, size_t key_off, size_t val_off)
{
    if (w->out->n == w->out->cap) {
        size_t cap = w->out->cap ? 2 * w->out->cap : 64;
        dc_jpos_entry *v = realloc(w->out->v, cap * sizeof *v);
        if (!v) {
            w->oom = 1;
            return;
        }
        w->out->v = v;
        w->out->cap = cap;
    }
    w->out->v[w->out->n++] = (dc_jpos_entry){item, key_off, val_off};
}

static void walk_value(walker *w, const cJSON *item, size_t key_off)
{
    skip_ws(w);
    size_t at = w->i;
    record(w, item, key_off == (size_t)-1 ? at : key_off, at);
    if (w->i >= w->len)
        return;
    char c = w->t[w->i];
    if (c == '{' || c == '[') {
        char close = c == '{' ? '}' : ']';
        w->i++;
        for (const cJSON *ch = item->child; ch && w->i < w->len; ch = ch->next) {
            skip_ws(w);
            size_t k = (size_t)-1;
            if (c == '{') {
                k = w->i;
                skip_string(w);
                skip_ws(w);
                w->i++; /* ':' */
            }
            walk_value(w, ch, k);
            skip_ws(w);
            if (w->i < w->len && w->t[w->i] == ',')
                w->i++;
        }
        skip_ws(w);
        if (w->i < w->len && w->t[w->i] == close)
            w->i++;
    } else if (c == '"') {
        skip_string(w);
    } else {
        while (w->i < w->len && (unsigned char)w->t[w->i] > 32 && !strchr(",]}", w->t[w->i]))
            w->i++;
    }
}

int dc_jpos_build(dc_jpos *out, const cJSON *root, const char *text, size_t len)
{
    memset(out, 0, sizeof *out);
    walker w = {text, len, 0, out, 0};
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
        w.i = 3;
    walk_value(&w, root, (size_t)-1);
    if (w.oom) {
        dc_jpos_free(out);
        return -1;
    }
    return 0;
}

void dc_jpos_free(dc_jpos *p)
{
    free(p->v);
    memset(p, 0, sizeof *p);
}

static const dc_jpos_entry *find(const dc_jpos *p, const cJSON *item)
{
    for (size_t i = 0; i < p->n; i++)
        if (p->v[i].item == item)
            return &p->v[i];
    return NULL;
}

size_t dc_jpos_value(const dc_jpos *p, const cJSON *item)
{
    const dc_jpos_entry *e = find(p, item);
    return e ? e->val_off : 0;
}

size_t dc_jpos_key(const dc_jpos *p, const cJSON *item)
{
    const dc_jpos_entry *e = find(p, item);
    return e ? e->key_off : 0;
}

void dc_line_col(int *line, int *col, const char *text, size_t len, size_t off)
{
    int l = 1, c = 1;
    for (size_t i = 0; i < off && i < len; i++) {
        if (text[i] == '\n') {
            l++;
            c = 1;
        } else {
            c++;
        }
    }
    *line = l;
    *col = c;
}

size_t dc_json_too_deep(const char *text, size_t len, int limit)
{
    int depth = 0, in_str = 0;
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        if (in_str) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_str = 0;
        } else if (c == '"') {
            in_str = 1;
        } else if (c == '{' || c == '[') {
            if (++depth > limit)
                return i;
        } else if (c == '}' || c == ']') {
            depth--;
        }
    }
    return (size_t)-1;
}
