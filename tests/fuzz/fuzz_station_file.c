/* SPDX-License-Identifier: MIT */
/*
 * fuzz_station_file.c - libFuzzer target for the station file parser. Any
 * byte string must give either a valid station or an error; a valid
 * station's effective configuration (station_file_dump) must parse back
 * and print identically. Replayed over tests/fuzz/corpus/ by ctest.
 */
#include "../../config/station_file.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_round_trip(const struct station *st)
{
    struct station *again = NULL;
    struct error_detail ed;
    char *d1 = station_file_dump(st);
    char *d2 = NULL;

    if (station_file_parse(d1, strlen(d1), "dump", &again, &ed) != ERROR_OK) {
        abort(); /* a valid station must print as a valid file */
    }
    d2 = station_file_dump(again);
    if (strcmp(d1, d2) != 0) {
        abort();
    }
    station_free(again);
    free(d1);
    free(d2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct station *st = NULL;
    struct error_detail ed;
    char *text = malloc(size + 1);
    int rc;

    if (!text) {
        return 0;
    }
    memcpy(text, data, size);
    text[size] = '\0';
    memset(&ed, 0, sizeof(ed));
    rc = station_file_parse(text, size, "fuzz.json", &st, &ed);
    if ((rc == ERROR_OK) != (st != NULL) || memchr(ed.text, '\0', sizeof(ed.text)) == NULL) {
        abort();
    }
    if (st) {
        fuzz_round_trip(st);
    }
    station_free(st);
    free(text);
    return 0;
}
