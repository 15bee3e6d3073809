/*
 * boot/uefi/console.c - the loader's voice. Every line starts with
 * "memkern-uefi: " so a log shows at once who said it; errors go on with
 * "error: ". Under OVMF, ConOut reaches the serial port as well as the
 * screen, so tools/qemu-test sees these lines. Once ExitBootServices has
 * been called ConOut is gone, and the last words go to COM1 directly.
 */
#include "loader.h"

/*
 * A small formatter of our own instead of GNU-EFI's Print: that one writes
 * hex in capitals, and the kernel, the docs and every log here write
 * 0xe2d3000. Knows what the loader uses: %d %ld %x %lx (width and 0 flag
 * allowed), %s (CHAR16 string), %a (ASCII string), %r (EFI_STATUS), %%.
 */
struct out {
	CHAR16 buf[256];
	UINTN n;
};

static void put(struct out *o, CHAR16 c)
{
	if (o->n + 1 < sizeof o->buf / sizeof o->buf[0])
		o->buf[o->n++] = c;
}

static void put_num(struct out *o, UINT64 v, unsigned base, BOOLEAN neg, unsigned width, CHAR16 pad)
{
	CHAR16 tmp[24];
	unsigned n = 0;
	do {
		tmp[n++] = L"0123456789abcdef"[v % base];
		v /= base;
	} while (v);
	if (neg)
		tmp[n++] = '-';
	for (; width > n; width--)
		put(o, pad);
	while (n)
		put(o, tmp[--n]);
}

static void vformat(struct out *o, const CHAR16 *fmt, va_list ap)
{
	for (; *fmt; fmt++) {
		if (*fmt != '%') {
			put(o, *fmt);
			continue;
		}
		CHAR16 pad = ' ';
		unsigned width = 0;
		BOOLEAN lng = FALSE;
		if (*++fmt == '0')
			pad = '0', fmt++;
		while (*fmt >= '0' && *fmt <= '9')
			width = width * 10 + (*fmt++ - '0');
		if (*fmt == 'l')
			lng = TRUE, fmt++;
		switch (*fmt) {
		case 'd': {
			INT64 v = lng ? va_arg(ap, INT64) : va_arg(ap, int);
			put_num(o, v < 0 ? -(UINT64)v : (UINT64)v, 10, v < 0, width, pad);
			break;
		}
		case 'x':
			put_num(o, lng ? va_arg(ap, UINT64) : va_arg(ap, unsigned), 16, FALSE, width, pad);
			break;
		case 's':
			for (const CHAR16 *s = va_arg(ap, const CHAR16 *); s && *s; s++)
				put(o, *s);
			break;
		case 'a':
			for (const char *s = va_arg(ap, const char *); s && *s; s++)
				put(o, (UINT8)*s);
			break;
		case 'r': {
			CHAR16 name[64];
			StatusToString(name, va_arg(ap, EFI_STATUS));
			for (const CHAR16 *s = name; *s; s++)
				put(o, *s);
			break;
		}
		case '%':
			put(o, '%');
			break;
		default:        /* a format this file does not know: show it, do not guess */
			put(o, '%');
			if (!*fmt)
				return;
			put(o, *fmt);
		}
	}
}

static void line(const CHAR16 *prefix, const CHAR16 *fmt, va_list ap)
{
	struct out o;
	o.n = 0;
	for (const CHAR16 *s = prefix; *s; s++)
		put(&o, *s);
	vformat(&o, fmt, ap);
	put(&o, '\r');
	put(&o, '\n');
	o.buf[o.n] = 0;
	ST->ConOut->OutputString(ST->ConOut, o.buf);
}

void say(const CHAR16 *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	line(L"memkern-uefi: ", fmt, ap);
	va_end(ap);
}

EFI_STATUS fail(EFI_STATUS st, const CHAR16 *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	line(L"memkern-uefi: error: ", fmt, ap);
	va_end(ap);
	return st;
}

#define COM1 0x3f8

static inline void outb(UINT16 port, UINT8 v) { __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }
static inline UINT8 inb(UINT16 port) { UINT8 v; __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port)); return v; }

static void com1_putc(char c)
{
	/* Bounded: with no UART there, we must not spin forever before halting. */
	for (int i = 0; i < 100000 && !(inb(COM1 + 5) & 0x20); i++)
		;
	outb(COM1, (UINT8)c);
}

void die_after_exit(const char *msg)
{
	/* The firmware set COM1 up for its console; we reuse its settings. */
	for (const char *p = "memkern-uefi: error: "; *p; p++)
		com1_putc(*p);
	for (; *msg; msg++)
		com1_putc(*msg);
	com1_putc('\r');
	com1_putc('\n');
	/* Like multiboot2.S's failures: under QEMU's isa-debug-exit this ends the
	 * run with the panic code; on a real machine nothing listens there. */
	outb(0xf4, 0x12);
	for (;;)
		__asm__ volatile("cli; hlt");
}

const CHAR16 *efi_memtype_name(UINT32 type)
{
	static const CHAR16 *const names[] = {
		L"EfiReservedMemoryType", L"EfiLoaderCode", L"EfiLoaderData", L"EfiBootServicesCode",
		L"EfiBootServicesData", L"EfiRuntimeServicesCode", L"EfiRuntimeServicesData",
		L"EfiConventionalMemory", L"EfiUnusableMemory", L"EfiACPIReclaimMemory", L"EfiACPIMemoryNVS",
		L"EfiMemoryMappedIO", L"EfiMemoryMappedIOPortSpace", L"EfiPalCode", L"EfiPersistentMemory",
	};
	return type < sizeof names / sizeof names[0] ? names[type] : L"an unknown memory type";
}
