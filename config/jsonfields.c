/* SPDX-License-Identifier: MIT */
/*
 * jsonfields.c - the table-driven strict JSON reader/writer (see the header
 * for the rules). cJSON does the tokenising; everything cJSON lets through
 * that a config file must not contain (duplicate keys, inf from 1e999,
 * fractions where an integer belongs, unknown keys) is caught here.
 *
 * Every error names the JSON path, the offending value and the rule. The
 * walk recurses once per table level, so its depth is fixed by the tables;
 * input nesting is capped before cJSON parses (cJSON itself would accept
 * 1000 levels). Pure functions, any thread; the caller owns all memory.
 */
#include "jsonfields.h"

#include <assert.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define JF_DESC_MAX 80  /* a value as shown in a message */
#define JF_KEY_SHOW 48  /* longest key or string shown */
#define JF_LEV_MAX  64  /* keys compared for "did you mean" */
#define JF_ERR_LIST 200 /* lists of names in a message */

static const char *jf_show(const char *path)
{
    return path[0] ? path : "(top level)";
}

/* c as shown inside a quoted message: plain printable ASCII other than
 * quote and backslash as itself, anything else as '?'. */
static char jf_shown(char c)
{
    if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') {
        return '?';
    }
    return c;
}

/* s with quotes, control and non-ASCII bytes as '?', cut at max chars. */
static void jf_quote(const char *s, size_t max, char *buf, size_t n)
{
    size_t o = 0;
    size_t i;

    if (n < 8) {
        buf[0] = '\0';
        return;
    }
    buf[o++] = '"';
    for (i = 0; s[i] && i < max && o + 5 < n; i++) {
        buf[o++] = jf_shown(s[i]);
    }
    if (s[i]) {
        buf[o++] = '.';
        buf[o++] = '.';
        buf[o++] = '.';
    }
    buf[o++] = '"';
    buf[o] = '\0';
}

/* How a JSON value reads in a message: 12.5, "text", true, an object... */
void jsonfields_describe(const cJSON *item, char *buf, size_t n)
{
    if (cJSON_IsNumber(item)) {
        (void)snprintf(buf, n, "%.10g", item->valuedouble);
    } else if (cJSON_IsString(item)) {
        jf_quote(item->valuestring ? item->valuestring : "", JF_KEY_SHOW, buf, n);
    } else if (cJSON_IsBool(item)) {
        (void)snprintf(buf, n, "%s", cJSON_IsTrue(item) ? "true" : "false");
    } else if (cJSON_IsArray(item)) {
        (void)snprintf(buf, n, "array of %d values", cJSON_GetArraySize(item));
    } else if (cJSON_IsObject(item)) {
        (void)snprintf(buf, n, "an object");
    } else {
        (void)snprintf(buf, n, "null");
    }
}

static void jf_path_key(char *dst, size_t n, const char *parent, const char *key)
{
    if (parent[0]) {
        (void)snprintf(dst, n, "%s.%s", parent, key);
    } else {
        (void)snprintf(dst, n, "%s", key);
    }
}

static void jf_path_index(char *dst, size_t n, const char *parent, int i)
{
    (void)snprintf(dst, n, "%s[%d]", parent, i);
}

/* ---- loading ---------------------------------------------------------- */

static void jf_line_col(const char *text, size_t pos, int *line, int *col)
{
    *line = 1;
    *col = 1;
    for (size_t i = 0; i < pos; i++) {
        if (text[i] == '\n') {
            (*line)++;
            *col = 1;
        } else {
            (*col)++;
        }
    }
}

