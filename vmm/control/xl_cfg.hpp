// Dom0's parser for xl domain configuration files (Xen's xl.cfg(5) syntax,
// as libxlu parses it), including the disk (xl-disk-configuration(5)) and
// vif (xl-network-configuration(5)) specification strings and the
// `xl create cfg key=value ...` overrides, into a DomainConfig with fixed
// storage. No allocation, no exceptions: every limit is a capacity below and
// exceeding one is an error, never a silent truncation.
//
// File syntax:
//   KEY = VALUE   or   KEY += VALUE        statements end at a new line or ';'
//   # comment to the end of the line       blank lines; CRLF line ends accepted
//   KEY    [A-Za-z_][A-Za-z0-9_]*
//   VALUE  "string" | 'string' | NUMBER | [ VALUE, VALUE, ... ]
// Strings take Xen's backslash escapes in both quote styles: \" \' \\ \a \b
// \f \n \r \t \v, \xHH (two hex digits) and \ooo (one to three octal
// digits); an escape that would store a NUL byte is refused. Numbers are
// decimal, 0x hex or 0-prefixed octal, as xl.cfg(5) says (strtol base 0).
// Lists may span lines, hold comments, end with a trailing comma and nest
// (xl.cfg(5): "Lists can be heterogeneous and nested"); none of the keys
// below takes a nested list. Numbers and strings are interchangeable atoms
// as in libxlu: memory = "512" and name = 42 are both accepted.
//
// A key set twice: the last '=' wins and earlier settings of it are not
// looked at (as in xl, where they are never read), with a warning when both
// are in the same source. '+=' appends to text keys (name, kernel, ramdisk,
// cmdline, root, extra) and to the device lists (disk, vif). Unknown keys
// are warned about with their line and otherwise ignored.
//
// Differences from xl, on purpose: keys may use upper case and start with
// '_' (xl: [a-z][._0-9a-z]*), a value error for a key is an error rather
// than a warning that leaves the key unset, bad vif parameters are errors
// (xl prints them and goes on), type/builder must be spelt in full (xl
// accepts any prefix), vcpus = 0 is refused by validation (xl makes it 1),
// and NUMA "nodes:" in cpus, qcow/qed disks, vif rate= and similar are
// reported as unsupported.
#pragma once

#include <cstddef>
#include <cstdint>

#include "lib/result.hpp"
#include "lib/str.hpp"

namespace vmm {

// Capacities in bytes include the terminating NUL.
inline constexpr size_t xl_name_size = 64;
inline constexpr size_t xl_path_size = 256;      // kernel, ramdisk, disk target, scripts, serial
inline constexpr size_t xl_cmdline_size = 1024;  // cmdline, extra and the composed kernel command line
inline constexpr size_t xl_root_size = 256;
inline constexpr size_t xl_vdev_size = 32;
inline constexpr size_t xl_domname_size = 64;  // backend= domain names
inline constexpr size_t xl_ifname_size = 32;   // bridge, vifname, model
inline constexpr size_t xl_ip_size = 128;      // xl allows several space-separated addresses
inline constexpr size_t xl_max_disks = 8;
inline constexpr size_t xl_max_vifs = 8;
inline constexpr size_t xl_max_serials = 4;
inline constexpr size_t xl_max_modules = 8;
inline constexpr uint32_t xl_max_vcpus = 64;       // a domain's vCPU limit in the hypervisor
inline constexpr uint32_t xl_max_host_cpus = 256;  // CPUs an affinity mask can name
inline constexpr uint64_t xl_default_memory_mib = 32;  // libxl's default when neither memory nor maxmem is set
inline constexpr uint32_t xl_default_cpu_weight = 256;

// A set of host CPUs 0..xl_max_host_cpus-1.
struct CpuSet {
    static constexpr unsigned words = xl_max_host_cpus / 64;
    uint64_t bits[words] = {};

