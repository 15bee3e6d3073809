/*
 * kernel/arch/x86_64/idt.c - the Interrupt Descriptor Table: all 256 vectors
 * are interrupt gates into isr.S: 0..31 the exceptions, 32..47 the PIC's
 * IRQs (only COM1's is ever unmasked), the rest one shared "spurious" entry.
 */
#include "cpu.h"
#include "gdt.h"
#include "trap.h"

struct __attribute__((packed)) idt_gate {
	uint16_t offset_lo;
	uint16_t selector;
	uint8_t ist;
	uint8_t type_attr;      /* 0x8e: present, ring 0, 64-bit interrupt gate */
	uint16_t offset_mid;
	uint32_t offset_hi;
	uint32_t zero;
};
_Static_assert(sizeof(struct idt_gate) == 16, "IDT gate layout");

extern const uint64_t isr_table[48];
extern const char isr_spurious[];
static struct idt_gate idt[256];

void idt_init(void)
{
	for (int v = 0; v < 256; v++) {
		uint64_t h = v < 48 ? isr_table[v] : (uint64_t)isr_spurious;
		idt[v] = (struct idt_gate){
			.offset_lo = h & 0xffff,
			.selector = GDT_KERNEL_CODE,
			.ist = v == VEC_DF || v == VEC_MC ? IST_DOUBLE_FAULT : v == VEC_NMI ? IST_NMI : 0,
			.type_attr = 0x8e,
			.offset_mid = (h >> 16) & 0xffff,
			.offset_hi = h >> 32,
		};
	}
	struct desc_ptr p = { sizeof idt - 1, (uint64_t)idt };
	lidt(&p);
}
