/*
 * tests/host/test_memmap.c - host tests for alloc/memmap.c: hand-made
 * firmware maps with each kind of mess, the kernel's reservations, and
 * randomized maps checked granule by granule against a brute-force model.
 * Randomized tests print their seed; rerun one with HTEST_SEED=N.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "check.h"
#include "../rand.h"
#include "../../alloc/memmap.h"

#define U MEMMAP_USABLE
#define R MEMMAP_RESERVED
#define AR MEMMAP_ACPI_RECLAIM
#define AN MEMMAP_ACPI_NVS
#define PHYS52 (1ull << 52)

#define N(a) (sizeof(a) / sizeof((a)[0]))

static struct memmap m;

/* Checks that m holds exactly the n ranges in want, and is normalized. */
static void check_map(const struct memmap *got, const struct memmap_range *want, unsigned n,
		      const char *file, int line)
{
	char why[200];

	if (memmap_check(got, why, sizeof why) != 0)
		htest_fail(file, line, why);
	if (got->n != n) {
		snprintf(why, sizeof why, "map has %u ranges, want %u", got->n, n);
		htest_fail(file, line, why);
	}
	for (unsigned i = 0; i < n && i < got->n; i++) {
		const struct memmap_range *g = &got->r[i], *w = &want[i];

		if (g->base != w->base || g->len != w->len || g->type != w->type) {
			snprintf(why, sizeof why, "range %u is [%#" PRIx64 " +%#" PRIx64 " %s], want [%#" PRIx64
				 " +%#" PRIx64 " %s]", i, g->base, g->len, memmap_type_name(g->type),
				 w->base, w->len, memmap_type_name(w->type));
			htest_fail(file, line, why);
		}
	}
}
#define CHECK_MAP(got, ...) do { \
	static const struct memmap_range _w[] = { __VA_ARGS__ }; \
	check_map((got), _w, N(_w), __FILE__, __LINE__); } while (0)
#define CHECK_EMPTY(got) check_map((got), NULL, 0, __FILE__, __LINE__)

#define NORM(in, max) memmap_normalize(&m, (in), N(in), (max))

/* QEMU's e820 with 128 MiB, low range already page aligned. */
static const struct memmap_range clean[] = {
	{ 0x0, 0x9f000, U },
	{ 0x9f000, 0x1000, R },
	{ 0xf0000, 0x10000, R },
	{ 0x100000, 0x7ee0000, U },
	{ 0x7fe0000, 0x20000, R },
	{ 0xfeffc000, 0x4000, R },
	{ 0xfffc0000, 0x40000, R },
};

HTEST(clean_e820_passes_through)
{
	CHECK_EQ_U(NORM(clean, PHYS52), 0);
	check_map(&m, clean, N(clean), __FILE__, __LINE__);
	CHECK_EQ_U(m.n_empty + m.n_above + m.n_clamped + m.n_unknown + m.n_lost, 0);
	CHECK_EQ_U(memmap_usable_end(&m), 0x7fe0000);
	CHECK_EQ_U(memmap_total(&m, U), 0x9f000 + 0x7ee0000);
}

HTEST(real_qemu_low_range_trimmed)
{
	static const struct memmap_range in[] = {
		{ 0x0, 0x9fc00, U }, { 0x9fc00, 0x400, R }, { 0xf0000, 0x10000, R },
		{ 0x100000, 0x7ee0000, U },
	};
	CHECK_EQ_U(NORM(in, PHYS52), 0);
	CHECK_MAP(&m, { 0x0, 0x9f000, U }, { 0x9fc00, 0x400, R }, { 0xf0000, 0x10000, R },
		  { 0x100000, 0x7ee0000, U });
}

HTEST(unsorted_input)
{
	struct memmap_range in[N(clean)];
	static const unsigned order[] = { 4, 0, 6, 2, 5, 1, 3 };

	for (unsigned i = 0; i < N(in); i++)
		in[i] = clean[order[i]];
	CHECK_EQ_U(NORM(in, PHYS52), 0);
	check_map(&m, clean, N(clean), __FILE__, __LINE__);
}

