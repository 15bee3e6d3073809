/*
 * alloc/heap_large.c - the heap's large blocks: one run from the
 * environment's map_pages each, with struct heap_large ending right at the
 * payload (see heap.h). Allocating, freeing and resizing them (remap_pages),
 * and the sampled one-page blocks of env.sample_every. None of it is on the
 * front cache's path; heap.c reaches it through the heap_core_large_* and
 * heap_core_sampled_alloc calls declared in heap_impl.h.
 */
#include "heap_impl.h"

/* Makes run r (run_bytes) a live large block whose payload is p: its header, the list, the counters. */
static void *large_link(struct heap *h, uintptr_t r, size_t run_bytes, uintptr_t p)
{
	struct heap_large *l = (struct heap_large *)p - 1;
	l->run = r;
	l->run_bytes = run_bytes;
	l->spare = 0;
	l->word = make_word(h, (uintptr_t)&l->word, large_usable(l), HEAP_BLK_LARGE);
	l->prev = NULL;
	l->next = h->large_list;
	if (l->next)
		l->next->prev = l;
	h->large_list = l;
	h->large_blocks++;
	h->large_bytes += run_bytes;
	note_used(h, 0, 0);
	return (void *)p;
}

/* A run holding size bytes after its header, payload + off aligned to align (>= 16); or NULL. */
void *heap_core_large_alloc(struct heap *h, size_t size, size_t align, size_t off)
{
	size_t page = h->env.page_size;
	/*
	 * The header needs 48 bytes before the payload; a run starts page
	 * aligned, so rounding run + 48 up to align lands at most
	 * max(64, align) bytes in. With off, run + 48 + off is rounded up, at
	 * most align - 16 bytes further (both are multiples of 16).
	 */
	size_t lead = off ? 48 + off + align : align > 64 ? align : 64;

	if (size > PTRDIFF_MAX || lead > PTRDIFF_MAX || size + lead > HEAP_BLK_SIZE_MASK - page)
		return NULL;
	size_t run_bytes = (size + lead + page - 1) & ~(page - 1);
	/* Nothing in the heap changes before this call: an environment may trim the heap from inside it. */
	void *run = h->env.map_pages(h->env.ctx, run_bytes);
	if (!run)
		return NULL;
	uintptr_t r = (uintptr_t)run;
	ALLOC_ASSERT((r & (page - 1)) == 0 && "large_alloc: map_pages returned an unaligned run");
	uintptr_t p = ((r + sizeof(struct heap_large) + off + align - 1) & ~(uintptr_t)(align - 1)) - off;
	ALLOC_ASSERT(p + size <= r + run_bytes && "large_alloc: payload overruns its run");
	return large_link(h, r, run_bytes, p);
}

/*
 * A sampled allocation ("sample" in heap.h): a one-page run whose block
 * ends where the page ends; NULL (nothing changed) if size does not fit
 * beside the header or no page could be mapped.
 */
void *heap_core_sampled_alloc(struct heap *h, size_t size)
{
	size_t page = h->env.page_size;
	size_t room = size ? (size + HEAP_ALIGN - 1) & ~(size_t)(HEAP_ALIGN - 1) : HEAP_ALIGN;

	if (size > page || room + sizeof(struct heap_large) > page)
		return NULL;
	void *run = h->env.map_pages(h->env.ctx, page);
	if (!run)
		return NULL;
	uintptr_t r = (uintptr_t)run;
	ALLOC_ASSERT((r & (page - 1)) == 0 && "sampled_alloc: map_pages returned an unaligned run");
	h->sampled_blocks++;
	return large_link(h, r, page, r + page - room);
}

void heap_core_large_free(struct heap *h, struct heap_large *l)
{
	if (l->next)
		l->next->prev = l->prev;
	if (l->prev)
		l->prev->next = l->next;
	else
		h->large_list = l->next;
	h->large_blocks--;
	h->large_bytes -= l->run_bytes;
	h->env.unmap_pages(h->env.ctx, (void *)l->run, l->run_bytes);
}

/* See heap_impl.h. The header keeps its offset in the run, so its payload keeps its alignment in a page. */
void *heap_core_large_remap(struct heap *h, struct heap_large *l, size_t size)
{
	size_t page = h->env.page_size;
	size_t lead = (uintptr_t)(l + 1) - l->run;   /* run start to payload */

	if (!h->env.remap_pages || size > PTRDIFF_MAX || size + lead > HEAP_BLK_SIZE_MASK - page)
		return NULL;
	size_t run_bytes = (size + lead + page - 1) & ~(page - 1), old_bytes = l->run_bytes;
	/*
	 * Nothing to resize, or a run mostly lead (a memaligned block shrunk
	 * far): the caller moves the block to a fresh run instead, as
	 * without remap_pages, so no run is kept more than half empty.
	 */
	if (run_bytes == old_bytes || size < (run_bytes - lead) / 2)
		return NULL;
	struct heap_large *prev = l->prev, *next = l->next;
	void *nr = h->env.remap_pages(h->env.ctx, (void *)l->run, old_bytes, run_bytes);
	if (!nr)
		return NULL;
	uintptr_t r = (uintptr_t)nr;
	ALLOC_ASSERT((r & (page - 1)) == 0 && "large_remap: remap_pages returned an unaligned run");
	struct heap_large *m = (struct heap_large *)(r + lead) - 1;
	m->run = r;
	m->run_bytes = run_bytes;
	m->word = make_word(h, (uintptr_t)&m->word, large_usable(m), HEAP_BLK_LARGE);
	if (prev)
		prev->next = m;
	else
		h->large_list = m;
	if (next)
		next->prev = m;
	h->large_bytes = h->large_bytes - old_bytes + run_bytes;
	note_used(h, 0, 0);
	return (void *)(m + 1);
}
