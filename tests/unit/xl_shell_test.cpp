// The xl shell (vmm/control/xl) over a fake Backend: the exact output a Xen
// user knows (xl list's and vcpu-list's and sched-credit's columns as Xen's
// xl prints them, xl info's keys, dmesg without the level digit), the
// usage and error lines with their exit statuses, what each command asks
// the backend for, and split_words on its own.
//
// Bad inputs tried: unknown commands (also with -h), extra and missing
// arguments for every command, unknown options (list -x, create -x, dmesg
// -x), create without a path, with two paths, with -f at the end, with 17
// overrides and a failing backend, unknown domain names and ids (list,
// destroy, pause, unpause, console, vcpu-list, vcpu-pin, sched-credit,
// shutdown, reboot), Domain-0 where only guests can be named, backend
// statuses busy, not_found and denied, sched-credit weights 0, 65536,
// 70000, "0x", "-5", a missing value, -w without -d, setting Domain-0's
// parameters, a console type other than serial, host information and log
// reads that fail, unterminated "double" and 'single' quotes, a trailing
// backslash, 33 words, a word longer than the line buffer, empty words
// filling the word store exactly (heap buffer of that size, for ASan), a
// zero-sized store, and 20,000 random command lines built from the
// commands, options, domain names and junk.
#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "vmm/control/xl.hpp"

using hv::abi::Status;
using lib::Error;
using vmm::xl::Backend;
using vmm::xl::DiskRow;
using vmm::xl::DomainRow;
using vmm::xl::Output;
using vmm::xl::Shell;
using vmm::xl::split_words;
using vmm::xl::VcpuRow;
using vmm::xl::VifRow;

namespace {

struct StrOut final : Output {
    std::string s;
    void write(const char* p, size_t n) override { s.append(p, n); }
};

DomainRow dom(const char* name, uint32_t id, uint64_t mem, uint32_t vcpus, const char* state, uint64_t ns,
              uint32_t weight = 256, uint32_t cap = 0)
{
    DomainRow r{};
    lib::copy_cstr(r.name, sizeof r.name, name);
    r.id = id;
    r.mem_mib = mem;
    r.vcpus = vcpus;
    lib::copy_cstr(r.state, sizeof r.state, state);
    r.cpu_time_ns = ns;
    r.weight = weight;
    r.cap = cap;
    return r;
}

VcpuRow vcpu(const char* name, uint32_t domid, uint32_t v, uint32_t cpu, const char* state, uint64_t ns,
             uint64_t affinity)
{
    VcpuRow r{};
    lib::copy_cstr(r.name, sizeof r.name, name);
    r.domid = domid;
    r.vcpu = v;
    r.cpu = cpu;
    lib::copy_cstr(r.state, sizeof r.state, state);
    r.time_ns = ns;
    r.affinity = affinity;
    return r;
}

constexpr uint64_t keep_cap = ~0ull;

class Fake final : public Backend {
public:
    std::vector<DomainRow> doms;
    std::vector<VcpuRow> vcpus;
    std::vector<std::string> log;  // "Ltext" lines; the index is the sequence number
    size_t log_lines_per_read = 1000;
    bool log_fails = false;
    hv::abi::SystemInfo si{};
    bool si_fails = false;
    std::vector<std::string> calls;
    std::vector<uint64_t> log_reads;
    Status destroy_status = Status::ok, pause_status = Status::ok, sched_status = Status::ok;
    bool create_fails = false;
    uint32_t create_id = 5;
    std::string created_path;
    std::vector<std::string> created_overrides;
    bool created_paused = false;
    bool console_result = true;
    std::vector<DiskRow> disks;

    lib::Result<hv::abi::SystemInfo> system_info() override
    {
        if (si_fails) return lib::err(Error::io);
        return si;
    }
    lib::Result<uint64_t> read_log(uint64_t seq, char* buf, size_t cap) override
    {
        log_reads.push_back(seq);
        if (log_fails) return lib::err(Error::io);
        size_t used = 0, lines = 0;
        uint64_t s = seq;
        while (s < log.size() && lines < log_lines_per_read && used + log[s].size() + 1 < cap) {
            memcpy(buf + used, log[s].data(), log[s].size());
            used += log[s].size();
            buf[used++] = '\n';
            ++s;
            ++lines;
        }
        buf[used] = '\0';
        return s;
    }
    size_t list_domains(DomainRow* rows, size_t cap) override
    {
        size_t n = 0;
        for (const auto& d : doms)
            if (n < cap) rows[n++] = d;
        return n;
    }
    lib::Result<uint32_t> find_domain(lib::StrView name_or_id) override
    {
        std::string s(name_or_id.data(), name_or_id.size());
        for (const auto& d : doms) {
            if (d.id == 0) continue;  // guests only
            if (s == d.name || s == std::to_string(d.id)) return d.id;
        }
        return lib::err(Error::not_found);
    }
    lib::Result<uint32_t> create_domain(lib::StrView cfg_path, const lib::StrView* overrides, size_t n, bool paused,
                                        Output& out) override
    {
        created_path.assign(cfg_path.data(), cfg_path.size());
        created_overrides.clear();
        for (size_t i = 0; i < n; ++i) created_overrides.emplace_back(overrides[i].data(), overrides[i].size());
        created_paused = paused;
        calls.push_back("create");
        if (create_fails) {
            out.print("xl: cannot create the domain\n");
            return lib::err(Error::invalid);
        }
        return create_id;
    }
    Status destroy_domain(uint32_t id) override
    {
        calls.push_back("destroy " + std::to_string(id));
        return destroy_status;
    }
    Status pause_domain(uint32_t id, bool pause) override
    {
        calls.push_back((pause ? "pause " : "unpause ") + std::to_string(id));
        return pause_status;
    }
    Status sched_credit(uint32_t id, uint64_t weight, uint64_t cap) override
    {
        calls.push_back("sched_credit " + std::to_string(id) + " " + std::to_string(weight) + " " +
                        (cap == keep_cap ? std::string("keep") : std::to_string(cap)));
        return sched_status;
    }
    size_t list_vcpus(uint32_t id, VcpuRow* rows, size_t cap) override
    {
        size_t n = 0;
        for (const auto& v : vcpus)
            if (v.domid == id && n < cap) rows[n++] = v;
        return n;
    }
    size_t list_disks(uint32_t id, DiskRow* rows, size_t cap) override
    {
        size_t n = 0;
        for (const auto& d : disks)
            if (d.frontend == id && n < cap) rows[n++] = d;
        return n;
    }
    std::vector<std::pair<uint32_t, VifRow>> vifs;
    size_t list_vifs(uint32_t id, VifRow* rows, size_t cap) override
    {
        size_t n = 0;
        for (const auto& [d, v] : vifs)
            if (d == id && n < cap) rows[n++] = v;
        return n;
    }
    bool console(uint32_t id, Output& out) override
    {
        calls.push_back("console " + std::to_string(id));
        out.print("[console of %u]\n", id);
        return console_result;
    }
    // Only `power` is answered here (xl shutdown -F); the rest keeps
    // Backend's default (unsupported), which TriggerAndSysrqArguments relies on.
    Status power_status = Status::ok;
    int stops_after_sleeps = -1;  // the domain shows 's' after this many sleeps (-1: never)
    Status trigger(uint32_t id, lib::StrView what, uint32_t vcpu) override
    {
        if (what != "power") return Backend::trigger(id, what, vcpu);
        calls.push_back("power " + std::to_string(id));
        return power_status;
    }
    void sleep_ms(uint64_t) override
    {
        ++sleeps;
        if (stops_after_sleeps >= 0 && sleeps >= stops_after_sleeps)
            for (auto& d : doms)
                if (d.id == 1) d.state[3] = 's';
    }
    int sleeps = 0;

    // PCI hotplug: what was asked, and the devices still there.
    Status attach_status = Status::ok, detach_status = Status::ok, pull_status = Status::ok;
    vmm::DiskConfig attached_disk;
    vmm::VifConfig attached_vif;
    std::vector<uint32_t> present_disks, present_vifs;
    int ejects_after_sleeps = 0;  // the guest ejects after this many sleeps (-1: never)
    Status attach_disk(uint32_t id, const vmm::DiskConfig& d, Output& out) override
    {
        calls.push_back("attach_disk " + std::to_string(id) + " " + d.vdev + " " + d.target);
        attached_disk = d;
        if (attach_status == Status::exists) out.print("xl: %s: vdev in use\n", d.vdev);
        return attach_status;
    }
    Status detach_disk(uint32_t id, uint32_t devid) override
    {
        calls.push_back("detach_disk " + std::to_string(id) + " " + std::to_string(devid));
        if (detach_status != Status::ok) return detach_status;
        for (uint32_t d : present_disks)
            if (d == devid) return Status::ok;
        return Status::not_found;
    }
    Status pull_disk(uint32_t id, uint32_t devid) override
    {
        calls.push_back("pull_disk " + std::to_string(id) + " " + std::to_string(devid));
        if (pull_status != Status::ok) return pull_status;
        std::erase(present_disks, devid);
        return Status::ok;
    }
    bool disk_present(uint32_t, uint32_t devid) override
    {
        bool there = false;
        for (uint32_t d : present_disks) there |= d == devid;
        if (there && ejects_after_sleeps >= 0 && sleeps >= ejects_after_sleeps) {
            std::erase(present_disks, devid);
            there = false;
        }
        return there;
    }
    // Live snapshots: what was asked; the status (and a message) to give.
    Status snapshot_status = Status::ok;
    Status snapshot(uint32_t id, vmm::xl::SnapshotOp op, lib::StrView name, Output& out, uint32_t* new_id) override
    {
        static const char* const ops[] = {"create", "list", "revert", "remove"};
        calls.push_back(std::string("snapshot ") + ops[unsigned(op)] + " " + std::to_string(id) + " " +
                        std::string(name.data(), name.size()));
        if (op == vmm::xl::SnapshotOp::list) out.print("Name Creation Time\n");
        if (snapshot_status == Status::not_found) out.print("xl: no snapshot\n");
        *new_id = 7;
        return snapshot_status;
    }
    Status attach_vif(uint32_t id, const vmm::VifConfig& v, Output&, uint32_t* devid) override
    {
        calls.push_back("attach_vif " + std::to_string(id) + " " + v.bridge);
        attached_vif = v;
        *devid = 1;
        return attach_status;
    }
    Status detach_vif(uint32_t id, uint32_t devid, const uint8_t* mac, uint32_t* found) override
    {
        char m[32] = "-";
        if (mac) snprintf(m, sizeof m, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
        calls.push_back("detach_vif " + std::to_string(id) + " " + std::to_string(devid) + " " + m);
        if (detach_status != Status::ok) return detach_status;
        if (mac) devid = 1;  // the fake's one MAC-addressed vif
        for (uint32_t d : present_vifs)
            if (d == devid) {
                *found = d;
                return Status::ok;
            }
        return Status::not_found;
    }
    bool vif_present(uint32_t, uint32_t devid) override
    {
        bool there = false;
        for (uint32_t d : present_vifs) there |= d == devid;
        if (there && ejects_after_sleeps >= 0 && sleeps >= ejects_after_sleeps) {
            std::erase(present_vifs, devid);
            there = false;
        }
        return there;
    }
};

struct XlTest : ::testing::Test {
    Fake be;
    StrOut out;
    Shell sh{be, out};

