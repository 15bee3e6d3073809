/* kernel/ksyms.h - the embedded symbol table (see ksyms.c). */
#ifndef KERNEL_KSYMS_H
#define KERNEL_KSYMS_H

#include <stddef.h>
#include <stdint.h>

/* Nearest function at or below addr, or NULL outside kernel text. */
const char *ksym_lookup(uint64_t addr, uint64_t *offset);
/* "name+0x1c", or the bare hex address when no symbol covers it. */
void ksym_format(uint64_t addr, char *buf, size_t size);
/* Address of a function by name, 0 if none (for tests). */
uint64_t ksym_address(const char *name);

#endif
