/* fuzz_csv: dcr_csv_load on arbitrary bytes. The first byte chooses the
 * options: bit 0 header, bit 1 class or values, bits 2-3 the target column
 * (-1, 0, 1, -2), bits 4-5 n_in (1..4), bits 6-7 n_out (1..4). */
#include "dcr.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t c = data[0];
    static const int cols[4] = {-1, 0, 1, -2};
    dcr_csv_opts o = {.header = c & 1,
                      .target_column = cols[(c >> 2) & 3],
                      .kind = (c & 2) ? DCR_TARGET_VALUES : DCR_TARGET_CLASS};
    int n_in = 1 + ((c >> 4) & 3), n_out = 1 + ((c >> 6) & 3);
    const char *path = fuzz_write_tmp("csv", data + 1, size - 1);
    dcr_dataset d;
    dcr_error err;
    memset(&d, 0, sizeof d);
    if (dcr_csv_load(&d, path, &o, n_in, n_out, &err) == 0) {
        /* touch every value: a short buffer shows up under ASan */
        double s = 0;
        for (size_t i = 0; i < d.n_rows * (size_t)d.n_in; i++)
            s += d.x[i];
        for (size_t i = 0; i < d.n_rows * (size_t)d.n_out; i++)
            s += d.y[i];
        if (d.label)
            for (size_t i = 0; i < d.n_rows; i++)
                if (d.label[i] < 0 || d.label[i] >= n_out)
                    abort();
        (void)s;
    }
    dcr_dataset_free(&d);
    return 0;
}
