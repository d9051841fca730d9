"""What the guest benchmarks share: typing into a Linux guest's shell
through the serial session, and reading `xl top`'s rows out of its log."""
import re


def typed(cmd):
    # A command for the attached guest's shell, a few bytes at a time (the
    # guest's UART has a 16-byte FIFO).
    data = (cmd + "\n").encode().hex()
    out = []
    for i in range(0, len(data), 16):
        out += ["sendraw " + data[i:i + 16], "sleep 0.1"]
    return out


def xl_tops(text, names):
    # Each `xl top` in text: {domain: (exits/s, reasons)} for the domains
    # whose names match the regular expression `names`.
    row = re.compile(r"^\s*(%s)\s+\S+\s+\d+\s+[\d.]+\s+\d+\s+\d+\s+(\d+)\s+(.*)$" % names, re.M)
    out = []
    for chunk in text.split("xl> xl top")[1:]:
        chunk = chunk.split("xl> ")[0]
        out.append({m.group(1): (int(m.group(2)), m.group(3).strip()) for m in row.finditer(chunk)})
    return out
