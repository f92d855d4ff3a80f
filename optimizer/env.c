/* SPDX-License-Identifier: MIT */
/*
 * env.c - GLPK keeps one environment per thread (its memory pools, the
 * terminal hook). A thread that solved LPs frees it before it ends, or the
 * pools are lost when the thread exits.
 */
#include "optimizer.h"

#include <glpk.h>

void optimizer_thread_exit(void)
{
    glp_free_env();
}
