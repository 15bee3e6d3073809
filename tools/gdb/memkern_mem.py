"""tools/gdb/memkern_mem.py - reading the guest: registers, symbols, arguments, memory.

Shared by the memkern GDB commands (loaded through tools/gdb/memkern.py):
small helpers (registers of the CPU now, GDB expressions to addresses,
command arguments, kernel variables by source file) and the two memory
readers, PhysMem (physical memory) and VirtMem (virtual memory, cached).

How physical memory is read. The GDB stub in QEMU reads *virtual* memory
through whatever page tables CR3 points at right now. Page tables hold
physical addresses, so to read a table at physical PA we read the virtual
address DIRECT_MAP_BASE + PA, the kernel's direct map, exactly as the kernel
itself does (phys_to_virt). That works:
  - after vmm_init: the direct map covers all RAM;
  - between the switch to long mode and vmm_init: the boot tables in
    boot/multiboot2.S map the first 4 GiB there (PML4[256]), and
    kernel/early_map.c stretches that over all RAM before pmm_init;
  - with paging off (the 32-bit boot code): virtual = physical, so PA is read as is.
When the direct map does not cover PA (a hole, or a page a test unmapped), we
fall back to QEMU's physical-memory mode (maint packet Qqemu.PhyMemMode:1) for
that read and say so.
"""
import struct

import gdb

import memkern_defs as D

MASK64 = (1 << 64) - 1


# --- small helpers -------------------------------------------------------------

def _need_target():
    """Raises a readable error when GDB is not connected to a stopped target."""
    try:
        gdb.newest_frame()
    except gdb.error as e:
        raise gdb.GdbError(f"no stopped target to read ({e}): connect first (make gdb does; "
                           "or target remote :PORT)")


def reg(name):
    """A register of the CPU as it is now (not of the frame selected with up/down)."""
    try:
        return int(gdb.newest_frame().read_register(name)) & MASK64
    except (gdb.error, ValueError) as e:
        raise gdb.GdbError(f"cannot read register {name}: {e}")


def reg_or(name, default):
    try:
        return int(gdb.newest_frame().read_register(name)) & MASK64
    except (gdb.error, ValueError):
        return default


def parse_addr(expr):
    """An address from a GDB expression: 0x..., a pointer, $cr2, &pmm, gdbcheck.heap_ptr."""
    try:
        v = gdb.parse_and_eval(expr)
    except gdb.error as e:
        raise gdb.GdbError(f"cannot evaluate '{expr}': {e}")
    t = v.type.strip_typedefs()
    if t.code in (gdb.TYPE_CODE_ARRAY, gdb.TYPE_CODE_STRUCT, gdb.TYPE_CODE_UNION, gdb.TYPE_CODE_FUNC):
        if v.address is None:
            raise gdb.GdbError(f"'{expr}' has no address")
        v = v.address
    try:
        return int(v) & MASK64
    except (gdb.error, ValueError) as e:
        raise gdb.GdbError(f"'{expr}' is not an address: {e}")


def split_args(arg):
    """(positional expressions, {key: expr}) from 'a b cr3=x'."""
    pos, kw = [], {}
    for tok in gdb.string_to_argv(arg):
        if "=" in tok and tok.split("=", 1)[0].isidentifier() and not tok.startswith("$"):
            k, v = tok.split("=", 1)
            kw[k] = v
        else:
            pos.append(tok)
    return pos, kw


def split_kw(arg, keys):
    """(the rest as one expression, {key: expr}) for trailing 'key=EXPR' words (no spaces in EXPR)."""
    kw, words = {}, arg.split()
    while words and "=" in words[-1] and words[-1].split("=", 1)[0] in keys:
        k, v = words.pop().split("=", 1)
        kw[k] = v
    return " ".join(words), kw


def read_virt(addr, n):
    return bytes(gdb.selected_inferior().read_memory(addr, n))


def kernel_symbol(name, file_suffix):
    """The value of a (usually static) variable in one source file: 'pmm' in kernel/pmm.c."""
    try:
        for s in gdb.lookup_static_symbols(name):
            if s.symtab is not None and s.symtab.filename.endswith(file_suffix):
                return s.value()
        s = gdb.lookup_global_symbol(name)
        if s is not None and s.symtab is not None and s.symtab.filename.endswith(file_suffix):
            return s.value()
    except gdb.error:
        pass
    raise gdb.GdbError(f"no symbol '{name}' from {file_suffix}: is build/kernel.elf the image that is running?")