    constexpr void set(unsigned cpu)
    {
        if (cpu < xl_max_host_cpus) bits[cpu / 64] |= uint64_t(1) << (cpu % 64);
    }
    constexpr void clear(unsigned cpu)
    {
        if (cpu < xl_max_host_cpus) bits[cpu / 64] &= ~(uint64_t(1) << (cpu % 64));
    }
    constexpr bool test(unsigned cpu) const { return cpu < xl_max_host_cpus && (bits[cpu / 64] >> (cpu % 64)) & 1; }
    constexpr void set_all()
    {
        for (auto& w : bits) w = ~uint64_t(0);
    }
    constexpr bool empty() const
    {
        for (auto w : bits)
            if (w) return false;
        return true;
    }
    constexpr unsigned count() const
    {
        unsigned n = 0;
        for (auto w : bits) n += unsigned(__builtin_popcountll(w));
        return n;
    }
    constexpr CpuSet& operator|=(const CpuSet& o)
    {
        for (unsigned i = 0; i < words; ++i) bits[i] |= o.bits[i];
        return *this;
    }
    constexpr bool operator==(const CpuSet&) const = default;
};

// cpus= (hard affinity). String form: one mask for every vCPU. List form:
// entry i is vCPU i's mask; vCPUs past the end of the list are not pinned
// (as xl does), entries past maxvcpus are ignored.
struct CpuAffinity {
    bool pinned = false;          // false: every vCPU may run on any CPU
    CpuSet all_vcpus;             // string form: each vCPU's mask; list form: the union of the entries
    uint32_t per_vcpu_count = 0;  // list form: entries given (0 for the string form)
    CpuSet per_vcpu[xl_max_vcpus];
};

enum class DomainType : uint8_t { pv, pvh, hvm };

enum class ShutdownAction : uint8_t {
    destroy,
    restart,
    rename_restart,
    preserve,
    coredump_destroy,
    coredump_restart,
    soft_reset,
};

enum class DiskFormat : uint8_t { raw, qcow, qcow2, vhd, qed, empty };
enum class DiskBackendType : uint8_t { automatic, phy, tap, qdisk, standalone };
enum class DiskSpecification : uint8_t { xen, virtio };
enum class VifType : uint8_t { automatic, vif, ioemu };
// A yes/no option that may also be left to the backend's default.
enum class Toggle : uint8_t { unset, off, on };

struct DiskConfig {
    bool has_target = false;  // no target at all: an empty CD-ROM drive
    char target[xl_path_size] = "";
    DiskFormat format = DiskFormat::raw;
    char vdev[xl_vdev_size] = "";
    bool readwrite = true;  // false for access=ro and for every CD-ROM
    bool cdrom = false;     // devtype=cdrom: removable, read-only
    DiskBackendType backendtype = DiskBackendType::automatic;
    DiskSpecification specification = DiskSpecification::xen;
    char backend[xl_domname_size] = "";  // backend domain name; empty = Dom0
    char script[xl_path_size] = "";
    bool direct_io_safe = false;
    Toggle discard = Toggle::unset;
    Toggle trusted = Toggle::unset;
    bool event_idx = true;  // this hypervisor's key: event_idx=0 offers no VIRTIO_F_EVENT_IDX
    bool ioevent = true;    // this hypervisor's key: ioevent=0 forwards the notify writes to Dom0
};

struct VifConfig {
    bool has_mac = false;  // false: the toolstack generates one
    uint8_t mac[6] = {};
    VifType type = VifType::automatic;
    char bridge[xl_ifname_size] = "";  // empty = the default bridge
    char model[xl_ifname_size] = "";
    char vifname[xl_ifname_size] = "";
    char ip[xl_ip_size] = "";
    char script[xl_path_size] = "";
    char backend[xl_domname_size] = "";
    bool event_idx = true;  // this hypervisor's key: event_idx=0 offers no VIRTIO_F_EVENT_IDX
    bool ioevent = true;    // this hypervisor's key: ioevent=0 forwards the notify writes to Dom0
};

// The keys the parser knows; everything else is warned about and ignored.
enum class XlKey : uint8_t {
    name,
    uuid,
    type,
    builder,
    memory,
    maxmem,
    vcpus,
    maxvcpus,
    cpus,
    cpu_weight,
    cap,
    kernel,
    ramdisk,
    cmdline,
    root,
    extra,
    on_poweroff,
    on_reboot,
    on_watchdog,
    on_crash,
    on_soft_reset,
    disk,
    vif,
    serial,
    pause_exits,     // hypervisor-specific: every guest PAUSE exits (test guests)
    directed_yield,  // hypervisor-specific: PAUSE exits yield to a preempted sibling vCPU
    modules,         // hypervisor-specific: boot modules for Multiboot kernels ("PATH [CMDLINE]")
    count,
};
const char* xl_key_name(XlKey key);

// Where a setting or a message comes from: source 0 is the configuration
// file, source N the Nth `key=value` override (1-based). Line 0: none.
struct CfgLocation {
    uint16_t source = 0;
    uint32_t line = 0;
};

struct DomainConfig {
    char name[xl_name_size] = "";
    bool has_uuid = false;  // false: a fresh UUID is generated at creation
    uint8_t uuid[16] = {};
    DomainType type = DomainType::pv;          // xl's default on x86; builder= applies when type= is absent
    DomainType builder_type = DomainType::pv;  // builder= as given ("generic" = pv)
    uint64_t memory_mib = xl_default_memory_mib;  // defaults to maxmem when only that is set
    uint64_t maxmem_mib = xl_default_memory_mib;  // defaults to memory
    uint32_t vcpus = 1;
    uint32_t maxvcpus = 1;  // defaults to vcpus
    CpuAffinity cpus;
    uint32_t cpu_weight = xl_default_cpu_weight;  // 1..65535
    uint32_t cap = 0;                             // percent of one CPU, 0 = none
    char kernel[xl_path_size] = "";
    char ramdisk[xl_path_size] = "";
    char cmdline[xl_cmdline_size] = "";  // cmdline=, root= and extra= as given
    char root[xl_root_size] = "";
    char extra[xl_cmdline_size] = "";
    // What the kernel gets, composed as xl does: cmdline if set (root and
    // extra ignored, with a warning), else "root=<root> <extra>", "root=<root>"
    // or "<extra>".
    char kernel_cmdline[xl_cmdline_size] = "";
    ShutdownAction on_poweroff = ShutdownAction::destroy;
    ShutdownAction on_reboot = ShutdownAction::restart;
    ShutdownAction on_watchdog = ShutdownAction::destroy;
    ShutdownAction on_crash = ShutdownAction::destroy;
    ShutdownAction on_soft_reset = ShutdownAction::soft_reset;
    size_t disk_count = 0;
    DiskConfig disks[xl_max_disks];
    size_t vif_count = 0;
    VifConfig vifs[xl_max_vifs];
    size_t serial_count = 0;
    char serial[xl_max_serials][xl_path_size] = {};
    // modules = [ "PATH [CMDLINE]", ... ]: files for a Multiboot kernel, in
    // order (QEMU's -initrd "a args,b"); each module's command line is the
    // text after PATH, or PATH itself when there is none. Without it,
    // ramdisk= is the only module.
    size_t module_count = 0;
    char modules[xl_max_modules][xl_path_size] = {};
    bool pause_exits = false;
    bool directed_yield = true;

