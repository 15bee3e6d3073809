/*
 * boot/uefi/elf.c - kernel.elf: check it, then load it where it was linked.
 *
 * The kernel is linked to run at physical 1 MiB (its code at VMA
 * 0xffffffff80000000 + pa, reached through its own early page tables), so
 * every PT_LOAD segment goes to its p_paddr, in pages allocated at exactly
 * that address (as EfiLoaderCode, see allocate_runs). If the firmware
 * already uses them we say so and stop: a kernel that is not where it was
 * linked cannot run.
 *
 * Everything is checked before anything is allocated, with one error line
 * for the first thing wrong: the file is never trusted to be what it says
 * (sizes and offsets are checked against the file and against overflow).
 * Segments are read from the file straight into place; nothing holds the
 * whole file in memory.
 */
#include <elf.h>

#include "loader.h"
#include "handoff.h"

#define MAX_PHDRS 64

static EFI_STATUS check_header(const CHAR16 *path, const Elf64_Ehdr *eh, UINT64 fsize)
{
	const unsigned char *id = eh->e_ident;
	if (id[EI_MAG0] != ELFMAG0 || id[EI_MAG1] != ELFMAG1 || id[EI_MAG2] != ELFMAG2 || id[EI_MAG3] != ELFMAG3)
		return fail(EFI_LOAD_ERROR, L"%s is not an ELF file (bad ELF magic %02x %02x %02x %02x, want 7f 45 4c 46)",
			    path, id[0], id[1], id[2], id[3]);
	if (id[EI_CLASS] != ELFCLASS64)
		return fail(EFI_LOAD_ERROR, L"%s is not a 64-bit ELF file (bad ELF class %d, want %d)", path,
			    id[EI_CLASS], ELFCLASS64);
	if (id[EI_DATA] != ELFDATA2LSB)
		return fail(EFI_LOAD_ERROR, L"%s is not a little-endian ELF file (bad ELF data encoding %d)", path,
			    id[EI_DATA]);
	if (id[EI_VERSION] != EV_CURRENT || eh->e_version != EV_CURRENT)
		return fail(EFI_LOAD_ERROR, L"%s: bad ELF version %d", path, eh->e_version);
	if (eh->e_machine != EM_X86_64)
		return fail(EFI_UNSUPPORTED, L"%s: bad ELF machine %d, want x86_64 (%d)", path, eh->e_machine,
			    EM_X86_64);
	if (eh->e_type != ET_EXEC)
		return fail(EFI_UNSUPPORTED, L"%s: bad ELF type %d, want an executable (%d)", path, eh->e_type,
			    ET_EXEC);
	if (eh->e_phentsize != sizeof(Elf64_Phdr) || eh->e_phnum == 0 || eh->e_phnum > MAX_PHDRS)
		return fail(EFI_LOAD_ERROR, L"%s: bad ELF program header table (%d entries of %d bytes)", path,
			    eh->e_phnum, eh->e_phentsize);
	UINT64 table = (UINT64)eh->e_phnum * sizeof(Elf64_Phdr);
	if (eh->e_phoff > fsize || table > fsize - eh->e_phoff)
		return fail(EFI_LOAD_ERROR, L"%s: bad ELF: program headers at 0x%lx+0x%lx lie outside the file (%ld bytes)",
			    path, eh->e_phoff, table, fsize);
	return EFI_SUCCESS;
}

/* Every PT_LOAD in the file, inside the file, below the limit, apart. */
static EFI_STATUS check_segments(const CHAR16 *path, const Elf64_Phdr *ph, unsigned n, UINT64 fsize,
				 unsigned *loads)
{
	*loads = 0;
	for (unsigned i = 0; i < n; i++) {
		const Elf64_Phdr *p = &ph[i];
		if (p->p_type != PT_LOAD || p->p_memsz == 0)
			continue;
		(*loads)++;
		if (p->p_filesz > p->p_memsz)
			return fail(EFI_LOAD_ERROR, L"%s: bad ELF segment %d: file size 0x%lx is larger than memory size 0x%lx",
				    path, i, p->p_filesz, p->p_memsz);
		if (p->p_offset > fsize || p->p_filesz > fsize - p->p_offset)
			return fail(EFI_LOAD_ERROR, L"%s: bad ELF segment %d: bytes 0x%lx+0x%lx lie outside the file (%ld bytes)",
				    path, i, p->p_offset, p->p_filesz, fsize);
		if (p->p_paddr >= HANDOFF_KERNEL_LIMIT || p->p_memsz > HANDOFF_KERNEL_LIMIT - p->p_paddr)
			return fail(EFI_LOAD_ERROR, L"%s: bad ELF segment %d: physical 0x%lx+0x%lx ends beyond the 0x%lx the kernel's boot page tables map",
				    path, i, p->p_paddr, p->p_memsz, (UINT64)HANDOFF_KERNEL_LIMIT);
		for (unsigned j = 0; j < i; j++) {
			const Elf64_Phdr *q = &ph[j];
			if (q->p_type != PT_LOAD || q->p_memsz == 0)
				continue;
			if (p->p_paddr < q->p_paddr + q->p_memsz && q->p_paddr < p->p_paddr + p->p_memsz)
				return fail(EFI_LOAD_ERROR, L"%s: bad ELF: segments %d (0x%lx-0x%lx) and %d (0x%lx-0x%lx) overlap",
					    path, j, q->p_paddr, q->p_paddr + q->p_memsz, i, p->p_paddr,
					    p->p_paddr + p->p_memsz);
		}
	}
	if (*loads == 0)
		return fail(EFI_LOAD_ERROR, L"%s: bad ELF: no loadable segment", path);
	if (*loads > KERNEL_MAX_RUNS)
		return fail(EFI_LOAD_ERROR, L"%s: bad ELF: %d loadable segments, at most %d", path, *loads,
			    KERNEL_MAX_RUNS);
	return EFI_SUCCESS;
}