def unreadable(value, name):
    """Raises a readable error if a kernel variable cannot be read at this stop."""
    try:
        value.fetch_lazy()
    except (gdb.MemoryError, gdb.error) as e:
        raise gdb.GdbError(f"cannot read '{name}' at {int(value.address):#x} ({e}): the kernel's variables "
                           "are reachable only once the boot code has paging on and the higher half mapped")


def symbol_int(name, file_suffix):
    """int() of a kernel variable, or None when it is unknown or unreadable (paging off, unmapped)."""
    try:
        return int(kernel_symbol(name, file_suffix))
    except (gdb.GdbError, gdb.error, gdb.MemoryError):
        return None


def symbol_addr(name):
    """Address of a symbol, with or without debug info (asm labels like boot_pml4 have none)."""
    try:
        return int(gdb.parse_and_eval(f"(unsigned long)&{name}")) & MASK64
    except gdb.error:
        return None


def field(value, name, default=None):
    try:
        return value[name]
    except gdb.error:
        return default


def describe_symbol(addr):
    try:
        out = gdb.execute(f"info symbol {addr:#x}", to_string=True).strip()
        return None if out.startswith("No symbol") else out
    except gdb.error:
        return None


def kib(n):
    if n >= 1 << 30 and n % (1 << 30) == 0:
        return f"{n >> 30} GiB"
    if n >= 1 << 20 and n % (1 << 20) == 0:
        return f"{n >> 20} MiB"
    if n >= 1024 and n % 1024 == 0:
        return f"{n >> 10} KiB"
    return f"{n} bytes"


# --- physical memory --------------------------------------------------------------

class PhysMem:
    """Reads physical memory at one stop (see the module comment for how)."""

    def __init__(self):
        _need_target()
        self.cr0 = reg("cr0")
        self.paging = bool(self.cr0 & D.CR0_PG)
        self.cache = {}
        self.fallbacks = 0
        self.how = ("paging is off (CR0.PG=0): virtual = physical, tables read as is" if not self.paging
                    else f"tables read through the direct map ({D.DIRECT_MAP_BASE:#x} + pa)")

    def _phys_mode_read(self, pa, n):
        out = gdb.execute("maint packet Qqemu.PhyMemMode:1", to_string=True)
        if "OK" not in out:
            raise gdb.GdbError(f"physical {pa:#x} is not in the direct map, and this GDB stub has no "
                               "physical-memory mode (QEMU's Qqemu.PhyMemMode)")
        try:
            return read_virt(pa, n)
        finally:
            gdb.execute("maint packet Qqemu.PhyMemMode:0", to_string=True)

    def page(self, pa):
        pa &= ~0xFFF
        if pa in self.cache:
            return self.cache[pa]
        if not self.paging:
            data = read_virt(pa, 4096)
        else:
            try:
                data = read_virt(D.DIRECT_MAP_BASE + pa, 4096)
            except gdb.MemoryError:
                data = self._phys_mode_read(pa, 4096)
                self.fallbacks += 1
                if "QEMU" not in self.how:
                    self.how += ("; QEMU physical-memory mode for what the direct map does not cover "
                                 f"(first: {pa:#x})")
        self.cache[pa] = data
        return data

    def table(self, pa):
        return struct.unpack("<512Q", self.page(pa))

    def u64(self, pa):
        off = pa & 0xFFF
        return struct.unpack_from("<Q", self.page(pa), off)[0]


class VirtMem:
    """Cached reads of virtual memory, a 4 KiB page at a time (the heap walk)."""

    def __init__(self):
        self.cache = {}

    def page(self, va):
        va &= ~0xFFF
        if va not in self.cache:
            self.cache[va] = read_virt(va, 4096)
        return self.cache[va]

    def u64(self, va):
        if va & 7:
            raise gdb.MemoryError(f"unaligned word at {va:#x}")
        return struct.unpack_from("<Q", self.page(va), va & 0xFFF)[0]