static int
jf_load_error(struct error_detail *ed, const char *text, size_t len, size_t pos, const char *what)
{
    char near[24];
    char tail[40];
    size_t k = 0;
    int line;
    int col;

    pos = pos > len ? len : pos;
    jf_line_col(text, pos, &line, &col);
    for (size_t i = pos; i < len && k + 1 < sizeof(near) && text[i] != '\n'; i++) {
        near[k++] = jf_shown(text[i]);
    }
    near[k] = '\0';
    if (k) {
        (void)snprintf(tail, sizeof(tail), "near \"%s\"", near);
    } else {
        (void)snprintf(tail, sizeof(tail), "at end of %s", pos < len ? "line" : "input");
    }
    return error_setf(ed, ERROR_PARSE, "line %d, column %d: %s (%s)", line, col, what, tail);
}

/* Position of the first bracket nested deeper than the cap, or len. */
static size_t jf_too_deep(const char *text, size_t len)
{
    int depth = 0;
    int in_str = 0;
    int esc = 0;

    for (size_t i = 0; i < len; i++) {
        char c = text[i];

        if (in_str) {
            if (esc) {
                esc = 0;
            } else if (c == '\\') {
                esc = 1;
            } else if (c == '"') {
                in_str = 0;
            }
        } else if (c == '"') {
            in_str = 1;
        } else if (c == '[' || c == '{') {
            if (++depth > JSONFIELDS_NESTING_MAX) {
                return i;
            }
        } else if (c == ']' || c == '}') {
            depth--;
        }
    }
    return len;
}

static int jf_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

int jsonfields_load(const char *text,
                    size_t len,
                    size_t max_bytes,
                    cJSON **out,
                    struct error_detail *ed)
{
    const char *nul;
    const char *end = NULL;
    cJSON *root = NULL;
    size_t i = 0;
    size_t deep;
    char what[40];
    int rc = ERROR_OK;

    *out = NULL;
    if (len > max_bytes) {
        return error_setf(ed,
                          ERROR_RANGE,
                          "input is %zu bytes: must be at most %zu bytes",
                          len,
                          max_bytes);
    }
    nul = memchr(text, '\0', len);
    if (nul) {
        return jf_load_error(ed,
                             text,
                             len,
                             (size_t)(nul - text),
                             "NUL byte: JSON text must not contain NUL bytes");
    }
    while (i < len && jf_space(text[i])) {
        i++;
    }
    if (i == len) {
        return error_setf(ed, ERROR_PARSE, "empty input: expected a JSON object");
    }
    deep = jf_too_deep(text, len);
    if (deep < len) {
        (void)snprintf(what, sizeof(what), "nesting deeper than %d levels", JSONFIELDS_NESTING_MAX);
        return jf_load_error(ed, text, len, deep, what);
    }
    root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (!root) {
        return jf_load_error(ed, text, len, end ? (size_t)(end - text) : 0, "malformed JSON");
    }
    i = (size_t)(end - text);
    while (i < len && jf_space(text[i])) {
        i++;
    }
    if (i < len) {
        rc = jf_load_error(ed, text, len, i, "unexpected text after the JSON value");
        cJSON_Delete(root);
        root = NULL;
    }
    *out = root;
    return rc;
}

/* ---- scalar readers --------------------------------------------------- */

