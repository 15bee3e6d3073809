"""tools/gdb/memkern_defs.py - the C constants the GDB helpers need, mirrored.

Plain Python (no gdb import), so the host test tests/gdb/run can check every
value here against the C headers it copies:

  kernel/arch/x86_64/paging.h   page-table entry bits, levels, index split
  kernel/arch/x86_64/layout.h   the virtual memory map
  alloc/heap.h                  heap header word bits and sizes
  alloc/buddy.h                 buddy orders and frame states

If you change one of those headers, change this file; `make test` (the
"constants mirror the C headers" check in tests/gdb/run) fails until you do.
Each name is the C name; the right-hand side is what the header says.
"""

# --- kernel/arch/x86_64/paging.h ------------------------------------------
PT_ENTRIES = 512
PTE_P = 1 << 0          # present
PTE_W = 1 << 1          # writable
PTE_U = 1 << 2          # user accessible
PTE_PWT = 1 << 3        # write-through
PTE_PCD = 1 << 4        # cache disable
PTE_A = 1 << 5          # accessed (set by the CPU)
PTE_D = 1 << 6          # dirty (set by the CPU, leaves)
PTE_PS = 1 << 7         # page size: 1 GiB / 2 MiB leaf at PDPT / PD level
PTE_G = 1 << 8          # global
PTE_NX = 1 << 63        # no execute (needs EFER.NXE)
PTE_ADDR = 0x000ffffffffff000

LVL_PML4 = 4
LVL_PDPT = 3
LVL_PD = 2
LVL_PT = 1


def LEVEL_SHIFT(level):
    return 12 + 9 * (level - 1)


def LEVEL_SIZE(level):
    return 1 << LEVEL_SHIFT(level)


def PT_INDEX(va, level):
    return (va >> LEVEL_SHIFT(level)) & 0x1FF


def pte_addr(e):
    return e & PTE_ADDR


def pte_is_leaf(e, level):
    return level == LVL_PT or bool(e & PTE_PS)


def pte_leaf_addr(e, level):
    """A large page's frame (PS entries keep PAT in bit 12)."""
    return pte_addr(e) if level == LVL_PT else pte_addr(e) & ~(LEVEL_SIZE(level) - 1)


def va_is_canonical(va):
    top = va >> 47
    return top == 0 or top == 0x1FFFF


def canon(va):
    """Sign-extends a 48-bit address built from indices."""
    va &= (1 << 48) - 1
    return va | (0xFFFF << 48) if va & (1 << 47) else va


LEVEL_NAME = {LVL_PML4: "PML4", LVL_PDPT: "PDPT", LVL_PD: "PD", LVL_PT: "PT"}
PAGE_NAME = {LVL_PDPT: "1G", LVL_PD: "2M", LVL_PT: "4K"}

# Control registers (cpu.h names them too).
CR0_PG = 1 << 31
CR0_WP = 1 << 16
CR4_PAE = 1 << 5
EFER_NXE = 1 << 11
EFER_LMA = 1 << 10

# --- kernel/arch/x86_64/layout.h -------------------------------------------
PAGE_SHIFT = 12
PAGE_SIZE = 4096
KERNEL_VMA = 0xFFFFFFFF80000000
KERNEL_PHYS = 0x100000
DIRECT_MAP_BASE = 0xFFFF800000000000
DIRECT_MAP_SIZE = 0x0000200000000000
HEAP_BASE = 0xFFFFC00000000000
HEAP_SIZE = 0x0000100000000000
LARGE_BASE = 0xFFFFD00000000000
LARGE_SIZE = 0x0000100000000000
VMM_TEST_BASE = 0xFFFFB00000000000
VMM_TEST_SIZE = 0x0000010000000000
KSTACK_BASE = 0xFFFFE00000000000
KSTACK_SIZE_AREA = 0x0000100000000000
BOOT_DIRECT_MAP_LIMIT = 0x100000000

# Regions of the memory map, for ptdump's section markers and heapblock.
REGIONS = [
    (0x0000000000000000, 0x0000800000000000, "lower half (boot identity map; empty after vmm_init)"),
    (DIRECT_MAP_BASE, DIRECT_MAP_BASE + DIRECT_MAP_SIZE, "direct map"),
    (VMM_TEST_BASE, VMM_TEST_BASE + VMM_TEST_SIZE, "vmm test scratch window"),
    (HEAP_BASE, HEAP_BASE + HEAP_SIZE, "kbrk heap window"),
    (LARGE_BASE, LARGE_BASE + LARGE_SIZE, "large allocations"),
    (KSTACK_BASE, KSTACK_BASE + KSTACK_SIZE_AREA, "kernel stacks"),
    (KERNEL_VMA, 1 << 64, "kernel image"),
]


def region_of(va):
    for lo, hi, name in REGIONS:
        if lo <= va < hi:
            return name
    return None


