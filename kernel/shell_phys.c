/*
 * kernel/shell_phys.c - the prompt's view of physical memory: `memmap` (the
 * normalized map the boot built) and `pmm` (the buddy allocator's frames),
 * each with a machine-readable "dump" form for tools/memviz.
 */
#include "shell.h"

#include "bootlog.h"
#include "lib/string.h"
#include "pmm.h"
#include "printk.h"

/* One word per type for the dumps: memmap_type_name() has spaces. */
static const char *type_token(uint32_t type)
{
	switch (type) {
	case MEMMAP_USABLE:       return "usable";
	case MEMMAP_RESERVED:     return "reserved";
	case MEMMAP_ACPI_RECLAIM: return "acpi_reclaim";
	case MEMMAP_ACPI_NVS:     return "acpi_nvs";
	case MEMMAP_BAD:          return "bad";
	case MEMMAP_LOW1M:        return "low1m";
	case MEMMAP_KERNEL:       return "kernel";
	case MEMMAP_BOOTDATA:     return "bootdata";
	case MEMMAP_PMM:          return "pmm";
	default:                  return "unknown";
	}
}

void shell_dump_memmap(void)
{
	const struct memmap *m = &shell_bootinfo()->map;
	printk("BEGIN MEMMAP ranges=%u\n", m->n);
	for (unsigned i = 0; i < m->n; i++)
		printk("MEMMAP 0x%016lx 0x%016lx %s\n", m->r[i].base, m->r[i].len, type_token(m->r[i].type));
	printk("END MEMMAP\n");
}

void shell_cmd_memmap(int argc, char **argv)
{
	if (argc > 1) {
		if (strcmp(argv[1], "dump") != 0) {
			printk("memmap: unknown argument \"%s\" (usage: memmap [dump])\n", argv[1]);
			return;
		}
		shell_dump_memmap();
		return;
	}
	const struct memmap *m = &shell_bootinfo()->map;
	bootlog_map("normalized memory map", m->r, m->n);
	uint64_t usable = memmap_total(m, MEMMAP_USABLE);
	printk("  usable: %lu KiB (%lu MiB); highest usable byte 0x%lx\n", usable >> 10, usable >> 20,
	       memmap_usable_end(m) - 1);
}

/* --- the pmm -------------------------------------------------------------- */

static const char *state_word(unsigned state)
{
	switch (state) {
	case BUDDY_FREE_HEAD:
	case BUDDY_FREE_TAIL:  return "free";
	case BUDDY_ALLOC_HEAD:
	case BUDDY_ALLOC_TAIL: return "allocated";
	default:               return "reserved";
	}
}

struct run {
	uint64_t base_pa, npages;
	const char *state;
	int order;              /* -1: reserved frames, or a tail met without its head */
};

static void flush_run(struct run *r)
{
	if (!r->npages)
		return;
	if (r->order < 0)
		printk("PMM 0x%016lx %lu %s -\n", r->base_pa, r->npages, r->state);
	else
		printk("PMM 0x%016lx %lu %s %d\n", r->base_pa, r->npages, r->state, r->order);
	r->npages = 0;
}

/*
 * One line per run of buddy blocks that share a state and an order, in
 * address order. Only .state is read first: .order means something in a
 * head frame only (reserved frames and tails keep whatever was there).
 */
void shell_dump_pmm(void)
{
	const struct buddy *b = pmm_buddy();
	struct run r = { 0 };
	printk("BEGIN PMM base=0x%lx frames=%lu page=%llu\n", b->base_pfn << BUDDY_PAGE_SHIFT, b->nframes,
	       BUDDY_PAGE_SIZE);
	for (uint64_t i = 0; i < b->nframes;) {
		unsigned state = b->frames[i].state;
		uint64_t n = 1;
		int order = -1;
		if (state == BUDDY_FREE_HEAD || state == BUDDY_ALLOC_HEAD) {
			unsigned o = b->frames[i].order;
			if (o <= BUDDY_MAX_ORDER && (1ull << o) <= b->nframes - i) {
				order = (int)o;
				n = 1ull << o;
			}
		}
		const char *word = state_word(state);
		uint64_t pa = (b->base_pfn + i) << BUDDY_PAGE_SHIFT;
		if (!r.npages || r.state != word || r.order != order || r.base_pa + (r.npages << BUDDY_PAGE_SHIFT) != pa) {
			flush_run(&r);
			r = (struct run){ pa, 0, word, order };
		}
		r.npages += n;
		i += n;
	}
	flush_run(&r);
	printk("END PMM\n");
}

void shell_cmd_pmm(int argc, char **argv)
{
	if (argc > 1) {
		if (strcmp(argv[1], "dump") != 0) {
			printk("pmm: unknown argument \"%s\" (usage: pmm [dump])\n", argv[1]);
			return;
		}
		shell_dump_pmm();
		return;
	}
	pmm_dump();
	const struct pmm_info *pi = pmm_info();
	printk("frame metadata: %lu KiB at 0x%lx (%lu bytes a frame)\n", pi->meta_bytes >> 10, pi->meta_pa,
	       (uint64_t)sizeof(struct buddy_frame));
}
