/* kernel/arch/x86_64/serial.h - COM1 console (see serial.c). */
#ifndef ARCH_SERIAL_H
#define ARCH_SERIAL_H

void serial_init(void);
void serial_putc(char c);                       /* '\n' goes out as "\r\n" */
void serial_write(const char *s, unsigned long n);
int serial_getc(void);                          /* blocks until a byte arrives */
/* From now on serial_getc sleeps (hlt) until COM1's interrupt, instead of spinning. */
void serial_enable_rx_irq(void);

#endif
