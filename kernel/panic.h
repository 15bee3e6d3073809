/*
 * kernel/panic.h - a broken invariant: say what, where, and stop.
 * panic("pmm_free: double free of 0x%lx", pa) prints the message, file:line,
 * registers and a backtrace, then ends a QEMU run with the panic exit code.
 */
#ifndef KERNEL_PANIC_H
#define KERNEL_PANIC_H

#define panic(...) panic_at(__FILE__, __LINE__, __VA_ARGS__)

__attribute__((noreturn, format(printf, 3, 4)))
void panic_at(const char *file, int line, const char *fmt, ...);

/* End the run: QEMU exits with this code's status (see docs/boot.md). */
#define EXIT_PASS  0x10     /* QEMU status 33 */
#define EXIT_FAIL  0x11     /* 35 */
#define EXIT_PANIC 0x12     /* 37 */
__attribute__((noreturn)) void kernel_exit(int code);

#endif
