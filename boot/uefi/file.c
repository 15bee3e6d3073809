/*
 * boot/uefi/file.c - files on the volume BOOTX64.EFI itself came from
 * (LoadedImage->DeviceHandle), through the Simple File System protocol.
 * Nothing here prints: a missing cmdline.txt is normal, a missing
 * kernel.elf is not, and only the caller knows which it is.
 */
#include "loader.h"

EFI_STATUS file_open_boot_volume(EFI_LOADED_IMAGE *self, EFI_FILE_HANDLE *root)
{
	EFI_SIMPLE_FILE_SYSTEM_PROTOCOL *fs;
	EFI_STATUS st = BS->HandleProtocol(self->DeviceHandle, &gEfiSimpleFileSystemProtocolGuid, (void **)&fs);
	if (EFI_ERROR(st))
		return st;
	return fs->OpenVolume(fs, root);
}

EFI_STATUS file_open(EFI_FILE_HANDLE root, const CHAR16 *path, EFI_FILE_HANDLE *f)
{
	return root->Open(root, f, (CHAR16 *)path, EFI_FILE_MODE_READ, 0);
}

EFI_STATUS file_size(EFI_FILE_HANDLE f, UINT64 *size)
{
	EFI_FILE_INFO *fi = LibFileInfo(f);     /* pool memory, ours to free */
	if (!fi)
		return EFI_DEVICE_ERROR;
	*size = fi->FileSize;
	BOOLEAN dir = (fi->Attribute & EFI_FILE_DIRECTORY) != 0;
	FreePool(fi);
	return dir ? EFI_UNSUPPORTED : EFI_SUCCESS;
}

EFI_STATUS file_read_at(EFI_FILE_HANDLE f, UINT64 offset, void *buf, UINTN len)
{
	EFI_STATUS st = f->SetPosition(f, offset);
	if (EFI_ERROR(st))
		return st;
	UINT8 *p = buf;
	while (len) {
		UINTN n = len;
		st = f->Read(f, &n, p);
		if (EFI_ERROR(st))
			return st;
		if (n == 0)
			return EFI_END_OF_FILE;
		p += n;
		len -= n;
	}
	return EFI_SUCCESS;
}

void file_close(EFI_FILE_HANDLE f)
{
	if (f)
		f->Close(f);
}
