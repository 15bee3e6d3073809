"""tools/gdb/memkern.py - GDB commands that read memkern's own structures.

Loaded by tools/gdb/gdbinit (make gdb does that). Commands:

  ptwalk VA [cr3=PA]        the 4-level walk of VA: each table, index, raw entry,
                            decoded flags, down to the frame, and why it stops
  ptdump [FROM TO | REGION] [cr3=PA]
                            mapped ranges, merged, with rights (like Linux's
                            ptdump and the kernel's own vmm_dump)
  pmm [PA | lists]          free blocks per order and totals; which block holds PA;
                            or walk the free lists and check them against the counts
  heap [summary]            every block of the kmalloc heap, totals, fragmentation
  heapblock ADDR            the heap block that holds ADDR
  memkern-regs              CR0/CR3/CR4/EFER decoded: paging mode, whose tables are live
  pferr CODE                a page-fault error code decoded
  dis32 [ADDR [N]]          disassemble 32-bit boot code (GDB decodes it as 64-bit)
  serial [N]                the last N lines of the serial console (make gdb)
  memkern-connect PORT      target remote, retrying while QEMU starts

Everything is read from guest memory at the moment of the stop, so the
commands work anywhere: in boot code, in the middle of kmalloc, inside a fault
handler. Nothing here calls into the kernel.

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
import os
import struct
import subprocess
import sys
import tempfile
import time

import gdb

sys.dont_write_bytecode = True     # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import memkern_defs as D  # noqa: E402

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


# --- the page walk ------------------------------------------------------------------

def entry_flags(e, level):
    names = []
    for bit, name in ((D.PTE_P, "P"), (D.PTE_W, "W"), (D.PTE_U, "U"), (D.PTE_PWT, "PWT"), (D.PTE_PCD, "PCD"),
                      (D.PTE_A, "A")):
        if e & bit:
            names.append(name)
    if pte_leaf(e, level) and e & D.PTE_D:
        names.append("D")
    if level in (D.LVL_PDPT, D.LVL_PD) and e & D.PTE_PS:
        names.append("PS")
    if pte_leaf(e, level) and e & D.PTE_G:
        names.append("G")
    if e & D.PTE_NX:
        names.append("NX")
    return " ".join(names)


def pte_leaf(e, level):
    return level == D.LVL_PT or (level in (D.LVL_PDPT, D.LVL_PD) and bool(e & D.PTE_PS))


def cpu_paging_state():
    """(paging on, 4-level long-mode paging, NX enabled, WP, text) from the control registers."""
    cr0, cr4 = reg("cr0"), reg_or("cr4", 0)
    efer = reg_or("efer", D.EFER_LMA | D.EFER_NXE)
    pg = bool(cr0 & D.CR0_PG)
    lm = pg and bool(cr4 & D.CR4_PAE) and bool(efer & D.EFER_LMA)
    if cr4 & (1 << 12):
        raise gdb.GdbError("CR4.LA57 is set: 5-level paging, which memkern never uses")
    return pg, lm, bool(efer & D.EFER_NXE), bool(cr0 & D.CR0_WP)


def whose_tables(cr3):
    """A few words on the table that CR3 (or a given root) points at."""
    root = cr3 & D.PTE_ADDR
    boot = symbol_addr("boot_pml4")
    if boot is not None and root == (boot - D.KERNEL_VMA) & MASK64:
        return "the boot tables (boot_pml4 in boot/multiboot2.S): vmm_init has not switched yet"
    vroot = symbol_int("root_pa", "kernel/vmm.c")
    if vroot and root == vroot:
        return "vmm_init's tables (root_pa in kernel/vmm.c)"
    if vroot:
        return f"neither the boot tables nor vmm's root_pa {vroot:#x}"
    return "vmm_init has not built its tables yet"


class Walk:
    """The walk of one address: steps [(level, table_pa, index, entry)] and how it ended."""

    def __init__(self, mem, root, va, nxe=True):
        self.va, self.root, self.steps = va, root & D.PTE_ADDR, []
        self.end = None          # 'leaf', 'not-present', 'reserved', 'non-canonical'
        self.why = ""
        self.level = None
        self.frame = self.pa = None
        self.w = self.x = self.u = True
        if not D.va_is_canonical(va):
            self.end = "non-canonical"
            self.why = ("not canonical: bits 63..48 must all copy bit 47. The CPU consults no table; "
                        "an access raises #GP (not #PF)")
            return
        table = self.root
        for level in (D.LVL_PML4, D.LVL_PDPT, D.LVL_PD, D.LVL_PT):
            idx = D.PT_INDEX(va, level)
            e = mem.table(table)[idx]
            self.steps.append((level, table, idx, e))
            self.level = level
            if not e & D.PTE_P:
                self.end = "not-present"
                self.why = (f"{D.LEVEL_NAME[level]} entry {idx} is not present (P=0): the walk stops here, "
                            f"so {va:#x} is not mapped; an access raises #PF with error bit P=0")
                return
            if level == D.LVL_PML4 and e & D.PTE_PS:
                self.end = "reserved"
                self.why = "PS is set in a PML4 entry, where it is reserved: #PF with error bit RSVD"
                return
            if e & D.PTE_NX and not nxe:
                self.end = "reserved"
                self.why = "NX is set but EFER.NXE is off, so bit 63 is reserved: #PF with error bit RSVD"
                return
            self.w = self.w and bool(e & D.PTE_W)
            self.x = self.x and not (e & D.PTE_NX and nxe)
            self.u = self.u and bool(e & D.PTE_U)
            if pte_leaf(e, level):
                size = D.LEVEL_SIZE(level)
                self.end = "leaf"
                self.frame = D.pte_leaf_addr(e, level)
                self.pa = self.frame + (va & (size - 1))
                self.size = size
                return
            table = D.pte_addr(e)

    def rights(self):
        return "r" + ("w" if self.w else "-") + ("x" if self.x else "-")


def frame_info_text(pa):
    """What the pmm says about the frame holding pa, or None."""
    try:
        b = Buddy()
    except (gdb.GdbError, gdb.error):
        return None
    if not b.ready:
        return None
    info = b.frame_info(pa)
    if info is None:
        return f"pmm: {pa:#x} is outside the span the pmm manages (0x0-{b.end:#x})"
    state, order, head = info
    frame = pa & ~0xFFF
    if state == D.BUDDY_RESERVED:
        return (f"pmm: frame {frame:#x} is reserved (never free: kernel image, metadata, boot data, "
                "firmware or a hole)")
    what = "free" if state == D.BUDDY_FREE_HEAD else "allocated" if state == D.BUDDY_ALLOC_HEAD else "?"
    return f"pmm: frame {frame:#x} is in {'a' if what != 'allocated' else 'an'} {what} order-{order} block at {head:#x}"


class PtWalk(gdb.Command):
    """ptwalk VA [cr3=PA]: walk the page tables for virtual address VA.