/* "path: value: rule" for item, the rule formatted from fmt. */
static int
jf_fail(struct error_detail *ed, const char *path, const cJSON *item, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int
jf_fail(struct error_detail *ed, const char *path, const cJSON *item, const char *fmt, ...)
{
    char desc[JF_DESC_MAX];
    char rule[JF_ERR_LIST + 40];
    va_list ap;

    jsonfields_describe(item, desc, sizeof(desc));
    va_start(ap, fmt);
    (void)vsnprintf(rule, sizeof(rule), fmt, ap);
    va_end(ap);
    return error_setf(ed, ERROR_INVALID, "%s: %s: %s", jf_show(path), desc, rule);
}

static int jf_number(const struct jsonfields_field *f,
                     const cJSON *item,
                     const char *path,
                     double *out,
                     struct error_detail *ed)
{
    double v = cJSON_IsNumber(item) ? item->valuedouble : 0;

    if (!cJSON_IsNumber(item)) {
        return jf_fail(ed, path, item, "must be a number");
    }
    if (!isfinite(v)) {
        return jf_fail(ed, path, item, "must be a finite number");
    }
    if (f->type == JSONFIELDS_INT && v != floor(v)) {
        return jf_fail(ed, path, item, "must be an integer");
    }
    if (v < f->min || v > f->max) {
        return jf_fail(ed, path, item, "must be in [%g, %g]", f->min, f->max);
    }
    *out = v;
    return ERROR_OK;
}

static int jf_string(const struct jsonfields_field *f,
                     const cJSON *item,
                     const char *path,
                     char *dst,
                     struct error_detail *ed)
{
    const char *s = cJSON_IsString(item) ? item->valuestring : NULL;
    size_t len = s ? strlen(s) : 0;

    if (!s) {
        return jf_fail(ed, path, item, "must be a string");
    }
    if (len + 1 > f->size) {
        char desc[JF_DESC_MAX];

        jsonfields_describe(item, desc, sizeof(desc));
        return error_setf(ed,
                          ERROR_INVALID,
                          "%s: %s (%zu bytes): must be at most %zu bytes",
                          jf_show(path),
                          desc,
                          len,
                          f->size - 1);
    }
    if (len == 0 && f->min >= 1) {
        return jf_fail(ed, path, item, "must not be empty");
    }
    if ((double)len < f->min) {
        return jf_fail(ed, path, item, "must be at least %g bytes long", f->min);
    }
    for (size_t i = 0; i < len; i++) {
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) {
            return jf_fail(ed, path, item, "must not contain control characters");
        }
    }
    memcpy(dst, s, len + 1);
    return ERROR_OK;
}

static int jf_enum(const struct jsonfields_field *f,
                   const cJSON *item,
                   const char *path,
                   int *dst,
                   struct error_detail *ed)
{
    char list[JF_ERR_LIST];
    size_t o = 0;

    if (cJSON_IsString(item) && item->valuestring) {
        for (int i = 0; f->names[i]; i++) {
            if (strcmp(item->valuestring, f->names[i]) == 0) {
                *dst = i;
                return ERROR_OK;
            }
        }
    }
    list[0] = '\0';
    for (int i = 0; f->names[i] && o < sizeof(list); i++) {
        int w = snprintf(list + o, sizeof(list) - o, "%s\"%s\"", i ? ", " : "", f->names[i]);

        o += w > 0 ? (size_t)w : 0;
    }
    return jf_fail(ed, path, item, "must be one of %s", list);
}

static int jf_clock(const struct jsonfields_field *f,
                    const cJSON *item,
                    const char *path,
                    int *dst,
                    struct error_detail *ed)
{
    char lo[6];
    char hi[6];
    int m = -1;

    if (cJSON_IsString(item) && item->valuestring &&
        jsonfields_parse_clock(item->valuestring, &m) == ERROR_OK && m >= f->min && m <= f->max) {
        *dst = m;
        return ERROR_OK;
    }
    jsonfields_format_clock((int)f->min, lo);
    jsonfields_format_clock((int)f->max, hi);
    return jf_fail(ed, path, item, "must be a local time \"HH:MM\" in [%s, %s]", lo, hi);
}

static int jf_intset(const struct jsonfields_field *f,
                     const cJSON *item,
                     const char *path,
                     unsigned *dst,
                     struct error_detail *ed)
{
    char sub[JSONFIELDS_PATH_MAX];
    struct jsonfields_field one = *f;
    unsigned mask = 0;
    int i = 0;
    double v;

    assert(f->min >= 0 && f->max <= 31);
    if (!cJSON_IsArray(item)) {
        return jf_fail(ed, path, item, "must be an array of integers in [%g, %g]", f->min, f->max);
    }
    one.type = JSONFIELDS_INT;
    for (const cJSON *e = item->child; e; e = e->next, i++) {
        jf_path_index(sub, sizeof(sub), path, i);
        if (jf_number(&one, e, sub, &v, ed)) {
            return ERROR_INVALID;
        }
        if (mask & (1u << (int)v)) {
            return jf_fail(ed, sub, e, "duplicates an earlier value");
        }
        mask |= 1u << (int)v;
    }
    *dst = mask;
    return ERROR_OK;
}

