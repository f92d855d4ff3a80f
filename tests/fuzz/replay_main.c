/* SPDX-License-Identifier: MIT */
/*
 * replay_main.c - runs a fuzz target over every file of its corpus folder,
 * so the corpus replays under ctest with any compiler (and under ASan/UBSan
 * in the sanitizer build). A crash fails the test.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int replay_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf;
    long len;
    size_t got;

    if (!f) {
        fprintf(stderr, "replay: cannot open %s\n", path);
        return 1;
    }
    fseek(f, 0, SEEK_END);
    len = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc(len > 0 ? (size_t)len : 1);
    got = fread(buf, 1, (size_t)(len > 0 ? len : 0), f);
    fclose(f);
    LLVMFuzzerTestOneInput(buf, got);
    free(buf);
    return 0;
}

int main(int argc, char **argv)
{
    DIR *d;
    struct dirent *de;
    int n = 0;
    int bad = 0;
    char path[4096];

    if (argc != 2) {
        fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
        return 2;
    }
    d = opendir(argv[1]);
    if (!d) {
        fprintf(stderr, "replay: cannot open corpus %s\n", argv[1]);
        return 1;
    }
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.') {
            continue;
        }
        snprintf(path, sizeof(path), "%s/%s", argv[1], de->d_name);
        bad += replay_file(path);
        n++;
    }
    closedir(d);
    printf("%d passed, %d failed\n", n - bad, bad);
    return (bad || n == 0) ? 1 : 0;
}
