"""tests/shell/prompt.py: boot memkern under QEMU and talk to its memkern> prompt.

Used by tests/shell/run (the prompt tests) and tests/shell/fragment-demo (the
pictures in docs/). QEMU is started exactly as tools/qemu-test starts it (its
qemu_command() builds the command line: same ISO, machine, memory and exit
device), with the serial port on QEMU's stdio, which we hold as two pipes:
we type into one and read the console from the other.

    with Prompt(mem="128M") as p:
        p.wait_prompt()
        out = p.cmd("alloc 100")      # what the command printed, echo and prompt removed
        p.halt()                     # returns QEMU's exit status (33: pass code)
"""
import importlib.machinery
import importlib.util
import os
import select
import signal
import subprocess
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PROMPT = "memkern> "


def _load_qemu_test():
    path = os.path.join(ROOT, "tools", "qemu-test")
    loader = importlib.machinery.SourceFileLoader("memkern_qemu_test", path)
    spec = importlib.util.spec_from_loader("memkern_qemu_test", loader)
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    return mod


class _Args:
    """What qemu_command() reads from tools/qemu-test's argparse result;
    any option it grows later reads as None (its default: off)."""

    def __init__(self, **kw):
        self.__dict__.update(kw)

    def __getattr__(self, name):
        return None


class PromptError(Exception):
    pass


def _die_with_parent():
    """In the child before exec: SIGKILL QEMU if we die without cleaning up, since
    a kernel waiting at its prompt would otherwise keep QEMU spinning forever."""
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)   # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _exit_on_signal(signum, frame):
    raise SystemExit(128 + signum)    # unwinds through the with blocks, which kill QEMU


class Prompt:
    def __init__(self, mem="128M", cmdline="", boot="bios", log=None, cpu=None):
        self.qt = _load_qemu_test()
        self.tmp = tempfile.TemporaryDirectory(prefix="memkern-shell-")
        args = _Args(boot=boot, mem=mem, cpu=cpu, interactive=False, gdb_port=0, image=None,
                     no_kernel_file=False, qemu=os.environ.get("QEMU", "qemu-system-x86_64"))
        self.command = self.qt.qemu_command(args, self.tmp.name, cmdline)
        self.log = open(log, "w") if log else None
        self.text = ""          # everything the console printed so far, "\r" removed
        self.mark = 0           # where the unread part of self.text starts
        self.stderr = open(os.path.join(self.tmp.name, "qemu.stderr"), "w+")
        for sig in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, _exit_on_signal)
        self.proc = subprocess.Popen(self.command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.stderr, start_new_session=True,
                                     preexec_fn=_die_with_parent)
        self.status = None

    # --- reading -----------------------------------------------------------
    def _read(self, timeout):
        """Reads what is there within timeout seconds; False once QEMU is gone."""
        r, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not r:
            return True
        chunk = os.read(self.proc.stdout.fileno(), 65536)
        if not chunk:
            return False
        s = chunk.decode("utf-8", "replace").replace("\r", "")
        self.text += s
        if self.log:
            self.log.write(s)
            self.log.flush()
        return True

    def read_until(self, predicate, timeout, what):
        deadline = time.monotonic() + timeout
        while not predicate(self.text[self.mark:]):
            left = deadline - time.monotonic()
            if left <= 0:
                raise PromptError(f"timeout after {timeout:g} s waiting for {what}; last output:\n"
                                  + self.tail())
            if not self._read(min(left, 0.5)):
                self.status = self.proc.wait()
                self.stderr.seek(0)
                err = self.stderr.read().strip()
                raise PromptError(f"QEMU exited (status {self.status}) while waiting for {what}"
                                  + (f"; it said: {err}" if err else "") + "; last output:\n" + self.tail())
        return self.text[self.mark:]

    def tail(self, n=25):
        return "\n".join("    | " + l for l in self.text.splitlines()[-n:])

    def wait_prompt(self, timeout=60):
        """Waits for the first prompt after boot; returns the boot log."""
        out = self.read_until(lambda t: t.endswith("\n" + PROMPT), timeout, "the first memkern> prompt")
        self.mark = len(self.text)
        return out

    # --- typing --------------------------------------------------------------
    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def cmd(self, line, timeout=15, enter="\r"):
        """Types line and Enter, waits for the next prompt, and returns what the
        command printed (without the echoed line and the prompt)."""
        self.send(line + enter)
        out = self.read_until(lambda t: t.endswith("\n" + PROMPT), timeout, f"the prompt after '{line}'")
        self.mark = len(self.text)
        out = out[: -len(PROMPT)]
        first_nl = out.find("\n")          # the echo of what we typed, up to Enter
        return out[first_nl + 1:] if first_nl >= 0 else out

    def halt(self, timeout=20):
        """Types halt and returns QEMU's exit status."""
        self.send("halt\r")
        try:
            self.read_until(lambda t: False, timeout, "QEMU to exit after halt")
        except PromptError:
            if self.status is None:
                raise
        return self.status

    # --- ending ----------------------------------------------------------------
    def close(self):
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait()
        for f in (self.proc.stdin, self.proc.stdout, self.stderr):
            try:
                f.close()
            except OSError:
                pass
        if self.log:
            self.log.close()
            self.log = None
        self.tmp.cleanup()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False
