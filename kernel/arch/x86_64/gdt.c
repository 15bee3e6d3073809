/*
 * kernel/arch/x86_64/gdt.c - the kernel's GDT and TSS.
 *
 * Long mode barely uses segments, but it still needs a code segment, and a
 * TSS for one thing that matters here: the Interrupt Stack Table. A kernel
 * stack overflow touches the unmapped guard page, the CPU cannot push the
 * page-fault frame onto that same stack, and raises a double fault. #DF (and
 * NMI, #MC) therefore run on their own IST stacks, so the overflow becomes a
 * readable report instead of a silent triple fault.
 */
#include "gdt.h"

#include "cpu.h"
#include "layout.h"

struct __attribute__((packed)) tss64 {
	uint32_t reserved0;
	uint64_t rsp[3];
	uint64_t reserved1;
	uint64_t ist[7];
	uint64_t reserved2;
	uint16_t reserved3;
	uint16_t iomap_base;
};
_Static_assert(sizeof(struct tss64) == 104, "TSS layout");

static struct tss64 tss;
static uint64_t gdt[5];
static uint8_t ist_df_stack[IST_STACK_SIZE] __attribute__((aligned(16)));
static uint8_t ist_nmi_stack[IST_STACK_SIZE] __attribute__((aligned(16)));

const uint8_t *const ist_stack_bottoms[2] = { ist_df_stack, ist_nmi_stack };

void gdt_init(void)
{
	gdt[0] = 0;
	gdt[1] = 0x00af9a000000ffffULL;        /* GDT_KERNEL_CODE: 64-bit, ring 0, execute/read */
	gdt[2] = 0x00cf92000000ffffULL;        /* GDT_KERNEL_DATA: read/write */

	uint64_t base = (uint64_t)&tss, limit = sizeof tss - 1;
	/* A 64-bit TSS descriptor takes two slots. */
	gdt[3] = (limit & 0xffff) | ((base & 0xffffff) << 16) | (0x89ULL << 40) |
		 (((limit >> 16) & 0xf) << 48) | (((base >> 24) & 0xff) << 56);
	gdt[4] = base >> 32;

	tss.ist[IST_DOUBLE_FAULT - 1] = (uint64_t)(ist_df_stack + sizeof ist_df_stack);
	tss.ist[IST_NMI - 1] = (uint64_t)(ist_nmi_stack + sizeof ist_nmi_stack);
	tss.iomap_base = sizeof tss;           /* no I/O permission bitmap */

	struct desc_ptr p = { sizeof gdt - 1, (uint64_t)gdt };
	lgdt(&p);
	load_segments(GDT_KERNEL_CODE, GDT_KERNEL_DATA);
	ltr(GDT_TSS);
}
