/* kernel/kmain.h - the kernel's entry from any boot path. */
#ifndef KERNEL_KMAIN_H
#define KERNEL_KMAIN_H

#include "../boot/bootinfo.h"

__attribute__((noreturn)) void kmain(struct boot_info *info);

#endif
