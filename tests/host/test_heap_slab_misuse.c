/*
 * tests/host/test_heap_slab_misuse.c - host tests of level 0's slabs (heap.h
 * "slabs"; alloc/heap_slab.c) when they are misused or damaged: double,
 * interior and past-the-end frees of objects reported exactly and changing
 * nothing, realloc and usable_size of a freed object, heap_check finding
 * damaged runs, a run's overflowed block header or damaged head refused
 * (frees and mallocs), and writes after free never making the heap hand
 * out a wrong pointer. The rest of the slab tests are test_heap_slab.c.
 *
 * Usage: test_heap_slab_misuse [seed]   (or HEAP_SEED=n)
 */
#include "heap_host_env.c"
#include "slab_test_util.h"

/* ----- misuse of objects: reported, nothing changed ----- */

HTEST(slab_double_free_is_reported)
{
	static const size_t sizes[] = { 1, 16, 20, 32, 40, 48, 50, 64 };
	void *o[12];
	char want[80];

	for (size_t z = 0; z < sizeof sizes / sizeof sizes[0]; z++) {
		setup_slabs();
		size_t cs = class_size(sizes[z]);
		for (int i = 0; i < 12; i++)
			REQUIRE(o[i] = heap_malloc(&H, sizes[z]));
		void *t = o[5];
		heap_free(&H, t);
		snprintf(want, sizeof want, "heap: double free of %s (size %zu)", hex(t), cs);
		EXPECT_REPORT(heap_free(&H, t), HEAP_ERR_DOUBLE_FREE, t, want);
		CHECK((run_of(t)->free_bits[0] >> 5) & 1);   /* still free, nothing changed */

		/* Other objects of the run allocated and freed in between: still exact. */
		heap_free(&H, o[1]);
		for (int i = 0; i < 50; i++) {
			void *x = heap_malloc(&H, sizes[z]);
			REQUIRE(x && x != t);
			CHECK(run_of(x) == run_of(t));
			heap_free(&H, x);
		}
		void *x = heap_malloc(&H, sizes[z]);   /* o[1]'s place, kept */
		REQUIRE(x && x != t);
		o[1] = x;
		heap_free(&H, o[2]);
		heap_free(&H, o[9]);
		/* An object of another class (o[2]'s place must stay free), and a block. */
		void *y = heap_malloc(&H, cs == 16 ? 20 : 10), *w = heap_malloc(&H, 100);
		REQUIRE(y && w);
		EXPECT_REPORT(heap_free(&H, t), HEAP_ERR_DOUBLE_FREE, t, want);
		snprintf(want, sizeof want, "heap: double free of %s (size %zu)", hex(o[9]), cs);
		EXPECT_REPORT(heap_free(&H, o[9]), HEAP_ERR_DOUBLE_FREE, o[9], want);
		EXPECT_REPORT(heap_free(&H, o[2]), HEAP_ERR_DOUBLE_FREE, o[2], "double free");
		CHECK_EQ_U(live_objects(), 10);
		heap_free(&H, y);
		heap_free(&H, w);
		for (int i = 0; i < 12; i++)
			if (i != 2 && i != 5 && i != 9)
				heap_free(&H, o[i]);
		CHECK_EQ_U(E.reports, 4);
		expect_empty();
	}

	/* The last object of its class's only run: the run stays, and a second free is still a double free. */
	setup_slabs();
	void *a = heap_malloc(&H, 40);
	REQUIRE(a);
	heap_free(&H, a);
	CHECK_EQ_U(H.slab_runs, 1);
	int reports = E.reports;
	size_t used = H.used_blocks;
	heap_free(&H, a);
	CHECK_EQ_U(E.reports, reports + 1);
	CHECK_EQ_U(E.last_kind, HEAP_ERR_DOUBLE_FREE);
	CHECK_EQ_U(E.last_addr, (uintptr_t)a);
	snprintf(want, sizeof want, "heap: double free of %s (size 48)", hex(a));
	CHECK(strstr(E.last_line, want) != NULL);
	CHECK_EQ_U(H.slab_runs, 1);
	CHECK_EQ_U(H.used_blocks, used);
	CHECK_EQ_U(live_objects(), 0);
	HEAP_CLEAN();
	/* Once stats gave the run back, the pointer is inside free memory: still refused. */
	CHECK_EQ_U(stats().slab_runs, 0);
	EXPECT_REPORT(heap_free(&H, a), HEAP_ERR_INVALID_FREE, a, "heap: invalid free of ");
	CHECK(strstr(E.last_line, "inside free memory") != NULL);
	expect_empty();
}

HTEST(slab_interior_pointers_are_reported)
{
	char want[96];
	void *o[4], *keep[4];

	setup_slabs();
	for (unsigned k = 0; k < 4; k++) {
		REQUIRE(keep[k] = heap_malloc(&H, (k + 1) * 16));
		REQUIRE(o[k] = heap_malloc(&H, (k + 1) * 16));
		memset(o[k], 0x5a, (k + 1) * 16);
	}
	for (unsigned k = 0; k < 4; k++) {
		size_t size = (k + 1) * 16;
		snprintf(want, sizeof want, "(interior pointer into %s size %zu)", hex(o[k]), size);
		/* Every 16-byte step inside the object, and the misaligned middle of its first word. */
		for (size_t off = 16; off < size; off += 16) {
			char *q = (char *)o[k] + off;
			EXPECT_REPORT(heap_free(&H, q), HEAP_ERR_INVALID_FREE, q, "heap: invalid free of ");
			CHECK(strstr(E.last_line, want) != NULL);
			EXPECT_REPORT(heap_usable_size(&H, q), HEAP_ERR_INVALID_PTR, q, want);
			CHECK(strstr(E.last_line, "heap: usable_size of ") != NULL);
			void *r = (void *)1;
			EXPECT_REPORT(r = heap_realloc(&H, q, 10), HEAP_ERR_INVALID_PTR, q, want);
			CHECK(strstr(E.last_line, "heap: realloc of ") != NULL);
			CHECK(r == NULL);
		}
		char *q8 = (char *)o[k] + 8;
		EXPECT_REPORT(heap_free(&H, q8), HEAP_ERR_INVALID_FREE, q8, want);
		CHECK(strstr(E.last_line, "heap: invalid free of ") != NULL);
		char *q1 = (char *)o[k] + 1;
		EXPECT_REPORT(heap_free(&H, q1), HEAP_ERR_INVALID_FREE, q1, want);
		CHECK_EQ_U(heap_usable_size(&H, o[k]), size);   /* untouched */
	}
	/* Inside an object that is free: said so. */
	heap_free(&H, o[3]);
	char *qf = (char *)o[3] + 16;
	snprintf(want, sizeof want, "inside a free slab object %s size 64", hex(o[3]));
	EXPECT_REPORT(heap_free(&H, qf), HEAP_ERR_INVALID_FREE, qf, want);
	for (unsigned k = 0; k < 3; k++)
		heap_free(&H, o[k]);
	for (unsigned k = 0; k < 4; k++)
		heap_free(&H, keep[k]);
	expect_empty();
}

HTEST(slab_head_and_past_the_last_object_are_reported)
{
	char want[96];

	setup_slabs();
	for (unsigned k = 0; k < 4; k++) {
		size_t size = (k + 1) * 16;
		void *o = heap_malloc(&H, size);
		REQUIRE(o);
		struct heap_slab *s = run_of(o);
		REQUIRE((char *)o == (char *)s + HEAP_SLAB_HDR);
		char *head = (char *)s;
		/* The head: its start and every 16 bytes of it. */
		for (size_t off = 0; off < HEAP_SLAB_HDR; off += 16) {
			EXPECT_REPORT(heap_free(&H, head + off), HEAP_ERR_INVALID_FREE, head + off,
				      "heap: invalid free of ");
			CHECK(strstr(E.last_line, "(not a block the heap returned: inside a slab run's head)") != NULL);
		}
		EXPECT_REPORT(heap_usable_size(&H, head), HEAP_ERR_INVALID_PTR, head, "inside a slab run's head");
		void *r = (void *)1;
		EXPECT_REPORT(r = heap_realloc(&H, head, 32), HEAP_ERR_INVALID_PTR, head, "inside a slab run's head");
		CHECK(r == NULL);
		/* Past the last object, up to the end of the run's page. */
		char *end = head + HEAP_SLAB_HDR + class_caps[k] * size;
		for (char *q = end; q < head + HEAP_SLAB_RUN - 16 + 1; q += 16) {
			EXPECT_REPORT(heap_free(&H, q), HEAP_ERR_INVALID_FREE, q, "heap: invalid free of ");
			CHECK(strstr(E.last_line, "(not a block the heap returned: past a slab run's last object)") != NULL);
		}
		/* The last object itself is a free object: its free is a double free. */
		char *last = end - size;
		snprintf(want, sizeof want, "heap: double free of %s (size %zu)", hex(last), size);
		EXPECT_REPORT(heap_free(&H, last), HEAP_ERR_DOUBLE_FREE, last, want);
		CHECK_EQ_U(H.slab_live[k], 1);
		heap_free(&H, o);
	}
	expect_empty();
}

HTEST(slab_freed_object_refused_by_realloc_and_usable_size)
{
	char want[80];

	setup_slabs();
	for (unsigned k = 0; k < 4; k++) {
		size_t size = (k + 1) * 16;
		void *keep = heap_malloc(&H, size), *o = heap_malloc(&H, size);
		REQUIRE(keep && o);
		fill(o, size, 3);
		heap_free(&H, o);
		snprintf(want, sizeof want, "heap: realloc of %s (a freed block)", hex(o));
		void *r = (void *)1;
		EXPECT_REPORT(r = heap_realloc(&H, o, 100), HEAP_ERR_INVALID_PTR, o, want);
		CHECK(r == NULL);
		EXPECT_REPORT(r = heap_realloc(&H, o, 8), HEAP_ERR_INVALID_PTR, o, want);
		CHECK(r == NULL);
		snprintf(want, sizeof want, "heap: usable_size of %s (a freed block)", hex(o));
		size_t u = 1;
		EXPECT_REPORT(u = heap_usable_size(&H, o), HEAP_ERR_INVALID_PTR, o, want);
		CHECK_EQ_U(u, 0);
		CHECK_EQ_U(H.slab_live[k], 1);
		heap_free(&H, keep);
	}
	expect_empty();
}

/* ----- heap_check and damaged runs ----- */

/* heap_check fails, naming run r (if not NULL) and saying `also` (if not NULL). */
static void expect_check_finds(const void *r, const char *also)
{
	char why[256];

	CHECK(heap_check(&H, why, sizeof why) == -1);
	CHECK(strstr(why, "heap_check:") == why);
	if (r)
		CHECK(strstr(why, "slab") != NULL);
	if (r)
		CHECK(strstr(why, hex(r)) != NULL);
	if (also)
		CHECK(strstr(why, also) != NULL);
	printf("# found: %s\n", why);
}

/*
 * An overflow of a few bytes from the block just below a run lands in the
 * run's block header, which no slab path reads. When the run empties and
 * is given back (by a free, while another run of its class has room, or by
 * heap_get_stats), that header is checked as a free would check it: the
 * damage is reported and the run's block kept, never merged by its size.
 */
