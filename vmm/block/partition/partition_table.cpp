#include "vmm/block/partition/partition_table.hpp"

#include "lib/crc32.hpp"

namespace vmm::block {
namespace {

constexpr size_t max_sector = 4096;
constexpr uint32_t max_entries = 1024;  // 128 KiB of 128-byte entries: far past any tool's 128

struct __attribute__((packed)) GptHeader {
    char signature[8];
    uint32_t revision;
    uint32_t header_size;
    uint32_t header_crc;
    uint32_t reserved;
    uint64_t my_lba;
    uint64_t alternate_lba;
    uint64_t first_usable;
    uint64_t last_usable;
    uint8_t disk_guid[16];
    uint64_t entries_lba;
    uint32_t entry_count;
    uint32_t entry_size;
    uint32_t entries_crc;
};
static_assert(sizeof(GptHeader) == 92);
static_assert(__builtin_offsetof(GptHeader, entries_lba) == 72);

struct GptEntry {
    uint8_t type_guid[16];
    uint8_t unique_guid[16];
    uint64_t first_lba;
    uint64_t last_lba;
    uint64_t attributes;
    uint16_t name[36];
};
static_assert(sizeof(GptEntry) == 128);

struct MbrEntry {
    uint8_t status;
    uint8_t chs_first[3];
    uint8_t type;
    uint8_t chs_last[3];
    uint32_t first_lba;
    uint32_t sectors;
};
static_assert(sizeof(MbrEntry) == 16);
constexpr size_t mbr_entries_offset = 446;

// On-disk integers are little-endian, as is x86: copy, never cast (the
// sector buffer has no alignment promise for them).
template <typename T> T load(const uint8_t* p)
{
    T v;
    __builtin_memcpy(&v, p, sizeof v);
    return v;
}

bool is_zero(const uint8_t* p, size_t n)
{
    for (size_t i = 0; i < n; ++i)
        if (p[i]) return false;
    return true;
}

struct Reader {
    File& disk;
    uint32_t ss;
    uint64_t sectors;
    lib::Status sector(uint64_t lba, uint8_t* buf) { return file_read(disk, lba * ss, buf, ss); }
};

// The header at `lba`, checked in itself (not yet its array): nullptr, or
// why it is unusable.
const char* check_header(Reader& r, uint64_t lba, GptHeader& h)
{
    uint8_t buf[max_sector];
    if (!r.sector(lba, buf).ok()) return "its sector cannot be read";
    __builtin_memcpy(&h, buf, sizeof h);
    if (__builtin_memcmp(h.signature, "EFI PART", 8) != 0) return "no 'EFI PART' signature";
    if (h.revision >> 16 != 1) return "revision is not 1.x";
    if (h.header_size < sizeof(GptHeader) || h.header_size > r.ss) return "header size out of range";
    uint32_t want = h.header_crc;
    __builtin_memset(buf + 16, 0, 4);
    if (lib::crc32(buf, h.header_size) != want) return "header CRC32 mismatch";
    if (h.my_lba != lba) return "MyLBA does not name its own sector";
    if (h.first_usable > h.last_usable || h.last_usable >= r.sectors || h.first_usable < 2)
        return "usable range outside the disk";
    if (h.entry_count == 0 || h.entry_count > max_entries) return "NumberOfPartitionEntries out of range";
    if (h.entry_size < 128 || h.entry_size > r.ss || (h.entry_size & (h.entry_size - 1)))
        return "SizeOfPartitionEntry not a power of two from 128 to the sector size";
    uint64_t array_sectors = (uint64_t(h.entry_count) * h.entry_size + r.ss - 1) / r.ss;
    uint64_t a = h.entries_lba, e = a + array_sectors;
    if (a < 2 || e > r.sectors || e < a) return "partition entry array outside the disk";
    if (a <= h.last_usable && h.first_usable < e) return "partition entry array inside the usable range";
    if (lba <= h.last_usable && h.first_usable <= lba) return "header inside the usable range";
    return nullptr;
}

// The entries of a checked header into out; nullptr or why not.
const char* read_entries(Reader& r, const GptHeader& h, PartitionTable& out, lib::Error& error)
{
    uint8_t buf[max_sector];
    uint32_t per_sector = r.ss / h.entry_size;
    uint32_t crc = 0;
    out.count = 0;
    for (uint32_t i = 0; i < h.entry_count; i += per_sector) {
        if (!r.sector(h.entries_lba + i / per_sector, buf).ok()) return "the partition entry array cannot be read";
        uint32_t here = h.entry_count - i < per_sector ? h.entry_count - i : per_sector;
        crc = lib::crc32(buf, size_t(here) * h.entry_size, crc);
        for (uint32_t k = 0; k < here; ++k) {
            const uint8_t* e = buf + size_t(k) * h.entry_size;
            if (is_zero(e, 16)) continue;  // an unused entry
            if (out.count == PartitionTable::max_partitions) {
                error = lib::Error::unsupported;
                return "more used partition entries than this reader keeps";
            }
            Partition& p = out.parts[out.count++];
            p = Partition{};
            p.number = i + k + 1;
            __builtin_memcpy(p.type_guid, e, 16);
            __builtin_memcpy(p.unique_guid, e + 16, 16);
            uint64_t first = load<uint64_t>(e + 32), last = load<uint64_t>(e + 40);
            p.attributes = load<uint64_t>(e + 48);
            if (last < first || first < h.first_usable || last > h.last_usable)
                return "a partition outside the usable range";
            p.first_lba = first;
            p.sectors = last - first + 1;
            unsigned n = 0;
            for (unsigned c = 0; c < 36; ++c) {
                uint16_t u = load<uint16_t>(e + 56 + 2 * c);
                if (!u) break;
                p.name[n++] = u >= 0x20 && u < 0x7f ? char(u) : '?';
            }
            p.name[n] = '\0';
        }
    }
    if (crc != h.entries_crc) return "partition entry array CRC32 mismatch";
    for (unsigned a = 0; a < out.count; ++a)
        for (unsigned b = a + 1; b < out.count; ++b) {
            const Partition &x = out.parts[a], &y = out.parts[b];
            if (x.first_lba < y.first_lba + y.sectors && y.first_lba < x.first_lba + x.sectors)
                return "two partitions overlap";
        }
    return nullptr;
}

lib::Status read_gpt(Reader& r, PartitionTable& out)
{
    GptHeader h{};
    lib::Error error = lib::Error::corrupt;
    const char* why = check_header(r, 1, h);
    bool header_sound = !why;
    if (!why) why = read_entries(r, h, out, error);
    if (!why) {
        out.kind = TableKind::gpt;
        return {};
    }
    if (error != lib::Error::corrupt) {
        out.problem = why;
        return error;
    }
    // The backup: where a sound primary header says (as Linux looks, so a
    // disk grown after partitioning still finds it at the old end), then the
    // last sector.
    const char* primary = why;
    uint64_t candidates[2] = {r.sectors - 1, r.sectors - 1};
    if (header_sound && h.alternate_lba > 1 && h.alternate_lba < r.sectors) candidates[0] = h.alternate_lba;
    for (unsigned c = 0; c < 2; ++c) {
        if (c == 1 && candidates[1] == candidates[0]) break;
        GptHeader b{};
        error = lib::Error::corrupt;
        why = check_header(r, candidates[c], b);
        if (!why) why = read_entries(r, b, out, error);
        if (!why || error != lib::Error::corrupt) break;
    }
    out.problem = primary;  // the primary's fault is what the user is told
    if (why) {
        out.count = 0;
        return error;
    }
    out.kind = TableKind::gpt;
    out.used_backup = true;
    return {};
}

lib::Status read_mbr(Reader& r, const uint8_t* sector0, PartitionTable& out)
{
    out.count = 0;
    for (unsigned i = 0; i < 4; ++i) {
        const uint8_t* e = sector0 + mbr_entries_offset + 16 * i;
        uint8_t status = e[0], type = e[4];
        uint32_t first = load<uint32_t>(e + 8), count = load<uint32_t>(e + 12);
        if (type == 0 || count == 0) continue;
        if (status != 0 && status != 0x80) {
            out.problem = "an MBR entry's status is neither 0x00 nor 0x80";
            return lib::Error::corrupt;
        }
        if (type == 0x05 || type == 0x0f || type == 0x85) continue;  // extended: its logical partitions are not read
        if (first == 0 || uint64_t(first) + count > r.sectors) {
            out.problem = "an MBR partition outside the disk";
            return lib::Error::corrupt;
        }
        Partition& p = out.parts[out.count++];
        p = Partition{};
        p.number = i + 1;
        p.first_lba = first;
        p.sectors = count;
        p.mbr_type = type;
    }
    for (unsigned a = 0; a < out.count; ++a)
        for (unsigned b = a + 1; b < out.count; ++b) {
            const Partition &x = out.parts[a], &y = out.parts[b];
            if (x.first_lba < y.first_lba + y.sectors && y.first_lba < x.first_lba + x.sectors) {
                out.problem = "two MBR partitions overlap";
                out.count = 0;
                return lib::Error::corrupt;
            }
        }
    out.kind = TableKind::mbr;
    return {};
}

}  // namespace

lib::Status read_partition_table(File& disk, uint32_t sector_size, PartitionTable& out)
{
    out = PartitionTable{};
    out.sector_size = sector_size;
    if (sector_size != 512 && sector_size != 4096) return lib::Error::invalid;
    Reader r{disk, sector_size, disk.size() / sector_size};
    if (r.sectors < 3) return lib::Error::not_found;  // no room for even a protective MBR and a header
    uint8_t s0[max_sector];
    TRY(r.sector(0, s0));
    bool signature = s0[510] == 0x55 && s0[511] == 0xaa;
    bool protective = false;
    for (unsigned i = 0; signature && i < 4; ++i) protective |= s0[mbr_entries_offset + 16 * i + 4] == 0xee;
    if (protective) return read_gpt(r, out);
    if (signature && !is_zero(s0 + mbr_entries_offset, 64)) return read_mbr(r, s0, out);
    // No MBR: a GPT without its protective MBR is still a GPT.
    GptHeader h{};
    if (!check_header(r, 1, h) || !check_header(r, r.sectors - 1, h)) return read_gpt(r, out);
    return lib::Error::not_found;
}

void guid_text(const uint8_t g[16], char out[37])
{
    // The first three fields are little-endian, the last two big-endian.
    static const int order[16] = {3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15};
    const char* hex = "0123456789abcdef";
    size_t o = 0;
    for (int i = 0; i < 16; ++i) {
        if (i == 4 || i == 6 || i == 8 || i == 10) out[o++] = '-';
        uint8_t b = g[order[i]];
        out[o++] = hex[b >> 4];
        out[o++] = hex[b & 15];
    }
    out[o] = '\0';
}

}  // namespace vmm::block
