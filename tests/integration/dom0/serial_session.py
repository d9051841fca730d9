#!/usr/bin/env python3
"""Drives the hypervisor's Dom0 shell over the serial line, as a user at the
console would, and checks what it answers.

  serial_session.py BUILD_DIR BACKEND SCRIPT

BACKEND: svm (QEMU TCG, qemu64,+svm,+npt, 2 CPUs, -kernel with the Dom0 and
initfs modules) or vmx (Bochs corei7_skylake_x from build/hv.iso, its COM1 on
a TCP socket). SCRIPT is a file of steps, one per line:

  expect REGEX          wait until the output since the last command matches
  send TEXT             type TEXT and Enter
  sendraw HEX           type raw bytes (e.g. 1d for Ctrl-])
  absent REGEX          the output since the last command must not match
  capture NAME REGEX    like expect; group 1 is kept as ${NAME} for later steps
  sha256 NAME FILE      ${NAME} is the SHA-256 (hex) of FILE in BUILD_DIR, computed here
  sha256_of NAME CMD    ${NAME} is the SHA-256 of what the shell command CMD
                        prints, run here in the source tree's root
  timeout SECONDS       the time each later step may wait (default: the
                        backend's, 20 s on svm)
  repeat N ... end      the steps in between, N times
  sleep SECONDS         let the guests run (output keeps being collected)
  # ...                 comment

Every `send` first waits for the prompt. The verdict is printed as
"serial_session: PASS" or "serial_session: FAIL: <why>", followed by the tail
of the serial log. Only the Python standard library is used.
"""
import hashlib
import os
import re
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import time

PROMPT = "xl> "


class Console:
    def __init__(self, proc, sock=None):
        self.proc = proc
        self.sock = sock
        self.buf = ""       # everything seen
        self.mark = 0       # start of the output since the last command

    def _fd(self):
        return self.sock.fileno() if self.sock else self.proc.stdout.fileno()

    def _read(self, timeout):
        r, _, _ = select.select([self._fd()], [], [], timeout)
        if not r:
            return False
        data = self.sock.recv(4096) if self.sock else os.read(self._fd(), 4096)
        if not data:
            raise EOFError("the emulator closed the serial line")
        self.buf += data.decode("latin-1").replace("\r", "")
        return True

    def wait_for(self, pattern, timeout, start=None):
        rx = re.compile(pattern, re.M)
        start = self.mark if start is None else start
        deadline = time.time() + timeout
        while True:
            m = rx.search(self.buf, start)
            if m:
                return m
            left = deadline - time.time()
            if left <= 0:
                return None
            if self.proc.poll() is not None and not self._read(0.2):
                return None
            self._read(min(left, 0.5))

    def write(self, data):
        if self.sock:
            self.sock.sendall(data)
        else:
            self.proc.stdin.write(data)
            self.proc.stdin.flush()

    def type_line(self, text):
        # One byte at a time with a small gap: the emulated UART has a
        # 16-byte FIFO and Dom0 polls it.
        for b in text.encode() + b"\r":
            self.write(bytes([b]))
            time.sleep(0.01)


def start_qemu(build, work):
    cmd = ["qemu-system-x86_64", "-accel", "tcg", "-cpu", "qemu64,+svm,+npt", "-smp", "2", "-m", "512",
           "-nodefaults", "-display", "none", "-monitor", "none", "-no-reboot", "-serial", "stdio",
           "-serial", "null",  # COM2, for Dom0's device-access checks
           "-kernel", os.path.join(build, "hv.elf32"), "-append", "console=com1,115200 loglevel=info",
           "-initrd", "%s dom0,%s initfs" % (os.path.join(build, "dom0.elf"), os.path.join(build, "initfs.cpio"))]
    # Extra QEMU options (the benchmarks add -icount) and CPU count.
    cmd += os.environ.get("HV_QEMU_EXTRA", "").split()
    if os.environ.get("HV_SMP"):
        cmd[cmd.index("-smp") + 1] = os.environ["HV_SMP"]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    return Console(proc), 60, 20


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def start_bochs(build, work):
    port = free_port()
    iso = os.path.join(build, "hv.iso")
    with open(os.path.join(work, "bochs.rc"), "w") as f:
        f.write("continue\nquit\n")
    with open(os.path.join(work, "bochsrc"), "w") as f:
        f.write("""megs: 512
cpu: model=corei7_skylake_x, count=%s, reset_on_triple_fault=0
romimage: file=/usr/share/bochs/BIOS-bochs-latest
vgaromimage: file=/usr/share/vgabios/vgabios.bin
ata0-master: type=cdrom, path="%s", status=inserted
boot: cdrom
com1: enabled=1, mode=socket-server, dev=127.0.0.1:%d
com2: enabled=1, mode=null
display_library: rfb, options="timeout=0"
panic: action=fatal
log: %s
""" % (os.environ.get("HV_SMP", "1"), iso, port, os.path.join(work, "bochs.log")))
    proc = subprocess.Popen(["bochs", "-q", "-f", os.path.join(work, "bochsrc"), "-rc", os.path.join(work, "bochs.rc")],
                            cwd=work, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=open(os.path.join(work, "bochs.err"), "w"))
    deadline = time.time() + 30
    while True:
        try:
            sock = socket.create_connection(("127.0.0.1", port), timeout=1)
            break
        except OSError:
            if time.time() > deadline or proc.poll() is not None:
                raise RuntimeError("cannot connect to Bochs's COM1 socket")
            time.sleep(0.2)
    return Console(proc, sock), 300, 120


