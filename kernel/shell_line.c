/*
 * kernel/shell_line.c - the prompt's line editor: just enough for a person
 * at a terminal (and a script on a pipe).
 *
 * Keys: printable ASCII is echoed and appended; Backspace (^H) and DEL
 * erase one character; ^U kills the line; ^W erases the word before the
 * cursor; ^C abandons the line; Enter is CR, LF or CR LF (a terminal sends
 * CR, a pipe LF, some both: an LF right after a CR is not a second Enter).
 * Escape sequences (arrow keys send ESC [ A, F1 sends ESC O P, ...) are
 * read to their end and dropped, so they never land in the line as junk.
 * There is no cursor movement: editing happens at the end of the line only.
 */
#include "shell.h"

#include "arch/x86_64/serial.h"
#include "printk.h"

#define CTRL(c) ((c) & 0x1f)
#define KEY_ESC 0x1b
#define KEY_DEL 0x7f
#define CSI_MAX 16      /* longest escape sequence we wait out */

static void echo(char c) { serial_putc(c); }

static void rub_out(size_t n)
{
	while (n--) {
		echo('\b');
		echo(' ');
		echo('\b');
	}
}

/*
 * Swallows the rest of an escape sequence whose ESC was just read:
 * CSI (ESC [ params final, final in 0x40..0x7e), SS3 (ESC O x), or a
 * two-byte ESC x. A lone ESC costs the next key; that is the price of a
 * polled UART without timers.
 */
static void skip_escape(void)
{
	int c = serial_getc();
	if (c == 'O') {
		(void)serial_getc();
	} else if (c == '[') {
		for (int i = 0; i < CSI_MAX; i++) {
			c = serial_getc();
			if (c >= 0x40 && c <= 0x7e)
				break;
		}
	}
}

size_t shell_readline(const char *prompt, char *buf, size_t size)
{
	static bool last_was_cr;
	size_t len = 0;

	printk("%s", prompt);
	for (;;) {
		int c = serial_getc();
		bool after_cr = last_was_cr;
		last_was_cr = c == '\r';
		if (c == '\n' && after_cr)
			continue;               /* the LF of a CR LF: Enter was already taken */
		if (c == '\r' || c == '\n') {
			echo('\n');
			break;
		}
		if (c == '\t')
			c = ' ';
		if (c == '\b' || c == KEY_DEL) {
			if (len) {
				len--;
				rub_out(1);
			}
		} else if (c == CTRL('U')) {
			rub_out(len);
			len = 0;
		} else if (c == CTRL('W')) {
			size_t n = len;
			while (n && buf[n - 1] == ' ')
				n--;
			while (n && buf[n - 1] != ' ')
				n--;
			rub_out(len - n);
			len = n;
		} else if (c == CTRL('C')) {
			printk("^C\n");
			len = 0;
			break;
		} else if (c == KEY_ESC) {
			skip_escape();
		} else if (c >= ' ' && c < KEY_DEL) {
			if (len + 1 < size) {
				buf[len++] = (char)c;
				echo((char)c);
			} else {
				echo('\a');     /* full: ring the bell, drop the key */
			}
		}
		/* Any other control byte or non-ASCII byte is ignored. */
	}
	buf[len] = 0;
	return len;
}