HTEST(overlap_reserved_wins_both_orders)
{
	static const struct memmap_range a[] = { { 0x0, 0x10000, U }, { 0x8000, 0x10000, R } };
	static const struct memmap_range b[] = { { 0x8000, 0x10000, R }, { 0x0, 0x10000, U } };

	CHECK_EQ_U(NORM(a, PHYS52), 0);
	CHECK_MAP(&m, { 0x0, 0x8000, U }, { 0x8000, 0x10000, R });
	CHECK_EQ_U(NORM(b, PHYS52), 0);
	CHECK_MAP(&m, { 0x0, 0x8000, U }, { 0x8000, 0x10000, R });
}

HTEST(usable_inside_reserved_and_reserved_inside_usable)
{
	static const struct memmap_range a[] = { { 0x1000, 0x8000, R }, { 0x2000, 0x1000, U } };
	static const struct memmap_range b[] = { { 0x1000, 0x8000, U }, { 0x2000, 0x1000, R } };

	CHECK_EQ_U(NORM(a, PHYS52), 0);
	CHECK_MAP(&m, { 0x1000, 0x8000, R });
	CHECK_EQ_U(NORM(b, PHYS52), 0);
	CHECK_MAP(&m, { 0x1000, 0x1000, U }, { 0x2000, 0x1000, R }, { 0x3000, 0x6000, U });
}

HTEST(identical_duplicates)
{
	static const struct memmap_range in[] = {
		{ 0x100000, 0x100000, U }, { 0x100000, 0x100000, U }, { 0x100000, 0x100000, U },
		{ 0x0, 0x1000, R }, { 0x0, 0x1000, R },
	};
	CHECK_EQ_U(NORM(in, PHYS52), 0);
	CHECK_MAP(&m, { 0x0, 0x1000, R }, { 0x100000, 0x100000, U });
}

HTEST(zero_length_entries_dropped)
{
	static const struct memmap_range in[] = {
		{ 0x5000, 0, R }, { 0x0, 0x10000, U }, { 0x8000, 0, 17 }, { 0x20000, 0, U },
	};
	CHECK_EQ_U(NORM(in, PHYS52), 0);
	CHECK_MAP(&m, { 0x0, 0x10000, U });
	CHECK_EQ_U(m.n_empty, 3);
	CHECK_EQ_U(m.n_unknown, 0);
}

HTEST(wrapping_entry_clamped)
{
	static const struct memmap_range in[] = {
		{ 0x100000, UINT64_MAX, U },                 /* end wraps past 2^64 */
		{ 0xfffffffffffff000ull, 0x2000, R },        /* wraps, and is above max_phys */
	};
	CHECK_EQ_U(NORM(in, PHYS52), 0);
	CHECK_MAP(&m, { 0x100000, PHYS52 - 0x100000, U });
	CHECK_EQ_U(m.n_clamped, 1);
	CHECK_EQ_U(m.n_above, 1);

	/* With no physical limit at all, the clamp is to the last page below 2^64. */
	CHECK_EQ_U(NORM(in, UINT64_MAX), 0);
	CHECK_MAP(&m, { 0x100000, 0xfffffffffffff000ull - 0x100000, U },
		  { 0xfffffffffffff000ull, 0xfff, R });
	CHECK_EQ_U(m.n_clamped, 2);
}

HTEST(entry_above_max_phys_dropped)
{
	static const struct memmap_range in[] = {
		{ 0x0, 0x100000, U }, { 1ull << 40, 0x100000, U }, { (1ull << 36) - 0x1000, 0x3000, R },
	};
	CHECK_EQ_U(NORM(in, 1ull << 36), 0);
	CHECK_MAP(&m, { 0x0, 0x100000, U }, { (1ull << 36) - 0x1000, 0x1000, R });
	CHECK_EQ_U(m.n_above, 1);
	CHECK_EQ_U(m.n_clamped, 1);
}

HTEST(qemu_1tib_reserved_does_not_size_anything)
{
	static const struct memmap_range in[] = {
		{ 0x0, 0x9f000, U }, { 0x100000, 0xbfee0000, U }, { 0xfeffc000, 0x4000, R },
		{ 0x100000000, 0x40000000, U }, { 0xfd00000000, 0x300000000, R },
	};
	CHECK_EQ_U(NORM(in, PHYS52), 0);
	CHECK_EQ_U(m.n, 5);
	CHECK_EQ_U(memmap_usable_end(&m), 0x140000000);
	CHECK_EQ_U(m.r[4].base + m.r[4].len, 0x10000000000);
}

