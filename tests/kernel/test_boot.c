/*
 * tests/kernel/test_boot.c - suite "boot": the foundation proves itself:
 * printk formatting, the command line parser, the symbol table, kjmp, and
 * the exception path (an expected #UD and #PF resume the test with the right
 * vector, CR2 and error bits).
 */
#include "ktest.h"

#include "../../kernel/arch/x86_64/cpu.h"
#include "../../kernel/arch/x86_64/layout.h"
#include "../../kernel/cmdline.h"
#include "../../kernel/ksyms.h"
#include "../../kernel/lib/string.h"
#include "../../kernel/printk.h"

#define FMT(expect, ...)                                                               \
	do {                                                                            \
		char _b[128];                                                           \
		int _n = snprintf(_b, sizeof _b, __VA_ARGS__);                          \
		KEXPECT_MSG(strcmp(_b, expect) == 0, "format %s gave \"%s\", want \"%s\"", #__VA_ARGS__, _b, expect); \
		KEXPECT_EQ(_n, strlen(expect));                                         \
	} while (0)

KTEST(boot, printk_integers)
{
	FMT("42", "%d", 42);
	FMT("-42", "%i", -42);
	FMT("-2147483648", "%d", (int)0x80000000);
	FMT("4294967295", "%u", 0xffffffffu);
	FMT("ff", "%x", 255);
	FMT("FF", "%X", 255);
	FMT("ffffffffffffffff", "%lx", ~0UL);
	FMT("123456789abcdef0", "%llx", 0x123456789abcdef0ULL);
	FMT("18446744073709551615", "%zu", (size_t)-1);
	FMT("-9223372036854775808", "%ld", (long)(1UL << 63));
	FMT("0", "%u", 0);
}

KTEST(boot, printk_widths)
{
	FMT("   42", "%5d", 42);
	FMT("00042", "%05d", 42);
	FMT("-0042", "%05d", -42);
	FMT("42   |", "%-5d|", 42);
	FMT("0000beef", "%08x", 0xbeef);
	FMT("0x00beef", "%#08x", 0xbeef);
	FMT("  ab", "%*s", 4, "ab");
	FMT("ab  |", "%-4s|", "ab");
	FMT("x", "%c", 'x');
	FMT("100%", "%d%%", 100);
	const char *volatile nothing = NULL;    /* volatile: hide the NULL from -Wformat */
	FMT("(null)", "%s", nothing);
	FMT("0xffffffff80001000", "%p", (void *)0xffffffff80001000UL);
}

KTEST(boot, printk_truncates)
{
	char b[8];
	int n = snprintf(b, sizeof b, "%s", "0123456789");
	KEXPECT_EQ(n, 10);
	KEXPECT(strcmp(b, "0123456") == 0);
	KEXPECT_EQ(snprintf(NULL, 0, "%d", 12345), 5);
}

KTEST(boot, cmdline_parse)
{
	uint64_t v = 0;
	KEXPECT(parse_u64("0x10", &v) && v == 16);
	KEXPECT(parse_u64("12345", &v) && v == 12345);
	KEXPECT(parse_u64("4K", &v) && v == 4096);
	KEXPECT(parse_u64("2M", &v) && v == 2 << 20);
	KEXPECT(parse_u64("18446744073709551615", &v) && v == UINT64_MAX);
	KEXPECT(!parse_u64("18446744073709551616", &v));
	KEXPECT(!parse_u64("12x", &v));
	KEXPECT(!parse_u64("", &v));
	KEXPECT(!parse_u64("0x", &v));
	KEXPECT(!parse_u64("99999999999G", &v));
	KEXPECT(!parse_u64("K", &v));            /* a suffix needs digits before it */
	KEXPECT(!parse_u64("0xK", &v));
	KEXPECT(!parse_u64("g", &v));
	KEXPECT(parse_u64("0K", &v) && v == 0);
	{
		/* A key with a value that is not a number: reported, refused, the caller's default kept. */
		static char saved[512];
		strlcpy(saved, cmdline_raw(), sizeof saved);
		cmdline_init("t.bad=K t.flag t.ok=0x10 t.long=000000000000000000000000000000000000000000000000000000000000000000001");
		v = 7;
		KEXPECT(!cmdline_get_u64("t.bad", &v) && v == 7);
		KEXPECT(!cmdline_get_u64("t.flag", &v) && v == 7);
		KEXPECT(!cmdline_get_u64("t.long", &v) && v == 7);
		KEXPECT(!cmdline_get_u64("t.absent", &v) && v == 7);
		KEXPECT(cmdline_get_u64("t.ok", &v) && v == 16);
		cmdline_init(saved);
	}
	char buf[32];
	KEXPECT(!cmdline_get("no.such.key", buf, sizeof buf));
	if (!cmdline_get("ktest", buf, sizeof buf))
		ktest_skip("the rest needs ktest= on the command line (run from the prompt?)");
	KEXPECT(buf[0] != 0);
}

KTEST(boot, symbols)
{
	uint64_t off = 1;
	const char *name = ksym_lookup((uint64_t)&ktest_main + 3, &off);
	KASSERT(name != NULL);
	KEXPECT(strcmp(name, "ktest_main") == 0);
	KEXPECT_EQ(off, 3);
	KEXPECT_EQ(ksym_address("ktest_main"), (uint64_t)&ktest_main);
	KEXPECT_NULL(ksym_lookup(0x1000, NULL));
}

KTEST(boot, kjmp_round_trip)
{
	static struct kjmp j;
	volatile int steps = 0;
	int r = kjmp_set(&j);
	steps++;
	if (r == 0)
		kjmp_jump(&j, 7);
	KEXPECT_EQ(r, 7);
	KEXPECT_EQ(steps, 2);
}

KTEST(boot, expected_ud)
{
	volatile int after = 0;
	KEXPECT_FAULT(VEC_UD, KTEST_ANY_ADDR, { __asm__ volatile("ud2"); after = 1; });
	KEXPECT_EQ(after, 0);                    /* the rest of the block was skipped */
	KEXPECT_EQ(ktest_last_fault.vector, VEC_UD);
	KEXPECT_GE(ktest_last_fault.rip, (uint64_t)&ktest_main - 0x100000);
}

/* PML4 slot 32 is empty in every table memkern builds: nothing maps it. */
#define UNMAPPED_VA 0x0000100000000000UL

KTEST(boot, expected_page_fault_read)
{
	KEXPECT_FAULT(VEC_PF, UNMAPPED_VA + 0x123, { (void)*(volatile uint8_t *)(UNMAPPED_VA + 0x123); });
	KEXPECT_EQ(ktest_last_fault.vector, VEC_PF);
	KEXPECT_EQ(ktest_last_fault.cr2, UNMAPPED_VA + 0x123);
	KEXPECT_EQ(ktest_last_fault.error & (PF_PRESENT | PF_WRITE | PF_USER | PF_INSTR), 0);
}

KTEST(boot, expected_page_fault_write)
{
	KEXPECT_FAULT(VEC_PF, UNMAPPED_VA, { *(volatile uint64_t *)UNMAPPED_VA = 1; });
	KEXPECT_EQ(ktest_last_fault.cr2, UNMAPPED_VA);
	KEXPECT_EQ(ktest_last_fault.error & (PF_PRESENT | PF_WRITE), PF_WRITE);
}

extern char boot_stack_guard[];

KTEST(boot, boot_stack_guard_unmapped)
{
	uint64_t guard = (uint64_t)boot_stack_guard;
	KEXPECT_FAULT(VEC_PF, guard + 8, { (void)*(volatile uint64_t *)(guard + 8); });
	KEXPECT_EQ(ktest_last_fault.cr2, guard + 8);
	KEXPECT_EQ(ktest_last_fault.error & PF_PRESENT, 0);
}

KTEST(boot, expectation_that_does_not_fire_is_reported)
{
	/* ktest_expect_missed() must count a failure: check it, then take it back. */
	KEXPECT_FAULT(VEC_UD, KTEST_ANY_ADDR, { (void)0; });
	KEXPECT(ktest_contains(ktest_output(), "but the code ran without it"));
	ktest_forgive_failures(1);
}
