/*
 * tests/kernel/test_vmm.c - suite "vmm": our page tables. Round trips of
 * map / translate / unmap, the TLB after a remap, large-page splits, every
 * error case (which must change nothing), running out of frames half-way,
 * 1 GiB of 4 KiB pages coming back to the baseline, the W^X audit, and the
 * faults a student should be able to read: writing rodata, executing data
 * and a stack, a stack guard page, NULL, a hole in the direct map.
 */
#include "ktest.h"

#include "../../kernel/arch/x86_64/cpu.h"
#include "../../kernel/arch/x86_64/layout.h"
#include "../../kernel/arch/x86_64/paging.h"
#include "../../kernel/kstack.h"
#include "../../kernel/lib/string.h"
#include "../../kernel/pmm.h"
#include "../../kernel/printk.h"
#include "../../kernel/vmm.h"

#define T VMM_TEST_BASE

static bool mapped(uint64_t va) { return vmm_translate(va, NULL) == 0; }

KTEST(vmm, map_translate_unmap)
{
	uint64_t pa = pmm_alloc_page();
	KASSERT(pa);
	KEXPECT_EQ(vmm_map(T, pa, 1, VMM_WRITE), 0);
	struct vmm_translation t;
	KEXPECT_EQ(vmm_translate(T + 0x123, &t), 0);
	KEXPECT_EQ(t.pa, pa + 0x123);
	KEXPECT_EQ(t.flags, VMM_WRITE);
	KEXPECT_EQ(t.level, 1);
	KEXPECT_EQ(t.page_size, PAGE_SIZE);
	*(volatile uint64_t *)T = 0x1122334455667788;       /* through the new mapping ... */
	KEXPECT_EQ(*(uint64_t *)phys_to_virt(pa), 0x1122334455667788);  /* ... lands in the frame */
	KEXPECT_EQ(vmm_unmap(T, 1), 0);
	KEXPECT_EQ(vmm_translate(T, &t), -VMM_ENOENT);
	KEXPECT_FAULT(VEC_PF, T, { (void)*(volatile uint64_t *)T; });
	pmm_free_page(pa);
}

KTEST(vmm, remap_sees_new_frame)
{
	/* Without invlpg on unmap the CPU would keep reading the old frame. */
	uint64_t a = pmm_alloc_page(), b = pmm_alloc_page();
	KASSERT(a && b);
	*(uint64_t *)phys_to_virt(a) = 0xaaaa;
	*(uint64_t *)phys_to_virt(b) = 0xbbbb;
	KEXPECT_EQ(vmm_map(T, a, 1, 0), 0);
	KEXPECT_EQ(*(volatile uint64_t *)T, 0xaaaa);
	KEXPECT_EQ(vmm_unmap(T, 1), 0);
	KEXPECT_EQ(vmm_map(T, b, 1, 0), 0);
	KEXPECT_EQ(*(volatile uint64_t *)T, 0xbbbb);
	KEXPECT_EQ(vmm_unmap(T, 1), 0);
	pmm_free_page(a);
	pmm_free_page(b);
}

KTEST(vmm, protect_changes_rights)
{
	uint64_t pa = pmm_alloc_page();
	KASSERT(pa);
	KEXPECT_EQ(vmm_map(T, pa, 1, VMM_WRITE), 0);
	*(volatile uint64_t *)T = 1;
	KEXPECT_EQ(vmm_protect(T, 1, 0), 0);
	KEXPECT_FAULT(VEC_PF, T, { *(volatile uint64_t *)T = 2; });
	KEXPECT_EQ(ktest_last_fault.error & (PF_PRESENT | PF_WRITE), PF_PRESENT | PF_WRITE);
	KEXPECT_EQ(*(volatile uint64_t *)T, 1);
	KEXPECT_EQ(vmm_protect(T, 1, VMM_WRITE), 0);
	*(volatile uint64_t *)T = 3;
	KEXPECT_EQ(*(uint64_t *)phys_to_virt(pa), 3);
	KEXPECT_EQ(vmm_unmap(T, 1), 0);
	pmm_free_page(pa);
}

