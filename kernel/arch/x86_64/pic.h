/* kernel/arch/x86_64/pic.h - the 8259 PICs, for COM1's interrupt only (see pic.c). */
#ifndef ARCH_PIC_H
#define ARCH_PIC_H

#include <stdint.h>

#define PIC_VECTOR_BASE 32
#define PIC_IRQS        16
#define IRQ_COM1        4

void pic_init(void);                    /* remap to 32..47, everything masked */
void pic_unmask(unsigned irq);
void pic_interrupt(uint64_t vector);    /* from trap_dispatch: count and acknowledge */
uint64_t pic_count(unsigned irq);       /* interrupts seen (PIC_IRQS: spurious vectors) */

#endif
