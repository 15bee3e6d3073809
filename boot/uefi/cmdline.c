/*
 * boot/uefi/cmdline.c - the kernel command line.
 *
 * First choice: \memkern\cmdline.txt beside the kernel (what tools/qemu-test
 * writes for each run, and what a person edits on a real ESP). One line is
 * expected; a trailing newline (and CR, spaces) is dropped, and any other
 * line break or tab becomes a space, so a file edited on any system works.
 * If the file is not there: the image's load options, which the UEFI shell
 * or a boot entry (efibootmgr -u) pass as UCS-2 text; from the shell the
 * first word is the program's own name and is dropped. Firmware boot
 * managers may pass binary data instead: anything not printable ASCII means
 * "no command line".
 */
#include "loader.h"

static BOOLEAN is_space(CHAR16 c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

static EFI_STATUS from_file(EFI_FILE_HANDLE f, char *out, UINTN size)
{
	UINT64 fsize;
	EFI_STATUS st = file_size(f, &fsize);
	if (EFI_ERROR(st))
		return fail(st, L"cannot get the size of %s: %r", CMDLINE_PATH, st);
	char buf[BOOTINFO_CMDLINE_MAX + 64];    /* room for line ends and trailing spaces */
	if (fsize >= sizeof buf)
		return fail(EFI_BAD_BUFFER_SIZE, L"%s is %ld bytes; the kernel command line holds at most %d",
			    CMDLINE_PATH, fsize, (int)size - 1);
	if (EFI_ERROR((st = file_read_at(f, 0, buf, fsize))))
		return fail(st, L"cannot read %s: %r", CMDLINE_PATH, st);
	UINTN n = fsize;
	while (n && is_space((UINT8)buf[n - 1]))
		n--;
	if (n >= size)
		return fail(EFI_BAD_BUFFER_SIZE, L"the command line in %s is %d bytes; the kernel takes at most %d",
			    CMDLINE_PATH, (int)n, (int)size - 1);
	for (UINTN i = 0; i < n; i++) {
		UINT8 c = (UINT8)buf[i];
		if (c == 0 || c >= 0x7f)
			return fail(EFI_INVALID_PARAMETER, L"%s holds a byte 0x%02x at offset %d: the command line must be ASCII text",
				    CMDLINE_PATH, c, (int)i);
		out[i] = is_space(c) ? ' ' : (char)c;
	}
	out[n] = 0;
	return EFI_SUCCESS;
}

static BOOLEAN ends_with_efi(const CHAR16 *s, UINTN n)
{
	if (n < 4 || s[n - 4] != '.')
		return FALSE;
	return (s[n - 3] | 0x20) == 'e' && (s[n - 2] | 0x20) == 'f' && (s[n - 1] | 0x20) == 'i';
}

/* Returns FALSE if the options are not text we can pass on. */
static BOOLEAN from_options(const EFI_LOADED_IMAGE *self, char *out, UINTN size)
{
	const CHAR16 *s = self->LoadOptions;
	UINTN n = self->LoadOptionsSize / sizeof(CHAR16);
	if (!s || self->LoadOptionsSize % sizeof(CHAR16))
		return FALSE;
	for (UINTN i = 0; i < n && s[i]; i++)
		if (s[i] >= 0x7f || (s[i] < 0x20 && !is_space(s[i])))
			return FALSE;
	UINTN len = 0;
	while (len < n && s[len])
		len++;
	UINTN i = 0;
	while (i < len && is_space(s[i]))
		i++;
	UINTN word = i;
	while (i < len && !is_space(s[i]))
		i++;
	if (!ends_with_efi(s + word, i - word))
		i = word;       /* not our own name: the first word is the kernel's */
	while (i < len && is_space(s[i]))
		i++;
	while (len > i && is_space(s[len - 1]))
		len--;
	if (len - i >= size)
		return FALSE;
	UINTN o = 0;
	for (; i < len; i++)
		out[o++] = is_space(s[i]) ? ' ' : (char)s[i];
	out[o] = 0;
	return TRUE;
}

EFI_STATUS cmdline_read(EFI_FILE_HANDLE root, EFI_LOADED_IMAGE *self, char *out, UINTN size,
			const CHAR16 **source)
{
	EFI_FILE_HANDLE f;
	out[0] = 0;
	EFI_STATUS st = file_open(root, CMDLINE_PATH, &f);
	if (!EFI_ERROR(st)) {
		*source = CMDLINE_PATH;
		st = from_file(f, out, size);
		file_close(f);
		return st;
	}
	if (st != EFI_NOT_FOUND)
		return fail(st, L"cannot open %s: %r", CMDLINE_PATH, st);
	if (from_options(self, out, size)) {
		*source = L"the load options";
		return EFI_SUCCESS;
	}
	out[0] = 0;
	*source = NULL;
	return EFI_SUCCESS;
}