static int jf_series(const struct jsonfields_field *f,
                     const cJSON *item,
                     const char *path,
                     double *dst,
                     const struct jsonfields_ctx *ctx,
                     struct error_detail *ed)
{
    char sub[JSONFIELDS_PATH_MAX];
    int n = ctx->series_len;
    int i = 0;
    double v;

    assert(dst && n > 0);
    if (cJSON_IsArray(item)) {
        if (cJSON_GetArraySize(item) != n) {
            return jf_fail(ed, path, item, "must have steps (%d) values or be a single number", n);
        }
        for (const cJSON *e = item->child; e; e = e->next, i++) {
            jf_path_index(sub, sizeof(sub), path, i);
            if (jf_number(f, e, sub, &dst[i], ed)) {
                return ERROR_INVALID;
            }
        }
        return ERROR_OK;
    }
    if (!cJSON_IsNumber(item)) {
        return jf_fail(ed,
                       path,
                       item,
                       "must be an array of steps (%d) numbers or a single number",
                       n);
    }
    if (jf_number(f, item, path, &v, ed)) {
        return ERROR_INVALID;
    }
    for (i = 0; i < n; i++) {
        dst[i] = v;
    }
    return ERROR_OK;
}

/* ---- objects and arrays ----------------------------------------------- */

static int jf_array(const struct jsonfields_field *f,
                    const cJSON *item,
                    const char *path,
                    char *base,
                    const struct jsonfields_ctx *ctx,
                    struct error_detail *ed)
{
    char sub[JSONFIELDS_PATH_MAX];
    char *elems;
    int n;
    int i = 0;

    if (!cJSON_IsArray(item)) {
        return jf_fail(ed, path, item, "must be an array of objects");
    }
    n = cJSON_GetArraySize(item);
    if (n > f->max_count) {
        return jf_fail(ed, path, item, "must have at most %d elements", f->max_count);
    }
    elems = f->alloc ? f->alloc(base, n) : base + f->offset;
    *(int *)(void *)(base + f->aux_offset) = n;
    for (const cJSON *e = item->child; e; e = e->next, i++) {
        jf_path_index(sub, sizeof(sub), path, i);
        if (!cJSON_IsObject(e)) {
            return jf_fail(ed, sub, e, "must be an object");
        }
        if (jsonfields_parse(f->sub, e, elems + (size_t)i * f->size, sub, ctx, ed)) {
            return ERROR_INVALID;
        }
    }
    return ERROR_OK;
}

static void
jf_default(const struct jsonfields_field *f, char *base, const struct jsonfields_ctx *ctx);

static int jf_field(const struct jsonfields_field *f,
                    const cJSON *item,
                    const char *path,
                    char *base,
                    const struct jsonfields_ctx *ctx,
                    struct error_detail *ed)
{
    void *p = base + f->offset;
    double v = 0;
    int rc = ERROR_OK;

