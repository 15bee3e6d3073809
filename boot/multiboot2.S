/*
 * boot/multiboot2.S - where GRUB hands us the CPU.
 *
 * GRUB (BIOS or UEFI) loads kernel.elf at physical 1 MiB and jumps to _start
 * in 32-bit protected mode, paging off, EAX = multiboot2 magic, EBX = physical
 * address of the boot information. From here we:
 *   1. check the magic and that the CPU can do long mode, or say why on COM1;
 *   2. build early page tables (see below);
 *   3. turn on PAE, long mode and paging, load a 64-bit GDT;
 *   4. jump to the higher half and call mb2_main(magic, info) on the boot
 *      stack, whose guard page below is left unmapped.
 *
 * Early page tables (all replaced by vmm_init later):
 *   PML4[0]   -> identity map of physical 0..4 GiB, 2 MiB pages (we are
 *                still running at low addresses when paging comes on)
 *   PML4[256] -> the same tables: the direct map 0xffff800000000000 + pa
 *                for the first 4 GiB, used by mb2.c and pmm_init
 *   PML4[511] -> PDPT[510] -> PD[0..1] -> two page tables of 4 KiB pages
 *                mapping physical 0..4 MiB at 0xffffffff80000000, so the
 *                kernel runs linked where it is, and one page (the boot
 *                stack's guard) can be left out.
 */
#include "../kernel/arch/x86_64/layout.h"

#define MB2_MAGIC        0xe85250d6
#define MB2_BOOT_MAGIC   0x36d76289
#define PHYS(sym)        ((sym) - KERNEL_VMA)

#define PTE_P    0x1
#define PTE_W    0x2
#define PTE_PS   0x80

#define COM1     0x3f8

	.section .multiboot2, "a"
	.balign 8
mb2_header:
	.long MB2_MAGIC
	.long 0                                  /* architecture: i386 protected mode */
	.long mb2_header_end - mb2_header
	.long -(MB2_MAGIC + (mb2_header_end - mb2_header))
	/* information request: all optional (flags = 1), we check what we got */
	.balign 8
mb2_info_req:
	.short 1, 1
	.long mb2_info_req_end - mb2_info_req
	.long 1                                  /* command line */
	.long 2                                  /* boot loader name */
	.long 3                                  /* modules */
	.long 6                                  /* memory map */
	.long 14                                 /* ACPI 1.0 RSDP */
	.long 15                                 /* ACPI 2.0+ RSDP */
	.long 17                                 /* EFI memory map */
mb2_info_req_end:
	.balign 8
	.short 0, 0                              /* end tag */
	.long 8
mb2_header_end:

	.section .boot.text, "ax"
	.code32
	.global _start
_start:
	cli
	cld
	movl $PHYS(boot_stack_top), %esp
	movl %eax, %edi                          /* keep magic and info for mb2_main */
	movl %ebx, %esi

	call serial_init32

	cmpl $MB2_BOOT_MAGIC, %edi
	jne no_multiboot2

	/* CPUID exists when EFLAGS.ID (bit 21) can be toggled. */
	pushfl
	popl %eax
	movl %eax, %ecx
	xorl $(1 << 21), %eax
	pushl %eax
	popfl
	pushfl
	popl %eax
	pushl %ecx
	popfl
	xorl %ecx, %eax
	jz no_long_mode

	movl $0x80000000, %eax
	cpuid
	cmpl $0x80000001, %eax
	jb no_long_mode
	movl $0x80000001, %eax
	cpuid
	testl $(1 << 29), %edx                   /* LM */
	jz no_long_mode

	/* Zero the early tables: we do not trust anyone else to have. */
	movl $PHYS(boot_tables_start), %edi
	movl $PHYS(boot_tables_end), %ecx
	subl %edi, %ecx
	shrl $2, %ecx
	xorl %eax, %eax
	rep stosl
	movl $MB2_BOOT_MAGIC, %edi               /* rep stosl used EDI; the magic was checked */

	/* 2048 PD entries: physical 0..4 GiB in 2 MiB pages. */
	movl $PHYS(boot_pd_low), %ebx
	xorl %ecx, %ecx
1:	movl %ecx, %eax
	shll $21, %eax
	orl $(PTE_P | PTE_W | PTE_PS), %eax
	movl %eax, (%ebx, %ecx, 8)
	incl %ecx
	cmpl $2048, %ecx
	jne 1b

	/* 4 PDPT entries -> the 4 PDs. */
	movl $PHYS(boot_pdpt_low), %ebx
	movl $PHYS(boot_pd_low) + (PTE_P | PTE_W), %eax
	movl %eax, 0(%ebx)
	addl $4096, %eax
	movl %eax, 8(%ebx)
	addl $4096, %eax
	movl %eax, 16(%ebx)
	addl $4096, %eax
	movl %eax, 24(%ebx)

	/* 1024 PT entries: physical 0..4 MiB in 4 KiB pages, minus the guard. */
	movl $PHYS(boot_pt_kernel), %ebx
	xorl %ecx, %ecx
2:	movl %ecx, %eax
	shll $12, %eax
	cmpl $PHYS(boot_stack_guard), %eax
	je 3f
	orl $(PTE_P | PTE_W), %eax
	movl %eax, (%ebx, %ecx, 8)
