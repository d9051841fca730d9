#!/usr/bin/env python3
"""virtio-blk in a Linux guest under hv (QEMU TCG, SVM, nested): VM exits per
disk request at queue depth 1 and 32. The guest (etc/xl/linux-blkbench.cfg,
one vCPU) has a raw volume of the host's disk (the nested machine's
virtio-blk disk, partition 1) as xvda, and is booted three times: as
configured (VIRTIO_F_EVENT_IDX offered, notify writes on the doorbell fast
path), with `event_idx=0` in its disk spec, and with `ioevent=0` (notify
writes forwarded to Dom0 as MMIO, the vCPU waiting for the device model).
In each boot, from the guest's shell, tools/guest/blkbench runs 4 KiB
O_DIRECT reads and then writes with 1 and with 32 requests in flight for
SECONDS each, and meanwhile `xl top` over a window gives the guest's and
Dom0's VM exits per second by reason; over the requests per second the
disk completed that is exits per request. The guest counts its virtio-blk
interrupts too. Figures only: never a verdict on time. Nested TCG on
shared cores is slow and noisy; exits per request are what it measures
well.

  blk_guest_bench.py BUILD_DIR [SECONDS]   (default 10 s)
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

from guest_console import typed, xl_tops

here = os.path.dirname(os.path.abspath(__file__))
build = os.path.abspath(sys.argv[1])
secs = int(sys.argv[2]) if len(sys.argv) > 2 else 10
window = max(2, secs - 4)  # the xl top window, inside the run
loads = [("read", 1), ("read", 32), ("write", 1), ("write", 32)]
modes = [("default", ""), ("no_evidx", ", event_idx=0"), ("forward", ", ioevent=0")]


def mode(name, extra):
    s = ["# ---- %s" % name,
         "timeout 30",
         # target= takes the rest of the spec: the keys go before it.
         "send xl create etc/xl/linux-blkbench.cfg \"disk=['format=raw, vdev=xvda, access=rw%s, target=/dev/vda1']\""
         % extra,
         "expect Parsing config from etc/xl/linux-blkbench.cfg",
         "send console linux-blkbench",
         "timeout 120",
         "expect guest shell: the machine powers off when this shell exits",
         "sendraw 1d",
         "timeout 60",
         "send xl top -d %d -i 1" % window,
         "expect EXITS/s BY REASON"]
    for op, qd in loads:
        s += ["send console linux-blkbench", "expect guest shell"]
        s += typed("blkbench vda %s %d %d &" % (op, qd, secs))
        s += ["sleep 1", "sendraw 1d", "send xl top -d %d -i 1" % window, "expect EXITS/s BY REASON",
              "send console linux-blkbench", "expect guest: blk_rate dev vda op %s qd %d " % (op, qd), "sendraw 1d"]
    s += ["send xl destroy linux-blkbench", "send list", "absent ^linux-blkbench"]
    return s


work = tempfile.mkdtemp()
try:
    disk = os.path.join(work, "vd.raw")
    with open(disk, "wb") as f:
        f.truncate(64 << 20)
    subprocess.run(["sfdisk", "-q", disk], input=b"label: gpt\nstart=2048, size=98304, name=bench\n", check=True)
    session = []
    for name, extra in modes:
        session += mode(name, extra)
    path = os.path.join(work, "bench.session")
    with open(path, "w") as f:
        f.write("\n".join(session) + "\n")
    env = dict(os.environ, HV_LOG_LINES="1000000",
               HV_QEMU_EXTRA="-drive file=%s,if=none,id=vd,format=raw,cache=writeback -device virtio-blk-pci,drive=vd"
               % disk)
    run = subprocess.run([sys.executable, os.path.join(here, "..", "integration", "dom0", "serial_session.py"), build,
                          "svm", path], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
finally:
    shutil.rmtree(work, ignore_errors=True)
log = run.stdout.decode("latin-1")
if "serial_session: PASS" not in log:
    print("\n".join(log.splitlines()[-60:]))
    print("blk_guest_bench: FAIL: the session did not complete")
    sys.exit(1)

parts = re.split(r"xl> xl create etc/xl/linux-blkbench\.cfg", log)[1:]


print("blk_guest_bench: a Debian guest's virtio-blk disk (raw volume) under hv (QEMU TCG SVM nested, 2 host CPUs, 1 vCPU)")
print("blk_guest_bench: loads of 4 KiB O_DIRECT requests, %d s each; xl top windows %d s" % (secs, window))
print("  %-9s %-9s %8s %9s %9s %10s %9s %9s  %s" % ("mode", "load", "IOPS", "exits/s", "exit/req", "(less idle)",
                                                    "dom0/req", "irq/req", "guest's exits by reason, per second"))
results = {}
for (mname, _), text in zip(modes, parts):
    t = xl_tops(text, 'linux-blkbench|Domain-0')
    if len(t) < 1 + len(loads) or any("linux-blkbench" not in x for x in t):
        print("blk_guest_bench: FAIL: %s: %d xl top outputs parsed" % (mname, len(t)))
        sys.exit(1)
    idle = t[0]["linux-blkbench"][0]
    idle0 = t[0].get("Domain-0", (0, ""))[0]
    print("  %-9s %-9s %8s %9d %9s %10s %9s %9s  %s" % (mname, "idle", "-", idle, "-", "-", "-", "-",
                                                       t[0]["linux-blkbench"][1]))
    for i, (op, qd) in enumerate(loads):
        m = re.search(r"guest: blk_rate dev vda op %s qd %d requests (\d+) seconds ([\d.]+) iops (\d+) irqs (\d+)"
                      % (op, qd), text)
        load = "%s_qd%d" % (op, qd)
        if not m:
            print("  %-9s %-9s (no whole blk_rate line on the console)" % (mname, load))
            continue
        n, sec, irqs = int(m.group(1)), float(m.group(2)), int(m.group(4))
        iops = n / sec if sec > 0 else 0
        if iops <= 0:
            print("  %-9s %-9s (no requests completed)" % (mname, load))
            continue
        ex, reasons = t[i + 1]["linux-blkbench"]
        d0 = t[i + 1].get("Domain-0", (0, ""))[0]
        print("  %-9s %-9s %8.0f %9d %9.2f %10.2f %9.2f %9.2f  %s" % (
            mname, load, iops, ex, ex / iops, (ex - idle) / iops, (d0 - idle0) / iops, irqs / n, reasons))
        results[(mname, load)] = ((ex - idle) / iops, iops)
print("  (exit/req: the guest's exits per second over the requests per second; less idle: the idle rate of the same "
      "boot taken off first; dom0/req: Dom0's exits per request, less its idle rate; irq/req: the guest's virtio-blk "
      "interrupts per request)")
print("  (modes: default = event index on and the doorbell fast path; no_evidx = event_idx=0; forward = ioevent=0)")
for op, qd in loads:
    load = "%s_qd%d" % (op, qd)
    for other in ("no_evidx", "forward"):
        if ("default", load) in results and (other, load) in results:
            a, b = results[("default", load)], results[(other, load)]
            print("blk_guest_bench: %-10s exits/request default %.2f, %-8s %.2f (%.2fx); IOPS default / %s %.2fx" % (
                load, a[0], other, b[0], a[0] / b[0] if b[0] > 0 else 0, other, a[1] / b[1]))
print("blk_guest_bench: done")
