/*
 * tests/host/check.h - a tiny test harness for the host-side tests of alloc/.
 *
 * Each tests/host/test_*.c is one program. It defines test functions with
 * HTEST(name), lists them in main() with HRUN(name), and ends with
 * return htest_done();. Output is KTAP-like so tools/run-tests can count it:
 *   ok 1 buddy_exhaustion
 *   not ok 2 buddy_merge # tests/host/test_buddy.c:88: CHECK(x == y) failed
 * The program exits 1 if any test failed. CHECK records a failure and goes on;
 * REQUIRE records it and leaves the current test.
 */
#ifndef HOST_CHECK_H
#define HOST_CHECK_H

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct htest_state {
	int number, passed, failed;
	int cur_failed;
	char first_failure[256];
	jmp_buf leave;
};
extern struct htest_state htest;

void htest_fail(const char *file, int line, const char *what);

#define CHECK(cond) \
	do { if (!(cond)) htest_fail(__FILE__, __LINE__, "CHECK(" #cond ") failed"); } while (0)
#define REQUIRE(cond) \
	do { if (!(cond)) { htest_fail(__FILE__, __LINE__, "REQUIRE(" #cond ") failed"); \
			    longjmp(htest.leave, 1); } } while (0)
#define CHECK_EQ_U(a, b) \
	do { unsigned long long _a = (a), _b = (b); if (_a != _b) { char _m[200]; \
		snprintf(_m, sizeof _m, "%s == %s failed: 0x%llx != 0x%llx", #a, #b, _a, _b); \
		htest_fail(__FILE__, __LINE__, _m); } } while (0)

#define HTEST(name) static void htest_##name(void)
#define HRUN(name) htest_run(#name, htest_##name)

void htest_run(const char *name, void (*fn)(void));
int htest_done(void);

#endif
