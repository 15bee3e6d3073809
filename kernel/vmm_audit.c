/*
 * kernel/vmm_audit.c - reading the whole address space back: the W^X audit
 * (no page may be both writable and executable) and a ptdump-style listing
 * of the mapped ranges with their rights. Both walk every table, so they see
 * what the CPU would see, not what the vmm meant to build.
 */
#include "arch/x86_64/layout.h"
#include "arch/x86_64/paging.h"
#include "printk.h"
#include "vmm.h"

struct walk {
	uint64_t wx, printed;
	bool print;
	/* ptdump: the run being merged */
	uint64_t from, to, run_start, run_end, run_pa;
	unsigned run_flags;
	int run_level;
	bool in_run;
};

typedef void (*leaf_fn)(struct walk *w, uint64_t va, uint64_t pa, uint64_t size, bool wr, bool x, int level);

/* Sign-extends a 48-bit address built from indices. */
static uint64_t canon(uint64_t va) { return (uint64_t)((int64_t)(va << 16) >> 16); }

static void walk(struct walk *w, uint64_t table_pa, int level, uint64_t va_base, bool wr, bool x, leaf_fn fn)
{
	const pte_t *t = phys_to_virt(table_pa);
	for (int i = 0; i < PT_ENTRIES; i++) {
		pte_t e = t[i];
		if (!pte_present(e))
			continue;
		uint64_t va = canon(va_base + (uint64_t)i * LEVEL_SIZE(level));
		bool w2 = wr && (e & PTE_W), x2 = x && !(e & PTE_NX);
		if (pte_is_leaf(e, level))
			fn(w, va, pte_leaf_addr(e, level), LEVEL_SIZE(level), w2, x2, level);
		else
			walk(w, pte_addr(e), level - 1, va, w2, x2, fn);
	}
}

static void wx_leaf(struct walk *w, uint64_t va, uint64_t pa, uint64_t size, bool wr, bool x, int level)
{
	(void)level;
	if (!(wr && x))
		return;
	w->wx += size >> 12;
	if (w->print && w->printed++ < 8)
		printk("W^X violation: 0x%016lx (%lu KiB page, frame 0x%lx) is writable and executable\n", va,
		       size >> 10, pa);
}

uint64_t vmm_audit_wx(bool print)
{
	struct walk w = { .print = print };
	walk(&w, vmm_root(), LVL_PML4, 0, true, true, wx_leaf);
	return w.wx;
}

static void flush_run(struct walk *w)
{
	if (!w->in_run)
		return;
	static const char *const size_name[] = { "", "4K", "2M", "1G" };
	printk("  0x%016lx-0x%016lx %8lu KiB  r%c%c  %s pages  -> phys 0x%lx\n", w->run_start, w->run_end,
	       (w->run_end - w->run_start) >> 10, w->run_flags & VMM_WRITE ? 'w' : '-',
	       w->run_flags & VMM_EXEC ? 'x' : '-', size_name[w->run_level], w->run_pa);
	w->in_run = false;
}

static void dump_leaf(struct walk *w, uint64_t va, uint64_t pa, uint64_t size, bool wr, bool x, int level)
{
	if (va + size <= w->from || va >= w->to)
		return;
	unsigned flags = (wr ? VMM_WRITE : 0) | (x ? VMM_EXEC : 0);
	if (w->in_run && va == w->run_end && flags == w->run_flags && level == w->run_level &&
	    pa == w->run_pa + (w->run_end - w->run_start)) {
		w->run_end += size;
		return;
	}
	flush_run(w);
	*w = (struct walk){ .from = w->from, .to = w->to, .run_start = va, .run_end = va + size, .run_pa = pa,
			    .run_flags = flags, .run_level = level, .in_run = true };
}

void vmm_dump(uint64_t from, uint64_t to)
{
	struct walk w = { .from = from, .to = to };
	printk("mapped ranges (merged; CR3 0x%lx):\n", vmm_root());
	walk(&w, vmm_root(), LVL_PML4, 0, true, true, dump_leaf);
	flush_run(&w);
}
