/*
 * tests/fuzz/fuzz_memmap.c - libFuzzer harness for the memory map normalizer (alloc/memmap.c).
 *
 * The input is a firmware map (entries of every type, known or not, on a
 * grid so they overlap and touch, plus empty, wrapping and out-of-range ones,
 * sometimes more than MEMMAP_MAX of them), a physical address limit, then a
 * few memmap_reserve and memmap_find_free calls on the result.
 *
 * Checked against a reference model written independently of memmap.c
 * (sort every boundary, give each stretch between two the strongest type
 * covering it, merge touching stretches of one type, trim usable ranges
 * inward to whole pages):
 *   - memmap_normalize returns exactly the model's ranges (the lowest
 *     MEMMAP_MAX and MEMMAP_E_FULL with n_lost when there are more), the
 *     counters (empty, above, clamped, unknown) are right, memmap_check
 *     passes, nothing reaches max_phys, totals and usable_end agree;
 *   - memmap_reserve gives what the model gives for the map plus the
 *     reservation rounded out to pages, refuses bad types and wrapping
 *     ranges with MEMMAP_E_INVAL, a too-full result with MEMMAP_E_FULL, and
 *     leaves the map untouched whenever it refuses;
 *   - memmap_find_free returns the lowest aligned fit below the limit.
 *
 * FUZZ_VERBOSE=1 in the environment prints the maps.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_input.h"

#include "../../alloc/memmap.h"

#define PAGE     MEMMAP_PAGE_SIZE
#define MAX_IN   (2 * MEMMAP_MAX + 16)
#define MODEL_MAX (4 * MAX_IN + 8)

typedef unsigned long long ull;
typedef unsigned __int128 u128;

static int verbose;

static void fail(int line, const char *fmt, ...) __attribute__((noreturn, format(printf, 2, 3)));
static void fail(int line, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "\nfuzz_memmap: MISMATCH (fuzz_memmap.c:%d): ", line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n(run the input again with FUZZ_VERBOSE=1 to see the maps)\n");
	fflush(stderr);
	abort();
}
#define FAIL(...) fail(__LINE__, __VA_ARGS__)
#define ENSURE(cond, ...) do { if (!(cond)) FAIL(__VA_ARGS__); } while (0)



/* ----- the reference model ----- */

/* Precedence from memmap.h: BAD > ACPI_NVS > ACPI_RECLAIM > RESERVED > LOW1M > KERNEL > PMM > BOOTDATA > USABLE. */
static const uint32_t by_rank[] = {
	0, MEMMAP_USABLE, MEMMAP_BOOTDATA, MEMMAP_PMM, MEMMAP_KERNEL, MEMMAP_LOW1M,
	MEMMAP_RESERVED, MEMMAP_ACPI_RECLAIM, MEMMAP_ACPI_NVS, MEMMAP_BAD,
};

static bool known(uint32_t t)
{
	return t >= MEMMAP_USABLE && t <= MEMMAP_PMM;
}

static unsigned rank_of(uint32_t t)
{
	for (unsigned r = 1; r < sizeof by_rank / sizeof by_rank[0]; r++)
		if (by_rank[r] == t)
			return r;
	return 6; /* unknown: kept as reserved */
}

static int cmp_u128(const void *a, const void *b)
{
	u128 x = *(const u128 *)a, y = *(const u128 *)b;
	return x < y ? -1 : x > y;
}

/*
 * The normalized map of in[0..n) clipped to [0, max_phys), all of it (no
 * MEMMAP_MAX limit): into out, returns the count. Ends are kept in 128 bits
 * so nothing here can wrap.
 */
