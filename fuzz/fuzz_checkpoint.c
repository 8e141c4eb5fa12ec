/* fuzz_checkpoint: dcr_ckpt_read, then dcr_ckpt_check against the xor
 * network and against the checkpoint's own architecture. */
#include "dcr.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_write_tmp("ckpt", data, size);
    dcr_ckpt c;
    dcr_error err;
    if (dcr_ckpt_read(&c, path, &err) == 0) {
        dcr_arch xor_ = {.dtype = DCR_F64, .n_layers = 2, .sizes = {2, 4, 1},
                         .act = {0, DCR_ACT_SIGMOID, DCR_ACT_SIGMOID}, .loss = DCR_LOSS_MSE};
        unsigned char sha[32] = {0};
        (void)dcr_ckpt_check(&c, path, &xor_, sha, &err);
        (void)dcr_ckpt_check(&c, path, &c.arch, c.spec_sha256, &err);
        /* the parameters and the state must all be there */
        size_t es = dcr_dtype_size(c.arch.dtype);
        unsigned char acc = 0;
        for (size_t i = 0; i < c.n_params * es; i++)
            acc ^= ((const unsigned char *)c.params)[i];
        for (size_t i = 0; i < c.n_state * es; i++)
            acc ^= ((const unsigned char *)c.state)[i];
        (void)acc;
        if (c.n_params != dcr_arch_n_params(&c.arch))
            abort();
        dcr_ckpt_free(&c);
    }
    return 0;
}