# --- alloc/heap.h ------------------------------------------------------------
HEAP_BLK_FREE = 0x1
HEAP_BLK_PREV_FREE = 0x2
HEAP_BLK_LARGE = 0x4
HEAP_BLK_SPARE = 0x8
HEAP_BLK_SIZE_MASK = 0x000000FFFFFFFFF0
HEAP_BLK_TAG_SHIFT = 40
HEAP_TAG_MULT = 0x9E3779B97F4A7C15
HEAP_ALIGN = 16
HEAP_OVERHEAD = 8
HEAP_MIN_BLOCK = 32
HEAP_SL_LOG2 = 5
HEAP_FL_COUNT = 32
HEAP_MAGIC = 0x68656170
HEAP_MAGIC_SLABS = 0x68656173   # the same heap with env.slabs (alloc/heap.h)
HEAP_WALK_FREE = 0
HEAP_WALK_USED = 1
HEAP_WALK_LARGE = 2
HEAP_SL_COUNT = 1 << HEAP_SL_LOG2
HEAP_FL_SHIFT = HEAP_SL_LOG2 + 4
HEAP_LARGE_HDR = 48     # sizeof(struct heap_large): next, prev, run, run_bytes, spare, word
# Level 0's slabs (heap.h "slabs"; HEAP_SLAB_OFF is in alloc/heap_impl.h).
HEAP_SLAB_MAX = 64
HEAP_SLAB_CLASSES = 4
HEAP_SLAB_RUN = 4096
HEAP_SLAB_RUN_SHIFT = 12
HEAP_SLAB_HDR = 64      # sizeof(struct heap_slab): run start R to the first object
HEAP_SLAB_WINDOW = 256 << 20
HEAP_SLAB_MAP_WORDS = HEAP_SLAB_WINDOW // HEAP_SLAB_RUN // 64
HEAP_SLAB_SALT = 0x736C616273616C74
HEAP_SMALL_BLOCK = 80  # the largest block a slab-sized request takes (what heap.slabs=auto counts)
HEAP_SLAB_AUTO_BLOCKS = 16384
HEAP_SLAB_OFF = 16      # a run starts this far past a 4 KiB boundary; its page is [R - 16, R - 16 + 4 KiB)
# struct heap_slab, little-endian: check, next, prev, size, cap, live, cls, words, free_bits[4]
HEAP_SLAB_LAYOUT = "<QQQHHHBB4Q"
HEAP_SLAB_FIELDS = ("check", "next", "prev", "size", "cap", "live", "cls", "words", "free_bits")


def heap_slab_start_ok(r):
    """Whether r can be a run's start (heap_impl.h slab_start_ok)."""
    return ((r - HEAP_SLAB_OFF) & (HEAP_SLAB_RUN - 1)) == 0


def heap_slab_of(p):
    """The start of the run whose page holds p (heap_impl.h slab_of)."""
    return ((p - HEAP_SLAB_OFF) & ~(HEAP_SLAB_RUN - 1)) + HEAP_SLAB_OFF


def heap_slab_cap(cls):
    """Objects a run of class cls (size (cls + 1) * 16) holds (heap_impl.h slab_cap)."""
    return (HEAP_SLAB_RUN - HEAP_OVERHEAD - HEAP_SLAB_HDR) // ((cls + 1) * 16)


def heap_slab_check_word(r, secret):
    """What a run's head at r holds in its check word (heap_impl.h slab_check_word)."""
    return (r ^ secret ^ HEAP_SLAB_SALT) & ((1 << 64) - 1)


def heap_tag(block_addr, low, secret):
    """The check tag of a header word from its size and flags (heap_impl.h tag_for)."""
    mask64 = (1 << 64) - 1
    shifted = (low << (64 - HEAP_BLK_TAG_SHIFT)) & mask64
    return (((shifted ^ block_addr ^ secret) * HEAP_TAG_MULT) & mask64) >> HEAP_BLK_TAG_SHIFT


def heap_size_to_list(size):
    """(fl, sl): the TLSF list a free block of this size lives on (heap_impl.h size_to_list)."""
    if size < (1 << HEAP_FL_SHIFT):
        return 0, size // ((1 << HEAP_FL_SHIFT) // HEAP_SL_COUNT)
    f = size.bit_length() - 1
    return f - (HEAP_FL_SHIFT - 1), (size >> (f - HEAP_SL_LOG2)) ^ (1 << HEAP_SL_LOG2)


# --- alloc/buddy.h -------------------------------------------------------------
BUDDY_PAGE_SHIFT = 12
BUDDY_MAX_ORDER = 10
BUDDY_NORDERS = BUDDY_MAX_ORDER + 1
BUDDY_NONE = 0xFFFFFFFF
BUDDY_RESERVED = 0
BUDDY_FREE_HEAD = 1
BUDDY_FREE_TAIL = 2
BUDDY_ALLOC_HEAD = 3
BUDDY_ALLOC_TAIL = 4
BUDDY_FRAME_SIZE = 12   # sizeof(struct buddy_frame): next, prev, state, order, 2 bytes padding
BUDDY_STATE_NAME = {BUDDY_RESERVED: "reserved", BUDDY_FREE_HEAD: "free", BUDDY_FREE_TAIL: "free (tail)",
                    BUDDY_ALLOC_HEAD: "allocated", BUDDY_ALLOC_TAIL: "allocated (tail)"}