HTEST(adjacent_same_type_merged_different_not)
{
	static const struct memmap_range in[] = {
		{ 0x0, 0x4000, U }, { 0x4000, 0x4000, U }, { 0x8000, 0x1000, R }, { 0x9000, 0x1000, AR },
		{ 0xa000, 0x1000, AR }, { 0xb000, 0x1000, U },
	};
	CHECK_EQ_U(NORM(in, PHYS52), 0);
	CHECK_MAP(&m, { 0x0, 0x8000, U }, { 0x8000, 0x1000, R }, { 0x9000, 0x2000, AR },
		  { 0xb000, 0x1000, U });
}

HTEST(unaligned_usable_trimmed_inward)
{
	static const struct memmap_range in[] = {
		{ 0x1800, 0x3000, U },          /* -> [0x2000, 0x4000) */
		{ 0x10100, 0xe00, U },          /* smaller than a page: vanishes */
		{ 0x20800, 0x1000, U },         /* crosses a page boundary but holds no whole page */
		{ 0x30800, 0x800, U },          /* two pieces meeting mid-page lose nothing */
		{ 0x31000, 0x1800, U },
		{ 0x40000, 0x10, R },           /* non-usable ranges keep their exact extent */
	};
	CHECK_EQ_U(NORM(in, PHYS52), 0);
	CHECK_MAP(&m, { 0x2000, 0x2000, U }, { 0x31000, 0x1000, U }, { 0x40000, 0x10, R });
	CHECK_EQ_U(m.n_empty, 0);
}

HTEST(acpi_reclaim_kept_apart_from_nvs)
{
	static const struct memmap_range in[] = {
		{ 0x7fe0000, 0x10000, AR }, { 0x7ff0000, 0x10000, AN }, { 0x7ff8000, 0x10000, AR },
	};
	CHECK_EQ_U(NORM(in, PHYS52), 0);
	CHECK_MAP(&m, { 0x7fe0000, 0x10000, AR }, { 0x7ff0000, 0x10000, AN }, { 0x8000000, 0x8000, AR });
	CHECK_EQ_U(memmap_total(&m, AR), 0x18000);
	CHECK_EQ_U(memmap_total(&m, AN), 0x10000);
}

HTEST(unknown_type_kept_as_reserved)
{
	static const struct memmap_range in[] = { { 0x0, 0x10000, U }, { 0x4000, 0x1000, 12 } };

	CHECK_EQ_U(NORM(in, PHYS52), 0);
	CHECK_MAP(&m, { 0x0, 0x4000, U }, { 0x4000, 0x1000, R }, { 0x5000, 0xb000, U });
	CHECK_EQ_U(m.n_unknown, 1);
}

HTEST(precedence_among_all_types)
{
	/* Nine entries stacked on one page, weakest last: the strongest must win. */
	static const uint32_t by_rank[] = {
		MEMMAP_USABLE, MEMMAP_BOOTDATA, MEMMAP_PMM, MEMMAP_KERNEL, MEMMAP_LOW1M,
		MEMMAP_RESERVED, MEMMAP_ACPI_RECLAIM, MEMMAP_ACPI_NVS, MEMMAP_BAD,
	};
	for (unsigned top = 0; top < N(by_rank); top++) {
		struct memmap_range in[N(by_rank)];

		for (unsigned i = 0; i <= top; i++)
			in[i] = (struct memmap_range){ 0x1000, 0x1000, by_rank[top - i] };
		CHECK_EQ_U(memmap_normalize(&m, in, top + 1, PHYS52), 0);
		CHECK_EQ_U(m.n, 1);
		CHECK_EQ_U(m.r[0].type, by_rank[top]);
	}
}