static unsigned model(const struct memmap_range *in, unsigned n, uint64_t max_phys, struct memmap_range *out)
{
	static u128 pts[2 * MAX_IN + 4];
	static struct { u128 b, e; uint32_t type; } piece[2 * MAX_IN + 4];
	unsigned np = 0, npieces = 0, nout = 0;

	for (unsigned i = 0; i < n; i++) {
		if (!in[i].len || in[i].base >= max_phys)
			continue;
		u128 e = (u128)in[i].base + in[i].len;
		if (e > max_phys)
			e = max_phys;
		pts[np++] = in[i].base;
		pts[np++] = e;
	}
	qsort(pts, np, sizeof pts[0], cmp_u128);
	for (unsigned k = 0; k + 1 < np; k++) {
		u128 x = pts[k], y = pts[k + 1];
		unsigned best = 0;
		if (x == y)
			continue;
		for (unsigned i = 0; i < n; i++) {
			if (!in[i].len || in[i].base >= max_phys)
				continue;
			u128 e = (u128)in[i].base + in[i].len;
			if (e > max_phys)
				e = max_phys;
			if (in[i].base <= x && y <= e && rank_of(in[i].type) > best)
				best = rank_of(in[i].type);
		}
		if (!best)
			continue;
		if (npieces && piece[npieces - 1].e == x && piece[npieces - 1].type == by_rank[best])
			piece[npieces - 1].e = y;
		else
			piece[npieces].b = x, piece[npieces].e = y, piece[npieces++].type = by_rank[best];
	}
	for (unsigned k = 0; k < npieces; k++) {
		u128 b = piece[k].b, e = piece[k].e;
		if (piece[k].type == MEMMAP_USABLE) {
			b = (b + PAGE - 1) / PAGE * PAGE;
			e = e / PAGE * PAGE;
			if (b >= e)
				continue;
		}
		ENSURE(nout < MODEL_MAX, "model overflow");
		out[nout++] = (struct memmap_range){ (uint64_t)b, (uint64_t)(e - b), piece[k].type };
	}
	return nout;
}

static void print_map(const char *title, const struct memmap_range *r, unsigned n)
{
	if (!verbose)
		return;
	fprintf(stderr, "%s (%u):\n", title, n);
	for (unsigned i = 0; i < n; i++)
		fprintf(stderr, "  [%#18llx +%#18llx) %s (%u)\n", (ull)r[i].base, (ull)r[i].len,
			memmap_type_name(r[i].type), r[i].type);
}

static void same_ranges(const struct memmap_range *got, const struct memmap_range *want, unsigned n,
			const char *what)
{
	for (unsigned i = 0; i < n; i++)
		ENSURE(got[i].base == want[i].base && got[i].len == want[i].len && got[i].type == want[i].type,
		       "%s: range %u is [%#llx +%#llx) %s, the model says [%#llx +%#llx) %s", what, i,
		       (ull)got[i].base, (ull)got[i].len, memmap_type_name(got[i].type), (ull)want[i].base,
		       (ull)want[i].len, memmap_type_name(want[i].type));
}

/* ----- generators ----- */

static uint32_t gen_type(struct in *in)
{
	static const uint32_t types[] = {
		MEMMAP_USABLE, MEMMAP_USABLE, MEMMAP_USABLE, MEMMAP_USABLE, MEMMAP_RESERVED, MEMMAP_ACPI_RECLAIM,
		MEMMAP_ACPI_NVS, MEMMAP_BAD, MEMMAP_LOW1M, MEMMAP_KERNEL, MEMMAP_BOOTDATA, MEMMAP_PMM,
		0, 10, 17, 0xffffffffu,
	};
	return types[u8(in) % 16];
}