/* The page runs to allocate: each segment rounded out to whole pages, runs
 * that touch or share a page merged (so two segments on one page are fine),
 * sorted by address. */
static void plan_runs(const Elf64_Phdr *ph, unsigned n, struct kernel_image *k)
{
	k->nruns = 0;
	for (unsigned i = 0; i < n; i++) {
		if (ph[i].p_type != PT_LOAD || ph[i].p_memsz == 0)
			continue;
		UINT64 b = ph[i].p_paddr & ~(UINT64)EFI_PAGE_MASK;
		UINT64 e = (ph[i].p_paddr + ph[i].p_memsz + EFI_PAGE_MASK) & ~(UINT64)EFI_PAGE_MASK;
		unsigned at = k->nruns;
		while (at > 0 && k->runs[at - 1].base > b) {    /* insertion sort: a handful of runs */
			k->runs[at] = k->runs[at - 1];
			at--;
		}
		k->runs[at].base = b;
		k->runs[at].pages = (e - b) >> EFI_PAGE_SHIFT;
		k->nruns++;
	}
	unsigned out = 0;
	for (unsigned i = 1; i < k->nruns; i++) {
		UINT64 end = k->runs[out].base + (k->runs[out].pages << EFI_PAGE_SHIFT);
		UINT64 iend = k->runs[i].base + (k->runs[i].pages << EFI_PAGE_SHIFT);
		if (k->runs[i].base <= end) {
			if (iend > end)
				k->runs[out].pages = (iend - k->runs[out].base) >> EFI_PAGE_SHIFT;
		} else {
			k->runs[++out] = k->runs[i];
		}
	}
	k->nruns = k->nruns ? out + 1 : 0;
	k->start = k->runs[0].base;
	k->end = k->runs[k->nruns - 1].base + (k->runs[k->nruns - 1].pages << EFI_PAGE_SHIFT);
}

/*
 * Why [base, end) could not be had, for the error line: the first part of
 * it the firmware holds (*what = its memory type), or the first page no
 * descriptor covers (not RAM at all). *what stays NULL if the map says the
 * range is free after all.
 */
static void find_obstacle(UINT64 base, UINT64 end, UINT64 *ob, UINT64 *oe, const CHAR16 **what)
{
	struct efi_map m;
	*what = NULL;
	if (EFI_ERROR(map_prepare(&m)))
		return;
	UINTN n = m.size / m.desc_size;
	const UINT8 *p = (const UINT8 *)m.buf;
	for (UINT64 a = base; a < end && !*what; a += EFI_PAGE_SIZE) {
		BOOLEAN covered = FALSE;
		for (UINTN i = 0; i < n && !*what; i++) {
			const EFI_MEMORY_DESCRIPTOR *d = (const void *)(p + i * m.desc_size);
			UINT64 db = d->PhysicalStart, de = db + (d->NumberOfPages << EFI_PAGE_SHIFT);
			if (a < db || a >= de)
				continue;
			covered = TRUE;
			if (d->Type != EfiConventionalMemory) {
				*ob = db;
				*oe = de;
				*what = efi_memtype_name(d->Type);
			}
		}
		if (!covered) {
			*ob = a;
			*oe = a + EFI_PAGE_SIZE;
			*what = L"not in the firmware's memory map (no RAM there)";
		}
	}
	map_free(&m);
}

static EFI_STATUS allocate_runs(struct kernel_image *k)
{
	for (unsigned i = 0; i < k->nruns; i++) {
		EFI_PHYSICAL_ADDRESS a = k->runs[i].base;
		/* Loader *code*: the kernel's first instructions run in these pages under
		 * the firmware's page tables, and firmware built with a DXE NX policy
		 * maps EfiLoaderData no-execute. To the kernel both types are RAM. */
		EFI_STATUS st = BS->AllocatePages(AllocateAddress, EfiLoaderCode, k->runs[i].pages, &a);
		if (EFI_ERROR(st)) {
			UINT64 b = k->runs[i].base, e = b + (k->runs[i].pages << EFI_PAGE_SHIFT), ob = 0, oe = 0;
			const CHAR16 *what;
			k->nruns = i;   /* give back only what we got */
			elf_unload_kernel(k);
			find_obstacle(b, e, &ob, &oe, &what);
			if (what)
				return fail(st, L"cannot allocate physical 0x%lx-0x%lx for the kernel (%r): 0x%lx-0x%lx is %s",
					    b, e, st, ob, oe, what);
			return fail(st, L"cannot allocate physical 0x%lx-0x%lx for the kernel (%r)", b, e, st);
		}
	}
	return EFI_SUCCESS;
}