/* Split a large page by protecting one 4 KiB page inside it, then by
 * unmapping another; every other page keeps its frame and rights. */
static void split_case(uint64_t page, int level)
{
	uint64_t base_pa = 16 * PAGE_1G;        /* any aligned frame address: nothing touches it */
	uint64_t n = page / PAGE_SIZE;
	struct vmm_translation t;
	KASSERT(vmm_map_large(T, base_pa, n, VMM_WRITE) == 0);
	KEXPECT_EQ(vmm_translate(T + 5 * PAGE_SIZE, &t), 0);
	KEXPECT_EQ(t.level, level);
	KEXPECT_EQ(vmm_protect(T + 5 * PAGE_SIZE, 1, 0), 0);
	KEXPECT_EQ(vmm_translate(T + 5 * PAGE_SIZE, &t), 0);
	KEXPECT_EQ(t.level, 1);
	KEXPECT_EQ(t.flags, 0);
	KEXPECT_EQ(t.pa, base_pa + 5 * PAGE_SIZE);
	KEXPECT_EQ(vmm_translate(T + 4 * PAGE_SIZE + 8, &t), 0);
	KEXPECT_EQ(t.flags, VMM_WRITE);
	KEXPECT_EQ(t.pa, base_pa + 4 * PAGE_SIZE + 8);
	KEXPECT_EQ(vmm_translate(T + page - 8, &t), 0);
	KEXPECT_EQ(t.pa, base_pa + page - 8);
	KEXPECT_EQ(t.flags, VMM_WRITE);
	KEXPECT_EQ(vmm_unmap(T + 9 * PAGE_SIZE, 1), 0);
	KEXPECT(!mapped(T + 9 * PAGE_SIZE));
	KEXPECT(mapped(T + 8 * PAGE_SIZE) && mapped(T + 10 * PAGE_SIZE));
	KEXPECT_EQ(vmm_translate(T + 10 * PAGE_SIZE, &t), 0);
	KEXPECT_EQ(t.pa, base_pa + 10 * PAGE_SIZE);
	KEXPECT_EQ(vmm_unmap(T, 9), 0);
	KEXPECT_EQ(vmm_unmap(T + 10 * PAGE_SIZE, n - 10), 0);
	KEXPECT(!mapped(T) && !mapped(T + page - PAGE_SIZE));
}

KTEST(vmm, split_2m_page)
{
	split_case(PAGE_2M, 2);
}

KTEST(vmm, split_1g_page)
{
	if (!vmm_large_pages_1g())
		ktest_skip("this CPU has no 1 GiB pages (run with --cpu max to test them)");
	split_case(PAGE_1G, 3);
}

KTEST(vmm, split_direct_map_page_really)
{
	/* A real 2 MiB frame through a real large mapping: bytes stay where they were. */
	uint64_t pa = pmm_alloc(9);
	KASSERT(pa);
	for (uint64_t i = 0; i < 512; i++)
		*(uint64_t *)phys_to_virt(pa + i * PAGE_SIZE) = i * 7;
	KASSERT(vmm_map_large(T, pa, 512, VMM_WRITE) == 0);
	struct vmm_translation t;
	vmm_translate(T, &t);
	KEXPECT_EQ(t.level, 2);
	KEXPECT_EQ(vmm_protect(T + 100 * PAGE_SIZE, 1, 0), 0);
	for (uint64_t i = 0; i < 512; i++)
		KEXPECT_EQ(*(volatile uint64_t *)(T + i * PAGE_SIZE), i * 7);
	KEXPECT_FAULT(VEC_PF, T + 100 * PAGE_SIZE, { *(volatile uint64_t *)(T + 100 * PAGE_SIZE) = 0; });
	*(volatile uint64_t *)(T + 101 * PAGE_SIZE) = 5;
	KEXPECT_EQ(*(uint64_t *)phys_to_virt(pa + 101 * PAGE_SIZE), 5);
	KEXPECT_EQ(vmm_unmap(T, 512), 0);
	pmm_free(pa, 9);
}