HTEST(reserve_kernel_image_splits_usable_in_three)
{
	CHECK_EQ_U(NORM(clean, PHYS52), 0);
	/* An image at 1 MiB + 0x234 of 0x5000 bytes rounds outward to 6 pages. */
	CHECK_EQ_U(memmap_reserve(&m, 0x200234, 0x5000, MEMMAP_KERNEL), 0);
	CHECK_MAP(&m, { 0x0, 0x9f000, U }, { 0x9f000, 0x1000, R }, { 0xf0000, 0x10000, R },
		  { 0x100000, 0x100000, U }, { 0x200000, 0x6000, MEMMAP_KERNEL },
		  { 0x206000, 0x7dda000, U }, { 0x7fe0000, 0x20000, R }, { 0xfeffc000, 0x4000, R },
		  { 0xfffc0000, 0x40000, R });
	CHECK_EQ_U(memmap_total(&m, U), 0x9f000 + 0x7ee0000 - 0x6000);
}

HTEST(reserve_low1m_and_edges)
{
	CHECK_EQ_U(NORM(clean, PHYS52), 0);
	CHECK_EQ_U(memmap_reserve(&m, 0, 0x100000, MEMMAP_LOW1M), 0);
	/* Firmware's reserved ranges beat the kernel's, holes get filled. */
	CHECK_MAP(&m, { 0x0, 0x9f000, MEMMAP_LOW1M }, { 0x9f000, 0x1000, R },
		  { 0xa0000, 0x50000, MEMMAP_LOW1M }, { 0xf0000, 0x10000, R },
		  { 0x100000, 0x7ee0000, U }, { 0x7fe0000, 0x20000, R }, { 0xfeffc000, 0x4000, R },
		  { 0xfffc0000, 0x40000, R });

	/* At the start of a usable range: touches LOW1M? no, [0xf0000,0x100000) is reserved. */
	CHECK_EQ_U(memmap_reserve(&m, 0x100000, 0x1000, MEMMAP_KERNEL), 0);
	/* Growing the same reservation merges with it. */
	CHECK_EQ_U(memmap_reserve(&m, 0x101000, 0x1, MEMMAP_KERNEL), 0);
	/* At the end of the usable range, touching the reserved range above. */
	CHECK_EQ_U(memmap_reserve(&m, 0x7fdf000, 0x1000, MEMMAP_PMM), 0);
	CHECK_MAP(&m, { 0x0, 0x9f000, MEMMAP_LOW1M }, { 0x9f000, 0x1000, R },
		  { 0xa0000, 0x50000, MEMMAP_LOW1M }, { 0xf0000, 0x10000, R },
		  { 0x100000, 0x2000, MEMMAP_KERNEL }, { 0x102000, 0x7edd000, U },
		  { 0x7fdf000, 0x1000, MEMMAP_PMM }, { 0x7fe0000, 0x20000, R },
		  { 0xfeffc000, 0x4000, R }, { 0xfffc0000, 0x40000, R });

	/* Boot data over the kernel image changes nothing; the kernel over boot data wins. */
	CHECK_EQ_U(memmap_reserve(&m, 0x100000, 0x3000, MEMMAP_BOOTDATA), 0);
	CHECK_EQ_U(m.r[4].type, MEMMAP_KERNEL);
	CHECK_EQ_U(m.r[5].type, MEMMAP_BOOTDATA);
	CHECK_EQ_U(m.r[5].base, 0x102000);
	CHECK_EQ_U(m.r[5].len, 0x1000);
	CHECK_EQ_U(memmap_reserve(&m, 0x102000, 0x1000, MEMMAP_KERNEL), 0);
	CHECK_EQ_U(m.r[4].len, 0x3000);
	CHECK_EQ_U(m.r[5].type, U);

	/* A whole usable range, and one bridging a hole between two ranges. */
	CHECK_EQ_U(NORM(clean, PHYS52), 0);
	CHECK_EQ_U(memmap_reserve(&m, 0x0, 0x9f000, MEMMAP_LOW1M), 0);
	CHECK_EQ_U(m.r[0].type, MEMMAP_LOW1M);
	CHECK_EQ_U(m.r[0].len, 0x9f000);
	CHECK_EQ_U(memmap_reserve(&m, 0x9f000, 0x61000, MEMMAP_LOW1M), 0);
	CHECK_MAP(&m, { 0x0, 0x9f000, MEMMAP_LOW1M }, { 0x9f000, 0x1000, R },
		  { 0xa0000, 0x50000, MEMMAP_LOW1M }, { 0xf0000, 0x10000, R },
		  { 0x100000, 0x7ee0000, U }, { 0x7fe0000, 0x20000, R }, { 0xfeffc000, 0x4000, R },
		  { 0xfffc0000, 0x40000, R });

	/* Beyond everything: a range of its own. */
	CHECK_EQ_U(memmap_reserve(&m, 0x200000000, 0x10, MEMMAP_BOOTDATA), 0);
	CHECK_EQ_U(m.n, 9);
	CHECK_EQ_U(m.r[8].base, 0x200000000);
	CHECK_EQ_U(m.r[8].len, 0x1000);
}

