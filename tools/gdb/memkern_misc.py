"""tools/gdb/memkern_misc.py - the small commands: memkern-regs, pferr, dis32, memkern-connect.

Loaded (and registered) through tools/gdb/memkern.py.
"""
import subprocess
import tempfile
import time

import gdb

import memkern_defs as D
from memkern_mem import _need_target, describe_symbol, parse_addr, read_virt, reg, reg_or, split_args
from memkern_paging import cpu_paging_state, whose_tables


class MemkernRegs(gdb.Command):
    """memkern-regs: CR0, CR3, CR4, EFER decoded; the paging mode and whose tables CR3 holds."""

    def __init__(self):
        super().__init__("memkern-regs", gdb.COMMAND_STATUS)

    def invoke(self, arg, from_tty):
        _need_target()
        cr0, cr3, cr4 = reg("cr0"), reg("cr3"), reg_or("cr4", 0)
        efer = reg_or("efer", None)
        bits = lambda v, names: " ".join(n for b, n in names if v & (1 << b)) or "-"  # noqa: E731
        print(f"CR0  {cr0:#018x}  {bits(cr0, ((0, 'PE'), (16, 'WP'), (31, 'PG')))}")
        print(f"CR3  {cr3:#018x}  root table {cr3 & D.PTE_ADDR:#x}: {whose_tables(cr3)}")
        print(f"CR4  {cr4:#018x}  {bits(cr4, ((5, 'PAE'), (7, 'PGE'), (12, 'LA57')))}")
        if efer is not None:
            print(f"EFER {efer:#018x}  {bits(efer, ((8, 'LME'), (10, 'LMA'), (11, 'NXE')))}")
        pg, lm, nxe, wp = cpu_paging_state()
        mode = ("paging off: addresses are physical" if not pg else
                "4-level long-mode paging" if lm else "paging on, not long mode")
        print(f"mode: {mode}; NX {'on' if nxe else 'off'}; "
              f"ring 0 {'honours' if wp else 'ignores'} read-only pages (CR0.WP)")
        print(f"RIP  {reg('rip'):#018x}  {describe_symbol(reg('rip')) or ''}")
        try:
            cr2 = reg("cr2")
            print(f"CR2  {cr2:#018x}  (the last page-fault address)")
        except gdb.GdbError:
            pass


class PfErr(gdb.Command):
    """pferr CODE: decode a page-fault error code (e.g. pferr f->error in trap_dispatch).

Bit 0 P: the page was present (a protection violation) or not; bit 1 W: a
write; bit 2 U: from user mode; bit 3 RSVD: a reserved bit was set in an
entry; bit 4 I/D: an instruction fetch."""

    def __init__(self):
        super().__init__("pferr", gdb.COMMAND_DATA)

    def invoke(self, arg, from_tty):
        if not arg.strip():
            raise gdb.GdbError("usage: pferr CODE")
        e = parse_addr(arg)
        what = "instruction fetch" if e & 16 else "write" if e & 2 else "read"
        print(f"page-fault error {e:#x}: {'protection violation (the page is present)' if e & 1 else 'page not present'}"
              f", {what}, {'user' if e & 4 else 'kernel'} mode" + (", reserved bit set in an entry" if e & 8 else ""))


class Dis32(gdb.Command):
    """dis32 [ADDR [N]]: disassemble N (default 10) instructions at ADDR (default $pc) as 32-bit code.

GDB connected to qemu-system-x86_64 always uses the 64-bit architecture (see
docs/gdb-paging.md), so x/i decodes the 32-bit boot code as 64-bit code: a
one-byte inc %ecx (0x41) reads as a REX prefix. This runs objdump -m i386 on
the bytes instead."""

    def __init__(self):
        super().__init__("dis32", gdb.COMMAND_DATA)

    def invoke(self, arg, from_tty):
        pos, _ = split_args(arg)
        addr = parse_addr(pos[0]) if pos else reg("rip")
        n = int(parse_addr(pos[1])) if len(pos) > 1 else 10
        data = read_virt(addr, n * 15)
        with tempfile.NamedTemporaryFile(suffix=".bin") as f:
            f.write(data)
            f.flush()
            try:
                out = subprocess.run(["objdump", "-D", "-b", "binary", "-m", "i386", f"--adjust-vma={addr:#x}",
                                      f.name], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True).stdout
            except OSError as e:
                raise gdb.GdbError(f"objdump not found ({e}): install binutils")
        lines = [l for l in out.splitlines() if l.strip() and ":\t" in l]
        for l in lines[:n]:
            a = int(l.split(":")[0], 16)
            sym = describe_symbol(a)
            mark = "=>" if a == reg("rip") else "  "
            print(f"{mark} {l.strip()}" + (f"    <{sym.split(' in section')[0]}>" if sym else ""))

class Connect(gdb.Command):
    """memkern-connect PORT [SECONDS]: target remote 127.0.0.1:PORT, retrying while QEMU starts up.

QEMU opens its GDB port a moment after it starts; this retries for SECONDS
(default 15) instead of failing on the first 'Connection refused'."""

    def __init__(self):
        super().__init__("memkern-connect", gdb.COMMAND_RUNNING)

    def invoke(self, arg, from_tty):
        args = arg.split()
        if not args:
            raise gdb.GdbError("usage: memkern-connect PORT [SECONDS]")
        deadline = time.monotonic() + (float(args[1]) if len(args) > 1 else 15)
        while True:
            try:
                gdb.execute(f"target remote 127.0.0.1:{int(args[0])}", from_tty=from_tty)
                return
            except gdb.error as e:
                if time.monotonic() > deadline:
                    raise gdb.GdbError(f"no GDB stub on port {args[0]}: {e}")
                time.sleep(0.2)