3:	incl %ecx
	cmpl $1024, %ecx
	jne 2b

	movl $PHYS(boot_pd_high), %ebx
	movl $PHYS(boot_pt_kernel) + (PTE_P | PTE_W), %eax
	movl %eax, 0(%ebx)
	addl $4096, %eax
	movl %eax, 8(%ebx)

	movl $PHYS(boot_pdpt_high), %ebx
	movl $PHYS(boot_pd_high) + (PTE_P | PTE_W), %eax
	movl %eax, (510 * 8)(%ebx)

	movl $PHYS(boot_pml4), %ebx
	movl $PHYS(boot_pdpt_low) + (PTE_P | PTE_W), %eax
	movl %eax, 0(%ebx)
	movl %eax, (256 * 8)(%ebx)
	movl $PHYS(boot_pdpt_high) + (PTE_P | PTE_W), %eax
	movl %eax, (511 * 8)(%ebx)

	/* PAE on, CR3, EFER.LME, then paging: the CPU is in long mode. */
	movl %cr4, %eax
	orl $(1 << 5), %eax
	movl %eax, %cr4
	movl $PHYS(boot_pml4), %eax
	movl %eax, %cr3
	movl $0xc0000080, %ecx
	rdmsr
	orl $(1 << 8), %eax
	wrmsr
	movl %cr0, %eax
	orl $((1 << 31) | 1), %eax
	movl %eax, %cr0

	lgdt boot_gdt_ptr
	ljmp $0x08, $long_mode_entry

/* Both failures halt after saying why; the debug-exit write ends a QEMU run. */
no_multiboot2:
	movl $msg_no_mb2, %ebx
	jmp fail32
no_long_mode:
	movl $msg_no_lm, %ebx
fail32:
	call puts32
	movw $0xf4, %dx
	movb $0x12, %al
	outb %al, %dx
4:	cli
	hlt
	jmp 4b

/* 16550 at COM1: 115200 8N1, FIFOs on. Clobbers EAX, EDX. */
serial_init32:
	movw $(COM1 + 1), %dx; xorb %al, %al;   outb %al, %dx   /* no interrupts */
	movw $(COM1 + 3), %dx; movb $0x80, %al; outb %al, %dx   /* DLAB */
	movw $(COM1 + 0), %dx; movb $1, %al;    outb %al, %dx   /* divisor 1 */
	movw $(COM1 + 1), %dx; xorb %al, %al;   outb %al, %dx
	movw $(COM1 + 3), %dx; movb $0x03, %al; outb %al, %dx   /* 8N1 */
	movw $(COM1 + 2), %dx; movb $0xc7, %al; outb %al, %dx   /* FIFO */
	movw $(COM1 + 4), %dx; movb $0x03, %al; outb %al, %dx   /* DTR RTS */
	ret

/* Print the NUL-terminated string at EBX. Clobbers EAX, EBX, EDX. */
puts32:
5:	movb (%ebx), %al
	testb %al, %al
	jz 7f
	movb %al, %ah
	movw $(COM1 + 5), %dx
6:	inb %dx, %al
	testb $0x20, %al
	jz 6b
	movw $COM1, %dx
	movb %ah, %al
	outb %al, %dx
	incl %ebx
	jmp 5b
7:	ret

	.code64
long_mode_entry:
	xorl %eax, %eax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %ss
	movw %ax, %fs
	movw %ax, %gs
	movabsq $higher_half, %rax
	jmp *%rax

	.section .boot.rodata, "a"
	.balign 8
	.global boot_gdt                         /* shared with entry64.S */
boot_gdt:
	.quad 0
	.quad 0x00af9a000000ffff                 /* 0x08: 64-bit code, ring 0 */
boot_gdt_end:
boot_gdt_ptr:
	.short boot_gdt_end - boot_gdt - 1
	.long boot_gdt
msg_no_mb2:
	.asciz "memkern: not started by a multiboot2 boot loader (bad magic in EAX); halting\r\n"
msg_no_lm:
	.asciz "memkern: this CPU cannot run 64-bit code (CPUID reports no long mode); halting\r\n"

/* From here on we run at the kernel's link address. */
	.text
	.code64
higher_half:
	movabsq $boot_stack_top, %rsp
	xorl %ebp, %ebp                          /* ends frame-pointer backtraces */
	movl %edi, %edi                          /* upper halves are undefined after the mode switch */
	movl %esi, %esi
	call mb2_main
8:	cli
	hlt
	jmp 8b

	.section .bss
	.balign 4096
	.global boot_tables_start, boot_tables_end
boot_tables_start:
boot_pml4:       .skip 4096
boot_pdpt_low:   .skip 4096
boot_pdpt_high:  .skip 4096
boot_pd_high:    .skip 4096
boot_pd_low:     .skip 4096 * 4
boot_pt_kernel:  .skip 4096 * 2
boot_tables_end:
	.global boot_pml4, boot_pdpt_low
	.global boot_pdpt_high, boot_pd_high, boot_pd_low, boot_pt_kernel   /* entry64.S builds them too */
	/* The boot stack; the page below it stays unmapped so an overflow faults. */
	.global boot_stack_guard, boot_stack_bottom, boot_stack_top
boot_stack_guard:  .skip 4096
boot_stack_bottom: .skip BOOT_STACK_SIZE
boot_stack_top:
