/*
 * tests/fuzz/fuzz_heap.c - libFuzzer harness for the kmalloc core (alloc/heap.c).
 *
 * The input is a little program: a few bytes of configuration (page size,
 * growth chunk, thresholds, how much memory the environment will give), then
 * one operation after another until the bytes run out: malloc, calloc,
 * realloc, memalign and free of one of NSLOTS slots, with sizes and
 * alignments from the bytes (huge and nonsensical ones included); bogus frees,
 * reallocs and usable_size calls (double, delayed double, interior,
 * misaligned, stack, static, libc, unmapped, random addresses); trims;
 * injected sbrk/map failures; full verifications.
 *
 * Beside the heap runs a shadow model, and any disagreement aborts with a
 * message and the last operations (so libFuzzer saves the input):
 *   - every live block is filled with a pattern from its id over its whole
 *     usable size, checked before it is freed or resized and in every full
 *     verification; alignment, usable >= request, no overlap, brk blocks
 *     inside the break, large blocks exactly at the end of a mapped run;
 *   - heap_get_stats agrees with the shadow: used_blocks and large_blocks
 *     count the live slots, in_use_bytes is their whole size, brk_bytes and
 *     large_bytes are what the environment handed out, peak never falls;
 *   - heap_check after every operation; heap_walk lists exactly the live
 *     blocks and tiles the break;
 *   - a misuse is reported once, with the right kind and address, and
 *     changes nothing (stats, break, runs, and every byte of the break);
 *   - a NULL return changes nothing the same way, and happens only when the
 *     environment really refused the memory (caps, injected failures) or the
 *     request is impossible;
 *   - at the end everything is freed, the heap is empty and trims back to
 *     its initial break, and every mapped run was unmapped.
 *
 * The environment: the break lives in a private PROT_NONE reservation that
 * sbrk opens page by page (touching above the break faults), fresh break
 * memory is filled with junk (0xa5) so nothing relies on zeroed pages, large
 * runs are separate mappings with guard pages, and both have caps.
 *
 * The junk and the pattern never look like a plausible block header: every
 * word of them has bit 39 set, a size beyond any break here. So a bogus
 * pointer whose p - 8 lands in user data can never be believed by accident
 * (the 1-in-2^24 tag match heap.h admits), and any mismatch is a real one.
 *
 * Config bit 128 turns on slabs (env.slabs): requests of 0..64 bytes are
 * then header-less objects in 4 KiB runs. The shadow asks the heap which
 * pointers are objects (slab_page() of heap_impl.h) and knows the rest: the
 * class size as usable size, no header in overlap checks, each run one used
 * block of its 4096 (or 4112) whole bytes in the counters, heap_walk giving
 * a run's objects in place of its block, realloc keeping an object in place
 * exactly when the new size fits its class, and misuse of objects reported
 * with the same kinds as for blocks.
 *
 * FUZZ_VERBOSE=1 in the environment prints every operation as it runs.
 *
 * This file reads the configuration and interprets the operations; the rest
 * is fuzz_heap_env.c (the environment), fuzz_heap_shadow.c (the shadow and
 * its checks), fuzz_heap_ops.c (the operations) and fuzz_heap_misuse.c
 * (bogus pointers and double frees), sharing fuzz_heap.h.
 */
#include "fuzz_heap.h"

struct heap H;
static unsigned verify_every;

/* ----- one input ----- */

