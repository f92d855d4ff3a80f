/* SPDX-License-Identifier: MIT */
/*
 * rng.c - xoshiro256** seeded by splitmix64, plus the few distributions
 * flexd needs. Pure arithmetic, no I/O, no globals: every stream is an
 * instance owned by its caller, used from one thread.
 *
 * Why not libm in the distributions: glibc, musl and the BSD libms round
 * log() differently in the last bit for some arguments, and one differing
 * bit in a rejection test changes every later draw. The logarithm below uses
 * only operations IEEE 754 rounds exactly, so a seed replays identically on
 * every platform.
 */
#include "rng.h"

#include "../common/alloc.h"

#include <math.h>
#include <stdlib.h>

/* splitmix64 step (Steele, Lea & Flood 2014; constants from Vigna's
 * reference splitmix64.c). */
static uint64_t rng_splitmix64(uint64_t *x)
{
    uint64_t z;

    *x += 0x9e3779b97f4a7c15ULL;
    z = *x;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t rng_rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

void rng_seed(struct rng *r, uint64_t seed)
{
    uint64_t x = seed;

    /* splitmix64 never yields four zero words in a row, so the xoshiro
     * state is never the all-zero fixed point, whatever the seed. */
    for (int i = 0; i < 4; i++) {
        r->s[i] = rng_splitmix64(&x);
    }
    r->spare_normal = 0.0;
    r->has_spare = 0;
}

struct rng *rng_new(uint64_t seed)
{
    struct rng *r = ALLOC_NEW(struct rng);

    rng_seed(r, seed);
    return r;
}

void rng_free(struct rng *r)
{
    free(r);
}

uint64_t rng_mix(uint64_t a, uint64_t b)
{
    uint64_t x = a ^ rng_rotl(b, 32) ^ 0x6a09e667f3bcc909ULL;
    uint64_t y;

    y = rng_splitmix64(&x);
    x ^= b;
    return y ^ rng_splitmix64(&x);
}

/* xoshiro256** 1.0 (Blackman & Vigna 2018, reference xoshiro256starstar.c). */
uint64_t rng_next_u64(struct rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rng_rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;

    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rng_rotl(s[3], 45);
    return result;
}

double rng_uniform(struct rng *r)
{
    /* top 53 bits times 2^-53: every value is exact, the result in [0, 1) */
    return (double)(rng_next_u64(r) >> 11) * 0x1.0p-53;
}

uint64_t rng_below(struct rng *r, uint64_t n)
{
    uint64_t threshold;
    uint64_t x = 0;

    if (n > 0) {
        /* 2^64 mod n: drawing again below it leaves a multiple of n values */
        threshold = (0 - n) % n;
        do {
            x = rng_next_u64(r);
        } while (x < threshold);
        x %= n;
    }
    return x;
}

double rng_log(double x)
{
    /* fdlibm's split of ln 2: e * LN2_HI is exact for |e| < 2^11 */
    static const double LN2_HI = 6.93147180369123816490e-01;
    static const double LN2_LO = 1.90821492927058770002e-10;
    double result;
    double m, s, s2, term, sum;
    int e;

    if (isnan(x) || x == HUGE_VAL) {
        result = x;
    } else if (x <= 0.0) {
        result = -HUGE_VAL;
    } else {
        m = frexp(x, &e); /* x = m * 2^e, m in [0.5, 1) */
        if (m < 0.70710678118654752440) {
            m *= 2.0;
            e -= 1;
        }
        /* ln m = 2 atanh(s), s = (m - 1)/(m + 1), |s| <= 0.1716; eleven odd
         * terms leave a truncation error below 1e-18. */
        s = (m - 1.0) / (m + 1.0);
        s2 = s * s;
        sum = 0.0;
        for (int k = 21; k >= 3; k -= 2) {
            sum = (sum + 1.0 / k) * s2;
        }
        term = 2.0 * s + 2.0 * s * sum;
        result = e * LN2_HI + (term + e * LN2_LO);
    }
    return result;
}

double rng_normal(struct rng *r, double mean, double sd)
{
    double u, v, s, f, z;

    if (r->has_spare) {
        r->has_spare = 0;
        z = r->spare_normal;
    } else {
        /* Marsaglia & Bray (1964) polar method: needs only log and sqrt */
        do {
            u = 2.0 * rng_uniform(r) - 1.0;
            v = 2.0 * rng_uniform(r) - 1.0;
            s = u * u + v * v;
        } while (s >= 1.0 || s == 0.0);
        f = sqrt(-2.0 * rng_log(s) / s);
        z = u * f;
        r->spare_normal = v * f;
        r->has_spare = 1;
    }
    return mean + sd * z;
}

int64_t rng_poisson(struct rng *r, double lambda_)
{
    int64_t k = 0;
    double t = 0.0;
    double x;

    if (lambda_ > 500.0) {
        x = floor(lambda_ + sqrt(lambda_) * rng_normal(r, 0.0, 1.0) + 0.5);
        k = x > 0.0 ? (int64_t)x : 0;
    } else if (lambda_ > 0.0) {
        /* count unit-rate exponential gaps that fit in [0, lambda_]: the
         * log form of Knuth's product of uniforms, which would underflow
         * exp(-lambda_) for large lambda_ */
        for (;;) {
            t -= rng_log(1.0 - rng_uniform(r)); /* 1 - u in (0, 1] */
            if (t > lambda_) {
                break;
            }
            k++;
        }
    }
    return k;
}
