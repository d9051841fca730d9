// The parts of the NVMe 1.4 base specification the driver uses: controller
// registers (section 3.1), submission and completion queue entries (4.2,
// 4.6), the admin and NVM opcodes and the Identify data structures (5.15).
// Layouts the hardware fixes are structs checked by static_assert, so a
// wrong field offset fails the build rather than a disk.
#pragma once

#include <cstddef>
#include <cstdint>

namespace drivers::nvme {

inline constexpr uint32_t class_code = 0x010802;  // mass storage, NVM, NVMe I/O controller

namespace reg {
inline constexpr uint64_t cap = 0x00, vs = 0x08, cc = 0x14, csts = 0x1c, aqa = 0x24, asq = 0x28, acq = 0x30,
                          doorbells = 0x1000;
}

// CAP: what the controller can do.
namespace cap {
constexpr uint32_t mqes(uint64_t c) { return uint32_t(c & 0xffff); }           // largest I/O queue, 0-based
constexpr uint32_t timeout_500ms(uint64_t c) { return uint32_t(c >> 24) & 0xff; }  // CSTS.RDY transition bound
constexpr uint32_t dstrd(uint64_t c) { return uint32_t(c >> 32) & 0xf; }       // doorbell stride 4 << dstrd
constexpr bool nvm_command_set(uint64_t c) { return c >> 37 & 1; }             // CSS bit 0
constexpr uint32_t mpsmin(uint64_t c) { return uint32_t(c >> 48) & 0xf; }      // 4 KiB << mpsmin
}  // namespace cap

// CC: EN, CSS 6:4, MPS 10:7, AMS 13:11, IOSQES 19:16, IOCQES 23:20.
namespace cc {
inline constexpr uint32_t enable = 1u << 0;
inline constexpr uint32_t iosqes_64 = 6u << 16;  // log2 of the submission entry size
inline constexpr uint32_t iocqes_16 = 4u << 20;  // log2 of the completion entry size
}  // namespace cc

namespace csts {
inline constexpr uint32_t ready = 1u << 0;
inline constexpr uint32_t fatal = 1u << 1;  // CFS: the controller gave up; only a reset helps
}  // namespace csts

namespace admin_op {
inline constexpr uint8_t create_io_sq = 0x01, create_io_cq = 0x05, identify = 0x06, set_features = 0x09;
}
namespace io_op {
inline constexpr uint8_t flush = 0x00, write = 0x01, read = 0x02;
}
namespace identify_cns {
inline constexpr uint32_t name_space = 0x00, controller = 0x01;
}
inline constexpr uint32_t feature_number_of_queues = 0x07;

// A submission queue entry: the common command format (figure 105).
struct SubmissionEntry {
    uint8_t opcode;
    uint8_t flags;  // FUSE 1:0, PSDT 7:6 (0: PRPs)
    uint16_t cid;
    uint32_t nsid;
    uint32_t cdw2, cdw3;
    uint64_t mptr;
    uint64_t prp1, prp2;
    uint32_t cdw10, cdw11, cdw12, cdw13, cdw14, cdw15;
};
static_assert(sizeof(SubmissionEntry) == 64);
static_assert(offsetof(SubmissionEntry, cid) == 2 && offsetof(SubmissionEntry, nsid) == 4);
static_assert(offsetof(SubmissionEntry, prp1) == 24 && offsetof(SubmissionEntry, prp2) == 32);
static_assert(offsetof(SubmissionEntry, cdw10) == 40 && offsetof(SubmissionEntry, cdw15) == 60);

// A completion queue entry (figure 124). status bit 0 is the phase tag;
// bits 15:1 the status field (SC 8:1, SCT 11:9, CRD, M, DNR).
struct CompletionEntry {
    uint32_t dw0;
    uint32_t dw1;
    uint16_t sq_head;
    uint16_t sq_id;
    uint16_t cid;
    uint16_t status;
};
static_assert(sizeof(CompletionEntry) == 16);
static_assert(offsetof(CompletionEntry, sq_head) == 8 && offsetof(CompletionEntry, cid) == 12 &&
              offsetof(CompletionEntry, status) == 14);

constexpr bool phase_of(uint16_t status) { return status & 1; }
// Success is status code type 0 with status code 0; CRD, More and DNR only
// qualify an error.
constexpr bool succeeded(uint16_t status) { return ((status >> 1) & 0x7ff) == 0; }

// Identify Controller (CNS 01h, figure 247): only the fields used.
struct IdentifyController {
    uint16_t vid;
    uint16_t ssvid;
    char sn[20];  // ASCII, space padded
    char mn[40];
    char fr[8];
    uint8_t rab;
    uint8_t ieee[3];
    uint8_t cmic;
    uint8_t mdts;  // max transfer 2^mdts units of CAP.MPSMIN; 0: no limit
    uint8_t reserved_78[525 - 78];
    uint8_t vwc;   // bit 0: a volatile write cache is present
    uint8_t reserved_526[4096 - 526];
};
static_assert(sizeof(IdentifyController) == 4096);
static_assert(offsetof(IdentifyController, sn) == 4 && offsetof(IdentifyController, mn) == 24);
static_assert(offsetof(IdentifyController, mdts) == 77);
static_assert(offsetof(IdentifyController, vwc) == 525);

struct LbaFormat {
    uint16_t ms;    // metadata bytes per block
    uint8_t lbads;  // log2 of the data bytes per block
    uint8_t rp;
};
static_assert(sizeof(LbaFormat) == 4);

// Identify Namespace (CNS 00h, figure 245): only the fields used.
struct IdentifyNamespace {
    uint64_t nsze;  // size in logical blocks
    uint64_t ncap;
    uint64_t nuse;
    uint8_t nsfeat;
    uint8_t nlbaf;  // number of LBA formats, 0-based
    uint8_t flbas;  // format in use: 3:0 (and 6:5 as its high bits, NVMe 2.0), 4: metadata inline
    uint8_t reserved_27[128 - 27];
    LbaFormat lbaf[64];
    uint8_t reserved_384[4096 - 384];
};
static_assert(sizeof(IdentifyNamespace) == 4096);
static_assert(offsetof(IdentifyNamespace, nsze) == 0 && offsetof(IdentifyNamespace, nlbaf) == 25);
static_assert(offsetof(IdentifyNamespace, flbas) == 26 && offsetof(IdentifyNamespace, lbaf) == 128);

}  // namespace drivers::nvme
