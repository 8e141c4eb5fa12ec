/* fuzz_spec: dc_spec_parse on arbitrary bytes. Errors are fine; crashes,
 * leaks and hangs are findings. */
#include "deltac.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    dc_spec s;
    dcr_error err;
    if (dc_spec_parse(&s, (const char *)data, size, "fuzz.json", &err) == 0) {
        dc_net n;
        (void)dc_net_from_spec(&n, &s, &err);
    }
    dc_spec_free(&s);
    return 0;
}