    switch (f->type) {
    case JSONFIELDS_NUMBER:
        rc = jf_number(f, item, path, (double *)p, ed);
        break;
    case JSONFIELDS_INT:
        rc = jf_number(f, item, path, &v, ed);
        *(int *)p = rc ? 0 : (int)v;
        break;
    case JSONFIELDS_BOOL:
        rc = cJSON_IsBool(item) ? ERROR_OK : jf_fail(ed, path, item, "must be true or false");
        *(int *)p = cJSON_IsTrue(item) ? 1 : 0;
        break;
    case JSONFIELDS_STRING:
        rc = jf_string(f, item, path, (char *)p, ed);
        break;
    case JSONFIELDS_SERIES:
        rc = jf_series(f, item, path, *(double **)p, ctx, ed);
        break;
    case JSONFIELDS_OBJECT:
        if (!cJSON_IsObject(item)) {
            rc = jf_fail(ed, path, item, "must be an object");
            break;
        }
        if (f->flags & JSONFIELDS_PRESENCE) {
            *(int *)(void *)(base + f->aux_offset) = 1;
        }
        rc = jsonfields_parse(f->sub, item, p, path, ctx, ed);
        break;
    case JSONFIELDS_ARRAY:
        rc = jf_array(f, item, path, base, ctx, ed);
        break;
    case JSONFIELDS_ENUM:
        rc = jf_enum(f, item, path, (int *)p, ed);
        break;
    case JSONFIELDS_CLOCK:
        rc = jf_clock(f, item, path, (int *)p, ed);
        break;
    case JSONFIELDS_INTSET:
        rc = jf_intset(f, item, path, (unsigned *)p, ed);
        break;
    case JSONFIELDS_CUSTOM:
        rc = f->parse(item, p, path, ctx->user, ed);
        break;
    }
    return rc ? ERROR_INVALID : ERROR_OK;
}

/* Edit distance of two short strings (for "did you mean"). */
static int jf_distance(const char *a, const char *b)
{
    int row[JF_LEV_MAX + 1];
    size_t la = strlen(a);
    size_t lb = strlen(b);

    if (la > JF_LEV_MAX || lb > JF_LEV_MAX) {
        return JF_LEV_MAX;
    }
    for (size_t j = 0; j <= lb; j++) {
        row[j] = (int)j;
    }
    for (size_t i = 1; i <= la; i++) {
        int diag = row[0];

        row[0] = (int)i;
        for (size_t j = 1; j <= lb; j++) {
            int up = row[j];
            int best = diag + (a[i - 1] != b[j - 1]);

            best = up + 1 < best ? up + 1 : best;
            best = row[j - 1] + 1 < best ? row[j - 1] + 1 : best;
            diag = up;
            row[j] = best;
        }
    }
    return row[lb];
}

static int jf_unknown(const struct jsonfields_field *table,
                      const char *key,
                      const char *path,
                      struct error_detail *ed)
{
    char shown[JF_DESC_MAX];
    char full[JSONFIELDS_PATH_MAX];
    char list[JF_ERR_LIST];
    const char *best = NULL;
    int best_d = 3; /* at most 2 edits count as a typo */
    size_t o = 0;

    jf_quote(key, JF_KEY_SHOW, shown, sizeof(shown));
    /* show the key bare when it is plain, quoted when it is not */
    if (strlen(key) <= JF_KEY_SHOW && strlen(shown) == strlen(key) + 2 && !strchr(shown, '?')) {
        (void)snprintf(shown, sizeof(shown), "%s", key);
    }
    jf_path_key(full, sizeof(full), path, shown);
    list[0] = '\0';
    for (int i = 0; table[i].name; i++) {
        int d = jf_distance(key, table[i].name);
        int w;

        if (d < best_d) {
            best_d = d;
            best = table[i].name;
        }
        w = o < sizeof(list)
                ? snprintf(list + o, sizeof(list) - o, "%s%s", i ? ", " : "", table[i].name)
                : 0;
        o += w > 0 ? (size_t)w : 0;
    }
    if (best) {
        return error_setf(ed, ERROR_INVALID, "%s: unknown key (did you mean \"%s\"?)", full, best);
    }
    return error_setf(ed, ERROR_INVALID, "%s: unknown key (known keys: %s)", full, list);
}

/* Every key of obj must be in the table, and only once. */
static int jf_check_keys(const struct jsonfields_field *table,
                         int n,
                         const cJSON *obj,
                         const char *path,
                         const struct jsonfields_ctx *ctx,
                         struct error_detail *ed)
{
    uint64_t seen = 0;
    char full[JSONFIELDS_PATH_MAX];