    // Where each key was last applied from; line 0 = never set.
    CfgLocation origin[size_t(XlKey::count)] = {};
    constexpr bool given(XlKey k) const { return origin[size_t(k)].line != 0; }
};

// One diagnostic. Formatted by format_cfg_message as, e.g.,
//   config line 7: memory: expected a number, got "lots"
//   override 1 line 1: cpus: CPU 1000 is out of range (at most 255)
struct CfgMessage {
    CfgLocation where;
    char key[32] = "";  // empty when the message is not about a key
    char text[192] = "";
};

struct CfgDiagnostics {
    static constexpr size_t max_warnings = 32;
    bool has_error = false;
    CfgMessage error;  // the first error of the last failed call
    size_t warning_count = 0;
    size_t warnings_dropped = 0;  // warnings beyond max_warnings: counted, not kept
    CfgMessage warnings[max_warnings];

    void clear()
    {
        has_error = false;
        error = CfgMessage{};
        warning_count = 0;
        warnings_dropped = 0;
    }
};

// Parses a whole configuration file into `out`, which is reset to the
// defaults first, and `diag`, which is cleared first. On error `out` holds
// whatever was applied before the failing statement and diag.error says
// where and why. Syntax errors anywhere are found before any value is
// interpreted, as in xl.
lib::Status parse_xl_cfg(lib::StrView text, DomainConfig& out, CfgDiagnostics& diag);

// Same, followed by `xl create cfg key=value ...` overrides: each is more
// configuration text (one or more statements, e.g. `memory=512` or
// `cpus="0-3"; vcpus=2`) read after the file, exactly as xl appends them to
// it, so a bad value in the file that an override replaces is not an error.
lib::Status parse_xl_cfg(lib::StrView text, const lib::StrView* overrides, size_t override_count, DomainConfig& out,
                         CfgDiagnostics& diag);

// Applies one override to an already parsed configuration: '=' replaces,
// '+=' appends, derived values (kernel_cmdline, default maxmem, ...) are
// recomputed. `override_number` (1-based) is used in diagnostics. diag's
// warnings are kept and added to; on error `out` may be partly updated.
lib::Status apply_xl_cfg_override(lib::StrView key_equals_value, DomainConfig& out, CfgDiagnostics& diag,
                                  uint16_t override_number = 1);

// Checks what a domain needs before it can be built: a name, a kernel for
// pv and pvh guests, memory > 0 and maxmem >= memory, vcpus 1..64 and
// maxvcpus vcpus..64, disk formats the block layer opens (raw, qcow2, vhd),
// valid and distinct vdevs, distinct MACs. Errors point at the line that set
// the offending key.
lib::Status validate_domain_config(const DomainConfig& cfg, CfgDiagnostics& diag);

// The words after the domain of `xl block-attach` and `xl network-attach`:
// one disk (xl-disk-configuration(5)) or vif (xl-network-configuration(5))
// specification, read as if the words were joined with commas (as libxlu
// and xl do). `out` is reset first; on error diag.error says why (no line).
lib::Status parse_disk_spec(const lib::StrView* words, size_t n, DiskConfig& out, CfgDiagnostics& diag);
lib::Status parse_vif_spec(const lib::StrView* words, size_t n, VifConfig& out, CfgDiagnostics& diag);
// Six hex pairs separated by colons (00:16:3e:00:00:01).
bool parse_mac_address(lib::StrView s, uint8_t out[6]);

// One line for a message, without a trailing newline. Returns the length the
// full line would have had (like lib::format).
size_t format_cfg_message(const CfgMessage& msg, char* buf, size_t n);

// vCPU `vcpu`'s hard affinity: every CPU when it is not pinned.
CpuSet vcpu_hard_affinity(const DomainConfig& cfg, uint32_t vcpu);

// The bridge a vif joins when bridge= is absent (Xen's default too).
inline constexpr const char* xl_default_bridge = "xenbr0";

// A vif's MAC when mac= is absent. Xen's toolstack takes its OUI 00:16:3e
// and three random bytes with the top bit clear; here the three bytes are
// derived from the domain's name and the vif's index instead, so a domain
// keeps its MACs across restarts and the same config gives the same MAC on
// every boot. Names are unique on a host, but 23 bits of hash can collide:
// the integrator checks the MACs in use and asks again with a higher
// `attempt` (0 first).
void default_vif_mac(lib::StrView domain_name, size_t vif_index, uint8_t out[6], unsigned attempt = 0);

// vif i's MAC: mac= when given, else default_vif_mac(name, i).
void vif_mac(const DomainConfig& cfg, size_t i, uint8_t out[6]);

const char* domain_type_name(DomainType t);
const char* shutdown_action_name(ShutdownAction a);
const char* disk_format_name(DiskFormat f);

}  // namespace vmm