HTEST(slab_run_with_an_overflowed_header_is_kept_not_merged)
{
	static void *obj[126];

	for (int how = 0; how < 2; how++) {
		setup_slabs();
		REQUIRE(heap_malloc(&H, 16));            /* a class-16 run at the base */
		char *a = heap_malloc(&H, 4088);         /* a block right after it */
		int n = how == 0 ? 1 : 126;              /* 125 fill a class-32 run, the 126th opens a second */
		for (int i = 0; i < n; i++)
			REQUIRE((obj[i] = heap_malloc(&H, 20)) != NULL);
		struct heap_slab *r = run_of(obj[0]);
		REQUIRE((char *)r - 8 == a + 4088);      /* the run's header is a's first byte past its end */
		uint64_t *hdr = (uint64_t *)((char *)r - 8), saved = *hdr;
		uint32_t over = 0x00100000;              /* a's overflow by 4 bytes: the size bits now say 1 MiB */
		memcpy(a + 4088, &over, 4);
		int reports = E.reports;
		if (how == 0) {
			heap_free(&H, obj[0]);               /* the class's only run: it stays, empty */
			CHECK_EQ_U(E.reports, reports);
			stats();                             /* gives back every empty run */
		} else {
			for (int i = 0; i < 125; i++)
				heap_free(&H, obj[i]);           /* the last one empties it, the second run has room */
		}
		CHECK_EQ_U(E.reports, reports + 1);
		CHECK_EQ_U(E.last_kind, HEAP_ERR_UNDERFLOW);
		CHECK_EQ_U(E.last_addr, (uintptr_t)r);
		CHECK(strstr(E.last_line, "cannot be given back") != NULL && strstr(E.last_line, "it stays allocated") != NULL);
		CHECK(!on_run_page(r));                  /* no longer a run */
		expect_check_finds(NULL, "bad check tag");   /* the header is still bad, and found */
		/* Repaired, the kept block is an ordinary used one: freeing it gives everything back. */
		*hdr = saved;
		HEAP_CLEAN();
		heap_free(&H, r);
		heap_free(&H, a);
		if (how == 1)
			heap_free(&H, obj[125]);
		CHECK_EQ_U(E.reports, reports + 1);
		HEAP_CLEAN();
	}
}

HTEST(slab_check_finds_damaged_runs)
{
	static void *o16[10], *o64[10];

	setup_slabs();
	for (int i = 0; i < 10; i++) {
		REQUIRE(o16[i] = heap_malloc(&H, 16));
		REQUIRE(o64[i] = heap_malloc(&H, 64));
	}
	heap_free(&H, o16[4]);
	heap_free(&H, o64[4]);
	struct heap_slab *s16 = run_of(o16[0]), *s64 = run_of(o64[0]);
	REQUIRE((char *)s16 == (char *)o16[0] - 64 && (char *)s64 == (char *)o64[0] - 64);
	HEAP_CLEAN();

	/* The check word (the first 8 bytes of the run). */
	uint64_t *check = (uint64_t *)s16, saved = *check;
	*check ^= 0x1000;
	expect_check_finds(s16, "head damaged");
	*check = saved;
	HEAP_CLEAN();
	uint64_t saved64 = *(uint64_t *)s64;
	*(uint64_t *)s64 = 0x4141414141414141ull;
	expect_check_finds(s64, "head damaged");
	*(uint64_t *)s64 = saved64;
	HEAP_CLEAN();

	/* A free bit past cap: class 16 (251 objects: word 3 bit 59), class 64 (62: word 0 bit 62, word 1). */
	uint64_t fb = s16->free_bits[3];
	s16->free_bits[3] |= 1ull << 59;
	expect_check_finds(s16, "past its 251 objects");
	s16->free_bits[3] = fb;
	HEAP_CLEAN();
	fb = s64->free_bits[0];
	s64->free_bits[0] |= 1ull << 62;
	expect_check_finds(s64, "past its 62 objects");
	s64->free_bits[0] = fb;
	s64->free_bits[1] = 1;
	expect_check_finds(s64, "past its 62 objects");
	s64->free_bits[1] = 0;
	HEAP_CLEAN();

	/* A live object's bit set (marked free), a free object's bit cleared: the count disagrees. */
	s16->free_bits[0] ^= 1ull << 2;
	expect_check_finds(s16, "9 objects live by its count, 8 by its bitmap");
	s16->free_bits[0] ^= 1ull << 2;
	HEAP_CLEAN();
	s64->free_bits[0] ^= 1ull << 4;   /* o64[4] is free */
	expect_check_finds(s64, "9 objects live by its count, 10 by its bitmap");
	s64->free_bits[0] ^= 1ull << 4;
	HEAP_CLEAN();
	uint16_t live = s64->live;
	s64->live++;
	expect_check_finds(s64, NULL);
	s64->live = live;
	HEAP_CLEAN();

	/* Its word mask, the counters, the map, the lists. */
	uint8_t words = s16->words;
	s16->words ^= 2;
	expect_check_finds(s16, "word mask");
	s16->words = words;
	HEAP_CLEAN();
	H.slab_live[0]++;
	expect_check_finds(NULL, "9 live objects of 16 bytes in the runs, the counter says 10");
	H.slab_live[0]--;
	HEAP_CLEAN();
	H.slab_runs++;
	expect_check_finds(NULL, "slab runs");
	H.slab_runs--;
	HEAP_CLEAN();
	size_t bit = (((uintptr_t)s64 - 16) >> HEAP_SLAB_RUN_SHIFT) - H.slab_pg0;
	H.slab_map[bit / 64] ^= 1ull << (bit % 64);
	expect_check_finds(NULL, "slab runs");
	H.slab_map[bit / 64] ^= 1ull << (bit % 64);
	HEAP_CLEAN();
	struct heap_slab *head = H.slab_partial[3];
	REQUIRE(head == s64);
	H.slab_partial[3] = NULL;
	expect_check_finds(NULL, "slab list 3");
	H.slab_partial[3] = s16;   /* a run of another class */
	expect_check_finds(NULL, "slab list 3");
	H.slab_partial[3] = head;
	HEAP_CLEAN();

	for (int i = 0; i < 10; i++) {
		if (i == 4)
			continue;
		heap_free(&H, o16[i]);
		heap_free(&H, o64[i]);
	}
	CHECK_EQ_U(E.reports, 0);
	expect_empty();
}

