/*
 * kernel/trap.c - what happens when the CPU raises an exception.
 *
 * First the test framework gets a look: if the running test said it expects
 * this fault, it records it and resumes the test. Otherwise the report is
 * printed (vector name, error code, RIP with its symbol, RSP, CR2 for a page
 * fault with the walk of the page tables, registers, backtrace). Inside a test
 * the test fails and the run goes on; anywhere else it is a panic.
 */
#include "arch/x86_64/cpu.h"
#include "arch/x86_64/gdt.h"
#include "arch/x86_64/layout.h"
#include "arch/x86_64/pic.h"
#include "arch/x86_64/trap.h"
#include "ksyms.h"
#include "panic.h"
#include "printk.h"
#include "../tests/kernel/ktest.h"

static const char *const names[32] = {
	"#DE divide error", "#DB debug", "NMI", "#BP breakpoint", "#OF overflow",
	"#BR bound range", "#UD invalid opcode", "#NM device not available",
	"#DF double fault", "coprocessor segment overrun", "#TS invalid TSS",
	"#NP segment not present", "#SS stack fault", "#GP general protection",
	"#PF page fault", "reserved (15)", "#MF x87 error", "#AC alignment check",
	"#MC machine check", "#XM SIMD error", "#VE virtualization", "#CP control protection",
	"reserved (22)", "reserved (23)", "reserved (24)", "reserved (25)", "reserved (26)",
	"reserved (27)", "#HV hypervisor injection", "#VC VMM communication",
	"#SX security", "reserved (31)",
};

const char *trap_name(uint64_t vector)
{
	return vector < 32 ? names[vector] : "unknown vector";
}

extern const char boot_stack_bottom[], boot_stack_top[];

/* Only follow frame pointers that point into a stack we know of. */
static int on_known_stack(uint64_t p)
{
	if (p >= (uint64_t)boot_stack_bottom && p + 16 <= (uint64_t)boot_stack_top)
		return 1;
	for (int i = 0; i < 2; i++) {
		uint64_t lo = (uint64_t)ist_stack_bottoms[i];
		if (p >= lo && p + 16 <= lo + IST_STACK_SIZE)
			return 1;
	}
	return kstack_contains(p);
}

static void walk_frames(int depth, uint64_t rbp)
{
	char sym[96];
	for (; depth < 24 && rbp && !(rbp & 7) && on_known_stack(rbp); depth++) {
		uint64_t ret = ((uint64_t *)rbp)[1];
		uint64_t next = ((uint64_t *)rbp)[0];
		if (!ret)
			break;
		ksym_format(ret, sym, sizeof sym);
		printk("  #%-2d 0x%016lx  %s\n", depth, ret, sym);
		if (next <= rbp)        /* stacks grow down: a frame never points below itself */
			break;
		rbp = next;
	}
}

void backtrace_print(uint64_t rip, uint64_t rbp)
{
	char sym[96];
	ksym_format(rip, sym, sizeof sym);
	printk("backtrace:\n  #0  0x%016lx  %s\n", rip, sym);
	walk_frames(1, rbp);
}

/*
 * From an exception: if RIP is on the first instruction of a function
 * ("push %rbp") or the second, the function has no frame yet and RBP still
 * belongs to its caller, whose return address is on the stack: print it too,
 * or the caller would be missing from the trace.
 */
static void backtrace_from_trap(const struct trap_frame *f)
{
	char sym[96];
	uint64_t off = UINT64_MAX;
	ksym_lookup(f->rip, &off);
	ksym_format(f->rip, sym, sizeof sym);
	printk("backtrace:\n  #0  0x%016lx  %s\n", f->rip, sym);
	int depth = 1;
	uint64_t slot = off == 0 ? f->rsp : off == 1 ? f->rsp + 8 : 0;
	if (slot && on_known_stack(slot & ~7UL)) {
		uint64_t ret = *(uint64_t *)slot;
		ksym_format(ret, sym, sizeof sym);
		printk("  #%-2d 0x%016lx  %s\n", depth++, ret, sym);
	}
	walk_frames(depth, f->rbp);
}

__attribute__((weak)) void pf_explain(uint64_t cr2, uint64_t error)
{
	(void)error;
	printk("  (no page-table walk yet: the vmm is not up) CR2=0x%lx\n", cr2);
}

__attribute__((weak)) int kstack_contains(uint64_t p)
{
	(void)p;
	return 0;
}

void trap_report(const struct trap_frame *f)
{
	char sym[96];
	ksym_format(f->rip, sym, sizeof sym);
	printk("======== exception %lu: %s ========\n", f->vector, trap_name(f->vector));
	printk("error code: 0x%lx", f->error);
	if (f->vector == VEC_PF)
		printk(" (%s, %s, %s%s%s)", f->error & PF_PRESENT ? "protection violation" : "page not present",
		       f->error & PF_INSTR ? "instruction fetch" : f->error & PF_WRITE ? "write" : "read",
		       f->error & PF_USER ? "user mode" : "kernel mode",
		       f->error & PF_RSVD ? ", reserved bit set in a paging entry" : "", "");
	printk("\nRIP: 0x%016lx  %s\n", f->rip, sym);
	printk("RSP: 0x%016lx  RFLAGS: 0x%lx  CS: 0x%lx  SS: 0x%lx\n", f->rsp, f->rflags, f->cs, f->ss);
	if (f->vector == VEC_PF) {
		printk("CR2: 0x%016lx  (the address the CPU could not access)\n", read_cr2());
		pf_explain(read_cr2(), f->error);
	}
	printk("RAX=%016lx RBX=%016lx RCX=%016lx RDX=%016lx\n", f->rax, f->rbx, f->rcx, f->rdx);
	printk("RSI=%016lx RDI=%016lx RBP=%016lx R8 =%016lx\n", f->rsi, f->rdi, f->rbp, f->r8);
	printk("R9 =%016lx R10=%016lx R11=%016lx R12=%016lx\n", f->r9, f->r10, f->r11, f->r12);
	printk("R13=%016lx R14=%016lx R15=%016lx\n", f->r13, f->r14, f->r15);
	printk("CR0=%016lx CR3=%016lx CR4=%016lx\n", read_cr0(), read_cr3(), read_cr4());
	backtrace_from_trap(f);
	if (f->vector == VEC_DF)
		printk("note: a double fault here usually means a kernel stack overflowed into its guard page\n");
}

void trap_dispatch(struct trap_frame *f)
{
	if (f->vector >= 32) {          /* an interrupt, not an exception */
		pic_interrupt(f->vector);
		return;
	}
	/* An expected fault resumes the test at its recovery point: no return. */
	ktest_fault_hook(f);

	trap_report(f);
	if (ktest_running())
		ktest_unexpected_fault(f);      /* fails the test, resumes the run: no return */
	panic("unhandled exception %lu (%s) at RIP 0x%lx", f->vector, trap_name(f->vector), f->rip);
}
