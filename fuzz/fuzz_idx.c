/* fuzz_idx: dcr_idx_load on two files cut from the input. Byte 0-1: the
 * split position (big-endian, modulo the rest's length); byte 2: n_in
 * selector, byte 3: n_out. Either part may be gzip (detected by magic). */
#include "dcr.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 4)
        return 0;
    size_t rest = size - 4;
    size_t cut = rest ? (((size_t)data[0] << 8) | data[1]) % (rest + 1) : 0;
    static const int n_ins[4] = {1, 4, 16, 784};
    int n_in = n_ins[data[2] & 3];
    int n_out = 1 + data[3] % 10;
    const char *img = fuzz_write_tmp("img", data + 4, cut);
    const char *lab = fuzz_write_tmp("lab", data + 4 + cut, rest - cut);
    dcr_dataset d;
    dcr_error err;
    memset(&d, 0, sizeof d);
    if (dcr_idx_load(&d, img, lab, n_in, n_out, &err) == 0) {
        double s = 0;
        for (size_t i = 0; i < d.n_rows * (size_t)d.n_in; i++)
            s += d.x[i];
        for (size_t i = 0; i < d.n_rows * (size_t)d.n_out; i++)
            s += d.y[i];
        (void)s;
    }
    dcr_dataset_free(&d);
    return 0;
}
