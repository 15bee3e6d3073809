"""tools/gdb/memkern_heap.py - the heap and heapblock commands: the kmalloc heap.

Heap reads struct heap heap (kernel/kheap.c) and walks its blocks the way
heap_walk does (the brk region, then the large list); heap prints them with
totals and fragmentation, heapblock finds the block holding an address.
Booted with heap.slabs=1, some used brk blocks are slab runs (alloc/heap.h
"slabs"): heap shows them as state slab with their objects' class and count,
heapblock names the object an address falls in.
Loaded (and registered) through tools/gdb/memkern.py.
"""
import struct

import gdb

import memkern_defs as D
from memkern_mem import MASK64, VirtMem, _need_target, describe_symbol, field, kernel_symbol, kib, parse_addr, \
    read_virt, unreadable


class Heap:
    """struct heap heap (kernel/kheap.c) and a walk of its blocks, like heap_walk."""

    def __init__(self):
        _need_target()
        self.v = kernel_symbol("heap", "kernel/kheap.c")
        unreadable(self.v, "heap")
        self.magic = int(self.v["magic"])
        self.ready = self.magic in (D.HEAP_MAGIC, D.HEAP_MAGIC_SLABS)
        self.debug = int(self.v["debug"])
        self.base, self.brk = int(self.v["base"]), int(self.v["brk"])
        self.floor_brk = int(field(self.v, "floor_brk", self.base))
        self.secret = int(self.v["secret"]) & MASK64
        self.mem = VirtMem()
        self.cached = self._cache_members()
        # Slabs (alloc/heap.h "slabs"): on only in HEAP_MAGIC_SLABS heaps of a kernel that has the fields.
        smap = field(self.v, "slab_map")
        self.slabs = self.magic == D.HEAP_MAGIC_SLABS and smap is not None
        self.slab_pg0 = int(self.v["slab_pg0"]) if self.slabs else 0
        self.slab_map_addr = int(smap.address) if self.slabs else 0
        # heap.slabs=auto before the switch: carving a block turns slabs on at slab_auto_at small blocks in use.
        at = field(self.v, "slab_auto_at")
        self.slab_auto_at = int(at) & MASK64 if at is not None else MASK64
        self.slab_auto = self.slab_auto_at != MASK64

    def _cache_members(self):
        """Header addresses on the front cache's LIFOs (level 0), each checked for the cache's key."""
        key = field(self.v, "cache_key")
        if key is None or self.debug:
            return set()
        key, out = int(key) & MASK64, set()
        heads, counts = self.v["cache_head"], self.v["cache_count"]
        for c in range(heads.type.sizeof // heads[0].type.sizeof):
            b, left = int(heads[c]), int(counts[c])
            while b and left > 0:
                try:
                    if self.mem.u64(b + 16) != key ^ c:   # the class's mark (alloc/heap_impl.h cache_mark)
                        break
                    out.add(b)
                    b = self.mem.u64(b + 8)
                except gdb.MemoryError:
                    break
                left -= 1
        return out

    def counters(self):
        names = ("in_use_bytes", "free_bytes", "used_blocks", "free_blocks", "peak_in_use", "large_blocks",
                 "large_bytes", "sbrk_calls", "small_blocks")
        c = {n: int(self.v[n]) for n in names if field(self.v, n) is not None}
        if self.slabs:
            c["slab_runs"] = int(self.v["slab_runs"])
            live = [int(self.v["slab_live"][k]) for k in range(D.HEAP_SLAB_CLASSES)]
            c["slab_objects"] = sum(live)
            c.update({f"slab_live[{k}]": n for k, n in enumerate(live)})
        return c

    # --- slab runs (alloc/heap_impl.h: slab_page, slab_of, slab_obj) ---

    def slab_map_bit(self, r):
        """(index, set) of the slab_map bit for the run page of address r; index None outside the map."""
        pg = ((r - D.HEAP_SLAB_OFF) >> D.HEAP_SLAB_RUN_SHIFT) - self.slab_pg0
        if not self.slabs or not 0 <= pg < D.HEAP_SLAB_MAP_WORDS * 64:
            return None, False
        return pg, bool((self.mem.u64(self.slab_map_addr + 8 * (pg // 64)) >> (pg % 64)) & 1)

    def slab_run(self, r):
        """struct heap_slab at run start r, decoded and judged (heap_slab.c head_ok and the bitmap)."""
        page = self.mem.page(r)
        vals = struct.unpack_from(D.HEAP_SLAB_LAYOUT, page, r & 0xFFF)
        s = dict(zip(D.HEAP_SLAB_FIELDS[:-1], vals[:8]))
        s["free_bits"] = list(vals[8:])
        s["r"] = r
        s["want"] = D.heap_slab_check_word(r, self.secret)
        s["check_ok"] = s["check"] == s["want"]
        s["sane"] = (s["cls"] < D.HEAP_SLAB_CLASSES and s["size"] == (s["cls"] + 1) * 16
                     and s["cap"] == D.heap_slab_cap(s["cls"]) and s["live"] <= s["cap"])
        cap = min(s["cap"], 256)
        nfree = sum(bin(w).count("1") for w in s["free_bits"])
        s["bitmap_live"] = cap - nfree
        return s

    @staticmethod
    def slab_obj_free(s, i):
        return bool((s["free_bits"][i // 64] >> (i % 64)) & 1)

    def slab_list_pos(self, s):
        """Where run s is on slab_partial[its class]: its position, or None; 'damaged' if the walk breaks."""
        if not s["sane"]:
            return "damaged"
        x, n, limit = int(self.v["slab_partial"][s["cls"]]), 0, int(self.v["slab_runs"]) + 1
        while x and n <= limit:
            if x == s["r"]:
                return n
            try:
                x = self.mem.u64(x + 8)
            except gdb.MemoryError:
                return "damaged"
            n += 1
        return None if not x else "damaged"

    def tag_ok(self, b, w):
        return (w >> D.HEAP_BLK_TAG_SHIFT) == D.heap_tag(b, w & ((1 << D.HEAP_BLK_TAG_SHIFT) - 1), self.secret)

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
            # A freed block held back (alloc/heap.h): in the quarantine at level 2
            # (SPARE set), on a front cache LIFO at level 0 (its header says used).
            free = bool(w & D.HEAP_BLK_FREE)
            held = None
            if not free and self.debug >= 2 and w & D.HEAP_BLK_SPARE:
                held = "quarantined"
            elif not free and b in self.cached:
                held = "cached"
            blk = {"hdr": b, "payload": b + 8, "size": size, "usable": size - 8, "word": w,
                   "free": free, "prev_free": bool(w & D.HEAP_BLK_PREV_FREE),
                   "tag_ok": self.tag_ok(b, w), "large": False, "held": held, "slab": None}
            if size < D.HEAP_MIN_BLOCK or b + size > end:
                return out, f"header at {b:#x} holds size {size} (word {w:#x}): corrupt"
            # A slab run: a used block whose payload starts a run page with its slab_map bit set
            # (heap_impl.h blk_is_slab). "slab" holds its head; its check word says whether it is sound.
            if self.slabs and not free and held is None and D.heap_slab_start_ok(b + 8):
                try:
                    if self.slab_map_bit(b + 8)[1]:
                        blk["slab"] = self.slab_run(b + 8)
                except gdb.MemoryError:
                    pass
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


def slab_note(s):
    """'objects of 16 B: 37 of 251 live' for a run's head, with what looks wrong in it."""
    text = f"objects of {s['size']} B: {s['live']} of {s['cap']} live"
    if s["sane"] and s["live"] == s["cap"]:
        text += ", full"
    if not s["sane"]:
        text += f", head damaged (class {s['cls']}, cap {s['cap']})"
    elif s["bitmap_live"] != s["live"]:
        text += f", but its free bitmap says {s['bitmap_live']} live"
    return text


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
(header included), the usable bytes, and its state:
  used         handed out by kmalloc
  free         on a free list
  large        a page-mapped block (>= the large threshold), with its run
  cached       level 0: freed, waiting in the front cache (its header says used)
  quarantined  level 2: freed, waiting in the quarantine
  slab         heap.slabs=1: a slab run (a used block of 4 KiB holding header-less
               objects of 16, 32, 48 or 64 bytes), with its objects' size and how
               many of them are live: "(objects of 16 B: 37 of 251 live)"
Then the totals (slab runs count among the used blocks; with slabs the line
ends with the runs, their live objects and those objects' bytes), checked
against the heap's own counters (slab_runs and slab_live too), and a
fragmentation figure: 1 - largest free block / free bytes.
'heap summary' prints only the totals. 'heapblock ADDR' shows one block, or
the slab object ADDR is in."""

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
                sl = b.get("slab")
                if sl and sl["check_ok"]:
                    state = "slab"
                    extra.append(slab_note(sl))
                elif sl:
                    extra.append(f"slab_map marks it a slab run, but its check word is {sl['check']:#x}, "
                                 f"want {sl['want']:#x}: run head damaged")
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
        runs = [b["slab"] for b in blocks if b.get("slab")]
        good = [s for s in runs if s["check_ok"]]
        slab_live = [sum(s["live"] for s in good if s["cls"] == k) for k in range(D.HEAP_SLAB_CLASSES)]
        slab_bytes = sum(s["live"] * s["size"] for s in good)
        slab_text = ""
        if h.slabs:
            slab_text = (f"; slabs {len(runs)} runs {sum(slab_live)} objects {slab_bytes} bytes"
                         + (f" ({len(runs) - len(good)} of them with a damaged head, their objects not counted)"
                            if len(good) < len(runs) else ""))
        print(f"totals: used {len(used)} blocks {used_bytes} bytes; free {len(free)} blocks {free_bytes} bytes "
              f"(largest {largest}); large {len(large)} blocks {large_bytes} bytes mapped; "
              f"brk {h.brk - h.base} bytes" + slab_text)
        if h.slabs:
            per = []
            for k in range(D.HEAP_SLAB_CLASSES):
                mine_k = [s for s in good if s["cls"] == k]
                if mine_k:
                    per.append(f"{(k + 1) * 16} B: {len(mine_k)} run{'s' if len(mine_k) > 1 else ''}, "
                               f"{slab_live[k]} of {sum(s['cap'] for s in mine_k)} objects live")
            print(f"slab runs (4 KiB used blocks, counted above among the used): " + ("; ".join(per) or "none")
                  + (f"; their {len(runs) * D.HEAP_SLAB_RUN} bytes hold {slab_bytes} bytes of live objects"
                     if runs else ""))
        cached = [b for b in held if b["held"] == "cached"]
        if held:
            print(f"held back (freed, not yet merged): {len(held)} blocks {sum(b['size'] for b in held)} bytes "
                  f"({held[0]['held']}); " + ("the counters count them in use (the core's view)" if cached else
                                              "the counters leave them out of used and free"))
        print(frag_text(free_bytes, largest))
        c = h.counters()
        small = sum(1 for b in used + cached if b["size"] <= D.HEAP_SMALL_BLOCK and not b.get("slab"))
        if h.slab_auto:
            print(f"slabs: auto, off: {small} blocks of up to {D.HEAP_SMALL_BLOCK} bytes in use, "
                  f"on at {h.slab_auto_at}")
        mine = {"in_use_bytes": used_bytes + sum(b["size"] for b in cached), "free_bytes": free_bytes,
                "small_blocks": small,
                "used_blocks": len(used) + len(cached),
                "free_blocks": len(free), "large_blocks": len(large), "large_bytes": large_bytes}
        if h.slabs:
            mine["slab_runs"] = len(runs)
            mine["slab_objects"] = sum(slab_live)
            mine.update({f"slab_live[{k}]": n for k, n in enumerate(slab_live)})
        diff = [f"{k} walk {mine[k]} vs counter {c[k]}" for k in mine if k in c and c[k] != mine[k]]
        if diff:
            print("MISMATCH with the heap's counters (stopped inside a heap call?): " + "; ".join(diff))
        else:
            print(f"counters agree (peak in use {c.get('peak_in_use', '?')}, sbrk calls {c.get('sbrk_calls', '?')}"
                  + (f"; slab_runs {c['slab_runs']}, sum(slab_live) {c['slab_objects']}" if h.slabs else "")
                  + ")")
        held_bytes = sum(b["size"] for b in held)
        if not problem and h.brk - h.base != used_bytes + free_bytes + held_bytes + 16:
            print(f"note: brk bytes {h.brk - h.base} != used + free + held + 16 (pad and epilogue)")


# Byte spans of struct heap_slab's fields (alloc/heap.h), for heapblock ADDR in a run's head.
SLAB_FIELD_SPAN = {"check": (0, 8), "next": (8, 8), "prev": (16, 8), "size": (24, 2), "cap": (26, 2),
                   "live": (28, 2), "cls": (30, 1), "words": (31, 1), "free_bits": (32, 32)}


class HeapBlock(gdb.Command):
    """heapblock ADDR: the heap block that holds ADDR (any byte of it, or its header).

Says where ADDR falls: in a brk block (header or payload, used or free, with
its size, usable bytes, offset into the payload, header tag check and, for a
free block, its free-list links), in a large block's run, above the break,
or outside the heap. In debug mode (heap.debug=N) it also shows where the
block was allocated, when the heap records that.
With heap.slabs=1, ADDR in a slab run gives the object it is in (index,
object address, live or free, offset into it), or the field of the run's
head (struct heap_slab) it hits, and then the run: object size, live / cap,
its check word (ok or not), its slab_map bit and whether it is on its
class's list of runs with room (slab_partial)."""

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
                if b.get("slab"):
                    return self.slab_block(h, addr, b)
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
              f"tag {b['word'] >> D.HEAP_BLK_TAG_SHIFT:#08x} ({'ok' if b['tag_ok'] else 'BAD: not a header the heap wrote'})")
        if b["free"]:
            try:
                nxt, prv = h.mem.u64(b["hdr"] + 8), h.mem.u64(b["hdr"] + 16)
                fl, sl = D.heap_size_to_list(b["size"])
                print(f"  free list [{fl}][{sl}]: next {nxt:#x}, prev {prv:#x}; "
                      f"foot {h.mem.u64(b['hdr'] + b['size'] - 8):#x}")
            except gdb.MemoryError:
                pass
        self.site(h, b)

    def slab_block(self, h, addr, b):
        """ADDR inside slab run block b: the object (or head field) it hits, then the run."""
        s = b["slab"]
        r, size, cap = s["r"], s["size"], s["cap"]
        sane = s["sane"] and s["check_ok"]
        obj = None
        if addr < r:
            print(f"{addr:#x} is in the header word of a slab run's block (run {r:#x}), not in an object:")
        elif addr < r + D.HEAP_SLAB_HDR:
            off, name = addr - r, None
            for fname, (lo, n) in SLAB_FIELD_SPAN.items():
                if lo <= off < lo + n:
                    name = fname if fname != "free_bits" else f"free_bits[{(off - lo) // 8}]"
            print(f"{addr:#x} is in the head of a slab run (struct heap_slab at {r:#x}, +{off}: {name}), "
                  "not in an object:")
        elif not sane:
            print(f"{addr:#x} is {addr - r - D.HEAP_SLAB_HDR} bytes past the head of a slab run whose head is "
                  "damaged: which object it is in cannot be told:")
        else:
            i, into = divmod(addr - r - D.HEAP_SLAB_HDR, size)
            if i >= cap:
                end = b["hdr"] + b["size"]
                print(f"{addr:#x} is past the last object of a slab run (object {cap - 1} ends at "
                      f"{r + D.HEAP_SLAB_HDR + cap * size:#x}; {end - (r + D.HEAP_SLAB_HDR + cap * size)} bytes "
                      f"unused up to the block's end {end:#x}):")
            else:
                obj = r + D.HEAP_SLAB_HDR + i * size
                freed = h.slab_obj_free(s, i)
                state = "free: freed, or never handed out" if freed else "live"
                print(f"{addr:#x} is {into} bytes into slab object {i} at {obj:#x} ({size} bytes, {state}):")
                print(f"  object {obj:#x}-{obj + size:#x}: index {i} of {cap} in run {r:#x}, "
                      f"free bit {'set' if freed else 'clear'} (free_bits[{i // 64}] bit {i % 64})")
        pg, bit = h.slab_map_bit(r)
        pos = h.slab_list_pos(s)
        full = s["live"] == cap
        if pos == "damaged":
            lst = f"slab_partial[{s['cls']}] cannot be walked (damaged list or head)"
        elif pos is None:
            lst = ("on no list: full" if full else
                   f"NOT on slab_partial[{s['cls']}] although it has free objects (damaged list?)")
        else:
            lst = f"on slab_partial[{s['cls']}] (runs with a free object), position {pos}" + \
                  (" although it is full (damaged list?)" if full else "")
        print(f"  run {r:#x}: objects of {size} B from {r + D.HEAP_SLAB_HDR:#x}, {s['live']} of {cap} live"
              + ("" if s["bitmap_live"] == s["live"] else f" (its free bitmap says {s['bitmap_live']})")
              + (f"; head damaged (size {size}, cap {cap}, class {s['cls']})" if not s["sane"] else ""))
        print(f"  check word {s['check']:#018x} ("
              + ("ok" if s["check_ok"] else f"BAD: want {s['want']:#018x} = run ^ secret ^ 'slabsalt'") + f"); "
              f"slab_map bit {pg} set; {lst}; next {s['next']:#x}, prev {s['prev']:#x}")
        print(f"  block: header {b['hdr']:#x}, {b['size']} bytes (a used block of the break), header tag "
              f"{'ok' if b['tag_ok'] else 'BAD'}")
        if obj is not None:
            print("  allocated at: not recorded (slab objects carry no header nor debug record; "
                  "heap.debug=1 or 2 turns slabs off)")

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
