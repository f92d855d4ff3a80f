/* SPDX-License-Identifier: MIT */
/*
 * test_jsonfields.c - the strict table-driven JSON reader on a small test
 * struct that uses every field type: good input, every rejection rule
 * (each message checked for path, value and rule), defaults, presence
 * flags, allocated and inline arrays, custom fields, the input caps (size,
 * nesting, NUL, trailing text) and dump -> parse round trips.
 */
#include "check.h"

#include "../../common/alloc.h"
#include "../../config/jsonfields.h"

#include <stdlib.h>
#include <string.h>

struct jt_item {
    char id[8];
    double kw;
};

struct jt_inner {
    double a;
    int b;
};

struct jt {
    double num;
    int count;
    int flag;
    char name[8];
    double *series;
    struct jt_inner inner;
    int has_opt;
    struct jt_inner opt;
    int n_items;
    struct jt_item items[3];
    int n_dyn;
    struct jt_item *dyn;
    int kind;
    int at;
    unsigned months;
    int custom;
    int grouped;
};

static const char *const jt_kinds[] = {"low", "high", NULL};

static void *jt_alloc(void *base, int n)
{
    struct jt *t = base;

    t->dyn = alloc_resize(t->dyn, (size_t)(n > 0 ? n : 1), sizeof(*t->dyn));
    memset(t->dyn, 0, (size_t)(n > 0 ? n : 1) * sizeof(*t->dyn));
    t->n_dyn = n;
    return t->dyn;
}

/* custom: a string "x<digits>" stored as the digits' count; user adds 100 */
static int
jt_custom(const cJSON *item, void *target, const char *path, void *user, struct error_detail *ed)
{
    if (!cJSON_IsString(item) || item->valuestring[0] != 'x') {
        return error_setf(ed, ERROR_INVALID, "%s: must start with x", path);
    }
    *(int *)target = (int)strlen(item->valuestring) - 1 + *(int *)user;
    return ERROR_OK;
}

static const struct jsonfields_field jt_inner_table[] = {
    JSONFIELDS_F_NUMBER("a", struct jt_inner, a, 0, 10, JSONFIELDS_REQUIRED, 0),
    JSONFIELDS_F_INT("b", struct jt_inner, b, -5, 5, 0, 3),
    JSONFIELDS_F_END,
};

static const struct jsonfields_field jt_item_table[] = {
    JSONFIELDS_F_STRING("id", struct jt_item, id, 1, JSONFIELDS_REQUIRED, NULL),
    JSONFIELDS_F_NUMBER("kw", struct jt_item, kw, 0, 10, 0, 1.5),
    JSONFIELDS_F_END,
};

static const struct jsonfields_field jt_group[] = {
    JSONFIELDS_F_INT("grouped", struct jt, grouped, 0, 9, 0, 7),
    JSONFIELDS_F_END,
};

static const struct jsonfields_field jt_table[] = {
    JSONFIELDS_F_NUMBER("num", struct jt, num, 0, 100, JSONFIELDS_REQUIRED, 0),
    JSONFIELDS_F_INT("count", struct jt, count, 1, 2880, JSONFIELDS_REQUIRED, 0),
    JSONFIELDS_F_BOOL("flag", struct jt, flag, 0, 1),
    JSONFIELDS_F_STRING("name", struct jt, name, 0, 0, "anon"),
    JSONFIELDS_F_SERIES("series", struct jt, series, 0, 10, 0, 2.5),
    JSONFIELDS_F_OBJECT("inner", struct jt, inner, jt_inner_table, 0),
    JSONFIELDS_F_OPTIONAL("opt", struct jt, opt, has_opt, jt_inner_table),
    JSONFIELDS_F_ARRAY("items",
                       struct jt,
                       items,
                       n_items,
                       struct jt_item,
                       jt_item_table,
                       3,
                       NULL,
                       0),
    JSONFIELDS_F_ARRAY("dyn",
                       struct jt,
                       dyn,
                       n_dyn,
                       struct jt_item,
                       jt_item_table,
                       100,
                       jt_alloc,
                       0),
    JSONFIELDS_F_ENUM("kind", struct jt, kind, jt_kinds, 0, 1),
    JSONFIELDS_F_CLOCK("at", struct jt, at, 0, 1439, 0, 480),
    JSONFIELDS_F_INTSET("months", struct jt, months, 1, 12, 0, 0x2),
    JSONFIELDS_F_CUSTOM("custom", struct jt, custom, jt_custom, NULL, 0),
    JSONFIELDS_F_GROUP("group", jt_group, 0),
    JSONFIELDS_F_END,
};

