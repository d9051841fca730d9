#!/usr/bin/env python3
"""Guest-to-guest networking under hv (QEMU TCG, SVM, nested): two Debian
guests on xenbr0 (etc/xl/net-a.cfg at 10.0.0.1, net-b.cfg at 10.0.0.2, one
vCPU each), booted three times: as configured (VIRTIO_F_EVENT_IDX offered,
notify writes on the doorbell fast path), with `event_idx=0` in the vif
specs, and with `ioevent=0` (notify writes forwarded to Dom0). In each boot, from net-a's shell (tools/guest/netbench):

  ping64    ping -A with 18 data bytes: 60-byte frames (64 on a wire with
            the FCS), one in flight each way: packets per second
  ping1514  ping -A with 1472 data bytes: 1514-byte frames (MTU 1500)
  udp64     a UDP flood from net-a to net-b (tools/guest/udpblast: sendmmsg
            batches of 64 datagrams of 18 bytes, 60-byte frames), as fast
            as net-a's socket takes them: packets per second net-b
            received, and the share lost
  udp1514   the same with 1472-byte datagrams (1514-byte frames)
  tcp       a TCP stream of BYTES from net-b (busybox nc), its SHA-256
            checked against the same stream made on the host: throughput,
            and the frames xl network-list counted

and while each runs, `xl top` over a window gives both domains' VM exits
per second, which over the frames per second is exits per frame (the idle
rate measured first, before any load, is shown too); the guest counts its
virtio-net interrupts (/proc/interrupts) over the run. Figures only: never
a verdict on time. Nested TCG on shared cores is slow and noisy.

  net_guest_bench.py BUILD_DIR [SECONDS [BYTES]]   (defaults 12 s, 8 MiB)
"""
import os
import re
import subprocess
import sys
import tempfile

from guest_console import typed, xl_tops

here = os.path.dirname(os.path.abspath(__file__))
build = os.path.abspath(sys.argv[1])
secs = int(sys.argv[2]) if len(sys.argv) > 2 else 12
nbytes = int(sys.argv[3]) if len(sys.argv) > 3 else 8 << 20
window = max(2, secs - 4)  # the xl top window, inside the run