HTEST(reserve_bad_arguments)
{
	struct memmap before;

	CHECK_EQ_U(NORM(clean, PHYS52), 0);
	before = m;
	CHECK(memmap_reserve(&m, 0x1000, 0x1000, MEMMAP_USABLE) == MEMMAP_E_INVAL);
	CHECK(memmap_reserve(&m, 0x1000, 0x1000, 0) == MEMMAP_E_INVAL);
	CHECK(memmap_reserve(&m, 0x1000, 0x1000, 99) == MEMMAP_E_INVAL);
	CHECK(memmap_reserve(&m, 0x1000, UINT64_MAX, MEMMAP_KERNEL) == MEMMAP_E_INVAL);
	CHECK(memmap_reserve(&m, UINT64_MAX - 0x10, 0x8, MEMMAP_KERNEL) == MEMMAP_E_INVAL);
	CHECK(memmap_reserve(&m, 0x1000, 0, MEMMAP_KERNEL) == 0);
	CHECK(memcmp(&m, &before, sizeof m) == 0);
}

HTEST(overflow_returns_error_and_stays_valid)
{
	static struct memmap_range in[200];
	char why[200];

	/* 200 separate pages, given in reverse order. */
	for (unsigned i = 0; i < N(in); i++)
		in[i] = (struct memmap_range){ (uint64_t)(N(in) - i) * 0x10000, 0x1000, i % 3 ? U : R };
	CHECK(NORM(in, PHYS52) == MEMMAP_E_FULL);
	CHECK_EQ_U(m.n, MEMMAP_MAX);
	CHECK_EQ_U(m.n_lost, N(in) - MEMMAP_MAX);
	CHECK(memmap_check(&m, why, sizeof why) == 0);
	CHECK_EQ_U(m.r[0].base, 0x10000);
	CHECK_EQ_U(m.r[MEMMAP_MAX - 1].base, MEMMAP_MAX * 0x10000ull);

	/* A full map refuses a reservation that would add a range, and stays as it was... */
	struct memmap before = m;
	CHECK(memmap_reserve(&m, 0x8000, 0x1000, MEMMAP_KERNEL) == MEMMAP_E_FULL);
	CHECK(memcmp(&m, &before, sizeof m) == 0);
	/* ...but takes one that adds none (over a usable page), or removes some. */
	CHECK_EQ_U(memmap_reserve(&m, 0x10000, 0x1000, MEMMAP_KERNEL), 0);
	CHECK_EQ_U(m.n, MEMMAP_MAX);
	CHECK_EQ_U(memmap_reserve(&m, 0x10000, 0x100000, MEMMAP_KERNEL), 0);
	CHECK(memmap_check(&m, why, sizeof why) == 0);
	CHECK(m.n < MEMMAP_MAX);
	CHECK_EQ_U(memmap_reserve(&m, 0x8000, 0x1000, MEMMAP_KERNEL), 0);
}

