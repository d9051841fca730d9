// Dom0's main thread: checks what hv handed over, then runs the xl shell on
// the console: a prompt, a line editor (backspace, Ctrl-U, Ctrl-C), one xl
// command per line.
#include "hv/abi/hypercall.hpp"
#include "lib/log.hpp"
#include "lib/str.hpp"
#include "vmm/control/domains.hpp"
#include "vmm/control/xl.hpp"
#include "vmm/files/cpio.hpp"
#include "vmm/rt/events.hpp"
#include "vmm/rt/hypercall.hpp"
#include "vmm/rt/runtime.hpp"

namespace vmm {
int run_abi_selftest(xl::Output& out);

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
        hv::abi::SystemInfo si{};
        r.cpu_time_ns = hc::system_info(si).ok() ? si.caller_cpu_ns : 0;
        r.weight = 256;
        return 1 + domains().list(rows + 1, cap - 1);
    }
    lib::Result<uint32_t> find_domain(lib::StrView name_or_id) override { return domains().find(name_or_id); }
    lib::Result<uint32_t> create_domain(lib::StrView path, const lib::StrView* ov, size_t n, bool paused,
                                        xl::Output& out) override
    {
        return domains().create(path, ov, n, paused, out);
    }
    hv::abi::Status destroy_domain(uint32_t id) override { return domains().destroy(id); }
    hv::abi::Status pause_domain(uint32_t id, bool pause) override { return domains().pause(id, pause); }
    hv::abi::Status sched_credit(uint32_t id, uint64_t w, uint64_t c) override { return domains().sched(id, w, c); }
    size_t list_vcpus(uint32_t id, xl::VcpuRow* rows, size_t cap) override { return domains().vcpus(id, rows, cap); }
    bool console(uint32_t id, xl::Output& out) override;
    int selftest(xl::Output& out) override { return run_abi_selftest(out); }
    bool exits(uint32_t id, hv::abi::ExitCounts& out) override { return domains().exits(id, out); }
    hv::abi::Status pin_vcpu(uint32_t id, uint32_t vcpu, uint32_t cpu) override { return domains().pin(id, vcpu, cpu); }
    hv::abi::Status trigger(uint32_t id, lib::StrView what, uint32_t vcpu) override
    {
        return what == "nmi" ? domains().nmi(id, vcpu) : domains().reset(id);
    }
    hv::abi::Status sysrq(uint32_t id, char key) override { return domains().sysrq(id, key); }
    void sleep_ms(uint64_t ms) override { (void)hc::sleep_ns(ms * 1'000'000); }
    uint64_t now_ns() override { return hc::clock_ns(); }
};

// xl console: the guest's output from its first byte, then live, with what
// is typed going to its UART, until Ctrl-] (0x1d).
bool HvBackend::console(uint32_t id, xl::Output& out)
{
    constexpr char escape = 0x1d;
    uint64_t cursor = 0;
    char buf[512];
    if (!domains().attach_console(id)) return false;
    struct Detach {
        uint32_t id;
        ~Detach() { domains().detach_console(id); }
    } detach{id};
    for (;;) {
        size_t len;
        bool gone;
        for (;;) {
            cursor = domains().read_console(id, cursor, buf, sizeof buf, &len, &gone);
            if (!len) break;
            out.write(buf, len);
        }
        if (gone) {
            out.print("\n[domain %u is gone]\n", id);
            return false;
        }
        char in[32];
        auto r = hc::console_read(in, sizeof in, 20'000'000);
        if (!r.ok()) continue;
        for (size_t i = 0; i < r.value; ++i) {
            if (in[i] == escape) {
                out.print("\n");
                return true;
            }
            (void)domains().send_console_input(id, in[i] == '\n' ? '\r' : in[i]);
        }
    }
}

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

void device_model_main(uint64_t) { domains().serve(); }

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
    // Dom0's files: the cpio archive hv mapped read-only.
    static files::CpioArchive archive(reinterpret_cast<const uint8_t*>(start_info().files_base),
                                      start_info().files_size);
    if (start_info().files_size) {
        if (auto v = archive.validate(); !v.ok())
            out("dom0: its files are unusable: %s\n", archive.error_message());
        else
            out("dom0: %zu files\n", archive.entry_count());
    }
    domains().init(archive.validated() ? &archive : nullptr, start_info().control);
    events().init(start_info().evtchn_page);
    // The device models run on a thread of their own.
    constexpr size_t dm_stack = 64 * 1024;
    void* stack = heap().allocate(dm_stack, 16);
    auto t = stack ? hc::thread_create(device_model_main, reinterpret_cast<uint64_t>(stack) + dm_stack - 8, 0)
                   : hc::Ret{hv::abi::Status::no_memory, 0};
    if (!t.ok()) out("dom0: cannot start the device-model thread: %s\n", hv::abi::status_name(t.status));
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