Prints each level (the table's physical address, the index VA selects, the
entry's address and raw value, its flags decoded) down to the frame, with
large pages, the rights combined along the walk, and why the walk stops when
it stops. VA is any GDB expression: 0xffffc00000000010, $cr2, ptr, &pmm.
cr3=PA walks another root (e.g. cr3=root_pa before vmm_init switches to it).
The tables are read from physical memory through the direct map."""

    def __init__(self):
        super().__init__("ptwalk", gdb.COMMAND_DATA)

    def invoke(self, arg, from_tty):
        expr, kw = split_kw(arg, ("cr3",))
        if not expr:
            raise gdb.GdbError("usage: ptwalk VA [cr3=PA]   (VA: any expression, e.g. $cr2 or ptr)")
        va = parse_addr(expr)
        mem = PhysMem()
        pg, lm, nxe, wp = cpu_paging_state()
        print(f"ptwalk {va:#018x}: PML4[{D.PT_INDEX(va, 4)}] PDPT[{D.PT_INDEX(va, 3)}] "
              f"PD[{D.PT_INDEX(va, 2)}] PT[{D.PT_INDEX(va, 1)}] offset {va & 0xFFF:#05x}")
        if "cr3" in kw:
            root = parse_addr(kw["cr3"]) & D.PTE_ADDR
            print(f"  root {root:#x} (given; the CPU's CR3 is {reg('cr3') & D.PTE_ADDR:#x}): {whose_tables(root)}")
        else:
            if not pg:
                print(f"  paging is off (CR0={mem.cr0:#x}, PG=0): the CPU uses {va:#x} as the physical "
                      "address itself; no table is read")
                return
            if not lm:
                raise gdb.GdbError("paging is on but not 4-level long-mode paging (CR4.PAE / EFER.LMA off): "
                                   "the boot code is between the two steps")
            root = reg("cr3") & D.PTE_ADDR
            print(f"  CR3 {root:#x}: {whose_tables(root)}")
        w = Walk(mem, root, va, nxe)
        if w.steps:
            print(f"  {mem.how}")
        for level, table, idx, e in w.steps:
            head = f"  {D.LEVEL_NAME[level]:<4} table {table:#011x} [{idx:3d}] @{table + 8 * idx:#011x} = {e:#018x}"
            if not e & D.PTE_P:
                print(f"{head}  not present")
            elif pte_leaf(e, level) and w.end == "leaf":
                print(f"{head}  {entry_flags(e, level):<14} -> {D.PAGE_NAME[level]} frame {w.frame:#x}")
            elif w.end == "reserved" and (level, table, idx, e) == w.steps[-1]:
                print(f"{head}  {entry_flags(e, level):<14} reserved bit set")
            else:
                print(f"{head}  {entry_flags(e, level):<14} -> {D.LEVEL_NAME[level - 1]} table {D.pte_addr(e):#x}")
        if w.end == "leaf":
            size = {1 << 12: "4 KiB", 1 << 21: "2 MiB", 1 << 30: "1 GiB"}[w.size]
            print(f"  => {va:#x} -> physical {w.pa:#x} ({size} page, frame {w.frame:#x} + offset "
                  f"{va & (w.size - 1):#x}), rights {w.rights()}")
            notes = []
            if not w.w:
                notes.append("read-only: a write faults" + ("" if wp else
                             " - but CR0.WP is off, so ring 0 may write it anyway"))
            if not w.x:
                notes.append("no-execute: an instruction fetch faults")
            if notes:
                print("     " + "; ".join(notes))
            fi = frame_info_text(w.pa)
            if fi:
                print("     " + fi)
        else:
            print(f"  => {w.why}")
        region = D.region_of(va)
        if region:
            print(f"     region: {region}")


# --- ptdump -----------------------------------------------------------------------------

REGION_ALIASES = {
    "low": (0, 1 << 47), "direct": (D.DIRECT_MAP_BASE, D.DIRECT_MAP_BASE + D.DIRECT_MAP_SIZE),
    "test": (D.VMM_TEST_BASE, D.VMM_TEST_BASE + D.VMM_TEST_SIZE), "heap": (D.HEAP_BASE, D.HEAP_BASE + D.HEAP_SIZE),
    "large": (D.LARGE_BASE, D.LARGE_BASE + D.LARGE_SIZE),
    "stacks": (D.KSTACK_BASE, D.KSTACK_BASE + D.KSTACK_SIZE_AREA), "kernel": (D.KERNEL_VMA, 1 << 64),
}


def walk_leaves(mem, root, lo, hi, nxe=True):
    """Present leaves overlapping [lo, hi), in address order: (va, size, pa, level, w, x).
    Also returns the number of tables read."""
    out, tables = [], [0]

    def rec(table_pa, level, base, w, x):
        tables[0] += 1
        t = mem.table(table_pa)
        size = D.LEVEL_SIZE(level)
        for i in range(512):
            e = t[i]
            if not e & D.PTE_P:
                continue
            va = D.canon(base + i * size)
            if va + size <= lo or va >= hi:
                continue
            w2, x2 = w and bool(e & D.PTE_W), x and not (e & D.PTE_NX and nxe)
            if pte_leaf(e, level):
                out.append((va, size, D.pte_leaf_addr(e, level), level, w2, x2))
            elif level > D.LVL_PT:
                rec(D.pte_addr(e), level - 1, base + i * size, w2, x2)

    rec(root, D.LVL_PML4, 0, True, True)
    return out, tables[0]


def merge_runs(leaves):
    """Merged like the kernel's vmm_dump: same rights and page size, contiguous in va and pa."""
    runs = []
    for va, size, pa, level, w, x in leaves:
        if runs:
            r = runs[-1]
            if va == r["end"] and (w, x) == r["wx"] and level == r["level"] and pa == r["pa"] + (r["end"] - r["start"]):
                r["end"] += size
                r["pages"] += 1
                continue
        runs.append({"start": va, "end": va + size, "pa": pa, "wx": (w, x), "level": level, "pages": 1})
    return runs


def run_line(r):
    w, x = r["wx"]
    return (f"  {r['start']:#018x}-{r['end']:#018x} {(r['end'] - r['start']) >> 10:8d} KiB  "
            f"r{'w' if w else '-'}{'x' if x else '-'}  {D.PAGE_NAME[r['level']]} pages  -> phys {r['pa']:#x}")


class PtDump(gdb.Command):
    """ptdump [FROM TO | REGION] [cr3=PA]: the mapped ranges, merged, with their rights.

One line per run of pages with the same rights and page size, contiguous in
virtual and physical memory (the same rule as the kernel's vmm_dump, so the
two can be compared line for line), under a marker for each region of the
memory map. REGION is one of low, direct, test, heap, large, stacks, kernel.
Ends with page counts, the page-table frames the walk read and a W^X check."""

    def __init__(self):
        super().__init__("ptdump", gdb.COMMAND_DATA)

    def invoke(self, arg, from_tty):
        pos, kw = split_args(arg)
        lo, hi = 0, 1 << 64
        if len(pos) == 1 and pos[0] in REGION_ALIASES:
            lo, hi = REGION_ALIASES[pos[0]]
        elif len(pos) == 2:
            lo, hi = parse_addr(pos[0]), parse_addr(pos[1])
            if hi == MASK64:
                hi = 1 << 64
        elif pos:
            raise gdb.GdbError("usage: ptdump [FROM TO | " + "|".join(REGION_ALIASES) + "] [cr3=PA]")
        mem = PhysMem()
        pg, lm, nxe, _ = cpu_paging_state()
        if "cr3" in kw:
            root = parse_addr(kw["cr3"]) & D.PTE_ADDR
        else:
            if not pg:
                print("paging is off (CR0.PG=0): nothing is mapped; every address is physical")
                return
            if not lm:
                raise gdb.GdbError("paging is on but not 4-level long-mode paging yet")
            root = reg("cr3") & D.PTE_ADDR
        leaves, tables = walk_leaves(mem, root, lo, hi, nxe)
        runs = merge_runs(leaves)
        print(f"mapped ranges (merged; CR3 {root:#x}: {whose_tables(root)}):")
        region = None
        for r in runs:
            reg_name = D.region_of(r["start"]) or "?"
            if reg_name != region:
                print(f"---[ {reg_name} ]---")
                region = reg_name
            w, x = r["wx"]
            print(run_line(r) + ("   <-- W+X" if w and x else ""))
        counts = {lvl: sum(1 for lf in leaves if lf[3] == lvl) for lvl in (3, 2, 1)}
        total = sum(lf[1] for lf in leaves)
        print(f"{len(runs)} ranges, {total >> 10} KiB mapped; pages: {counts[3]} x 1G, {counts[2]} x 2M, "
              f"{counts[1]} x 4K")
        if lo == 0 and hi == 1 << 64:
            msg = f"page-table frames: {tables}"
            if root == symbol_int("root_pa", "kernel/vmm.c"):
                msg += f" (the vmm counts table_frames = {symbol_int('table_frames', 'kernel/vmm.c')})"
            print(msg)
        wx = sum(lf[1] >> 12 for lf in leaves if lf[4] and lf[5])
        print("W^X: no page is both writable and executable" if not wx else
              f"W^X: {wx} 4 KiB pages are both writable and executable")
        if mem.fallbacks:
            print(f"({mem.how})")


# --- pmm ------------------------------------------------------------------------------------

class Buddy:
    """struct buddy pmm (kernel/pmm.c), read at this stop."""

    def __init__(self):
        _need_target()
        self.v = kernel_symbol("pmm", "kernel/pmm.c")
        unreadable(self.v, "pmm")
        self.base_pfn = int(self.v["base_pfn"])
        self.nframes = int(self.v["nframes"])
        self.frames = int(self.v["frames"])
        self.free_frames = int(self.v["free_frames"])
        self.reserved_frames = int(self.v["reserved_frames"])
        self.free_blocks = [int(self.v["free_blocks"][o]) for o in range(D.BUDDY_NORDERS)]
        self.free_head = [int(self.v["free_head"][o]) & 0xFFFFFFFF for o in range(D.BUDDY_NORDERS)]
        self.ready = self.nframes > 0 and self.frames != 0
        self.end = (self.base_pfn + self.nframes) << D.BUDDY_PAGE_SHIFT
        self.mem = VirtMem()
        self.fsize = D.BUDDY_FRAME_SIZE
        try:
            self.fsize = gdb.lookup_type("struct buddy_frame").sizeof
        except gdb.error:
            pass

    def frame(self, i):
        """(state, order, next, prev) of frame index i. Read .state first: buddy_init does not zero the
        array, so next/prev/order of reserved frames and tails are whatever was in RAM."""
        a = self.frames + i * self.fsize
        raw = read_virt(a, self.fsize)
        nxt, prev, state, order = struct.unpack_from("<IIBB", raw)
        return state, order, nxt, prev

    def frame_info(self, pa):
        """buddy_frame_info: (state of the block's head, order, block pa), or None outside the span."""
        pfn = pa >> D.BUDDY_PAGE_SHIFT
        if pfn < self.base_pfn or pfn - self.base_pfn >= self.nframes:
            return None
        i = pfn - self.base_pfn
        state = self.frame(i)[0]
        if state == D.BUDDY_RESERVED:
            return D.BUDDY_RESERVED, 0, pfn << 12
        for o in range(D.BUDDY_NORDERS):                       # find_head in alloc/buddy.c
            hpfn = pfn & ~((1 << o) - 1)
            if hpfn < self.base_pfn:
                break
            h = hpfn - self.base_pfn
            st, order, _, _ = self.frame(h)
            if st in (D.BUDDY_FREE_HEAD, D.BUDDY_ALLOC_HEAD) and order <= D.BUDDY_MAX_ORDER and h + (1 << order) > i:
                return st, order, hpfn << 12
        return -1, 0, pfn << 12


class Pmm(gdb.Command):
    """pmm [PA | lists]: the physical frame allocator (struct buddy pmm in kernel/pmm.c).

pmm         free blocks per order and the frames they hold, then the totals
            (total, free, allocated, reserved), like the kernel's pmm_dump
pmm PA      which block holds physical address PA: free, allocated or reserved,
            its order and first frame (buddy_frame_info); a kernel virtual
            address is translated first
pmm lists   walk every free list and check it against the per-order counts"""

    def __init__(self):
        super().__init__("pmm", gdb.COMMAND_DATA)

    def invoke(self, arg, from_tty):
        b = Buddy()
        if not b.ready:
            print("pmm: not initialised yet (pmm_init has not run): no frames to show")
            return
        arg = arg.strip()
        if arg == "lists":
            return self.lists(b)
        if arg:
            pa = parse_addr(arg)
            if pa >= 1 << 47:
                # A kernel virtual address: look at the frame it maps to.
                pg, lm, nxe, _ = cpu_paging_state()
                w = Walk(PhysMem(), reg("cr3"), pa, nxe) if lm else None
                if w is None or w.end != "leaf":
                    print(f"pmm: {pa:#x} is a virtual address that maps to no frame"
                          + (f" ({w.why})" if w else ""))
                    return
                print(f"pmm: virtual {pa:#x} maps to physical {w.pa:#x}")
                pa = w.pa
            info = b.frame_info(pa)
            if info is None:
                print(f"pmm: {pa:#x} is outside the span (0x0-{b.end:#x})")
                return
            state, order, head = info
            if state == D.BUDDY_RESERVED:
                print(f"pmm: frame {pa & ~0xFFF:#x} is reserved (never handed out)")
            elif state < 0:
                print(f"pmm: frame {pa & ~0xFFF:#x} is a tail without a head: the metadata is inconsistent")
            else:
                print(f"pmm: {pa:#x} is in the {D.BUDDY_STATE_NAME[state]} order-{order} block "
                      f"{head:#x}-{head + (4096 << order):#x} ({kib(4096 << order)})")
            return
        print(f"pmm: buddy over frames {b.base_pfn << 12:#x}-{b.end:#x}, metadata at {b.frames:#x} "
              f"({b.fsize} bytes a frame)")
        print("  order  block size   free blocks   free frames")
        listed = 0
        for o in range(D.BUDDY_NORDERS):
            n = b.free_blocks[o]
            listed += n << o
            size = 4 << o
            unit = "MiB" if size >= 1024 else "KiB"
            print(f"  {o:5d}  {size // 1024 if size >= 1024 else size:6d} {unit}   {n:11d}   {n << o:11d}")
        alloc = b.nframes - b.free_frames - b.reserved_frames
        print(f"frames: {b.nframes} total, {b.free_frames} free ({b.free_frames >> 8} MiB), {alloc} allocated, "
              f"{b.reserved_frames} reserved")
        if listed != b.free_frames:
            print(f"MISMATCH: the per-order counts hold {listed} frames but free_frames says {b.free_frames}")

    def lists(self, b):
        bad = 0
        for o in range(D.BUDDY_NORDERS):
            n, x, prev, seen = 0, b.free_head[o], D.BUDDY_NONE, set()
            while x != D.BUDDY_NONE:
                if x >= b.nframes or x in seen or n > b.free_blocks[o] + 16:
                    print(f"  order {o}: list broken at index {x:#x} after {n} blocks")
                    bad += 1
                    break
                seen.add(x)
                st, order, nxt, prv = b.frame(x)
                if st != D.BUDDY_FREE_HEAD or order != o or prv != prev:
                    print(f"  order {o}: {(b.base_pfn + x) << 12:#x} is listed but is "
                          f"{D.BUDDY_STATE_NAME.get(st, st)} order {order} (prev link {prv:#x}, expected {prev:#x})")
                    bad += 1
                n += 1
                prev, x = x, nxt
            status = "ok" if n == b.free_blocks[o] else f"MISMATCH: free_blocks[{o}] = {b.free_blocks[o]}"
            if n != b.free_blocks[o]:
                bad += 1
            print(f"  order {o:2d}: {n:7d} blocks on the list  {status}")
        print("free lists: consistent" if not bad else f"free lists: {bad} problems")


# --- heap --------------------------------------------------------------------------------------

class Heap:
    """struct heap heap (kernel/kheap.c) and a walk of its blocks, like heap_walk."""

    def __init__(self):
        _need_target()
        self.v = kernel_symbol("heap", "kernel/kheap.c")
        unreadable(self.v, "heap")
        self.magic = int(self.v["magic"])
        self.ready = self.magic == D.HEAP_MAGIC
        self.debug = int(self.v["debug"])
        self.base, self.brk = int(self.v["base"]), int(self.v["brk"])
        self.floor_brk = int(field(self.v, "floor_brk", self.base))
        self.secret = int(self.v["secret"]) & MASK64
        self.mem = VirtMem()

    def counters(self):
        names = ("in_use_bytes", "free_bytes", "used_blocks", "free_blocks", "peak_in_use", "large_blocks",
                 "large_bytes", "sbrk_calls")
        return {n: int(self.v[n]) for n in names if field(self.v, n) is not None}

    def tag_ok(self, b, w):
        return (w >> D.HEAP_BLK_TAG_SHIFT) == D.heap_tag(b, w & ((1 << 48) - 1), self.secret)

    def blocks(self):
        """brk blocks in address order: dicts with hdr, payload, size, usable, free, prev_free, tag_ok.
        Returns (blocks, problem or None); stops at the first thing that makes no sense."""
        out = []
        b, end = self.base + 8, self.brk - 8
        limit = (self.brk - self.base) // D.HEAP_MIN_BLOCK + 2
        while b != end:
            if len(out) > limit or b > end:
                return out, f"walk ran past the epilogue at {end:#x} (at {b:#x})"
            try:
                w = self.mem.u64(b)
            except gdb.MemoryError:
                return out, f"cannot read the header at {b:#x}"
            size = w & D.HEAP_BLK_SIZE_MASK
            # SPARE marks a freed block held back: in the front cache at debug
            # level 0, in the quarantine at level 2 (alloc/heap.h).
            held = bool(w & D.HEAP_BLK_SPARE) and not (w & D.HEAP_BLK_FREE)
            blk = {"hdr": b, "payload": b + 8, "size": size, "usable": size - 8, "word": w,
                   "free": bool(w & D.HEAP_BLK_FREE), "prev_free": bool(w & D.HEAP_BLK_PREV_FREE),
                   "tag_ok": self.tag_ok(b, w), "large": False,
                   "held": ("quarantined" if self.debug >= 2 else "cached") if held else None}
            if size < D.HEAP_MIN_BLOCK or b + size > end:
                return out, f"header at {b:#x} holds size {size} (word {w:#x}): corrupt"
            out.append(blk)
            b += size
        return out, None

    def large(self):
        """Live large blocks, newest first (the large list)."""
        out, l, seen = [], int(self.v["large_list"]), set()
        ltype = None
        try:
            ltype = gdb.lookup_type("struct heap_large")
        except gdb.error:
            pass
        while l and l not in seen and len(out) < 100000:
            seen.add(l)
            if ltype is not None:
                lv = gdb.Value(l).cast(ltype.pointer()).dereference()
                nxt, run, run_bytes, word = int(lv["next"]), int(lv["run"]), int(lv["run_bytes"]), int(lv["word"])
                size = ltype.sizeof
            else:
                raw = read_virt(l, D.HEAP_LARGE_HDR)
                nxt, _, run, run_bytes, _, word = struct.unpack("<6Q", raw)
                size = D.HEAP_LARGE_HDR
            usable = word & D.HEAP_BLK_SIZE_MASK
            out.append({"hdr": l, "payload": l + size, "usable": usable, "size": run_bytes, "run": run,
                        "run_bytes": run_bytes, "word": word, "free": False, "large": True,
                        "tag_ok": self.tag_ok(l + size - 8, word), "prev_free": False})
            l = nxt
        return out


def frag_text(free_bytes, largest):
    if not free_bytes:
        return "fragmentation 0% (no free bytes)"
    return (f"fragmentation {100.0 * (1 - largest / free_bytes):.1f}% "
            f"(1 - largest_free / free_bytes = 1 - {largest}/{free_bytes})")


class HeapCmd(gdb.Command):
    """heap [summary]: every block of the kmalloc heap (struct heap heap in kernel/kheap.c).

Walks the brk region from its first header by the sizes in the header words
(as heap_walk does), then the list of page-mapped large blocks. For each
block: the payload address (what kmalloc returned), the whole block size
(header included), the usable bytes, and used / free / large. Then the totals,
checked against the heap's own counters, and a fragmentation figure:
1 - largest free block / free bytes. 'heap summary' prints only the totals."""

    def __init__(self):
        super().__init__("heap", gdb.COMMAND_DATA)

    def invoke(self, arg, from_tty):
        h = Heap()
        if not h.ready:
            print(f"heap: not initialised (magic {h.magic:#x}, want {D.HEAP_MAGIC:#x}): kheap_init has not run")
            return
        blocks, problem = h.blocks()
        large = h.large()
        quiet = arg.strip() == "summary"
        print(f"heap: brk region {h.base:#x}-{h.brk:#x} ({kib(h.brk - h.base)}; initial break {h.floor_brk:#x}), "
              f"debug level {h.debug}")
        if not quiet:
            print(f"  {'payload':<18}  {'block':>9}  {'usable':>9}  state")
            for b in blocks + large:
                state = ("large" if b["large"] else "free" if b["free"] else b.get("held") or "used")
                extra = []
                if b["large"]:
                    extra.append(f"run {b['run']:#x} +{b['run_bytes']:#x}")
                if b["prev_free"]:
                    extra.append("prev-free")
                if not b["tag_ok"]:
                    extra.append("BAD TAG")
                print(f"  {b['payload']:#018x}  {b['size']:9d}  {b['usable']:9d}  {state}"
                      + ("  (" + ", ".join(extra) + ")" if extra else ""))
        if problem:
            print(f"walk stopped: {problem}")
        used = [b for b in blocks if not b["free"] and not b.get("held")]
        held = [b for b in blocks if b.get("held")]
        free = [b for b in blocks if b["free"]]
        used_bytes, free_bytes = sum(b["size"] for b in used), sum(b["size"] for b in free)
        largest = max((b["size"] for b in free), default=0)
        large_bytes = sum(b["run_bytes"] for b in large)
        print(f"totals: used {len(used)} blocks {used_bytes} bytes; free {len(free)} blocks {free_bytes} bytes "
              f"(largest {largest}); large {len(large)} blocks {large_bytes} bytes mapped; "
              f"brk {h.brk - h.base} bytes")
        if held:
            print(f"held back (freed, not yet merged): {len(held)} blocks {sum(b['size'] for b in held)} bytes "
                  f"({held[0]['held']}); the counters leave them out of used and free")
        print(frag_text(free_bytes, largest))
        c = h.counters()
        mine = {"in_use_bytes": used_bytes, "free_bytes": free_bytes, "used_blocks": len(used),
                "free_blocks": len(free), "large_blocks": len(large), "large_bytes": large_bytes}
        diff = [f"{k} walk {mine[k]} vs counter {c[k]}" for k in mine if k in c and c[k] != mine[k]]
        if diff:
            print("MISMATCH with the heap's counters (stopped inside a heap call?): " + "; ".join(diff))
        else:
            print(f"counters agree (peak in use {c.get('peak_in_use', '?')}, sbrk calls {c.get('sbrk_calls', '?')})")
        if not problem and h.brk - h.base != used_bytes + free_bytes + 16:
            print(f"note: brk bytes {h.brk - h.base} != used + free + 16 (pad and epilogue)")


class HeapBlock(gdb.Command):
    """heapblock ADDR: the heap block that holds ADDR (any byte of it, or its header).

Says where ADDR falls: in a brk block (header or payload, used or free, with
its size, usable bytes, offset into the payload, header tag check and, for a
free block, its free-list links), in a large block's run, above the break,
or outside the heap. In debug mode (heap.debug=N) it also shows where the
block was allocated, when the heap records that."""

    def __init__(self):
        super().__init__("heapblock", gdb.COMMAND_DATA)

    def invoke(self, arg, from_tty):
        if not arg.strip():
            raise gdb.GdbError("usage: heapblock ADDR")
        addr = parse_addr(arg)
        h = Heap()
        if not h.ready:
            print("heap: not initialised: kheap_init has not run")
            return
        if h.base <= addr < h.brk:
            return self.brk_block(h, addr)
        for b in h.large():
            if b["run"] <= addr < b["run"] + b["run_bytes"]:
                return self.large_block(h, addr, b)
        if D.HEAP_BASE <= addr < D.HEAP_BASE + D.HEAP_SIZE:
            print(f"{addr:#x} is in the heap window but {addr - h.brk:#x} bytes above the break {h.brk:#x}: "
                  "not a block, and not mapped past the break's page")
        elif D.LARGE_BASE <= addr < D.LARGE_BASE + D.LARGE_SIZE:
            print(f"{addr:#x} is in the large window but in no live large block (a guard page, or freed)")
        else:
            print(f"{addr:#x} is not a heap address (region: {D.region_of(addr) or 'none'})")

    def brk_block(self, h, addr):
        if addr < h.base + 8:
            print(f"{addr:#x} is in the pad before the first header (base {h.base:#x})")
            return
        if addr >= h.brk - 8:
            print(f"{addr:#x} is the epilogue header at brk - 8 ({h.brk - 8:#x})")
            return
        blocks, problem = h.blocks()
        for b in blocks:
            if b["hdr"] <= addr < b["hdr"] + b["size"]:
                return self.show(h, addr, b)
        print(f"{addr:#x}: no block found" + (f" ({problem})" if problem else ""))

    def show(self, h, addr, b):
        state = "free" if b["free"] else "used"
        off = addr - b["payload"]
        where = f"{off} bytes into the payload" if off >= 0 else "in the header word"
        if off >= b["usable"]:
            where = "past the usable bytes"
        print(f"{addr:#x} is {where} of a {state} block:")
        print(f"  payload {b['payload']:#x}  header {b['hdr']:#x}  block {b['size']} bytes  usable {b['usable']}")
        flags = [n for bit, n in ((D.HEAP_BLK_FREE, "FREE"), (D.HEAP_BLK_PREV_FREE, "PREV_FREE"),
                                  (D.HEAP_BLK_LARGE, "LARGE"), (D.HEAP_BLK_SPARE, "SPARE")) if b["word"] & bit]
        print(f"  header word {b['word']:#018x}: size {b['size']}, flags {' '.join(flags) or 'none'}, "
              f"tag {b['word'] >> 48:#06x} ({'ok' if b['tag_ok'] else 'BAD: not a header the heap wrote'})")
        if b["free"]:
            try:
                nxt, prv = h.mem.u64(b["hdr"] + 8), h.mem.u64(b["hdr"] + 16)
                fl, sl = D.heap_size_to_list(b["size"])
                print(f"  free list [{fl}][{sl}]: next {nxt:#x}, prev {prv:#x}; "
                      f"foot {h.mem.u64(b['hdr'] + b['size'] - 8):#x}")
            except gdb.MemoryError:
                pass
        self.site(h, b)

    def large_block(self, h, addr, b):
        off = addr - b["payload"]
        where = (f"{off} bytes into the payload" if 0 <= off < b["usable"] else
                 "in the run before the payload (struct heap_large)" if off < 0 else "in the run past the usable bytes")
        print(f"{addr:#x} is {where} of a large block:")
        print(f"  payload {b['payload']:#x}  usable {b['usable']}  run {b['run']:#x}-{b['run'] + b['run_bytes']:#x} "
              f"({b['run_bytes']} bytes, page-mapped, guard pages around it)")
        print(f"  header word {b['word']:#018x}, tag {'ok' if b['tag_ok'] else 'BAD'}")
        self.site(h, b)

    def site(self, h, b):
        """Where the block was allocated and freed: recorded at heap.debug >= 1
        in struct heap_dbg, which sits at the core payload (right after the
        header word, or after struct heap_large for a large block), ahead of
        the pointer the caller got (alloc/heap.h)."""
        if h.debug == 0:
            print("  allocated at: not recorded (heap debug level 0; boot with heap.debug=1 or 2 to record it)")
            return
        try:
            t = gdb.lookup_type("struct heap_dbg")
            rec = gdb.Value(b["payload"]).cast(t.pointer()).dereference()
            size, alloc_pc, free_pc = int(rec["size"]), int(rec["alloc_pc"]), int(rec["free_pc"])
        except (gdb.error, gdb.MemoryError) as e:
            print(f"  allocated at: cannot read struct heap_dbg at {b['payload']:#x} ({e})")
            return
        print(f"  debug record at {b['payload']:#x}: requested {size} bytes, caller's pointer "
              f"{b['payload'] + t.sizeof:#x}")
        print(f"  allocated at: {alloc_pc:#x} {describe_symbol(alloc_pc) or ''}")
        if free_pc:
            print(f"  freed at:     {free_pc:#x} {describe_symbol(free_pc) or ''}")


# --- other helpers ------------------------------------------------------------------------------

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


SERIAL = {"path": None, "pos": 0, "auto": True}


def serial_new_lines():
    if not SERIAL["path"]:
        return []
    time.sleep(0.05)        # the last line may still be on its way from QEMU through qemu-test
    try:
        with open(SERIAL["path"], "rb") as f:
            f.seek(SERIAL["pos"])
            data = f.read()
    except OSError:
        return []
    cut = data.rfind(b"\n") + 1
    SERIAL["pos"] += cut
    return data[:cut].decode("utf-8", "replace").splitlines()


def on_stop(event):
    if not SERIAL["auto"]:
        return
    lines = serial_new_lines()
    if len(lines) > 30:
        print(f"serial| ... {len(lines) - 30} more lines (serial 100 shows them)")
        lines = lines[-30:]
    for l in lines:
        print("serial| " + l)


class Serial(gdb.Command):
    """serial [N | auto on|off | file PATH]: the serial console of the QEMU that make gdb started.

serial N prints its last N lines (default 20). At every stop the lines printed
since the last stop are shown, prefixed 'serial|' (serial auto off stops that)."""

    def __init__(self):
        super().__init__("serial", gdb.COMMAND_STATUS)

    def invoke(self, arg, from_tty):
        args = arg.split()
        if args[:1] == ["file"] and len(args) == 2:
            SERIAL["path"], SERIAL["pos"] = args[1], 0
            return
        if args[:1] == ["auto"] and len(args) == 2:
            SERIAL["auto"] = args[1] == "on"
            return
        if not SERIAL["path"]:
            print("serial: no log file (make gdb sets one: serial file build/gdb-serial.log)")
            return
        n = int(args[0]) if args else 20
        try:
            lines = open(SERIAL["path"], errors="replace").read().splitlines()
        except OSError as e:
            raise gdb.GdbError(str(e))
        for l in lines[-n:]:
            print(l)
        serial_new_lines()


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


PtWalk()
PtDump()
Pmm()
HeapCmd()
HeapBlock()
MemkernRegs()
Dis32()
PfErr()
Serial()
Connect()
if os.environ.get("MEMKERN_SERIAL_LOG"):
    SERIAL["path"] = os.environ["MEMKERN_SERIAL_LOG"]
gdb.events.stop.connect(on_stop)
