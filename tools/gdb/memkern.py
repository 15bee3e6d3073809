"""tools/gdb/memkern.py - GDB commands that read memkern's own structures: the loader.

Sourced by tools/gdb/gdbinit (make gdb does that). Commands:

  ptwalk VA [cr3=PA]        the 4-level walk of VA: each table, index, raw entry,
                            decoded flags, down to the frame, and why it stops
  ptdump [FROM TO | REGION] [cr3=PA]
                            mapped ranges, merged, with rights (like Linux's
                            ptdump and the kernel's own vmm_dump)
  pmm [PA | lists]          free blocks per order and totals; which block holds PA;
                            or walk the free lists and check them against the counts
  heap [summary]            every block of the kmalloc heap, totals, fragmentation
                            (heap.slabs=1: slab runs with their objects' class and count)
  heapblock ADDR            the heap block that holds ADDR (in a slab run: the object)
  memkern-regs              CR0/CR3/CR4/EFER decoded: paging mode, whose tables are live
  pferr CODE                a page-fault error code decoded
  dis32 [ADDR [N]]          disassemble 32-bit boot code (GDB decodes it as 64-bit)
  serial [N]                the last N lines of the serial console (make gdb)
  memkern-connect PORT      target remote, retrying while QEMU starts

Everything is read from guest memory at the moment of the stop, so the
commands work anywhere: in boot code, in the middle of kmalloc, inside a fault
handler. Nothing here calls into the kernel.

The commands live in modules next to this file, one job each:
  memkern_defs.py     constants mirrored from the C headers (tests/gdb/run checks them)
  memkern_mem.py      registers, symbols, arguments; reading physical and virtual memory
  memkern_paging.py   the 4-level page walk (one address, or every leaf of a range)
  memkern_pt.py       ptwalk, ptdump
  memkern_pmm.py      pmm (struct buddy pmm)
  memkern_heap.py     heap, heapblock (struct heap heap)
  memkern_misc.py     memkern-regs, pferr, dis32, memkern-connect
  memkern_serial.py   serial, and the serial lines printed at each stop
This file puts their directory on sys.path, imports them (reloads them when
sourced again, so edits take effect), registers the commands, and copies the
modules' names into GDB's Python namespace as before the split (python
reg('cr3'), and tools/gdb/transcript's serial_new_lines(), still work).
"""
import importlib
import os
import sys

import gdb

sys.dont_write_bytecode = True     # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import memkern_defs as D  # noqa: E402,F401

_MODULES = ("memkern_mem", "memkern_paging", "memkern_pmm", "memkern_pt", "memkern_heap", "memkern_misc",
            "memkern_serial")    # in dependency order, for the reloads
for _name in _MODULES:
    _mod = importlib.reload(sys.modules[_name]) if _name in sys.modules else importlib.import_module(_name)
    globals().update({k: v for k, v in vars(_mod).items() if not k.startswith("__")})

from memkern_heap import HeapBlock, HeapCmd  # noqa: E402
from memkern_misc import Connect, Dis32, MemkernRegs, PfErr  # noqa: E402
from memkern_pmm import Pmm  # noqa: E402
from memkern_pt import PtDump, PtWalk  # noqa: E402
from memkern_serial import SERIAL, Serial, on_stop  # noqa: E402


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
