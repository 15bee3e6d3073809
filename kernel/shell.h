/*
 * kernel/shell.h - the memkern> prompt on the serial console.
 *
 * When the command line has no ktest=, the boot ends here: a line editor
 * (shell_line.c) reads commands that look at and exercise memory. Each
 * command family has its own file: shell_phys.c (memmap, pmm), shell_virt.c
 * (ptwalk, ptdump, peek, brk), shell_heap.c (alloc, free, realloc, heap,
 * heapmap), shell.c (the loop, help, test, check, dump, halt).
 *
 * Nothing a command does may crash the kernel: every address a command
 * reads is translated first, allocation failure prints NULL, misuse of the
 * heap gets the heap's own report line. There is no command that writes
 * arbitrary memory.
 *
 * The "dump" forms print machine-readable blocks between "BEGIN X" and
 * "END X" lines for tools/memviz (format: docs/memory-pictures.md).
 */
#ifndef KERNEL_SHELL_H
#define KERNEL_SHELL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../boot/bootinfo.h"

/*
 * Runs the prompt until `halt` (which ends the QEMU run with the pass code).
 * With shell=off on the command line it returns at once instead, so a
 * headless boot without ktest= can still end by itself.
 */
void shell_main(const struct boot_info *info);

/* --- for the kernel/shell*.c files only ---------------------------------- */

#define SHELL_LINE_MAX  160
#define SHELL_MAX_ARGS  8

/*
 * Prints prompt and reads one line with echo and editing (backspace/DEL,
 * Ctrl-U, Ctrl-W, Ctrl-C; escape sequences are swallowed). Returns its
 * length; buf is always NUL-terminated. Blocks until Enter.
 */
size_t shell_readline(const char *prompt, char *buf, size_t size);

/*
 * Parses s as a number (decimal, 0x hex, K/M/G suffix: parse_u64). On junk
 * prints "CMD: bad WHAT "s" ..." and returns false.
 */
bool shell_num(const char *cmd, const char *what, const char *s, uint64_t *out);

const struct boot_info *shell_bootinfo(void);

/* Commands: argv[0] is the command name; the dispatcher checked argc. */
void shell_cmd_memmap(int argc, char **argv);
void shell_cmd_pmm(int argc, char **argv);
void shell_cmd_ptwalk(int argc, char **argv);
void shell_cmd_ptdump(int argc, char **argv);
void shell_cmd_peek(int argc, char **argv);
void shell_cmd_brk(int argc, char **argv);
void shell_cmd_alloc(int argc, char **argv);
void shell_cmd_free(int argc, char **argv);
void shell_cmd_realloc(int argc, char **argv);
void shell_cmd_heap(int argc, char **argv);
void shell_cmd_heapmap(int argc, char **argv);

/* Blocks handed out at the prompt and not freed yet. */
size_t shell_live_blocks(void);

/* The machine-readable blocks (also used by `dump`). */
void shell_dump_memmap(void);
void shell_dump_pmm(void);
void shell_dump_heap(void);

#endif