#define JT_STEPS     4
#define JT_MAX_BYTES ((size_t)2 << 20)

static int jt_user = 100;

/* JSON with ' for " so the cases stay readable. */
static char *jt_json(const char *s)
{
    char *j = alloc_strdup(s);

    for (char *p = j; *p; p++) {
        if (*p == '\'') {
            *p = '"';
        }
    }
    return j;
}

/* Parse text into t (series of JT_STEPS). Returns the rc of load or parse. */
static int jt_parse(const char *text, struct jt *t, struct error_detail *ed)
{
    struct jsonfields_ctx ctx = {.series_len = JT_STEPS, .user = &jt_user};
    char *j = jt_json(text);
    cJSON *root = NULL;
    int rc;

    free(t->dyn);
    free(t->series);
    memset(t, 0, sizeof(*t));
    memset(ed, 0, sizeof(*ed));
    t->series = alloc_array(JT_STEPS, sizeof(double));
    rc = jsonfields_load(j, strlen(j), JT_MAX_BYTES, &root, ed);
    if (rc == ERROR_OK) {
        rc = jsonfields_parse(jt_table, root, t, "", &ctx, ed);
    }
    cJSON_Delete(root);
    free(j);
    return rc;
}

/* Expect a rejection with rc and every needle in the message. */
static void jt_bad(const char *text, int rc_want, const char *n1, const char *n2, const char *n3)
{
    struct jt t = {0};
    struct error_detail ed;
    int rc = jt_parse(text, &t, &ed);

    CHECK(rc == rc_want);
    if (rc != rc_want) {
        fprintf(stderr, "  input: %s\n  rc %d, text: %s\n", text, rc, ed.text);
    }
    CHECK_STR_CONTAINS(ed.text, n1);
    if (n2) {
        CHECK_STR_CONTAINS(ed.text, n2);
    }
    if (n3) {
        CHECK_STR_CONTAINS(ed.text, n3);
    }
    free(t.dyn);
    free(t.series);
}

static void test_good_and_defaults(void)
{
    struct jt t = {0};
    struct error_detail ed;

    CHECK(jt_parse("{'num': 12.5, 'count': 96}", &t, &ed) == ERROR_OK);
    CHECK_NEAR(t.num, 12.5, 0);
    CHECK(t.count == 96);
    CHECK(t.flag == 1);
    CHECK(strcmp(t.name, "anon") == 0);
    CHECK_NEAR(t.series[0], 2.5, 0);
    CHECK_NEAR(t.series[3], 2.5, 0);
    CHECK_NEAR(t.inner.a, 0, 0);
    CHECK(t.inner.b == 3);
    CHECK(t.has_opt == 0);
    CHECK(t.n_items == 0 && t.n_dyn == 0);
    CHECK(t.kind == 1);
    CHECK(t.at == 480);
    CHECK(t.months == 0x2);
    CHECK(t.grouped == 7);

    CHECK(
        jt_parse("{'num': 0, 'count': 1, 'flag': false, 'name': 'abcdefg', 'series': [1, 2, 3, "
                 "4], 'inner': {'a': 10, 'b': -5}, 'opt': {'a': 1}, 'items': [{'id': 'i1', 'kw': "
                 "2}, {'id': 'i2'}], 'dyn': [{'id': 'd1'}, {'id': 'd2'}, {'id': 'd3', 'kw': 10}], "
                 "'kind': 'low', 'at': '23:59', 'months': [12, 1, 6], 'custom': 'xyz', 'group': "
                 "{'grouped': 0}}",
                 &t,
                 &ed) == ERROR_OK);
    CHECK(t.flag == 0);
    CHECK(strcmp(t.name, "abcdefg") == 0);
    CHECK_NEAR(t.series[3], 4, 0);
    CHECK_NEAR(t.inner.a, 10, 0);
    CHECK(t.inner.b == -5);
    CHECK(t.has_opt == 1);
    CHECK_NEAR(t.opt.a, 1, 0);
    CHECK(t.opt.b == 3);
    CHECK(t.n_items == 2);
    CHECK(strcmp(t.items[1].id, "i2") == 0);
    CHECK_NEAR(t.items[1].kw, 1.5, 0);
    CHECK(t.n_dyn == 3);
    CHECK(strcmp(t.dyn[2].id, "d3") == 0);
    CHECK_NEAR(t.dyn[2].kw, 10, 0);
    CHECK(t.kind == 0);
    CHECK(t.at == 23 * 60 + 59);
    CHECK(t.months == ((1u << 12) | (1u << 1) | (1u << 6)));
    CHECK(t.custom == 102);
    CHECK(t.grouped == 0);
    free(t.dyn);
    free(t.series);
}

