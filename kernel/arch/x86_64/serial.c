/*
 * kernel/arch/x86_64/serial.c - the 16550 UART at COM1 (0x3f8), 115200 8N1,
 * polled. The serial port is memkern's console: the boot log, test output
 * (KTAP) and the memkern> prompt all go through here.
 */
#include "serial.h"

#include <stdbool.h>

#include "cpu.h"
#include "pic.h"

#define COM1 0x3f8
#define REG_DATA 0
#define REG_IER  1
#define REG_FCR  2
#define REG_LCR  3
#define REG_MCR  4
#define REG_LSR  5
#define LSR_DATA_READY  0x01
#define LSR_THR_EMPTY   0x20

static bool rx_irq_on;

void serial_init(void)
{
	outb(COM1 + REG_IER, 0x00);    /* polled: no interrupts */
	outb(COM1 + REG_LCR, 0x80);    /* DLAB on to set the divisor */
	outb(COM1 + REG_DATA, 1);      /* 115200 / 1 */
	outb(COM1 + REG_IER, 0);
	outb(COM1 + REG_LCR, 0x03);    /* 8 bits, no parity, 1 stop */
	outb(COM1 + REG_FCR, 0xc7);    /* FIFOs on, cleared, 14-byte threshold */
	outb(COM1 + REG_MCR, 0x03);    /* DTR, RTS */
}

void serial_putc(char c)
{
	if (c == '\n')
		serial_putc('\r');
	while (!(inb(COM1 + REG_LSR) & LSR_THR_EMPTY))
		pause();
	outb(COM1 + REG_DATA, (uint8_t)c);
}

void serial_write(const char *s, unsigned long n)
{
	for (unsigned long i = 0; i < n; i++)
		serial_putc(s[i]);
}

int serial_getc(void)
{
	/* Sleep until COM1 raises its interrupt (set up by serial_enable_rx_irq),
	 * instead of spinning: an idle prompt costs the host no CPU. */
	while (!(inb(COM1 + REG_LSR) & LSR_DATA_READY))
		rx_irq_on ? cpu_wait_for_interrupt() : pause();
	return inb(COM1 + REG_DATA);
}

void serial_enable_rx_irq(void)
{
	outb(COM1 + REG_IER, 0x01);        /* "received data available" */
	outb(COM1 + REG_MCR, 0x0b);        /* DTR, RTS, and OUT2, which gates the IRQ line */
	pic_unmask(IRQ_COM1);
	rx_irq_on = true;
}
