/* kernel/arch/x86_64/gdt.h - segment selectors and IST slots (see gdt.c). */
#ifndef ARCH_GDT_H
#define ARCH_GDT_H

#include <stdint.h>

#define GDT_KERNEL_CODE 0x08
#define GDT_KERNEL_DATA 0x10
#define GDT_TSS         0x18

#define IST_DOUBLE_FAULT 1    /* also used by #MC */
#define IST_NMI          2

/* Bottoms of the IST stacks, so the backtracer knows they are stacks. */
extern const uint8_t *const ist_stack_bottoms[2];

void gdt_init(void);

#endif
