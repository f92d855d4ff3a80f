/* SPDX-License-Identifier: MIT */
/*
 * fileio.c - bounded reads and atomic writes with POSIX calls. Any thread.
 */
#include "fileio.h"

#include "alloc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int fileio_read_all(const char *path,
                    size_t max_bytes,
                    char **out,
                    size_t *len,
                    struct error_detail *ed)
{
    int rc = ERROR_OK;
    int fd;
    struct stat st;
    char *buf = NULL;
    size_t got = 0;

    *out = NULL;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return error_setf(ed, ERROR_IO, "%s: cannot open: %s", path, strerror(errno));
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        rc = error_setf(ed, ERROR_IO, "%s: not a regular file", path);
        goto out;
    }
    if ((size_t)st.st_size > max_bytes) {
        rc = error_setf(ed,
                        ERROR_RANGE,
                        "%s: %lld bytes: larger than the limit of %zu bytes",
                        path,
                        (long long)st.st_size,
                        max_bytes);
        goto out;
    }
    buf = alloc_array((size_t)st.st_size + 1, 1);
    while (got < (size_t)st.st_size) {
        ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            rc = error_setf(ed,
                            ERROR_IO,
                            "%s: read failed: %s",
                            path,
                            n < 0 ? strerror(errno) : "file shrank while reading");
            goto out;
        }
        got += (size_t)n;
    }
    buf[got] = '\0';
    *out = buf;
    buf = NULL;
    if (len) {
        *len = got;
    }
out:
    free(buf);
    close(fd);
    return rc;
}

int fileio_write_atomic(const char *path, const void *data, size_t len, struct error_detail *ed)
{
    int rc = ERROR_OK;
    char *tmp = alloc_printf("%s.tmp.%ld", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    size_t done = 0;

    if (fd < 0) {
        rc = error_setf(ed, ERROR_IO, "%s: cannot create: %s", tmp, strerror(errno));
        goto out;
    }
    while (done < len) {
        ssize_t n = write(fd, (const char *)data + done, len - done);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            rc = error_setf(ed, ERROR_IO, "%s: write failed: %s", tmp, strerror(errno));
            goto out;
        }
        done += (size_t)n;
    }
    if (fsync(fd) != 0) {
        rc = error_setf(ed, ERROR_IO, "%s: fsync failed: %s", tmp, strerror(errno));
        goto out;
    }
    if (close(fd) != 0) {
        fd = -1;
        rc = error_setf(ed, ERROR_IO, "%s: close failed: %s", tmp, strerror(errno));
        goto out;
    }
    fd = -1;
    if (rename(tmp, path) != 0) {
        rc = error_setf(ed, ERROR_IO, "%s: cannot rename into place: %s", path, strerror(errno));
    }
out:
    if (fd >= 0) {
        close(fd);
    }
    if (rc) {
        unlink(tmp);
    }
    free(tmp);
    return rc;
}