HTEST(slab_damaged_head_refuses_frees_and_mallocs_of_its_class)
{
	static void *o[20];
	char why[256];

	setup_slabs();
	for (int i = 0; i < 20; i++) {
		REQUIRE(o[i] = heap_malloc(&H, 32));
		fill(o[i], 32, (unsigned)i);
	}
	struct heap_slab *s = run_of(o[0]);
	REQUIRE((char *)s == (char *)o[0] - 64);
	heap_free(&H, o[10]);
	HEAP_CLEAN();
	size_t used = H.used_blocks, in_use = H.in_use_bytes;

	/* The check word overwritten: a free of an object in that run is reported, not obeyed. */
	uint64_t *check = (uint64_t *)s, saved = *check;
	*check = 0;
	uint64_t bits0 = s->free_bits[0];
	int reports = E.reports;
	heap_free(&H, o[3]);
	CHECK_EQ_U(E.reports, reports + 1);
	CHECK_EQ_U(E.last_kind, HEAP_ERR_INVALID_FREE);
	CHECK_EQ_U(E.last_addr, (uintptr_t)o[3]);
	CHECK(strstr(E.last_line, hex(o[3])) != NULL);
	CHECK(strstr(E.last_line, "heap: invalid free of ") != NULL);
	CHECK(strstr(E.last_line, "its slab run's head is damaged") != NULL);
	CHECK_EQ_U(s->free_bits[0], bits0);
	CHECK_EQ_U(s->live, 19);
	CHECK_EQ_U(H.slab_live[1], 19);
	CHECK(filled(o[3], 32, 3));
	/* A double free of the freed one is refused the same way; realloc and usable_size too. */
	heap_free(&H, o[10]);
	CHECK_EQ_U(E.reports, reports + 2);
	CHECK_EQ_U(E.last_addr, (uintptr_t)o[10]);
	CHECK(heap_realloc(&H, o[4], 100) == NULL);
	CHECK_EQ_U(E.reports, reports + 3);
	CHECK_EQ_U(E.last_kind, HEAP_ERR_INVALID_PTR);
	CHECK_EQ_U(heap_usable_size(&H, o[4]), 0);
	CHECK_EQ_U(E.reports, reports + 4);
	CHECK(filled(o[4], 32, 4));
	CHECK(heap_check(&H, why, sizeof why) == -1 && strstr(why, "slab") != NULL);
	/* stats() does not give back a damaged run, and says the same as before. */
	CHECK_EQ_U(stats().slab_runs, 1);
	CHECK_EQ_U(H.used_blocks, used);
	CHECK_EQ_U(H.in_use_bytes, in_use);

	/*
	 * malloc still hands out usable memory, of any class, not overlapping
	 * anything live. A request of the damaged run's class is not served from
	 * it (its list links are not followed either): the run is reported, each
	 * time, and the request is an ordinary block.
	 */
	void *m[8];
	for (int i = 0; i < 8; i++) {
		size_t n = (size_t)(1 + i * 9);
		int before = E.reports;
		REQUIRE(m[i] = heap_malloc(&H, n));
		CHECK(aligned(m[i], 16));
		CHECK(in_brk(m[i]));
		for (int j = 0; j < 20; j++)
			CHECK((char *)m[i] + n <= (char *)o[j] || (char *)m[i] >= (char *)o[j] + 32 || j == 10);
		CHECK(!((char *)m[i] + n > (char *)s && (char *)m[i] < (char *)s + HEAP_SLAB_HDR));   /* not the head */
		if (class_size(n) == 32) {
			CHECK_EQ_U(E.reports, before + 1);
			CHECK_EQ_U(E.last_kind, HEAP_ERR_UNDERFLOW);
			CHECK_EQ_U(E.last_addr, (uintptr_t)s);
			CHECK(strstr(E.last_line, "is damaged: its head's check word is wrong") != NULL);
			CHECK(!on_run_page(m[i]));
		} else {
			CHECK_EQ_U(E.reports, before);
		}
		memset(m[i], 0x77, n);
	}
	CHECK_EQ_U(s->free_bits[0], bits0);   /* the damaged run gave nothing out */
	CHECK_EQ_U(s->live, 19);
	for (int j = 0; j < 20; j++)
		if (j != 10)
			CHECK(filled(o[j], 32, (unsigned)j));
	*check = saved;
	HEAP_CLEAN();
	for (int i = 0; i < 8; i++)
		heap_free(&H, m[i]);
	CHECK_EQ_U(E.reports, reports + 6);
	HEAP_CLEAN();

	/*
	 * A bitmap that names no free object inside the run (a word flagged in
	 * the mask but empty, or a bit past cap): malloc reports the run and
	 * serves the request as an ordinary block.
	 */
	uint64_t saved0 = s->free_bits[0];
	s->free_bits[0] = 0;   /* object 10 and everything past 19 look live, but words says word 0 has room */
	reports = E.reports;
	void *b = heap_malloc(&H, 20);
	REQUIRE(b);
	CHECK_EQ_U(E.reports, reports + 1);
	CHECK_EQ_U(E.last_kind, HEAP_ERR_UNDERFLOW);
	CHECK_EQ_U(E.last_addr, (uintptr_t)s);
	CHECK(strstr(E.last_line, "slab run ") != NULL && strstr(E.last_line, "damaged") != NULL);
	CHECK(strstr(E.last_line, hex(s)) != NULL);
	CHECK(!on_run_page(b));
	CHECK_EQ_U(heap_usable_size(&H, b), 24);
	memset(b, 0x66, 24);
	s->free_bits[0] = saved0;
	HEAP_CLEAN();
	heap_free(&H, b);

	/* Fill the run up to its last object, then leave only a bit past cap (125 objects: word 1 bit 62). */
	static void *more[200];
	size_t nm = 0;
	while (s->live < s->cap)
		REQUIRE(more[nm++] = heap_malloc(&H, 32));
	REQUIRE(nm == 106 && H.slab_partial[1] == NULL);
	heap_free(&H, more[--nm]);   /* the last object: word 1 bit 60 free again */
	REQUIRE(H.slab_partial[1] == s && s->words == 2);
	uint64_t saved1 = s->free_bits[1];
	s->free_bits[1] = 1ull << 62;
	reports = E.reports;
	void *c = heap_malloc(&H, 32);
	REQUIRE(c);
	CHECK_EQ_U(E.reports, reports + 1);
	CHECK_EQ_U(E.last_kind, HEAP_ERR_UNDERFLOW);
	CHECK_EQ_U(E.last_addr, (uintptr_t)s);
	CHECK(!on_run_page(c));
	CHECK(run_of(c) != s);
	memset(c, 0x55, heap_usable_size(&H, c));
	CHECK_EQ_U(s->live, s->cap - 1);
	s->free_bits[1] = saved1;
	HEAP_CLEAN();
	heap_free(&H, c);
	for (size_t i = 0; i < nm; i++)
		heap_free(&H, more[i]);
	for (int i = 0; i < 20; i++)
		if (i != 10)
			heap_free(&H, o[i]);
	HEAP_CLEAN();
	expect_empty();
}

