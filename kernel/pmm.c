/*
 * kernel/pmm.c - binds the portable buddy core to this machine's memory.
 *
 * The span the buddy manages runs from physical 0 to the end of the highest
 * usable range (never the highest range of any type: QEMU reports a reserved
 * range near 1 TiB). Its metadata, 12 bytes a frame, is carved out of the
 * first usable range that fits below 4 GiB (the early page tables map that
 * much at DIRECT_MAP_BASE), and marked reserved in the map. Then every
 * usable range is made free. Nothing is a static array sized for a maximum.
 */
#include "pmm.h"

#include "arch/x86_64/cpu.h"
#include "arch/x86_64/layout.h"
#include "arch/x86_64/tsc.h"
#include "early_map.h"
#include "lib/string.h"
#include "panic.h"
#include "printk.h"

static struct buddy pmm;
static struct pmm_info info;
static uint64_t fail_countdown;

static void pmm_report(void *ctx, int err, uint64_t pa, unsigned order, const char *line)
{
	(void)ctx, (void)err, (void)pa, (void)order;
	panic("pmm_free: %s", line);
}

void pmm_init(struct boot_info *bi)
{
	uint64_t t0 = rdtsc();
	struct memmap *map = &bi->map;
	uint64_t usable = memmap_total(map, MEMMAP_USABLE);
	if (usable < PMM_MIN_USABLE)
		panic("pmm_init: this machine has %lu KiB of usable RAM; memkern needs at least %lu MiB "
		      "(give QEMU more with -m, e.g. tools/qemu-test --mem 32M)",
		      usable >> 10, PMM_MIN_USABLE >> 20);

	/* Every frame we hand out must be reachable through the direct map. */
	uint64_t early_bytes = early_map_all_ram(map);

	uint64_t end = memmap_usable_end(map);
	uint64_t nframes = end >> PAGE_SHIFT;
	uint64_t meta_bytes = (buddy_meta_bytes(nframes) + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
	uint64_t meta_pa = memmap_find_free(map, meta_bytes, PAGE_SIZE, BOOT_DIRECT_MAP_LIMIT);
	if (!meta_pa)
		panic("pmm_init: no usable range below 4 GiB can hold the %lu KiB of frame metadata",
		      meta_bytes >> 10);
	if (memmap_reserve(map, meta_pa, meta_bytes, MEMMAP_PMM))
		panic("pmm_init: the memory map is full; cannot reserve the frame metadata");

	info.usable_frames = usable >> PAGE_SHIFT;
	info.taken_frames = (meta_bytes + early_bytes) >> PAGE_SHIFT;
	info.meta_pa = meta_pa;
	info.meta_bytes = meta_bytes;

	buddy_init(&pmm, 0, nframes, phys_to_virt(meta_pa), pmm_report, NULL);
	for (unsigned i = 0; i < map->n; i++)
		if (map->r[i].type == MEMMAP_USABLE)
			buddy_add_free(&pmm, map->r[i].base, map->r[i].len);

	uint64_t t1 = rdtsc();
	info.init_us = tsc_to_us(t1 - t0);
	if (pmm.free_frames != info.usable_frames - info.taken_frames)
		panic("pmm_init: %lu frames free, but the map has %lu usable minus %lu taken",
		      pmm.free_frames, info.usable_frames, info.taken_frames);
	printk("pmm: %lu frames (%lu MiB) usable in the map; the kernel took %lu: frame metadata "
	       "%lu KiB at 0x%lx, early page directories %lu KiB\n", info.usable_frames, info.usable_frames >> 8,
	       info.taken_frames, meta_bytes >> 10, meta_pa, early_bytes >> 10);
	printk("pmm: %lu frames free = %lu usable - %lu taken; span 0x0-0x%lx; pmm_init took %lu.%03lu ms\n",
	       pmm.free_frames, info.usable_frames, info.taken_frames, end, info.init_us / 1000,
	       info.init_us % 1000);
}

static size_t (*reclaim_fn)(void);
static bool reclaiming;

void pmm_set_reclaim(size_t (*fn)(void)) { reclaim_fn = fn; }

/* Asks the reclaim hook for frames once (never from inside itself); whether it gave any. */
static bool reclaim(void)
{
	if (!reclaim_fn || reclaiming)
		return false;
	reclaiming = true;      /* what the hook frees may call pmm_free, never pmm_alloc again */
	size_t got = reclaim_fn();
	reclaiming = false;
	return got != 0;
}

bool pmm_ensure_free(uint64_t frames)
{
	if (pmm.free_frames >= frames)
		return true;
	return reclaim() && pmm.free_frames >= frames;
}

uint64_t pmm_alloc(unsigned order)
{
	if (fail_countdown && --fail_countdown == 0)
		return 0;               /* injected failure (pmm_fail_nth): no reclaim */
	uint64_t pa = buddy_alloc(&pmm, order);
	if (pa == BUDDY_NO_FRAME && reclaim())
		pa = buddy_alloc(&pmm, order);
	return pa == BUDDY_NO_FRAME ? 0 : pa;
}

uint64_t pmm_alloc_zeroed(unsigned order)
{
	uint64_t pa = pmm_alloc(order);
	if (pa)
		memset(phys_to_virt(pa), 0, PAGE_SIZE << order);
	return pa;
}

uint64_t pmm_alloc_owned(unsigned order, unsigned owner)
{
	uint64_t pa = pmm_alloc(order);
	if (pa && buddy_set_owner(&pmm, pa, (uint8_t)owner))
		panic("pmm_alloc_owned: cannot tag the block at 0x%lx it just allocated", pa);
	return pa;
}

static const char *owner_name(unsigned owner)
{
	switch (owner) {
	case PMM_OWNER_NONE: return "no owner (a plain pmm_alloc)";
	case PMM_OWNER_HEAP: return "the kernel heap (kmalloc memory? use kfree)";
	case PMM_OWNER_PAGETABLE: return "the page tables (a live table of the vmm; vmm_unmap frees it)";
	default:             return "an unknown owner";
	}
}

void pmm_free_owned(uint64_t pa, unsigned order, unsigned owner)
{
	/* Pointers where a physical address belongs: say which kind, not "outside RAM". */
	if (pa >= HEAP_BASE && pa < LARGE_BASE + LARGE_SIZE)
		panic("pmm_free: 0x%lx is a kmalloc pointer, not a physical frame (kmalloc memory? use kfree)", pa);
	if (pa >= DIRECT_MAP_BASE && pa < DIRECT_MAP_BASE + DIRECT_MAP_SIZE)
		panic("pmm_free: 0x%lx is a direct-map address; pmm_free takes the physical address 0x%lx", pa,
		      virt_to_phys_direct((void *)pa));
	unsigned tag = buddy_owner(&pmm, pa);
	if (tag != owner)
		panic("pmm_free: frame 0x%lx belongs to %s", pa & ~(PAGE_SIZE - 1), owner_name(tag));
	buddy_free(&pmm, pa, order);    /* misuse reaches pmm_report, which panics */
}

void pmm_free(uint64_t pa, unsigned order)
{
	pmm_free_owned(pa, order, PMM_OWNER_NONE);
}

unsigned pmm_owner(uint64_t pa) { return buddy_owner(&pmm, pa); }

void pmm_fail_nth(uint64_t n) { fail_countdown = n; }
const struct pmm_info *pmm_info(void) { return &info; }
void pmm_stats(struct buddy_stats *st) { buddy_get_stats(&pmm, st); }
uint64_t pmm_free_frames(void) { return pmm.free_frames; }
uint64_t pmm_allocated_frames(void) { return pmm.nframes - pmm.free_frames - pmm.reserved_frames; }
int pmm_check(char *why, size_t len) { return buddy_check(&pmm, why, len); }
const struct buddy *pmm_buddy(void) { return &pmm; }

int pmm_frame_info(uint64_t pa, unsigned *state, unsigned *order, uint64_t *block_pa)
{
	return buddy_frame_info(&pmm, pa, state, order, block_pa);
}

static void emit(void *ctx, const char *line)
{
	(void)ctx;
	printk("  %s\n", line);
}

void pmm_dump(void)
{
	printk("pmm:\n");
	buddy_dump(&pmm, emit, NULL);
}
