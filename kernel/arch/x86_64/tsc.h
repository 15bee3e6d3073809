/* kernel/arch/x86_64/tsc.h - TSC time, calibrated against the PIT (see tsc.c). */
#ifndef ARCH_TSC_H
#define ARCH_TSC_H

#include <stdint.h>

uint64_t tsc_calibrate(void);       /* measures and returns TSC ticks per second */
uint64_t tsc_hz_get(void);
uint64_t tsc_to_us(uint64_t cycles);

#endif
