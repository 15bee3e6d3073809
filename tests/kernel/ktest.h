/*
 * tests/kernel/ktest.h - the in-kernel test framework.
 *
 *   KTEST(pmm, exhaustion) { ... KEXPECT_EQ(a, b); ... }
 *
 * registers a test in the .ktests section; the kernel command line picks what
 * runs (ktest=all, ktest=pmm, ktest=pmm.exhaustion, comma lists) and the
 * output is KTAP version 1 with one subtest block per suite, closing with the
 * line "N passed, N failed". KEXPECT_* record a failure with file:line and
 * carry on; KASSERT_* also leave the test.
 *
 * Misuse is tested like use: a test can say it expects a fault or a panic
 *   KEXPECT_FAULT(VEC_PF, 0x0, { (void)*(volatile char *)0; });
 *   KEXPECT_PANIC("double free of", pmm_free(pa, 0));
 * and the handler resumes the test right after the block. ktest_last_fault
 * then holds what the CPU reported (error code, CR2, RIP).
 *
 * After every test the runner compares resource counters (frames in use,
 * heap bytes in use, ...) with their values before it, and fails a test
 * that lost any.
 */
#ifndef KTEST_H
#define KTEST_H

#include <stdbool.h>
#include <stdint.h>

#include "../../kernel/arch/x86_64/kjmp.h"
#include "../../kernel/arch/x86_64/trap.h"

struct ktest {
	const char *suite, *name, *file;
	void (*fn)(void);
	unsigned flags;
};
#define KTEST_EXPLICIT 1u      /* runs only when named: ktest=all leaves it out */

#define KTEST_F(suite, name, flags)                                                   \
	static void ktest_fn_##suite##_##name(void);                                  \
	static const struct ktest ktest_desc_##suite##_##name                          \
		__attribute__((used, section(".ktests"), aligned(8))) = {              \
			#suite, #name, __FILE__, ktest_fn_##suite##_##name, flags };   \
	static void ktest_fn_##suite##_##name(void)
#define KTEST(suite, name) KTEST_F(suite, name, 0)

/* --- expectations ------------------------------------------------------ */

void ktest_fail_at(const char *file, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
__attribute__((noreturn)) void ktest_abort(void);
void ktest_forgive_failures(int n);     /* for tests of the framework itself */
__attribute__((noreturn)) void ktest_skip(const char *reason);

#define KEXPECT_MSG(cond, ...) \
	do { if (!(cond)) ktest_fail_at(__FILE__, __LINE__, __VA_ARGS__); } while (0)
#define KEXPECT(cond) KEXPECT_MSG(cond, "KEXPECT(%s) failed", #cond)
#define KEXPECT_CMP(a, op, b)                                                         \
	do {                                                                           \
		uint64_t _ka = (uint64_t)(a), _kb = (uint64_t)(b);                     \
		if (!(_ka op _kb))                                                     \
			ktest_fail_at(__FILE__, __LINE__, "KEXPECT(%s %s %s) failed: 0x%lx vs 0x%lx", \
				      #a, #op, #b, _ka, _kb);                           \
	} while (0)
#define KEXPECT_EQ(a, b) KEXPECT_CMP(a, ==, b)
#define KEXPECT_NE(a, b) KEXPECT_CMP(a, !=, b)
#define KEXPECT_LT(a, b) KEXPECT_CMP(a, <, b)
#define KEXPECT_LE(a, b) KEXPECT_CMP(a, <=, b)
#define KEXPECT_GT(a, b) KEXPECT_CMP(a, >, b)
#define KEXPECT_GE(a, b) KEXPECT_CMP(a, >=, b)
#define KEXPECT_NULL(p) KEXPECT_MSG((p) == 0, "KEXPECT_NULL(%s) failed: %p", #p, (void *)(p))
#define KEXPECT_NOT_NULL(p) KEXPECT_MSG((p) != 0, "KEXPECT_NOT_NULL(%s) failed", #p)
#define KEXPECT_STR_CONTAINS(s, sub)                                                  \
	KEXPECT_MSG(ktest_contains((s), (sub)), "expected \"%s\" in \"%s\"", (sub), (s))
/* Like KEXPECT but leaves the test: for when going on makes no sense. */
#define KASSERT(cond) \
	do { if (!(cond)) { ktest_fail_at(__FILE__, __LINE__, "KASSERT(%s) failed", #cond); ktest_abort(); } } while (0)

/* --- expected faults and panics --------------------------------------- */

#define KTEST_ANY_ADDR UINT64_MAX

struct ktest_fault {
	uint64_t vector, error, cr2, rip;
};
extern struct ktest_fault ktest_last_fault;
extern char ktest_last_panic[256];
extern struct kjmp ktest_expect_jmp;

void ktest_expect_fault_arm(uint64_t vector, uint64_t addr, const char *file, int line);
void ktest_expect_panic_arm(const char *substr, const char *file, int line);
void ktest_expect_missed(void);         /* the block ran to its end: records a failure */

#define KEXPECT_FAULT(vector, addr, ...)                                              \
	do {                                                                           \
		ktest_expect_fault_arm((vector), (uint64_t)(addr), __FILE__, __LINE__);\
		if (kjmp_set(&ktest_expect_jmp) == 0) {                                \
			__VA_ARGS__;                                                   \
			ktest_expect_missed();                                         \
		}                                                                      \
	} while (0)
#define KEXPECT_PANIC(substr, ...)                                                    \
	do {                                                                           \
		ktest_expect_panic_arm((substr), __FILE__, __LINE__);                  \
		if (kjmp_set(&ktest_expect_jmp) == 0) {                                \
			__VA_ARGS__;                                                   \
			ktest_expect_missed();                                         \
		}                                                                      \
	} while (0)

/* --- what the rest of the kernel calls --------------------------------- */

/* Runs what ktest= selects and ends the QEMU run. Returns if there is no ktest=. */
void ktest_main(void);
/* The same for the shell's `test`: runs spec with seed, returns the failures, never exits. */
int ktest_run_pattern(const char *spec, uint64_t seed);
bool ktest_running(void);
void ktest_fault_hook(const struct trap_frame *f);          /* returns if not expected */
__attribute__((noreturn)) void ktest_unexpected_fault(const struct trap_frame *f);
void ktest_panic_hook(const char *msg, const char *file, int line); /* returns if not expected */

/* Resource counters checked around every test (name, reader). */
void ktest_add_counter(const char *name, uint64_t (*read)(void));

/* The run's seed (seed= on the command line, or from the TSC): always printed. */
uint64_t ktest_seed(void);
/* Everything printed since the current test (or ktest_output_reset) began. */
const char *ktest_output(void);
void ktest_output_reset(void);
bool ktest_contains(const char *s, const char *sub);

#endif