static void finish(void)
{
	struct heap_stats st;

	E.fail_sbrk = E.fail_map = false;
	E.refuse_shrink = false;
	verify_all("the last op");
	for (unsigned i = 0; i < NSLOTS; i++)
		if (S[i].p) {
			do_free_slot(i, "teardown");
			check_state("teardown free");
		}
	verify_all("teardown");
	st = stats();
	ENSURE(st.used_blocks == 0 && st.in_use_bytes == 0 && st.large_blocks == 0 && st.large_bytes == 0 &&
		       E.nruns == 0 && E.mapped == 0,
	       "teardown: blocks left: used %zu (%zu bytes), large %zu (%zu bytes), runs %u", st.used_blocks,
	       st.in_use_bytes, st.large_blocks, st.large_bytes, E.nruns);
	ENSURE(st.free_blocks == 1 && st.free_bytes == st.brk_bytes - 16,
	       "teardown: the empty break is %zu free blocks of %zu bytes in %zu", st.free_blocks, st.free_bytes,
	       st.brk_bytes);
	heap_trim(&H);
	check_state("final trim");
	ENSURE(E.brk == cfg.grow, "an empty heap trims to %zu, not to its initial break %zu", E.brk, cfg.grow);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	verbose = getenv("FUZZ_VERBOSE") != NULL;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t pages[] = { 4096, 4096, 4096, 64, 128, 512, 1024, 8192 };
	static const size_t grows[] = { 0, 4096, 16384, 65536, 262144, 1, 100000, 8192 };
	static const size_t trims[] = { 0, 1, 4096, 65536, 131072, MiB, 8192, SIZE_MAX };
	static const size_t lts[] = { 0, 0, 1, 512, 4096, 32768, MiB, SIZE_MAX };
	static const size_t caps[] = { 256 * KiB, MiB, 4 * MiB, 16 * MiB, 64 * KiB, 128 * KiB, 2 * MiB, 512 * KiB };
	static const size_t lcaps[] = { 0, 512 * KiB, 4 * MiB, 32 * MiB, MiB, 64 * KiB, 16 * MiB, 8 * MiB };
	static const unsigned every[] = { 1, 2, 4, 8, 16, 32, 64, 100000 };
	struct in in = { data, size };

	memset(&E, 0, sizeof E);
	shadow_reset();
	memset(&H, 0, sizeof H);
	trace_reset();
	op_index = 0;

	uint8_t c0 = u8(&in), c1 = u8(&in), c2 = u8(&in), c3 = u8(&in), flags = u8(&in);
	E.hostpage = (size_t)sysconf(_SC_PAGESIZE);
	E.hpage = pages[c0 % 8];
	E.cap = caps[c1 % 8];
	E.large_cap = lcaps[(c1 >> 3) % 8];
	E.refuse_shrink = flags & 4;
	have_report = !(flags & 8) || !(flags & 16);
	verify_every = every[(c0 >> 3) % 8];

	struct heap_env env = {
		.sbrk = f_sbrk,
		.map_pages = (flags & 3) == 3 ? NULL : f_map,
		.unmap_pages = (flags & 3) == 3 ? NULL : f_unmap,
		.remap_pages = (flags & 3) == 3 || !(flags & 64) ? NULL : f_remap,
		.report = have_report ? f_report : NULL,
		.ctx = &E,
		.page_size = E.hpage,
		.grow_bytes = grows[c2 % 8],
		.trim_threshold = trims[(c2 >> 3) % 8],
		.large_threshold = lts[c3 % 8],
		.secret = (flags & 32) ? u64(&in) : 0,
	};
#if FUZZ_HEAP_DEBUG
	env.debug = 0;
#endif
	/*
	 * Slabs exist at level 0 only, which is what the harness runs (see
	 * above): on from the start, or auto (turned on once slab_after small
	 * blocks are in use; 0 is the default's 16384, out of this harness's
	 * reach), or off.
	 */
	static const size_t afters[] = { 0, 1, 2, 8, 32, 100, 0, 0 };
	env.slabs = (flags & 128) ? HEAP_SLABS_ON : (c3 >> 3) % 8 == 7 ? HEAP_SLABS_OFF : HEAP_SLABS_AUTO;
	env.slab_after = afters[(c3 >> 3) % 8];
	cfg.slabs = env.slabs == HEAP_SLABS_ON;
	cfg.map = env.map_pages != NULL;
	cfg.lt = env.large_threshold ? env.large_threshold : HEAP_DEFAULT_LARGE_THRESHOLD;
	cfg.grow = round_up(env.grow_bytes ? env.grow_bytes : HEAP_DEFAULT_GROW_BYTES, E.hpage);

	env_open();

	trace("config: page %zu grow %zu trim %zu lt %zu cap %zu large_cap %zu map %d remap %d report %d stubborn %d "
	      "every %u slabs %u after %zu",
	      E.hpage, env.grow_bytes, env.trim_threshold, env.large_threshold, E.cap, E.large_cap, cfg.map,
	      env.remap_pages != NULL, have_report, E.refuse_shrink, verify_every, env.slabs, env.slab_after);
	int rc = heap_init(&H, &env);
	if (cfg.grow > E.cap) {
		ENSURE(rc == -1, "heap_init succeeded though its first chunk (%zu) exceeds the cap %zu", cfg.grow, E.cap);
		env_close();
		return 0;
	}
	ENSURE(rc == 0, "heap_init failed (page %zu grow %zu cap %zu)", E.hpage, cfg.grow, E.cap);
	ENSURE(E.brk == cfg.grow, "heap_init took %zu bytes of break, expected one chunk of %zu", E.brk, cfg.grow);
	check_state("heap_init");
	verify_all("heap_init");

	while (in.n && op_index < MAX_OPS) {
		uint8_t op = u8(&in);
		unsigned i = u8(&in) % NSLOTS;

		op_index++;
		/* What the shadow predicts from: slabs as they are before the call (auto may turn them on in it). */
		cfg.slabs = H.slab_lim != 0;
		switch (op % 20) {
		case 0: case 1: case 2: case 3:
			op_malloc(&in, i);
			break;
		case 4:
			op_calloc(&in, i);
			break;
		case 5: case 6: case 7:
			op_realloc(&in, i);
			break;
		case 8:
			op_memalign(&in, i);
			break;
		case 9: case 10: case 11:
			if (S[i].p) {
				do_free_slot(i, "free");
			} else {
				unsigned reports = E.reports;
				heap_free(&H, NULL);
				ENSURE(E.reports == reports, "free(NULL) was reported");
			}
			break;
		case 12:
			op_bogus(&in, 0);
			break;
		case 13:
			op_bogus(&in, 1 + (op >> 7));
			break;
		case 14:
			op_double_free(i);
			break;
		case 15:
			op_usable(i);
			break;
		case 16:
			op_trim();
			break;
		case 17:
			verify_all("a verify op");
			break;
		case 18:
			switch (i % 4) {
			case 0: E.fail_sbrk = true; trace("#%u arm: next sbrk fails", op_index); break;
			case 1: E.fail_map = true; trace("#%u arm: next map_pages fails", op_index); break;
			default:
				E.refuse_shrink = !E.refuse_shrink;
				trace("#%u sbrk %s shrinking", op_index, E.refuse_shrink ? "refuses" : "allows");
				break;
			}
			break;
		default: {
			/* Free a run of slots, as a program leaving a phase would. */
			unsigned n = 1 + u8(&in) % 16;
			for (unsigned k = 0; k < n; k++)
				if (S[(i + k) % NSLOTS].p) {
					do_free_slot((i + k) % NSLOTS, "burst");
					check_state("burst free");
				}
			break;
		}
		}
		check_state("the op");
		if (op_index % verify_every == 0)
			verify_all("the op");
	}
	finish();
	env_close();
	return 0;
}