HTEST(find_free)
{
	static const struct memmap_range in[] = {
		{ 0x0, 0x9f000, U }, { 0x100000, 0x300000, U }, { 0x1000000, 0x4000000, U },
	};
	CHECK_EQ_U(NORM(in, PHYS52), 0);
	/* Never 0, even where 0 is usable. */
	CHECK_EQ_U(memmap_find_free(&m, 0x1000, 0, UINT64_MAX), 0x1000);
	CHECK_EQ_U(memmap_find_free(&m, 0x9f000, 0, UINT64_MAX), 0x100000);
	CHECK_EQ_U(memmap_find_free(&m, 0x100000, 0x200000, UINT64_MAX), 0x200000);
	CHECK_EQ_U(memmap_find_free(&m, 0x300000, 0, UINT64_MAX), 0x100000);
	CHECK_EQ_U(memmap_find_free(&m, 0x300001, 0, UINT64_MAX), 0x1000000);
	CHECK_EQ_U(memmap_find_free(&m, 0x300001, 0, 0x1300000), 0);
	CHECK_EQ_U(memmap_find_free(&m, 0x300001, 0, 0x1300001), 0x1000000);
	CHECK_EQ_U(memmap_find_free(&m, 0x4000001, 0, UINT64_MAX), 0);
	CHECK_EQ_U(memmap_find_free(&m, 0, 0, UINT64_MAX), 0);
	CHECK_EQ_U(memmap_find_free(&m, 0x1000, 0x3000, UINT64_MAX), 0);
	CHECK_EQ_U(memmap_reserve(&m, 0, 0x100000, MEMMAP_LOW1M), 0);
	CHECK_EQ_U(memmap_find_free(&m, 0x1000, 0, UINT64_MAX), 0x100000);
}

HTEST(type_names)
{
	static const char *const names[] = {
		"unknown", "usable", "reserved", "ACPI data", "ACPI NVS", "bad", "low 1M", "kernel",
		"boot data", "pmm meta", "unknown",
	};
	for (unsigned t = 0; t < N(names); t++)
		CHECK(strcmp(memmap_type_name(t), names[t]) == 0);
}

HTEST(check_catches_broken_maps)
{
	char why[200];

	CHECK_EQ_U(NORM(clean, PHYS52), 0);
	m.r[1].base -= 0x1000;
	CHECK(memmap_check(&m, why, sizeof why) == -1);
	CHECK(strstr(why, "overlaps") != NULL);
	CHECK_EQ_U(NORM(clean, PHYS52), 0);
	m.r[0].len -= 0x800;
	CHECK(memmap_check(&m, why, sizeof why) == -1);
	CHECK_EQ_U(NORM(clean, PHYS52), 0);
	m.r[2].type = R;
	m.r[2].base = 0xa0000;
	m.r[2].len = 0x60000;
	m.r[3].type = R;
	CHECK(memmap_check(&m, NULL, 0) == -1);
}

/* ---- randomized ---- */

static struct rand rng;

static uint64_t rnd_below(uint64_t n) { return rand_below(&rng, n); }

static uint64_t test_seed(void)
{
	const char *env = getenv("HTEST_SEED");
	uint64_t seed = env ? strtoull(env, NULL, 0) : (uint64_t)time(NULL);

	printf("# seed %" PRIu64 " (HTEST_SEED=%" PRIu64 " to rerun)\n", seed, seed);
	return seed;
}

/* Rank as documented in memmap.h, unknown types as reserved; 0 = hole. */
static unsigned model_rank(uint32_t t)
{
	static const uint32_t by_rank[] = {
		0, MEMMAP_USABLE, MEMMAP_BOOTDATA, MEMMAP_PMM, MEMMAP_KERNEL, MEMMAP_LOW1M,
		MEMMAP_RESERVED, MEMMAP_ACPI_RECLAIM, MEMMAP_ACPI_NVS, MEMMAP_BAD,
	};
	for (unsigned r = 1; r < N(by_rank); r++)
		if (by_rank[r] == t)
			return r;
	return 6;
}
static const uint32_t model_type[] = { 0, U, MEMMAP_BOOTDATA, MEMMAP_PMM, MEMMAP_KERNEL,
				       MEMMAP_LOW1M, R, AR, AN, MEMMAP_BAD };

/* The world the model sees: granules of 1 KiB (a quarter page) up to UNIVERSE. */
#define GRAN 0x400ull
#define UNIVERSE (256 * GRAN)

/* The type of the map at address a: 0 for a hole. */
static uint32_t map_type_at(const struct memmap *mm, uint64_t a)
{
	for (unsigned i = 0; i < mm->n; i++)
		if (mm->r[i].base <= a && a - mm->r[i].base < mm->r[i].len)
			return mm->r[i].type;
	return 0;
}

