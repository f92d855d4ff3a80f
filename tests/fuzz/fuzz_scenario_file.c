/* SPDX-License-Identifier: MIT */
/*
 * fuzz_scenario_file.c - libFuzzer target for the scenario file parser.
 * Any byte string must give either a scenario that passes scenario_validate
 * or an error whose text is a NUL-terminated message; never a crash, a
 * leak or undefined behaviour. Replayed over tests/fuzz/corpus/ by ctest.
 */
#include "../../config/scenario_file.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct scenario *sc = NULL;
    struct error_detail ed;
    char *text = malloc(size + 1);
    int rc;

    if (!text) {
        return 0;
    }
    memcpy(text, data, size);
    text[size] = '\0';
    memset(&ed, 0, sizeof(ed));
    rc = scenario_file_parse(text, size, "fuzz.json", &sc, &ed);
    if ((rc == ERROR_OK) != (sc != NULL) || memchr(ed.text, '\0', sizeof(ed.text)) == NULL) {
        abort(); /* the contract: a scenario exactly on success, a terminated message */
    }
    if (sc && scenario_validate(sc, &ed) != ERROR_OK) {
        abort();
    }
    scenario_free(sc);
    free(text);
    return 0;
}
