/*
 * kernel/arch/x86_64/cpu.h - every privileged instruction the kernel uses, as
 * tiny static inline helpers. If you are looking for where memkern touches a
 * control register, a port or the TLB: it is here and only here (plus the
 * boot assembly, which runs before C exists).
 */
#ifndef ARCH_CPU_H
#define ARCH_CPU_H

#include <stdint.h>

/* Control register bits we use. */
#define CR0_WP     (1UL << 16)    /* ring 0 honours read-only pages */
#define CR4_PAE    (1UL << 5)
#define CR4_PGE    (1UL << 7)
#define MSR_EFER   0xc0000080
#define EFER_NXE   (1UL << 11)    /* the NX bit in page tables is honoured */

static inline void outb(uint16_t port, uint8_t v) { __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }
static inline void outw(uint16_t port, uint16_t v) { __asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port)); }
static inline uint8_t inb(uint16_t port)
{
	uint8_t v;
	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline uint64_t read_cr0(void) { uint64_t v; __asm__ volatile("mov %%cr0, %0" : "=r"(v)); return v; }
static inline uint64_t read_cr2(void) { uint64_t v; __asm__ volatile("mov %%cr2, %0" : "=r"(v)); return v; }
static inline uint64_t read_cr3(void) { uint64_t v; __asm__ volatile("mov %%cr3, %0" : "=r"(v)); return v; }
static inline uint64_t read_cr4(void) { uint64_t v; __asm__ volatile("mov %%cr4, %0" : "=r"(v)); return v; }
static inline void write_cr0(uint64_t v) { __asm__ volatile("mov %0, %%cr0" : : "r"(v) : "memory"); }
/* Loading CR3 also flushes every non-global TLB entry. */
static inline void write_cr3(uint64_t v) { __asm__ volatile("mov %0, %%cr3" : : "r"(v) : "memory"); }
static inline void write_cr4(uint64_t v) { __asm__ volatile("mov %0, %%cr4" : : "r"(v) : "memory"); }

static inline uint64_t rdmsr(uint32_t msr)
{
	uint32_t lo, hi;
	__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return ((uint64_t)hi << 32) | lo;
}
static inline void wrmsr(uint32_t msr, uint64_t v)
{
	__asm__ volatile("wrmsr" : : "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)));
}

static inline void invlpg(uint64_t va) { __asm__ volatile("invlpg (%0)" : : "r"(va) : "memory"); }

static inline void cpuid(uint32_t leaf, uint32_t sub, uint32_t *a, uint32_t *b, uint32_t *c, uint32_t *d)
{
	__asm__ volatile("cpuid" : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d) : "a"(leaf), "c"(sub));
}

static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}

static inline void cli(void) { __asm__ volatile("cli" ::: "memory"); }
/*
 * Sleeps until an interrupt arrives, then returns with interrupts off again.
 * sti takes effect only after the next instruction, so no interrupt can slip
 * in between the caller's last check and the hlt and be lost.
 */
static inline void cpu_wait_for_interrupt(void) { __asm__ volatile("sti; hlt; cli" ::: "memory"); }
static inline void hlt(void) { __asm__ volatile("hlt" ::: "memory"); }
static inline void pause(void) { __asm__ volatile("pause"); }

struct __attribute__((packed)) desc_ptr {
	uint16_t limit;
	uint64_t base;
};
static inline void lgdt(const struct desc_ptr *p) { __asm__ volatile("lgdt %0" : : "m"(*p)); }
static inline void lidt(const struct desc_ptr *p) { __asm__ volatile("lidt %0" : : "m"(*p)); }
static inline void ltr(uint16_t sel) { __asm__ volatile("ltr %0" : : "r"(sel)); }

/* Reload CS (through a far return) and the data segments after lgdt. */
static inline void load_segments(uint16_t code, uint16_t data)
{
	__asm__ volatile("pushq %q0\n\t"
			 "leaq 1f(%%rip), %%rax\n\t"
			 "pushq %%rax\n\t"
			 "lretq\n"
			 "1:\n\t"
			 "movw %w1, %%ds\n\t"
			 "movw %w1, %%es\n\t"
			 "movw %w1, %%ss\n\t"
			 "movw %w1, %%fs\n\t"
			 "movw %w1, %%gs"
			 : : "r"((uint64_t)code), "r"(data) : "rax", "memory");
}

/* QEMU's isa-debug-exit device: QEMU exits with status (code << 1) | 1. */
#define QEMU_EXIT_PORT 0xf4
static inline void qemu_debug_exit(uint8_t code) { outb(QEMU_EXIT_PORT, code); }

static inline uint64_t read_rbp(void) { uint64_t v; __asm__ volatile("mov %%rbp, %0" : "=r"(v)); return v; }
static inline uint64_t read_rsp(void) { uint64_t v; __asm__ volatile("mov %%rsp, %0" : "=r"(v)); return v; }

/* Never returns: the CPU sleeps with interrupts off. */
__attribute__((noreturn)) static inline void halt_forever(void)
{
	for (;;) {
		cli();
		hlt();
	}
}

#endif
