# tools/gdb/gdb.mk - make gdb (included by the top Makefile).
#
#   make gdb                         QEMU paused with its GDB stub on a free port, GDB attached
#                                    with build/kernel.elf's symbols and our commands
#                                    (tools/gdb/memkern.py), stopped at kmain
#   make gdb CMDLINE="ktest=vmm.fault_null" MEM=1G
#   make gdb GDB_BREAK=_start        stop in the 32-bit boot code instead
#   make gdb-test                    just the GDB batch tests (make test runs them too)
#
# docs/gdb-paging.md walks through a session.

GDB_BREAK ?= kmain
GDB_BOOT  ?= bios

.PHONY: gdb gdb-test
gdb: deps all
	BUILD=$(BUILD) tools/gdb/run-gdb --mem $(MEM) --boot $(GDB_BOOT) --break $(GDB_BREAK) -- $(CMDLINE)

gdb-test: all
	BUILD=$(BUILD) tests/gdb/run