/* ----- one input ----- */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	verbose = getenv("FUZZ_VERBOSE") != NULL;
	for (uint32_t t = 0; t < 20; t++)
		ENSURE(memmap_type_name(t) != NULL, "memmap_type_name(%u) is NULL", t);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint64_t grans[] = { PAGE, 0x400, 0x100000, 1, 0x10000000, PAGE, 0x200, 0x40000000 };
	static struct memmap_range in[MAX_IN + 1], want[MODEL_MAX];
	static struct memmap m, before;
	struct in inp = { data, size };
	char why[200];

	uint8_t c0 = u8(&inp), c1 = u8(&inp);
	uint64_t max_phys;
	switch (c0 % 8) {
	case 0: max_phys = 1ull << 52; break;
	case 1: max_phys = 1ull << 36; break;
	case 2: max_phys = 1ull << 32; break;
	case 3: max_phys = UINT64_MAX; break;
	case 4: max_phys = (1ull << 20) + (uint64_t)u16(&inp) * 0x400; break;
	case 5: max_phys = 1 + u16(&inp); break;
	case 6: max_phys = UINT64_MAX - u16(&inp); break;
	default: max_phys = u64(&inp) | 1; break;
	}
	uint64_t gran = grans[(c0 >> 3) % 8];
	/* The grid sits low, near max_phys, or near the top of the address space. */
	uint64_t origin;
	switch (c1 % 4) {
	case 0: origin = 0; break;
	case 1: origin = max_phys > 64 * gran ? max_phys - 48 * gran : 0; break;
	case 2: origin = UINT64_MAX - 64 * gran; break;
	default: origin = u64(&inp); break;
	}
	unsigned n = (c1 >> 2) % 4 == 3 ? MEMMAP_MAX - 8 + u8(&inp) % (MAX_IN - MEMMAP_MAX + 8) : u8(&inp) % 40;
	if (n > MAX_IN)
		n = MAX_IN;

	/*
	 * Dense maps: ranges one after another with small gaps, near
	 * MEMMAP_MAX of them, so results and reservations run out of room.
	 */
	bool dense = (c1 >> 2) % 4 == 2;
	uint64_t seed = 0;
	if (dense) {
		/* From a seed, so a short input still makes a long map. */
		n = MEMMAP_MAX - 16 + u8(&inp) % 40;
		seed = u32(&inp);
	}
	uint64_t at = origin;

	unsigned want_empty = 0, want_above = 0, want_clamped = 0, want_unknown = 0;
	for (unsigned i = 0; i < n; i++) {
		struct memmap_range *r = &in[i];
		if (dense) {
			uint64_t x = mix64(seed + i);
			static const uint32_t dtypes[] = { MEMMAP_USABLE, MEMMAP_USABLE, MEMMAP_RESERVED, MEMMAP_ACPI_NVS,
							   MEMMAP_KERNEL, MEMMAP_BOOTDATA, MEMMAP_PMM, 17 };
			at += (x & 3) == 3 ? gran : 0;
			r->base = at;
			r->len = gran * (1 + ((x >> 2) & 1));
			r->type = dtypes[(x >> 8) % 8];
			at += r->len;
			goto counted;
		}
		uint8_t k = u8(&inp);
		/* A grid of 64 places (256 for long maps) so entries overlap and touch. */
		uint64_t pos = (k & 63) | (n > 64 ? (uint64_t)(u8(&inp) & 3) << 6 : 0);
		uint64_t jitter = (k & 0x40) ? u8(&inp) : 0;
		r->base = origin + pos * gran + jitter;
		r->len = (uint64_t)(u8(&inp) % 24) * gran + ((k & 0x80) ? u16(&inp) : 0);
		r->type = gen_type(&inp);
		switch (u8(&inp) % 24) {
		case 0: r->len = UINT64_MAX - u8(&inp); break;     /* wraps */
		case 1: r->base = max_phys + u8(&inp); break;        /* at or above the limit (or wrapped past it) */
		case 2: r->len = 0; break;
		case 3: r->base = u64(&inp); r->len = u64(&inp); break;
		}
	counted:
		if (r->len == 0)
			want_empty++;
		else if (r->base >= max_phys)
			want_above++;
		else {
			if (r->len > max_phys - r->base)
				want_clamped++;
			if (!known(r->type))
				want_unknown++;
		}
	}
	print_map("input", in, n);

	unsigned total = model(in, n, max_phys, want);
	int rc = memmap_normalize(&m, n ? in : NULL, n, max_phys);
	print_map("normalized", m.r, m.n);
	if (verbose)
		fprintf(stderr, "rc %d, model has %u ranges, max_phys %#llx\n", rc, total, (ull)max_phys);
	ENSURE(memmap_check(&m, why, sizeof why) == 0, "normalize gave a map memmap_check rejects: %s", why);
	ENSURE(m.n_empty == want_empty && m.n_above == want_above && m.n_clamped == want_clamped &&
		       m.n_unknown == want_unknown,
	       "counters: empty %u above %u clamped %u unknown %u; expected %u %u %u %u", m.n_empty, m.n_above,
	       m.n_clamped, m.n_unknown, want_empty, want_above, want_clamped, want_unknown);
	if (total <= MEMMAP_MAX) {
		ENSURE(rc == 0 && m.n == total && m.n_lost == 0, "normalize: rc %d, %u ranges (%u lost); the model has %u",
		       rc, m.n, m.n_lost, total);
	} else {
		ENSURE(rc == MEMMAP_E_FULL && m.n == MEMMAP_MAX && m.n_lost == total - MEMMAP_MAX,
		       "normalize of a map needing %u ranges: rc %d, %u ranges, %u lost", total, rc, m.n, m.n_lost);
	}
	same_ranges(m.r, want, m.n, "normalize");

	u128 sum_usable_in = 0;
	for (unsigned i = 0; i < n; i++)
		if (in[i].len && in[i].base < max_phys && in[i].type == MEMMAP_USABLE)
			sum_usable_in += in[i].len > max_phys - in[i].base ? max_phys - in[i].base : in[i].len;
	u128 all = 0;
	uint64_t usable_end = 0;
	for (unsigned i = 0; i < m.n; i++) {
		ENSURE(m.r[i].base + m.r[i].len <= max_phys, "range %u ends past max_phys", i);
		all += m.r[i].len;
		if (m.r[i].type == MEMMAP_USABLE)
			usable_end = m.r[i].base + m.r[i].len;
	}
	ENSURE(all <= max_phys, "the map holds more bytes than max_phys");
	ENSURE(memmap_total(&m, MEMMAP_USABLE) <= sum_usable_in, "more usable bytes out than in");
	ENSURE(memmap_usable_end(&m) == usable_end, "usable_end %#llx, expected %#llx", (ull)memmap_usable_end(&m),
	       (ull)usable_end);
	u128 by_type = 0;
	for (uint32_t t = 0; t < 20; t++)
		by_type += memmap_total(&m, t);
	ENSURE(by_type == all, "totals by type do not add up");

	/* Reservations on the result (a full one is a valid map too). */
	for (unsigned k = 0; inp.n && k < 8; k++) {
		static struct memmap_range rin[MEMMAP_MAX + 1];
		static const uint32_t rtypes[] = { MEMMAP_RESERVED, MEMMAP_ACPI_RECLAIM, MEMMAP_ACPI_NVS, MEMMAP_BAD,
						   MEMMAP_LOW1M, MEMMAP_KERNEL, MEMMAP_BOOTDATA, MEMMAP_PMM,
						   MEMMAP_USABLE, 0, 10, 0xffffffffu };
		uint8_t c = u8(&inp);
		uint64_t base, len;
		uint32_t type = rtypes[u8(&inp) % 12];
		switch (c % 4) {
		case 0: case 1:
			base = m.n ? m.r[u8(&inp) % m.n].base + (uint64_t)(int16_t)u16(&inp) : u32(&inp);
			len = (c & 4) ? u16(&inp) : (uint64_t)u8(&inp) * gran;
			break;
		case 2:
			base = origin + (u8(&inp) & 63) * gran + u8(&inp);
			len = (uint64_t)u8(&inp) * gran / 4;
			break;
		default:
			if (c & 8) {
				/* The last byte right around where rounding out to a page would reach 2^64. */
				uint64_t last = UINT64_MAX - (u8(&inp) % 3) * PAGE + (uint64_t)(u8(&inp) % 4) - 1;
				base = last - u32(&inp) % (1u << 24);
				len = last - base + 1;
			} else {
				base = u64(&inp);
				len = (c & 4) ? u64(&inp) : UINT64_MAX - base - u16(&inp);
			}
			break;
		}
		int want_rc;
		unsigned wn = 0;
		u128 end = (u128)base + len, e = (end + PAGE - 1) / PAGE * PAGE;
		if (!known(type) || type == MEMMAP_USABLE)
			want_rc = MEMMAP_E_INVAL;
		else if (len == 0)
			want_rc = 0;
		else if (end > ((u128)1 << 64) || e >= ((u128)1 << 64))
			want_rc = MEMMAP_E_INVAL;
		else {
			memcpy(rin, m.r, m.n * sizeof m.r[0]);
			rin[m.n] = (struct memmap_range){ base & ~(PAGE - 1), (uint64_t)(e - (base & ~(PAGE - 1))), type };
			wn = model(rin, m.n + 1, UINT64_MAX, want);
			want_rc = wn > MEMMAP_MAX ? MEMMAP_E_FULL : 0;
		}
		before = m;
		rc = memmap_reserve(&m, base, len, type);
		if (verbose)
			fprintf(stderr, "reserve(%#llx, %#llx, %s) -> %d (want %d)\n", (ull)base, (ull)len,
				memmap_type_name(type), rc, want_rc);
		ENSURE(rc == want_rc, "reserve(%#llx, %#llx, %s (%u)) returned %d, expected %d", (ull)base, (ull)len,
		       memmap_type_name(type), type, rc, want_rc);
		if (rc != 0 || len == 0) {
			ENSURE(memcmp(&m, &before, sizeof m) == 0, "reserve(%#llx, %#llx) returned %d and changed the map",
			       (ull)base, (ull)len, rc);
			continue;
		}
		print_map("after reserve", m.r, m.n);
		ENSURE(memmap_check(&m, why, sizeof why) == 0, "reserve left a map memmap_check rejects: %s", why);
		ENSURE(m.n == wn, "reserve(%#llx, %#llx, %s): %u ranges, the model has %u", (ull)base, (ull)len,
		       memmap_type_name(type), m.n, wn);
		same_ranges(m.r, want, m.n, "reserve");
	}

	/* find_free: the lowest aligned fit in one usable range, below the limit. */
	for (unsigned k = 0; inp.n && k < 8; k++) {
		uint64_t fsize = (u8(&inp) & 1) ? u32(&inp) : (uint64_t)u8(&inp) * PAGE;
		uint64_t align = (u8(&inp) & 3) ? (1ull << (u8(&inp) % 40)) : u8(&inp);
		uint64_t below = (u8(&inp) & 1) ? UINT64_MAX : (m.n ? m.r[u8(&inp) % m.n].base + u32(&inp) : u64(&inp));
		uint64_t got = memmap_find_free(&m, fsize, align, below);
		uint64_t a = align ? align : PAGE, expect = 0;
		if (fsize && !(a & (a - 1))) {
			for (unsigned i = 0; i < m.n && !expect; i++) {
				if (m.r[i].type != MEMMAP_USABLE)
					continue;
				u128 lo = m.r[i].base ? m.r[i].base : 1;
				u128 cand = (lo + a - 1) / a * a;
				u128 lim = (u128)m.r[i].base + m.r[i].len;
				if (lim > below)
					lim = below;
				if (cand + fsize <= lim)
					expect = (uint64_t)cand;
			}
		}
		ENSURE(got == expect, "find_free(size %#llx, align %#llx, below %#llx) = %#llx, expected %#llx",
		       (ull)fsize, (ull)align, (ull)below, (ull)got, (ull)expect);
	}
	return 0;
}
