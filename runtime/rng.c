/* rng.c: xoshiro256** seeded by splitmix64, and parameter initialisation.
 * Every consumer of random numbers (split, shuffle, init) goes through these
 * few functions so that a generated standalone trainer can reproduce the
 * streams exactly; keep them simple enough to be rewritten in one screen. */
#include <math.h>

#include "dcr_internal.h"

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

void dcr_rng_seed(dcr_rng *r, uint64_t seed)
{
    /* splitmix64 never yields four zero words, which xoshiro cannot leave. */
    uint64_t x = seed;
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&x);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t dcr_rng_next(dcr_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double dcr_rng_uniform(dcr_rng *r)
{
    return (double)(dcr_rng_next(r) >> 11) * 0x1.0p-53;
}

/* Rejection on the low end: the 2^64 mod n smallest values are the ones that
 * would make x % n biased. Plain 64-bit arithmetic (no 128-bit multiply as in
 * Lemire's method) so that any C compiler, tcc included, gets the same draws. */
uint64_t dcr_rng_below(dcr_rng *r, uint64_t n)
{
    DCR_ASSERT(n > 0);
    uint64_t threshold = (0 - n) % n; /* 2^64 mod n */
    for (;;) {
        uint64_t x = dcr_rng_next(r);
        if (x >= threshold)
            return x % n;
    }
}

void dcr_rng_shuffle(dcr_rng *r, size_t *idx, size_t n)
{
    for (size_t i = n; i-- > 1;) {
        size_t j = (size_t)dcr_rng_below(r, (uint64_t)i + 1);
        size_t t = idx[i];
        idx[i] = idx[j];
        idx[j] = t;
    }
}

/* The bound r of a uniform scheme, or the standard deviation of a normal
 * one (PyTorch's xavier_normal_ and kaiming_normal_ with ReLU's gain). */
static double init_range(const dcr_init *init, int fan_in, int fan_out)
{
    switch (init->scheme) {
    case DCR_INIT_XAVIER_UNIFORM: return sqrt(6.0 / ((double)fan_in + (double)fan_out));
    case DCR_INIT_HE_UNIFORM: return sqrt(6.0 / (double)fan_in);
    case DCR_INIT_UNIFORM: return init->range;
    case DCR_INIT_XAVIER_NORMAL: return sqrt(2.0 / ((double)fan_in + (double)fan_out));
    case DCR_INIT_HE_NORMAL: return sqrt(2.0 / (double)fan_in);
    }
    DCR_DIE("bad init scheme");
}

/* A standard normal draw by Box-Muller from two uniforms of the stream,
 * u1 then u2 (the sine half is not used): sqrt(-2 ln(1 - u1)) cos(2 pi u2);
 * 1 - u1 is in (0, 1], so the logarithm is finite. */
static double init_normal(dcr_rng *rng)
{
    double u1 = dcr_rng_uniform(rng);
    double u2 = dcr_rng_uniform(rng);
    return sqrt(-2.0 * log(1.0 - u1)) * cos(6.283185307179586 * u2);
}

void dcr_init_params(void *params, const dcr_arch *a, const dcr_init *init)
{
    DCR_ASSERT(params && init && dcr_arch_valid(a));
    dcr_rng rng;
    dcr_rng_seed(&rng, init->seed);
    size_t i = 0;
    for (int l = 1; l <= a->n_layers; l++) {
        double r = init_range(init, a->sizes[l - 1], a->sizes[l]);
        /* sizes fit in the validated parameter count, so this cannot wrap */
        size_t nw = (size_t)a->sizes[l] * (size_t)a->sizes[l - 1];
        /* Drawn in double and rounded once, so a float32 network starts from
         * the float64 network's values rounded to float. */
        int normal = init->scheme == DCR_INIT_XAVIER_NORMAL || init->scheme == DCR_INIT_HE_NORMAL;
        for (size_t k = 0; k < nw; k++, i++) {
            double w = normal ? init_normal(&rng) * r : (2 * dcr_rng_uniform(&rng) - 1) * r;
            if (a->dtype == DCR_F32)
                ((float *)params)[i] = (float)w;
            else
                ((double *)params)[i] = w;
        }
        for (int k = 0; k < a->sizes[l]; k++, i++) {
            if (a->dtype == DCR_F32)
                ((float *)params)[i] = 0;
            else
                ((double *)params)[i] = 0;
        }
    }
}
