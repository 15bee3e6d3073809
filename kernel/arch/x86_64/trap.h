/* kernel/arch/x86_64/trap.h - the saved state of an exception (see isr.S, trap.c). */
#ifndef ARCH_TRAP_H
#define ARCH_TRAP_H

#include <stdint.h>

/* Exactly what isr.S pushes, lowest address first. */
struct trap_frame {
	uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
	uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
	uint64_t vector, error;
	uint64_t rip, cs, rflags, rsp, ss;          /* pushed by the CPU */
};
_Static_assert(sizeof(struct trap_frame) == 22 * 8, "trap_frame must match isr.S");

#define VEC_DE  0
#define VEC_DB  1
#define VEC_NMI 2
#define VEC_BP  3
#define VEC_UD  6
#define VEC_DF  8
#define VEC_GP  13
#define VEC_PF  14
#define VEC_MC  18

/* Page-fault error code bits. */
#define PF_PRESENT  (1u << 0)   /* 0: page not present; 1: protection violation */
#define PF_WRITE    (1u << 1)
#define PF_USER     (1u << 2)
#define PF_RSVD     (1u << 3)   /* a reserved bit was set in a paging entry */
#define PF_INSTR    (1u << 4)   /* instruction fetch (needs NX on) */

void idt_init(void);
const char *trap_name(uint64_t vector);       /* "#PF page fault" */
void trap_report(const struct trap_frame *f); /* the full report, on the console */
void backtrace_print(uint64_t rip, uint64_t rbp);

/*
 * Explains a page fault address: walk of the page tables and the region it
 * falls in. The vmm provides it once it exists; until then a short line.
 */
void pf_explain(uint64_t cr2, uint64_t error);

/* Whether p lies in a kernel stack allocated after boot (for the backtracer). */
int kstack_contains(uint64_t p);

#endif
