"""tests/gdb/check.py - the GDB half of tests/gdb/run (runs inside gdb -batch).

Connects to the paused QEMU (port in $GDBCHECK_PORT), stops at a few known
points, runs our commands there and writes what each printed to the JSON
file $GDBCHECK_OUT: [{"stop": name, "cmd": command, "out": text}, ...].
It judges nothing: tests/gdb/run compares the outputs with what the kernel
printed over serial, after the run. The stops:

  _start         32-bit boot code, paging off (a breakpoint before long mode)
  kmain          64-bit, still on the boot page tables
  checkpoint 1   gdbcheck.heap_and_frames: heap blocks, a large block, frames
  checkpoint 2/3 gdbcheck.heap_grows: before and after the heap's break grows
  trap_dispatch  gdbcheck.fault_above_break: inside the page-fault handler
  checkpoint 5   gdbcheck.small_objects: small requests live (slab objects
                 when tests/gdb/run boots with heap.slabs=1)
"""
import json
import os
import time

import gdb

PORT = os.environ["GDBCHECK_PORT"]
OUT = os.environ["GDBCHECK_OUT"]
records = []


def run(stop, cmd):
    try:
        out = gdb.execute(cmd, to_string=True)
    except gdb.error as e:
        out = f"ERROR: {e}"
    records.append({"stop": stop, "cmd": cmd, "out": out})


def save():
    with open(OUT, "w") as f:
        json.dump(records, f, indent=1)


def connect():
    deadline = time.monotonic() + 20
    while True:
        try:
            gdb.execute(f"target remote 127.0.0.1:{PORT}", to_string=True)
            return
        except gdb.error as e:
            if time.monotonic() > deadline:
                raise gdb.GdbError(f"could not connect to QEMU on port {PORT}: {e}")
            time.sleep(0.2)


def cont():
    """Continues; returns the function we stopped in, or None when the target went away."""
    try:
        gdb.execute("continue", to_string=True)
    except gdb.error as e:
        records.append({"stop": "end", "cmd": "continue", "out": str(e)})
        return None
    try:
        return gdb.newest_frame().name()
    except gdb.error:
        return None


def checkpoint_id():
    return int(gdb.parse_and_eval("id"))


connect()
gdb.execute("hbreak _start", to_string=True)
gdb.execute("hbreak kmain", to_string=True)

where = cont()
run("_start", "info registers cs")
run("_start", "ptwalk 0x100000")
run("_start", "memkern-regs")
run("_start", "dis32 _start 80")
run("_start", "x/80i _start")

where = cont()
run("kmain", "p $pc == kmain")
run("kmain", "memkern-regs")
run("kmain", "ptwalk 0xffff800000200000")
run("kmain", "ptwalk 0")
run("kmain", "pmm")
run("kmain", "heap")
gdb.execute("delete", to_string=True)
gdb.execute("break gdb_checkpoint", to_string=True)
gdb.execute("break trap_dispatch", to_string=True)

for _ in range(10):
    where = cont()
    if where is None:
        break
    if where == "trap_dispatch":
        run("fault", "ptwalk $cr2")
        run("fault", "p/x $cr2")
        run("fault", "heap")
        run("fault", "memkern-regs")
        continue
    cp = checkpoint_id()
    stop = f"cp{cp}"
    if cp == 1:
        for cmd in ("ptwalk gdbcheck.heap_ptr", "ptwalk (char *)gdbcheck.large_ptr + 4096",
                    "ptwalk 0xffff800000123456", "ptwalk gdb_checkpoint", "ptwalk &gdbcheck",
                    "ptdump 0xffff800000000000 0xffffffffffffffff", "ptdump", "pmm", "pmm lists", "heap",
                    "heapblock (char *)gdbcheck.heap_ptr + 5", "heapblock gdbcheck.free_ptr",
                    "heapblock gdbcheck.large_ptr", "heapblock 0xffffc00000100000", "pmm gdbcheck.heap_ptr",
                    "p/x gdbcheck"):
            run(stop, cmd)
    elif cp in (2, 3):
        run(stop, "ptdump heap")
        run(stop, "heap summary")
        run(stop, "p/x gdbcheck")
    elif cp == 4:
        gdb.execute("clear trap_dispatch", to_string=True)
    elif cp == 5:
        run_start = "(((unsigned long)gdbcheck.slab_ptr - 16) & ~4095UL) + 16"    # the run holding it
        for cmd in ("heap", "heapblock gdbcheck.slab_ptr", "heapblock (char *)gdbcheck.slab_ptr + 3",
                    "heapblock gdbcheck.slab_free_ptr", f"heapblock {run_start} + 28", "p/x gdbcheck"):
            run(stop, cmd)
        gdb.execute("delete", to_string=True)
save()
# Let the kernel finish its run: QEMU exits and the connection closes.
if where is not None:
    cont()
save()
