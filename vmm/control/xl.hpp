// The xl command set (Xen's xl(1) names, options and output formats where
// they apply), over an interface to the hypervisor so that host tests drive
// it with a fake. One call runs one command line.
#pragma once

#include <cstddef>
#include <cstdint>

#include "hv/abi/hypercall.hpp"
#include "lib/result.hpp"
#include "lib/str.hpp"
#include "vmm/control/xl_cfg.hpp"

namespace vmm::xl {

// One row of `xl list`.
struct DomainRow {
    char name[64];
    uint32_t id;
    uint64_t mem_mib;
    uint32_t vcpus;
    char state[7];    // Xen's six flags: r b p s c d, '-' where off
    uint64_t cpu_time_ns;
    uint32_t weight;
    uint32_t cap;
    bool exit_status_valid;  // the guest wrote the debug-exit port
    uint32_t exit_value;
    char reason[64];         // why it stopped ("" while it runs)
};

class Output;

// One row of `xl vcpu-list`.
struct VcpuRow {
    char name[64];
    uint32_t domid;
    uint32_t vcpu;
    uint32_t cpu;
    char state[4];   // "r--" running, "-b-" blocked, "--p" paused, "---" offline
    uint64_t time_ns;
    uint64_t affinity;  // CPUs 0..63
};

// One row of `xl block-list`: Xen's columns, where this hypervisor has
// them. There is no Xen PV ring: a disk is a virtio-blk PCI function, so
// evt-ch and ring-ref are -1 and BE-path says what serves it instead of a
// xenstore path.
struct DiskRow {
    uint32_t devid;     // Xen's device number of the vdev (xvda = 51712)
    uint32_t backend;   // the serving domain: 0
    uint32_t frontend;  // the guest's domain id ("handle" in xl's header)
    uint32_t state;     // XenbusState: 1 initialising (driver not up), 4 connected, 5 closing (eject asked)
    char path[128];     // "virtio-blk 00:10.0 qcow2 ro guests/disk.qcow2"
};

// One row of `xl network-list`: a vif and its bridge port's counters, seen
// from the guest (rx: frames delivered to it; tx: frames it sent).
struct VifRow {
    uint32_t idx;
    uint32_t backend;  // the backend domain: always Dom0 (0)
    uint8_t mac[6];
    uint8_t state;     // XenbusState numbers: 1 initialising, 4 connected, 5 closing (eject asked), 6 closed (broken)
    uint8_t pci_slot;  // 00:slot.0
    char bridge[16];
    char vifname[32];
    uint64_t rx_packets, rx_bytes, rx_dropped;
    uint64_t tx_packets, tx_bytes, tx_dropped;
};

// xl snapshot-create, -list, -revert, -delete.
enum class SnapshotOp : uint8_t { create, list, revert, remove };

// What xl needs from the hypervisor and Dom0's registry.
class Backend {
public:
    virtual lib::Result<hv::abi::SystemInfo> system_info() = 0;
    // The hypervisor log from sequence number `seq`: appends "Ltext\n"
    // lines to buf (NUL-terminated), returns the next sequence number.
    virtual lib::Result<uint64_t> read_log(uint64_t seq, char* buf, size_t cap) = 0;
    // Domains in ID order; returns how many were written (at most cap).
    virtual size_t list_domains(DomainRow* rows, size_t cap) = 0;
    // Guest domains (not Dom0): by name or id.
    virtual lib::Result<uint32_t> find_domain(lib::StrView name_or_id) = 0;
    virtual lib::Result<uint32_t> create_domain(lib::StrView cfg_path, const lib::StrView* overrides, size_t n,
                                                bool paused, Output& out) = 0;
    virtual hv::abi::Status destroy_domain(uint32_t id) = 0;
    virtual hv::abi::Status pause_domain(uint32_t id, bool pause) = 0;
    // weight 0 and cap ~0 keep the old value.
    virtual hv::abi::Status sched_credit(uint32_t id, uint64_t weight, uint64_t cap) = 0;
    virtual size_t list_vcpus(uint32_t id, VcpuRow* rows, size_t cap) = 0;
    // Attaches to the domain's console until Ctrl-] (interactive): replays
    // what it printed so far, then streams. Returns false if it is gone.
    virtual bool console(uint32_t id, Output& out) = 0;
    // Hard-pins one vCPU to one CPU (xl vcpu-pin); moves it if it runs.
    virtual hv::abi::Status pin_vcpu(uint32_t id, uint32_t vcpu, uint32_t cpu);
    // xl trigger <dom> nmi|reset [vcpu]; xl sysrq <dom> <key> (a break and
    // the key on the guest's serial line, as Linux's serial SysRq expects).
    virtual hv::abi::Status trigger(uint32_t id, lib::StrView what, uint32_t vcpu);
    virtual hv::abi::Status sysrq(uint32_t id, char key);
    // VM exits by reason of a guest domain (xl top); false if none.
    virtual bool exits(uint32_t id, hv::abi::ExitCounts& out);
    // Waits (xl top's sampling interval).
    virtual void sleep_ms(uint64_t ms);
    virtual uint64_t now_ns();
    // A domain's vifs (xl network-list); how many were written.
    virtual size_t list_vifs(uint32_t id, VifRow* rows, size_t cap);
    // `xl selftest`: malformed and unauthorised hypercalls, each expected to
    // be refused with a given status. Returns the number that were not.
    virtual int selftest(Output& out);
    // lsblk: the host's disks and partitions Dom0 drives (disk= targets
    // /dev/...).
    virtual void list_host_disks(Output& out);
    // A guest domain's disks (xl block-list); returns how many were written.
    virtual size_t list_disks(uint32_t id, DiskRow* rows, size_t cap);
    // PCI hotplug into a running guest (xl block-attach, block-detach,
    // network-attach, network-detach). The attaches print why they fail
    // on `out`; unsupported: the domain has no PCI bus. The detaches ask
    // the guest to eject the device (not_found: there is none) and the
    // *_present calls say when it is gone; pull_disk takes a disk out
    // without the guest (xl block-detach -f). A disk is named by Xen's
    // device number, a vif by its devid or (mac not null) its MAC.
    virtual hv::abi::Status attach_disk(uint32_t id, const DiskConfig& d, Output& out);
    virtual hv::abi::Status detach_disk(uint32_t id, uint32_t devid);
    virtual hv::abi::Status pull_disk(uint32_t id, uint32_t devid);
    virtual bool disk_present(uint32_t id, uint32_t devid);
    virtual hv::abi::Status attach_vif(uint32_t id, const VifConfig& v, Output& out, uint32_t* devid);
    virtual hv::abi::Status detach_vif(uint32_t id, uint32_t devid, const uint8_t* mac, uint32_t* found);
    virtual bool vif_present(uint32_t id, uint32_t devid);
    // Live snapshots of a guest's writable disks on host volumes: taken,
    // listed, reverted to (the domain restarts from them: not_found when no
    // disk has it, and then nothing happened) and deleted. Messages (and
    // the list) on `out`; on success of revert, *new_id is the restarted
    // domain's id.
    virtual hv::abi::Status snapshot(uint32_t id, SnapshotOp op, lib::StrView name, Output& out, uint32_t* new_id);

protected:
    ~Backend() = default;
};

class Output {
public:
    virtual void write(const char* s, size_t n) = 0;
    void print(const char* fmt, ...) __attribute__((format(printf, 2, 3)));

protected:
    ~Output() = default;
};

// Splits a command line into words: blanks separate, "double" and 'single'
// quotes group, a backslash escapes the next character. Error::invalid for
// an unterminated quote, Error::out_of_range for more than `cap` words or
// more than `store_cap` bytes. Words point into `store`.
lib::Result<size_t> split_words(lib::StrView line, char* store, size_t store_cap, const char** words, size_t cap);

class Shell {
public:
    Shell(Backend& b, Output& o) : backend_(b), out_(o) {}
    // Runs one line typed at the prompt: "xl <command> ..." or just
    // "<command> ...". Returns the command's exit status (0 = success, 1 =
    // failure, 2 = usage error).
    int run_line(lib::StrView line);
    int run(size_t argc, const char* const* argv);