    void SetUp() override
    {
        be.doms = {dom("Domain-0", 0, 1024, 4, "r-----", 123'456'000'000ull),
                   dom("web", 1, 512, 2, "-b----", 5'050'000'000ull, 512, 50),
                   dom("db", 7, 16, 1, "--p---", 99'999'999ull)};
        be.vcpus = {vcpu("web", 1, 0, 2, "r--", 12'300'000'000ull, 0x2f),
                    vcpu("web", 1, 1, 3, "-b-", 799'999'999ull, ~0ull),
                    vcpu("db", 7, 0, 0, "--p", 1000'000'000'000ull, 0)};
        auto& s = be.si;
        strcpy(s.hv_version, "0.4.0");
        strcpy(s.backend, "vmx");
        s.cpu_count = 4;
        s.numa_nodes = 1;
        s.tsc_hz = 2'995'200'000ull;
        s.total_memory = 8ull << 30;
        s.free_memory = (6ull << 30) + (5ull << 20) + 4095;
        s.uptime_ns = 3'723'900'000'000ull;  // 1:02:03.9
        strcpy(s.cpu_vendor, "GenuineIntel");
        strcpy(s.cpu_model, "Intel(R) Xeon(R) CPU E5-2680 v4 @ 2.40GHz");
        s.free_frames = 1573121;
    }

    int xl(const std::string& line)
    {
        out.s.clear();
        be.calls.clear();
        return sh.run_line(lib::StrView(line.data(), line.size()));
    }
};

const char* const list_header = "Name                                        ID   Mem VCPUs\tState\tTime(s)\n";
const char* const dom0_row = "Domain-0                                     0  1024     4     r-----     123.4\n";
const char* const web_row = "web                                          1   512     2     -b----       5.0\n";
const char* const db_row = "db                                           7    16     1     --p---       0.0\n";

const char* const vcpu_header = "Name                                ID  VCPU   CPU State   Time(s) Affinity (Hard / Soft)\n";
const char* const web0_vcpu = "web                                  1     0    2   r--      12.3  0-3,5 / all\n";
const char* const web1_vcpu = "web                                  1     1    3   -b-       0.7  0-63 / all\n";
const char* const db0_vcpu = "db                                   7     0    0   --p    1000.0  none / all\n";

const char* const pool_line = "Cpupool Pool-0: tslice=10ms ratelimit=1000us migration-delay=0us\n";
const char* const credit_header = "Name                                ID Weight  Cap\n";
const char* const dom0_credit = "Domain-0                             0    256    0\n";
const char* const web_credit = "web                                  1    512   50\n";
const char* const db_credit = "db                                   7    256    0\n";

const char* const unknown_nosuch = "xl: domain 'nosuch' does not exist\n";

}  // namespace

// ---- xl list ---------------------------------------------------------------

TEST_F(XlTest, ListAll)
{
    EXPECT_EQ(xl("xl list"), 0);
    EXPECT_EQ(out.s, std::string(list_header) + dom0_row + web_row + db_row);
    EXPECT_EQ(xl("list"), 0);  // "xl" is optional at the prompt
    EXPECT_EQ(out.s, std::string(list_header) + dom0_row + web_row + db_row);
    EXPECT_EQ(xl("  xl\tlist  "), 0);
    EXPECT_EQ(out.s, std::string(list_header) + dom0_row + web_row + db_row);
}

TEST_F(XlTest, ListOneDomainByNameOrId)
{
    EXPECT_EQ(xl("xl list web"), 0);
    EXPECT_EQ(out.s, std::string(list_header) + web_row);
    EXPECT_EQ(xl("xl list 7"), 0);
    EXPECT_EQ(out.s, std::string(list_header) + db_row);
    EXPECT_EQ(xl("xl list Domain-0"), 0);
    EXPECT_EQ(out.s, std::string(list_header) + dom0_row);
    EXPECT_EQ(xl("xl list 0"), 0);
    EXPECT_EQ(out.s, std::string(list_header) + dom0_row);
}

TEST_F(XlTest, ListUnknownDomain)
{
    // Like xl: the message alone, no header.
    EXPECT_EQ(xl("xl list nosuch"), 1);
    EXPECT_EQ(out.s, unknown_nosuch);
    EXPECT_EQ(xl("xl list 2"), 1);
    EXPECT_EQ(out.s, "xl: domain '2' does not exist\n");
    EXPECT_EQ(xl("xl list -l nosuch"), 1);
    EXPECT_EQ(out.s, unknown_nosuch);
    EXPECT_EQ(xl("xl list WEB"), 1);  // names are case-sensitive
    be.doms.clear();
    EXPECT_EQ(xl("xl list web"), 1);
    EXPECT_EQ(out.s, "xl: domain 'web' does not exist\n");
    EXPECT_EQ(xl("xl list"), 0);
    EXPECT_EQ(out.s, list_header);
}

TEST_F(XlTest, ListLong)
{
    EXPECT_EQ(xl("xl list -l"), 0);
    EXPECT_EQ(out.s,
              "Domain-0: id 0, memory 1024 MiB, vcpus 4, state r-----, cpu time 123.4 s\n"
              "web: id 1, memory 512 MiB, vcpus 2, state -b----, cpu time 5.0 s\n"
              "db: id 7, memory 16 MiB, vcpus 1, state --p---, cpu time 0.0 s\n");
    EXPECT_EQ(xl("xl list --long web"), 0);
    EXPECT_EQ(out.s, "web: id 1, memory 512 MiB, vcpus 2, state -b----, cpu time 5.0 s\n");
    EXPECT_EQ(xl("xl list web -l"), 0);
    EXPECT_EQ(out.s, "web: id 1, memory 512 MiB, vcpus 2, state -b----, cpu time 5.0 s\n");
}

TEST_F(XlTest, ListWideValuesPushColumnsLikePrintf)
{
    be.doms = {dom("a-very-long-domain-name-that-is-longer-than-40", 123456, 1048576, 128, "----c-",
                   1'234'567'890'000'000ull)};
    EXPECT_EQ(xl("xl list"), 0);
    EXPECT_EQ(out.s, std::string(list_header) +
                         "a-very-long-domain-name-that-is-longer-than-40 123456 1048576   128     ----c-  1234567.8\n");
}

TEST_F(XlTest, ListBadArguments)
{
    for (const char* line : {"xl list -x", "xl list web db", "xl list --verbose", "xl list -"}) {
        SCOPED_TRACE(line);
        EXPECT_EQ(xl(line), 2);
        EXPECT_EQ(out.s, "Usage: xl list [-l] [Domain]\n");
    }
}

// ---- xl info ---------------------------------------------------------------

TEST_F(XlTest, Info)
{
    EXPECT_EQ(xl("xl info"), 0);
    EXPECT_EQ(out.s,
              "host                   : hv\n"
              "release                : 0.4.0\n"
              "machine                : x86_64\n"
              "nr_cpus                : 4\n"
              "nr_nodes               : 1\n"
              "cpu_vendor             : GenuineIntel\n"
              "cpu_model              : Intel(R) Xeon(R) CPU E5-2680 v4 @ 2.40GHz\n"
              "cpu_mhz                : 2995.200\n"
              "virt_caps              : hvm (Intel VMX, EPT)\n"
              "total_memory           : 8192\n"
              "free_memory            : 6149\n"
              "free_frames            : 1573121\n"
              "hv_version             : 0.4.0\n"
              "uptime                 : 1:02:03\n");
}

TEST_F(XlTest, InfoVariants)
{
    strcpy(be.si.backend, "svm");
    be.si.cpu_model[0] = '\0';
    be.si.tsc_hz = 1'000'001'000ull;
    be.si.uptime_ns = 100ull * 3600 * 1'000'000'000ull + 59'000'000'000ull;
    ASSERT_EQ(xl("xl info"), 0);
    EXPECT_NE(out.s.find("virt_caps              : hvm (AMD SVM, NPT)\n"), std::string::npos);
    EXPECT_NE(out.s.find("cpu_model              : unknown\n"), std::string::npos);
    EXPECT_NE(out.s.find("cpu_mhz                : 1000.001\n"), std::string::npos);
    EXPECT_NE(out.s.find("uptime                 : 100:00:59\n"), std::string::npos);
    strcpy(be.si.backend, "");
    ASSERT_EQ(xl("xl info"), 0);
    EXPECT_NE(out.s.find("virt_caps              : none\n"), std::string::npos);
}

TEST_F(XlTest, InfoErrors)
{
    EXPECT_EQ(xl("xl info now"), 2);
    EXPECT_EQ(out.s, "Usage: xl info\n");
    be.si_fails = true;
    EXPECT_EQ(xl("xl info"), 1);
    EXPECT_EQ(out.s, "xl: cannot read host information: I/O error\n");
}

// ---- xl dmesg --------------------------------------------------------------

TEST_F(XlTest, DmesgStripsTheLevelDigit)
{
    be.log = {"1hv: 4 CPUs online", "2dom0: started: entry 0x401000", "0error: 3 things", "3", "2 indented"};
    EXPECT_EQ(xl("xl dmesg"), 0);
    EXPECT_EQ(out.s, "hv: 4 CPUs online\ndom0: started: entry 0x401000\nerror: 3 things\n\n indented\n");
    EXPECT_EQ(be.log_reads.front(), 0u);
}

TEST_F(XlTest, DmesgClearMakesTheNextReadStartLater)
{
    be.log = {"1one", "1two"};
    EXPECT_EQ(xl("xl dmesg -c"), 0);
    EXPECT_EQ(out.s, "one\ntwo\n");  // -c prints, then clears
    be.log_reads.clear();
    EXPECT_EQ(xl("xl dmesg"), 0);
    EXPECT_EQ(out.s, "");
    ASSERT_FALSE(be.log_reads.empty());
    EXPECT_EQ(be.log_reads.front(), 2u);
    be.log.push_back("2three");
    EXPECT_EQ(xl("xl dmesg"), 0);
    EXPECT_EQ(out.s, "three\n");
    EXPECT_EQ(xl("xl dmesg"), 0);  // without -c the line stays
    EXPECT_EQ(out.s, "three\n");
    EXPECT_EQ(xl("xl dmesg -c"), 0);
    EXPECT_EQ(out.s, "three\n");
    be.log_reads.clear();
    EXPECT_EQ(xl("xl dmesg"), 0);
    EXPECT_EQ(out.s, "");
    EXPECT_EQ(be.log_reads.front(), 3u);
}

TEST_F(XlTest, DmesgReadsUntilTheEnd)
{
    std::string want;
    for (int i = 0; i < 500; ++i) {
        be.log.push_back("2line " + std::to_string(i) + " of the hypervisor log");
        want += "line " + std::to_string(i) + " of the hypervisor log\n";
    }
    be.log_lines_per_read = 7;
    EXPECT_EQ(xl("xl dmesg"), 0);
    EXPECT_EQ(out.s, want);
    EXPECT_GT(be.log_reads.size(), 70u);
    // Limited by the buffer rather than by lines.
    be.log_lines_per_read = 100000;
    be.log_reads.clear();
    EXPECT_EQ(xl("xl dmesg"), 0);
    EXPECT_EQ(out.s, want);
    EXPECT_GT(be.log_reads.size(), 2u);
}

TEST_F(XlTest, DmesgErrors)
{
    EXPECT_EQ(xl("xl dmesg -x"), 2);
    EXPECT_EQ(out.s, "Usage: xl dmesg [-c]\n");
    EXPECT_EQ(xl("xl dmesg -c -c"), 0);
    be.log_fails = true;
    EXPECT_EQ(xl("xl dmesg"), 1);
    EXPECT_EQ(out.s, "xl: cannot read the hypervisor log: I/O error\n");
}

// ---- xl block-list ------------------------------------------------------------

TEST_F(XlTest, BlockListInXensColumns)
{
    DiskRow a{51712, 0, 1, 4, "virtio-blk 00:10.0 qcow2 ro guests/disks/a.qcow2"};
    DiskRow b{51728, 0, 1, 1, "virtio-blk 00:11.0 raw ro guests/b.img"};
    be.disks = {a, b};
    EXPECT_EQ(xl("xl block-list web"), 0);
    EXPECT_EQ(out.s,
              "Vdev  BE  handle state evt-ch ring-ref BE-path                       \n"
              "51712 0   1      4     -1     -1       virtio-blk 00:10.0 qcow2 ro guests/disks/a.qcow2\n"
              "51728 0   1      1     -1     -1       virtio-blk 00:11.0 raw ro guests/b.img\n");
    // A domain without disks: the header only; a missing one: xl's message.
    EXPECT_EQ(xl("xl block-list db"), 0);
    EXPECT_EQ(out.s, "Vdev  BE  handle state evt-ch ring-ref BE-path                       \n");
    EXPECT_EQ(xl("xl block-list nosuch"), 1);
    EXPECT_NE(out.s.find("xl: domain 'nosuch' does not exist"), std::string::npos) << out.s;
    EXPECT_EQ(xl("xl block-list"), 2);
    EXPECT_EQ(out.s, "Usage: xl block-list <Domain(s)>\n");
}

// ---- xl help, usage, unknown commands ----------------------------------------

TEST_F(XlTest, HelpListsEveryCommand)
{
    EXPECT_EQ(xl("xl help"), 0);
    EXPECT_EQ(out.s,
              "Usage: xl <subcommand> [args]\n\nxl full list of subcommands:\n\n"
              " help                Print this help, or the usage of one command\n"
              " info                Get information about the host\n"
              " dmesg               Read and/or clear the hypervisor's message buffer\n"
              " list                List information about all or some domains\n"
              " create              Create a domain from config file <filename>; -p leaves it paused, -c attaches "
              "its console\n"
              " destroy             Terminate a domain immediately\n"
              " pause               Pause execution of a domain\n"
              " unpause             Unpause a paused domain\n"
              " console             Attach to domain's console (Ctrl-] returns)\n"
              " vcpu-list           List the VCPUs for all/some domains\n"
              " vcpu-pin            Set which CPUs a VCPU can use\n"
              " sched-credit        Get/set credit scheduler parameters\n"
              " shutdown            Issue a shutdown signal to a domain\n"
              " reboot              Issue a reboot signal to a domain\n"
              " top                 Monitor domains: CPU use and VM exits per second by reason (like xentop -b)\n"
              " trigger             Send a trigger to a domain\n"
              " sysrq               Send a sysrq to a domain (a break and the key on its serial line)\n"
              " block-list          List virtual block devices for a domain\n"
              " network-list        List virtual network interfaces for a domain\n"
              " block-attach        Create a new virtual block device (hot-plugged into the running guest)\n"
              " block-detach        Destroy a domain's virtual block device (the guest ejects it first; -f pulls it)\n"
              " network-attach      Create a new virtual network device (hot-plugged into the running guest)\n"
              " network-detach      Destroy a domain's virtual network device (the guest ejects it first)\n"
              " snapshot-create     Take a live snapshot of a domain's writable disks on host volumes\n"
              " snapshot-list       List the snapshots of a domain's disks\n"
              " snapshot-revert     Restart a domain from a snapshot of its disks (later snapshots are "
              "given up)\n"
              " snapshot-delete     Delete the newest snapshot of a domain's disks, keeping their data\n"
              " lsblk               List the host's disks and partitions, which disk= targets name as /dev/...\n"
              " selftest            Check that the hypervisor refuses malformed and unauthorised hypercalls\n");
}

TEST_F(XlTest, HelpForOneCommandAndDashH)
{
    const std::string list_usage = "Usage: xl list [-l] [Domain]\nList information about all or some domains.\n";
    EXPECT_EQ(xl("xl help list"), 0);
    EXPECT_EQ(out.s, list_usage);
    EXPECT_EQ(xl("xl list -h"), 0);
    EXPECT_EQ(out.s, list_usage);
    EXPECT_EQ(xl("xl list --help"), 0);
    EXPECT_EQ(out.s, list_usage);
    EXPECT_EQ(xl("xl info -h"), 0);
    EXPECT_EQ(out.s, "Usage: xl info\nGet information about the host.\n");
    EXPECT_EQ(xl("xl help sched-credit"), 0);
    EXPECT_EQ(out.s, "Usage: xl sched-credit [-d <Domain> [-w[=WEIGHT]|-c[=CAP]]]\n"
                     "Get/set credit scheduler parameters.\n");
    EXPECT_EQ(xl("help create"), 0);
    EXPECT_EQ(out.s, "Usage: xl create <ConfigFile> [options] [vars]\n"
                     "Create a domain from config file <filename>; -p leaves it paused, -c attaches its console.\n");
    EXPECT_EQ(xl("xl destroy -h web"), 0);  // -h wins: nothing destroyed
    EXPECT_EQ(out.s, "Usage: xl destroy <Domain>\nTerminate a domain immediately.\n");
    EXPECT_TRUE(be.calls.empty());
    // Every command has a usage line and -h runs nothing.
    for (const char* c : {"help", "info", "dmesg", "list", "create", "destroy", "pause", "unpause", "console",
                          "vcpu-list", "vcpu-pin", "sched-credit", "shutdown", "reboot", "top", "selftest",
                          "block-list"}) {
        SCOPED_TRACE(c);
        EXPECT_EQ(xl(std::string("xl ") + c + " -h"), 0);
        EXPECT_EQ(out.s.rfind(std::string("Usage: xl ") + c, 0), 0u) << out.s;
        EXPECT_EQ(out.s.back(), '\n');
        std::string help = out.s;
        EXPECT_EQ(xl(std::string("xl help ") + c), 0);
        EXPECT_EQ(out.s, help);
        EXPECT_TRUE(be.calls.empty());
    }
}

TEST_F(XlTest, HelpErrors)
{
    EXPECT_EQ(xl("xl help frobnicate"), 2);
    EXPECT_EQ(out.s, "xl: unknown command 'frobnicate'; 'xl help' lists the commands\n");
    EXPECT_EQ(xl("xl help list info"), 2);
    EXPECT_EQ(out.s, "Usage: xl help [command]\n");
}

TEST_F(XlTest, UnknownCommand)
{
    EXPECT_EQ(xl("frobnicate"), 2);
    EXPECT_EQ(out.s, "xl: unknown command 'frobnicate'; 'xl help' lists the commands\n");
    EXPECT_EQ(xl("xl frobnicate -h"), 2);
    EXPECT_EQ(out.s, "xl: unknown command 'frobnicate'; 'xl help' lists the commands\n");
    EXPECT_EQ(xl("xl LIST"), 2);
    EXPECT_EQ(out.s, "xl: unknown command 'LIST'; 'xl help' lists the commands\n");
    EXPECT_EQ(xl("xl xl list"), 2);
    EXPECT_EQ(out.s, "xl: unknown command 'xl'; 'xl help' lists the commands\n");
    EXPECT_EQ(xl("xl -h"), 2);
    EXPECT_EQ(out.s, "xl: unknown command '-h'; 'xl help' lists the commands\n");
}

TEST_F(XlTest, EmptyLines)
{
    for (const char* line : {"", "   ", "\t\r\n", "xl", "  xl  "}) {
        EXPECT_EQ(xl(line), 0);
        EXPECT_EQ(out.s, "");
    }
}

TEST_F(XlTest, LineSplittingErrors)
{
    EXPECT_EQ(xl("echo \"unterminated"), 2);
    EXPECT_EQ(out.s, "xl: unterminated quote or trailing backslash\n");
    EXPECT_EQ(xl("list 'web"), 2);
    EXPECT_EQ(out.s, "xl: unterminated quote or trailing backslash\n");
    EXPECT_EQ(xl("list web\\"), 2);
    EXPECT_EQ(out.s, "xl: unterminated quote or trailing backslash\n");
    // 32 words are a command line; 33 are too many.
    std::string line = "xl list";
    for (int i = 0; i < 30; ++i) line += " w";
    EXPECT_EQ(xl(line), 2);
    EXPECT_EQ(out.s, "Usage: xl list [-l] [Domain]\n");
    EXPECT_EQ(xl(line + " w"), 2);
    EXPECT_EQ(out.s, "xl: command line too long\n");
    EXPECT_EQ(xl("xl list " + std::string(1100, 'x')), 2);
    EXPECT_EQ(out.s, "xl: command line too long\n");
    // 1022 bytes of words and two empty ones: exactly the 1 KiB store.
    EXPECT_EQ(xl(std::string(1017, 'a') + " list \"\" \"\""), 2);
    EXPECT_EQ(out.s, "xl: command line too long\n");
}

TEST_F(XlTest, RunWithArgv)
{
    const char* argv[] = {"list", "web"};
    EXPECT_EQ(sh.run(2, argv), 0);
    EXPECT_EQ(out.s, std::string(list_header) + web_row);
}

// ---- xl create ---------------------------------------------------------------

TEST_F(XlTest, CreatePlain)
{
    EXPECT_EQ(xl("xl create etc/xl/web.cfg"), 0);
    EXPECT_EQ(out.s, "Parsing config from etc/xl/web.cfg\n");
    EXPECT_EQ(be.created_path, "etc/xl/web.cfg");
    EXPECT_TRUE(be.created_overrides.empty());
    EXPECT_FALSE(be.created_paused);
    EXPECT_EQ(be.calls, std::vector<std::string>{"create"});
}

TEST_F(XlTest, CreateOptionsAndOverrides)
{
    EXPECT_EQ(xl("xl create etc/xl/demo.cfg -p name=\\\"paused_demo\\\" memory=8"), 0);
    EXPECT_EQ(out.s, "Parsing config from etc/xl/demo.cfg\n");
    EXPECT_EQ(be.created_path, "etc/xl/demo.cfg");
    EXPECT_TRUE(be.created_paused);
    EXPECT_EQ(be.created_overrides, (std::vector<std::string>{"name=\"paused_demo\"", "memory=8"}));
    EXPECT_EQ(be.calls, std::vector<std::string>{"create"});  // no console without -c

    EXPECT_EQ(xl("xl create -c -p 'extra=\"console=ttyS0 quiet\"' etc/xl/a.cfg"), 0);
    EXPECT_EQ(out.s, "Parsing config from etc/xl/a.cfg\n[console of 5]\n");
    EXPECT_EQ(be.created_path, "etc/xl/a.cfg");
    EXPECT_TRUE(be.created_paused);
    EXPECT_EQ(be.created_overrides, std::vector<std::string>{"extra=\"console=ttyS0 quiet\""});
    EXPECT_EQ(be.calls, (std::vector<std::string>{"create", "console 5"}));

    EXPECT_EQ(xl("xl create -f etc/xl/b.cfg vcpus=2"), 0);
    EXPECT_EQ(out.s, "Parsing config from etc/xl/b.cfg\n");
    EXPECT_EQ(be.created_path, "etc/xl/b.cfg");
    EXPECT_FALSE(be.created_paused);
    EXPECT_EQ(be.created_overrides, std::vector<std::string>{"vcpus=2"});

    // An override before the path, and a path with spaces.
    EXPECT_EQ(xl("xl create memory=8 \"etc/xl/my domain.cfg\""), 0);
    EXPECT_EQ(out.s, "Parsing config from etc/xl/my domain.cfg\n");
    EXPECT_EQ(be.created_path, "etc/xl/my domain.cfg");
    EXPECT_EQ(be.created_overrides, std::vector<std::string>{"memory=8"});

    // 16 overrides is the most.
    std::string line = "xl create a.cfg";
    std::vector<std::string> want;
    for (int i = 0; i < 16; ++i) {
        line += " k" + std::to_string(i) + "=" + std::to_string(i);
        want.push_back("k" + std::to_string(i) + "=" + std::to_string(i));
    }
    EXPECT_EQ(xl(line), 0);
    EXPECT_EQ(be.created_overrides, want);
    EXPECT_EQ(xl(line + " k16=16"), 2);
    EXPECT_EQ(out.s, "Usage: xl create <ConfigFile> [options] [vars]\n");
    EXPECT_TRUE(be.calls.empty());
}

TEST_F(XlTest, CreateBadArguments)
{
    for (const char* line : {"xl create", "xl create -p", "xl create -x a.cfg", "xl create a.cfg b.cfg",
                             "xl create a.cfg -f", "xl create memory=8", "xl create -f", "xl create --paused a.cfg"}) {
        SCOPED_TRACE(line);
        EXPECT_EQ(xl(line), 2);
        EXPECT_EQ(out.s, "Usage: xl create <ConfigFile> [options] [vars]\n");
        EXPECT_TRUE(be.calls.empty());
    }
}

TEST_F(XlTest, CreateFailing)
{
    be.create_fails = true;
    EXPECT_EQ(xl("xl create -c etc/xl/nosuch.cfg"), 1);
    EXPECT_EQ(out.s, "Parsing config from etc/xl/nosuch.cfg\nxl: cannot create the domain\n");
    EXPECT_EQ(be.calls, std::vector<std::string>{"create"});  // no console for a domain that is not there
}

// ---- destroy, pause, unpause, console ---------------------------------------------

TEST_F(XlTest, Destroy)
{
    EXPECT_EQ(xl("xl destroy web"), 0);
    EXPECT_EQ(out.s, "");
    EXPECT_EQ(be.calls, std::vector<std::string>{"destroy 1"});
    EXPECT_EQ(xl("xl destroy 7"), 0);
    EXPECT_EQ(be.calls, std::vector<std::string>{"destroy 7"});
}

TEST_F(XlTest, DestroyErrors)
{
    EXPECT_EQ(xl("xl destroy nosuch"), 1);
    EXPECT_EQ(out.s, unknown_nosuch);
    EXPECT_TRUE(be.calls.empty());
    EXPECT_EQ(xl("xl destroy Domain-0"), 1);  // only guests can be named
    EXPECT_EQ(out.s, "xl: domain 'Domain-0' does not exist\n");
    EXPECT_TRUE(be.calls.empty());
    be.destroy_status = Status::busy;
    EXPECT_EQ(xl("xl destroy web"), 1);
    EXPECT_EQ(out.s, "xl: cannot destroy domain 1: busy\n");
    be.destroy_status = Status::not_found;
    EXPECT_EQ(xl("xl destroy db"), 1);
    EXPECT_EQ(out.s, "xl: cannot destroy domain 7: no such object\n");
    for (const char* line : {"xl destroy", "xl destroy web db"}) {
        EXPECT_EQ(xl(line), 2);
        EXPECT_EQ(out.s, "Usage: xl destroy <Domain>\n");
        EXPECT_TRUE(be.calls.empty());
    }
}

TEST_F(XlTest, PauseAndUnpause)
{
    EXPECT_EQ(xl("xl pause web"), 0);
    EXPECT_EQ(out.s, "");
    EXPECT_EQ(be.calls, std::vector<std::string>{"pause 1"});
    EXPECT_EQ(xl("xl unpause 1"), 0);
    EXPECT_EQ(out.s, "");
    EXPECT_EQ(be.calls, std::vector<std::string>{"unpause 1"});
}

TEST_F(XlTest, PauseErrors)
{
    be.pause_status = Status::busy;
    EXPECT_EQ(xl("xl pause web"), 1);
    EXPECT_EQ(out.s, "xl: domain 1 is already paused or not running\n");
    EXPECT_EQ(xl("xl unpause db"), 1);
    EXPECT_EQ(out.s, "xl: domain 7 is not paused\n");
    be.pause_status = Status::not_found;
    EXPECT_EQ(xl("xl pause web"), 1);
    EXPECT_EQ(out.s, "xl: cannot pause domain 1: no such object\n");
    EXPECT_EQ(xl("xl unpause web"), 1);
    EXPECT_EQ(out.s, "xl: cannot unpause domain 1: no such object\n");
    be.pause_status = Status::denied;
    EXPECT_EQ(xl("xl pause web"), 1);
    EXPECT_EQ(out.s, "xl: cannot pause domain 1: permission denied\n");
    EXPECT_EQ(xl("xl pause nosuch"), 1);
    EXPECT_EQ(out.s, unknown_nosuch);
    EXPECT_TRUE(be.calls.empty());
    EXPECT_EQ(xl("xl unpause nosuch"), 1);
    EXPECT_EQ(out.s, unknown_nosuch);
    EXPECT_EQ(xl("xl pause"), 2);
    EXPECT_EQ(out.s, "Usage: xl pause <Domain>\n");
    EXPECT_EQ(xl("xl unpause web db"), 2);
    EXPECT_EQ(out.s, "Usage: xl unpause <Domain>\n");
    EXPECT_TRUE(be.calls.empty());
}

TEST_F(XlTest, Console)
{
    EXPECT_EQ(xl("xl console web"), 0);
    EXPECT_EQ(out.s, "[console of 1]\n");
    EXPECT_EQ(xl("xl console -t serial db"), 0);
    EXPECT_EQ(out.s, "[console of 7]\n");
    be.console_result = false;
    EXPECT_EQ(xl("xl console web"), 1);
    EXPECT_EQ(xl("xl console -t pv web"), 1);
    EXPECT_EQ(out.s, "xl: console type 'pv' is not available (serial only)\n");
    EXPECT_EQ(xl("xl console nosuch"), 1);
    EXPECT_EQ(out.s, unknown_nosuch);
    for (const char* line : {"xl console", "xl console web db", "xl console -t serial"}) {
        SCOPED_TRACE(line);
        EXPECT_EQ(xl(line), 2);
        EXPECT_EQ(out.s, "Usage: xl console <Domain>\n");
        EXPECT_TRUE(be.calls.empty());
    }
}

// ---- vcpu-list, vcpu-pin -------------------------------------------------------------

TEST_F(XlTest, VcpuListAll)
{
    EXPECT_EQ(xl("xl vcpu-list"), 0);
    EXPECT_EQ(out.s, std::string(vcpu_header) + web0_vcpu + web1_vcpu + db0_vcpu);
}

TEST_F(XlTest, VcpuListSome)
{
    EXPECT_EQ(xl("xl vcpu-list db"), 0);
    EXPECT_EQ(out.s, std::string(vcpu_header) + db0_vcpu);
    EXPECT_EQ(xl("xl vcpu-list 7 web"), 0);  // in domain order
    EXPECT_EQ(out.s, std::string(vcpu_header) + web0_vcpu + web1_vcpu + db0_vcpu);
    EXPECT_EQ(xl("xl vcpu-list nosuch"), 1);
    EXPECT_EQ(out.s, std::string(vcpu_header) + unknown_nosuch);
    EXPECT_EQ(xl("xl vcpu-list web nosuch"), 1);
    EXPECT_EQ(out.s, std::string(vcpu_header) + unknown_nosuch);
}

TEST_F(XlTest, VcpuListAffinityRanges)
{
    struct Case {
        uint64_t mask;
        const char* text;
    };
    for (Case c : {Case{0x2f, "0-3,5"}, Case{1, "0"}, Case{3, "0-1"}, Case{0x1d | (1ull << 63), "0,2-4,63"},
                   Case{1ull << 63, "63"}, Case{0x8000000000000001ull, "0,63"}, Case{~0ull, "0-63"},
                   Case{~0ull << 1, "1-63"}, Case{0, "none"}, Case{0xf0f0, "4-7,12-15"},
                   Case{0x5555555555555555ull, "0,2,4,6,8,10,12,14,16,18,20,22,24,26,28,30,32,34,36,38,40,42,44,"
                                               "46,48,50,52,54,56,58,60,62"}}) {
        SCOPED_TRACE(c.text);
        be.vcpus = {vcpu("web", 1, 0, 2, "r--", 12'300'000'000ull, c.mask)};
        EXPECT_EQ(xl("xl vcpu-list web"), 0);
        EXPECT_EQ(out.s, std::string(vcpu_header) + "web                                  1     0    2   r--      12.3  " +
                             c.text + " / all\n");
    }
}

TEST_F(XlTest, VcpuListWideValues)
{
    be.doms = {dom("a-very-long-domain-name-that-is-longer-than-40", 123456, 1, 1, "r-----", 0)};
    be.vcpus = {vcpu("a-very-long-domain-name-that-is-longer-than-40", 123456, 127, 63, "r--",
                     12'345'678'900'000'000ull, 0x1d | (1ull << 63))};
    EXPECT_EQ(xl("xl vcpu-list"), 0);
    EXPECT_EQ(out.s, std::string(vcpu_header) +
                         "a-very-long-domain-name-that-is-longer-than-40 123456   127   63   r-- 12345678.9  0,2-4,63 / all\n");
}

TEST_F(XlTest, VcpuPinNamesADomain)
{
    EXPECT_EQ(xl("xl vcpu-pin nosuch 0 1"), 1);
    EXPECT_EQ(out.s, unknown_nosuch);
    EXPECT_TRUE(be.calls.empty());
    for (const char* line : {"xl vcpu-pin", "xl vcpu-pin web", "xl vcpu-pin web 0"}) {
        SCOPED_TRACE(line);
        EXPECT_EQ(xl(line), 2);
        EXPECT_EQ(out.s.rfind("Usage: xl vcpu-pin ", 0), 0u) << out.s;
    }
}

// ---- sched-credit ------------------------------------------------------------------

TEST_F(XlTest, SchedCreditList)
{
    EXPECT_EQ(xl("xl sched-credit"), 0);
    EXPECT_EQ(out.s, std::string(pool_line) + credit_header + dom0_credit + web_credit + db_credit);
    EXPECT_EQ(xl("xl sched-credit -d web"), 0);
    EXPECT_EQ(out.s, std::string(pool_line) + credit_header + web_credit);
    EXPECT_EQ(xl("xl sched-credit --domain 7"), 0);
    EXPECT_EQ(out.s, std::string(pool_line) + credit_header + db_credit);
    EXPECT_EQ(xl("xl sched-credit -d Domain-0"), 0);
    EXPECT_EQ(out.s, std::string(pool_line) + credit_header + dom0_credit);
    EXPECT_EQ(xl("xl sched-credit -d 0"), 0);
    EXPECT_EQ(out.s, std::string(pool_line) + credit_header + dom0_credit);
    EXPECT_TRUE(be.calls.empty());
}

TEST_F(XlTest, SchedCreditColumnsAsXl)
{
    // xl prints "%-33s %4d %6d %4d": a 33-character name still leaves one blank.
    be.doms = {dom("name-of-exactly-thirty-three-char", 3, 1, 1, "r-----", 0, 65535, 800)};
    ASSERT_EQ(strlen(be.doms[0].name), 33u);
    EXPECT_EQ(xl("xl sched-credit"), 0);
    EXPECT_EQ(out.s, std::string(pool_line) + credit_header + "name-of-exactly-thirty-three-char    3  65535  800\n");
}

TEST_F(XlTest, SchedCreditSetForms)
{
    struct Case {
        const char* line;
        const char* call;
    };
    for (Case c : {Case{"xl sched-credit -d web -w 512", "sched_credit 1 512 keep"},
                   Case{"xl sched-credit -d web -w=512", "sched_credit 1 512 keep"},
                   Case{"xl sched-credit -d web --weight 512", "sched_credit 1 512 keep"},
                   Case{"xl sched-credit --domain web --weight=512", "sched_credit 1 512 keep"},
                   Case{"xl sched-credit -w 512 -d web", "sched_credit 1 512 keep"},
                   Case{"xl sched-credit -d web -c 50", "sched_credit 1 0 50"},
                   Case{"xl sched-credit -d web -c=50", "sched_credit 1 0 50"},
                   Case{"xl sched-credit -d web --cap 50", "sched_credit 1 0 50"},
                   Case{"xl sched-credit -d web --cap=0", "sched_credit 1 0 0"},
                   Case{"xl sched-credit -d db -w 512 -c 50", "sched_credit 7 512 50"},
                   Case{"xl sched-credit -d 7 -w 1", "sched_credit 7 1 keep"},
                   Case{"xl sched-credit -d 7 -w 65535", "sched_credit 7 65535 keep"},
                   Case{"xl sched-credit -d 7 -w 0x200", "sched_credit 7 512 keep"}}) {
        SCOPED_TRACE(c.line);
        EXPECT_EQ(xl(c.line), 0);
        EXPECT_EQ(out.s, "");
        EXPECT_EQ(be.calls, std::vector<std::string>{c.call});
    }
}

TEST_F(XlTest, SchedCreditBadWeights)
{
    for (const char* line : {"xl sched-credit -d web -w 0", "xl sched-credit -d web -w=0", "xl sched-credit -d web --weight 0",
                             "xl sched-credit -d web -w 70000", "xl sched-credit -d web -w 65536",
                             "xl sched-credit -d web -w 0 -c 50", "xl sched-credit -d web -w 99999999999999999999"}) {
        SCOPED_TRACE(line);
        int st = xl(line);
        EXPECT_EQ(st, 2);
        EXPECT_TRUE(be.calls.empty());
        if (std::string(line).find("99999") == std::string::npos) {
            EXPECT_EQ(out.s, "xl: weight must be 1..65535\n");
        } else {
            EXPECT_EQ(out.s, "Usage: xl sched-credit [-d <Domain> [-w[=WEIGHT]|-c[=CAP]]]\n");  // overflows
        }
    }
}

TEST_F(XlTest, SchedCreditBadArguments)
{
    for (const char* line : {"xl sched-credit -d web -w 0x", "xl sched-credit -d web -w", "xl sched-credit -d web -w -5",
                             "xl sched-credit -d web -w=", "xl sched-credit -w 512", "xl sched-credit -c 50",
                             "xl sched-credit -d", "xl sched-credit -x", "xl sched-credit web",
                             "xl sched-credit -d web -c", "xl sched-credit -d web -c lots", "xl sched-credit -d web -w512",
                             "xl sched-credit -d web --weights 5"}) {
        SCOPED_TRACE(line);
        EXPECT_EQ(xl(line), 2);
        EXPECT_EQ(out.s, "Usage: xl sched-credit [-d <Domain> [-w[=WEIGHT]|-c[=CAP]]]\n");
        EXPECT_TRUE(be.calls.empty());
    }
}

TEST_F(XlTest, SchedCreditErrors)
{
    EXPECT_EQ(xl("xl sched-credit -d nosuch -w 5"), 1);
    EXPECT_EQ(out.s, unknown_nosuch);
    EXPECT_EQ(xl("xl sched-credit -d nosuch"), 1);
    EXPECT_EQ(out.s, unknown_nosuch);
    EXPECT_EQ(xl("xl sched-credit -d Domain-0 -w 512"), 1);
    EXPECT_EQ(out.s, "xl: Domain-0's scheduling parameters are fixed in this version\n");
    EXPECT_EQ(xl("xl sched-credit -d 0 -c 10"), 1);
    EXPECT_EQ(out.s, "xl: Domain-0's scheduling parameters are fixed in this version\n");
    EXPECT_TRUE(be.calls.empty());
    be.sched_status = Status::busy;
    EXPECT_EQ(xl("xl sched-credit -d web -w 512"), 1);
    EXPECT_EQ(out.s, "xl: cannot set the credit parameters of domain 1: busy\n");
    be.sched_status = Status::invalid;
    EXPECT_EQ(xl("xl sched-credit -d web -c 100000"), 1);
    EXPECT_EQ(out.s, "xl: cannot set the credit parameters of domain 1: invalid argument\n");
}

// ---- shutdown, reboot, selftest -----------------------------------------------------

TEST_F(XlTest, ShutdownAndReboot)
{
    // As Xen's xl for a guest without PV control: -F is needed.
    EXPECT_EQ(xl("xl shutdown web"), 1);
    EXPECT_EQ(out.s, "PV control interface not available: external graceful shutdown not possible.\n"
                     "Use \"-F\" to fallback to ACPI power event.\n");
    EXPECT_TRUE(be.calls.empty());
    EXPECT_EQ(xl("xl shutdown -F web"), 0);
    EXPECT_EQ(out.s, "");
    EXPECT_EQ(be.calls, (std::vector<std::string>{"power 1"}));
    // -w: waits (polling the domain list) until it shows shut down.
    be.calls.clear();
    be.stops_after_sleeps = 3;
    EXPECT_EQ(xl("xl shutdown -w -F web"), 0);
    EXPECT_EQ(out.s, "Waiting for 1 domains\nDomain 1 has been shut down\n");
    EXPECT_EQ(be.sleeps, 3);
    // A guest that ignores its button: -w gives up (after 120 s of polls).
    be.sleeps = 0;
    be.stops_after_sleeps = -1;
    for (auto& d : be.doms)
        if (d.id == 1) d.state[3] = '-';
    EXPECT_EQ(xl("xl shutdown -F -w 1"), 1);
    EXPECT_EQ(out.s, "Waiting for 1 domains\nxl: domain 1 is still running after 120 s; it may ignore its power button\n");
    EXPECT_EQ(be.sleeps, 1200);
    // No ACPI (a Multiboot test guest), or the call failing.
    be.power_status = Status::unsupported;
    EXPECT_EQ(xl("xl shutdown -F db"), 1);
    EXPECT_EQ(out.s, "xl: domain 7 has no ACPI power button (not a PC-platform guest); use xl destroy\n");
    be.power_status = Status::not_found;
    EXPECT_EQ(xl("xl shutdown -F db"), 1);
    EXPECT_EQ(out.s, "xl: cannot press domain 7's power button: no such object\n");
    EXPECT_EQ(xl("xl reboot 7"), 1);
    EXPECT_EQ(out.s, "xl: domain 7 has no way to be asked to reboot (no PV control); use xl trigger 7 reset\n");
    EXPECT_EQ(xl("xl shutdown nosuch"), 1);
    EXPECT_EQ(out.s, unknown_nosuch);
    EXPECT_EQ(xl("xl reboot nosuch"), 1);
    EXPECT_EQ(out.s, unknown_nosuch);
    // Bad command lines: no domain, two domains, an unknown flag, a flag after the domain.
    EXPECT_EQ(xl("xl shutdown"), 2);
    EXPECT_EQ(out.s, "Usage: xl shutdown [-w] [-F] <Domain>\n");
    EXPECT_EQ(xl("xl shutdown -F"), 2);
    EXPECT_EQ(xl("xl shutdown -a web"), 2);
    EXPECT_EQ(xl("xl shutdown web -F"), 2);
    EXPECT_EQ(xl("xl reboot web db"), 2);
    EXPECT_EQ(out.s, "Usage: xl reboot <Domain>\n");
}

TEST_F(XlTest, SelftestWithoutSupport)
{
    EXPECT_EQ(xl("xl selftest"), 1);
    EXPECT_EQ(out.s, "xl: selftest is not available here\n");
    EXPECT_EQ(xl("xl selftest now"), 2);
    EXPECT_EQ(out.s, "Usage: xl selftest\n");
}

// ---- hostile command lines ---------------------------------------------------------

TEST_F(XlTest, RandomCommandLines)
{
    const char* const tokens[] = {"xl",      "list",   "info",  "dmesg",     "-c",        "create",   "destroy",
                                  "pause",   "unpause", "console", "vcpu-list", "vcpu-pin", "sched-credit",
                                  "shutdown", "reboot", "help",  "selftest",  "-d",        "-w",       "-w=",
                                  "--weight", "--cap", "-p",    "-f",        "-l",        "-h",       "-t",
                                  "serial",  "web",    "db",    "Domain-0",  "0",         "1",        "7",
                                  "nosuch",  "512",    "0x",    "70000",     "a=b",       "\"",       "'",
                                  "\\",      "\"\"",   "=",     "-",         "--",        "x.cfg"};
    std::mt19937 rng(42);
    be.log = {"1a", "2b"};
    for (int i = 0; i < 20000; ++i) {
        std::string line;
        int words = int(rng() % 8);
        for (int w = 0; w < words; ++w) {
            if (rng() % 16 == 0) {
                for (int k = int(rng() % 6); k > 0; --k) line.push_back(char(rng() % 256));
            } else {
                line += tokens[rng() % (sizeof tokens / sizeof tokens[0])];
            }
            line += rng() % 4 ? " " : "";
        }
        be.console_result = rng() % 2;
        be.create_fails = rng() % 2;
        int st = xl(line);
        ASSERT_TRUE(st == 0 || st == 1 || st == 2) << line;
        // Every failure says something.
        if (st != 0) {
            ASSERT_FALSE(out.s.empty()) << line;
        }
    }
}

// ---- split_words ------------------------------------------------------------------

namespace {

// Splits into a heap store of exactly store_cap bytes (ASan sees overruns).
lib::Result<std::vector<std::string>> split(const std::string& line, size_t store_cap = 256, size_t cap = 16)
{
    std::unique_ptr<char[]> store(new char[store_cap ? store_cap : 1]);
    std::vector<const char*> words(cap ? cap : 1);
    auto n = split_words(lib::StrView(line.data(), line.size()), store.get(), store_cap, words.data(), cap);
    if (!n) return lib::err(n.error());
    std::vector<std::string> v;
    for (size_t i = 0; i < *n; ++i) v.emplace_back(words[i]);
    return v;
}

using Words = std::vector<std::string>;

}  // namespace

TEST(SplitWords, Blanks)
{
    EXPECT_EQ(*split(""), Words{});
    EXPECT_EQ(*split(" \t\r\n"), Words{});
    EXPECT_EQ(*split("a"), Words{"a"});
    EXPECT_EQ(*split("  a  b\tc\n"), (Words{"a", "b", "c"}));
    EXPECT_EQ(*split("xl list -l"), (Words{"xl", "list", "-l"}));
}

TEST(SplitWords, QuotesAndEscapes)
{
    EXPECT_EQ(*split("\"a b\" 'c d'"), (Words{"a b", "c d"}));
    EXPECT_EQ(*split("a\"b c\"d"), Words{"ab cd"});
    EXPECT_EQ(*split("name=\\\"x\\\""), Words{"name=\"x\""});
    EXPECT_EQ(*split("a\\ b"), Words{"a b"});
    EXPECT_EQ(*split("\\\\"), Words{"\\"});
    EXPECT_EQ(*split("'\\n'"), Words{"\\n"});  // single quotes keep backslashes
    EXPECT_EQ(*split("\"\\\"\""), Words{"\""});  // double quotes do not
    EXPECT_EQ(*split("\"it's\""), Words{"it's"});
    EXPECT_EQ(*split("'say \"hi\"'"), Words{"say \"hi\""});
    EXPECT_EQ(*split("\"\""), Words{""});
    EXPECT_EQ(*split("'' x \"\""), (Words{"", "x", ""}));
    EXPECT_EQ(*split("\"a\tb\nc\""), Words{"a\tb\nc"});
}

TEST(SplitWords, Unterminated)
{
    for (const char* line : {"\"abc", "'abc", "abc\\", "\"abc\\", "a \"b\\\"", "\"", "'", "\\", "x \"y z"}) {
        SCOPED_TRACE(line);
        auto r = split(line);
        ASSERT_FALSE(r.ok());
        EXPECT_EQ(r.error(), Error::invalid);
    }
}

TEST(SplitWords, TooManyWords)
{
    EXPECT_EQ(*split("a b c", 256, 3), (Words{"a", "b", "c"}));
    EXPECT_EQ(*split("a b c   ", 256, 3), (Words{"a", "b", "c"}));
    auto r = split("a b c d", 256, 3);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error(), Error::out_of_range);
    EXPECT_EQ(*split("", 256, 0), Words{});
    auto r0 = split("a", 256, 0);
    ASSERT_FALSE(r0.ok());
    EXPECT_EQ(r0.error(), Error::out_of_range);
}

TEST(SplitWords, TooLong)
{
    EXPECT_EQ(*split("abc", 4), Words{"abc"});  // three bytes and the NUL
    EXPECT_EQ(*split("a b", 4), (Words{"a", "b"}));
    for (const char* line : {"abcd", "ab c", "a b c"}) {
        SCOPED_TRACE(line);
        auto r = split(line, 4);
        ASSERT_FALSE(r.ok());
        EXPECT_EQ(r.error(), Error::out_of_range);
    }
}

TEST(SplitWords, EmptyWordsFillTheStoreExactly)
{
    // Empty words take only their NUL: the store must still not overflow.
    EXPECT_EQ(*split("\"\"", 1), Words{""});
    EXPECT_EQ(*split("ab \"\"", 4), (Words{"ab", ""}));
    for (auto [line, cap] : {std::pair<const char*, size_t>{"ab \"\" \"\"", 4}, {"\"\"", 0}, {"'' ''", 1},
                            {"a '' '' ''", 4}}) {
        SCOPED_TRACE(line);
        auto r = split(line, cap);
        ASSERT_FALSE(r.ok());
        EXPECT_EQ(r.error(), Error::out_of_range);
    }
}

namespace {

// xl trigger and xl sysrq: argument checks before the backend is asked (the
// fake backend keeps Backend's defaults, which answer "unsupported").
TEST_F(XlTest, TriggerAndSysrqArguments)
{
    EXPECT_EQ(xl("xl trigger web sleep"), 2);
    EXPECT_EQ(out.s, "xl: trigger 'sleep' is not supported (nmi, reset and power are)\n");
    EXPECT_EQ(xl("xl trigger web"), 2);
    EXPECT_EQ(out.s, "Usage: xl trigger <Domain> <nmi|reset|power> [VCPU]\n");
    EXPECT_EQ(xl("xl trigger web nmi x"), 2);
    EXPECT_EQ(out.s, "Usage: xl trigger <Domain> <nmi|reset|power> [VCPU]\n");
    EXPECT_EQ(xl("xl trigger nosuch nmi"), 1);
    EXPECT_EQ(out.s, "xl: domain 'nosuch' does not exist\n");
    EXPECT_EQ(xl("xl trigger web nmi"), 1);
    EXPECT_EQ(out.s, "xl: cannot send nmi to domain 1: unsupported\n");
    be.power_status = Status::unsupported;
    EXPECT_EQ(xl("xl trigger web power"), 1);
    EXPECT_EQ(out.s, "xl: domain 1 has no ACPI power button (not a PC-platform guest)\n");
    EXPECT_EQ(xl("xl sysrq web hh"), 2);
    EXPECT_EQ(out.s, "Usage: xl sysrq <Domain> <letter>\n");
    EXPECT_EQ(xl("xl sysrq web"), 2);
    EXPECT_EQ(xl("xl sysrq web h"), 1);
    EXPECT_EQ(out.s, "xl: cannot send sysrq 'h' to domain 1: unsupported\n");
}

}  // namespace

// ---- xl network-list -------------------------------------------------------

TEST_F(XlTest, NetworkList)
{
    VifRow v{};
    v.idx = 0;
    const uint8_t mac[6] = {0x00, 0x16, 0x3e, 0x12, 0xab, 0x01};
    std::memcpy(v.mac, mac, 6);
    v.state = 4;
    v.pci_slot = 8;
    strcpy(v.bridge, "xenbr0");
    strcpy(v.vifname, "vif1.0");
    v.rx_packets = 12;
    v.rx_bytes = 3456;
    v.rx_dropped = 1;
    v.tx_packets = 10;
    v.tx_bytes = 2048;
    be.vifs.push_back({1, v});
    v.idx = 1;
    v.state = 1;
    v.pci_slot = 9;
    strcpy(v.vifname, "web-lan");
    v.rx_packets = v.rx_bytes = v.rx_dropped = v.tx_packets = v.tx_bytes = 0;
    be.vifs.push_back({1, v});
    const std::string header = "Idx BE Mac Addr.         handle state PCI     bridge   vifname      RX-pkts    RX-bytes "
                               "RX-drop    TX-pkts    TX-bytes TX-drop\n";
    EXPECT_EQ(xl("xl network-list web"), 0);
    EXPECT_EQ(out.s, header +
                         "0   0  00:16:3e:12:ab:01      0     4 00:08.0 xenbr0   vif1.0            12        3456       "
                         "1         10        2048       0\n"
                         "1   0  00:16:3e:12:ab:01      1     1 00:09.0 xenbr0   web-lan            0           0       "
                         "0          0           0       0\n");
    // A domain without vifs: the header alone; several domains, one table each.
    EXPECT_EQ(xl("network-list db"), 0);
    EXPECT_EQ(out.s, header);
    EXPECT_EQ(xl("network-list db 1"), 0);
    EXPECT_EQ(out.s.find(header), 0u);
    EXPECT_NE(out.s.find(header, 1), std::string::npos);
    // Errors: no domain given, an unknown one (the others still listed).
    EXPECT_EQ(xl("network-list"), 2);
    EXPECT_EQ(out.s, "Usage: xl network-list <Domain(s)>\n");
    EXPECT_EQ(xl("network-list nosuch db"), 1);
    EXPECT_EQ(out.s, std::string(unknown_nosuch) + header);
}

namespace {

TEST_F(XlTest, BlockAttachParsesTheDiskSpec)
{
    // One spec over several words (xl's multistring), or in one word.
    EXPECT_EQ(xl("xl block-attach web format=raw, vdev=xvdb, access=ro, target=guests/d.raw"), 0) << out.s;
    EXPECT_EQ(out.s, "");
    EXPECT_EQ(be.calls.back(), "attach_disk 1 xvdb guests/d.raw");
    EXPECT_EQ(be.attached_disk.format, vmm::DiskFormat::raw);
    EXPECT_FALSE(be.attached_disk.readwrite);
    EXPECT_EQ(xl("block-attach 1 'guests/e.qcow2,qcow2,xvdc,r'"), 0) << out.s;
    EXPECT_EQ(be.calls.back(), "attach_disk 1 xvdc guests/e.qcow2");
    EXPECT_EQ(be.attached_disk.format, vmm::DiskFormat::qcow2);
    EXPECT_EQ(xl("block-attach web format=vhd vdev=xvdd access=ro target=x.vhd"), 0) << out.s;
    EXPECT_EQ(be.calls.back(), "attach_disk 1 xvdd x.vhd");

    // Bad input: usage, an unknown domain, bad specs (nothing reaches the backend).
    be.calls.clear();
    EXPECT_EQ(xl("block-attach"), 2);
    EXPECT_EQ(out.s, "Usage: xl block-attach <Domain> <disk-spec-component(s)>...\n");
    EXPECT_EQ(xl("block-attach web"), 2);
    EXPECT_EQ(xl("block-attach nosuch format=raw, vdev=xvdb, target=x"), 1);
    EXPECT_EQ(out.s, unknown_nosuch);
    EXPECT_EQ(xl("block-attach web format=floppy, vdev=xvdb, target=x"), 1);
    EXPECT_NE(out.s.find("xl: block-attach: unknown value for format: near \"floppy\""), std::string::npos) << out.s;
    EXPECT_EQ(xl("block-attach web target=x"), 1);
    EXPECT_NE(out.s.find("xl: block-attach: no vdev specified"), std::string::npos) << out.s;
    EXPECT_EQ(xl("block-attach web vdev=xvdb"), 1);
    EXPECT_NE(out.s.find("no target specified"), std::string::npos) << out.s;
    EXPECT_EQ(xl("block-attach web format=raw, vdev=xvdb, colo, target=x"), 1);
    EXPECT_NE(out.s.find("unsupported parameter"), std::string::npos) << out.s;
    EXPECT_EQ(xl("block-attach web bogus=1, vdev=xvdb, target=x"), 1);
    EXPECT_NE(out.s.find("unknown parameter"), std::string::npos) << out.s;
    EXPECT_TRUE(be.calls.empty());

    // The backend's refusals.
    be.attach_status = Status::exists;
    EXPECT_EQ(xl("block-attach web vdev=xvdb, target=x"), 1);
    EXPECT_EQ(out.s, "xl: xvdb: vdev in use\n");
    be.attach_status = Status::unsupported;
    EXPECT_EQ(xl("block-attach web vdev=xvdb, target=x"), 1);
    EXPECT_EQ(out.s, "xl: domain 1 has no PCI bus for disks (only Linux domains get the PC platform)\n");
}

TEST_F(XlTest, SnapshotCommands)
{
    EXPECT_EQ(xl("xl snapshot-create web s1"), 0) << out.s;
    EXPECT_EQ(out.s, "Snapshot 's1' of domain 1 taken\n");
    EXPECT_EQ(be.calls.back(), "snapshot create 1 s1");
    EXPECT_EQ(xl("snapshot-list 1"), 0) << out.s;
    EXPECT_EQ(out.s, "Name Creation Time\n");
    EXPECT_EQ(be.calls.back(), "snapshot list 1 ");
    EXPECT_EQ(xl("snapshot-revert web s1"), 0) << out.s;
    EXPECT_EQ(out.s, "Domain 1 reverted to snapshot 's1': restarted as domain 7\n");
    EXPECT_EQ(xl("snapshot-delete web s1"), 0) << out.s;
    EXPECT_EQ(out.s, "Snapshot 's1' of domain 1 deleted\n");
    EXPECT_EQ(be.calls.back(), "snapshot remove 1 s1");

    // Bad input: the wrong number of words, an unknown domain (nothing
    // reaches the backend); the backend's refusals print its message only.
    be.calls.clear();
    EXPECT_EQ(xl("snapshot-create web"), 2);
    EXPECT_EQ(out.s, "Usage: xl snapshot-create <Domain> <name>\n");
    EXPECT_EQ(xl("snapshot-list web s1"), 2);
    EXPECT_EQ(out.s, "Usage: xl snapshot-list <Domain>\n");
    EXPECT_EQ(xl("snapshot-revert web a b"), 2);
    EXPECT_EQ(xl("snapshot-delete nosuch s1"), 1);
    EXPECT_EQ(out.s, unknown_nosuch);
    EXPECT_TRUE(be.calls.empty());
    be.snapshot_status = Status::not_found;
    EXPECT_EQ(xl("snapshot-delete web s9"), 1);
    EXPECT_EQ(out.s, "xl: no snapshot\n");
    be.snapshot_status = Status::unsupported;
    EXPECT_EQ(xl("snapshot-create web s1"), 1);
    EXPECT_EQ(out.s, "xl: domain 1 has no disks that can have snapshots (only Linux domains have virtio disks)\n");
}

TEST_F(XlTest, BlockDetachWaitsForTheEject)
{
    be.present_disks = {51728, 51744};
    be.ejects_after_sleeps = 3;
    EXPECT_EQ(xl("xl block-detach web xvdb"), 0) << out.s;
    EXPECT_EQ(out.s, "");
    EXPECT_EQ(be.calls.back(), "detach_disk 1 51728");
    EXPECT_EQ(be.sleeps, 3);
    // Xen's device number works too; hd/sd names map to theirs.
    EXPECT_EQ(xl("block-detach web 51744"), 0) << out.s;
    EXPECT_EQ(be.calls.back(), "detach_disk 1 51744");
    EXPECT_EQ(xl("block-detach web hdb"), 1);
    EXPECT_EQ(be.calls.back(), "detach_disk 1 832");
    EXPECT_EQ(out.s, "Error: Device hdb not connected.\n");

    // Bad input.
    be.calls.clear();
    EXPECT_EQ(xl("block-detach web"), 2);
    EXPECT_EQ(out.s, "Usage: xl block-detach [-f|--force] <Domain> <DevId>\n");
    EXPECT_EQ(xl("block-detach web xvdb extra"), 2);
    EXPECT_EQ(xl("block-detach nosuch xvdb"), 1);
    EXPECT_EQ(out.s, unknown_nosuch);
    EXPECT_EQ(xl("block-detach web xvdb1"), 1);
    EXPECT_EQ(out.s, "Error: Device xvdb1 not connected.\n");
    EXPECT_EQ(xl("block-detach web floppy"), 1);
    EXPECT_EQ(out.s, "Error: Device floppy not connected.\n");
    EXPECT_TRUE(be.calls.empty());
    EXPECT_EQ(xl("block-detach web xvdb"), 1);  // already gone
    EXPECT_EQ(out.s, "Error: Device xvdb not connected.\n");
    be.detach_status = Status::unsupported;
    EXPECT_EQ(xl("block-detach web xvdb"), 1);
    EXPECT_EQ(out.s, "xl: domain 1 has no PCI bus, so no disks to detach\n");

    // A guest that never ejects: the shell gives up after the timeout.
    be.detach_status = Status::ok;
    be.present_disks = {51728};
    be.ejects_after_sleeps = -1;
    be.sleeps = 0;
    EXPECT_EQ(xl("block-detach web xvdb"), 1);
    EXPECT_EQ(out.s, "xl: block-detach: domain 1 did not eject xvdb within 10 s; it stays attached (state 5, "
                     "closing) until the guest ejects it\n");
    EXPECT_EQ(uint64_t(be.sleeps), Shell::detach_timeout_ms / 100);
    EXPECT_EQ(be.present_disks.size(), 1u);
    EXPECT_EQ(be.calls.back(), "detach_disk 1 51728");  // nothing pulled without -f
}

TEST_F(XlTest, BlockDetachForcePullsADiskTheGuestKeeps)
{
    // A guest that ejects in time: -f changes nothing.
    be.present_disks = {51728, 51744};
    be.ejects_after_sleeps = 2;
    EXPECT_EQ(xl("block-detach -f web xvdb"), 0) << out.s;
    EXPECT_EQ(out.s, "");
    EXPECT_EQ(be.calls.back(), "detach_disk 1 51728");
    // One that never ejects: asked, waited for, then pulled.
    be.ejects_after_sleeps = -1;
    be.sleeps = 0;
    be.calls.clear();
    EXPECT_EQ(xl("block-detach --force web xvdc"), 0) << out.s;
    EXPECT_EQ(out.s, "xl: block-detach: domain 1 did not eject xvdc within 10 s; pulled it out (the guest's "
                     "outstanding requests to it fail)\n");
    EXPECT_EQ(be.calls, (std::vector<std::string>{"detach_disk 1 51744", "pull_disk 1 51744"}));
    EXPECT_EQ(uint64_t(be.sleeps), Shell::detach_timeout_ms / 100);
    EXPECT_TRUE(be.present_disks.empty());

    // Bad input: -f alone, in the wrong place, twice; a pull that fails.
    be.calls.clear();
    EXPECT_EQ(xl("block-detach -f"), 2);
    EXPECT_EQ(out.s, "Usage: xl block-detach [-f|--force] <Domain> <DevId>\n");
    EXPECT_EQ(xl("block-detach -f web"), 2);
    EXPECT_EQ(xl("block-detach web xvdb -f"), 2);
    EXPECT_EQ(xl("block-detach -f -f web xvdb"), 2);
    EXPECT_TRUE(be.calls.empty());
    be.present_disks = {51728};
    be.pull_status = Status::invalid;
    EXPECT_EQ(xl("block-detach -f web xvdb"), 1);
    EXPECT_EQ(out.s, "xl: block-detach: cannot pull xvdb out of domain 1: invalid argument\n");
    EXPECT_EQ(be.present_disks.size(), 1u);
}

TEST_F(XlTest, NetworkAttachAndDetach)
{
    EXPECT_EQ(xl("xl network-attach web"), 0) << out.s;  // every default
    EXPECT_EQ(be.calls.back(), "attach_vif 1 ");
    EXPECT_FALSE(be.attached_vif.has_mac);
    EXPECT_EQ(xl("network-attach web mac=00:16:3e:00:00:42 bridge=xenbr0 vifname=web-lan"), 0) << out.s;
    EXPECT_EQ(be.calls.back(), "attach_vif 1 xenbr0");
    EXPECT_TRUE(be.attached_vif.has_mac);
    EXPECT_EQ(be.attached_vif.mac[5], 0x42);
    EXPECT_STREQ(be.attached_vif.vifname, "web-lan");

    be.calls.clear();
    EXPECT_EQ(xl("network-attach"), 2);
    EXPECT_EQ(out.s.rfind("Usage: xl network-attach <Domain>", 0), 0u) << out.s;
    EXPECT_EQ(xl("network-attach nosuch"), 1);
    EXPECT_EQ(out.s, unknown_nosuch);
    EXPECT_EQ(xl("network-attach web mac=00:16:3e:00:00"), 1);
    EXPECT_NE(out.s.find("xl: network-attach: invalid MAC address"), std::string::npos) << out.s;
    EXPECT_EQ(xl("network-attach web mac=01:00:5e:00:00:01"), 1);
    EXPECT_NE(out.s.find("multicast"), std::string::npos) << out.s;
    EXPECT_EQ(xl("network-attach web rate=10Mb/s"), 1);
    EXPECT_NE(out.s.find("unknown or unsupported vif parameter \"rate=10Mb/s\""), std::string::npos) << out.s;
    EXPECT_EQ(xl("network-attach web type=tap"), 1);
    EXPECT_NE(out.s.find("unknown vif type"), std::string::npos) << out.s;
    EXPECT_TRUE(be.calls.empty());
    be.attach_status = Status::unsupported;
    EXPECT_EQ(xl("network-attach web"), 1);
    EXPECT_EQ(out.s, "xl: domain 1 has no PCI bus for vifs (only Linux domains get the PC platform)\n");

    // Detach by devid and by MAC; the guest ejects after two sleeps.
    be.present_vifs = {0, 1};
    be.ejects_after_sleeps = 2;
    EXPECT_EQ(xl("network-detach web 0"), 0) << out.s;
    EXPECT_EQ(be.calls.back(), "detach_vif 1 0 -");
    EXPECT_EQ(xl("network-detach web 00:16:3e:00:00:42"), 0) << out.s;
    EXPECT_EQ(be.calls.back(), "detach_vif 1 0 00:16:3e:00:00:42");
    EXPECT_TRUE(be.present_vifs.empty());

    be.calls.clear();
    EXPECT_EQ(xl("network-detach web"), 2);
    EXPECT_EQ(out.s, "Usage: xl network-detach <Domain> <DevId|mac>\n");
    EXPECT_EQ(xl("network-detach web eth0"), 1);
    EXPECT_EQ(out.s, "Unknown device eth0.\n");
    EXPECT_EQ(xl("network-detach web 99"), 1);
    EXPECT_EQ(out.s, "Unknown device 99.\n");
    EXPECT_EQ(xl("network-detach web 00:16:3e:zz:00:01"), 1);
    EXPECT_EQ(out.s, "Unknown device 00:16:3e:zz:00:01.\n");
    EXPECT_TRUE(be.calls.empty());
    EXPECT_EQ(xl("network-detach web 3"), 1);  // no such vif
    EXPECT_EQ(out.s, "Unknown device 3.\n");

    be.present_vifs = {1};
    be.ejects_after_sleeps = -1;
    be.sleeps = 0;
    EXPECT_EQ(xl("network-detach web 1"), 1);
    EXPECT_EQ(out.s, "xl: network-detach: domain 1 did not eject vif 1 within 10 s; it stays attached (state 5, "
                     "closing) until the guest ejects it\n");
}

}  // namespace
