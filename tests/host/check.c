/* tests/host/check.c - the runner behind check.h (see there). */
#include "check.h"

struct htest_state htest;

void htest_fail(const char *file, int line, const char *what)
{
	fprintf(stderr, "# %s:%d: %s\n", file, line, what);
	if (!htest.cur_failed)
		snprintf(htest.first_failure, sizeof htest.first_failure, "%s:%d: %s", file, line, what);
	htest.cur_failed++;
}

void htest_run(const char *name, void (*fn)(void))
{
	htest.number++;
	htest.cur_failed = 0;
	if (setjmp(htest.leave) == 0)
		fn();
	if (htest.cur_failed) {
		htest.failed++;
		printf("not ok %d %s # %s\n", htest.number, name, htest.first_failure);
	} else {
		htest.passed++;
		printf("ok %d %s\n", htest.number, name);
	}
	fflush(stdout);
}

int htest_done(void)
{
	printf("# %d passed, %d failed\n", htest.passed, htest.failed);
	return htest.failed ? 1 : 0;
}
