// hvimg create [-f fmt] [-o options] [-b backing_file [-F backing_fmt]] [-u] filename [size]
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <map>

#include "tools/hvimg/common.hpp"
#include "tools/hvimg/create.hpp"
#include "vmm/block/qcow2/qcow2.hpp"
#include "vmm/block/raw/raw.hpp"
#include "vmm/block/vhd/vhd.hpp"

namespace hvimg {

namespace {

std::map<std::string, std::string> split_options(const std::vector<std::string>& list)
{
    std::map<std::string, std::string> m;
    for (const std::string& s : list) {
        size_t pos = 0;
        while (pos <= s.size()) {
            size_t comma = s.find(',', pos);
            std::string item = s.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
            if (!item.empty()) {
                auto eq = item.find('=');
                if (eq == std::string::npos) m[item] = "on";
                else m[item.substr(0, eq)] = item.substr(eq + 1);
            }
            if (comma == std::string::npos) break;
            pos = comma + 1;
        }
    }
    return m;
}

void random_id(uint8_t* id)
{
    int fd = ::open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd < 0 || read(fd, id, 16) != 16) {
        for (int i = 0; i < 16; ++i) id[i] = uint8_t(time(nullptr) >> (i % 4 * 8)) ^ uint8_t(i * 37);
    }
    if (fd >= 0) ::close(fd);
    id[6] = uint8_t((id[6] & 0x0f) | 0x40);  // RFC 4122 version 4
    id[8] = uint8_t((id[8] & 0x3f) | 0x80);
}

}  // namespace

CreateSpec parse_create_spec(vmm::block::Format fmt, const std::vector<std::string>& o_options,
                             const std::string& backing, const std::string& backing_fmt)
{
    CreateSpec c;
    c.format = fmt;
    c.backing = backing;
    c.backing_fmt = backing_fmt;
    for (auto& [k, v] : split_options(o_options)) {
        if (k == "size") c.size = parse_size(v, "image size"), c.has_size = true;
        else if (k == "backing_file") c.backing = v;
        else if (k == "backing_fmt") c.backing_fmt = v;
        else if (fmt == vmm::block::Format::qcow2 && k == "cluster_size") {
            uint64_t cs = parse_size(v, "cluster size");
            if (cs < 512 || cs > (2u << 20) || (cs & (cs - 1)))
                fail("Cluster size must be a power of two between 512 and 2048k");
            c.cluster_bits = uint32_t(__builtin_ctzll(cs));
        } else if (fmt == vmm::block::Format::qcow2 && k == "compat") {
            if (v == "0.10" || v == "v2") c.version = 2;
            else if (v == "1.1" || v == "v3") c.version = 3;
            else fail("Invalid compatibility level: '" + v + "'");
        } else if (fmt == vmm::block::Format::qcow2 && k == "lazy_refcounts") {
            c.lazy_refcounts = v == "on" || v == "true";
        } else if (fmt == vmm::block::Format::qcow2 && k == "refcount_bits") {
            uint64_t b = parse_number(v, "refcount bits");
            if (b == 0 || b > 64 || (b & (b - 1))) fail("Refcount width must be a power of two and may not exceed 64 bits");
            c.refcount_order = uint32_t(__builtin_ctzll(b));
        } else if (fmt == vmm::block::Format::vpc && k == "subformat") {
            if (v == "dynamic") c.vhd_type = vmm::block::vhd::disk_dynamic;
            else if (v == "fixed") c.vhd_type = vmm::block::vhd::disk_fixed;
            else fail("Invalid subformat '" + v + "' (fixed or dynamic)");
        } else if (fmt == vmm::block::Format::vpc && k == "block_size") {
            uint64_t bs = parse_size(v, "block size");
            if (bs < 512 || bs > (256u << 20) || (bs & (bs - 1))) fail("Invalid block size '" + v + "'");
            c.block_size = uint32_t(bs);
        } else if (k == "preallocation" && v == "off") {
        } else {
            fail("Invalid parameter '" + k + "' for format " + vmm::block::format_name(fmt));
        }
    }
    if (c.version == 2 && c.refcount_order != 4) fail("Different refcount widths than 16 bits require compatibility level 1.1 or above");
    if (c.version == 2 && c.lazy_refcounts) fail("Lazy refcounts only supported with compatibility level 1.1 and above");
    if (!c.backing.empty() && fmt == vmm::block::Format::raw) fail("Backing file not supported for file format 'raw'");
    if (!c.backing_fmt.empty()) parse_format_arg(c.backing_fmt);
    if (fmt == vmm::block::Format::vpc && !c.backing.empty() && !c.backing_fmt.empty() && c.backing_fmt != "vpc")
        fail("A VHD differencing disk needs a VHD parent");
    return c;
}

