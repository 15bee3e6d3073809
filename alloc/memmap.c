/*
 * alloc/memmap.c - normalizing the firmware's memory map and laying the
 * kernel's reservations over it (see memmap.h for what "normalized" means).
 *
 * memmap_normalize() is a boundary sweep: the type of every stretch between
 * two consecutive entry boundaries is the strongest type covering it. It
 * needs no scratch memory (the kernel calls it before any allocator exists)
 * at the price of O(n^2) time, which for the few dozen entries firmware
 * reports is nothing.
 */
#include "memmap.h"

#define PAGE_MASK (MEMMAP_PAGE_SIZE - 1)

/* Precedence on overlap (see memmap.h); 0 means "not a type we know". */
static unsigned type_rank(uint32_t type)
{
	switch (type) {
	case MEMMAP_USABLE:       return 1;
	case MEMMAP_BOOTDATA:     return 2;
	case MEMMAP_PMM:          return 3;
	case MEMMAP_KERNEL:       return 4;
	case MEMMAP_LOW1M:        return 5;
	case MEMMAP_RESERVED:     return 6;
	case MEMMAP_ACPI_RECLAIM: return 7;
	case MEMMAP_ACPI_NVS:     return 8;
	case MEMMAP_BAD:          return 9;
	default:                  return 0;
	}
}

static const uint32_t rank_type[] = {
	0, MEMMAP_USABLE, MEMMAP_BOOTDATA, MEMMAP_PMM, MEMMAP_KERNEL, MEMMAP_LOW1M,
	MEMMAP_RESERVED, MEMMAP_ACPI_RECLAIM, MEMMAP_ACPI_NVS, MEMMAP_BAD,
};

const char *memmap_type_name(uint32_t type)
{
	switch (type) {
	case MEMMAP_USABLE:       return "usable";
	case MEMMAP_RESERVED:     return "reserved";
	case MEMMAP_ACPI_RECLAIM: return "ACPI data";
	case MEMMAP_ACPI_NVS:     return "ACPI NVS";
	case MEMMAP_BAD:          return "bad";
	case MEMMAP_LOW1M:        return "low 1M";
	case MEMMAP_KERNEL:       return "kernel";
	case MEMMAP_BOOTDATA:     return "boot data";
	case MEMMAP_PMM:          return "pmm meta";
	default:                  return "unknown";
	}
}

static uint64_t range_end(const struct memmap_range *r)
{
	return r->base + r->len;
}

/* What the sweep reads: an array, plus at most one extra range (memmap_reserve's). */
struct sweep_src {
	const struct memmap_range *in;
	unsigned n;
	bool has_extra;
	struct memmap_range extra;
	uint64_t max_phys;
};

/*
 * Entry i clipped to [0, max_phys), with its rank (unknown types rank as
 * reserved). False if nothing of it is left. The clip also catches entries
 * whose end wraps past 2^64, since then len > max_phys - base too.
 */
static bool src_get(const struct sweep_src *s, unsigned i, uint64_t *b, uint64_t *e,
		    unsigned *rank)
{
	const struct memmap_range *r = i < s->n ? &s->in[i] : &s->extra;

	if (r->len == 0 || r->base >= s->max_phys)
		return false;
	*b = r->base;
	*e = r->len > s->max_phys - r->base ? s->max_phys : r->base + r->len;
	*rank = type_rank(r->type);
	if (*rank == 0)
		*rank = type_rank(MEMMAP_RESERVED);
	return true;
}

/*
 * Collects the sweep's pieces into ranges: merges touching pieces of one type
 * and trims usable ranges to whole pages only once merged, so two usable
 * entries that meet mid-page lose nothing. With out NULL it only counts.
 */
struct emitter {
	struct memmap *out;
	unsigned count;
	bool pending;
	struct memmap_range pend;
};

static void emit_flush(struct emitter *em)
{
	struct memmap_range r = em->pend;

	if (!em->pending)
		return;
	em->pending = false;
	if (r.type == MEMMAP_USABLE) {
		uint64_t end = range_end(&r) & ~PAGE_MASK;

		if ((r.base & PAGE_MASK) && r.base > UINT64_MAX - PAGE_MASK)
			return;
		r.base = (r.base + PAGE_MASK) & ~PAGE_MASK;
		if (r.base >= end)
			return;
		r.len = end - r.base;
	}
	em->count++;
	if (!em->out)
		return;
	if (em->out->n < MEMMAP_MAX)
		em->out->r[em->out->n++] = r;
	else
		em->out->n_lost++;
}

static void emit(struct emitter *em, uint64_t b, uint64_t e, uint32_t type)
{
	if (em->pending && em->pend.type == type && range_end(&em->pend) == b) {
		em->pend.len += e - b;
		return;
	}
	emit_flush(em);
	em->pending = true;
	em->pend = (struct memmap_range){ .base = b, .len = e - b, .type = type };
}

