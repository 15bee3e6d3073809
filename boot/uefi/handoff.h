/*
 * boot/uefi/handoff.h - the contract between our UEFI loader (BOOTX64.EFI)
 * and the kernel's 64-bit entry (boot/entry64.S). Included by both, and by
 * assembly, so it holds only numbers and one struct.
 *
 * The kernel's ELF entry point (_start) is the 32-bit multiboot2 entry, no
 * use to a loader that is already in long mode. So the kernel carries a
 * small header in its .boot section (linked at its physical address):
 *
 *   offset  0  magic    16 bytes, "MEMKERN64" padded with NULs
 *   offset 16  entry    physical address of the 64-bit entry (uefi_entry64)
 *   offset 24  self     physical address of this header itself
 *
 * The loader looks for it, 8-byte aligned, in the first HANDOFF_SCAN_BYTES
 * of the loaded image, and believes it only if `self` is where it was
 * found (a stray "MEMKERN64" in some string does not count) and `entry`
 * lies in a loaded executable segment.
 *
 * State at the entry: 64-bit mode, CPL 0, interrupts off, the firmware's
 * page tables (identity map) still in CR3, boot services exited, RDI = the
 * physical address of a struct boot_info in pages below 4 GiB, which the
 * kernel copies before it touches anything else. The stack is the loader's
 * and may be used only until the kernel switches to its own.
 */
#ifndef BOOT_UEFI_HANDOFF_H
#define BOOT_UEFI_HANDOFF_H

#define HANDOFF_MAGIC          "MEMKERN64"
#define HANDOFF_MAGIC_SIZE     16
#define HANDOFF_ENTRY_OFFSET   16
#define HANDOFF_SELF_OFFSET    24
#define HANDOFF_SIZE           32
#define HANDOFF_SCAN_BYTES     (32 * 1024)

/* entry64.S maps physical 0..4 MiB for the kernel (boot_pt_kernel), and
 * 0..4 GiB identity and direct: the kernel must load below the first, the
 * boot_info below the second. */
#define HANDOFF_KERNEL_LIMIT   0x400000
#define HANDOFF_BOOTINFO_LIMIT 0x100000000

#ifndef __ASSEMBLER__
#include <stdint.h>

struct handoff_header {
	char magic[HANDOFF_MAGIC_SIZE];
	uint64_t entry;
	uint64_t self;
};
_Static_assert(sizeof(struct handoff_header) == HANDOFF_SIZE, "handoff header layout");
_Static_assert(__builtin_offsetof(struct handoff_header, entry) == HANDOFF_ENTRY_OFFSET, "entry offset");
_Static_assert(__builtin_offsetof(struct handoff_header, self) == HANDOFF_SELF_OFFSET, "self offset");
#endif

#endif
