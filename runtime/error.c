/* error.c: how the runtime reports failure. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "dcr_internal.h"

int dcr_fail(dcr_error *err, dcr_status status, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        /* Truncation is acceptable: a cut message still says what failed. */
        int n = vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        if (n < 0)
            err->msg[0] = '\0';
        err->status = status;
    }
    return -1;
}

DCR_NORETURN void dcr_die(const char *file, int line, const char *what)
{
    /* The one place the runtime writes to stderr: a broken invariant has no
     * caller-visible error channel, and aborting silently would hide it. */
    fprintf(stderr, "%s:%d: deltac runtime internal error: %s\n", file, line, what);
    abort();
}
