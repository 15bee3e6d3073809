/*
 * boot/entry64.S - where our own UEFI loader (boot/uefi/) hands us the CPU.
 *
 * The loader jumps to uefi_entry64 in 64-bit mode, at its physical address,
 * interrupts off, boot services exited, the firmware's identity-mapped page
 * tables still in CR3 and RDI = physical address of the struct boot_info it
 * filled (below 4 GiB). The contract is in boot/uefi/handoff.h; the loader
 * finds this entry through memkern64_header below, since the ELF entry point
 * is the 32-bit multiboot2 one.
 *
 * From here we do what multiboot2.S does after its mode switch: build the
 * same early page tables into the same boot_* tables, load them, load the
 * boot GDT, jump to the higher half and call uefi_main(info_pa) on the boot
 * stack, whose guard page stays unmapped.
 *
 * Why the table-building code exists twice: GRUB enters in 32-bit protected
 * mode with paging off, so multiboot2.S must build the tables with 32-bit
 * code before long mode exists; UEFI enters in long mode with its own paging
 * on, where that 32-bit code cannot run (and turning paging off to reuse it
 * would mean leaving long mode). Both write the same entries into the same
 * tables, so everything after boot/ sees one memory layout:
 *   PML4[0]   -> boot_pdpt_low -> boot_pd_low: physical 0..4 GiB, 2 MiB pages
 *   PML4[256] -> the same: the direct map at DIRECT_MAP_BASE (first 4 GiB)
 *   PML4[511] -> boot_pdpt_high[510] -> boot_pd_high[0..1] -> boot_pt_kernel:
 *                physical 0..4 MiB at KERNEL_VMA in 4 KiB pages, without
 *                boot_stack_guard
 * If you change one, change the other.
 *
 * What UEFI may leave on that GRUB does not: CR0.WP (harmless, every early
 * mapping is writable; vmm_init sets it anyway), EFER.NXE (harmless, no
 * early entry uses NX; vmm_init sets it), CR4.OSFXSR and friends (unused: the
 * kernel is built without SSE), CR4.PGE (turned off here: a firmware entry
 * marked global would outlive our CR3 load). 5-level paging cannot be
 * undone from long mode; the loader refuses to start us under it.
 */
#include "../kernel/arch/x86_64/layout.h"
#include "uefi/handoff.h"

#define PHYS(sym)        ((sym) - KERNEL_VMA)

#define PTE_P    0x1
#define PTE_W    0x2
#define PTE_PS   0x80

#define CR4_PGE  (1 << 7)
#define GDT_CODE 0x08                            /* boot_gdt in multiboot2.S: null, 64-bit code */

	.section .boot.rodata, "a"
	.balign 16
	.global memkern64_header
memkern64_header:                                /* see boot/uefi/handoff.h */
	.ascii HANDOFF_MAGIC
	.balign 16, 0
	.quad uefi_entry64
	.quad memkern64_header

	.balign 8
boot_gdt_ptr64:                                  /* lgdt in long mode takes a 64-bit base */
	.short 2 * 8 - 1
	.quad boot_gdt

	.section .boot.text, "ax"
	.code64
	.global uefi_entry64
uefi_entry64:
	cli
	cld
	movq %rdi, %r12                          /* boot_info: callee-saved, survives to uefi_main */
	movl $PHYS(boot_stack_top), %esp         /* ours, and mapped both before and after CR3 */

	movq %cr4, %rax
	andq $~CR4_PGE, %rax                     /* also flushes global TLB entries */
	movq %rax, %cr4

	/* Zero the early tables: the loader zeroed .bss, but we do not rely on it. */
	movl $PHYS(boot_tables_start), %edi
	movl $PHYS(boot_tables_end), %ecx
	subl %edi, %ecx
	shrl $3, %ecx
	xorl %eax, %eax
	rep stosq

	/* 2048 PD entries: physical 0..4 GiB in 2 MiB pages. */
	movl $PHYS(boot_pd_low), %edi
	xorl %ecx, %ecx
1:	movq %rcx, %rax
	shlq $21, %rax
	orq $(PTE_P | PTE_W | PTE_PS), %rax
	movq %rax, (%rdi, %rcx, 8)
	incl %ecx
	cmpl $2048, %ecx
	jne 1b

	/* 4 PDPT entries -> the 4 PDs. */
	movl $PHYS(boot_pdpt_low), %edi
	movl $PHYS(boot_pd_low) + (PTE_P | PTE_W), %eax
	xorl %ecx, %ecx
2:	movq %rax, (%rdi, %rcx, 8)
	addq $4096, %rax
	incl %ecx
	cmpl $4, %ecx
	jne 2b

	/* 1024 PT entries: physical 0..4 MiB in 4 KiB pages, minus the guard. */
	movl $PHYS(boot_pt_kernel), %edi
	movl $PHYS(boot_stack_guard), %edx
	xorl %ecx, %ecx
3:	movq %rcx, %rax
	shlq $12, %rax
	cmpq %rdx, %rax
	je 4f
	orq $(PTE_P | PTE_W), %rax
	movq %rax, (%rdi, %rcx, 8)
4:	incl %ecx
	cmpl $1024, %ecx
	jne 3b

	movl $PHYS(boot_pd_high), %edi
	movl $PHYS(boot_pt_kernel) + (PTE_P | PTE_W), %eax
	movq %rax, 0(%rdi)
	addq $4096, %rax
	movq %rax, 8(%rdi)

	movl $PHYS(boot_pdpt_high), %edi
	movl $PHYS(boot_pd_high) + (PTE_P | PTE_W), %eax
	movq %rax, (510 * 8)(%rdi)

	movl $PHYS(boot_pml4), %edi
	movl $PHYS(boot_pdpt_low) + (PTE_P | PTE_W), %eax
	movq %rax, 0(%rdi)
	movq %rax, (256 * 8)(%rdi)
	movl $PHYS(boot_pdpt_high) + (PTE_P | PTE_W), %eax
	movq %rax, (511 * 8)(%rdi)

	/* Our tables from here: this code and the stack are identity-mapped in both. */
	movq %rdi, %cr3

	/* The boot GDT, and CS reloaded from it (a far return is the long-mode way). */
	lgdt boot_gdt_ptr64(%rip)
	pushq $GDT_CODE
	leaq 5f(%rip), %rax
	pushq %rax
	lretq
5:	xorl %eax, %eax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %ss
	movw %ax, %fs
	movw %ax, %gs
	movabsq $uefi_higher_half, %rax
	jmp *%rax

/* From here on we run at the kernel's link address, as multiboot2.S's higher_half. */
	.text
	.code64
uefi_higher_half:
	movabsq $boot_stack_top, %rsp
	xorl %ebp, %ebp                          /* ends frame-pointer backtraces */
	movq %r12, %rdi
	call uefi_main
6:	cli
	hlt
	jmp 6b