static void test_missing_unknown_duplicate(void)
{
    jt_bad("{'count': 1}", ERROR_INVALID, "num: missing", "required", NULL);
    jt_bad("{'num': 1, 'count': 1, 'inner': {}}", ERROR_INVALID, "inner.a: missing", NULL, NULL);
    jt_bad("{'num': 1, 'count': 1, 'items': [{'kw': 1}]}",
           ERROR_INVALID,
           "items[0].id: missing",
           NULL,
           NULL);
    jt_bad("{'num': 1, 'count': 1, 'cuont': 2}",
           ERROR_INVALID,
           "cuont: unknown key",
           "did you mean \"count\"",
           NULL);
    jt_bad("{'num': 1, 'count': 1, 'zzzzzzzz': 2}",
           ERROR_INVALID,
           "zzzzzzzz: unknown key",
           "known keys: num, count, flag",
           NULL);
    jt_bad("{'num': 1, 'count': 1, 'inner': {'a': 1, 'c': 1}}",
           ERROR_INVALID,
           "inner.c: unknown key",
           NULL,
           NULL);
    jt_bad("{'num': 1, 'count': 1, 'items': [{'id': 'a'}, {'id': 'b', 'kW': 1}]}",
           ERROR_INVALID,
           "items[1].kW: unknown key",
           "did you mean \"kw\"",
           NULL);
    jt_bad("{'num': 1, 'count': 1, 'bad\\u0001key': 2}",
           ERROR_INVALID,
           "\"bad?key\": unknown key",
           NULL,
           NULL);
    jt_bad("{'num': 1, 'count': 1, 'num': 2}", ERROR_INVALID, "num: duplicate key", NULL, NULL);
    jt_bad("{'num': 1, 'count': 1, 'inner': {'a': 1, 'a': 1}}",
           ERROR_INVALID,
           "inner.a: duplicate key",
           NULL,
           NULL);
    jt_bad("{'num': 1, 'count': 1, 'group': {'grouped': 1, 'grouped': 2}}",
           ERROR_INVALID,
           "group.grouped: duplicate key",
           NULL,
           NULL);
}

