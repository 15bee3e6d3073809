"""tools/gdb/memkern_paging.py - the x86_64 4-level page walk, as the CPU does it.

Entry flags decoded, the paging state from the control registers, whose
tables a root is, the walk of one address (Walk, for ptwalk and pmm) and of
a whole range (walk_leaves and merge_runs, for ptdump). Loaded through
tools/gdb/memkern.py.
"""
import gdb

import memkern_defs as D
from memkern_mem import MASK64, reg, reg_or, symbol_addr, symbol_int


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
