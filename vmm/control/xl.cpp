#include "vmm/control/xl.hpp"

#include <cstdarg>

#include "lib/format.hpp"
#include "vmm/control/domain_disks.hpp"

namespace vmm::xl {
namespace {

struct Command {
    const char* name;
    int (Shell::*run)(size_t, const char* const*);
    const char* args;     // after "xl <name>"
    const char* summary;  // one line for `xl help`
};

bool eq(const char* a, const char* b) { return lib::StrView(a) == lib::StrView(b); }

// A mebibyte figure as xl prints it (integer MiB).
uint64_t mib(uint64_t bytes) { return bytes >> 20; }

}  // namespace

void Output::print(const char* fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    size_t n = lib::vformat(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n >= sizeof buf) n = sizeof buf - 1;
    write(buf, n);
}

lib::Result<size_t> split_words(lib::StrView line, char* store, size_t store_cap, const char** words, size_t cap)
{
    size_t count = 0, used = 0, i = 0;
    while (true) {
        while (i < line.size() && lib::StrView::is_space(line[i])) ++i;
        if (i >= line.size()) break;
        if (count == cap) return lib::err(lib::Error::out_of_range);
        char* word = store + used;
        char quote = 0;
        while (i < line.size() && (quote || !lib::StrView::is_space(line[i]))) {
            char c = line[i++];
            if (quote && c == quote) {
                quote = 0;
                continue;
            }
            if (!quote && (c == '"' || c == '\'')) {
                quote = c;
                continue;
            }
            if (c == '\\' && quote != '\'') {
                if (i >= line.size()) return lib::err(lib::Error::invalid);
                c = line[i++];
            }
            if (used + 1 >= store_cap) return lib::err(lib::Error::out_of_range);
            store[used++] = c;
        }
        if (quote) return lib::err(lib::Error::invalid);
        if (used >= store_cap) return lib::err(lib::Error::out_of_range);  // an empty word ("") at the end
        store[used++] = '\0';
        words[count++] = word;
    }
    return count;
}

namespace {
const Command commands[] = {
    {"help", &Shell::cmd_help, "[command]", "Print this help, or the usage of one command"},
    {"info", &Shell::cmd_info, "", "Get information about the host"},
    {"dmesg", &Shell::cmd_dmesg, "[-c]", "Read and/or clear the hypervisor's message buffer"},
    {"list", &Shell::cmd_list, "[-l] [Domain]", "List information about all or some domains"},
    {"create", &Shell::cmd_create, "<ConfigFile> [options] [vars]",
     "Create a domain from config file <filename>; -p leaves it paused, -c attaches its console"},
    {"destroy", &Shell::cmd_destroy, "<Domain>", "Terminate a domain immediately"},
    {"pause", &Shell::cmd_pause, "<Domain>", "Pause execution of a domain"},
    {"unpause", &Shell::cmd_unpause, "<Domain>", "Unpause a paused domain"},
    {"console", &Shell::cmd_console, "<Domain>", "Attach to domain's console (Ctrl-] returns)"},
    {"vcpu-list", &Shell::cmd_vcpu_list, "[Domain, ...]", "List the VCPUs for all/some domains"},
    {"vcpu-pin", &Shell::cmd_vcpu_pin, "<Domain> <VCPU|all> <CPUs|all>", "Set which CPUs a VCPU can use"},
    {"sched-credit", &Shell::cmd_sched_credit, "[-d <Domain> [-w[=WEIGHT]|-c[=CAP]]]",
     "Get/set credit scheduler parameters"},
    {"shutdown", &Shell::cmd_shutdown, "[-w] [-F] <Domain>", "Issue a shutdown signal to a domain"},
    {"reboot", &Shell::cmd_shutdown, "<Domain>", "Issue a reboot signal to a domain"},
    {"top", &Shell::cmd_top, "[-d SECONDS] [-i ITERATIONS]",
     "Monitor domains: CPU use and VM exits per second by reason (like xentop -b)"},
    {"trigger", &Shell::cmd_trigger, "<Domain> <nmi|reset|power> [VCPU]", "Send a trigger to a domain"},
    {"sysrq", &Shell::cmd_sysrq, "<Domain> <letter>", "Send a sysrq to a domain (a break and the key on its serial line)"},
    {"block-list", &Shell::cmd_block_list, "<Domain(s)>", "List virtual block devices for a domain"},
    {"network-list", &Shell::cmd_network_list, "<Domain(s)>", "List virtual network interfaces for a domain"},
    {"block-attach", &Shell::cmd_block_attach, "<Domain> <disk-spec-component(s)>...",
     "Create a new virtual block device (hot-plugged into the running guest)"},
    {"block-detach", &Shell::cmd_block_detach, "[-f|--force] <Domain> <DevId>",
     "Destroy a domain's virtual block device (the guest ejects it first; -f pulls it)"},
    {"network-attach", &Shell::cmd_network_attach, "<Domain> [mac=<mac>] [bridge=<bridge>] [vifname=<name>] ...",
     "Create a new virtual network device (hot-plugged into the running guest)"},
    {"network-detach", &Shell::cmd_network_detach, "<Domain> <DevId|mac>",
     "Destroy a domain's virtual network device (the guest ejects it first)"},
    {"snapshot-create", &Shell::cmd_snapshot, "<Domain> <name>",
     "Take a live snapshot of a domain's writable disks on host volumes"},
    {"snapshot-list", &Shell::cmd_snapshot, "<Domain>", "List the snapshots of a domain's disks"},
    {"snapshot-revert", &Shell::cmd_snapshot, "<Domain> <name>",
     "Restart a domain from a snapshot of its disks (later snapshots are given up)"},
    {"snapshot-delete", &Shell::cmd_snapshot, "<Domain> <name>",
     "Delete the newest snapshot of a domain's disks, keeping their data"},
    {"lsblk", &Shell::cmd_lsblk, "", "List the host's disks and partitions, which disk= targets name as /dev/..."},
    {"selftest", &Shell::cmd_selftest, "", "Check that the hypervisor refuses malformed and unauthorised hypercalls"},
};

const Command* find_command(const char* name)
{
    for (const auto& c : commands)
        if (eq(c.name, name)) return &c;
    return nullptr;
}
}  // namespace

int Shell::usage(const char* command)
{
    const Command* c = find_command(command);
    if (!c) return 2;
    out_.print("Usage: xl %s%s%s\n", c->name, c->args[0] ? " " : "", c->args);
    return 2;
}

int Shell::run_line(lib::StrView line)
{
    char store[1024];
    const char* words[32];
    auto n = split_words(line, store, sizeof store, words, 32);
    if (!n) {
        out_.print("xl: %s\n", n.error() == lib::Error::invalid ? "unterminated quote or trailing backslash"
                                                                 : "command line too long");
        return 2;
    }
    size_t argc = *n;
    const char* const* argv = words;
    if (argc > 0 && eq(argv[0], "xl")) {
        ++argv;
        --argc;
    }
    if (argc == 0) return 0;
    return run(argc, argv);
}

int Shell::run(size_t argc, const char* const* argv)
{
    const Command* c = find_command(argv[0]);
    if (!c) {
        out_.print("xl: unknown command '%s'; 'xl help' lists the commands\n", argv[0]);
        return 2;
    }
    if (argc > 1 && (eq(argv[1], "-h") || eq(argv[1], "--help"))) {
        usage(c->name);
        out_.print("%s.\n", c->summary);
        return 0;
    }
    return (this->*(c->run))(argc, argv);
}

int Shell::cmd_help(size_t argc, const char* const* argv)
{
    if (argc > 2) return usage("help");
    if (argc == 2) {
        const Command* c = find_command(argv[1]);
        if (!c) {
            out_.print("xl: unknown command '%s'; 'xl help' lists the commands\n", argv[1]);
            return 2;
        }
        usage(c->name);
        out_.print("%s.\n", c->summary);
        return 0;
    }
    out_.print("Usage: xl <subcommand> [args]\n\nxl full list of subcommands:\n\n");
    for (const auto& c : commands) out_.print(" %-20s%s\n", c.name, c.summary);
    return 0;
}

int Shell::cmd_info(size_t argc, const char*const*)
{
    if (argc != 1) return usage("info");
    auto si = backend_.system_info();
    if (!si) {
        out_.print("xl: cannot read host information: %s\n", lib::error_name(si.error()));
        return 1;
    }
    const auto& s = *si;
    uint64_t up = s.uptime_ns / 1'000'000'000ull;
    out_.print("host                   : hv\n");
    out_.print("release                : %s\n", s.hv_version);
    out_.print("machine                : x86_64\n");
    out_.print("nr_cpus                : %u\n", s.cpu_count);
    out_.print("nr_nodes               : %u\n", s.numa_nodes);
    out_.print("cpu_vendor             : %s\n", s.cpu_vendor);
    out_.print("cpu_model              : %s\n", s.cpu_model[0] ? s.cpu_model : "unknown");
    out_.print("cpu_mhz                : %lu.%03lu\n", s.tsc_hz / 1'000'000, s.tsc_hz / 1'000 % 1'000);
    out_.print("virt_caps              : %s\n", eq(s.backend, "svm") ? "hvm (AMD SVM, NPT)"
                                                 : eq(s.backend, "vmx") ? "hvm (Intel VMX, EPT)"
                                                                        : "none");
    out_.print("total_memory           : %lu\n", mib(s.total_memory));
    out_.print("free_memory            : %lu\n", mib(s.free_memory));
    out_.print("free_frames            : %lu\n", s.free_frames);
    out_.print("hv_version             : %s\n", s.hv_version);
    out_.print("uptime                 : %lu:%02lu:%02lu\n", up / 3600, up / 60 % 60, up % 60);
    return 0;
}

int Shell::cmd_dmesg(size_t argc, const char* const* argv)
{
    bool clear = false;
    for (size_t i = 1; i < argc; ++i) {
        if (eq(argv[i], "-c")) clear = true;
        else return usage("dmesg");
    }
    uint64_t seq = dmesg_cleared_seq_;
    char buf[2048];
    for (;;) {
        auto next = backend_.read_log(seq, buf, sizeof buf);
        if (!next) {
            out_.print("xl: cannot read the hypervisor log: %s\n", lib::error_name(next.error()));
            return 1;
        }
        // Lines are "Ltext\n" (L = the level digit): print the text.
        lib::StrView rest(buf);
        while (!rest.empty()) {
            lib::StrView line = rest.split_first('\n');
            if (!line.empty() && line[0] >= '0' && line[0] <= '9') line = line.substr(1);
            out_.write(line.data(), line.size());
            out_.write("\n", 1);
        }
        if (*next == seq) break;
        seq = *next;
    }
    if (clear) dmesg_cleared_seq_ = seq;
    return 0;
}

int Shell::cmd_list(size_t argc, const char* const* argv)
{
    bool long_form = false;
    const char* only = nullptr;
    for (size_t i = 1; i < argc; ++i) {
        if (eq(argv[i], "-l") || eq(argv[i], "--long")) long_form = true;
        else if (argv[i][0] == '-' || only) return usage("list");
        else only = argv[i];
    }
    DomainRow rows[64];
    size_t n = backend_.list_domains(rows, 64);
    auto wanted = [&](const DomainRow& r) {
        if (!only) return true;
        char id[16];
        lib::format(id, sizeof id, "%u", r.id);
        return eq(only, r.name) || eq(only, id);
    };
    bool found = !only;
    for (size_t i = 0; i < n && !found; ++i) found = wanted(rows[i]);
    if (!found) {  // like xl, before the header
        out_.print("xl: domain '%s' does not exist\n", only);
        return 1;
    }
    if (!long_form) out_.print("Name                                        ID   Mem VCPUs\tState\tTime(s)\n");
    for (size_t i = 0; i < n; ++i) {
        const DomainRow& r = rows[i];
        if (!wanted(r)) continue;
        uint64_t tenths = r.cpu_time_ns / 100'000'000ull;
        if (long_form) {
            out_.print("%s: id %u, memory %lu MiB, vcpus %u, state %s, cpu time %lu.%lu s", r.name, r.id, r.mem_mib,
                       r.vcpus, r.state, tenths / 10, tenths % 10);
            if (r.exit_status_valid) out_.print(", exit status %#x", r.exit_value);
            if (r.reason[0]) out_.print(", stopped: %s", r.reason);
            out_.print("\n");
        }
        else
            out_.print("%-40s %5u %5lu %5u     %s  %6lu.%lu\n", r.name, r.id, r.mem_mib, r.vcpus, r.state,
                       tenths / 10, tenths % 10);  // xl's "%8.1f" after two blanks
    }
    return 0;
}

}  // namespace vmm::xl