    // The commands, each with its whole argv (argv[0] = the command name).
    int cmd_help(size_t argc, const char* const* argv);
    int cmd_info(size_t argc, const char* const* argv);
    int cmd_dmesg(size_t argc, const char* const* argv);
    int cmd_list(size_t argc, const char* const* argv);
    int cmd_create(size_t argc, const char* const* argv);
    int cmd_destroy(size_t argc, const char* const* argv);
    int cmd_pause(size_t argc, const char* const* argv);
    int cmd_unpause(size_t argc, const char* const* argv);
    int cmd_console(size_t argc, const char* const* argv);
    int cmd_vcpu_list(size_t argc, const char* const* argv);
    int cmd_vcpu_pin(size_t argc, const char* const* argv);
    int cmd_sched_credit(size_t argc, const char* const* argv);
    int cmd_shutdown(size_t argc, const char* const* argv);
    int cmd_selftest(size_t argc, const char* const* argv);
    int cmd_top(size_t argc, const char* const* argv);
    int cmd_trigger(size_t argc, const char* const* argv);
    int cmd_sysrq(size_t argc, const char* const* argv);
    int cmd_block_list(size_t argc, const char* const* argv);
    int cmd_lsblk(size_t argc, const char* const* argv);
    int cmd_network_list(size_t argc, const char* const* argv);
    int cmd_block_attach(size_t argc, const char* const* argv);
    int cmd_block_detach(size_t argc, const char* const* argv);
    int cmd_network_attach(size_t argc, const char* const* argv);
    int cmd_network_detach(size_t argc, const char* const* argv);
    int cmd_snapshot(size_t argc, const char* const* argv);  // snapshot-create, -list, -revert, -delete

    // How long block-detach and network-detach wait for the guest to eject
    // the device (Xen's xl waits 10 s for a backend to close).
    static constexpr uint64_t detach_timeout_ms = 10'000;

private:
    int usage(const char* command);
    // Resolves a domain argument; prints xl's message and returns false if
    // there is none.
    bool resolve(const char* arg, uint32_t& id);
    int pause_common(size_t argc, const char* const* argv, bool pause);
    // Waits until present() turns false, at most detach_timeout_ms.
    template <typename F> bool wait_gone(F present);

    Backend& backend_;
    Output& out_;
    uint64_t dmesg_cleared_seq_ = 0;  // `xl dmesg -c`: later reads start here
};

}  // namespace vmm::xl
