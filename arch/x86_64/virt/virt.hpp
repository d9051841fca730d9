// Hardware virtualization: which backend this machine has (AMD SVM or Intel
// VMX), enabling it on every CPU, guest-physical memory maps in the backend's
// format (NPT or EPT), and creating backend vCPUs. One binary picks the
// backend at boot.
#pragma once

#include <cstdint>

#include "hv/vcpu/hw_vcpu.hpp"
#include "lib/result.hpp"

namespace arch::virt {

enum class Vendor : uint8_t { none, svm, vmx };

struct Capabilities {
    Vendor vendor = Vendor::none;
    bool nested_paging = false;     // NPT / EPT
    bool large_pages_2m = false;    // in NPT/EPT
    bool large_pages_1g = false;
    // SVM
    bool nrip_save = false;
    bool flush_by_asid = false;
    bool vmcb_clean = false;
    bool decode_assists = false;
    bool pause_filter = false;
    bool pause_filter_threshold = false;
    uint32_t asid_count = 0;
    // VMX
    uint32_t vmcs_revision = 0;
    bool vpid = false;
    bool unrestricted_guest = false;
    bool ple = false;
    bool invept_single = false;
    bool invvpid_single = false;
    bool preemption_timer = false;
};

// BSP: detects the backend, logs what it has, enables it on this CPU.
// Refuses with a clear message (Error::unsupported) when neither is usable.
lib::Status init_bsp();
// Every other CPU, after init_bsp succeeded.
lib::Status init_ap();
const Capabilities& caps();
const char* vendor_name();

// Host code that uses SYSCALL and SWAPGS (ring-3 threads) is about to run on
// this CPU: a backend that left a guest's values in those MSRs saves them
// now. True if it did: the caller must load its own again.
bool reclaim_syscall_msrs();

// Guest-physical memory of one domain in the backend's format.
class GuestPhysMap {
public:
    static lib::Result<GuestPhysMap> create();
    lib::Status map(uint64_t gpa, uint64_t hpa, uint64_t size, bool write, bool exec, bool uncached);
    lib::Status unmap(uint64_t gpa, uint64_t size);
    // Host-physical address backing gpa, Error::not_found if unmapped.
    lib::Result<uint64_t> translate(uint64_t gpa) const;
    uint64_t root() const { return root_; }
    // Frees every table frame (the memory it mapped is the caller's).
    void release();
    // Bumped on every change that removes or narrows a mapping: vCPUs compare
    // it with the generation they last flushed for.
    uint64_t generation() const { return generation_; }

private:
    uint64_t root_ = 0;
    uint64_t generation_ = 0;
};

struct VcpuConfig {
    const GuestPhysMap* p2m;
    uint32_t vcpu_id;        // unique per host: becomes the ASID / VPID
    uint64_t io_bitmap_phys; // 12 KiB (SVM IOPM) / 8 KiB (VMX A+B): set bit = intercept; 0 = intercept all
};

// Creates a backend vCPU in the reset-like state hv/ then adjusts. Memory
// comes from the frame allocator.
lib::Result<hv::HwVcpu*> create_vcpu(const VcpuConfig& cfg);

}  // namespace arch::virt
