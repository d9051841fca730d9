// The hypervisor command line: Xen-style whitespace-separated options. Parsing
// never fails: unknown options and bad values are reported with a warning
// naming them and the default is kept.
#pragma once

#include <cstdint>

#include "lib/log.hpp"
#include "lib/str.hpp"

namespace hv::boot {

struct ConsoleConfig {
    bool enabled = true;
    uint16_t port = 0x3f8;
    uint32_t baud = 115200;
};

enum class IommuMode : uint8_t { on, off, force };

struct CmdLine {
    ConsoleConfig console;
    lib::LogLevel loglevel = lib::LogLevel::info;
    uint64_t dom0_mem = 0;  // bytes, 0 = default
    IommuMode iommu = IommuMode::on;
    char sched[16] = "credit";
    uint32_t maxcpus = 0;  // 0 = all

    // Additions beyond the original interface.
    uint64_t dom0_mem_min = 0;  // dom0_mem=min:<size>, 0 = none
    uint64_t dom0_mem_max = 0;  // dom0_mem=max:<size>, 0 = none
    char selftest[32] = "";     // selftest=<name>: a deliberate fault after boot (tests)
};

// Options (names compare with '-' and '_' as equal, as Xen does):
//   console=com1|com2|com3|com4|ttyS0..3|none[,<baud>[n8|8n1]][,vga]
//   com1..com4=<baud>|auto[,8n1][,<io-base>]
//   loglevel=error|warn|info|debug|all|0..3
//   dom0_mem=[min:<size>,][max:<size>,][<size>]   size with K/M/G/T suffix
//   iommu=on|off|force|1|0|true|false|yes|no[,...]
//   sched=credit
//   maxcpus=<n>, nosmp (= maxcpus=1)
//   selftest=pagefault|write-text|stack-overflow   (fault-report tests)
// The first token is skipped when it names the hypervisor image (a path, a
// URI, or a file ending .elf/.elf32/.gz), as QEMU -kernel and iPXE pass it.
CmdLine parse_cmdline(lib::StrView text);

}  // namespace hv::boot
