/* kernel/arch/x86_64/kjmp.h - setjmp/longjmp for the kernel (see kjmp.S). */
#ifndef ARCH_KJMP_H
#define ARCH_KJMP_H

#include <stdint.h>

struct kjmp {
	uint64_t rbx, rbp, r12, r13, r14, r15, rsp, rip;
};

/* Returns 0 when called, then the value given to kjmp_jump (never 0). */
int kjmp_set(struct kjmp *j) __attribute__((returns_twice));
__attribute__((noreturn)) void kjmp_jump(struct kjmp *j, int value);

#endif
