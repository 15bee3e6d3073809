"""tools/gdb/memkern_serial.py - the serial console of the QEMU under GDB.

The serial command (the last lines of the log make gdb keeps) and on_stop,
which prints the lines that came out since the last stop (tools/gdb/memkern.py
connects it to GDB's stop event; tools/gdb/transcript calls serial_new_lines).
"""
import time

import gdb


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
