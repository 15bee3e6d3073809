/*
 * tests/kernel/test_selfcheck.c - suite "selfcheck": tests that go wrong on
 * purpose, so the host can prove tools/qemu-test gives the right verdict for
 * each way a run can end (a failed check, a panic, a triple fault, a hang, an
 * unexpected fault, the pass code without a closing line). ktest=all leaves
 * them out; name them to run them.
 */
#include "ktest.h"

#include "../../kernel/arch/x86_64/cpu.h"
#include "../../kernel/panic.h"

KTEST_F(selfcheck, fail, KTEST_EXPLICIT)
{
	KEXPECT_EQ(1 + 1, 3);
}

KTEST_F(selfcheck, panic, KTEST_EXPLICIT)
{
	panic("selfcheck: a deliberate panic");
}

KTEST_F(selfcheck, triple_fault, KTEST_EXPLICIT)
{
	/* With an empty IDT every exception escalates: #BP -> #GP -> #DF -> reset. */
	struct desc_ptr empty = { 0, 0 };
	lidt(&empty);
	__asm__ volatile("int3");
}

KTEST_F(selfcheck, hang, KTEST_EXPLICIT)
{
	halt_forever();
}

KTEST_F(selfcheck, unexpected_fault, KTEST_EXPLICIT)
{
	(void)*(volatile uint64_t *)0x0000100000000000UL;
}

KTEST_F(selfcheck, silent_pass, KTEST_EXPLICIT)
{
	/* The pass code with no closing line: the runner must not call this a pass. */
	kernel_exit(EXIT_PASS);
}
