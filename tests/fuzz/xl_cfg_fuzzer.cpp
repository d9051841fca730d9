// libFuzzer target for the xl.cfg parser (vmm/control/xl_cfg). Inputs are
// short here (-max_len=64), so byte 0 picks a statement opening such as
// "disk=['" or "cpus=[" that the rest of the input continues; that way most
// runs reach the value parsers (disk and vif specifications, CPU lists,
// escapes) instead of stopping at the first key. Each input is parsed as a
// whole file, applied as an `xl create` override to a parsed configuration,
// and parsed as a file followed by an override (split at the first '\n'),
// and every result is validated and formatted; the bytes after byte 0, split
// at blanks, are also the words of `xl block-attach` and `xl
// network-attach` (parse_disk_spec, parse_vif_spec). Besides crashes,
// out-of-bounds accesses and UB, a finding is any broken invariant: a field
// without its NUL, a count above its capacity, an error without a message
// or a message without an error, or the parser's internal "corrupt" error.
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "vmm/control/xl_cfg.hpp"

namespace {

using namespace vmm;

constexpr const char* openings[] = {
    "",
    "name=",
    "uuid=\"",
    "type=\"",
    "builder=\"",
    "memory=",
    "maxmem=",
    "vcpus=",
    "maxvcpus=",
    "cpus=\"",
    "cpus=[\"",
    "cpu_weight=",
    "cap=",
    "kernel=\"",
    "extra=\"",
    "extra+=\"",
    "root=\"",
    "cmdline='",
    "on_crash=\"",
    "disk=['",
    "disk=[\"target=",
    "disk+=['",
    "vif=['",
    "vif=['mac=",
    "serial=[",
    "pause_exits=",
    "directed_yield=",
    "x=[",
};
constexpr size_t opening_count = sizeof openings / sizeof openings[0];

// A configuration the override path starts from.
constexpr char base_config[] = "name = \"guest\"\ntype = \"pvh\"\nkernel = \"/boot/vmlinuz\"\nmemory = 512\n"
                               "vcpus = 2\nextra = \"console=hvc0\"\ndisk = [ 'a.img,raw,xvda' ]\nvif = [ '' ]\n";

void require(bool ok)
{
    if (!ok) __builtin_trap();
}

bool terminated(const char* s, size_t cap) { return std::memchr(s, '\0', cap) != nullptr; }

void check_config(const DomainConfig& c)
{
    require(terminated(c.name, sizeof c.name));
    require(terminated(c.kernel, sizeof c.kernel));
    require(terminated(c.ramdisk, sizeof c.ramdisk));
    require(terminated(c.cmdline, sizeof c.cmdline));
    require(terminated(c.root, sizeof c.root));
    require(terminated(c.extra, sizeof c.extra));
    require(terminated(c.kernel_cmdline, sizeof c.kernel_cmdline));
    require(c.disk_count <= xl_max_disks);
    require(c.vif_count <= xl_max_vifs);
    require(c.serial_count <= xl_max_serials);
    require(c.cpus.per_vcpu_count <= xl_max_vcpus);
    require(c.cpu_weight >= 1 && c.cpu_weight <= 65535);
    for (size_t i = 0; i < c.disk_count; ++i) {
        const DiskConfig& d = c.disks[i];
        require(terminated(d.target, sizeof d.target) && terminated(d.vdev, sizeof d.vdev));
        require(terminated(d.backend, sizeof d.backend) && terminated(d.script, sizeof d.script));
    }
    for (size_t i = 0; i < c.vif_count; ++i) {
        const VifConfig& v = c.vifs[i];
        require(terminated(v.bridge, sizeof v.bridge) && terminated(v.model, sizeof v.model));
        require(terminated(v.vifname, sizeof v.vifname) && terminated(v.ip, sizeof v.ip));
        require(terminated(v.script, sizeof v.script) && terminated(v.backend, sizeof v.backend));
    }
    for (size_t i = 0; i < c.serial_count; ++i) require(terminated(c.serial[i], xl_path_size));
    require(domain_type_name(c.type)[0] != '?');
    require(shutdown_action_name(c.on_crash)[0] != '?');
    for (uint32_t v = 0; v < c.maxvcpus && v < xl_max_vcpus; ++v) (void)vcpu_hard_affinity(c, v).count();
}

void check_message(const CfgMessage& m)
{
    require(terminated(m.key, sizeof m.key) && terminated(m.text, sizeof m.text));
    char line[512];
    size_t n = format_cfg_message(m, line, sizeof line);
    require(n < sizeof line && std::strlen(line) == n);
}

void check_result(lib::Status s, const DomainConfig& c, const CfgDiagnostics& d)
{
    require(s.ok() != d.has_error);
    require(s.error() != lib::Error::corrupt);
    if (!s.ok()) {
        require(d.error.text[0] != '\0');
        check_message(d.error);
    }
    require(d.warning_count <= CfgDiagnostics::max_warnings);
    for (size_t i = 0; i < d.warning_count; ++i) check_message(d.warnings[i]);
    check_config(c);
}

// Static rather than on the stack: a DomainConfig is about 16 KiB.
DomainConfig cfg;
CfgDiagnostics diag;
char text[64 + 32];

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    if (size == 0) return 0;
    const char* opening = openings[data[0] % opening_count];
    size_t opening_len = std::strlen(opening);
    size_t rest = size - 1;
    if (rest > sizeof text - opening_len) rest = sizeof text - opening_len;
    std::memcpy(text, opening, opening_len);
    std::memcpy(text + opening_len, data + 1, rest);
    lib::StrView input(text, opening_len + rest);

    // The input as a whole file.
    lib::Status s = parse_xl_cfg(input, cfg, diag);
    check_result(s, cfg, diag);
    if (s.ok()) {
        lib::Status v = validate_domain_config(cfg, diag);
        require(v.ok() != diag.has_error);
        check_result(v, cfg, diag);
    }

    // As an override of a parsed configuration.
    require(parse_xl_cfg(lib::StrView(base_config), cfg, diag).ok());
    s = apply_xl_cfg_override(input, cfg, diag, 1);
    check_result(s, cfg, diag);
    if (s.ok()) check_result(validate_domain_config(cfg, diag), cfg, diag);

    // The words of xl block-attach / network-attach.
    {
        lib::StrView words[16];
        size_t n = 0;
        lib::StrView all(text + opening_len, rest);
        while (!all.empty() && n < 16) {
            lib::StrView w = all.split_first(' ');
            if (!w.empty()) words[n++] = w;
        }
        static DiskConfig disk;
        static VifConfig vif;
        lib::Status ds = parse_disk_spec(words, n, disk, diag);
        require(ds.ok() != diag.has_error && ds.error() != lib::Error::corrupt);
        if (!ds.ok()) check_message(diag.error);
        require(terminated(disk.target, sizeof disk.target) && terminated(disk.vdev, sizeof disk.vdev));
        lib::Status vs = parse_vif_spec(words, n, vif, diag);
        require(vs.ok() != diag.has_error && vs.error() != lib::Error::corrupt);
        if (!vs.ok()) check_message(diag.error);
        require(terminated(vif.bridge, sizeof vif.bridge) && terminated(vif.vifname, sizeof vif.vifname));
    }

    // A file and one override: up to the first new line, and the rest.
    size_t nl = input.find('\n');
    if (nl != lib::StrView::npos) {
        lib::StrView file = input.substr(0, nl);
        lib::StrView override_text = input.substr(nl + 1);
        s = parse_xl_cfg(file, &override_text, 1, cfg, diag);
        check_result(s, cfg, diag);
    }
    return 0;
}
