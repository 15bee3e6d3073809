# memkern - the one entry point.
#   make            build build/kernel.elf and build/memkern.iso
#   make run        boot it in QEMU, serial console on this terminal (CMDLINE="..." to pass one)
#   make test       every suite, headless, on every boot path, plus the host tests; exit status is the verdict
#   make deps       install the Debian packages the project needs (make run/test do it themselves)
#   make clean
# Overridable variables first, fixed flags after (Limine template style).

CC        ?= gcc
HOSTCC    ?= gcc
LD        := $(CC)
BUILD     ?= build
MEM       ?= 256M
CMDLINE   ?=
QEMU      ?= qemu-system-x86_64
OPT       ?= -O2
V         ?= 0
# make V=1 shows every command; by default one short line per step.
ifeq ($(V),1)
Q :=
say = @true
else
Q := @
say = @printf '  %-7s %s\n'
endif

# A bare `make` builds everything, whatever the included .mk files define first.
.DEFAULT_GOAL := all

# --- fixed: what a freestanding higher-half x86_64 kernel needs -------------
KCFLAGS := -std=gnu11 $(OPT) -g -Wall -Wextra -Werror \
	-ffreestanding -fno-stack-protector -fno-pic -fno-pie \
	-mno-red-zone -mcmodel=kernel -mno-sse -mno-sse2 -mno-mmx -mno-80387 \
	-fno-omit-frame-pointer -mno-omit-leaf-frame-pointer \
	-fno-strict-aliasing -fno-delete-null-pointer-checks -fno-toplevel-reorder -MMD -MP
KASFLAGS := -g -MMD -MP -D__ASSEMBLER__
KLDFLAGS := -nostdlib -static -no-pie -Wl,-T,linker.ld -Wl,-z,max-page-size=0x1000 \
	-Wl,--build-id=none -Wl,-n -Wl,-z,noexecstack

HOSTCFLAGS := -std=gnu11 -g -O1 -Wall -Wextra -Werror \
	-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer

# --- sources ------------------------------------------------------------------
KSRC_C := $(wildcard boot/*.c) $(wildcard kernel/*.c) $(wildcard kernel/lib/*.c) \
	$(wildcard kernel/arch/x86_64/*.c) $(wildcard alloc/*.c)
# multiboot2.S first: GRUB's _start then opens the image, as docs/boot.md shows.
KSRC_S := boot/multiboot2.S $(filter-out boot/multiboot2.S,$(wildcard boot/*.S)) $(wildcard kernel/arch/x86_64/*.S)
# Test files in the order their suites run.
KTEST_SRC := tests/kernel/ktest.c tests/kernel/test_boot.c \
	$(filter-out tests/kernel/ktest.c tests/kernel/test_boot.c tests/kernel/test_selfcheck.c,$(wildcard tests/kernel/*.c)) \
	tests/kernel/test_selfcheck.c
KOBJ := $(patsubst %,$(BUILD)/k/%.o,$(KSRC_S) $(KSRC_C) $(KTEST_SRC))

HOST_TESTS := $(patsubst tests/host/%.c,$(BUILD)/host/%,$(wildcard tests/host/test_*.c))
HOST_LIB   := $(wildcard alloc/*.c) tests/host/check.c tests/host/host_glue.c

# Parts with rules of their own: our UEFI loader (BOOTX64.EFI, UEFI_TARGETS),
# make gdb, make bench, make fuzz.
-include boot/uefi/uefi.mk
-include tools/gdb/gdb.mk
-include tools/bench/bench.mk
-include tests/fuzz/fuzz.mk

.PHONY: all iso run run-uefi test host-test deps clean
all: $(BUILD)/kernel.elf $(BUILD)/memkern.iso $(UEFI_TARGETS)

$(BUILD)/k/%.c.o: %.c
	@mkdir -p $(dir $@)
	$(say) CC $<
	$(Q)$(CC) $(KCFLAGS) -c $< -o $@

$(BUILD)/k/%.S.o: %.S
	@mkdir -p $(dir $@)
	$(say) AS $<
	$(Q)$(CC) $(KASFLAGS) -c $< -o $@

# Two links: the second embeds the symbol table of the first (kernel/ksyms.c).
$(BUILD)/ksyms0.S: tools/gen-ksyms
	@mkdir -p $(BUILD)
	$(Q)tools/gen-ksyms > $@
$(BUILD)/kernel.pass1.elf: $(KOBJ) $(BUILD)/ksyms0.o linker.ld
	$(say) LD $@
	$(Q)$(LD) $(KLDFLAGS) $(KOBJ) $(BUILD)/ksyms0.o -o $@
$(BUILD)/ksyms.S: $(BUILD)/kernel.pass1.elf tools/gen-ksyms
	$(say) KSYMS $@
	$(Q)tools/gen-ksyms $< > $@
$(BUILD)/ksyms0.o $(BUILD)/ksyms.o: %.o: %.S
	$(Q)$(CC) -c $< -o $@
$(BUILD)/kernel.elf: $(KOBJ) $(BUILD)/ksyms.o linker.ld
	$(say) LD $@
	$(Q)$(LD) $(KLDFLAGS) $(KOBJ) $(BUILD)/ksyms.o -o $@
	@tools/gen-ksyms $@ | cmp -s - $(BUILD)/ksyms.S || { echo "ksyms: symbols moved between links" >&2; rm -f $@; exit 1; }

$(BUILD)/memkern.iso: $(BUILD)/kernel.elf boot/grub.cfg
	@mkdir -p $(BUILD)/iso/boot/grub
	$(say) ISO $@
	$(Q)cp $(BUILD)/kernel.elf $(BUILD)/iso/boot/kernel.elf
	$(Q)cp boot/grub.cfg $(BUILD)/iso/boot/grub/grub.cfg
	$(Q)grub-mkrescue -o $@ $(BUILD)/iso 2> $(BUILD)/grub-mkrescue.log || { cat $(BUILD)/grub-mkrescue.log; exit 1; }

iso: $(BUILD)/memkern.iso

deps:
	@tools/install-deps

run: deps all
	@echo "memkern: booting in QEMU (serial console here). Quit: type halt at the prompt, or Ctrl-A then X."
	tools/qemu-test --interactive --mem $(MEM) -- $(CMDLINE)

run-uefi: deps all
	@echo "memkern: booting with our own UEFI loader in QEMU (serial console here). Quit: type halt at the prompt, or Ctrl-A then X."
	tools/qemu-test --interactive --boot uefi --mem $(MEM) -- $(CMDLINE)

# Host tests: the alloc/ cores under AddressSanitizer and UBSan.
$(BUILD)/host/test_%: tests/host/test_%.c $(HOST_LIB) $(wildcard alloc/*.h) tests/host/check.h \
		$(wildcard tests/host/heap_host_env.*) $(wildcard tests/host/*_util.h)
	@mkdir -p $(dir $@)
	$(say) HOSTCC $@
	$(Q)$(HOSTCC) $(HOSTCFLAGS) $< $(HOST_LIB) -o $@

host-test: $(HOST_TESTS)

test: deps all host-test
	@tools/run-tests

clean:
	rm -rf $(BUILD)

-include $(KOBJ:.o=.d)
