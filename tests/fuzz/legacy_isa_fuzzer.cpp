// libFuzzer target for the Multiboot platform's legacy ISA block
// (vmm/platform/legacy_isa: the 8259A pair, the 8254 PIT, port 0x61, the
// CMOS RTC). The input is a guest and its clock: each 3 bytes are one step,
//   byte 0: bits 3:0 pick a port (0x20, 0x21, 0xa0, 0xa1, 0x4d0, 0x4d1,
//   0x40-0x43, 0x61, 0x70, 0x71, or one that is not the block's), bit 4 in
//   or out, bits 7:5 how far time moves first (0, 1 ns ... up to ~1 s);
//   byte 1: the value written; byte 2: bit 0 the sink refuses (hv still
//   holds a vector), bit 1 an update() call after the access.
// Besides crashes and sanitizer reports, a finding is: update() asking to
// be called in the past or sooner than min_interval_ns after a delivery
// while a request waits behind it, a wakeup for a masked IRQ 0, a port of
// the block not claimed or another one claimed, or the cascade input
// disagreeing with the slave's INT.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "vmm/platform/legacy_isa.hpp"

namespace {

struct Sink final : vmm::platform::ExtIntSink {
    bool refuse = false;
    bool extint(uint8_t) override { return !refuse; }
};

void fail(const char* what)
{
    std::fprintf(stderr, "legacy_isa_fuzzer: %s\n", what);
    std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    static const uint16_t ports[16] = {0x20, 0x21, 0xa0, 0xa1, 0x4d0, 0x4d1, 0x40, 0x41,
                                       0x42, 0x43, 0x61, 0x70, 0x71, 0x60, 0x44, 0xa2};
    static const uint64_t steps[8] = {0, 1, 1000, 99'999, 838, 10'000'000, 54'925'000, 1'000'000'000};
    vmm::platform::LegacyIsa isa;
    Sink sink;
    uint64_t now = 1'000'000'000;
    for (size_t i = 0; i + 3 <= size; i += 3) {
        now += steps[data[i] >> 5];
        uint16_t port = ports[data[i] & 0x0f];
        bool in = data[i] & 0x10;
        uint32_t v = data[i + 1];
        bool claimed = isa.port(port, 1, in, v, now);
        if (claimed != ((data[i] & 0x0f) < 13)) fail("a port claimed wrongly");
        if (in && claimed && v > 0xff) fail("a one-byte read wider than a byte");
        sink.refuse = data[i + 2] & 1;
        if (data[i + 2] & 2) {
            uint64_t next = isa.update(now, sink);
            if (next != vmm::platform::LegacyIsa::never && next <= now) fail("a wakeup in the past");
        }
        const auto& m = isa.pic().master();
        if (((m.irr() >> 2) & 1) != (isa.pic().slave().intr() ? 1 : 0)) fail("cascade out of step");
    }
    return 0;
}