/* The handoff header (handoff.h), 8-byte aligned in the first
 * HANDOFF_SCAN_BYTES of the image, in bytes that came from the file. */
static EFI_STATUS find_entry(const CHAR16 *path, const Elf64_Phdr *ph, unsigned n, struct kernel_image *k)
{
	UINT64 limit = k->start + HANDOFF_SCAN_BYTES;
	for (unsigned i = 0; i < n; i++) {
		if (ph[i].p_type != PT_LOAD)
			continue;
		UINT64 a = (ph[i].p_paddr + 7) & ~7ULL;
		UINT64 end = ph[i].p_paddr + ph[i].p_filesz;
		if (end > limit)
			end = limit;
		for (; a + HANDOFF_SIZE <= end; a += 8) {
			const struct handoff_header *h = (const void *)(UINTN)a;
			if (CompareMem(h->magic, HANDOFF_MAGIC, sizeof HANDOFF_MAGIC) != 0 || h->self != a)
				continue;
			for (unsigned j = 0; j < n; j++)
				if (ph[j].p_type == PT_LOAD && (ph[j].p_flags & PF_X) && h->entry >= ph[j].p_paddr &&
				    h->entry < ph[j].p_paddr + ph[j].p_filesz) {
					k->entry = h->entry;
					return EFI_SUCCESS;
				}
			return fail(EFI_LOAD_ERROR, L"%s: the 64-bit entry 0x%lx named by the header at 0x%lx is not in a loaded executable segment",
				    path, h->entry, a);
		}
	}
	return fail(EFI_LOAD_ERROR, L"%s: no 64-bit entry header (\"%a\") in the first %d KiB of the kernel image; was boot/entry64.S linked in?",
		    path, HANDOFF_MAGIC, HANDOFF_SCAN_BYTES / 1024);
}

/* Reads and checks the ELF header and program headers of the open file f. */
static EFI_STATUS read_headers(EFI_FILE_HANDLE f, const CHAR16 *path, Elf64_Ehdr *eh, Elf64_Phdr *ph)
{
	UINT64 fsize;
	unsigned loads;
	EFI_STATUS st = file_size(f, &fsize);
	if (EFI_ERROR(st))
		return fail(st, L"cannot get the size of %s: %r", path, st);
	if (fsize < sizeof *eh)
		return fail(EFI_LOAD_ERROR, L"%s is not an ELF file: only %ld bytes long", path, fsize);
	if (EFI_ERROR((st = file_read_at(f, 0, eh, sizeof *eh))))
		return fail(st, L"cannot read %s: %r", path, st);
	if (EFI_ERROR((st = check_header(path, eh, fsize))))
		return st;
	if (EFI_ERROR((st = file_read_at(f, eh->e_phoff, ph, eh->e_phnum * sizeof ph[0]))))
		return fail(st, L"cannot read the program headers of %s: %r", path, st);
	return check_segments(path, ph, eh->e_phnum, fsize, &loads);
}

EFI_STATUS elf_load_kernel(EFI_FILE_HANDLE root, const CHAR16 *path, struct kernel_image *k)
{
	EFI_FILE_HANDLE f = NULL;
	Elf64_Ehdr eh;
	Elf64_Phdr ph[MAX_PHDRS];

	ZeroMem(k, sizeof *k);
	EFI_STATUS st = file_open(root, path, &f);
	if (EFI_ERROR(st))
		return fail(st, L"cannot open the kernel %s on the boot volume: %r", path, st);
	if (EFI_ERROR((st = read_headers(f, path, &eh, ph)))) {
		file_close(f);
		return st;
	}

	plan_runs(ph, eh.e_phnum, k);
	if (EFI_ERROR((st = allocate_runs(k)))) {
		file_close(f);
		return st;
	}
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		const Elf64_Phdr *p = &ph[i];
		if (p->p_type != PT_LOAD || p->p_memsz == 0)
			continue;
		void *dst = (void *)(UINTN)p->p_paddr;  /* UEFI maps memory 1:1 */
		if (p->p_filesz && EFI_ERROR((st = file_read_at(f, p->p_offset, dst, p->p_filesz)))) {
			fail(st, L"cannot read segment %d of %s: %r", i, path, st);
			break;
		}
		ZeroMem((UINT8 *)dst + p->p_filesz, p->p_memsz - p->p_filesz);
		k->segments++;
	}
	file_close(f);
	if (!EFI_ERROR(st))
		st = find_entry(path, ph, eh.e_phnum, k);
	if (EFI_ERROR(st))
		elf_unload_kernel(k);
	return st;
}

void elf_unload_kernel(struct kernel_image *k)
{
	for (unsigned i = 0; i < k->nruns; i++)
		BS->FreePages(k->runs[i].base, k->runs[i].pages);
	k->nruns = 0;
}
