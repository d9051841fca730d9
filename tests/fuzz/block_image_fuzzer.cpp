// libFuzzer target for the qcow2 and VHD metadata parsers and I/O paths.
// libFuzzer inputs here are short (-max_len=64), so an input is a patch list
// for a valid image built once in memory: byte 0 picks the image (qcow2 v3,
// qcow2 v2 with a snapshot, VHD dynamic, VHD fixed), then each 4 bytes are
// (24-bit offset, value) pokes into its headers, L1/L2/refcount tables, BAT
// and bitmaps. The patched image is opened read-only and read-write, read
// end to end, checked, written, flushed and closed: any outcome but an error
// value (crash, out-of-bounds access, UB, leak) is a finding.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "tools/hvimg/host.hpp"
#include "vmm/block/image.hpp"
#include "vmm/block/qcow2/qcow2.hpp"
#include "vmm/block/vhd/vhd.hpp"

namespace {

using namespace vmm::block;

class MemFile final : public File {
public:
    std::vector<uint8_t> data;
    bool rw = false;
    void submit(FileRequest& r) override
    {
        lib::Status s;
        switch (r.op) {
        case FileOp::read:
            if (r.offset > data.size() || r.len > data.size() - r.offset) s = lib::Error::truncated;
            else std::memcpy(r.buf, data.data() + r.offset, r.len);
            break;
        case FileOp::write:
            if (r.offset + r.len > (64u << 20)) {
                s = lib::Error::io;  // a hostile image must not make us grow without bound
                break;
            }
            if (data.size() < r.offset + r.len) data.resize(r.offset + r.len);
            std::memcpy(data.data() + r.offset, r.buf, r.len);
            break;
        case FileOp::resize:
            if (r.offset > (64u << 20)) s = lib::Error::io;
            else data.resize(r.offset);
            break;
        case FileOp::flush: break;
        }
        if (r.done) r.done(r, s);
    }
    void wait() override {}
    uint64_t size() const override { return data.size(); }
    bool writable() const override { return rw; }
};

class Opener final : public FileOpener {
public:
    MemFile* f;
    lib::Result<File*> open(lib::StrView name, lib::StrView, bool) override
    {
        if (name == "img") return static_cast<File*>(f);
        return lib::err(lib::Error::not_found);  // no backing files in the fuzzer
    }
    void close(File*) override {}
    lib::StrView resolved_name(File*) override { return "img"; }
};

hvimg::MallocAllocator alloc;
Opener openers[2];  // devices keep their opener until close: one per open device

BlockDevice* open_mem(MemFile& f, bool rw, Format fmt)
{
    Opener& o = openers[rw];
    o.f = &f;
    f.rw = rw;
    OpenOptions opt;
    opt.writable = rw;
    opt.format = fmt;
    opt.l2_cache_tables = 2;
    auto r = open_image(alloc, o, "img", "", opt);
    return r ? *r : nullptr;
}

std::vector<uint8_t> build(int kind)
{
    MemFile f;
    f.rw = true;
    if (kind < 2) {
        qcow2::CreateOptions o;
        o.size = 1 << 20;
        o.cluster_bits = 12;
        o.version = kind == 0 ? 3 : 2;
        (void)qcow2::create(alloc, f, o);
    } else {
        vhd::CreateOptions o;
        o.size = 2 << 20;
        o.type = kind == 2 ? vhd::disk_dynamic : vhd::disk_fixed;
        o.block_size = 64 << 10;
        (void)vhd::create(alloc, f, o);
    }
    BlockDevice* d = open_mem(f, true, kind < 2 ? Format::qcow2 : Format::vpc);
    if (!d) __builtin_trap();
    std::vector<uint8_t> buf(300000);
    for (size_t i = 0; i < buf.size(); ++i) buf[i] = uint8_t(i * 7);
    (void)d->write(5000, buf.data(), buf.size());
    if (kind == 1) {
        (void)static_cast<qcow2::Device*>(d)->snapshot_create("s", 1, 2);
        (void)d->write(0, buf.data(), 20000);
    }
    if (kind == 0) (void)d->write_zeroes(64 << 10, 64 << 10);
    (void)d->close();
    return f.data;
}

void exercise(BlockDevice* d)
{
    std::vector<uint8_t> buf(64 << 10);
    for (uint64_t off = 0; off < d->size() && off < (8u << 20); off += buf.size()) {
        size_t n = d->size() - off < buf.size() ? size_t(d->size() - off) : buf.size();
        if (!d->read(off, buf.data(), n)) break;
    }
    Extent e;
    (void)d->extent_at(0, d->size(), e);
    if (std::strcmp(d->format_name(), "qcow2") == 0) {
        qcow2::CheckResult r;
        (void)static_cast<qcow2::Device*>(d)->check(r, d->read_only() ? qcow2::Device::Repair::none : qcow2::Device::Repair::all);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    static std::vector<uint8_t> images[4] = {build(0), build(1), build(2), build(3)};
    if (size < 1) return 0;
    int kind = data[0] % 4;
    MemFile f;
    f.data = images[kind];
    for (size_t i = 1; i + 4 <= size; i += 4) {
        uint32_t off = (uint32_t(data[i]) << 16 | uint32_t(data[i + 1]) << 8 | data[i + 2]);
        // Aim half of the pokes at the end of the file (VHD footer).
        if (off & 0x800000) off = uint32_t(f.data.size()) - 1 - (off & 0x3ff);
        if (off < f.data.size()) f.data[off] = data[i + 3];
    }
    Format fmt = kind < 2 ? Format::qcow2 : Format::vpc;
    MemFile ro = f;
    if (BlockDevice* d = open_mem(ro, false, fmt)) {
        exercise(d);
        (void)d->close();
    }
    if (BlockDevice* d = open_mem(f, true, fmt)) {
        exercise(d);
        std::vector<uint8_t> w(10000, 0x5a);
        if (d->size() > 20000) {
            (void)d->write(d->size() / 3 + 1, w.data(), w.size());
            (void)d->discard(0, d->size() / 2);
            (void)d->flush();
        }
        (void)d->close();
    }
    if (alloc.live_bytes() != 0) __builtin_trap();  // leaked on some path
    return 0;
}
