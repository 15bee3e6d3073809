/*
 * tests/host/host_glue.c - the host environment for alloc/: what glue.h asks
 * an environment to provide, built on libc. Linked into every host test,
 * fuzzer and benchmark.
 */
#include <stdio.h>
#include <stdlib.h>

#include "../../alloc/glue.h"

void alloc_describe_pc(uintptr_t pc, char *buf, size_t size)
{
	snprintf(buf, size, "%#lx", (unsigned long)pc);
}

void alloc_assert_fail(const char *expr, const char *file, int line, const char *func)
{
	fprintf(stderr, "alloc assert: %s: %s (%s:%d)\n", func, expr, file, line);
	fflush(NULL);
	abort();
}