HTEST(random_maps_match_model)
{
	rng.s = test_seed();
	for (unsigned iter = 0; iter < 20000; iter++) {
		struct memmap_range in[24];
		unsigned n = 1 + (unsigned)rnd_below(N(in));
		uint64_t max_phys = rnd_below(4) ? UNIVERSE : GRAN * (1 + rnd_below(256));
		unsigned rank[UNIVERSE / GRAN] = { 0 };
		unsigned want_empty = 0, want_above = 0, want_clamped = 0, want_unknown = 0;
		char why[200];

		for (unsigned i = 0; i < n; i++) {
			static const uint32_t types[] = { U, U, U, U, R, AR, AN, MEMMAP_BAD, MEMMAP_LOW1M,
							  MEMMAP_KERNEL, MEMMAP_BOOTDATA, MEMMAP_PMM, 0, 17 };
			struct memmap_range *r = &in[i];

			r->base = GRAN * rnd_below(256);
			r->len = GRAN * rnd_below(rnd_below(2) ? 8 : 64);
			r->type = types[rnd_below(N(types))];
			switch (rnd_below(20)) {
			case 0: r->len = UINT64_MAX - rnd_below(3) * GRAN; break; /* wraps */
			case 1: r->base = UINT64_MAX - GRAN * rnd_below(4); break; /* above */
			case 2: r->base = max_phys + GRAN * rnd_below(4); break;
			}
			if (r->len == 0) {
				want_empty++;
				continue;
			}
			if (r->base >= max_phys) {
				want_above++;
				continue;
			}
			uint64_t end = r->base + r->len;
			if (r->len > max_phys - r->base) {
				want_clamped++;
				end = max_phys;
			}
			if (model_rank(r->type) == 6 && r->type != R)
				want_unknown++;
			for (uint64_t a = r->base; a < end; a += GRAN)
				if (model_rank(r->type) > rank[a / GRAN])
					rank[a / GRAN] = model_rank(r->type);
		}

		int rc = memmap_normalize(&m, in, n, max_phys);
		REQUIRE(rc == 0);
		if (memmap_check(&m, why, sizeof why) != 0) {
			htest_fail(__FILE__, __LINE__, why);
			break;
		}
		CHECK_EQ_U(m.n_empty, want_empty);
		CHECK_EQ_U(m.n_above, want_above);
		CHECK_EQ_U(m.n_clamped, want_clamped);
		CHECK_EQ_U(m.n_unknown, want_unknown);
		for (unsigned i = 0; i < m.n; i++)
			CHECK(m.r[i].base + m.r[i].len <= max_phys);
		for (uint64_t g = 0; g < UNIVERSE / GRAN; g++) {
			/* Usable survives only where its whole page was usable and nothing stronger. */
			uint32_t want = model_type[rank[g]];
			if (want == U) {
				uint64_t p = g & ~3ull;
				for (uint64_t k = p; k < p + 4; k++)
					if (rank[k] != 1)
						want = 0;
			}
			uint32_t got = map_type_at(&m, g * GRAN), got_end = map_type_at(&m, g * GRAN + GRAN - 1);
			if (got != want || got_end != want) {
				char msg[200];
				snprintf(msg, sizeof msg, "iter %u: at %#" PRIx64 " type %s, model says %s", iter,
					 (uint64_t)(g * GRAN), memmap_type_name(got), memmap_type_name(want));
				htest_fail(__FILE__, __LINE__, msg);
				return;
			}
		}
	}
}

static unsigned n_reserve_full, n_reserve_ok;