namespace vmm::xl {

bool Shell::resolve(const char* arg, uint32_t& id)
{
    auto r = backend_.find_domain(arg);
    if (!r) {
        out_.print("xl: domain '%s' does not exist\n", arg);
        return false;
    }
    id = *r;
    return true;
}

int Shell::cmd_create(size_t argc, const char* const* argv)
{
    bool paused = false, console = false;
    const char* path = nullptr;
    lib::StrView overrides[16];
    size_t n = 0;
    for (size_t i = 1; i < argc; ++i) {
        lib::StrView a(argv[i]);
        if (a == "-p") paused = true;
        else if (a == "-c") console = true;
        else if (a == "-f" && i + 1 < argc) path = argv[++i];
        else if (a.starts_with("-")) return usage("create");
        else if (!path && a.find('=') == lib::StrView::npos) path = argv[i];
        else if (a.find('=') != lib::StrView::npos && n < 16) overrides[n++] = a;
        else return usage("create");
    }
    if (!path) return usage("create");
    out_.print("Parsing config from %s\n", path);
    auto id = backend_.create_domain(path, overrides, n, paused, out_);
    if (!id) return 1;
    if (console) backend_.console(*id, out_);
    return 0;
}

int Shell::cmd_destroy(size_t argc, const char* const* argv)
{
    if (argc != 2) return usage("destroy");
    uint32_t id;
    if (!resolve(argv[1], id)) return 1;
    auto s = backend_.destroy_domain(id);
    if (s != hv::abi::Status::ok) {
        out_.print("xl: cannot destroy domain %u: %s\n", id, hv::abi::status_name(s));
        return 1;
    }
    return 0;
}

int Shell::pause_common(size_t argc, const char* const* argv, bool pause)
{
    if (argc != 2) return usage(pause ? "pause" : "unpause");
    uint32_t id;
    if (!resolve(argv[1], id)) return 1;
    auto s = backend_.pause_domain(id, pause);
    if (s == hv::abi::Status::busy) {
        out_.print("xl: domain %u is %s\n", id, pause ? "already paused or not running" : "not paused");
        return 1;
    }
    if (s != hv::abi::Status::ok) {
        out_.print("xl: cannot %s domain %u: %s\n", pause ? "pause" : "unpause", id, hv::abi::status_name(s));
        return 1;
    }
    return 0;
}

int Shell::cmd_pause(size_t argc, const char* const* argv) { return pause_common(argc, argv, true); }
int Shell::cmd_unpause(size_t argc, const char* const* argv) { return pause_common(argc, argv, false); }

int Shell::cmd_console(size_t argc, const char* const* argv)
{
    size_t at = 1;
    if (argc == 4 && eq(argv[1], "-t")) {
        if (!eq(argv[2], "serial")) {
            out_.print("xl: console type '%s' is not available (serial only)\n", argv[2]);
            return 1;
        }
        at = 3;
    }
    if (at + 1 != argc) return usage("console");
    uint32_t id;
    if (!resolve(argv[at], id)) return 1;
    return backend_.console(id, out_) ? 0 : 1;
}

namespace {
void format_affinity(uint64_t mask, char* buf, size_t cap)
{
    size_t n = 0;
    buf[0] = '\0';
    for (unsigned c = 0; c < 64; ++c) {
        if (!(mask & (1ull << c))) continue;
        unsigned e = c;
        while (e + 1 < 64 && (mask & (1ull << (e + 1)))) ++e;
        n += lib::format(buf + n, n < cap ? cap - n : 0, n ? ",%u" : "%u", c);
        if (e > c) n += lib::format(buf + n, n < cap ? cap - n : 0, "-%u", e);
        c = e;
    }
    if (!n) lib::format(buf, cap, "none");
}
}  // namespace

int Shell::cmd_vcpu_list(size_t argc, const char* const* argv)
{
    DomainRow doms[64];
    size_t nd = backend_.list_domains(doms, 64);
    out_.print("Name                                ID  VCPU   CPU State   Time(s) Affinity (Hard / Soft)\n");
    bool any_missing = false;
    for (size_t i = 1; i < argc; ++i) {
        uint32_t id;
        if (!resolve(argv[i], id)) any_missing = true;
    }
    if (any_missing) return 1;
    for (size_t d = 0; d < nd; ++d) {
        if (argc > 1) {
            bool wanted = false;
            for (size_t i = 1; i < argc; ++i) {
                auto id = backend_.find_domain(argv[i]);
                wanted |= id && *id == doms[d].id;
            }
            if (!wanted) continue;
        }
        VcpuRow rows[64];
        size_t n = backend_.list_vcpus(doms[d].id, rows, 64);
        for (size_t k = 0; k < n; ++k) {
            const VcpuRow& r = rows[k];
            char aff[96];
            format_affinity(r.affinity, aff, sizeof aff);
            uint64_t tenths = r.time_ns / 100'000'000ull;
            // xl's "%-32s %5u %5u" "%5u %3c%c- " "%9.1f  ": VCPU and CPU abut.
            out_.print("%-32s %5u %5u%5u   %s %7lu.%lu  %s / all\n", r.name, r.domid, r.vcpu, r.cpu, r.state,
                       tenths / 10, tenths % 10, aff);
        }
    }
    return 0;
}

int Shell::cmd_vcpu_pin(size_t argc, const char* const* argv)
{
    // xl vcpu-pin <Domain> <VCPU|all> <CPUs hard> [CPUs soft]
    if (argc != 4 && argc != 5) return usage("vcpu-pin");
    uint32_t id;
    if (!resolve(argv[1], id)) return 1;
    lib::StrView cpus(argv[3]);
    auto cpu = lib::parse_u64(cpus);
    if (!cpu || *cpu > 255) {
        out_.print("xl: vcpu-pin: '%s': give one CPU number (a vCPU runs on exactly one CPU here)\n", argv[3]);
        return 2;
    }
    if (argc == 5 && !eq(argv[4], "all") && !eq(argv[4], "-")) {
        out_.print("xl: vcpu-pin: soft affinity is not supported (use 'all' or leave it out)\n");
        return 2;
    }
    VcpuRow rows[64];
    size_t n = backend_.list_vcpus(id, rows, 64);
    size_t first = 0, last = n;
    if (!eq(argv[2], "all")) {
        auto v = lib::parse_u64(argv[2]);
        if (!v || *v >= n) {
            out_.print("xl: vcpu-pin: domain %u has no vCPU '%s'\n", id, argv[2]);
            return 1;
        }
        first = *v;
        last = first + 1;
    }
    for (size_t v = first; v < last; ++v) {
        auto s = backend_.pin_vcpu(id, uint32_t(v), uint32_t(*cpu));
        if (s == hv::abi::Status::out_of_range) {
            out_.print("xl: vcpu-pin: CPU %lu does not exist\n", *cpu);
            return 1;
        }
        if (s != hv::abi::Status::ok) {
            out_.print("xl: cannot pin vCPU %zu of domain %u to CPU %lu: %s\n", v, id, *cpu, hv::abi::status_name(s));
            return 1;
        }
    }
    return 0;
}

int Shell::cmd_sched_credit(size_t argc, const char* const* argv)
{
    const char* dom = nullptr;
    uint64_t weight = 0, cap = ~0ull;
    bool set = false, weight_given = false;
    for (size_t i = 1; i < argc; ++i) {
        lib::StrView a(argv[i]);
        auto value = [&](lib::StrView flag, uint64_t& v) -> bool {
            lib::StrView num;
            if (a == flag) {
                if (i + 1 >= argc) return false;
                num = argv[++i];
            } else if (a.starts_with(flag) && a.size() > flag.size() && a[flag.size()] == '=') {
                num = a.substr(flag.size() + 1);
            } else {
                return false;
            }
            auto r = lib::parse_u64(num);
            if (!r) return false;
            v = *r;
            set = true;
            return true;
        };
        if ((a == "-d" || a == "--domain") && i + 1 < argc) dom = argv[++i];
        else if (a.starts_with("-w") && value(a.starts_with("--") ? "--weight" : "-w", weight)) weight_given = true;
        else if (a.starts_with("-c") && value(a.starts_with("--") ? "--cap" : "-c", cap)) continue;
        else if (a.starts_with("--weight") && value("--weight", weight)) weight_given = true;
        else if (a.starts_with("--cap") && value("--cap", cap)) continue;
        else return usage("sched-credit");
    }
    if (set && !dom) return usage("sched-credit");
    if (weight_given && (weight < 1 || weight > 65535)) {  // 0 would mean "keep" to the backend
        out_.print("xl: weight must be 1..65535\n");
        return 2;
    }
    uint32_t only = 0;
    if (dom) {
        if (eq(dom, "Domain-0") || eq(dom, "0")) {
            if (set) {
                out_.print("xl: Domain-0's scheduling parameters are fixed in this version\n");
                return 1;
            }
        } else if (!resolve(dom, only)) {
            return 1;
        }
        if (set) {
            auto s = backend_.sched_credit(only, weight, cap);
            if (s != hv::abi::Status::ok) {
                out_.print("xl: cannot set the credit parameters of domain %u: %s\n", only, hv::abi::status_name(s));
                return 1;
            }
            return 0;
        }
    }
    DomainRow rows[64];
    size_t n = backend_.list_domains(rows, 64);
    out_.print("Cpupool Pool-0: tslice=10ms ratelimit=1000us migration-delay=0us\n");
    out_.print("Name                                ID Weight  Cap\n");
    for (size_t i = 0; i < n; ++i) {
        if (dom && rows[i].id != only) continue;
        out_.print("%-33s %4u %6u %4u\n", rows[i].name, rows[i].id, rows[i].weight, rows[i].cap);  // as xl
    }
    return 0;
}

int Shell::cmd_shutdown(size_t argc, const char* const* argv)
{
    // As Xen's xl: there is no PV control interface, so a graceful shutdown
    // needs -F, the ACPI power button (the guest decides what to do with it:
    // Linux with acpid powers off). -w waits until the domain has stopped.
    bool reboot = eq(argv[0], "reboot");
    bool fallback = false, wait = false;
    size_t i = 1;
    for (; i < argc && argv[i][0] == '-'; ++i) {
        if (eq(argv[i], "-F")) fallback = true;
        else if (eq(argv[i], "-w")) wait = true;
        else return usage(argv[0]);
    }
    if (i + 1 != argc) return usage(argv[0]);
    uint32_t id;
    if (!resolve(argv[i], id)) return 1;
    if (reboot) {
        out_.print("xl: domain %u has no way to be asked to reboot (no PV control); "
                   "use xl trigger %u reset\n", id, id);
        return 1;
    }
    if (!fallback) {
        out_.print("PV control interface not available: external graceful shutdown not possible.\n"
                   "Use \"-F\" to fallback to ACPI power event.\n");
        return 1;
    }
    auto s = backend_.trigger(id, "power", 0);
    if (s == hv::abi::Status::unsupported) {
        out_.print("xl: domain %u has no ACPI power button (not a PC-platform guest); use xl destroy\n", id);
        return 1;
    }
    if (s != hv::abi::Status::ok) {
        out_.print("xl: cannot press domain %u's power button: %s\n", id, hv::abi::status_name(s));
        return 1;
    }
    if (!wait) return 0;
    out_.print("Waiting for 1 domains\n");
    constexpr uint64_t limit_ms = 120'000;  // a guest that ignores the button does not hold the shell forever
    for (uint64_t waited = 0; waited < limit_ms; waited += 100) {
        DomainRow rows[64];
        size_t n = backend_.list_domains(rows, 64);
        bool running = false;
        for (size_t k = 0; k < n; ++k)
            if (rows[k].id == id) running = rows[k].state[3] != 's' && rows[k].state[4] != 'c' && rows[k].state[5] != 'd';
        if (!running) {
            out_.print("Domain %u has been shut down\n", id);
            return 0;
        }
        backend_.sleep_ms(100);
    }
    out_.print("xl: domain %u is still running after %lu s; it may ignore its power button\n", id, limit_ms / 1000);
    return 1;
}

}  // namespace vmm::xl

