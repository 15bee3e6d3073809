/* kernel/cmdline.c - reading the kernel command line (see cmdline.h). */
#include "cmdline.h"

#include "printk.h"
#include "lib/string.h"

static char line[512];

void cmdline_init(const char *cmdline)
{
	strlcpy(line, cmdline ? cmdline : "", sizeof line);
}

const char *cmdline_raw(void) { return line; }

bool cmdline_get(const char *key, char *buf, size_t size)
{
	size_t klen = strlen(key);
	const char *p = line;
	while (*p) {
		while (*p == ' ')
			p++;
		const char *word = p;
		while (*p && *p != ' ')
			p++;
		size_t wlen = (size_t)(p - word);
		if (wlen >= klen && strncmp(word, key, klen) == 0 && (wlen == klen || word[klen] == '=')) {
			const char *v = wlen == klen ? word + klen : word + klen + 1;
			size_t vlen = (size_t)(p - v);
			if (size) {
				size_t c = vlen < size - 1 ? vlen : size - 1;
				memcpy(buf, v, c);
				buf[c] = 0;
			}
			return true;
		}
	}
	return false;
}

bool parse_u64(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	unsigned base = 10;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
	}
	const char *digits = s;
	for (; *s; s++) {
		unsigned d;
		if (*s >= '0' && *s <= '9')
			d = (unsigned)(*s - '0');
		else if (base == 16 && *s >= 'a' && *s <= 'f')
			d = (unsigned)(*s - 'a' + 10);
		else if (base == 16 && *s >= 'A' && *s <= 'F')
			d = (unsigned)(*s - 'A' + 10);
		else
			break;
		if (v > (UINT64_MAX - d) / base)
			return false;           /* overflow */
		v = v * base + d;
	}
	if (s == digits)
		return false;           /* no digit: "", "0x", or a bare suffix like "K" */
	unsigned shift = 0;
	if (*s == 'K' || *s == 'k')
		shift = 10;
	else if (*s == 'M' || *s == 'm')
		shift = 20;
	else if (*s == 'G' || *s == 'g')
		shift = 30;
	else if (*s)
		return false;
	if (shift) {
		if (s[1] || v > (UINT64_MAX >> shift))
			return false;
		v <<= shift;
	}
	*out = v;
	return true;
}

bool cmdline_get_u64(const char *key, uint64_t *out)
{
	char buf[64];

	if (!cmdline_get(key, buf, sizeof buf))
		return false;
	uint64_t v;
	if (!buf[0]) {
		printk("cmdline: %s needs a number (%s=N); ignored\n", key, key);
		return false;
	}
	/* A value that filled buf was cut short: refuse it rather than read a prefix. */
	if (strlen(buf) >= sizeof buf - 1) {
		printk("cmdline: %s=%s... is too long for a number; ignored\n", key, buf);
		return false;
	}
	if (!parse_u64(buf, &v)) {
		printk("cmdline: %s=%s is not a number (decimal, 0x hex, K/M/G suffix); ignored\n", key, buf);
		return false;
	}
	*out = v;
	return true;
}