/* memmap_reserve must give what normalizing the map plus the rounded reservation gives. */
static void reserve_matches_reference(unsigned iter, uint64_t base, uint64_t len, uint32_t type)
{
	static struct memmap_range in[MEMMAP_MAX + 1];
	static struct memmap want;
	struct memmap before = m;
	uint64_t b = base & ~0xfffull, e = (base + len + 0xfff) & ~0xfffull;
	char msg[200];

	/* len 0 reserves nothing at all, not the page around base. */
	memcpy(in, m.r, m.n * sizeof m.r[0]);
	in[m.n] = (struct memmap_range){ b, len ? e - b : 0, type };
	int want_rc = memmap_normalize(&want, in, m.n + 1, UINT64_MAX);
	int rc = memmap_reserve(&m, base, len, type);

	if (want_rc != 0) {
		n_reserve_full++;
		if (rc != MEMMAP_E_FULL || memcmp(&m, &before, sizeof m) != 0) {
			snprintf(msg, sizeof msg, "iter %u: full map: rc %d or map changed", iter, rc);
			htest_fail(__FILE__, __LINE__, msg);
		}
		return;
	}
	n_reserve_ok++;
	bool same = rc == 0 && m.n == want.n;
	for (unsigned i = 0; same && i < m.n; i++)
		same = m.r[i].base == want.r[i].base && m.r[i].len == want.r[i].len &&
		       m.r[i].type == want.r[i].type;
	if (!same) {
		snprintf(msg, sizeof msg, "iter %u: reserve [%#" PRIx64 " +%#" PRIx64 " %s] rc %d: %u ranges, want %u",
			 iter, base, len, memmap_type_name(type), rc, m.n, want.n);
		htest_fail(__FILE__, __LINE__, msg);
		m = want;
	}
}

HTEST(random_reserve_matches_reference)
{
	static const uint32_t rtypes[] = { R, AR, AN, MEMMAP_BAD, MEMMAP_LOW1M, MEMMAP_KERNEL,
					   MEMMAP_BOOTDATA, MEMMAP_PMM };

	rng.s = test_seed();
	for (unsigned iter = 0; iter < 3000; iter++) {
		/* Sparse maps and ones near MEMMAP_MAX, with touching ranges of mixed types. */
		static struct memmap_range in[MEMMAP_MAX + 16];
		bool dense = rnd_below(2);
		unsigned n = dense ? MEMMAP_MAX - 8 + (unsigned)rnd_below(24) : 1 + (unsigned)rnd_below(16);
		uint64_t a = 0;

		for (unsigned i = 0; i < n; i++) {
			a += 0x1000 * rnd_below(3);
			in[i] = (struct memmap_range){ a, 0x1000 * (1 + rnd_below(dense ? 2 : 8)),
						       rnd_below(2) ? U : rtypes[rnd_below(N(rtypes))] };
			a += in[i].len;
		}
		memmap_normalize(&m, in, n, PHYS52);
		for (unsigned k = 0; k < 8; k++) {
			uint64_t base = rnd_below(a + 0x4000), len = rnd_below(4) ? rnd_below(0x8000) :
									     rnd_below(a + 0x1000);
			reserve_matches_reference(iter, base, len, rtypes[rnd_below(N(rtypes))]);
		}
	}
	printf("# %u reservations done, %u refused as full\n", n_reserve_ok, n_reserve_full);
	CHECK(n_reserve_full > 0);
}

int main(void)
{
	HRUN(clean_e820_passes_through);
	HRUN(real_qemu_low_range_trimmed);
	HRUN(unsorted_input);
	HRUN(overlap_reserved_wins_both_orders);
	HRUN(usable_inside_reserved_and_reserved_inside_usable);
	HRUN(identical_duplicates);
	HRUN(zero_length_entries_dropped);
	HRUN(wrapping_entry_clamped);
	HRUN(entry_above_max_phys_dropped);
	HRUN(qemu_1tib_reserved_does_not_size_anything);
	HRUN(adjacent_same_type_merged_different_not);
	HRUN(unaligned_usable_trimmed_inward);
	HRUN(acpi_reclaim_kept_apart_from_nvs);
	HRUN(unknown_type_kept_as_reserved);
	HRUN(precedence_among_all_types);
	HRUN(reserve_kernel_image_splits_usable_in_three);
	HRUN(reserve_low1m_and_edges);
	HRUN(reserve_bad_arguments);
	HRUN(overflow_returns_error_and_stays_valid);
	HRUN(find_free);
	HRUN(type_names);
	HRUN(check_catches_broken_maps);
	HRUN(random_maps_match_model);
	HRUN(random_reserve_matches_reference);
	return htest_done();
}