def main():
    build, backend, script = os.path.abspath(sys.argv[1]), sys.argv[2], sys.argv[3]
    work = tempfile.mkdtemp(prefix="hv-dom0-")
    con = None
    verdict = None
    try:
        con, boot_timeout, step_timeout = (start_qemu if backend == "svm" else start_bochs)(build, work)
        if not con.wait_for(re.escape(PROMPT), boot_timeout, 0):
            verdict = "no xl prompt within %d s" % boot_timeout
        steps = []
        stack = []
        for lineno, raw in enumerate(open(script), 1):
            line = raw.rstrip("\n")
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            op, _, arg = line.strip().partition(" ")
            if op == "repeat":
                stack.append((int(arg), steps))
                steps = []
            elif op == "end":
                count, outer = stack.pop()
                outer.extend(steps * count)
                steps = outer
            else:
                steps.append((lineno, op, arg))
        variables = {}

        def subst(text):
            return re.sub(r"\$\{(\w+)\}", lambda m: re.escape(variables.get(m.group(1), "")), text)

        for lineno, op, arg in steps:
            if verdict:
                break
            if op == "send":
                # The prompt that follows the previous command's output (the
                # hypervisor's warnings may follow it, as on a real console).
                if not con.wait_for(re.escape(PROMPT), step_timeout):
                    verdict = "line %d: no prompt before sending %r" % (lineno, arg)
                    break
                con.mark = len(con.buf)
                con.type_line(arg)
            elif op == "sendraw":
                con.mark = len(con.buf)
                con.write(bytes.fromhex(arg))
            elif op in ("expect", "capture"):
                name, pattern = (arg.split(" ", 1) + [""])[:2] if op == "capture" else (None, arg)
                m = con.wait_for(subst(pattern), step_timeout)
                if not m:
                    verdict = "line %d: expected /%s/ in the output" % (lineno, subst(pattern))
                elif name:
                    variables[name] = m.group(1)
            elif op == "sha256":
                name, _, path = arg.partition(" ")
                with open(os.path.join(build, path.strip()), "rb") as f:
                    variables[name] = hashlib.sha256(f.read()).hexdigest()
            elif op == "sha256_of":
                name, _, cmd = arg.partition(" ")
                root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..")
                digest = hashlib.sha256()
                gen = subprocess.Popen(cmd, shell=True, cwd=root, stdout=subprocess.PIPE)
                for chunk in iter(lambda: gen.stdout.read(1 << 20), b""):
                    digest.update(chunk)
                if gen.wait() != 0:
                    verdict = "line %d: %r failed" % (lineno, cmd)
                variables[name] = digest.hexdigest()
            elif op == "timeout":
                step_timeout = float(arg)
            elif op == "sleep":
                end = time.time() + float(arg)
                while time.time() < end:
                    con._read(min(0.5, max(0.0, end - time.time())))
            elif op == "absent":
                con.wait_for(re.escape(PROMPT), step_timeout)
                if re.search(subst(arg), con.buf[con.mark:], re.M):
                    verdict = "line %d: /%s/ must not appear" % (lineno, arg)
            else:
                verdict = "line %d: unknown step %r" % (lineno, op)
        if not verdict and re.search(r"hv: FATAL|PANIC", con.buf):
            verdict = "the hypervisor or Dom0 panicked"
    except Exception as e:  # a broken run is a failure, with its reason
        verdict = "%s: %s" % (type(e).__name__, e)
    finally:
        if con:
            try:
                con.proc.kill()
                con.proc.wait(timeout=10)
            except Exception:
                pass
        log = con.buf if con else ""
        shutil.rmtree(work, ignore_errors=True)
    keep = int(os.environ.get("HV_LOG_LINES", "120"))
    print("--- serial log (last %d lines) ---" % keep)
    print("\n".join(log.splitlines()[-keep:]))
    print("serial_session: PASS" if not verdict else "serial_session: FAIL: " + verdict)
    return 0 if not verdict else 1


if __name__ == "__main__":
    sys.exit(main())
