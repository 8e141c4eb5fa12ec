/* fuzz_npy: dcr_npy_read on arbitrary bytes. */
#include "dcr.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_write_tmp("npy", data, size);
    dcr_npy a;
    dcr_error err;
    if (dcr_npy_read(&a, path, &err) == 0) {
        size_t n = 1;
        for (int i = 0; i < a.ndim; i++)
            n *= a.shape[i];
        if (n != a.count || a.ndim < 0 || a.ndim > DCR_NPY_MAX_DIMS)
            abort();
        size_t es = dcr_dtype_size(a.dtype);
        unsigned char acc = 0;
        for (size_t i = 0; i < a.count * es; i++)
            acc ^= ((const unsigned char *)a.data)[i];
        (void)acc;
        dcr_npy_free(&a);
    }
    return 0;
}
