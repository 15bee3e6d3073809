/*
 * kernel/shell.c - the memkern> prompt: read a line, split it into words,
 * find the command, check its argument count, run it, and prompt again.
 * The commands live in shell_phys.c, shell_virt.c and shell_heap.c; the
 * few that only call another layer (help, check, dump, test, halt) are here.
 */
#include "shell.h"


#include "cmdline.h"
#include "kheap.h"
#include "lib/string.h"
#include "panic.h"
#include "pmm.h"
#include "printk.h"
#include "vmm.h"
#include "arch/x86_64/cpu.h"
#include "arch/x86_64/serial.h"
#include "../tests/kernel/ktest.h"

#define PROMPT "memkern> "

static const struct boot_info *bootinfo;

const struct boot_info *shell_bootinfo(void) { return bootinfo; }

bool shell_num(const char *cmd, const char *what, const char *s, uint64_t *out)
{
	if (parse_u64(s, out))
		return true;
	printk("%s: bad %s \"%s\": use decimal, 0x hex, or a K/M/G suffix (4096, 0x1000, 4K)\n", cmd, what, s);
	return false;
}

static void cmd_help(int argc, char **argv);

static void cmd_check(int argc, char **argv)
{
	(void)argc, (void)argv;
	char why[160];
	if (kheap_check(why, sizeof why) == 0)
		printk("heap_check: ok\n");
	else
		printk("heap_check: FAILED: %s\n", why);
	if (pmm_check(why, sizeof why) == 0)
		printk("pmm_check: ok\n");
	else
		printk("pmm_check: FAILED: %s\n", why);
	printk("W^X audit: %lu page(s) both writable and executable\n", vmm_audit_wx(true));
}

static void cmd_dump(int argc, char **argv)
{
	(void)argc, (void)argv;
	shell_dump_memmap();
	shell_dump_pmm();
	shell_dump_heap();
}

/*
 * Whether the ktest= list names the selfcheck suite, whose tests go wrong on
 * purpose (a panic, a triple fault, a hang) to prove the host's verdicts:
 * at the prompt they would end the session, which no command may do.
 */
static bool names_selfcheck(const char *spec)
{
	static const char suite[] = "selfcheck";
	for (const char *p = spec; *p;) {
		const char *e = p;
		while (*e && *e != ',')
			e++;
		size_t n = (size_t)(e - p);
		if (n >= sizeof suite - 1 && strncmp(p, suite, sizeof suite - 1) == 0 &&
		    (n == sizeof suite - 1 || p[sizeof suite - 1] == '.'))
			return true;
		p = *e ? e + 1 : e;
	}
	return false;
}

static void cmd_test(int argc, char **argv)
{
	uint64_t seed;
	if (names_selfcheck(argv[1])) {
		printk("test: the selfcheck tests panic, triple-fault or hang on purpose; boot with ktest=%s instead\n",
		       argv[1]);
		return;
	}
	if (argc > 2) {
		if (!shell_num(argv[0], "seed", argv[2], &seed))
			return;
	} else {
		seed = rdtsc() & 0xffffffff;
	}
	if (shell_live_blocks())
		printk("# note: %zu block(s) from alloc at this prompt are live; tests that expect an empty heap may fail\n",
		       shell_live_blocks());
	int failed = ktest_run_pattern(argv[1], seed);
	printk("test: %s\n", failed ? "FAILED (see the not ok lines above)" : "all passed");
}

static void cmd_halt(int argc, char **argv)
{
	(void)argc, (void)argv;
	printk("memkern: halt\n");
	kernel_exit(EXIT_PASS);
}

struct command {
	const char *name, *args, *help;
	int min_args, max_args;         /* words after the name */
	void (*fn)(int argc, char **argv);
};

