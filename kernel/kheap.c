/*
 * kernel/kheap.c - binds the heap core to the kernel (see kheap.h): its
 * break is kbrk, its large runs come from klarge, and its misuse reports go
 * to the console.
 */
#include "kheap.h"

#include "arch/x86_64/layout.h"
#include "kbrk.h"
#include "klarge.h"
#include "panic.h"
#include "printk.h"

static struct heap heap;
static uint64_t reports;

static void *env_sbrk(void *ctx, intptr_t delta)
{
	(void)ctx;
	return ksbrk(delta);
}

static void *env_map(void *ctx, size_t bytes)
{
	(void)ctx;
	return klarge_map(bytes);
}

static void env_unmap(void *ctx, void *p, size_t bytes)
{
	(void)ctx;
	klarge_unmap(p, bytes);
}

static void env_report(void *ctx, int kind, uintptr_t addr, const char *line)
{
	(void)ctx, (void)kind, (void)addr;
	reports++;
	printk("%s\n", line);
}

void kheap_init(void)
{
	struct heap_env env = {
		.sbrk = env_sbrk,
		.map_pages = env_map,
		.unmap_pages = env_unmap,
		.report = env_report,
		.page_size = PAGE_SIZE,
	};
	if (heap_init(&heap, &env))
		panic("kheap_init: the heap could not take its first %u KiB", HEAP_DEFAULT_GROW_BYTES >> 10);
	printk("heap: break at 0x%lx (+%lu KiB), large runs from 0x%lx; blocks >= %u KiB are page-mapped\n",
	       kbrk_base(), (kbrk_current() - kbrk_base()) >> 10, LARGE_BASE, HEAP_DEFAULT_LARGE_THRESHOLD >> 10);
}

void *kmalloc(size_t size) { return heap_malloc(&heap, size); }
void kfree(void *p) { heap_free(&heap, p); }
void *kcalloc(size_t n, size_t size) { return heap_calloc(&heap, n, size); }
void *krealloc(void *p, size_t size) { return heap_realloc(&heap, p, size); }
void *kmemalign(size_t align, size_t size) { return heap_memalign(&heap, align, size); }
size_t kmalloc_usable_size(void *p) { return heap_usable_size(&heap, p); }

struct heap *kheap(void) { return &heap; }
void kheap_stats(struct heap_stats *st) { heap_get_stats(&heap, st); }
int kheap_check(char *why, size_t len) { return heap_check(&heap, why, len); }
size_t kheap_trim(void) { return heap_trim(&heap); }
uint64_t kheap_reports(void) { return reports; }