def mode(evidx, ioev):
    e = "1" if evidx else "0"
    io = "1" if ioev else "0"
    s = [
        "# ---- event_idx=%s ioevent=%s" % (e, io),
        "send xl create etc/xl/net-a.cfg \"vif=['mac=00:16:3e:00:00:01,event_idx=%s,ioevent=%s']\"" % (e, io),
        "expect Parsing config from etc/xl/net-a.cfg",
        "send console net-a",
        "timeout 90",
        "expect guest shell: the machine powers off when this shell exits",
        "sendraw 1d",
        "send xl create etc/xl/net-b.cfg \"vif=['mac=00:16:3e:00:00:02,event_idx=%s,ioevent=%s']\" "
        "\"extra='console=ttyS0 cryptomgr.notests guest.ip=10.0.0.2/24 guest.ping=10.0.0.1 "
        "guest.tcp_serve=5001:%d guest.shell=1'\"" % (e, io, nbytes),
        "expect Parsing config from etc/xl/net-b.cfg",
        "send console net-b",
        "expect ^guest: ping 10\\.0\\.0\\.1 ok$",
        "expect guest shell: the machine powers off when this shell exits",
        "sendraw 1d",
        "timeout 60",
        "send xl top -d %d -i 1" % window,
        "expect EXITS/s BY REASON",
    ]
    for size in (18, 1472):
        s += ["send console net-a", "expect guest shell"]
        s += typed("netbench ping 10.0.0.2 %d %d &" % (size, secs))
        s += ["sleep 1", "sendraw 1d", "send xl top -d %d -i 1" % window, "expect EXITS/s BY REASON",
              "send console net-a", "expect guest: ping_rate size %d " % size, "sendraw 1d"]
    for size in (18, 1472):
        s += ["send console net-b", "expect guest shell"]
        s += typed("netbench udp_recv 5002 %d &" % secs)
        s += ["sleep 1", "sendraw 1d", "send console net-a", "expect guest shell"]
        s += typed("netbench udp_send 10.0.0.2 5002 %d %d &" % (size, secs))
        s += ["sleep 1", "sendraw 1d", "send xl top -d %d -i 1" % window, "expect EXITS/s BY REASON",
              "send console net-a", "expect guest: udp_send size %d " % size, "sendraw 1d",
              "send console net-b", "expect guest: udp_recv size %d " % size, "sendraw 1d"]
    s += ["send xl network-list net-a net-b", "expect ^Idx"]
    s += ["send console net-a", "expect guest shell"]
    s += typed("netbench get 10.0.0.2 5001 &")
    s += ["sleep 1", "sendraw 1d", "send xl top -d %d -i 1" % window, "expect EXITS/s BY REASON",
          "send console net-a", "timeout %d" % max(120, nbytes // 50000),
          "expect guest: tcp_sha256 ${digest} bytes %d " % nbytes, "timeout 60", "sendraw 1d",
          "send xl network-list net-a net-b", "expect ^Idx",
          "send xl destroy net-b", "send xl destroy net-a", "send list", "absent ^net-"]
    return s


session = ["sha256_of digest sh tools/guest/netbench stream %d" % nbytes] + mode(True, True) + mode(False, True) + mode(True, False)
fd, path = tempfile.mkstemp(suffix=".session")
with os.fdopen(fd, "w") as f:
    f.write("\n".join(session) + "\n")
env = dict(os.environ, HV_LOG_LINES="1000000")
run = subprocess.run([sys.executable, os.path.join(here, "..", "integration", "dom0", "serial_session.py"), build,
                      "svm", path], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
os.unlink(path)
log = run.stdout.decode("latin-1")
if "serial_session: PASS" not in log:
    print("\n".join(log.splitlines()[-60:]))
    print("net_guest_bench: FAIL: the session did not complete")
    sys.exit(1)

# The log, cut at each boot of net-a.
parts = re.split(r"xl> xl create etc/xl/net-a\.cfg", log)[1:]
vif_row = re.compile(r"^0\s+0\s+00:16:3e:00:00:0([12])\s+\d+\s+\d+\s+\S+\s+\S+\s+\S+\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)",
                     re.M)


def netlists(text):
    out = []
    for chunk in text.split("xl> xl network-list")[1:]:
        chunk = chunk.split("xl> ")[0]
        # frames through the bridge: what net-a sent plus what net-b sent.
        rows = {m.group(1): [int(x) for x in m.groups()[1:]] for m in vif_row.finditer(chunk)}
        if "1" in rows and "2" in rows:
            out.append((rows["1"][3] + rows["2"][3], rows["1"][4] + rows["2"][4]))
    return out


print("net_guest_bench: two Debian guests on xenbr0 under hv (QEMU TCG SVM nested, 2 host CPUs, 1 vCPU each)")
print("net_guest_bench: ping runs %d s, xl top windows %d s, TCP stream %d bytes" % (secs, window, nbytes))
print("  %-9s %-9s %10s %10s %9s %10s %10s %12s %9s  %s" % ("mode", "load", "frames/s", "Mbit/s", "frame B",
      "exits/s", "exit/frame", "(less idle)", "irq/frame", "exits by reason (both domains, per second)"))
results = {}
for evidx, text in zip(("default", "no_evidx", "forward"), parts):
    t = xl_tops(text, 'net-[ab]')
    nl = netlists(text)
    if len(t) < 6 or len(nl) < 2:
        print("net_guest_bench: FAIL: event_idx=%s: %d xl top and %d network-list outputs parsed" % (evidx, len(t), len(nl)))
        sys.exit(1)
    exits = [sum(v[0] for v in x.values()) for x in t]
    reasons = ["; ".join("%s: %s" % (k, x[k][1]) for k in sorted(x)) for x in t]
    idle = exits[0]
    print("  %-9s %-9s %10s %10s %9s %10d %10s %12s %9s  %s" % (evidx, "idle", "-", "-", "-", idle, "-", "-", "-",
                                                               reasons[0]))
    for i, (name, size) in enumerate((("ping64", 18), ("ping1514", 1472))):
        m = re.search(r"guest: ping_rate size %d sent (\d+) received (\d+) seconds ([\d.]+) pps (\d+) irqs (\d+)" % size,
                      text, re.M)
        if not m:
            # The session saw the line start; other console output (a
            # kernel message, the shell's prompt) may have cut into it.
            print("  %-9s %-9s (no whole ping_rate line on the console)" % (evidx, name))
            continue
        recv, sec, irqs = int(m.group(2)), float(m.group(3)), int(m.group(5))
        fps = 2 * recv / sec
        frame = size + 42
        print("  %-9s %-9s %10.0f %10.2f %9d %10d %10.1f %12.1f %9.2f  %s" % (
            evidx, name, fps, fps * frame * 8 / 1e6, frame, exits[i + 1], exits[i + 1] / fps,
            (exits[i + 1] - idle) / fps, irqs / (2 * recv), reasons[i + 1]))
        results[(evidx, name)] = fps
    for i, (name, size) in enumerate((("udp64", 18), ("udp1514", 1472))):
        snd = re.search(r"guest: udp_send size %d packets (\d+) seconds ([\d.]+) pps (\d+) irqs (\d+)" % size, text, re.M)
        rcv = re.search(r"guest: udp_recv size %d packets (\d+) seconds ([\d.]+) pps (\d+) reordered (\d+) irqs (\d+)"
                        % size, text, re.M)
        if not snd or not rcv:
            print("  %-9s %-9s (no whole udp_send/udp_recv line on the consoles)" % (evidx, name))
            continue
        sent, got, sec, irqs = int(snd.group(1)), int(rcv.group(1)), float(rcv.group(2)), int(rcv.group(5))
        fps = got / sec
        frame = size + 42
        lost = 100.0 * (sent - got) / max(sent, 1)
        print("  %-9s %-9s %10.0f %10.2f %9d %10d %10.1f %12.1f %9.2f  lost %.1f%% of %d sent; %s" % (
            evidx, name, fps, fps * frame * 8 / 1e6, frame, exits[i + 3], exits[i + 3] / fps,
            (exits[i + 3] - idle) / fps, irqs / max(got, 1), lost, sent, reasons[i + 3]))
        results[(evidx, name)] = fps
    m = re.search(r"guest: tcp_sha256 (\S+) bytes (\d+) seconds ([\d.]+) mbit_s (\d+) irqs (\d+)", text, re.M)
    if not m:
        print("  %-9s %-9s (no whole tcp_sha256 line on the console)" % (evidx, "tcp"))
        continue
    sec, irqs = float(m.group(3)), int(m.group(5))
    frames = nl[-1][0] - nl[-2][0]
    nb = nl[-1][1] - nl[-2][1]
    fps = frames / sec
    print("  %-9s %-9s %10.0f %10.2f %9.0f %10d %10.1f %12.1f %9.2f  %s" % (
        evidx, "tcp", fps, int(m.group(2)) * 8 / sec / 1e6, nb / max(frames, 1), exits[5], exits[5] / fps,
        (exits[5] - idle) / fps, irqs / max(frames, 1), reasons[5]))
    results[(evidx, "tcp")] = int(m.group(2)) / sec
print("  (frames/s: frames through xenbr0 both ways; exit/frame: both domains' exits per second over it; "
      "irq/frame: net-a's virtio-net interrupts per frame it sent or received; udp irq/frame: net-b's per "
      "datagram it received; tcp irq/frame: net-a's interrupts per frame of the whole exchange)")
print("  (modes: default = event index on and the doorbell fast path; no_evidx = event_idx=0; forward = ioevent=0)")
for name in ("ping64", "ping1514", "udp64", "udp1514", "tcp"):
    for other in ("no_evidx", "forward"):
        if ("default", name) in results and (other, name) in results:
            print("net_guest_bench: %-8s rate default / %-8s %.2fx" % (name, other,
                  results[("default", name)] / results[(other, name)]))
print("net_guest_bench: done")
