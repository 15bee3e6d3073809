/*
 * boot/uefi/loader.h - what the files of our UEFI loader (BOOTX64.EFI)
 * share. One file a job:
 *   loader.c   efi_main: the steps in order, and giving back on failure
 *   console.c  progress and error lines (ConOut; COM1 once boot services are gone)
 *   file.c     files on the volume we were loaded from
 *   elf.c      check kernel.elf and load its segments at their physical addresses
 *   cmdline.c  the kernel command line: \memkern\cmdline.txt, else the load options
 *   acpi.c     the ACPI RSDP from the configuration table
 *   exit.c     memory map, ExitBootServices, boot_info's raw map, the jump
 * Built with GNU-EFI and GNU_EFI_USE_MS_ABI: firmware calls are plain calls
 * through EFIAPI (ms_abi) pointers, the loader's own code is System V.
 */
#ifndef BOOT_UEFI_LOADER_H
#define BOOT_UEFI_LOADER_H

#include <efi.h>
#include <efilib.h>

#include "../bootinfo.h"

#define KERNEL_PATH   L"\\memkern\\kernel.elf"
#define CMDLINE_PATH  L"\\memkern\\cmdline.txt"
#define LOADER_NAME   "memkern UEFI loader"
#define FAIL_STALL_US 3000000           /* how long an error stays on screen */

/* --- console.c --------------------------------------------------------------- */
/* "memkern-uefi: <fmt>\r\n" on ConOut. Only while boot services run. */
void say(const CHAR16 *fmt, ...);
/* "memkern-uefi: error: <fmt>\r\n" on ConOut; returns st, so: return fail(st, ...). */
EFI_STATUS fail(EFI_STATUS st, const CHAR16 *fmt, ...);
/* After ExitBootServices was called, even unsuccessfully: a line straight to
 * COM1, then halt for good (there is no firmware left to return to). */
__attribute__((noreturn)) void die_after_exit(const char *msg);
/* The name of a UEFI memory type ("EfiBootServicesData"). */
const CHAR16 *efi_memtype_name(UINT32 type);

/* --- file.c ------------------------------------------------------------------ */
/* These do not print: callers know whether a missing file is an error. */
EFI_STATUS file_open_boot_volume(EFI_LOADED_IMAGE *self, EFI_FILE_HANDLE *root);
EFI_STATUS file_open(EFI_FILE_HANDLE root, const CHAR16 *path, EFI_FILE_HANDLE *f);
EFI_STATUS file_size(EFI_FILE_HANDLE f, UINT64 *size);
/* Reads exactly len bytes at offset; EFI_END_OF_FILE if the file is shorter. */
EFI_STATUS file_read_at(EFI_FILE_HANDLE f, UINT64 offset, void *buf, UINTN len);
void file_close(EFI_FILE_HANDLE f);

/* --- elf.c ------------------------------------------------------------------- */
#define KERNEL_MAX_RUNS 16

struct kernel_image {
	UINT64 start, end;              /* physical, page-rounded: the whole loaded range */
	UINT64 entry;                   /* uefi_entry64, from the handoff header */
	unsigned segments;              /* PT_LOAD segments loaded */
	unsigned nruns;                 /* page runs we allocated, to give back on failure */
	struct { UINT64 base, pages; } runs[KERNEL_MAX_RUNS];
};

/*
 * Checks the ELF at path and loads every PT_LOAD segment at its p_paddr,
 * in pages allocated at exactly that address. Prints the one error line
 * and returns its status on failure, having given back what it took.
 */
EFI_STATUS elf_load_kernel(EFI_FILE_HANDLE root, const CHAR16 *path, struct kernel_image *k);
void elf_unload_kernel(struct kernel_image *k);

/* --- cmdline.c --------------------------------------------------------------- */
/* Fills out (NUL-terminated, size bytes) and says where it came from
 * (*source = NULL: nowhere, out is empty). Fails, with its error line, only
 * if the file exists and cannot be used. */
EFI_STATUS cmdline_read(EFI_FILE_HANDLE root, EFI_LOADED_IMAGE *self, char *out, UINTN size,
			const CHAR16 **source);

/* --- acpi.c ------------------------------------------------------------------ */
/* The RSDP's physical address (0 if none); *revision from the RSDP itself. */
UINT64 acpi_find_rsdp(EFI_SYSTEM_TABLE *st, UINT32 *revision);

/* --- exit.c ------------------------------------------------------------------ */
struct efi_map {
	EFI_MEMORY_DESCRIPTOR *buf;
	UINTN capacity;                 /* bytes allocated at buf */
	UINTN size, key, desc_size;
	UINT32 desc_version;
};

/* Fetches the current map into a pool buffer with room to spare, so that
 * fetching it again before ExitBootServices needs no allocation. Does not
 * print; m->buf is NULL after a failure. */
EFI_STATUS map_prepare(struct efi_map *m);
void map_free(struct efi_map *m);
/* Exits boot services (retrying while the map key is stale), builds bi's
 * raw map from the final map, and jumps to entry with RDI = bi_pa.
 * Returns only if the first GetMemoryMap fails, with its error line printed. */
EFI_STATUS exit_and_jump(EFI_HANDLE image, struct efi_map *m, struct boot_info *bi, UINT64 bi_pa,
			 UINT64 entry);

#endif
