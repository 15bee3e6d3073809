/*
 * kernel/printk.c - formatted output: vsnprintf for everyone (alloc/ report
 * lines go through snprintf too, see alloc/glue.h) and printk to the serial
 * console. Supports %d %i %u %x %X %p %s %c %% with the l, ll and z length
 * modifiers, a width (or *), and the '-', '0' and '#' flags. No floating
 * point: the kernel is built without SSE.
 */
#include "printk.h"

#include <stdbool.h>
#include <stdint.h>

#include "arch/x86_64/serial.h"
#include "lib/string.h"

struct out {
	char *buf;
	size_t size, len;       /* len counts every byte, even those that did not fit */
};

static void put(struct out *o, char c)
{
	if (o->len + 1 < o->size)
		o->buf[o->len] = c;
	o->len++;
}

static void put_padded(struct out *o, const char *s, size_t n, int width, bool left, char pad)
{
	int fill = width > (int)n ? width - (int)n : 0;
	/* Zero padding goes after a sign or 0x prefix. */
	size_t prefix = 0;
	if (pad == '0' && !left) {
		if (n && (s[0] == '-' || s[0] == '+'))
			prefix = 1;
		else if (n >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
			prefix = 2;
	}
	for (size_t i = 0; i < prefix; i++)
		put(o, s[i]);
	if (!left)
		while (fill-- > 0)
			put(o, pad);
	for (size_t i = prefix; i < n; i++)
		put(o, s[i]);
	while (left && fill-- > 0)
		put(o, ' ');
}

static size_t format_uint(char *end, unsigned long long v, unsigned base, bool upper)
{
	const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	size_t n = 0;
	do {
		*--end = digits[v % base];
		v /= base;
		n++;
	} while (v);
	return n;
}

int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
	struct out o = { buf, size, 0 };

	for (; *fmt; fmt++) {
		if (*fmt != '%') {
			put(&o, *fmt);
			continue;
		}
		fmt++;
		bool left = false, alt = false;
		char pad = ' ';
		for (;; fmt++) {
			if (*fmt == '-')
				left = true;
			else if (*fmt == '0')
				pad = '0';
			else if (*fmt == '#')
				alt = true;
			else
				break;
		}
		int width = 0;
		if (*fmt == '*') {
			width = va_arg(ap, int);
			if (width < 0) {
				left = true;
				width = -width;
			}
			fmt++;
		}
		while (*fmt >= '0' && *fmt <= '9')
			width = width * 10 + (*fmt++ - '0');
		int lng = 0;            /* 0 int, 1 long, 2 long long, 3 size_t */
		while (*fmt == 'l' || *fmt == 'z') {
			lng = *fmt == 'z' ? 3 : lng + 1;
			fmt++;
		}

		char tmp[24];
		char *end = tmp + sizeof tmp;
		size_t n;
		unsigned long long u;
		switch (*fmt) {
		case 'd':
		case 'i': {
			long long v = lng == 0 ? va_arg(ap, int) : lng == 1 ? va_arg(ap, long)
				    : lng == 2 ? va_arg(ap, long long) : (long long)va_arg(ap, size_t);
			u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
			n = format_uint(end, u, 10, false);
			if (v < 0) {
				*(end - n - 1) = '-';
				n++;
			}
			put_padded(&o, end - n, n, width, left, pad);
			break;
		}
		case 'u':
		case 'x':
		case 'X':
			u = lng == 0 ? va_arg(ap, unsigned int) : lng == 1 ? va_arg(ap, unsigned long)
			  : lng == 2 ? va_arg(ap, unsigned long long) : va_arg(ap, size_t);
			n = format_uint(end, u, *fmt == 'u' ? 10 : 16, *fmt == 'X');
			if (alt && *fmt != 'u' && u) {
				*(end - n - 1) = *fmt;
				*(end - n - 2) = '0';
				n += 2;
			}
			put_padded(&o, end - n, n, width, left, pad);
			break;
		case 'p':
			u = (uintptr_t)va_arg(ap, void *);
			n = format_uint(end, u, 16, false);
			*(end - n - 1) = 'x';
			*(end - n - 2) = '0';
			n += 2;
			put_padded(&o, end - n, n, width, left, pad);
			break;
		case 's': {
			const char *s = va_arg(ap, const char *);
			if (!s)
				s = "(null)";
			put_padded(&o, s, strlen(s), width, left, ' ');
			break;
		}
		case 'c':
			tmp[0] = (char)va_arg(ap, int);
			put_padded(&o, tmp, 1, width, left, ' ');
			break;
		case '%':
			put(&o, '%');
			break;
		case '\0':
			fmt--;          /* a lone '%' at the end: stop cleanly */
			break;
		default:                /* unknown: print it as written, so the mistake shows */
			put(&o, '%');
			put(&o, *fmt);
			break;
		}
	}
	if (size)
		buf[o.len < size ? o.len : size - 1] = 0;
	return (int)o.len;
}

int snprintf(char *restrict buf, size_t size, const char *restrict fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n;
}

static printk_hook_fn printk_hook;

void printk_set_hook(printk_hook_fn fn) { printk_hook = fn; }

static void emit(const char *s, int n)
{
	serial_write(s, (unsigned long)n);
	if (printk_hook)
		printk_hook(s, (size_t)n);
}

/* Rare: a message longer than a line buffer. Its own frame, so the common
 * path stays small (fault handlers print on whatever stack faulted). */
static __attribute__((noinline)) void vprintk_long(const char *fmt, va_list ap)
{
	char big[2048];
	int n = vsnprintf(big, sizeof big, fmt, ap);
	emit(big, n < (int)sizeof big ? n : (int)sizeof big - 1);
}

void vprintk(const char *fmt, va_list ap)
{
	char line[256];
	va_list copy;
	va_copy(copy, ap);
	int n = vsnprintf(line, sizeof line, fmt, ap);
	if (n >= (int)sizeof line)
		vprintk_long(fmt, copy);
	else
		emit(line, n);
	va_end(copy);
}

void printk(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vprintk(fmt, ap);
	va_end(ap);
}
