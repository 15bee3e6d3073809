/*
 * kernel/vmm.c - memkern's page tables: building them at boot, and changing
 * 4 KiB pages afterwards. The format is in arch/x86_64/paging.h.
 *
 * Every operation works on a range and walks the tables recursively, one
 * level at a time, skipping subtrees that are not present. So checking that
 * 1 GiB is unmapped costs a few reads, not 262144 walks; and a page table
 * is scanned for emptiness once per call, not once per page.
 *
 * Each call first checks the whole range (alignment, canonical, mapped or
 * not), then splits the large pages that straddle its edges (which changes
 * no translation), and only then changes entries: an error leaves the
 * address space as it was.
 */
#include "vmm.h"

#include "arch/x86_64/cpu.h"
#include "arch/x86_64/layout.h"
#include "arch/x86_64/paging.h"
#include "lib/string.h"
#include "panic.h"
#include "pmm.h"
#include "printk.h"

static uint64_t root_pa;
static uint64_t table_frames;
static bool nx_on, use_1g;
static uint64_t leaf_count[4];          /* pages of each size vmm_init mapped (index = level) */

static pte_t *tbl(uint64_t pa) { return phys_to_virt(pa); }

static uint64_t table_alloc(void)
{
	uint64_t pa = pmm_alloc_owned(0, PMM_OWNER_PAGETABLE);
	if (!pa)
		return 0;
	memset(tbl(pa), 0, PAGE_SIZE);
	table_frames++;
	return pa;
}

static void table_free(uint64_t pa)
{
	pmm_free_owned(pa, 0, PMM_OWNER_PAGETABLE);
	table_frames--;
}

static bool table_empty(uint64_t pa)
{
	const pte_t *t = tbl(pa);
	for (int i = 0; i < PT_ENTRIES; i++)
		if (t[i])
			return false;
	return true;
}

static pte_t leaf_bits(unsigned flags)
{
	pte_t e = PTE_P;
	if (flags & VMM_WRITE)
		e |= PTE_W;
	if (!(flags & VMM_EXEC) && nx_on)
		e |= PTE_NX;
	return e;
}

/* The end of the level-`level` entry holding va, capped at end. */
static uint64_t entry_end(uint64_t va, int level, uint64_t end)
{
	uint64_t next = (va & ~(LEVEL_SIZE(level) - 1)) + LEVEL_SIZE(level);
	return next == 0 || next > end ? end : next;    /* 0: wrapped past the top */
}

/* 4 KiB pages of [va, end) that something maps. */
static uint64_t count_mapped(uint64_t table_pa, int level, uint64_t va, uint64_t end)
{
	const pte_t *t = tbl(table_pa);
	uint64_t n = 0;
	for (; va < end; va = entry_end(va, level, end)) {
		pte_t e = t[PT_INDEX(va, level)];
		if (!pte_present(e))
			continue;
		if (pte_is_leaf(e, level))
			n += (entry_end(va, level, end) - va) >> PAGE_SHIFT;
		else
			n += count_mapped(pte_addr(e), level - 1, va, entry_end(va, level, end));
	}
	return n;
}

static int map_range(uint64_t table_pa, int level, uint64_t va, uint64_t end, uint64_t pa, pte_t bits,
		     int max_leaf)
{
	pte_t *t = tbl(table_pa);
	while (va < end) {
		uint64_t next = entry_end(va, level, end);
		pte_t *e = &t[PT_INDEX(va, level)];
		uint64_t size = LEVEL_SIZE(level);
		if (level == LVL_PT) {
			*e = pa | bits;
		} else if (level <= max_leaf && next - va == size && !(pa & (size - 1))) {
			*e = pa | bits | PTE_PS;
		} else {
			if (!pte_present(*e)) {
				uint64_t child = table_alloc();
				if (!child)
					return -VMM_ENOMEM;
				/* Tables grant everything; the leaf decides (rights AND along the walk). */
				*e = child | PTE_P | PTE_W;
			}
			if (*e & PTE_PS)
				panic("map_range: 0x%lx is inside a large page (the caller checked it was free)", va);
			int r = map_range(pte_addr(*e), level - 1, va, next, pa, bits, max_leaf);
			if (r)
				return r;
		}
		pa += next - va;
		va = next;
	}
	return 0;
}

