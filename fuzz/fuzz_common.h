/* fuzz_common.h: helpers shared by the libFuzzer targets (fuzz/). */
#ifndef FUZZ_COMMON_H
#define FUZZ_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Writes len bytes to a per-process temporary file named after tag and
 * returns its path (reused across inputs). The file lives in /dev/shm when
 * there is one (creating and truncating files on a disk-backed /tmp is
 * what limits the speed), else in /tmp. */
static char fuzz_paths[4][256];
static int fuzz_used;

static void fuzz_remove_tmp(void)
{
    for (int i = 0; i < fuzz_used; i++)
        unlink(fuzz_paths[i]);
}

static const char *fuzz_write_tmp(const char *tag, const uint8_t *data, size_t len)
{
    int slot = -1;
    char want[256];
    const char *dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(want, sizeof want, "%s/deltac-fuzz-%ld-%s", dir, (long)getpid(), tag);
    for (int i = 0; i < fuzz_used; i++)
        if (strcmp(fuzz_paths[i], want) == 0)
            slot = i;
    if (slot < 0) {
        if (fuzz_used == 4)
            abort();
        if (fuzz_used == 0)
            atexit(fuzz_remove_tmp);
        slot = fuzz_used++;
        memcpy(fuzz_paths[slot], want, sizeof want);
    }
    FILE *f = fopen(fuzz_paths[slot], "wb");
    if (!f)
        abort();
    if (len && fwrite(data, 1, len, f) != len)
        abort();
    if (fclose(f) != 0)
        abort();
    return fuzz_paths[slot];
}

#endif
