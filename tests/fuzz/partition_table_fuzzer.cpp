// libFuzzer target for the partition-table reader (GPT and MBR). Inputs are
// short (-max_len=64), so an input patches a valid disk built once in
// memory: a 256 KiB disk with a protective MBR, a primary and a backup GPT
// with four partitions. Byte 0: bit 0 recomputes the headers' and arrays'
// CRC32s after patching (to get past the checksums to the fields behind
// them), bit 1 makes the disk a plain MBR disk instead, bits 2-3 pick the
// disk's length (whole, cut to 64 KiB, cut to 1 KiB, one byte short). Then
// each 4 bytes are (24-bit offset, value) pokes. Every outcome but a value
// (crash, out-of-bounds access, UB) is a finding; a table read must also
// keep every partition inside the disk and apart from the others.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "lib/crc32.hpp"
#include "vmm/block/partition/partition_table.hpp"

namespace {

using namespace vmm::block;

class MemFile final : public File {
public:
    std::vector<uint8_t> data;
    void submit(FileRequest& r) override
    {
        lib::Status s;
        if (r.op != FileOp::read) s = lib::Error::denied;
        else if (r.offset > data.size() || r.len > data.size() - r.offset) s = lib::Error::truncated;
        else std::memcpy(r.buf, data.data() + r.offset, r.len);
        if (r.done) r.done(r, s);
    }
    void wait() override {}
    uint64_t size() const override { return data.size(); }
    bool writable() const override { return false; }
};

constexpr uint64_t sectors = 512;  // 256 KiB: room for both GPTs and four partitions

void put32(uint8_t* p, uint32_t v) { std::memcpy(p, &v, 4); }
void put64(uint8_t* p, uint64_t v) { std::memcpy(p, &v, 8); }

void fix_gpt(std::vector<uint8_t>& d, uint64_t header_lba)
{
    uint8_t* h = d.data() + header_lba * 512;
    uint64_t entries;
    uint32_t count, size;
    std::memcpy(&entries, h + 72, 8);
    std::memcpy(&count, h + 80, 4);
    std::memcpy(&size, h + 84, 4);
    if (entries < sectors && uint64_t(count) * size <= (sectors - entries) * 512)
        put32(h + 88, lib::crc32(d.data() + entries * 512, size_t(count) * size));
    uint32_t hsize;
    std::memcpy(&hsize, h + 12, 4);
    if (hsize > 512) hsize = 512;
    put32(h + 16, 0);
    put32(h + 16, lib::crc32(h, hsize));
}

std::vector<uint8_t> make_disk(bool mbr)
{
    std::vector<uint8_t> d(sectors * 512);
    d[510] = 0x55;
    d[511] = 0xaa;
    uint8_t* e = d.data() + 446;
    if (mbr) {
        for (int i = 0; i < 3; ++i) {
            e[16 * i + 4] = 0x83;
            put32(e + 16 * i + 8, 64 + 128 * i);
            put32(e + 16 * i + 12, 100);
        }
        return d;
    }
    e[4] = 0xee;
    put32(e + 8, 1);
    put32(e + 12, sectors - 1);
    for (uint64_t lba : {uint64_t(1), sectors - 1}) {
        uint8_t* h = d.data() + lba * 512;
        std::memcpy(h, "EFI PART", 8);
        put32(h + 8, 0x00010000);
        put32(h + 12, 92);
        put64(h + 24, lba);
        put64(h + 32, lba == 1 ? sectors - 1 : 1);
        put64(h + 40, 34);
        put64(h + 48, sectors - 34);
        put64(h + 72, lba == 1 ? 2 : sectors - 33);
        put32(h + 80, 128);
        put32(h + 84, 128);
    }
    for (uint64_t arr : {uint64_t(2), sectors - 33})
        for (int i = 0; i < 4; ++i) {
            uint8_t* p = d.data() + arr * 512 + 128 * i;
            p[0] = 0xaf;  // a nonzero type GUID
            p[16] = uint8_t(i + 1);
            put64(p + 32, 64 + 100 * i);
            put64(p + 40, 64 + 100 * i + 63);
            p[56] = 'p';
            p[58] = uint8_t('0' + i);
        }
    fix_gpt(d, 1);
    fix_gpt(d, sectors - 1);
    return d;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* in, size_t len)
{
    if (len < 1) return 0;
    static const std::vector<uint8_t> gpt = make_disk(false), mbr = make_disk(true);
    MemFile f;
    f.data = (in[0] & 2) ? mbr : gpt;
    for (size_t i = 1; i + 4 <= len; i += 4) {
        uint32_t off = (in[i] | in[i + 1] << 8 | in[i + 2] << 16) % f.data.size();
        f.data[off] = in[i + 3];
    }
    if ((in[0] & 1) && !(in[0] & 2)) {
        fix_gpt(f.data, 1);
        fix_gpt(f.data, sectors - 1);
    }
    switch ((in[0] >> 2) & 3) {
    case 1: f.data.resize(64 * 1024); break;
    case 2: f.data.resize(1024); break;
    case 3: f.data.resize(f.data.size() - 1); break;
    default: break;
    }
    static PartitionTable t;
    if (read_partition_table(f, 512, t).ok()) {
        uint64_t n = f.data.size() / 512;
        for (unsigned i = 0; i < t.count; ++i) {
            const Partition& p = t.parts[i];
            if (p.sectors == 0 || p.first_lba >= n || p.sectors > n - p.first_lba) std::abort();
            for (unsigned k = i + 1; k < t.count; ++k) {
                const Partition& q = t.parts[k];
                if (p.first_lba < q.first_lba + q.sectors && q.first_lba < p.first_lba + p.sectors) std::abort();
            }
        }
    }
    return 0;
}
