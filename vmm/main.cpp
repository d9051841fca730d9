// Dom0's main thread: checks what hv handed over, then runs the xl shell on
// the console: a prompt, a line editor (backspace, Ctrl-U, Ctrl-C), one xl
// command per line.
//
// Its command line (the Dom0 module's) may say, after the module name:
//   autostart=CFG[,CFG...]  create these domains before the prompt (as Xen's
//                           /etc/xen/auto does), e.g. the demo Linux guest;
//   run=CFG                 no shell: create that domain, make the serial line
//                           its console, and when it stops end the machine
//                           with the exit status QEMU would have given for the
//                           guest run directly (tools/hvrun).
#include "hv/abi/hypercall.hpp"
#include "lib/log.hpp"
#include "lib/str.hpp"
#include "vmm/control/domains.hpp"
#include "vmm/control/xl.hpp"
#include "vmm/files/cpio.hpp"
#include "vmm/hostdev/host_devices.hpp"
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
    void list_host_disks(xl::Output& out) override { hostdev::host_disks().list(out); }
    hv::abi::Status pause_domain(uint32_t id, bool pause) override { return domains().pause(id, pause); }
    hv::abi::Status sched_credit(uint32_t id, uint64_t w, uint64_t c) override { return domains().sched(id, w, c); }
    size_t list_vcpus(uint32_t id, xl::VcpuRow* rows, size_t cap) override { return domains().vcpus(id, rows, cap); }
    size_t list_vifs(uint32_t id, xl::VifRow* rows, size_t cap) override { return domains().network(id, rows, cap); }
    bool console(uint32_t id, xl::Output& out) override;
    int selftest(xl::Output& out) override { return run_abi_selftest(out); }
    bool exits(uint32_t id, hv::abi::ExitCounts& out) override { return domains().exits(id, out); }
    size_t list_disks(uint32_t id, xl::DiskRow* rows, size_t cap) override { return domains().disks(id, rows, cap); }
    hv::abi::Status pin_vcpu(uint32_t id, uint32_t vcpu, uint32_t cpu) override { return domains().pin(id, vcpu, cpu); }
    hv::abi::Status attach_disk(uint32_t id, const DiskConfig& d, xl::Output& out) override
    {
        return domains().attach_disk(id, d, out);
    }
    hv::abi::Status detach_disk(uint32_t id, uint32_t devid) override { return domains().detach_disk(id, devid); }
    hv::abi::Status pull_disk(uint32_t id, uint32_t devid) override { return domains().pull_disk(id, devid); }
    bool disk_present(uint32_t id, uint32_t devid) override { return domains().disk_present(id, devid); }
    hv::abi::Status attach_vif(uint32_t id, const VifConfig& v, xl::Output& out, uint32_t* devid) override
    {
        return domains().attach_vif(id, v, out, devid);
    }
    hv::abi::Status detach_vif(uint32_t id, uint32_t devid, const uint8_t* mac, uint32_t* found) override
    {
        return domains().detach_vif(id, devid, mac, found);
    }
    bool vif_present(uint32_t id, uint32_t devid) override { return domains().vif_present(id, devid); }
    hv::abi::Status snapshot(uint32_t id, xl::SnapshotOp op, lib::StrView name, xl::Output& out,
                             uint32_t* new_id) override
    {
        return domains().snapshot(id, op, name, out, new_id);
    }
    hv::abi::Status trigger(uint32_t id, lib::StrView what, uint32_t vcpu) override
    {
        if (what == "nmi") return domains().nmi(id, vcpu);
        if (what == "power") return domains().power_button(id);
        return domains().reset(id);
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

// The value of `key=` in Dom0's command line, or an empty view.
lib::StrView cmdline_option(lib::StrView key)
{
    const char* c = reinterpret_cast<const char*>(start_info().cmdline);
    if (!c) return {};
    lib::StrView line(c);
    size_t i = 0;
    while (i < line.size()) {
        while (i < line.size() && line[i] == ' ') ++i;
        size_t start = i;
        while (i < line.size() && line[i] != ' ') ++i;
        lib::StrView word = line.substr(start, i - start);
        if (word.size() > key.size() && word.substr(0, key.size()) == key && word[key.size()] == '=')
            return word.substr(key.size() + 1);
    }
    return {};
}

void autostart(lib::StrView list, xl::Output& out)
{
    size_t i = 0;
    while (i < list.size()) {
        size_t start = i;
        while (i < list.size() && list[i] != ',') ++i;
        char path[xl_path_size];
        lib::copy_cstr(path, sizeof path, list.substr(start, i - start));
        ++i;
        auto id = domains().create(path, nullptr, 0, false, out);
        if (id) out.print("dom0: autostart: domain %u from %s; 'xl console %u' attaches to it\n", *id, path, *id);
    }
}

// run=CFG: the guest's console is the serial line from its first byte; the
// machine ends with the guest. Exit status, as QEMU gives it for the guest
// on its own: a debug-exit write of v gives (v << 1) | 1; a poweroff, a
// reboot (the config says on_reboot) or a crash gives 0. Announced on the
// serial line for tools/hvrun, then written to the debug-exit port of the
// machine hv runs on (QEMU's isa-debug-exit at 0xf4, if there is one).
[[noreturn]] void run_guest(lib::StrView cfg, xl::Output& out)
{
    char path[xl_path_size];
    lib::copy_cstr(path, sizeof path, cfg);
    auto id = domains().create(path, nullptr, 0, true, out);
    uint32_t status = 1;
    if (id) {
        out.print("hvrun: guest console follows\n");
        (void)domains().pause(*id, false);
        uint64_t cursor = 0;
        char buf[512];
        hv::abi::DomainInfo info{};
        for (;;) {
            size_t len;
            bool gone;
            for (;;) {
                cursor = domains().read_console(*id, cursor, buf, sizeof buf, &len, &gone);
                if (!len) break;
                out.write(buf, len);
            }
            if (!domains().info(*id, info) || info.state == hv::abi::RunState::shutdown ||
                info.state == hv::abi::RunState::crashed)
                break;
            char in[32];
            auto r = hc::console_read(in, sizeof in, 10'000'000);
            for (size_t i = 0; r.ok() && i < r.value; ++i)
                (void)domains().send_console_input(*id, in[i] == '\n' ? '\r' : in[i]);
        }
        // What it wrote after the last read.
        size_t len;
        bool gone;
        do {
            cursor = domains().read_console(*id, cursor, buf, sizeof buf, &len, &gone);
            out.write(buf, len);
        } while (len);
        bool debug_exit = info.exit_status_valid && !domains().powered_off_by_acpi(*id);
        status = debug_exit ? ((info.exit_value << 1) | 1) & 0xff : 0;
        hv::abi::ExitCounts ex{};
        if (domains().exits(*id, ex)) {
            out.print("\nhvrun: %lu exits:", ex.total);
            for (uint32_t i = 0; i < ex.count && i < ex.max_reasons; ++i)
                out.print(" %s %lu", ex.reasons[i].name, ex.reasons[i].exits);
        }
        out.print("\nhvrun: guest %s, exit status %u\n",
                  info.state == hv::abi::RunState::crashed ? "crashed" : debug_exit ? "wrote the debug-exit port"
                                                                                   : "powered off",
                  status);
    } else {
        out.print("\nhvrun: the guest could not be created, exit status 1\n");
    }
    // The machine's own debug-exit port; without one, halt here.
    constexpr uint16_t debug_exit = 0xf4;
    if (hc::device_ports(start_info().control, debug_exit, 1).ok())
        asm volatile("outb %0, %1" : : "a"(uint8_t(status >> 1)), "Nd"(debug_exit));
    for (;;) (void)hc::sleep_ns(1'000'000'000);
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
    {
        // The host's disks, before any domain can name them.
        ConsoleOutput log;
        hostdev::probe_host_devices(start_info().control, log);
    }
    // The device models run on a thread of their own.
    constexpr size_t dm_stack = 64 * 1024;
    void* stack = heap().allocate(dm_stack, 16);
    auto t = stack ? hc::thread_create(device_model_main, reinterpret_cast<uint64_t>(stack) + dm_stack - 8, 0)
                   : hc::Ret{hv::abi::Status::no_memory, 0};
    if (!t.ok()) out("dom0: cannot start the device-model thread: %s\n", hv::abi::status_name(t.status));
    HvBackend backend;
    ConsoleOutput console;
    if (drivers::Nic* nic = hostdev::host_nic()) (void)domains().attach_uplink(*nic, console);
    if (auto run = cmdline_option("run"); !run.empty()) run_guest(run, console);
    if (auto list = cmdline_option("autostart"); !list.empty()) autostart(list, console);
    xl::Shell shell(backend, console);
    out("dom0: xl shell ready; 'help' lists the commands\n");
    char line[1024];  // a disk= or vif= override can be long
    size_t len;
    for (;;) {
        out_raw(prompt, 4);
        if (!read_line(line, sizeof line, len)) continue;
        shell.run_line(lib::StrView(line, len));
    }
}
