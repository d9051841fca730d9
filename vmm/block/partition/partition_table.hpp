// Partition tables of the disks Dom0 drives, read through a File: GPT (UEFI
// 2.x chapter 5: protective MBR, primary header at LBA 1 and its entry
// array, the backup at the disk's last LBA when the primary is damaged) and,
// for disks without one, the four primary entries of an MBR (logical
// partitions inside an extended one are not listed). Every header field and
// entry is checked: a damaged table is an error, never a partition that
// reaches outside the disk or over another. Portable; fuzzed on the host.
#pragma once

#include <cstddef>
#include <cstdint>

#include "lib/result.hpp"
#include "vmm/block/file.hpp"

namespace vmm::block {

enum class TableKind : uint8_t { none, mbr, gpt };

struct Partition {
    unsigned number = 0;     // as Linux numbers them: the GPT entry's index + 1, MBR slot 1-4
    uint64_t first_lba = 0;  // in the table's sectors
    uint64_t sectors = 0;
    char name[37] = "";      // GPT: the UTF-16 name, non-ASCII as '?'
    uint8_t type_guid[16] = {};
    uint8_t unique_guid[16] = {};
    uint64_t attributes = 0;
    uint8_t mbr_type = 0;    // MBR: the system id (0x83 Linux, 0x07 NTFS, ...)
};

struct PartitionTable {
    static constexpr unsigned max_partitions = 128;
    TableKind kind = TableKind::none;
    bool used_backup = false;   // GPT: the primary header or its array was damaged
    uint32_t sector_size = 512;
    unsigned count = 0;
    Partition parts[max_partitions];
    const char* problem = nullptr;  // what was wrong (with the primary, or with the table)
};

// sector_size: 512 or 4096 (the disk's logical sector). `not_found` when
// the disk has no partition table, `corrupt` when it has one that cannot be
// used (problem says why; an entry size other than 128 x 2^n up to the
// sector size is `corrupt` too), `unsupported` for more than max_partitions
// used entries.
lib::Status read_partition_table(File& disk, uint32_t sector_size, PartitionTable& out);

// A GUID in its usual text form (mixed-endian, 8-4-4-4-12), as sfdisk and
// blkid print it: out gets 37 bytes with the NUL.
void guid_text(const uint8_t guid[16], char out[37]);

}  // namespace vmm::block
