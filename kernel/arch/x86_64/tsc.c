/*
 * kernel/arch/x86_64/tsc.c - time from the TSC, calibrated once against the
 * PIT (channel 2, the speaker gate, which needs no interrupts). Used to say
 * how long boot steps took and for cycle counts in benchmarks. Under QEMU
 * TCG the TSC is emulated: the figures are guest time, not host cycles.
 */
#include "tsc.h"

#include "cpu.h"

#define PIT_HZ        1193182
#define PIT_CH2       0x42
#define PIT_CMD       0x43
#define PIT_GATE      0x61

static uint64_t tsc_hz;

uint64_t tsc_calibrate(void)
{
	const uint32_t ms = 10;
	const uint32_t count = PIT_HZ * ms / 1000;

	/* Gate channel 2 on, speaker off; mode 0 counts down once and raises OUT. */
	outb(PIT_GATE, (uint8_t)((inb(PIT_GATE) & ~0x02) | 0x01));
	outb(PIT_CMD, 0xb0);                   /* channel 2, lobyte/hibyte, mode 0 */
	outb(PIT_CH2, count & 0xff);
	outb(PIT_CH2, (count >> 8) & 0xff);
	uint64_t t0 = rdtsc();
	uint64_t spins = 0;
	while (!(inb(PIT_GATE) & 0x20)) {
		if (++spins > 100000000)          /* no PIT: do not hang the boot */
			break;
	}
	uint64_t t1 = rdtsc();
	tsc_hz = (t1 - t0) * (1000 / ms);
	if (tsc_hz == 0)
		tsc_hz = 1000000000;            /* a guess is better than dividing by zero */
	return tsc_hz;
}

uint64_t tsc_hz_get(void) { return tsc_hz; }

uint64_t tsc_to_us(uint64_t cycles)
{
	return tsc_hz ? cycles / (tsc_hz / 1000000 ? tsc_hz / 1000000 : 1) : 0;
}
