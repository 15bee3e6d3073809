"""tools/gdb/memkern_pt.py - the ptwalk and ptdump commands.

ptwalk VA: the walk of one address, level by level, with what the pmm says
about the frame it ends in; ptdump: the mapped ranges, merged like the
kernel's vmm_dump. The walking itself is in memkern_paging.py. Loaded (and
registered) through tools/gdb/memkern.py.
"""
import gdb

import memkern_defs as D
from memkern_mem import MASK64, PhysMem, parse_addr, reg, split_args, split_kw, symbol_int
from memkern_paging import Walk, cpu_paging_state, entry_flags, merge_runs, pte_leaf, walk_leaves, whose_tables
from memkern_pmm import Buddy


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
