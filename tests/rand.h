/*
 * tests/rand.h - a small deterministic PRNG (splitmix64) for randomized
 * tests: the same seed gives the same run, so a failure can be replayed with
 * seed=N on the command line.
 */
#ifndef TESTS_RAND_H
#define TESTS_RAND_H

#include <stdint.h>

struct rand { uint64_t s; };

static inline uint64_t rand_next(struct rand *r)
{
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Uniform in [0, n), n > 0 (the modulo bias is irrelevant for tests). */
static inline uint64_t rand_below(struct rand *r, uint64_t n) { return rand_next(r) % n; }

#endif
