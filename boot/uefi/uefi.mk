# boot/uefi/uefi.mk - our own UEFI loader, BOOTX64.EFI, built with GNU-EFI.
# Included by the Makefile before its `all:` rule; everything lands in $(BUILD)/uefi/.
# GNU-EFI's way: compile position-independent with the System V ABI (firmware
# calls go through EFIAPI = ms_abi pointers, GNU_EFI_USE_MS_ABI), link a
# shared object with its crt0 and linker script, then objcopy it into a PE32+
# EFI application (subsystem 10).

EFI_INC     ?= /usr/include/efi
EFI_LIB     ?= /usr/lib
EFI_LD      ?= ld
EFI_OBJCOPY ?= objcopy

UEFI_CFLAGS := -std=gnu11 -O2 -g -Wall -Wextra -Werror \
	-ffreestanding -fpic -fshort-wchar -fno-stack-protector -fno-stack-check \
	-fno-strict-aliasing -mno-red-zone \
	-DGNU_EFI_USE_MS_ABI -I$(EFI_INC) -I$(EFI_INC)/x86_64 -MMD -MP
UEFI_LDFLAGS := -nostdlib -shared -Bsymbolic -znocombreloc --no-undefined \
	-T $(EFI_LIB)/elf_x86_64_efi.lds -L$(EFI_LIB)

UEFI_SRC := $(wildcard boot/uefi/*.c)
UEFI_OBJ := $(patsubst boot/uefi/%.c,$(BUILD)/uefi/%.o,$(UEFI_SRC))

UEFI_TARGETS := $(BUILD)/uefi/BOOTX64.EFI

# This file is read before the Makefile's `all:`; without this its first
# explicit rule below would become what a bare `make` builds.
ifeq ($(.DEFAULT_GOAL),)
.DEFAULT_GOAL := all
endif

$(BUILD)/uefi/%.o: boot/uefi/%.c boot/uefi/uefi.mk
	@mkdir -p $(dir $@)
	$(say) CC $<
	$(Q)$(CC) $(UEFI_CFLAGS) -c $< -o $@

$(BUILD)/uefi/loader.so: $(UEFI_OBJ) $(EFI_LIB)/crt0-efi-x86_64.o $(EFI_LIB)/elf_x86_64_efi.lds
	$(say) LD $@
	$(Q)$(EFI_LD) $(UEFI_LDFLAGS) $(EFI_LIB)/crt0-efi-x86_64.o $(UEFI_OBJ) -lefi -lgnuefi -o $@

$(BUILD)/uefi/BOOTX64.EFI: $(BUILD)/uefi/loader.so
	$(say) OBJCOPY $@
	$(Q)$(EFI_OBJCOPY) -j .text -j .sdata -j .data -j .dynamic -j .dynsym -j .rel -j .rela \
		-j .rel.* -j .rela.* -j .reloc --target efi-app-x86_64 --subsystem=10 $< $@

-include $(UEFI_OBJ:.o=.d)