/* Clears what maps [va, end), freeing tables that become empty. Large pages
 * must not straddle the edges (split_at first). Skips what is not present. */
static void unmap_range(uint64_t table_pa, int level, uint64_t va, uint64_t end)
{
	pte_t *t = tbl(table_pa);
	for (; va < end; va = entry_end(va, level, end)) {
		pte_t *e = &t[PT_INDEX(va, level)];
		if (!pte_present(*e))
			continue;
		if (pte_is_leaf(*e, level)) {
			*e = 0;
			continue;
		}
		uint64_t child = pte_addr(*e);
		unmap_range(child, level - 1, va, entry_end(va, level, end));
		if (table_empty(child)) {
			*e = 0;
			table_free(child);
		}
	}
}

static void protect_range(uint64_t table_pa, int level, uint64_t va, uint64_t end, pte_t bits)
{
	pte_t *t = tbl(table_pa);
	for (; va < end; va = entry_end(va, level, end)) {
		pte_t *e = &t[PT_INDEX(va, level)];
		if (!pte_present(*e))
			continue;
		if (pte_is_leaf(*e, level))
			*e = (*e & (PTE_ADDR | PTE_PS)) | bits;
		else
			protect_range(pte_addr(*e), level - 1, va, entry_end(va, level, end), bits);
	}
}

/* Replaces the large page *e (mapping base_va) by a table of 512 smaller
 * pages with the same frames and rights: no translation changes. */
static int split_entry(pte_t *e, int level, uint64_t base_va)
{
	uint64_t child = table_alloc();
	if (!child)
		return -VMM_ENOMEM;
	pte_t *c = tbl(child);
	uint64_t frame = pte_leaf_addr(*e, level);
	pte_t bits = (*e & (PTE_P | PTE_W | PTE_U | PTE_PWT | PTE_PCD | PTE_G | PTE_NX));
	pte_t ps = level - 1 > LVL_PT ? PTE_PS : 0;
	for (int i = 0; i < PT_ENTRIES; i++)
		c[i] = (frame + (uint64_t)i * LEVEL_SIZE(level - 1)) | bits | ps;
	*e = child | PTE_P | PTE_W;
	invlpg(base_va);        /* drops the large-page TLB entry */
	return 0;
}

/* Makes sure no large page straddles the page boundary at va. */
static int split_at(uint64_t va)
{
	uint64_t table_pa = root_pa;
	for (int level = LVL_PML4; level > LVL_PT; level--) {
		pte_t *e = &tbl(table_pa)[PT_INDEX(va, level)];
		if (!pte_present(*e))
			return 0;
		if (*e & PTE_PS) {
			if (!(va & (LEVEL_SIZE(level) - 1)))
				return 0;       /* va is the large page's own edge */
			int r = split_entry(e, level, va & ~(LEVEL_SIZE(level) - 1));
			if (r)
				return r;
		}
		table_pa = pte_addr(*e);
	}
	return 0;
}

static void flush(uint64_t va, uint64_t npages)
{
	if (npages > 64) {
		write_cr3(read_cr3());  /* cheaper than hundreds of invlpg */
		return;
	}
	for (uint64_t i = 0; i < npages; i++)
		invlpg(va + i * PAGE_SIZE);
}

/* A range of whole pages inside one half of the address space. */
static int check_range(uint64_t va, uint64_t npages, uint64_t *end)
{
	if (!npages || (va & (PAGE_SIZE - 1)) || !va_is_canonical(va) || npages > (UINT64_MAX >> PAGE_SHIFT))
		return -VMM_EINVAL;
	uint64_t e = va + npages * PAGE_SIZE;
	if (e <= va || !va_is_canonical(e - 1) || ((va ^ (e - 1)) >> 63))
		return -VMM_EINVAL;
	*end = e;
	return 0;
}

static int map_common(uint64_t va, uint64_t pa, uint64_t npages, unsigned flags, int max_leaf)
{
	uint64_t end;
	int r = check_range(va, npages, &end);
	if (r)
		return r;
	if ((pa & (PAGE_SIZE - 1)) || (flags & ~(VMM_WRITE | VMM_EXEC)) || pa + npages * PAGE_SIZE < pa ||
	    pa + npages * PAGE_SIZE > (1ULL << 52))
		return -VMM_EINVAL;
	if (count_mapped(root_pa, LVL_PML4, va, end))
		return -VMM_EEXIST;
	r = map_range(root_pa, LVL_PML4, va, end, pa, leaf_bits(flags), max_leaf);
	if (r) {
		unmap_range(root_pa, LVL_PML4, va, end);        /* all of it was ours: undo */
		/*
		 * Nothing touched the range, but a CPU may cache present entries
		 * speculatively, and the undo just freed the tables they point
		 * to: drop whatever it cached before those frames are reused.
		 */
		flush(va, npages);
	}
	return r;
}

