// Dom0's main thread: checks what hv handed over, then runs the xl shell on
// the console: a prompt, a line editor (backspace, Ctrl-U, Ctrl-C), one xl
// command per line.
#include "hv/abi/hypercall.hpp"
#include "lib/log.hpp"
#include "lib/str.hpp"
#include "vmm/control/xl.hpp"
#include "vmm/rt/hypercall.hpp"
#include "vmm/rt/runtime.hpp"

namespace vmm {
namespace {

constexpr const char* prompt = "xl> ";

class ConsoleOutput final : public xl::Output {
public:
    void write(const char* s, size_t n) override { out_raw(s, n); }
};

// xl's view of the hypervisor, through hypercalls.
class HvBackend final : public xl::Backend {
public:
    lib::Result<hv::abi::SystemInfo> system_info() override
    {
        hv::abi::SystemInfo si{};
        auto r = hc::system_info(si);
        if (!r.ok()) return lib::err(lib::Error::io);
        return si;
    }
    lib::Result<uint64_t> read_log(uint64_t seq, char* buf, size_t cap) override
    {
        auto r = hc::log_read(seq, buf, cap);
        if (!r.ok()) return lib::err(lib::Error::io);
        return r.value;
    }
    size_t list_domains(xl::DomainRow* rows, size_t cap) override
    {
        if (cap == 0) return 0;
        // Dom0 itself: its heap is its memory; its threads run on every CPU.
        xl::DomainRow& r = rows[0];
        r = xl::DomainRow{};
        lib::copy_cstr(r.name, sizeof r.name, "Domain-0");
        r.id = 0;
        r.mem_mib = start_info().heap_size >> 20;
        r.vcpus = start_info().cpu_count;
        lib::copy_cstr(r.state, sizeof r.state, "r-----");
        r.cpu_time_ns = hc::clock_ns();
        return 1;
    }
};

// Reads one line with echo. Returns false on Ctrl-D at an empty line.
bool read_line(char* line, size_t cap, size_t& len)
{
    len = 0;
    for (;;) {
        char buf[64];
        auto r = hc::console_read(buf, sizeof buf, ~0ull);
        if (!r.ok()) return false;
        for (size_t i = 0; i < r.value; ++i) {
            char c = buf[i];
            if (c == '\r' || c == '\n') {
                out_raw("\n", 1);
                line[len] = '\0';
                return true;
            }
            if (c == 0x7f || c == 0x08) {  // backspace
                if (len) {
                    --len;
                    out_raw("\b \b", 3);
                }
            } else if (c == 0x15) {  // Ctrl-U: erase the line
                while (len) {
                    --len;
                    out_raw("\b \b", 3);
                }
            } else if (c == 0x03) {  // Ctrl-C: drop the line
                out_raw("^C\n", 3);
                len = 0;
                out_raw(prompt, 4);
            } else if (c == 0x04 && len == 0) {
                return false;
            } else if (c >= 0x20 && c < 0x7f && len + 1 < cap) {
                line[len++] = c;
                out_raw(&c, 1);
            }
        }
    }
}

}  // namespace
}  // namespace vmm

extern "C" int64_t dom0_main(const hv::abi::StartInfo* si)
{
    using namespace vmm;
    if (!init_runtime(si)) return 1;
    hv::abi::SystemInfo sys{};
    (void)hc::system_info(sys);
    out("dom0: hv %s on %s, %u CPUs, %lu MiB heap, %lu KiB of files\n", sys.hv_version, sys.backend,
        start_info().cpu_count, start_info().heap_size >> 20, start_info().files_size >> 10);
    HvBackend backend;
    ConsoleOutput console;
    xl::Shell shell(backend, console);
    out("dom0: xl shell ready; 'help' lists the commands\n");
    char line[256];
    size_t len;
    for (;;) {
        out_raw(prompt, 4);
        if (!read_line(line, sizeof line, len)) continue;
        shell.run_line(lib::StrView(line, len));
    }
}