/* ----- writes after free (spans_disjoint: slab_test_util.h) ----- */

HTEST(slab_writes_after_free_hand_out_nothing_wrong)
{
	enum { N = 1200, M = 3000 };
	static void *o[N], *q[M];
	static size_t on[N], qn[M];
	static struct span sp[N + M];

	setup_slabs();
	rng_state = seed ^ 0x5eedull;
	for (int i = 0; i < N; i++) {
		on[i] = (size_t)(1 + i % 64);
		REQUIRE(o[i] = heap_malloc(&H, on[i]));
		on[i] = heap_usable_size(&H, o[i]);
		fill(o[i], on[i], (unsigned)i);
	}
	/* Free two in three (each run keeps live objects, so every run stays a run). */
	for (int i = 0; i < N; i++)
		if (i % 3)
			heap_free(&H, o[i]);
	/* Scribble every byte of every freed object: pointers into the heap, to live objects, garbage. */
	for (int i = 0; i < N; i++) {
		if (i % 3 == 0)
			continue;
		uint64_t *w = o[i];
		for (size_t k = 0; k < on[i] / 8; k++) {
			switch ((i + (int)k) % 4) {
			case 0: w[k] = (uint64_t)(uintptr_t)o[(i / 3) * 3]; break;
			case 1: w[k] = (uint64_t)(uintptr_t)E.base + 8 + rnd() % E.brk; break;
			case 2: w[k] = ~0ull; break;
			default: w[k] = rnd(); break;
			}
		}
	}
	/* The heap's own view is unaffected: nothing it trusts lives in freed objects. */
	HEAP_CLEAN();
	size_t nruns = H.slab_runs;
	for (int m = 0; m < M; m++) {
		size_t n = rnd() % 65;
		REQUIRE(q[m] = heap_malloc(&H, n));
		qn[m] = heap_usable_size(&H, q[m]);
		CHECK_EQ_U(qn[m], class_size(n));
		CHECK(placed_in_run(q[m], qn[m]));
		fill(q[m], qn[m], (unsigned)(m + 7));
	}
	CHECK(H.slab_runs > nruns);   /* the old runs filled up, new ones came */
	size_t ns = 0;
	for (int i = 0; i < N; i += 3)
		sp[ns++] = (struct span){ (uintptr_t)o[i], on[i] };
	for (int m = 0; m < M; m++)
		sp[ns++] = (struct span){ (uintptr_t)q[m], qn[m] };
	CHECK(spans_disjoint(sp, ns));
	for (int i = 0; i < N; i += 3)
		CHECK(filled(o[i], on[i], (unsigned)i));
	for (int m = 0; m < M; m++)
		CHECK(filled(q[m], qn[m], (unsigned)(m + 7)));
	HEAP_CLEAN();
	CHECK_EQ_U(E.reports, 0);
	for (int i = 0; i < N; i += 3)
		heap_free(&H, o[i]);
	for (int m = 0; m < M; m++)
		heap_free(&H, q[m]);
	CHECK_EQ_U(E.reports, 0);
	expect_empty();
}

int main(int argc, char **argv)
{
	seed_from(argc, argv, "test_heap_slab_misuse");

	HRUN(slab_double_free_is_reported);
	HRUN(slab_interior_pointers_are_reported);
	HRUN(slab_head_and_past_the_last_object_are_reported);
	HRUN(slab_freed_object_refused_by_realloc_and_usable_size);
	HRUN(slab_run_with_an_overflowed_header_is_kept_not_merged);
	HRUN(slab_check_finds_damaged_runs);
	HRUN(slab_damaged_head_refuses_frees_and_mallocs_of_its_class);
	HRUN(slab_writes_after_free_hand_out_nothing_wrong);
	env_close();
	return htest_done();
}
