/*
 * kernel/main.c - kmain(): the boot order, one step a line.
 *
 * Every boot path (GRUB multiboot2 under BIOS or UEFI, our own UEFI loader)
 * ends here with a struct boot_info and the early page tables of the boot
 * code. Read this function top to bottom to see memkern come up.
 */
#include "kmain.h"

#include "arch/x86_64/cpu.h"
#include "arch/x86_64/gdt.h"
#include "arch/x86_64/pic.h"
#include "arch/x86_64/serial.h"
#include "arch/x86_64/trap.h"
#include "arch/x86_64/tsc.h"
#include "bootlog.h"
#include "cmdline.h"
#include "panic.h"
#include "pmm.h"
#include "kheap.h"
#include "printk.h"
#include "shell.h"
#include "vmm.h"
#include "../tests/kernel/ktest.h"

void kmain(struct boot_info *info)
{
	serial_init();                  /* the console first: everything after may print */
	printk("\nmemkern: booted by %s\n", info->loader[0] ? info->loader : "an unnamed loader");
	gdt_init();                     /* our GDT, and a TSS whose IST stacks catch double faults */
	idt_init();                     /* every exception now gets a readable report */
	pic_init();                     /* IRQs off the exception vectors, all masked */
	cmdline_init(info->cmdline);    /* ktest=, seed=, heap.debug= ... */
	printk("command line: \"%s\"\n", cmdline_raw());
	printk("kernel image: physical 0x%lx-0x%lx\n", info->kernel_phys_start, info->kernel_phys_end);

	if (info->raw_count == 0)
		panic("boot: the boot loader gave no memory map; cannot manage memory without one");
	if (info->raw_dropped)
		printk("warning: the boot loader's memory map had %u more entries than the %d we keep; "
		       "memory they describe is not used\n", info->raw_dropped, BOOTINFO_RAWMAP_MAX);
	int reserve_failures;
	if (bootinfo_normalize(info, &reserve_failures))   /* one clean map, whoever booted us */
		printk("warning: the memory map needs more than %d ranges; %u were left out, and the memory "
		       "they describe is not used\n", MEMMAP_MAX, info->map.n_lost);
	if (reserve_failures)
		panic("boot: the memory map is full: %d of the kernel's own reservations (kernel image, low 1 MiB, "
		      "boot data) did not fit, so its frames could be handed out", reserve_failures);
	bootlog_memmap(info);
	tsc_calibrate();                /* so boot steps can say how long they took */
	pmm_init(info);                 /* physical frames: the buddy allocator over the map */
	vmm_init(info);                 /* our own page tables: W^X kernel, direct map, NULL unmapped */
	kheap_init();                   /* kmalloc: the heap core over kbrk and the large window */

	ktest_main();                   /* ktest=... runs the suites and ends the run */

	printk("memkern: boot complete (no ktest= on the command line)\n");
	shell_main(info);               /* the memkern> prompt until halt; shell=off skips it */
	kernel_exit(EXIT_PASS);
}
