/*
 * kernel/arch/x86_64/kjmp.S - setjmp/longjmp for the kernel. The test
 * framework uses them to resume a test after a fault or panic it expected
 * (the handler jumps back to the recovery point the test set).
 *   struct kjmp { rbx, rbp, r12, r13, r14, r15, rsp, rip }
 */
	.text
	.code64
	.global kjmp_set
kjmp_set:
	movq %rbx, 0(%rdi)
	movq %rbp, 8(%rdi)
	movq %r12, 16(%rdi)
	movq %r13, 24(%rdi)
	movq %r14, 32(%rdi)
	movq %r15, 40(%rdi)
	leaq 8(%rsp), %rax                       /* RSP as it will be after we return */
	movq %rax, 48(%rdi)
	movq (%rsp), %rax                        /* our return address */
	movq %rax, 56(%rdi)
	xorl %eax, %eax
	ret

	.global kjmp_jump
kjmp_jump:
	movl %esi, %eax
	testl %eax, %eax
	jnz 1f
	incl %eax                                /* like longjmp: never return 0 twice */
1:	movq 0(%rdi), %rbx
	movq 8(%rdi), %rbp
	movq 16(%rdi), %r12
	movq 24(%rdi), %r13
	movq 32(%rdi), %r14
	movq 40(%rdi), %r15
	movq 48(%rdi), %rsp
	jmpq *56(%rdi)
