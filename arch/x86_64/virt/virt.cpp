#include "arch/x86_64/virt/virt.hpp"

#include <cstring>

#include "arch/x86_64/layout.hpp"
#include "arch/x86_64/page_table.hpp"
#include "arch/x86_64/svm/svm.hpp"
#include "hv/mem/frames.hpp"
#include "lib/log.hpp"

#if __has_include("arch/x86_64/vmx/vmx.hpp")
#include "arch/x86_64/vmx/vmx.hpp"
#define HV_HAVE_VMX 1
#else
#define HV_HAVE_VMX 0
#endif

namespace arch::virt {
namespace {

Capabilities capabilities;

struct P2mEnv {
    lib::Result<uint64_t> alloc_table()
    {
        uint64_t pa = TRY(hv::mem::alloc_frames({}));
        memset(phys_to_virt<void>(pa), 0, page_size);
        return pa;
    }
    uint64_t* table(uint64_t phys) { return phys_to_virt<uint64_t>(phys); }
};

// Runs f on a page-table view of `root` in the backend's format.
template <typename F> auto with_table(uint64_t root, F f)
{
    P2mEnv env;
    bool gb = capabilities.large_pages_1g;
    if (capabilities.vendor == Vendor::vmx) {
        PageTable<P2mEnv, EptFormat> t(env, root, true, gb);
        return f(t);
    }
    PageTable<P2mEnv, NptFormat> t(env, root, true, gb);
    return f(t);
}

}  // namespace

const Capabilities& caps() { return capabilities; }

const char* vendor_name()
{
    switch (capabilities.vendor) {
    case Vendor::svm: return "AMD SVM";
    case Vendor::vmx: return "Intel VMX";
    case Vendor::none: break;
    }
    return "none";
}

bool reclaim_syscall_msrs()
{
    // SVM: VMRUN's VMLOAD/VMSAVE pair puts the host's values back at every exit.
    return capabilities.vendor == Vendor::vmx && vmx::release_lazy_msrs();
}

lib::Status init_bsp()
{
    lib::Status s = lib::err(lib::Error::unsupported);
    if (svm::present()) {
        s = svm::detect(capabilities);
        if (s.ok()) s = svm::enable_this_cpu();
    }
#if HV_HAVE_VMX
    else if (vmx::present()) {
        s = vmx::detect(capabilities);
        if (s.ok()) s = vmx::enable_this_cpu();
    }
#endif
    else {
        LOG_ERROR("virt: this CPU has neither AMD SVM nor Intel VMX: guests cannot run");
        return s;
    }
    if (!s.ok()) {
        capabilities.vendor = Vendor::none;
        return s;
    }
    const Capabilities& c = capabilities;
    if (c.vendor == Vendor::svm)
        LOG_INFO("virt: AMD SVM with nested paging, %u ASIDs; NRIP save %s, flush by ASID %s, decode assists %s, "
                 "pause filter %s%s",
                 c.asid_count, c.nrip_save ? "yes" : "no (decoding instructions)", c.flush_by_asid ? "yes" : "no",
                 c.decode_assists ? "yes" : "no", c.pause_filter ? "yes" : "no",
                 c.pause_filter_threshold ? " with threshold" : "");
    else
        LOG_INFO("virt: Intel VMX (VMCS revision %#x) with EPT; VPID %s, unrestricted guest %s, PLE %s",
                 c.vmcs_revision, c.vpid ? "yes" : "no", c.unrestricted_guest ? "yes" : "no", c.ple ? "yes" : "no");
    return {};
}

lib::Status init_ap()
{
    switch (capabilities.vendor) {
    case Vendor::svm: return svm::enable_this_cpu();
#if HV_HAVE_VMX
    case Vendor::vmx: return vmx::enable_this_cpu();
#endif
    default: return lib::err(lib::Error::unsupported);
    }
}

lib::Result<GuestPhysMap> GuestPhysMap::create()
{
    if (capabilities.vendor == Vendor::none) return lib::err(lib::Error::unsupported);
    GuestPhysMap m;
    m.root_ = TRY(P2mEnv{}.alloc_table());
    return m;
}

lib::Status GuestPhysMap::map(uint64_t gpa, uint64_t hpa, uint64_t size, bool write, bool exec, bool uncached)
{
    MapAttr a{.write = write, .exec = exec, .uncached = uncached};
    return with_table(root_, [&](auto& t) { return t.map(gpa, hpa, size, a); });
}

lib::Status GuestPhysMap::unmap(uint64_t gpa, uint64_t size)
{
    ++generation_;
    return with_table(root_, [&](auto& t) { return t.unmap(gpa, size); });
}

lib::Result<uint64_t> GuestPhysMap::translate(uint64_t gpa) const
{
    return with_table(root_, [&](auto& t) -> lib::Result<uint64_t> {
        auto r = t.translate(gpa);
        if (!r.ok()) return lib::err(r.error());
        return r.value().phys;
    });
}

void GuestPhysMap::release()
{
    if (!root_) return;
    with_table(root_, [&](auto& t) {
        t.for_each_table([](uint64_t phys) { (void)hv::mem::free_frames(phys, 1); });
        return 0;
    });
    root_ = 0;
}

lib::Result<hv::HwVcpu*> create_vcpu(const VcpuConfig& cfg)
{
    switch (capabilities.vendor) {
    case Vendor::svm: return svm::create_vcpu(cfg);
#if HV_HAVE_VMX
    case Vendor::vmx: return vmx::create_vcpu(cfg);
#endif
    default: return lib::err(lib::Error::unsupported);
    }
}

}  // namespace arch::virt