static void test_types_and_ranges(void)
{
    jt_bad("[]", ERROR_INVALID, "(top level): array of 0 values: must be an object", NULL, NULL);
    jt_bad("{'num': '5', 'count': 1}", ERROR_INVALID, "num: \"5\": must be a number", NULL, NULL);
    jt_bad("{'num': null, 'count': 1}", ERROR_INVALID, "num: null: must be a number", NULL, NULL);
    jt_bad("{'num': 1e999, 'count': 1}",
           ERROR_INVALID,
           "num: inf: must be a finite number",
           NULL,
           NULL);
    jt_bad("{'num': -1e999, 'count': 1}",
           ERROR_INVALID,
           "num: -inf: must be a finite number",
           NULL,
           NULL);
    jt_bad("{'num': -5, 'count': 1}", ERROR_INVALID, "num: -5: must be in [0, 100]", NULL, NULL);
    jt_bad("{'num': 100.5, 'count': 1}",
           ERROR_INVALID,
           "num: 100.5: must be in [0, 100]",
           NULL,
           NULL);
    jt_bad("{'num': 1, 'count': 2.5}", ERROR_INVALID, "count: 2.5: must be an integer", NULL, NULL);
    jt_bad("{'num': 1, 'count': 0}", ERROR_INVALID, "count: 0: must be in [1, 2880]", NULL, NULL);
    jt_bad("{'num': 1, 'count': 1e300}",
           ERROR_INVALID,
           "count: 1e+300: must be in [1, 2880]",
           NULL,
           NULL);
    jt_bad("{'num': 1, 'count': true}", ERROR_INVALID, "count: true: must be a number", NULL, NULL);
    jt_bad("{'num': 1, 'count': 1, 'flag': 1}",
           ERROR_INVALID,
           "flag: 1: must be true or false",
           NULL,
           NULL);
    jt_bad("{'num': 1, 'count': 1, 'name': 'abcdefghij'}",
           ERROR_INVALID,
           "name: \"abcdefghij\" (10 bytes): must be at most 7 bytes",
           NULL,
           NULL);
    jt_bad("{'num': 1, 'count': 1, 'name': 5}",
           ERROR_INVALID,
           "name: 5: must be a string",
           NULL,
           NULL);
    jt_bad("{'num': 1, 'count': 1, 'name': 'a\\tb'}",
           ERROR_INVALID,
           "name: \"a?b\"",
           "must not contain control characters",
           NULL);
    jt_bad("{'num': 1, 'count': 1, 'items': [{'id': ''}]}",
           ERROR_INVALID,
           "items[0].id: \"\": must not be empty",
           NULL,
           NULL);
    jt_bad("{'num': 1, 'count': 1, 'inner': [1]}",
           ERROR_INVALID,
           "inner: array of 1 values: must be an object",
           NULL,
           NULL);
    jt_bad("{'num': 1, 'count': 1, 'inner': {'a': 11}}",
           ERROR_INVALID,
           "inner.a: 11: must be in [0, 10]",
           NULL,
           NULL);
    jt_bad("{'num': 1, 'count': 1, 'kind': 'medium'}",
           ERROR_INVALID,
           "kind: \"medium\": must be one of \"low\", \"high\"",
           NULL,
           NULL);
    jt_bad("{'num': 1, 'count': 1, 'kind': 0}",
           ERROR_INVALID,
           "kind: 0: must be one of",
           NULL,
           NULL);
    jt_bad("{'num': 1, 'count': 1, 'custom': 'y'}",
           ERROR_INVALID,
           "custom: must start with x",
           NULL,
           NULL);
}

static void test_series(void)
{
    jt_bad("{'num': 1, 'count': 1, 'series': [1, 2, 3]}",
           ERROR_INVALID,
           "series: array of 3 values: must have steps (4) values or be a single number",
           NULL,
           NULL);
    jt_bad("{'num': 1, 'count': 1, 'series': [1, 2, 3, 4, 5]}",
           ERROR_INVALID,
           "series: array of 5 values",
           NULL,
           NULL);
    jt_bad("{'num': 1, 'count': 1, 'series': [1, 2, 'x', 4]}",
           ERROR_INVALID,
           "series[2]: \"x\": must be a number",
           NULL,
           NULL);
    jt_bad("{'num': 1, 'count': 1, 'series': [1, -1, 3, 4]}",
           ERROR_INVALID,
           "series[1]: -1: must be in [0, 10]",
           NULL,
           NULL);
    jt_bad("{'num': 1, 'count': 1, 'series': [1, 2, 3, 1e999]}",
           ERROR_INVALID,
           "series[3]: inf: must be a finite number",
           NULL,
           NULL);
    jt_bad("{'num': 1, 'count': 1, 'series': 11}",
           ERROR_INVALID,
           "series: 11: must be in [0, 10]",
           NULL,
           NULL);
    jt_bad("{'num': 1, 'count': 1, 'series': {'a': 1}}",
           ERROR_INVALID,
           "series: an object: must be an array of steps (4) numbers or a single number",
           NULL,
           NULL);
}