KTEST(vmm, errors_change_nothing)
{
	uint64_t pa = pmm_alloc_page();
	KASSERT(pa);
	uint64_t tables = vmm_table_frames();
	KEXPECT_EQ(vmm_map(T + 1, pa, 1, 0), -VMM_EINVAL);                 /* misaligned va */
	KEXPECT_EQ(vmm_map(T, pa + 8, 1, 0), -VMM_EINVAL);                 /* misaligned pa */
	KEXPECT_EQ(vmm_map(0x0000800000000000UL, pa, 1, 0), -VMM_EINVAL);  /* non-canonical */
	KEXPECT_EQ(vmm_map(0x00007ffffffff000UL, pa, 2, 0), -VMM_EINVAL);  /* runs off the lower half */
	KEXPECT_EQ(vmm_map(T, pa, 0, 0), -VMM_EINVAL);                     /* empty */
	KEXPECT_EQ(vmm_map(T, pa, 1, 0x80), -VMM_EINVAL);                  /* unknown flag */
	KEXPECT_EQ(vmm_unmap(T, 1), -VMM_ENOENT);
	KEXPECT_EQ(vmm_protect(T, 1, 0), -VMM_ENOENT);
	KEXPECT_EQ(vmm_table_frames(), tables);

	KEXPECT_EQ(vmm_map(T + PAGE_SIZE, pa, 1, 0), 0);
	KEXPECT_EQ(vmm_map(T + PAGE_SIZE, pa, 1, 0), -VMM_EEXIST);          /* over itself */
	KEXPECT_EQ(vmm_map(T, pa, 2, 0), -VMM_EEXIST);                      /* first page free, second not */
	KEXPECT(!mapped(T));                                                /* ... and the first stayed free */
	KEXPECT_EQ(vmm_unmap(T, 2), -VMM_ENOENT);                           /* half mapped */
	KEXPECT(mapped(T + PAGE_SIZE));                                     /* ... still there */
	KEXPECT_EQ(vmm_protect(T + PAGE_SIZE, 2, 0), -VMM_ENOENT);
	KEXPECT_EQ(vmm_unmap(T + PAGE_SIZE, 1), 0);
	KEXPECT_EQ(vmm_table_frames(), tables);
	KEXPECT(strstr(vmm_strerror(-VMM_EEXIST), "already mapped") != NULL);
	pmm_free_page(pa);
}

KTEST(vmm, out_of_frames_rolls_back)
{
	/* A fresh PML4 slot needs a PDPT, a PD and a PT: fail each in turn. */
	uint64_t pa = pmm_alloc_page();
	KASSERT(pa);
	uint64_t tables = vmm_table_frames(), frames = pmm_free_frames();
	for (uint64_t nth = 1; nth <= 3; nth++) {
		pmm_fail_nth(nth);
		KEXPECT_EQ(vmm_map(T, pa, 1, 0), -VMM_ENOMEM);
		pmm_fail_nth(0);
		KEXPECT(!mapped(T));
		KEXPECT_EQ(vmm_table_frames(), tables);
		KEXPECT_EQ(pmm_free_frames(), frames);
	}
	pmm_fail_nth(4);                /* the fourth allocation is not needed: it works */
	KEXPECT_EQ(vmm_map(T, pa, 1, 0), 0);
	pmm_fail_nth(0);
	KEXPECT_EQ(vmm_unmap(T, 1), 0);
	pmm_free_page(pa);
}

KTEST(vmm, one_gib_of_small_pages_comes_back)
{
	uint64_t frames = pmm_free_frames(), tables = vmm_table_frames();
	uint64_t n = PAGE_1G / PAGE_SIZE;
	KEXPECT_EQ(vmm_map(T, 0, n, 0), 0);    /* frames are never touched: any physical range will do */
	printk("    # mapped 1 GiB as %lu 4 KiB pages: %lu page-table frames\n", n, vmm_table_frames() - tables);
	KEXPECT_EQ(vmm_table_frames() - tables, 1 + 1 + 512);     /* PDPT + PD + 512 PTs */
	KEXPECT_EQ(pmm_free_frames(), frames - (1 + 1 + 512));
	struct vmm_translation t;
	KEXPECT_EQ(vmm_translate(T + 123456789, &t), 0);
	KEXPECT_EQ(t.pa, 123456789);
	KEXPECT_EQ(vmm_unmap(T, n), 0);
	KEXPECT_EQ(vmm_table_frames(), tables);
	KEXPECT_EQ(pmm_free_frames(), frames);
}

