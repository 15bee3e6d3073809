/*
 * alloc/memmap.h - the physical memory map, normalized.
 *
 * Firmware hands over its map in whatever shape it likes: unsorted,
 * overlapping, with zero-length or wrapping entries, with usable ranges that
 * start and end mid-page. memmap_normalize() turns that into one clean map
 * that everything after boot can trust, and memmap_reserve() lays the
 * kernel's own reservations (low 1 MiB, kernel image, boot data, pmm
 * metadata) over it. The kernel prints the result; this file never does.
 *
 * A normalized map: ranges sorted by base, non-overlapping, none empty, no
 * two touching ranges of one type, every usable range page aligned at both
 * ends. Holes between ranges are simply not memory we may use.
 */
#ifndef ALLOC_MEMMAP_H
#define ALLOC_MEMMAP_H

#include "glue.h"

#define MEMMAP_MAX        128
#define MEMMAP_PAGE_SIZE  4096ull

/*
 * Types 1..5 are the firmware's (they equal the e820 / multiboot2 numbers, so
 * a loader can copy them through); the rest are the kernel's reservations.
 * When ranges overlap, the more restrictive type wins, in this order:
 *   BAD > ACPI_NVS > ACPI_RECLAIM > RESERVED > LOW1M > KERNEL > PMM > BOOTDATA > USABLE
 * Firmware types beat the kernel's because the firmware knows the hardware
 * (and a dump then names what a range really is). Among the kernel's, the
 * permanent reservations beat boot data, which may be handed back once the
 * kernel has read it: giving back a shorter-lived reservation must never
 * free a byte that a longer-lived one still claims.
 */
enum memmap_type {
	MEMMAP_USABLE = 1,
	MEMMAP_RESERVED,
	MEMMAP_ACPI_RECLAIM,
	MEMMAP_ACPI_NVS,
	MEMMAP_BAD,
	MEMMAP_LOW1M,     /* the first 1 MiB: real-mode leftovers, never handed out */
	MEMMAP_KERNEL,    /* the kernel image */
	MEMMAP_BOOTDATA,  /* modules, boot info, loader data still needed */
	MEMMAP_PMM,       /* what the kernel carved for frame metadata */
};

enum memmap_error {
	MEMMAP_E_FULL  = -1,  /* the result needs more than MEMMAP_MAX ranges */
	MEMMAP_E_INVAL = -2,  /* bad argument: type, or a range that wraps */
};

struct memmap_range {
	uint64_t base, len;
	uint32_t type;        /* enum memmap_type */
};

struct memmap {
	unsigned n;
	/* What memmap_normalize() had to fix or drop, so the kernel can warn. */
	unsigned n_empty;     /* zero-length input entries, dropped */
	unsigned n_above;     /* entries entirely at or above max_phys, dropped */
	unsigned n_clamped;   /* entries cut at max_phys (including ones whose end wrapped) */
	unsigned n_unknown;   /* entries of a type we don't know, kept as reserved */
	unsigned n_lost;      /* output ranges that did not fit in r[] */
	struct memmap_range r[MEMMAP_MAX];
};

/*
 * Builds a normalized map in *out from n_in firmware entries (in may be NULL
 * when n_in is 0; out must not overlap in). Everything is clamped to
 * [0, max_phys): max_phys is the CPU's physical address limit (1 << MAXPHYADDR);
 * it must be nonzero. Unknown types are kept as MEMMAP_RESERVED. Input may
 * also carry the kernel's types. Usable ranges are trimmed inward to whole
 * pages; the slivers vanish.
 * Returns 0, or MEMMAP_E_FULL if the result needs more than MEMMAP_MAX
 * ranges: then *out holds the lowest MEMMAP_MAX of them, a valid map that
 * just ends early (what is above it is absent, so never used), and
 * out->n_lost says how many were left out.
 */
int memmap_normalize(struct memmap *out, const struct memmap_range *in, unsigned n_in,
		     uint64_t max_phys);

/*
 * Lays a kernel reservation over a normalized map: [base, base + len) is
 * rounded outward to pages and gets `type` wherever that type wins (see the
 * precedence above), including over holes. len 0 does nothing.
 * Returns 0; MEMMAP_E_INVAL if type is unknown or MEMMAP_USABLE, or the
 * rounded range wraps past 2^64; MEMMAP_E_FULL if the result would need more
 * than MEMMAP_MAX ranges. On error the map is unchanged.
 */
int memmap_reserve(struct memmap *m, uint64_t base, uint64_t len, uint32_t type);

/* Bytes of the given type in the map. */
uint64_t memmap_total(const struct memmap *m, uint32_t type);

/*
 * End of the highest usable range, or 0 if there is none. Size things with
 * this, never with the highest range: QEMU 7.1+ reports a reserved range
 * just below 1 TiB that has no RAM behind it.
 */
uint64_t memmap_usable_end(const struct memmap *m);

/*
 * Finds the lowest address A with A % align == 0 and [A, A + size) inside
 * one usable range and A + size <= below (pass UINT64_MAX for no limit).
 * align must be a power of two; 0 means page alignment. Used to carve the
 * pmm's metadata before any allocator exists; the caller then reserves it.
 * Returns 0 on failure (size 0, bad align, nothing fits): 0 is never a
 * result on success, since the search never starts at 0 (and after the
 * low-1M reservation, 0 is not usable anyway).
 */
uint64_t memmap_find_free(const struct memmap *m, uint64_t size, uint64_t align, uint64_t below);

/*
 * Checks that *m is normalized (see the top of this file). Returns 0, or -1
 * with the first problem described in why (why may be NULL).
 */
int memmap_check(const struct memmap *m, char *why, size_t why_len);

/* A short name for a type ("usable", "ACPI NVS", ...); "unknown" otherwise. Never NULL. */
const char *memmap_type_name(uint32_t type);

#endif /* ALLOC_MEMMAP_H */