static void test_arrays_clock_set(void)
{
    jt_bad("{'num': 1, 'count': 1, 'items': [{'id': 'a'}, {'id': 'b'}, {'id': 'c'}, {'id': 'd'}]}",
           ERROR_INVALID,
           "items: array of 4 values: must have at most 3 elements",
           NULL,
           NULL);
    jt_bad("{'num': 1, 'count': 1, 'items': [{'id': 'a'}, 5]}",
           ERROR_INVALID,
           "items[1]: 5: must be an object",
           NULL,
           NULL);
    jt_bad("{'num': 1, 'count': 1, 'items': {'id': 'a'}}",
           ERROR_INVALID,
           "items: an object: must be an array of objects",
           NULL,
           NULL);
    jt_bad("{'num': 1, 'count': 1, 'dyn': [{'id': 'a', 'kw': 10.5}]}",
           ERROR_INVALID,
           "dyn[0].kw: 10.5: must be in [0, 10]",
           NULL,
           NULL);
    jt_bad("{'num': 1, 'count': 1, 'at': '25:00'}",
           ERROR_INVALID,
           "at: \"25:00\": must be a local time \"HH:MM\" in [00:00, 23:59]",
           NULL,
           NULL);
    jt_bad("{'num': 1, 'count': 1, 'at': '24:00'}", ERROR_INVALID, "at: \"24:00\"", NULL, NULL);
    jt_bad("{'num': 1, 'count': 1, 'at': '7:00'}", ERROR_INVALID, "at: \"7:00\"", NULL, NULL);
    jt_bad("{'num': 1, 'count': 1, 'at': 420}",
           ERROR_INVALID,
           "at: 420: must be a local time",
           NULL,
           NULL);
    jt_bad("{'num': 1, 'count': 1, 'months': [6, 7, 7]}",
           ERROR_INVALID,
           "months[2]: 7: duplicates an earlier value",
           NULL,
           NULL);
    jt_bad("{'num': 1, 'count': 1, 'months': [13]}",
           ERROR_INVALID,
           "months[0]: 13: must be in [1, 12]",
           NULL,
           NULL);
    jt_bad("{'num': 1, 'count': 1, 'months': [1.5]}",
           ERROR_INVALID,
           "months[0]: 1.5: must be an integer",
           NULL,
           NULL);
    jt_bad("{'num': 1, 'count': 1, 'months': 6}",
           ERROR_INVALID,
           "months: 6: must be an array of integers in [1, 12]",
           NULL,
           NULL);
}

static void test_clock_helpers(void)
{
    int m = -1;
    char buf[6];

    CHECK(jsonfields_parse_clock("00:00", &m) == ERROR_OK && m == 0);
    CHECK(jsonfields_parse_clock("24:00", &m) == ERROR_OK && m == 1440);
    CHECK(jsonfields_parse_clock("13:45", &m) == ERROR_OK && m == 825);
    CHECK(jsonfields_parse_clock("24:01", &m) == ERROR_PARSE);
    CHECK(jsonfields_parse_clock("12:60", &m) == ERROR_PARSE);
    CHECK(jsonfields_parse_clock("1:00", &m) == ERROR_PARSE);
    CHECK(jsonfields_parse_clock("01:00 ", &m) == ERROR_PARSE);
    CHECK(jsonfields_parse_clock("", &m) == ERROR_PARSE);
    CHECK(jsonfields_parse_clock("ab:cd", &m) == ERROR_PARSE);
    jsonfields_format_clock(1440, buf);
    CHECK(strcmp(buf, "24:00") == 0);
    jsonfields_format_clock(65, buf);
    CHECK(strcmp(buf, "01:05") == 0);
}

static char *jt_repeat(const char *head, const char *unit, size_t n, const char *tail)
{
    size_t hl = strlen(head);
    size_t ul = strlen(unit);
    size_t tl = strlen(tail);
    char *s = alloc_array(hl + ul * n + tl + 1, 1);

    memcpy(s, head, hl);
    for (size_t i = 0; i < n; i++) {
        memcpy(s + hl + i * ul, unit, ul);
    }
    memcpy(s + hl + ul * n, tail, tl + 1);
    return s;
}

