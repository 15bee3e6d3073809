/* kernel/bootlog.h - printing what the boot loader told us (see bootlog.c). */
#ifndef KERNEL_BOOTLOG_H
#define KERNEL_BOOTLOG_H

#include "../boot/bootinfo.h"

void bootlog_map(const char *title, const struct memmap_range *r, unsigned n);
void bootlog_memmap(const struct boot_info *info);

#endif