/* Sweeps *s into out (or just counts, out NULL); returns how many ranges the result has. */
static unsigned sweep(const struct sweep_src *s, struct memmap *out)
{
	unsigned total = s->n + (s->has_extra ? 1 : 0);
	struct emitter em = { .out = out };
	uint64_t pos = 0;

	for (;;) {
		unsigned best = 0;
		uint64_t next = 0;
		bool have_next = false;

		for (unsigned i = 0; i < total; i++) {
			uint64_t b, e;
			unsigned rank;

			if (!src_get(s, i, &b, &e, &rank))
				continue;
			if (b <= pos && pos < e && rank > best)
				best = rank;
			if (b > pos && (!have_next || b < next))
				next = b, have_next = true;
			if (e > pos && (!have_next || e < next))
				next = e, have_next = true;
		}
		if (!have_next)
			break;
		if (best)
			emit(&em, pos, next, rank_type[best]);
		pos = next;
	}
	emit_flush(&em);
	return em.count;
}

int memmap_normalize(struct memmap *out, const struct memmap_range *in, unsigned n_in,
		     uint64_t max_phys)
{
	struct sweep_src src = { .in = in, .n = n_in, .max_phys = max_phys };

	ALLOC_ASSERT(max_phys != 0 && "memmap_normalize: max_phys is 0");
	ALLOC_ASSERT((in != NULL || n_in == 0) && "memmap_normalize: no input");
	memset(out, 0, sizeof *out);
	for (unsigned i = 0; i < n_in; i++) {
		if (in[i].len == 0)
			out->n_empty++;
		else if (in[i].base >= max_phys)
			out->n_above++;
		else {
			if (in[i].len > max_phys - in[i].base)
				out->n_clamped++;
			if (type_rank(in[i].type) == 0)
				out->n_unknown++;
		}
	}
	sweep(&src, out);
	return out->n_lost ? MEMMAP_E_FULL : 0;
}

static void insert_at(struct memmap *m, unsigned i, struct memmap_range r)
{
	ALLOC_ASSERT(m->n < MEMMAP_MAX && "memmap_reserve: room was counted beforehand");
	memmove(&m->r[i + 1], &m->r[i], (m->n - i) * sizeof m->r[0]);
	m->r[i] = r;
	m->n++;
}

static void remove_at(struct memmap *m, unsigned i)
{
	memmove(&m->r[i], &m->r[i + 1], (m->n - i - 1) * sizeof m->r[0]);
	m->n--;
}

/*
 * Walks the gaps of [b, e) (stretches no range covers) and fills them with
 * `type`. With grow false it fills only gaps that touch a range of that type,
 * by stretching the range (which may merge two: the map only shrinks); with
 * grow true it gives every remaining gap a range of its own (the map only
 * grows). Which gaps are which does not depend on the order of filling,
 * since gaps are separated by ranges whose types do not change.
 */
static void fill_gaps(struct memmap *m, uint64_t b, uint64_t e, uint32_t type, bool grow)
{
	struct memmap_range *r = m->r;
	uint64_t p = b;
	unsigned i = 0;

	while (i < m->n && range_end(&r[i]) <= b)
		i++;
	while (p < e) {
		uint64_t g0 = p, g1;
		bool left, right;

		if (i < m->n && r[i].base <= p) {
			p = range_end(&r[i++]);
			continue;
		}
		g1 = i < m->n && r[i].base < e ? r[i].base : e;
		left = i > 0 && range_end(&r[i - 1]) == g0 && r[i - 1].type == type;
		right = i < m->n && r[i].base == g1 && r[i].type == type;
		if (grow) {
			ALLOC_ASSERT(!left && !right && "memmap_reserve: touching gap left unfilled");
			insert_at(m, i++, (struct memmap_range){ .base = g0, .len = g1 - g0, .type = type });
			p = g1;
		} else if (left && right) {
			r[i - 1].len = range_end(&r[i]) - r[i - 1].base;
			remove_at(m, i);
			p = range_end(&r[i - 1]);
		} else if (left) {
			r[i - 1].len += g1 - g0;
			p = g1;
		} else if (right) {
			r[i].len += r[i].base - g0;
			r[i].base = g0;
		} else {
			p = g1;
		}
	}
}

/*
 * Works in place so it needs no scratch map (3 KiB is a lot on a boot
 * stack). The order of the steps matters: first everything that shrinks the
 * map, then everything that grows it, so no intermediate map is larger than
 * the final one, whose size the count-only sweep has already checked.
 */