static void test_load_caps(void)
{
    struct error_detail ed;
    cJSON *root = NULL;
    char *s;

    jt_bad("", ERROR_PARSE, "empty input", NULL, NULL);
    jt_bad(" \n\t ", ERROR_PARSE, "empty input", NULL, NULL);
    jt_bad("not json", ERROR_PARSE, "line 1, column 1: malformed JSON", "near \"not json\"", NULL);
    jt_bad("{\n  'num': 1,\n  'count': ]\n}",
           ERROR_PARSE,
           "line 3, column 12: malformed JSON",
           NULL,
           NULL);
    jt_bad("{'num': 1, 'count': 1", ERROR_PARSE, "malformed JSON", NULL, NULL);
    jt_bad("{'num': 1, 'count': 1} x",
           ERROR_PARSE,
           "column 24: unexpected text after the JSON",
           NULL,
           NULL);
    jt_bad("{'num': 1, 'count': 1}{}", ERROR_PARSE, "unexpected text after", NULL, NULL);
    jt_bad("{'num': NaN, 'count': 1}", ERROR_PARSE, "malformed JSON", NULL, NULL);
    CHECK(jsonfields_load("{\"a\":\0 1}", 9, 100, &root, &ed) == ERROR_PARSE);
    CHECK_STR_CONTAINS(ed.text, "line 1, column 6: NUL byte");
    CHECK(root == NULL);
    CHECK(jsonfields_load("{}", 2, 1, &root, &ed) == ERROR_RANGE);
    CHECK_STR_CONTAINS(ed.text, "input is 2 bytes: must be at most 1 bytes");

    /* deep nesting: a clear error, not a stack overflow, at 33 and at 100000 */
    s = jt_repeat("", "[", 33, "");
    jt_bad(s, ERROR_PARSE, "line 1, column 33: nesting deeper than 32 levels", NULL, NULL);
    free(s);
    s = jt_repeat("{'num': 1, 'count': 1, 'x': ", "{'a': [", 50000, "");
    jt_bad(s, ERROR_PARSE, "nesting deeper than 32 levels", NULL, NULL);
    free(s);
    /* brackets inside strings do not count */
    s = jt_repeat("{'num': 1, 'count': 1, 'name': '\\\"", "[", 40, "'}");
    jt_bad(s, ERROR_INVALID, "(41 bytes): must be at most 7 bytes", NULL, NULL);
    free(s);

    /* 1 MB payloads: a clear message naming the field */
    s = jt_repeat("{'num': 1, 'count': 1, 'name': '", "x", 1 << 20, "'}");
    jt_bad(s, ERROR_INVALID, "name: \"xxxxxxxx", "(1048576 bytes): must be at most 7 bytes", NULL);
    free(s);
    s = jt_repeat("{'num': 1, 'count': 1, 'series': [0", ",0", 1100000, "]}");
    jt_bad(s, ERROR_RANGE, "input is 2200037 bytes: must be at most 2097152 bytes", NULL, NULL);
    free(s);
    s = jt_repeat("{'num': 1, 'count': 1, 'series': [0", ",1", 250000, "]}");
    jt_bad(s,
           ERROR_INVALID,
           "series: array of 250001 values: must have steps (4) values",
           NULL,
           NULL);
    free(s);
    s = jt_repeat("{'num': 1, 'count': 1, 'items': [{'id': 'a'}", ",{'id': 'a'}", 80000, "]}");
    jt_bad(s,
           ERROR_INVALID,
           "items: array of 80001 values: must have at most 3 elements",
           NULL,
           NULL);
    free(s);
    s = jt_repeat("{'count': 1", ", 'num': 1", 100000, "}");
    jt_bad(s, ERROR_INVALID, "num: duplicate key", NULL, NULL);
    free(s);
}

