/* kernel/printk.h - formatted output to the serial console (see printk.c). */
#ifndef KERNEL_PRINTK_H
#define KERNEL_PRINTK_H

#include <stdarg.h>
#include <stddef.h>

void printk(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void vprintk(const char *fmt, va_list ap);
int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int snprintf(char *restrict buf, size_t size, const char *restrict fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Lets the test framework see everything printed (to match report lines). */
typedef void (*printk_hook_fn)(const char *s, size_t n);
void printk_set_hook(printk_hook_fn fn);

#endif