    for (const cJSON *c = obj->child; c; c = c->next) {
        const char *key = c->string ? c->string : "";
        int k = 0;

        while (k < n && strcmp(table[k].name, key) != 0) {
            k++;
        }
        if (k == n) {
            if (ctx->allow_unknown) {
                continue;
            }
            return jf_unknown(table, key, path, ed);
        }
        if (seen & ((uint64_t)1 << k)) {
            jf_path_key(full, sizeof(full), path, key);
            return error_setf(ed,
                              ERROR_INVALID,
                              "%s: duplicate key: a JSON object may set a field only once",
                              full);
        }
        seen |= (uint64_t)1 << k;
    }
    return ERROR_OK;
}

int jsonfields_parse(const struct jsonfields_field *table,
                     const cJSON *obj,
                     void *base,
                     const char *path,
                     const struct jsonfields_ctx *ctx,
                     struct error_detail *ed)
{
    char sub[JSONFIELDS_PATH_MAX];
    int n = 0;

    while (table[n].name) {
        n++;
    }
    assert(n <= JSONFIELDS_TABLE_MAX);
    if (!cJSON_IsObject(obj)) {
        return jf_fail(ed, path, obj, "must be an object");
    }
    if (jf_check_keys(table, n, obj, path, ctx, ed)) {
        return ERROR_INVALID;
    }
    for (int i = 0; i < n; i++) {
        const struct jsonfields_field *f = &table[i];
        const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, f->name);

        jf_path_key(sub, sizeof(sub), path, f->name);
        if (!item && (f->flags & JSONFIELDS_REQUIRED)) {
            return error_setf(ed, ERROR_INVALID, "%s: missing: this field is required", sub);
        }
        if (!item) {
            jf_default(f, base, ctx);
        } else if (jf_field(f, item, sub, base, ctx, ed)) {
            return ERROR_INVALID;
        }
    }
    return ERROR_OK;
}

/* ---- defaults --------------------------------------------------------- */

static void
jf_default(const struct jsonfields_field *f, char *base, const struct jsonfields_ctx *ctx)
{
    void *p = base + f->offset;
    double *series;
    size_t len;

    switch (f->type) {
    case JSONFIELDS_NUMBER:
        *(double *)p = f->def;
        break;
    case JSONFIELDS_INT:
    case JSONFIELDS_BOOL:
    case JSONFIELDS_ENUM:
    case JSONFIELDS_CLOCK:
        assert(f->size == sizeof(int));
        *(int *)p = (int)f->def;
        break;
    case JSONFIELDS_INTSET:
        *(unsigned *)p = (unsigned)f->def;
        break;
    case JSONFIELDS_STRING:
        len = f->def_str ? strlen(f->def_str) : 0;
        assert(len < f->size);
        memcpy(p, f->def_str ? f->def_str : "", len + 1);
        break;
    case JSONFIELDS_SERIES:
        series = *(double **)p;
        for (int i = 0; series && i < ctx->series_len; i++) {
            series[i] = f->def;
        }
        break;
    case JSONFIELDS_OBJECT:
        if (f->flags & JSONFIELDS_PRESENCE) {
            *(int *)(void *)(base + f->aux_offset) = 0;
        }
        jsonfields_defaults(f->sub, p, ctx);
        break;
    case JSONFIELDS_ARRAY:
        if (f->alloc) {
            f->alloc(base, 0);
        }
        *(int *)(void *)(base + f->aux_offset) = 0;
        break;
    case JSONFIELDS_CUSTOM:
        break;
    }
}

void jsonfields_defaults(const struct jsonfields_field *table,
                         void *base,
                         const struct jsonfields_ctx *ctx)
{
    for (int i = 0; table[i].name; i++) {
        jf_default(&table[i], base, ctx);
    }
}

/* ---- dumping ---------------------------------------------------------- */

static cJSON *jf_dump_series(const double *v, int n)
{
    int same = 1;

    for (int i = 1; i < n && same; i++) {
        same = v[i] == v[0];
    }
    if (n > 0 && same) {
        return cJSON_CreateNumber(v[0]);
    }
    return cJSON_CreateDoubleArray(v, n);
}

