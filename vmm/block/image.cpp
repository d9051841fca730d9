#include "vmm/block/image.hpp"

#include <cstring>

#include "vmm/block/qcow2/qcow2.hpp"
#include "vmm/block/raw/raw.hpp"
#include "vmm/block/vhd/vhd.hpp"

namespace vmm::block {

lib::Result<Format> parse_format(lib::StrView s)
{
    if (s == "raw") return Format::raw;
    if (s == "qcow2") return Format::qcow2;
    if (s == "vpc" || s == "vhd") return Format::vpc;
    return lib::err(lib::Error::unsupported);
}

lib::Result<Format> probe_format(File& f)
{
    uint8_t b[8] = {};
    uint64_t size = f.size();
    if (size >= 8) {
        TRY(file_read(f, 0, b, 8));
        if (load_be32(b) == qcow2::magic) return Format::qcow2;
        if (std::memcmp(b, vhd::footer_cookie, 8) == 0) return Format::vpc;
    }
    if (size >= sizeof(vhd::Footer)) {
        TRY(file_read(f, size - sizeof(vhd::Footer), b, 8));
        if (std::memcmp(b, vhd::footer_cookie, 8) == 0) return Format::vpc;
    }
    return Format::raw;
}

lib::Result<BlockDevice*> open_image(lib::Allocator& a, FileOpener& opener, lib::StrView name,
                                     lib::StrView relative_to, const OpenOptions& opt)
{
    File* f = TRY(opener.open(name, relative_to, opt.writable));
    Format fmt = opt.format;
    if (fmt == Format::automatic) {
        auto p = probe_format(*f);
        if (!p) {
            opener.close(f);
            return lib::err(p.error());
        }
        fmt = *p;
    }
    // On success the device owns the file; on failure it is ours to close.
    // Backing names inside the image are relative to where it really is.
    name = opener.resolved_name(f);
    auto r = [&]() -> lib::Result<BlockDevice*> {
        switch (fmt) {
        case Format::raw: return TRY(RawDevice::open(a, opener, *f, opt.writable));
        case Format::qcow2: return TRY(qcow2::Device::open(a, opener, *f, name, opt));
        case Format::vpc: return TRY(vhd::Device::open(a, opener, *f, name, opt));
        default: return lib::err(lib::Error::unsupported);
        }
    }();
    if (!r) opener.close(f);
    return r;
}

}  // namespace vmm::block
