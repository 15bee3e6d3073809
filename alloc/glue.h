/*
 * alloc/glue.h - the one seam between the portable allocator cores and the
 * place they run (the kernel, or a host test / fuzzer / benchmark).
 *
 * Everything in alloc/ includes only this header and its own headers: no
 * kernel header, no asm, no libc beyond what is declared here. An environment
 * links the cores with definitions of the functions below. Per-instance
 * callbacks (memory to grow into, where to report misuse) are passed in each
 * core's init structure instead, so one process can hold several instances
 * (the host tests do).
 */
#ifndef ALLOC_GLUE_H
#define ALLOC_GLUE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The usual string helpers: libc on the host, kernel/lib/string.c in the kernel. */
void *memset(void *dst, int c, size_t n);
void *memcpy(void *restrict dst, const void *restrict src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
int memcmp(const void *a, const void *b, size_t n);

/*
 * Formatting for report lines, so a misuse reads the same on the host and in
 * the kernel. Both environments support %d %i %u %x %lx %llx %zu %p %s %c
 * with widths and zero padding; nothing else may be used in alloc/.
 */
int snprintf(char *restrict buf, size_t size, const char *restrict fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * Writes a human name for a code address into buf ("kmain+0x1c" in the
 * kernel, "0x55d0c0de" or a symbol on the host). Used to say where a block
 * was allocated or freed.
 */
void alloc_describe_pc(uintptr_t pc, char *buf, size_t size);

/*
 * A broken internal invariant (not a caller's misuse, which is reported
 * through the instance's report callback). Never returns: the kernel panics,
 * the host aborts after printing.
 */
__attribute__((noreturn)) void alloc_assert_fail(const char *expr, const char *file, int line,
						  const char *func);

/* Asserts stay on in every build and carry their message:
 *   ALLOC_ASSERT(blk_is_free(b) && "merging a used block"); */
#define ALLOC_ASSERT(cond) \
	((cond) ? (void)0 : alloc_assert_fail(#cond, __FILE__, __LINE__, __func__))

#define ALLOC_LIKELY(x)   __builtin_expect(!!(x), 1)
#define ALLOC_UNLIKELY(x) __builtin_expect(!!(x), 0)

#endif /* ALLOC_GLUE_H */
