#!/usr/bin/env python3
"""Writes the test disk's known contents: SECTORS sectors of 512 bytes, each
starting with "hv-disk sector N" (N in decimal) and filled with bytes that
depend on N, so a sector read from the wrong place or a missing sector
changes the checksum.

  disk_pattern.py SECTORS OUT
"""
import sys


def sector(n):
    head = b"hv-disk sector %d\n" % n
    body = bytes((n * 131 + i * 7) & 0xFF for i in range(512 - len(head)))
    return head + body


def main():
    count, out = int(sys.argv[1]), sys.argv[2]
    with open(out, "wb") as f:
        for n in range(count):
            f.write(sector(n))


if __name__ == "__main__":
    main()