static void test_dump_round_trip(void)
{
    struct jsonfields_ctx ctx = {.series_len = JT_STEPS, .user = &jt_user};
    struct jt t = {0};
    struct jt u = {0};
    struct error_detail ed;
    cJSON *d1;
    cJSON *d2;
    char *p1;
    char *p2;

    CHECK(jt_parse("{'num': 3.25, 'count': 7, 'series': [1, 2, 3, 4], 'opt': {'a': 2}, 'items': "
                   "[{'id': 'q'}], 'dyn': [{'id': 'r', 'kw': 3}], 'at': '06:30', 'months': [3, 4]}",
                   &t,
                   &ed) == ERROR_OK);
    d1 = jsonfields_dump(jt_table, &t, &ctx);
    p1 = cJSON_PrintUnformatted(d1);
    CHECK_STR_CONTAINS(p1, "\"at\":\"06:30\"");
    CHECK_STR_CONTAINS(p1, "\"months\":[3,4]");
    CHECK_STR_CONTAINS(p1, "\"kind\":\"high\"");
    CHECK_STR_CONTAINS(p1, "\"series\":[1,2,3,4]");
    CHECK_STR_CONTAINS(p1, "\"opt\":{\"a\":2,\"b\":3}");
    CHECK_STR_CONTAINS(p1, "\"group\":{\"grouped\":7}");
    CHECK(strstr(p1, "\"custom\"") == NULL); /* no dump callback: left out */

    /* parse the dump back (without the custom field) and dump again */
    {
        char *again = alloc_strdup(p1);

        for (char *p = again; *p; p++) {
            if (*p == '"') {
                *p = '\'';
            }
        }
        CHECK(jt_parse(again, &u, &ed) == ERROR_OK);
        free(again);
    }
    d2 = jsonfields_dump(jt_table, &u, &ctx);
    p2 = cJSON_PrintUnformatted(d2);
    CHECK(strcmp(p1, p2) == 0);

    /* absent optional object: left out; constant series: one number */
    CHECK(jt_parse("{'num': 1, 'count': 1}", &t, &ed) == ERROR_OK);
    cJSON_Delete(d1);
    cJSON_free(p1);
    d1 = jsonfields_dump(jt_table, &t, &ctx);
    p1 = cJSON_PrintUnformatted(d1);
    CHECK(strstr(p1, "\"opt\"") == NULL);
    CHECK_STR_CONTAINS(p1, "\"series\":2.5");
    CHECK_STR_CONTAINS(p1, "\"items\":[]");
    cJSON_Delete(d1);
    cJSON_Delete(d2);
    cJSON_free(p1);
    cJSON_free(p2);
    free(t.dyn);
    free(t.series);
    free(u.dyn);
    free(u.series);
}

static void test_allow_unknown(void)
{
    static const struct jsonfields_field head[] = {
        JSONFIELDS_F_INT("count", struct jt, count, 1, 2880, JSONFIELDS_REQUIRED, 0),
        JSONFIELDS_F_END,
    };
    struct jsonfields_ctx ctx = {.allow_unknown = 1};
    struct error_detail ed;
    struct jt t = {0};
    cJSON *root = NULL;
    const char *text = "{\"x\": [1], \"count\": 5, \"y\": {}}";

    CHECK(jsonfields_load(text, strlen(text), 100, &root, &ed) == ERROR_OK);
    CHECK(jsonfields_parse(head, root, &t, "", &ctx, &ed) == ERROR_OK);
    CHECK(t.count == 5);
    ctx.allow_unknown = 0;
    CHECK(jsonfields_parse(head, root, &t, "", &ctx, &ed) == ERROR_INVALID);
    CHECK_STR_CONTAINS(ed.text, "x: unknown key");
    CHECK(jsonfields_parse(head, root, &t, "outer[2]", &ctx, &ed) == ERROR_INVALID);
    CHECK_STR_CONTAINS(ed.text, "outer[2].x: unknown key");
    cJSON_Delete(root);
}

int main(void)
{
    test_good_and_defaults();
    test_missing_unknown_duplicate();
    test_types_and_ranges();
    test_series();
    test_arrays_clock_set();
    test_clock_helpers();
    test_load_caps();
    test_dump_round_trip();
    test_allow_unknown();
    return CHECK_DONE();
}
