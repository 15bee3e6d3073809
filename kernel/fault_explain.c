/*
 * kernel/fault_explain.c - turning a page-fault address into an explanation
 * a student can read: the walk of the page tables for CR2, level by level,
 * and which region of the memory map the address falls in.
 */
#include "arch/x86_64/cpu.h"
#include "arch/x86_64/layout.h"
#include "arch/x86_64/paging.h"
#include "arch/x86_64/trap.h"
#include "kstack.h"
#include "printk.h"
#include "vmm.h"

/* The heap describes its own window (kbrk.c); a weak default until it exists. */
__attribute__((weak)) bool heap_describe_va(uint64_t va, char *buf, size_t size)
{
	(void)va, (void)buf, (void)size;
	return false;
}

extern const char __text_start[], __text_end[], __rodata_start[], __rodata_end[];
extern const char __data_start[], __bss_start[], __bss_end[], __ksyms_start[], __kernel_end[];
extern const char boot_stack_guard[], boot_stack_bottom[], boot_stack_top[];

static const char *const level_name[] = { "", "PT  ", "PD  ", "PDPT", "PML4" };

static void print_entry_flags(pte_t e, int level)
{
	printk("%s%s%s%s%s%s", e & PTE_W ? " writable" : " read-only", e & PTE_NX ? " no-exec" : "",
	       e & PTE_U ? " user" : "", e & PTE_A ? " accessed" : "",
	       pte_is_leaf(e, level) && (e & PTE_D) ? " dirty" : "",
	       level > LVL_PT && (e & PTE_PS) ? " large-page" : "");
}

void vmm_print_walk(uint64_t va)
{
	uint64_t table_pa = read_cr3() & PTE_ADDR;
	printk("page-table walk of 0x%016lx (CR3 0x%lx): indices PML4 %lu, PDPT %lu, PD %lu, PT %lu, offset 0x%lx\n",
	       va, table_pa, PML4_INDEX(va), PDPT_INDEX(va), PD_INDEX(va), PTE_INDEX(va), PAGE_OFFSET(va));
	if (!va_is_canonical(va)) {
		printk("  not canonical: bits 63..48 must copy bit 47, so no table is consulted\n");
		return;
	}
	for (int level = LVL_PML4; level >= LVL_PT; level--) {
		pte_t e = ((pte_t *)phys_to_virt(table_pa))[PT_INDEX(va, level)];
		printk("  %s[%3lu] at 0x%09lx = 0x%016lx", level_name[level], PT_INDEX(va, level),
		       table_pa + PT_INDEX(va, level) * 8, e);
		if (!pte_present(e)) {
			printk("  not present: the walk stops here\n");
			return;
		}
		printk("  present");
		print_entry_flags(e, level);
		if (pte_is_leaf(e, level)) {
			uint64_t size = LEVEL_SIZE(level);
			printk("\n  -> %s page frame 0x%lx, so 0x%lx maps to physical 0x%lx\n",
			       size == PAGE_1G ? "1 GiB" : size == PAGE_2M ? "2 MiB" : "4 KiB", pte_leaf_addr(e, level),
			       va, pte_leaf_addr(e, level) + (va & (size - 1)));
			return;
		}
		printk("  -> next table at 0x%lx\n", pte_addr(e));
		table_pa = pte_addr(e);
	}
}

static bool in(uint64_t va, const void *a, const void *b) { return va >= (uint64_t)a && va < (uint64_t)b; }

void vmm_describe_region(uint64_t va, char *buf, size_t size)
{
	if (va < PAGE_SIZE)
		snprintf(buf, size, "the NULL page: a NULL pointer (plus 0x%lx) was dereferenced", va);
	else if (!va_is_canonical(va))
		snprintf(buf, size, "a non-canonical address (a corrupted pointer?)");
	else if (va < 0x0000800000000000UL)
		snprintf(buf, size, "the lower half: after boot memkern maps nothing there (the identity map is gone)");
	else if (va >= DIRECT_MAP_BASE && va < DIRECT_MAP_BASE + DIRECT_MAP_SIZE) {
		struct vmm_translation t;
		if (vmm_translate(va, &t) == 0)
			snprintf(buf, size, "the direct map, physical 0x%lx", va - DIRECT_MAP_BASE);
		else
			snprintf(buf, size, "a hole in the direct map: physical 0x%lx is not RAM", va - DIRECT_MAP_BASE);
	} else if (heap_describe_va(va, buf, size) || kstack_describe(va, buf, size))
		;
	else if (va >= VMM_TEST_BASE && va < VMM_TEST_BASE + VMM_TEST_SIZE)
		snprintf(buf, size, "the vmm tests' scratch window (mapped only while a test runs)");
	else if (va >= LARGE_BASE && va < LARGE_BASE + LARGE_SIZE)
		snprintf(buf, size, "the large-allocation window (a guard page, or a run that is not mapped)");
	else if (in(va, __text_start, __text_end))
		snprintf(buf, size, "kernel text (read-only, executable)");
	else if (in(va, __rodata_start, __rodata_end))
		snprintf(buf, size, "kernel rodata (read-only, no-execute)");
	else if (in(va, boot_stack_guard, boot_stack_bottom))
		snprintf(buf, size, "the boot stack's guard page: the boot stack overflowed (or a pointer ran below it)");
	else if (in(va, boot_stack_bottom, boot_stack_top))
		snprintf(buf, size, "the boot stack (read-write, no-execute)");
	else if (in(va, __data_start, __bss_start))
		snprintf(buf, size, "kernel data (read-write, no-execute)");
	else if (in(va, __bss_start, __bss_end))
		snprintf(buf, size, "kernel bss (read-write, no-execute)");
	else if (in(va, __ksyms_start, __kernel_end))
		snprintf(buf, size, "the kernel's symbol table (read-only)");
	else
		snprintf(buf, size, "an unmapped hole in the kernel half");
}

void pf_explain(uint64_t cr2, uint64_t error)
{
	char region[160];
	vmm_print_walk(cr2);
	vmm_describe_region(cr2, region, sizeof region);
	printk("region: %s\n", region);
	if (!(error & PF_PRESENT))
		printk("why: nothing maps this address (a non-present entry above)\n");
	else if (error & PF_RSVD)
		printk("why: an entry on the walk has a reserved bit set: the page tables are corrupt\n");
	else if (error & PF_INSTR)
		printk("why: the CPU fetched an instruction from a no-execute page\n");
	else if (error & PF_WRITE)
		printk("why: a write to a read-only page\n");
	else
		printk("why: a protection violation on a present page\n");
}