static cJSON *jf_dump_intset(const struct jsonfields_field *f, unsigned mask)
{
    cJSON *arr = cJSON_CreateArray();

    for (int b = (int)f->min; b <= (int)f->max && b < 32; b++) {
        if (mask & (1u << b)) {
            cJSON_AddItemToArray(arr, cJSON_CreateNumber(b));
        }
    }
    return arr;
}

static cJSON *
jf_dump_array(const struct jsonfields_field *f, const char *base, const struct jsonfields_ctx *ctx)
{
    cJSON *arr = cJSON_CreateArray();
    const char *elems =
        f->alloc ? *(char *const *)(const void *)(base + f->offset) : base + f->offset;
    int n = *(const int *)(const void *)(base + f->aux_offset);

    for (int i = 0; i < n && elems; i++) {
        cJSON_AddItemToArray(arr, jsonfields_dump(f->sub, elems + (size_t)i * f->size, ctx));
    }
    return arr;
}

static cJSON *
jf_dump_field(const struct jsonfields_field *f, const char *base, const struct jsonfields_ctx *ctx)
{
    const void *p = base + f->offset;
    char clock[6];

    switch (f->type) {
    case JSONFIELDS_NUMBER:
        return cJSON_CreateNumber(*(const double *)p);
    case JSONFIELDS_INT:
        return cJSON_CreateNumber(*(const int *)p);
    case JSONFIELDS_BOOL:
        return cJSON_CreateBool(*(const int *)p);
    case JSONFIELDS_STRING:
        return cJSON_CreateString((const char *)p);
    case JSONFIELDS_SERIES:
        return jf_dump_series(*(double *const *)p, ctx->series_len);
    case JSONFIELDS_OBJECT:
        if ((f->flags & JSONFIELDS_PRESENCE) &&
            !*(const int *)(const void *)(base + f->aux_offset)) {
            return NULL;
        }
        return jsonfields_dump(f->sub, p, ctx);
    case JSONFIELDS_ARRAY:
        return jf_dump_array(f, base, ctx);
    case JSONFIELDS_ENUM:
        return cJSON_CreateString(f->names[*(const int *)p]);
    case JSONFIELDS_CLOCK:
        jsonfields_format_clock(*(const int *)p, clock);
        return cJSON_CreateString(clock);
    case JSONFIELDS_INTSET:
        return jf_dump_intset(f, *(const unsigned *)p);
    case JSONFIELDS_CUSTOM:
        return f->dump ? f->dump(p, ctx->user) : NULL;
    }
    return NULL;
}

cJSON *jsonfields_dump(const struct jsonfields_field *table,
                       const void *base,
                       const struct jsonfields_ctx *ctx)
{
    cJSON *obj = cJSON_CreateObject();

    for (int i = 0; table[i].name; i++) {
        cJSON *v = jf_dump_field(&table[i], base, ctx);

        if (v) {
            cJSON_AddItemToObject(obj, table[i].name, v);
        }
    }
    return obj;
}

/* ---- clock times ------------------------------------------------------ */

void jsonfields_format_clock(int minutes, char buf[6])
{
    if (minutes < 0 || minutes > 1440) {
        minutes = 0;
    }
    (void)snprintf(buf, 6, "%02d:%02d", minutes / 60, minutes % 60);
}

int jsonfields_parse_clock(const char *s, int *minutes)
{
    int h;
    int m;

    for (int i = 0; i < 5; i++) {
        if (i == 2 ? s[i] != ':' : (s[i] < '0' || s[i] > '9')) {
            return ERROR_PARSE;
        }
    }
    if (s[5] != '\0') {
        return ERROR_PARSE;
    }
    h = (s[0] - '0') * 10 + (s[1] - '0');
    m = (s[3] - '0') * 10 + (s[4] - '0');
    if (m > 59 || h > 24 || (h == 24 && m != 0)) {
        return ERROR_PARSE;
    }
    *minutes = h * 60 + m;
    return ERROR_OK;
}