int vmm_map(uint64_t va, uint64_t pa, uint64_t npages, unsigned flags)
{
	return map_common(va, pa, npages, flags, LVL_PT);
}

int vmm_map_large(uint64_t va, uint64_t pa, uint64_t npages, unsigned flags)
{
	return map_common(va, pa, npages, flags, use_1g ? LVL_PDPT : LVL_PD);
}

int vmm_unmap(uint64_t va, uint64_t npages)
{
	uint64_t end;
	int r = check_range(va, npages, &end);
	if (r)
		return r;
	if (count_mapped(root_pa, LVL_PML4, va, end) != npages)
		return -VMM_ENOENT;
	if ((r = split_at(va)) || (r = split_at(end)))
		return r;
	unmap_range(root_pa, LVL_PML4, va, end);
	flush(va, npages);
	return 0;
}

int vmm_protect(uint64_t va, uint64_t npages, unsigned flags)
{
	uint64_t end;
	int r = check_range(va, npages, &end);
	if (r)
		return r;
	if (flags & ~(VMM_WRITE | VMM_EXEC))
		return -VMM_EINVAL;
	if (count_mapped(root_pa, LVL_PML4, va, end) != npages)
		return -VMM_ENOENT;
	if ((r = split_at(va)) || (r = split_at(end)))
		return r;
	protect_range(root_pa, LVL_PML4, va, end, leaf_bits(flags));
	flush(va, npages);
	return 0;
}

int vmm_translate(uint64_t va, struct vmm_translation *out)
{
	if (!va_is_canonical(va))
		return -VMM_EINVAL;
	uint64_t table_pa = root_pa ? root_pa : (read_cr3() & PTE_ADDR);
	bool w = true, x = true;
	for (int level = LVL_PML4; level >= LVL_PT; level--) {
		pte_t e = tbl(table_pa)[PT_INDEX(va, level)];
		if (!pte_present(e))
			return -VMM_ENOENT;
		w = w && (e & PTE_W);
		x = x && !(e & PTE_NX);
		if (pte_is_leaf(e, level)) {
			if (out) {
				out->pa = pte_leaf_addr(e, level) + (va & (LEVEL_SIZE(level) - 1));
				out->flags = (w ? VMM_WRITE : 0) | (x ? VMM_EXEC : 0);
				out->level = level;
				out->page_size = LEVEL_SIZE(level);
			}
			return 0;
		}
		table_pa = pte_addr(e);
	}
	return -VMM_ENOENT;     /* not reached: level 1 entries are leaves */
}

const char *vmm_strerror(int err)
{
	switch (err < 0 ? -err : err) {
	case 0: return "success";
	case VMM_EINVAL: return "invalid range (misaligned, non-canonical, empty or wrapping) or flags";
	case VMM_EEXIST: return "already mapped";
	case VMM_ENOENT: return "not mapped";
	case VMM_ENOMEM: return "out of frames for page tables";
	default: return "unknown vmm error";
	}
}

uint64_t vmm_table_frames(void) { return table_frames; }
uint64_t vmm_root(void) { return root_pa; }
bool vmm_large_pages_1g(void) { return use_1g; }

/* --- building the tables at boot ------------------------------------------------ */

extern const char __text_start[], __text_end[], __rodata_start[], __rodata_end[];
extern const char __data_start[], __bss_end[], __ksyms_start[], __kernel_end[];
extern const char boot_stack_guard[];

static void map_kernel(const char *start, const char *end, unsigned flags, const char *what)
{
	uint64_t va = (uint64_t)start, n = (uint64_t)(end - start) >> PAGE_SHIFT;
	if (!n)
		return;
	if (map_range(root_pa, LVL_PML4, va, va + n * PAGE_SIZE, kernel_virt_to_phys(start), leaf_bits(flags),
		      LVL_PT))
		panic("vmm_init: out of frames mapping the kernel's %s", what);
	leaf_count[LVL_PT] += n;
	printk("vmm:   0x%016lx-0x%016lx %c%c%c kernel %s\n", va, va + n * PAGE_SIZE, 'r',
	       flags & VMM_WRITE ? 'w' : '-', flags & VMM_EXEC ? 'x' : '-', what);
}

