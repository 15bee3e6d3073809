/*
 * kernel/arch/x86_64/pic.c - the two 8259 interrupt controllers, just enough
 * for one interrupt: COM1's "a byte arrived" (IRQ 4), so the memkern> prompt
 * can sleep in hlt instead of spinning while it waits for a key. Everything
 * else stays masked; the kernel runs with interrupts off except inside
 * cpu_wait_for_interrupt().
 */
#include "pic.h"

#include "cpu.h"

#define PIC1_CMD  0x20
#define PIC1_DATA 0x21
#define PIC2_CMD  0xa0
#define PIC2_DATA 0xa1
#define PIC_EOI   0x20

static uint64_t counts[PIC_IRQS + 1];     /* the last slot counts spurious vectors */

static uint8_t in_service(uint16_t cmd_port)
{
	outb(cmd_port, 0x0b);                   /* OCW3: read the in-service register */
	return inb(cmd_port);
}

void pic_init(void)
{
	/* ICW1..ICW4: edge triggered, cascaded, vectors 32..47, 8086 mode. */
	outb(PIC1_CMD, 0x11);
	outb(PIC2_CMD, 0x11);
	outb(PIC1_DATA, PIC_VECTOR_BASE);
	outb(PIC2_DATA, PIC_VECTOR_BASE + 8);
	outb(PIC1_DATA, 0x04);                  /* the slave sits on IRQ 2 */
	outb(PIC2_DATA, 0x02);
	outb(PIC1_DATA, 0x01);
	outb(PIC2_DATA, 0x01);
	outb(PIC1_DATA, 0xff);                  /* all masked until someone asks */
	outb(PIC2_DATA, 0xff);
}

void pic_unmask(unsigned irq)
{
	uint16_t port = irq < 8 ? PIC1_DATA : PIC2_DATA;
	outb(port, (uint8_t)(inb(port) & ~(1u << (irq & 7))));
	if (irq >= 8)
		outb(PIC1_DATA, (uint8_t)(inb(PIC1_DATA) & ~(1u << 2)));
}

void pic_interrupt(uint64_t vector)
{
	if (vector < PIC_VECTOR_BASE || vector >= PIC_VECTOR_BASE + PIC_IRQS) {
		counts[PIC_IRQS]++;             /* not ours: nothing to acknowledge */
		return;
	}
	unsigned irq = (unsigned)(vector - PIC_VECTOR_BASE);
	/* IRQ 7 and 15 also arrive spuriously (a request that went away): then the
	 * in-service bit is clear and that PIC must not get an EOI. */
	if ((irq & 7) == 7 && !(in_service(irq < 8 ? PIC1_CMD : PIC2_CMD) & 0x80)) {
		counts[PIC_IRQS]++;
		if (irq == 15)
			outb(PIC1_CMD, PIC_EOI);        /* the master did see the cascade */
		return;
	}
	counts[irq]++;
	if (irq >= 8)
		outb(PIC2_CMD, PIC_EOI);
	outb(PIC1_CMD, PIC_EOI);
}

uint64_t pic_count(unsigned irq) { return irq <= PIC_IRQS ? counts[irq] : 0; }