void create_image(Host& h, const std::string& path, const CreateSpec& spec, bool unsafe)
{
    using namespace vmm::block;
    CreateSpec c = spec;
    // Everything that can fail is checked before the target is touched.
    BlockDevice* parent = nullptr;
    struct CloseParent {
        BlockDevice*& p;
        ~CloseParent()
        {
            if (p) (void)p->close();
        }
    } closer{parent};
    if (!c.backing.empty() && (!unsafe || !c.has_size || c.format == Format::vpc)) {
        OpenOptions o;
        o.format = c.backing_fmt.empty() ? Format::automatic : parse_format_arg(c.backing_fmt);
        auto r = open_image(h.alloc, h.opener, lib::StrView(c.backing.c_str()), lib::StrView(path.c_str()), o);
        if (!r) fail("Could not open backing file '" + c.backing + "'", r.error());
        parent = *r;
        if (!c.has_size) c.size = parent->size(), c.has_size = true;
        if (c.format == Format::vpc && std::strcmp(parent->format_name(), "vpc") != 0)
            fail("A VHD differencing disk needs a VHD parent");
    }
    if (!c.has_size) fail("Image creation needs a size parameter");
    if (c.format == Format::qcow2 && c.size % 512) c.size = (c.size + 511) / 512 * 512;

    auto fr = h.opener.create(path);
    if (!fr) fail("Could not create '" + path + "'", fr.error());
    File* file = *fr;
    lib::Status s;
    switch (c.format) {
    case Format::raw: s = raw_create(*file, c.size); break;
    case Format::qcow2: {
        qcow2::CreateOptions o;
        o.size = c.size;
        o.version = c.version;
        o.cluster_bits = c.cluster_bits;
        o.refcount_order = c.refcount_order;
        o.lazy_refcounts = c.lazy_refcounts;
        o.backing_file = lib::StrView(c.backing.c_str());
        o.backing_format = lib::StrView(c.backing_fmt.c_str());
        s = qcow2::create(h.alloc, *file, o);
        break;
    }
    case Format::vpc: {
        vhd::CreateOptions o;
        o.size = c.size;
        o.type = parent ? vhd::disk_differencing : c.vhd_type;
        o.block_size = c.block_size;
        uint64_t now = uint64_t(time(nullptr));
        o.timestamp = now > vhd::timestamp_epoch_unix ? uint32_t(now - vhd::timestamp_epoch_unix) : 0;
        random_id(o.unique_id);
        o.parent = parent;
        o.parent_name = lib::StrView(c.backing.c_str());
        s = vhd::create(h.alloc, *file, o);
        break;
    }
    default: s = lib::Error::unsupported; break;
    }
    h.opener.close(file);
    if (!s) {
        ::unlink(path.c_str());
        fail("Could not create '" + path + "'", s.error());
    }
}

std::string describe_create(const std::string& path, const CreateSpec& c)
{
    std::string s = "Formatting '" + path + "', fmt=" + vmm::block::format_name(c.format);
    if (c.format == vmm::block::Format::qcow2) {
        s += " cluster_size=" + std::to_string(1u << c.cluster_bits);
        s += std::string(" compat=") + (c.version == 2 ? "0.10" : "1.1");
    }
    s += " size=" + std::to_string(c.size);
    if (!c.backing.empty()) s += " backing_file=" + c.backing;
    if (!c.backing_fmt.empty()) s += " backing_fmt=" + c.backing_fmt;
    return s;
}

int cmd_create(Host& h, const Args& a)
{
    Opts o = parse_opts(a, "foBFb", "uq", {}, {});
    if (o.positional.empty()) fail("Expecting image file name");
    if (o.positional.size() > 2) fail("Unexpected argument: " + o.positional[2]);
    vmm::block::Format fmt = parse_format_arg(o.get("f", "raw"));
    CreateSpec c = parse_create_spec(fmt, o.all("o"), o.get("b"), o.get("F"));
    if (o.positional.size() == 2) {
        c.size = parse_size(o.positional[1], "image size");
        c.has_size = true;
    }
    create_image(h, o.positional[0], c, o.has("u"));
    if (!o.has("q")) {
        CreateSpec shown = c;
        if (!shown.has_size) {
            Image img(h, o.positional[0], fmt, false, false);
            shown.size = img->size();
        }
        std::printf("%s\n", describe_create(o.positional[0], shown).c_str());
    }
    return 0;
}

}  // namespace hvimg
