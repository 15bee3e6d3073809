/*
 * boot/uefi/acpi.c - where the ACPI tables start. UEFI lists the RSDP in
 * its configuration table, under one GUID for ACPI 2.0+ (an RSDP with the
 * XSDT address) and another for ACPI 1.0; we prefer the first. The RSDP
 * lives in memory the firmware keeps (ACPI reclaim or NVS, or reserved),
 * so the kernel may read it later at this address.
 */
#include "loader.h"

static EFI_GUID acpi20_guid = ACPI_20_TABLE_GUID;
static EFI_GUID acpi10_guid = ACPI_TABLE_GUID;

static BOOLEAN is_rsdp(const UINT8 *p)
{
	return p && CompareMem(p, "RSD PTR ", 8) == 0;
}

UINT64 acpi_find_rsdp(EFI_SYSTEM_TABLE *st, UINT32 *revision)
{
	const UINT8 *v1 = NULL, *v2 = NULL;
	for (UINTN i = 0; i < st->NumberOfTableEntries; i++) {
		EFI_CONFIGURATION_TABLE *t = &st->ConfigurationTable[i];
		if (!CompareGuid(&t->VendorGuid, &acpi20_guid) && is_rsdp(t->VendorTable))
			v2 = t->VendorTable;
		else if (!CompareGuid(&t->VendorGuid, &acpi10_guid) && is_rsdp(t->VendorTable))
			v1 = t->VendorTable;
	}
	const UINT8 *r = v2 ? v2 : v1;
	*revision = r ? r[15] : 0;      /* RSDP byte 15: 0 for ACPI 1.0, 2 for 2.0+ */
	return (UINT64)(UINTN)r;
}
