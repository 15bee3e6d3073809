"""tools/gdb/memkern_pmm.py - the pmm command: the physical frame allocator.

Buddy reads struct buddy pmm (kernel/pmm.c) at the stop and answers
buddy_frame_info's question (which block holds a frame); Pmm prints the free
blocks per order, the block holding an address, or checks the free lists.
Loaded (and registered) through tools/gdb/memkern.py.
"""
import struct

import gdb

import memkern_defs as D
from memkern_mem import PhysMem, VirtMem, _need_target, kernel_symbol, kib, parse_addr, read_virt, reg, unreadable
from memkern_paging import Walk, cpu_paging_state


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
