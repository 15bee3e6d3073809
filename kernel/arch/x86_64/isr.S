/*
 * kernel/arch/x86_64/isr.S - entry points for the 32 exception vectors.
 * Each entry point makes the stack look the same (a dummy error code where the CPU
 * pushes none, then the vector number), saves every general register, and
 * calls trap_dispatch(struct trap_frame *). The layout pushed here is
 * struct trap_frame in trap.h: keep the two in step. Vectors 32..255 are
 * interrupts (memkern takes only COM1's, while the prompt waits for a key);
 * they share one path, with the vector number pushed the same way.
 */
	.text
	.code64

.macro ISR_NOERR n
	.global isr\n
isr\n:
	pushq $0
	pushq $\n
	jmp isr_common
.endm
.macro ISR_ERR n
	.global isr\n
isr\n:
	pushq $\n
	jmp isr_common
.endm

ISR_NOERR 0
ISR_NOERR 1
ISR_NOERR 2
ISR_NOERR 3
ISR_NOERR 4
ISR_NOERR 5
ISR_NOERR 6
ISR_NOERR 7
ISR_ERR   8
ISR_NOERR 9
ISR_ERR   10
ISR_ERR   11
ISR_ERR   12
ISR_ERR   13
ISR_ERR   14
ISR_NOERR 15
ISR_NOERR 16
ISR_ERR   17
ISR_NOERR 18
ISR_NOERR 19
ISR_NOERR 20
ISR_ERR   21
ISR_NOERR 22
ISR_NOERR 23
ISR_NOERR 24
ISR_NOERR 25
ISR_NOERR 26
ISR_NOERR 27
ISR_NOERR 28
ISR_ERR   29
ISR_ERR   30
ISR_NOERR 31
.irp n, 32,33,34,35,36,37,38,39,40,41,42,43,44,45,46,47
ISR_NOERR \n
.endr
/* Vectors 48..255 share one entry point: nothing should arrive there (memkern
 * programs nothing to use them); if firmware left a source armed, it is
 * counted as "vector 255" and ignored. */
	.global isr_spurious
isr_spurious:
	pushq $0
	pushq $255
	jmp isr_common

isr_common:
	pushq %rax
	pushq %rbx
	pushq %rcx
	pushq %rdx
	pushq %rsi
	pushq %rdi
	pushq %rbp
	pushq %r8
	pushq %r9
	pushq %r10
	pushq %r11
	pushq %r12
	pushq %r13
	pushq %r14
	pushq %r15
	cld
	movq %rsp, %rdi
	/* The frame is 16-byte aligned here (the CPU aligned RSP before pushing). */
	call trap_dispatch
	popq %r15
	popq %r14
	popq %r13
	popq %r12
	popq %r11
	popq %r10
	popq %r9
	popq %r8
	popq %rbp
	popq %rdi
	popq %rsi
	popq %rdx
	popq %rcx
	popq %rbx
	popq %rax
	addq $16, %rsp                           /* vector and error code */
	iretq

	.section .rodata
	.balign 8
	.global isr_table
isr_table:
	.irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,32,33,34,35,36,37,38,39,40,41,42,43,44,45,46,47
	.quad isr\n
	.endr
