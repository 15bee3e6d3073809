/*
 * kernel/shell_virt.c - the prompt's view of virtual memory: `ptwalk` (one
 * address through the four levels), `ptdump` (every mapped range), `peek`
 * (read a few bytes, only where reading cannot fault or touch a device) and
 * `brk` (the heap's window and break).
 */
#include "shell.h"

#include "arch/x86_64/layout.h"
#include "kbrk.h"
#include "kheap.h"
#include "klarge.h"
#include "printk.h"
#include "vmm.h"

#define PEEK_DEFAULT 64
#define PEEK_MAX     256

void shell_cmd_ptwalk(int argc, char **argv)
{
	(void)argc;
	uint64_t va;
	if (!shell_num(argv[0], "address", argv[1], &va))
		return;
	vmm_print_walk(va);     /* reads the tables through the direct map only: never faults */
	char region[160];
	vmm_describe_region(va, region, sizeof region);
	printk("region: %s\n", region);
}

void shell_cmd_ptdump(int argc, char **argv)
{
	uint64_t from = 0, to = UINT64_MAX;
	if (argc == 2) {
		printk("ptdump: give both FROM and TO, or neither\n");
		return;
	}
	if (argc == 3 && (!shell_num(argv[0], "address", argv[1], &from) || !shell_num(argv[0], "address", argv[2], &to)))
		return;
	if (from >= to) {
		printk("ptdump: FROM must be below TO\n");
		return;
	}
	vmm_dump(from, to);
}

/*
 * May peek read the page at va? It must be mapped, and what it maps must be
 * RAM in the memory map: never a hole or a firmware-reserved range, where a
 * direct-map large page could reach device registers, nor the legacy VGA
 * window in the low 1 MiB. Says why not in *why.
 */
static bool peekable(uint64_t va, const char **why)
{
	struct vmm_translation t;
	int r = vmm_translate(va, &t);
	if (r == -VMM_EINVAL) {
		*why = "is not canonical";
		return false;
	}
	if (r) {
		*why = "is not mapped";
		return false;
	}
	const struct memmap *m = &shell_bootinfo()->map;
	for (unsigned i = 0; i < m->n; i++) {
		const struct memmap_range *mr = &m->r[i];
		if (t.pa < mr->base || t.pa - mr->base >= mr->len)
			continue;
		switch (mr->type) {
		case MEMMAP_RESERVED:
		case MEMMAP_BAD:
			*why = "maps firmware-reserved memory (maybe a device)";
			return false;
		case MEMMAP_LOW1M:
			if (t.pa >= 0xa0000 && t.pa < 0xc0000) {
				*why = "maps the legacy VGA window";
				return false;
			}
			return true;
		default:
			return true;
		}
	}
	*why = "maps no RAM (a hole in the memory map)";
	return false;
}

void shell_cmd_peek(int argc, char **argv)
{
	uint64_t va, len = PEEK_DEFAULT;
	if (!shell_num(argv[0], "address", argv[1], &va))
		return;
	if (argc > 2 && !shell_num(argv[0], "length", argv[2], &len))
		return;
	if (len == 0 || len > PEEK_MAX) {
		printk("peek: LEN must be 1..%d\n", PEEK_MAX);
		return;
	}
	if (va + len < va) {
		printk("peek: the range wraps around the address space\n");
		return;
	}
	/* Check every page first, so a refusal prints nothing half-way. */
	for (uint64_t page = va & ~(PAGE_SIZE - 1); page < va + len; page += PAGE_SIZE) {
		const char *why;
		uint64_t at = page < va ? va : page;
		if (!peekable(at, &why)) {
			printk("peek: refused: 0x%lx %s\n", at, why);
			return;
		}
	}
	for (uint64_t line = va & ~15ull; line < va + len; line += 16) {
		char ascii[17];
		printk("%016lx ", line);
		for (int i = 0; i < 16; i++) {
			uint64_t a = line + (uint64_t)i;
			if (a < va || a >= va + len) {
				printk("   ");
				ascii[i] = ' ';
				continue;
			}
			uint8_t b = *(const volatile uint8_t *)a;
			printk(" %02x", b);
			ascii[i] = b >= 0x20 && b < 0x7f ? (char)b : '.';
		}
		ascii[16] = 0;
		printk("  |%s|\n", ascii);
	}
}

void shell_cmd_brk(int argc, char **argv)
{
	(void)argc, (void)argv;
	uint64_t base = kbrk_base(), cur = kbrk_current();
	const struct heap *h = kheap();
	struct heap_stats st;
	kheap_stats(&st);
	printk("heap window  0x%016lx-0x%016lx (%lu GiB; unmapped above the break)\n", (uint64_t)HEAP_BASE,
	       (uint64_t)(HEAP_BASE + HEAP_SIZE), (uint64_t)HEAP_SIZE >> 30);
	printk("break        0x%016lx: %lu KiB above the base, %lu frames mapped under it\n", cur,
	       (cur - base) >> 10, kbrk_frames());
	printk("heap floor   0x%016lx (the break never trims below its first %lu KiB)\n", (uint64_t)h->floor_brk,
	       (uint64_t)(h->floor_brk - h->base) >> 10);
	printk("first fault  0x%016lx (the first byte past the page that holds the break)\n",
	       (cur + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1));
	printk("large window 0x%016lx-0x%016lx: %zu live block(s), %zu KiB mapped, %lu frames\n",
	       (uint64_t)LARGE_BASE, (uint64_t)(LARGE_BASE + LARGE_SIZE), st.large_blocks, st.large_bytes >> 10,
	       klarge_frames());
}