/* Physical ranges that are RAM (anything but firmware-reserved and bad). */
static bool is_ram(uint32_t type)
{
	return type != MEMMAP_RESERVED && type != MEMMAP_BAD;
}

static void count_leaves(uint64_t table_pa, int level)
{
	const pte_t *t = tbl(table_pa);
	for (int i = 0; i < PT_ENTRIES; i++) {
		if (!pte_present(t[i]))
			continue;
		if (pte_is_leaf(t[i], level))
			leaf_count[level]++;
		else
			count_leaves(pte_addr(t[i]), level - 1);
	}
}

void vmm_init(struct boot_info *info)
{
	uint32_t a, b, c, d;
	cpuid(0x80000001, 0, &a, &b, &c, &d);
	nx_on = d & (1u << 20);
	use_1g = d & (1u << 26);
	if (nx_on)
		wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_NXE);

	root_pa = table_alloc();
	if (!root_pa)
		panic("vmm_init: no frame for the PML4");

	printk("vmm: building page tables (PML4 at 0x%lx; NX %s; 1 GiB pages %s)\n", root_pa,
	       nx_on ? "on" : "not supported", use_1g ? "supported" : "not supported: 2 MiB pages");
	map_kernel(__text_start, __text_end, VMM_EXEC, "text");
	map_kernel(__rodata_start, __rodata_end, 0, "rodata");
	map_kernel(__data_start, boot_stack_guard, VMM_WRITE, "data+bss");
	printk("vmm:   0x%016lx-0x%016lx     boot stack guard page (unmapped)\n", (uint64_t)boot_stack_guard,
	       (uint64_t)boot_stack_guard + PAGE_SIZE);
	map_kernel(boot_stack_guard + PAGE_SIZE, __bss_end, VMM_WRITE, "boot stack+bss");
	map_kernel(__ksyms_start, __kernel_end, 0, "symbol table");

	/* The direct map: merge touching RAM ranges so large pages can span them. */
	uint64_t mapped = 0;
	const struct memmap *m = &info->map;
	for (unsigned i = 0; i < m->n;) {
		if (!is_ram(m->r[i].type)) {
			i++;
			continue;
		}
		uint64_t base = m->r[i].base, end = base + m->r[i].len;
		for (i++; i < m->n && is_ram(m->r[i].type) && m->r[i].base == end; i++)
			end += m->r[i].len;
		/* Firmware ranges need not be page aligned (the EBDA at 0x9fc00): whole pages only. */
		base &= ~(PAGE_SIZE - 1);
		end = (end + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
		if (map_range(root_pa, LVL_PML4, DIRECT_MAP_BASE + base, DIRECT_MAP_BASE + end, base,
			      leaf_bits(VMM_WRITE), use_1g ? LVL_PDPT : LVL_PD))
			panic("vmm_init: out of frames building the direct map");
		printk("vmm:   0x%016lx-0x%016lx rw- direct map of physical 0x%lx-0x%lx\n", DIRECT_MAP_BASE + base,
		       DIRECT_MAP_BASE + end, base, end);
		mapped += end - base;
	}

	leaf_count[1] = leaf_count[2] = leaf_count[3] = 0;
	count_leaves(root_pa, LVL_PML4);
	write_cr3(root_pa);             /* the boot tables, and their identity map, are gone */
	write_cr0(read_cr0() | CR0_WP); /* ring 0 now honours read-only pages too */
	printk("vmm: CR3 = 0x%lx: %lu MiB of RAM direct-mapped; pages: %lu x 1 GiB, %lu x 2 MiB, %lu x 4 KiB; "
	       "%lu page-table frames\n", root_pa, mapped >> 20, leaf_count[3], leaf_count[2], leaf_count[1],
	       table_frames);
	uint64_t bad = vmm_audit_wx(true);
	if (bad)
		panic("vmm_init: W^X audit found %lu writable and executable pages", bad);
	printk("vmm: W^X audit: no page is both writable and executable\n");
}