KTEST(vmm, kernel_sections_have_their_rights)
{
	extern const char __text_start[], __rodata_start[], __data_start[];
	struct vmm_translation t;
	KEXPECT_EQ(vmm_translate((uint64_t)__text_start, &t), 0);
	KEXPECT_EQ(t.flags, VMM_EXEC);
	KEXPECT_EQ(vmm_translate((uint64_t)__rodata_start, &t), 0);
	KEXPECT_EQ(t.flags, 0);
	KEXPECT_EQ(vmm_translate((uint64_t)__data_start, &t), 0);
	KEXPECT_EQ(t.flags, VMM_WRITE);
	KEXPECT_EQ(vmm_translate(DIRECT_MAP_BASE + 0x100000, &t), 0);
	KEXPECT_EQ(t.flags, VMM_WRITE);
	KEXPECT_EQ(t.pa, 0x100000);
	KEXPECT(!mapped(0));                    /* the boot identity map is gone */
	KEXPECT(!mapped(0x100000));
}

KTEST(vmm, wx_audit_catches_a_wx_page)
{
	KEXPECT_EQ(vmm_audit_wx(false), 0);
	uint64_t pa = pmm_alloc_page();
	KASSERT(pa);
	KEXPECT_EQ(vmm_map(T, pa, 1, VMM_WRITE | VMM_EXEC), 0);
	KEXPECT_EQ(vmm_audit_wx(false), 1);
	KEXPECT_EQ(vmm_unmap(T, 1), 0);
	KEXPECT_EQ(vmm_audit_wx(false), 0);
	pmm_free_page(pa);
}

/* --- faults a student should be able to read ----------------------------- */

static const uint64_t rodata_word = 42;

KTEST(vmm, fault_write_to_rodata)
{
	uint64_t va = (uint64_t)&rodata_word;
	KEXPECT_FAULT(VEC_PF, va, { *(volatile uint64_t *)va = 1; });
	KEXPECT_EQ(ktest_last_fault.error & (PF_PRESENT | PF_WRITE | PF_INSTR), PF_PRESENT | PF_WRITE);
	KEXPECT_EQ(rodata_word, 42);
	char region[160];
	vmm_describe_region(va, region, sizeof region);
	KEXPECT_STR_CONTAINS(region, "rodata");
}

static uint8_t data_code[16] = { 0xc3 };        /* "ret", in .data: RW- NX */

KTEST(vmm, fault_execute_data)
{
	void (*fn)(void) = (void (*)(void))(uintptr_t)data_code;
	KEXPECT_FAULT(VEC_PF, (uint64_t)data_code, { fn(); });
	KEXPECT_EQ(ktest_last_fault.error & (PF_PRESENT | PF_INSTR), PF_PRESENT | PF_INSTR);
	KEXPECT_EQ(ktest_last_fault.rip, (uint64_t)data_code);
}

KTEST(vmm, fault_execute_stack)
{
	volatile uint8_t code[16];
	code[0] = 0xc3;
	void (*fn)(void) = (void (*)(void))(uintptr_t)code;
	KEXPECT_FAULT(VEC_PF, (uint64_t)code, { fn(); });
	KEXPECT_EQ(ktest_last_fault.error & (PF_PRESENT | PF_INSTR), PF_PRESENT | PF_INSTR);
}

static uint64_t read_below(uint64_t bottom)
{
	/* Runs on the new stack: read just below its bottom, as an overflow would. */
	return *(volatile uint64_t *)(bottom - 8);
}

KTEST(vmm, fault_stack_guard_page)
{
	struct kstack s;
	/* 4 pages: the fault handler runs on this same stack (only #DF has its own). */
	KASSERT(kstack_alloc(4, &s));
	KEXPECT_FAULT(VEC_PF, s.bottom - 8, { kstack_call(&s, read_below, s.bottom); });
	KEXPECT_EQ(ktest_last_fault.error & PF_PRESENT, 0);
	char region[160];
	vmm_describe_region(s.bottom - 8, region, sizeof region);
	KEXPECT_STR_CONTAINS(region, "guard page of kernel stack");
	kstack_free(&s);
}