static const struct command commands[] = {
	{ "help", "", "this list", 0, 0, cmd_help },
	{ "memmap", "[dump]", "the normalized physical memory map (dump: MEMMAP lines for tools/memviz)",
	  0, 1, shell_cmd_memmap },
	{ "pmm", "[dump]", "free blocks per order and frame totals (dump: PMM runs for tools/memviz)",
	  0, 1, shell_cmd_pmm },
	{ "ptwalk", "VA", "the page-table walk of VA, level by level", 1, 1, shell_cmd_ptwalk },
	{ "ptdump", "[FROM TO]", "mapped virtual ranges, merged, with their rights", 0, 2, shell_cmd_ptdump },
	{ "peek", "VA [LEN]", "hex dump of up to 256 bytes of mapped RAM (never faults)", 1, 2, shell_cmd_peek },
	{ "alloc", "SIZE [COUNT]", "kmalloc(SIZE), COUNT times (default 1); prints each pointer or NULL",
	  1, 2, shell_cmd_alloc },
	{ "free", "ADDR", "kfree(ADDR); misuse gets the heap's report line", 1, 1, shell_cmd_free },
	{ "realloc", "ADDR SIZE", "krealloc(ADDR, SIZE); prints the new pointer or NULL", 2, 2, shell_cmd_realloc },
	{ "heap", "", "heap statistics and the first blocks", 0, 0, shell_cmd_heap },
	{ "heapmap", "[dump]", "every heap block and a map of the break (dump: HEAP lines for tools/memviz)",
	  0, 1, shell_cmd_heapmap },
	{ "brk", "", "the break, the heap window and the large-block window", 0, 0, shell_cmd_brk },
	{ "check", "", "heap_check, pmm_check and the W^X audit", 0, 0, cmd_check },
	{ "dump", "", "memmap dump, pmm dump and heapmap dump at once (save the log, run tools/memviz)",
	  0, 0, cmd_dump },
	{ "test", "SUITE [SEED]", "run kernel tests, ktest= syntax: all, heap, pmm.alloc_free_page, vmm,heap",
	  1, 2, cmd_test },
	{ "halt", "", "end the QEMU run (pass exit code)", 0, 0, cmd_halt },
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

static void cmd_help(int argc, char **argv)
{
	(void)argc, (void)argv;
	printk("commands (numbers: decimal, 0x hex, K/M/G suffix):\n");
	for (size_t i = 0; i < NCOMMANDS; i++) {
		char usage[40];
		snprintf(usage, sizeof usage, "%s %s", commands[i].name, commands[i].args);
		printk("  %-22s %s\n", usage, commands[i].help);
	}
	printk("keys: Backspace/DEL erase, Ctrl-U kills the line, Ctrl-W a word, Ctrl-C abandons it\n");
}

static int split(char *line, char **argv)
{
	int argc = 0;
	char *p = line;
	for (;;) {
		while (*p == ' ')
			p++;
		if (!*p)
			return argc;
		if (argc == SHELL_MAX_ARGS)
			return argc + 1;        /* too many: the caller says so */
		argv[argc++] = p;
		while (*p && *p != ' ')
			p++;
		if (*p)
			*p++ = 0;
	}
}

static void run_line(char *line)
{
	char *argv[SHELL_MAX_ARGS];
	int argc = split(line, argv);
	if (argc == 0)
		return;
	if (argc > SHELL_MAX_ARGS) {
		printk("too many words (at most %d)\n", SHELL_MAX_ARGS);
		return;
	}
	for (size_t i = 0; i < NCOMMANDS; i++) {
		const struct command *c = &commands[i];
		if (strcmp(argv[0], c->name) != 0)
			continue;
		if (argc - 1 < c->min_args)
			printk("%s: missing argument (usage: %s %s)\n", c->name, c->name, c->args);
		else if (argc - 1 > c->max_args)
			printk("%s: too many arguments (usage: %s%s%s)\n", c->name, c->name, c->args[0] ? " " : "",
			       c->args);
		else
			c->fn(argc, argv);
		return;
	}
	printk("unknown command \"%s\" (type help for the list)\n", argv[0]);
}

void shell_main(const struct boot_info *info)
{
	char mode[8];
	if (cmdline_get("shell", mode, sizeof mode) && strcmp(mode, "off") == 0)
		return;
	bootinfo = info;
	serial_enable_rx_irq();         /* wait for keys in hlt, not in a busy loop */
	printk("memkern: the prompt is ready on the serial console: type help for the commands, halt to leave QEMU\n");
	for (;;) {
		char line[SHELL_LINE_MAX];
		shell_readline(PROMPT, line, sizeof line);
		run_line(line);
	}
}