namespace vmm::xl {

int Backend::selftest(Output& out)
{
    out.print("xl: selftest is not available here\n");
    return 1;
}

int Shell::cmd_selftest(size_t argc, const char* const*)
{
    if (argc != 1) return usage("selftest");
    return backend_.selftest(out_) == 0 ? 0 : 1;
}

}  // namespace vmm::xl

namespace vmm::xl {

bool Backend::exits(uint32_t, hv::abi::ExitCounts&) { return false; }
size_t Backend::list_disks(uint32_t, DiskRow*, size_t) { return 0; }
void Backend::list_host_disks(Output& out) { out.print("(no disks: this backend drives none)\n"); }

int Shell::cmd_lsblk(size_t argc, const char* const*)
{
    if (argc != 1) return usage("lsblk");
    backend_.list_host_disks(out_);
    return 0;
}

int Shell::cmd_block_list(size_t argc, const char* const* argv)
{
    if (argc < 2) return usage("block-list");
    // xl's main_blocklist: the header once, then each domain's disks.
    out_.print("%-5s %-3s %-6s %-5s %-6s %-8s %-30s\n", "Vdev", "BE", "handle", "state", "evt-ch", "ring-ref",
               "BE-path");
    int status = 0;
    for (size_t i = 1; i < argc; ++i) {
        uint32_t id;
        if (!resolve(argv[i], id)) {
            status = 1;
            continue;
        }
        DiskRow rows[8];
        const size_t n = backend_.list_disks(id, rows, 8);
        for (size_t k = 0; k < n; ++k)
            out_.print("%-5u %-3u %-6u %-5u %-6d %-8d %-30s\n", rows[k].devid, rows[k].backend, rows[k].frontend,
                       rows[k].state, -1, -1, rows[k].path);
    }
    return status;
}
hv::abi::Status Backend::pin_vcpu(uint32_t, uint32_t, uint32_t) { return hv::abi::Status::unsupported; }
hv::abi::Status Backend::snapshot(uint32_t, SnapshotOp, lib::StrView, Output&, uint32_t*)
{
    return hv::abi::Status::unsupported;
}
void Backend::sleep_ms(uint64_t) {}
uint64_t Backend::now_ns() { return 0; }

int Shell::cmd_top(size_t argc, const char* const* argv)
{
    uint64_t delay = 1, iterations = 1;
    for (size_t i = 1; i < argc; ++i) {
        lib::StrView a(argv[i]);
        uint64_t* target = a == "-d" ? &delay : a == "-i" ? &iterations : nullptr;
        if (!target || i + 1 >= argc) return usage("top");
        auto v = lib::parse_u64(argv[++i]);
        if (!v || *v == 0 || *v > 3600) return usage("top");
        *target = *v;
    }
    struct Sample {
        uint32_t id;
        uint64_t cpu_ns;
        hv::abi::ExitCounts exits;
    };
    static Sample before[64];  // big: one shell, one caller
    static DomainRow rows[64];
    size_t n = backend_.list_domains(rows, 64);
    uint64_t t0 = backend_.now_ns();
    for (size_t i = 0; i < n; ++i) {
        before[i].id = rows[i].id;
        before[i].cpu_ns = rows[i].cpu_time_ns;
        if (!backend_.exits(rows[i].id, before[i].exits)) before[i].exits = {};
    }
    for (uint64_t it = 0; it < iterations; ++it) {
        backend_.sleep_ms(delay * 1000);
        n = backend_.list_domains(rows, 64);
        uint64_t t1 = backend_.now_ns();
        uint64_t span = t1 > t0 ? t1 - t0 : 1;
        out_.print("      NAME  STATE   CPU(sec) CPU(%%)     MEM(k) VCPUS   EXITS/s  EXITS/s BY REASON\n");
        for (size_t i = 0; i < n; ++i) {
            const DomainRow& r = rows[i];
            Sample* b = nullptr;
            for (size_t k = 0; k < 64 && !b; ++k)
                if (before[k].id == r.id) b = &before[k];
            uint64_t cpu_delta = b && r.cpu_time_ns > b->cpu_ns ? r.cpu_time_ns - b->cpu_ns : 0;
            uint64_t pct10 = cpu_delta * 1000 / span;  // tenths of a percent
            hv::abi::ExitCounts now{};
            bool have = backend_.exits(r.id, now);
            char reasons[160] = "";
            uint64_t rate_total = 0;
            if (have) {
                size_t len = 0;
                for (uint32_t k = 0; k < now.count; ++k) {
                    uint64_t prev = 0;
                    if (b)
                        for (uint32_t j = 0; j < b->exits.count; ++j)
                            if (lib::StrView(b->exits.reasons[j].name) == lib::StrView(now.reasons[k].name))
                                prev = b->exits.reasons[j].exits;
                    uint64_t rate = (now.reasons[k].exits - prev) * 1'000'000'000ull / span;
                    rate_total += rate;
                    if (rate && len + 1 < sizeof reasons)
                        len += lib::format(reasons + len, sizeof reasons - len, "%s%s %lu", len ? ", " : "",
                                           now.reasons[k].name, rate);
                }
            }
            char state[7];
            lib::copy_cstr(state, sizeof state, r.state);
            if (have)
                out_.print("%10s %6s %10lu %4lu.%lu %10lu %5u %9lu  %s\n", r.name, state, uint64_t(r.cpu_time_ns / 1'000'000'000ull),
                           pct10 / 10, pct10 % 10, r.mem_mib * 1024, r.vcpus, rate_total, reasons[0] ? reasons : "-");
            else
                out_.print("%10s %6s %10lu %4lu.%lu %10lu %5u %9s  %s\n", r.name, state, uint64_t(r.cpu_time_ns / 1'000'000'000ull),
                           pct10 / 10, pct10 % 10, r.mem_mib * 1024, r.vcpus, "-", "-");
            if (b) {
                b->cpu_ns = r.cpu_time_ns;
                if (have) b->exits = now;
            }
        }
        t0 = t1;
    }
    return 0;
}

}  // namespace vmm::xl

namespace vmm::xl {

size_t Backend::list_vifs(uint32_t, VifRow*, size_t) { return 0; }

int Shell::cmd_network_list(size_t argc, const char* const* argv)
{
    // xl network-list <Domain(s)>. Xen's columns are Idx BE Mac Addr. handle
    // state evt-ch tx-/rx-ring-ref BE-path: a virtio vif has no event
    // channel, grant references or xenstore path, so those give way to its
    // PCI address, bridge and port name, and the port's counters (the
    // guest's view: RX is what it received).
    if (argc < 2) return usage("network-list");
    int rc = 0;
    for (size_t i = 1; i < argc; ++i) {
        uint32_t id;
        if (!resolve(argv[i], id)) {
            rc = 1;
            continue;
        }
        out_.print("Idx BE Mac Addr.         handle state PCI     bridge   vifname      RX-pkts    RX-bytes RX-drop "
                   "   TX-pkts    TX-bytes TX-drop\n");
        VifRow rows[16];
        size_t n = backend_.list_vifs(id, rows, 16);
        for (size_t k = 0; k < n; ++k) {
            const VifRow& r = rows[k];
            out_.print("%-3u %-2u %02x:%02x:%02x:%02x:%02x:%02x %6u %5u 00:%02x.0 %-8s %-10s %9lu %11lu %7lu %10lu "
                       "%11lu %7lu\n",
                       r.idx, r.backend, r.mac[0], r.mac[1], r.mac[2], r.mac[3], r.mac[4], r.mac[5], r.idx, r.state,
                       r.pci_slot, r.bridge, r.vifname, r.rx_packets, r.rx_bytes, r.rx_dropped, r.tx_packets,
                       r.tx_bytes, r.tx_dropped);
        }
    }
    return rc;
}

hv::abi::Status Backend::trigger(uint32_t, lib::StrView, uint32_t) { return hv::abi::Status::unsupported; }
hv::abi::Status Backend::sysrq(uint32_t, char) { return hv::abi::Status::unsupported; }

int Shell::cmd_trigger(size_t argc, const char* const* argv)
{
    if (argc != 3 && argc != 4) return usage("trigger");
    uint32_t id;
    if (!resolve(argv[1], id)) return 1;
    lib::StrView what(argv[2]);
    if (what != "nmi" && what != "reset" && what != "power") {
        out_.print("xl: trigger '%s' is not supported (nmi, reset and power are)\n", argv[2]);
        return 2;
    }
    uint32_t vcpu = 0;
    if (argc == 4) {
        auto v = lib::parse_u64(argv[3]);
        if (!v || *v > 63) return usage("trigger");
        vcpu = uint32_t(*v);
    }
    auto s = backend_.trigger(id, what, vcpu);
    if (s == hv::abi::Status::unsupported && what == "power") {
        out_.print("xl: domain %u has no ACPI power button (not a PC-platform guest)\n", id);
        return 1;
    }
    if (s == hv::abi::Status::out_of_range) {
        out_.print("xl: domain %u has no vCPU %u\n", id, vcpu);
        return 1;
    }
    if (s != hv::abi::Status::ok) {
        out_.print("xl: cannot send %s to domain %u: %s\n", argv[2], id, hv::abi::status_name(s));
        return 1;
    }
    return 0;
}

int Shell::cmd_sysrq(size_t argc, const char* const* argv)
{
    if (argc != 3 || lib::StrView(argv[2]).size() != 1) return usage("sysrq");
    uint32_t id;
    if (!resolve(argv[1], id)) return 1;
    auto s = backend_.sysrq(id, argv[2][0]);
    if (s != hv::abi::Status::ok) {
        out_.print("xl: cannot send sysrq '%s' to domain %u: %s\n", argv[2], id, hv::abi::status_name(s));
        return 1;
    }
    return 0;
}

}  // namespace vmm::xl

namespace vmm::xl {

hv::abi::Status Backend::attach_disk(uint32_t, const DiskConfig&, Output&) { return hv::abi::Status::unsupported; }
hv::abi::Status Backend::detach_disk(uint32_t, uint32_t) { return hv::abi::Status::unsupported; }
hv::abi::Status Backend::pull_disk(uint32_t, uint32_t) { return hv::abi::Status::unsupported; }
bool Backend::disk_present(uint32_t, uint32_t) { return false; }
hv::abi::Status Backend::attach_vif(uint32_t, const VifConfig&, Output&, uint32_t*)
{
    return hv::abi::Status::unsupported;
}
hv::abi::Status Backend::detach_vif(uint32_t, uint32_t, const uint8_t*, uint32_t*)
{
    return hv::abi::Status::unsupported;
}
bool Backend::vif_present(uint32_t, uint32_t) { return false; }

template <typename F> bool Shell::wait_gone(F present)
{
    for (uint64_t waited = 0; present(); waited += 100) {
        if (waited >= detach_timeout_ms) return false;
        backend_.sleep_ms(100);
    }
    return true;
}

namespace {

// The words from argv[first] on, as StrViews (at most 32: the shell's limit).
size_t spec_words(size_t argc, const char* const* argv, size_t first, lib::StrView (&words)[32])
{
    size_t n = 0;
    for (size_t i = first; i < argc && n < 32; ++i) words[n++] = lib::StrView(argv[i]);
    return n;
}

}  // namespace

int Shell::cmd_block_attach(size_t argc, const char* const* argv)
{
    // xl block-attach <Domain> <disk-spec-component(s)>...: the components
    // are one disk= entry (xl-disk-configuration(5)), split over words.
    if (argc < 3) return usage("block-attach");
    uint32_t id;
    if (!resolve(argv[1], id)) return 1;
    lib::StrView words[32];
    const size_t n = spec_words(argc, argv, 2, words);
    static DiskConfig disk;
    static CfgDiagnostics diag;
    if (!parse_disk_spec(words, n, disk, diag).ok()) {
        out_.print("xl: block-attach: %s\n", diag.error.text);
        return 1;
    }
    auto s = backend_.attach_disk(id, disk, out_);
    if (s == hv::abi::Status::unsupported) {
        out_.print("xl: domain %u has no PCI bus for disks (only Linux domains get the PC platform)\n", id);
        return 1;
    }
    if (s == hv::abi::Status::not_found) {
        out_.print("xl: domain '%s' does not exist\n", argv[1]);
        return 1;
    }
    return s == hv::abi::Status::ok ? 0 : 1;
}

int Shell::cmd_block_detach(size_t argc, const char* const* argv)
{
    // xl block-detach [-f] <Domain> <DevId>: a vdev (xvdb) or Xen's device
    // number (51728), as libxl_vdev_to_device_disk takes it. -f: a guest
    // that does not eject in time loses the disk anyway (a surprise removal).
    bool force = argc > 1 && (lib::StrView(argv[1]) == "-f" || lib::StrView(argv[1]) == "--force");
    if (force) {
        --argc;
        ++argv;
    }
    if (argc != 3) return usage("block-detach");
    uint32_t id;
    if (!resolve(argv[1], id)) return 1;
    uint32_t devid = 0;
    unsigned index = 0;
    auto number = lib::parse_u64(argv[2]);
    if (number && *number <= 0xffffffffull) devid = uint32_t(*number);
    else if (!DomainDisks::disk_index(argv[2], index, devid)) {
        out_.print("Error: Device %s not connected.\n", argv[2]);
        return 1;
    }
    auto s = backend_.detach_disk(id, devid);
    if (s == hv::abi::Status::not_found) {
        out_.print("Error: Device %s not connected.\n", argv[2]);
        return 1;
    }
    if (s == hv::abi::Status::unsupported) {
        out_.print("xl: domain %u has no PCI bus, so no disks to detach\n", id);
        return 1;
    }
    if (s != hv::abi::Status::ok) {
        out_.print("xl: block-detach: cannot ask domain %u to eject %s: %s\n", id, argv[2], hv::abi::status_name(s));
        return 1;
    }
    if (wait_gone([&] { return backend_.disk_present(id, devid); })) return 0;
    if (force) {
        // Its backend flushes and closes; the guest finds the slot empty.
        s = backend_.pull_disk(id, devid);
        if (s == hv::abi::Status::ok) {
            out_.print("xl: block-detach: domain %u did not eject %s within %lu s; pulled it out (the guest's "
                       "outstanding requests to it fail)\n",
                       id, argv[2], detach_timeout_ms / 1000);
            return 0;
        }
        if (s == hv::abi::Status::not_found) return 0;  // ejected at the last moment
        out_.print("xl: block-detach: cannot pull %s out of domain %u: %s\n", argv[2], id, hv::abi::status_name(s));
        return 1;
    }
    out_.print("xl: block-detach: domain %u did not eject %s within %lu s; it stays attached (state 5, closing) "
               "until the guest ejects it\n",
               id, argv[2], detach_timeout_ms / 1000);
    return 1;
}

int Shell::cmd_snapshot(size_t argc, const char* const* argv)
{
    const lib::StrView cmd(argv[0]);
    const SnapshotOp op = cmd == "snapshot-create" ? SnapshotOp::create
                          : cmd == "snapshot-list" ? SnapshotOp::list
                          : cmd == "snapshot-revert" ? SnapshotOp::revert
                                                     : SnapshotOp::remove;
    if (argc != (op == SnapshotOp::list ? 2u : 3u)) return usage(argv[0]);
    uint32_t id;
    if (!resolve(argv[1], id)) return 1;
    const lib::StrView name = argc > 2 ? lib::StrView(argv[2]) : lib::StrView();
    uint32_t new_id = 0;
    auto s = backend_.snapshot(id, op, name, out_, &new_id);
    if (s == hv::abi::Status::unsupported) {
        out_.print("xl: domain %u has no disks that can have snapshots (only Linux domains have virtio disks)\n", id);
        return 1;
    }
    if (s != hv::abi::Status::ok) return 1;
    switch (op) {
    case SnapshotOp::create: out_.print("Snapshot '%s' of domain %u taken\n", argv[2], id); break;
    case SnapshotOp::revert:
        out_.print("Domain %u reverted to snapshot '%s': restarted as domain %u\n", id, argv[2], new_id);
        break;
    case SnapshotOp::remove: out_.print("Snapshot '%s' of domain %u deleted\n", argv[2], id); break;
    case SnapshotOp::list: break;
    }
    return 0;
}

int Shell::cmd_network_attach(size_t argc, const char* const* argv)
{
    // xl network-attach <Domain> [key=value ...]: one vif= entry
    // (xl-network-configuration(5)), a word per key; none: all defaults.
    if (argc < 2) return usage("network-attach");
    uint32_t id;
    if (!resolve(argv[1], id)) return 1;
    lib::StrView words[32];
    const size_t n = spec_words(argc, argv, 2, words);
    static VifConfig vif;
    static CfgDiagnostics diag;
    if (!parse_vif_spec(words, n, vif, diag).ok()) {
        out_.print("xl: network-attach: %s\n", diag.error.text);
        return 1;
    }
    uint32_t devid = 0;
    auto s = backend_.attach_vif(id, vif, out_, &devid);
    if (s == hv::abi::Status::unsupported) {
        out_.print("xl: domain %u has no PCI bus for vifs (only Linux domains get the PC platform)\n", id);
        return 1;
    }
    if (s == hv::abi::Status::not_found) {
        out_.print("xl: domain '%s' does not exist\n", argv[1]);
        return 1;
    }
    return s == hv::abi::Status::ok ? 0 : 1;
}

int Shell::cmd_network_detach(size_t argc, const char* const* argv)
{
    // xl network-detach <Domain> <DevId|mac>: a word with a colon is a MAC.
    if (argc != 3) return usage("network-detach");
    uint32_t id;
    if (!resolve(argv[1], id)) return 1;
    lib::StrView what(argv[2]);
    uint8_t mac[6];
    uint32_t devid = 0;
    bool by_mac = what.find(':') != lib::StrView::npos;
    if (by_mac ? !parse_mac_address(what, mac) : !lib::parse_u64(what) || *lib::parse_u64(what) >= xl_max_vifs) {
        out_.print("Unknown device %s.\n", argv[2]);
        return 1;
    }
    if (!by_mac) devid = uint32_t(*lib::parse_u64(what));
    uint32_t found = devid;
    auto s = backend_.detach_vif(id, devid, by_mac ? mac : nullptr, &found);
    if (s == hv::abi::Status::not_found) {
        out_.print("Unknown device %s.\n", argv[2]);
        return 1;
    }
    if (s == hv::abi::Status::unsupported) {
        out_.print("xl: domain %u has no PCI bus, so no vifs to detach\n", id);
        return 1;
    }
    if (s != hv::abi::Status::ok) {
        out_.print("xl: network-detach: cannot ask domain %u to eject %s: %s\n", id, argv[2], hv::abi::status_name(s));
        return 1;
    }
    if (wait_gone([&] { return backend_.vif_present(id, found); })) return 0;
    out_.print("xl: network-detach: domain %u did not eject vif %u within %lu s; it stays attached (state 5, "
               "closing) until the guest ejects it\n",
               id, found, detach_timeout_ms / 1000);
    return 1;
}

}  // namespace vmm::xl
