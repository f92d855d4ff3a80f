/* SPDX-License-Identifier: MIT */
/*
 * fuzz_simconf.c - libFuzzer target for the simulation file parser. Any
 * byte string must give either a simconf whose settings, laid over the
 * defaults, pass the models' own validation, or an error whose text is a
 * NUL-terminated message naming the file; never a crash, a leak or
 * undefined behaviour. Replayed over tests/fuzz/corpus/ by ctest.
 */
#include "../../sim/simconf.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct simconf *c = NULL;
    struct error_detail ed;
    struct world_options wo;
    struct simconf_dr_fault f;
    int rc;

    memset(&ed, 0, sizeof(ed));
    rc = simconf_parse((const char *)data, size, "fuzz.json", &c, &ed);
    if ((rc == ERROR_OK) != (c != NULL) || memchr(ed.text, '\0', sizeof(ed.text)) == NULL) {
        abort(); /* the contract: a simconf exactly on success, a terminated message */
    }
    if (rc && strncmp(ed.text, "fuzz.json: ", 11) != 0) {
        abort(); /* every message names the file */
    }
    if (c) {
        world_options_default(&wo);
        simconf_apply(c, &wo);
        if (demand_params_validate(&wo.demand, &ed) || drgen_params_validate(&wo.drgen, &ed) ||
            simconf_dr_check(wo.dr, wo.n_dr, &f) || 1440 % wo.step_minutes != 0 || wo.days < 1) {
            abort(); /* what parses must be usable */
        }
    }
    simconf_free(c);
    return 0;
}
