/*
 * kernel/panic.c - panic() and the end of a run.
 *
 * A panic is for broken invariants (running out of memory is not one: that
 * returns NULL). If the running test expects this panic (a death test), the
 * test framework takes it and resumes the test; otherwise the first line is
 * "panic: <message>", which tools/qemu-test shows as the verdict.
 */
#include "panic.h"

#include "arch/x86_64/cpu.h"
#include "arch/x86_64/trap.h"
#include "printk.h"
#include "../tests/kernel/ktest.h"

void kernel_exit(int code)
{
	qemu_debug_exit((uint8_t)code);
	/* Not under QEMU (or no isa-debug-exit device): stop here. */
	halt_forever();
}

void panic_at(const char *file, int line, const char *fmt, ...)
{
	static int nested;
	char msg[256];
	va_list ap;

	cli();
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);

	/* A death test that expects this message resumes here: no return. */
	if (!nested)
		ktest_panic_hook(msg, file, line);

	if (nested++) {
		printk("\npanic while panicking: %s (%s:%d)\n", msg, file, line);
		kernel_exit(EXIT_PANIC);
	}
	printk("\npanic: %s\n", msg);
	printk("  at %s:%d\n", file, line);
	printk("RSP=%016lx RBP=%016lx CR0=%016lx CR2=%016lx\nCR3=%016lx CR4=%016lx\n",
	       read_rsp(), read_rbp(), read_cr0(), read_cr2(), read_cr3(), read_cr4());
	/* Start at our caller: its frame is the one our RBP points back to. */
	backtrace_print((uint64_t)__builtin_return_address(0), *(uint64_t *)read_rbp());
	kernel_exit(EXIT_PANIC);
}

/* alloc/glue.h: a broken invariant inside an allocator core. */
void alloc_assert_fail(const char *expr, const char *file, int line, const char *func)
{
	panic_at(file, line, "%s: assertion failed: %s", func, expr);
}
