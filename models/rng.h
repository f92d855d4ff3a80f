/* SPDX-License-Identifier: MIT */
/*
 * rng.h - the one pseudo-random number generator of flexd. Every random
 * draw (simulated weather, arrivals, faults, randomised tests) comes from
 * an instance of this module created from a 64-bit seed, so a run can be
 * replayed exactly from the seed it printed. rand() and random() are not
 * used anywhere.
 *
 * The generator is xoshiro256** (Blackman & Vigna, "Scrambled linear
 * pseudorandom number generators", ACM TOMS 47(4), 2021) with its state
 * filled by splitmix64 (Steele, Lea & Flood, OOPSLA 2014), as the authors
 * recommend. Integer and uniform draws are bit-identical on every platform;
 * normal and Poisson draws use only IEEE-exact operations (+ - * / sqrt,
 * frexp) and a logarithm written here, never libm's log/exp/cos, so they
 * are bit-identical too wherever the compiler does not contract a*b+c into
 * a fused multiply-add (the project builds with -std=c11, which keeps GCC
 * from contracting).
 *
 * An instance is not thread-safe; give each thread or each stream its own.
 */
#ifndef FLEXD_MODELS_RNG_H
#define FLEXD_MODELS_RNG_H

#include <stdint.h>

/* Internal state; the fields are public only so that a stream can live on
 * the stack or inside another struct (rng_seed()). Do not touch them. */
struct rng {
    uint64_t s[4];
    double spare_normal; /* second value of the last polar-method pair */
    int has_spare;
};

/* A new generator seeded with seed (any value, 0 included). Never NULL
 * (allocation aborts on out-of-memory); free with rng_free(). */
struct rng *rng_new(uint64_t seed);

/* Free r; NULL is a no-op. */
void rng_free(struct rng *r);

/* (Re)seed an existing generator, e.g. one on the stack: after this the
 * stream is the same as that of rng_new(seed). */
void rng_seed(struct rng *r, uint64_t seed);

/* Mix two 64-bit values into a well-spread seed (splitmix64 finaliser).
 * Used to derive independent streams, e.g. rng_mix(run_seed, day_index),
 * so that a day's draws do not depend on which days were drawn before. */
uint64_t rng_mix(uint64_t a, uint64_t b);

/* Next 64 random bits. */
uint64_t rng_next_u64(struct rng *r);

/* Uniform double in [0, 1) with 53 random bits. */
double rng_uniform(struct rng *r);

/* Uniform integer in [0, n) without modulo bias (rejection of the top
 * 2^64 mod n values, as OpenBSD's arc4random_uniform); n = 0 returns 0. */
uint64_t rng_below(struct rng *r, uint64_t n);

/* Normal draw with the given mean and standard deviation (Marsaglia polar
 * method; values come in pairs, the second is kept for the next call). */
double rng_normal(struct rng *r, double mean, double sd);

/* Poisson draw with mean lambda_ (>= 0; NaN or negative gives 0). Exact
 * (Knuth's product-of-uniforms in log form) for lambda_ <= 500; above that
 * a rounded normal approximation N(lambda_, lambda_), whose shape error is
 * O(1/sqrt(lambda_)) < 5 %. */
int64_t rng_poisson(struct rng *r, double lambda_);

/* Natural logarithm of x > 0 from IEEE-exact operations only, so that
 * seeded draws agree bit for bit across C libraries. Accurate to about
 * 1 ulp; x <= 0 returns -HUGE_VAL. Exported for the tests. */
double rng_log(double x);

#endif
