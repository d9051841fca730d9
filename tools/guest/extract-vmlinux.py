#!/usr/bin/env python3
"""Extract the uncompressed ELF kernel (vmlinux) from an x86 bzImage.

    extract-vmlinux.py VMLINUZ VMLINUX

Finds the xz stream (magic FD 37 7A 58 5A 00) in the bzImage's compressed
payload, decompresses it, and checks that the result is an x86_64 ELF64 with
a Xen ELF note of type 18 (XEN_ELFNOTE_PHYS32_ENTRY): the PVH entry point
that QEMU's -kernel and hv's loader jump to. Prints that entry address.
Standard library only.
"""
import lzma
import os
import struct
import sys

XZ_MAGIC = b"\xfd7zXZ\x00"
XEN_ELFNOTE_PHYS32_ENTRY = 18
PT_NOTE = 4


def fail(msg):
    sys.exit(f"extract-vmlinux: {msg}")


def payload(image):
    """The compressed payload of a bzImage, or the whole file if not one."""
    if len(image) > 0x250 and image[0x202:0x206] == b"HdrS":
        setup_sects = image[0x1F1] or 4
        version = struct.unpack_from("<H", image, 0x206)[0]
        if version >= 0x208:
            off, length = struct.unpack_from("<II", image, 0x248)
            start = (setup_sects + 1) * 512 + off
            if length and start + length <= len(image):
                return image[start:start + length]
    return image


def decompress(data):
    pos = data.find(XZ_MAGIC)
    if pos < 0:
        fail("no xz stream in the kernel image (not an xz-compressed bzImage?)")
    dec = lzma.LZMADecompressor(format=lzma.FORMAT_XZ)
    try:
        out = dec.decompress(data[pos:])
    except lzma.LZMAError as e:
        fail(f"xz stream at payload offset {pos:#x}: {e}")
    if not dec.eof:
        fail("xz stream is truncated")
    return out


def pvh_entry(elf):
    """The XEN_ELFNOTE_PHYS32_ENTRY address, or None."""
    if elf[:4] != b"\x7fELF" or elf[4] != 2 or elf[5] != 1:
        fail("decompressed kernel is not a little-endian ELF64")
    e_machine = struct.unpack_from("<H", elf, 18)[0]
    if e_machine != 62:
        fail(f"decompressed kernel is not x86_64 (e_machine {e_machine})")
    e_phoff = struct.unpack_from("<Q", elf, 32)[0]
    e_phentsize, e_phnum = struct.unpack_from("<HH", elf, 54)
    for i in range(e_phnum):
        p_type, _, p_offset, _, _, p_filesz = struct.unpack_from(
            "<IIQQQQ", elf, e_phoff + i * e_phentsize)
        if p_type != PT_NOTE:
            continue
        pos, end = p_offset, p_offset + p_filesz
        while pos + 12 <= end:
            namesz, descsz, ntype = struct.unpack_from("<III", elf, pos)
            name = elf[pos + 12:pos + 12 + namesz]
            desc_off = pos + 12 + ((namesz + 3) & ~3)
            if name.rstrip(b"\0") == b"Xen" and ntype == XEN_ELFNOTE_PHYS32_ENTRY:
                size = 8 if descsz >= 8 else 4
                return int.from_bytes(elf[desc_off:desc_off + size], "little")
            pos = desc_off + ((descsz + 3) & ~3)
    return None


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: extract-vmlinux.py VMLINUZ VMLINUX")
    src, dst = sys.argv[1:]
    with open(src, "rb") as f:
        image = f.read()
    elf = decompress(payload(image))
    entry = pvh_entry(elf)
    if entry is None:
        fail("no Xen ELF note of type 18 (XEN_ELFNOTE_PHYS32_ENTRY): "
             "kernel lacks CONFIG_PVH")
    tmp = dst + ".tmp"
    with open(tmp, "wb") as f:
        f.write(elf)
    os.replace(tmp, dst)
    print(f"extract-vmlinux: {dst}: ELF64 x86_64, {len(elf)} bytes, "
          f"PVH entry {entry:#x}")


if __name__ == "__main__":
    main()
