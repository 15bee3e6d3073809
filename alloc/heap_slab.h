/*
 * alloc/heap_slab.h - private to alloc/heap.c: the hot half of level 0's
 * slabs (see "slabs" in heap.h), inlined into heap_malloc and heap_free.
 * The rest (new runs, runs that fill or empty, classify, check) is
 * heap_slab.c.
 */
#ifndef ALLOC_HEAP_SLAB_H
#define ALLOC_HEAP_SLAB_H

#include "heap_impl.h"

/* ceil(2^17 / (k + 1)): (u * slab_recip[k]) >> 17 is u / (k + 1) for every u < 256. */
static const uint32_t slab_recip[HEAP_SLAB_CLASSES] = { 131072, 65536, 43691, 32768 };
/*
 * slab_cap(k) as constants. The hot paths bound indexes by these, never by
 * a run's own cap, so a damaged head cannot send an object past its run.
 */
static const uint16_t slab_caps[HEAP_SLAB_CLASSES] = { slab_cap_c(0), slab_cap_c(1), slab_cap_c(2), slab_cap_c(3) };

/* Run s just gave out its last free object: off its class's list. */
void heap_slab_full(struct heap *h, struct heap_slab *s);

/*
 * Level 0, n < h->slab_lim: an object of class (n - 1) / 16 from the first
 * run on its list. The run's head is trusted only once its check word
 * proves it (an overflow from the block below reaches the check word before
 * the list links, which a run that fills follows), and its bitmap only as
 * far as it stays in the run: a wrong check word, a word with no bit, or an
 * index past cap, sends the call to heap_slab_refill, which reports the run
 * and serves the request as a block.
 */
static inline __attribute__((always_inline)) void *slab_alloc(struct heap *h, size_t n)
{
	unsigned k = (unsigned)((n - (n != 0)) >> 4);
	struct heap_slab *s = h->slab_partial[k];

	if (ALLOC_UNLIKELY(!s))
		return heap_slab_refill(h, k, n);
	/* The first word with a free object: no branch on which (sizes and runs come in any order). */
	unsigned words = s->words, wi = (unsigned)__builtin_ctz(words | 8);
	uint64_t bits = s->free_bits[wi];
	unsigned i = wi * 64 + (unsigned)__builtin_ctzll(bits | (1ull << 63));
	if (ALLOC_UNLIKELY(!bits || i >= slab_caps[k] || s->check != slab_check_word(h, s)))
		return heap_slab_refill(h, k, n);
	bits &= bits - 1;
	s->free_bits[wi] = bits;
	words &= ~((unsigned)(bits == 0) << wi);
	s->words = (uint8_t)words;
	s->live++;
	h->slab_live[k]++;
	if (ALLOC_UNLIKELY(!words))
		heap_slab_full(h, s);
	return (void *)((uintptr_t)s + HEAP_SLAB_HDR + (uintptr_t)i * (k + 1) * 16);
}

/*
 * Level 0, p inside the break on a run page: frees the object at p, or
 * returns false with nothing changed when p is not a live object (the
 * caller's slow path classifies it again and reports it). A run that just
 * stopped being full, or became empty, goes to heap_slab_edge.
 */
static inline __attribute__((always_inline)) bool slab_free(struct heap *h, uintptr_t p)
{
	struct heap_slab *s = slab_of(p);
	size_t u = (p - (uintptr_t)s - HEAP_SLAB_HDR) >> 4;   /* wraps below the first object */
	unsigned k = s->cls & 3;
	unsigned i = (unsigned)((u * slab_recip[k]) >> 17);

	/* i * (k + 1) == u and i < cap: exactly an object's start (u < 256 follows). */
	if (ALLOC_UNLIKELY(i * (k + 1) != u || i >= slab_caps[k] || s->check != slab_check_word(h, s)))
		return false;
	uint64_t bit = 1ull << (i & 63), w = s->free_bits[i >> 6];
	if (ALLOC_UNLIKELY(w & bit))
		return false;   /* a double free */
	s->free_bits[i >> 6] = w | bit;
	unsigned was = s->words;   /* 0: it was full */
	s->words = (uint8_t)(was | 1u << (i >> 6));
	h->slab_live[k]--;
	unsigned live = --s->live;
	if (ALLOC_UNLIKELY(live == 0 || was == 0))
		heap_slab_edge(h, s);
	return true;
}

#endif /* ALLOC_HEAP_SLAB_H */
