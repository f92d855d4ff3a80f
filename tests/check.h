/* SPDX-License-Identifier: MIT */
/*
 * check.h - the assertions every flexd test uses. A failed CHECK prints the
 * file, line and expression and marks the test failed but goes on, so one
 * run shows every broken expectation; CHECK_DONE() prints the closing
 * "N passed, N failed" line and returns the exit code.
 */
#ifndef FLEXD_TESTS_CHECK_H
#define FLEXD_TESTS_CHECK_H

#include <math.h>
#include <stdio.h>
#include <string.h>

static int check_passed;
static int check_failed;

#define CHECK(expr)                                                                                \
    do {                                                                                           \
        if (expr) {                                                                                \
            check_passed++;                                                                        \
        } else {                                                                                   \
            check_failed++;                                                                        \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #expr);              \
        }                                                                                          \
    } while (0)

#define CHECK_NEAR(a, b, tol)                                                                      \
    do {                                                                                           \
        double check_a_ = (double)(a);                                                             \
        double check_b_ = (double)(b);                                                             \
        if (fabs(check_a_ - check_b_) <= (tol)) {                                                  \
            check_passed++;                                                                        \
        } else {                                                                                   \
            check_failed++;                                                                        \
            fprintf(stderr,                                                                        \
                    "%s:%d: CHECK_NEAR failed: %s = %.9g, %s = %.9g (tol %g)\n",                   \
                    __FILE__,                                                                      \
                    __LINE__,                                                                      \
                    #a,                                                                            \
                    check_a_,                                                                      \
                    #b,                                                                            \
                    check_b_,                                                                      \
                    (double)(tol));                                                                \
        }                                                                                          \
    } while (0)

#define CHECK_STR_CONTAINS(hay, needle)                                                            \
    do {                                                                                           \
        const char *check_h_ = (hay);                                                              \
        if (check_h_ && strstr(check_h_, (needle))) {                                              \
            check_passed++;                                                                        \
        } else {                                                                                   \
            check_failed++;                                                                        \
            fprintf(stderr,                                                                        \
                    "%s:%d: CHECK_STR_CONTAINS failed: \"%s\" not in \"%s\"\n",                    \
                    __FILE__,                                                                      \
                    __LINE__,                                                                      \
                    (needle),                                                                      \
                    check_h_ ? check_h_ : "(null)");                                               \
        }                                                                                          \
    } while (0)

#define CHECK_DONE()                                                                               \
    (printf("%d passed, %d failed\n", check_passed, check_failed), check_failed ? 1 : 0)

#endif
