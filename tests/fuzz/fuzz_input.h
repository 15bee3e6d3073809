/*
 * tests/fuzz/fuzz_input.h - what every harness does with libFuzzer's bytes:
 * read them as little-endian integers (zeros once they run out, so every
 * input is a complete program), and mix 64-bit values. Shared by fuzz_heap,
 * fuzz_buddy and fuzz_memmap.
 */
#ifndef FUZZ_INPUT_H
#define FUZZ_INPUT_H

#include <stddef.h>
#include <stdint.h>

struct in {
	const uint8_t *p;
	size_t n;
};

static inline uint8_t u8(struct in *in)
{
	if (!in->n)
		return 0;
	in->n--;
	return *in->p++;
}

static inline uint16_t u16(struct in *in) { return (uint16_t)(u8(in) | u8(in) << 8); }
static inline uint32_t u32(struct in *in) { return (uint32_t)u16(in) | (uint32_t)u16(in) << 16; }
static inline uint64_t u64(struct in *in) { return (uint64_t)u32(in) | (uint64_t)u32(in) << 32; }

/* splitmix64's finalizer: spreads a value's bits over all 64. */
static inline uint64_t mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

#endif