int memmap_reserve(struct memmap *m, uint64_t base, uint64_t len, uint32_t type)
{
	struct sweep_src src = { .in = m->r, .n = m->n, .has_extra = true, .max_phys = UINT64_MAX };
	unsigned rt = type_rank(type);
	uint64_t b, e, last;

	if (rt == 0 || type == MEMMAP_USABLE)
		return MEMMAP_E_INVAL;
	if (len == 0)
		return 0;
	if (len - 1 > UINT64_MAX - base)
		return MEMMAP_E_INVAL;
	last = base + len - 1;
	if (last > UINT64_MAX - PAGE_MASK - 1)
		return MEMMAP_E_INVAL; /* rounding up would reach 2^64 */
	b = base & ~PAGE_MASK;
	e = (last | PAGE_MASK) + 1;
	ALLOC_ASSERT(memmap_check(m, NULL, 0) == 0 && "memmap_reserve: map is not normalized");

	src.extra = (struct memmap_range){ .base = b, .len = e - b, .type = type };
	if (sweep(&src, NULL) > MEMMAP_MAX)
		return MEMMAP_E_FULL;

	/* Cut the weaker ranges out of [b, e): only shrinks, except when one range holds all of it. */
	for (unsigned i = 0; i < m->n;) {
		struct memmap_range *r = &m->r[i];
		uint64_t rb = r->base, re = range_end(r);

		if (re <= b || type_rank(r->type) >= rt) {
			i++;
			continue;
		}
		if (rb >= e)
			break;
		if (rb < b && re > e) {
			struct memmap_range above = { .base = e, .len = re - e, .type = r->type };

			r->len = b - rb;
			insert_at(m, i + 1, above);
			i += 2;
		} else if (rb < b) {
			r->len = b - rb;
			i++;
		} else if (re > e) {
			r->base = e;
			r->len = re - e;
			i++;
		} else {
			remove_at(m, i);
		}
	}
	fill_gaps(m, b, e, type, false);
	fill_gaps(m, b, e, type, true);
	return 0;
}

uint64_t memmap_total(const struct memmap *m, uint32_t type)
{
	uint64_t sum = 0;

	for (unsigned i = 0; i < m->n; i++)
		if (m->r[i].type == type)
			sum += m->r[i].len;
	return sum;
}

uint64_t memmap_usable_end(const struct memmap *m)
{
	for (unsigned i = m->n; i-- > 0;)
		if (m->r[i].type == MEMMAP_USABLE)
			return range_end(&m->r[i]);
	return 0;
}

uint64_t memmap_find_free(const struct memmap *m, uint64_t size, uint64_t align, uint64_t below)
{
	if (align == 0)
		align = MEMMAP_PAGE_SIZE;
	if (size == 0 || (align & (align - 1)))
		return 0;
	for (unsigned i = 0; i < m->n; i++) {
		const struct memmap_range *r = &m->r[i];
		uint64_t lo = r->base ? r->base : 1, a, lim;

		if (r->type != MEMMAP_USABLE)
			continue;
		if (lo > UINT64_MAX - (align - 1))
			break;
		a = (lo + align - 1) & ~(align - 1);
		lim = range_end(r) < below ? range_end(r) : below;
		if (a < lim && size <= lim - a)
			return a;
	}
	return 0;
}

int memmap_check(const struct memmap *m, char *why, size_t why_len)
{
	char dummy[1];

	if (!why) {
		why = dummy;
		why_len = sizeof dummy;
	}
	if (m->n > MEMMAP_MAX) {
		snprintf(why, why_len, "memmap: %u ranges, more than %u", m->n, MEMMAP_MAX);
		return -1;
	}
	for (unsigned i = 0; i < m->n; i++) {
		const struct memmap_range *r = &m->r[i];

		if (type_rank(r->type) == 0) {
			snprintf(why, why_len, "memmap: range %u has unknown type %u", i, r->type);
			return -1;
		}
		if (r->len == 0 || r->len > UINT64_MAX - r->base) {
			snprintf(why, why_len, "memmap: range %u at 0x%llx has bad length 0x%llx", i,
				 (unsigned long long)r->base, (unsigned long long)r->len);
			return -1;
		}
		if (r->type == MEMMAP_USABLE && ((r->base | r->len) & PAGE_MASK)) {
			snprintf(why, why_len, "memmap: usable range %u at 0x%llx is not page aligned", i,
				 (unsigned long long)r->base);
			return -1;
		}
		if (i == 0)
			continue;
		if (r->base < range_end(&r[-1])) {
			snprintf(why, why_len, "memmap: range %u at 0x%llx overlaps or precedes the one before", i,
				 (unsigned long long)r->base);
			return -1;
		}
		if (r->base == range_end(&r[-1]) && r->type == r[-1].type) {
			snprintf(why, why_len, "memmap: ranges %u and %u touch with one type (%s)", i - 1, i,
				 memmap_type_name(r->type));
			return -1;
		}
	}
	return 0;
}
