/*
 * kernel/cmdline.h - the kernel command line: space-separated words, each a
 * bare flag or key=value ("ktest=pmm,vmm seed=42 heap.debug=2").
 */
#ifndef KERNEL_CMDLINE_H
#define KERNEL_CMDLINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

void cmdline_init(const char *cmdline);
const char *cmdline_raw(void);
/* Copies the value of key into buf; false if key is absent. A bare flag gives "". */
bool cmdline_get(const char *key, char *buf, size_t size);
/*
 * Parses a number (parse_u64); false if key is absent, or present but not
 * a number, which it reports on the console (the caller keeps its default).
 */
bool cmdline_get_u64(const char *key, uint64_t *out);
/* Parses decimal / 0x-hex with an optional K, M, G suffix. Returns false on junk. */
bool parse_u64(const char *s, uint64_t *out);

#endif