/* kstack_free of a struct kstack that is not what kstack_alloc gave panics before it unmaps anything. */
KTEST(vmm, kstack_free_refuses_wrong_bounds)
{
	struct kstack a, b;
	KASSERT(kstack_alloc(2, &a));
	KASSERT(kstack_alloc(2, &b));
	struct kstack bad = a;
	bad.top = a.top + 16 * PAGE_SIZE;   /* into the next slot's stack */
	KEXPECT_PANIC("(a damaged struct kstack?)", kstack_free(&bad));
	bad = a;
	bad.top = a.top - PAGE_SIZE;        /* would leak a frame */
	KEXPECT_PANIC("(a damaged struct kstack?)", kstack_free(&bad));
	bad = a;
	bad.slot = b.slot;                  /* another stack's slot: its guard does not match */
	KEXPECT_PANIC("is not a live kernel stack", kstack_free(&bad));
	/* Nothing was unmapped: both stacks still work, and free cleanly. */
	struct vmm_translation t;
	KEXPECT_EQ(vmm_translate(a.bottom, &t), 0);
	KEXPECT_EQ(vmm_translate(b.top - PAGE_SIZE, &t), 0);
	kstack_free(&a);
	kstack_free(&b);
	KEXPECT_NE(vmm_translate(a.bottom, &t), 0);
}

KTEST(vmm, fault_null)
{
	/* Through a volatile pointer: the compiler must not see a constant NULL. */
	uint32_t *volatile null_ptr = NULL;
	KEXPECT_FAULT(VEC_PF, 0, { (void)*(volatile uint32_t *)null_ptr; });
	KEXPECT_EQ(ktest_last_fault.error & (PF_PRESENT | PF_WRITE), 0);
	KEXPECT_FAULT(VEC_PF, 0x10, { *(volatile uint32_t *)(null_ptr + 4) = 1; });
	KEXPECT_EQ(ktest_last_fault.error & (PF_PRESENT | PF_WRITE), PF_WRITE);
	char region[160];
	vmm_describe_region(0x10, region, sizeof region);
	KEXPECT_STR_CONTAINS(region, "NULL page");
}

KTEST(vmm, fault_direct_map_hole)
{
	/* The first 2 MiB after the last RAM range: never mapped. */
	uint64_t end = 0;
	struct vmm_translation t;
	for (uint64_t pa = 0; pa < 64 * PAGE_1G; pa += PAGE_2M)
		if (vmm_translate(DIRECT_MAP_BASE + pa, &t) == 0)
			end = pa + PAGE_2M;
	uint64_t hole = DIRECT_MAP_BASE + end + 0x40;
	KEXPECT_FAULT(VEC_PF, hole, { (void)*(volatile uint64_t *)hole; });
	KEXPECT_EQ(ktest_last_fault.error & PF_PRESENT, 0);
	char region[160];
	vmm_describe_region(hole, region, sizeof region);
	KEXPECT_STR_CONTAINS(region, "hole in the direct map");
}

KTEST(vmm, fault_report_walks_the_tables)
{
	/* The report a student reads: each level, then the region and the reason. */
	extern void pf_explain(uint64_t cr2, uint64_t error);
	ktest_output_reset();
	pf_explain((uint64_t)&rodata_word, PF_PRESENT | PF_WRITE);
	const char *out = ktest_output();
	KEXPECT_STR_CONTAINS(out, "PML4[511]");
	KEXPECT_STR_CONTAINS(out, "PDPT[510]");
	KEXPECT_STR_CONTAINS(out, "read-only");
	KEXPECT_STR_CONTAINS(out, "region: kernel rodata");
	KEXPECT_STR_CONTAINS(out, "why: a write to a read-only page");
	ktest_output_reset();
	pf_explain(T + 0x1000, 0);
	KEXPECT_STR_CONTAINS(ktest_output(), "not present: the walk stops here");
}
