// hvimg convert and compare: copying and comparing virtual disk contents
// through the block backends, chunk by chunk.
#include <cstdio>
#include <cstring>
#include <vector>

#include "tools/hvimg/common.hpp"
#include "tools/hvimg/create.hpp"

namespace hvimg {
namespace {

constexpr size_t chunk = 2u << 20;

bool all_zero(const uint8_t* p, size_t n)
{
    for (size_t i = 0; i < n; ++i)
        if (p[i]) return false;
    return true;
}

void progress(bool on, uint64_t done, uint64_t total)
{
    if (!on) return;
    double pct = total ? 100.0 * double(done) / double(total) : 100.0;
    std::printf("    (%.2f/100%%)\r", pct);
    std::fflush(stdout);
}

// Is [off, off+len) zero in every layer of the chain without reading data?
bool known_zero(vmm::block::BlockDevice* d, uint64_t off, uint64_t len)
{
    while (len) {
        vmm::block::BlockDevice* layer = d;
        uint64_t n = len;
        for (;;) {
            vmm::block::Extent e;
            if (!layer->extent_at(off, n, e)) return false;
            if (e.length < n) n = e.length;
            if (e.state == vmm::block::ExtentState::data) return false;
            if (e.state == vmm::block::ExtentState::zero) break;
            vmm::block::BlockDevice* b = layer->backing();
            if (!b || off >= b->size()) break;
            if (b->size() - off < n) n = b->size() - off;
            layer = b;
        }
        off += n;
        len -= n;
    }
    return true;
}

}  // namespace

int cmd_convert(Host& h, const Args& a)
{
    Opts o = parse_opts(a, "fOoBFtTl", "pqcnUW", {"target-image-opts"}, {"force-share"});
    if (o.positional.size() != 2) fail("Expecting one source and one target image name");
    if (o.has("c")) fail("Compressed output (-c) is not supported; hvimg writes uncompressed clusters");
    if (o.has("n")) fail("-n (skip target creation) is not supported");
    std::string src_path = o.positional[0], dst_path = o.positional[1];
    vmm::block::Format sfmt = o.has("f") ? parse_format_arg(o.get("f")) : vmm::block::Format::automatic;
    vmm::block::Format dfmt = parse_format_arg(o.get("O", "raw"));
    bool show = o.has("p") && !o.has("q");
    if (src_path == dst_path) fail("Source and target are the same file");

    Image src(h, src_path, sfmt, false);
    CreateSpec spec = parse_create_spec(dfmt, o.all("o"), o.get("B"), o.get("F"));
    if (!spec.backing.empty()) fail("Converting onto a backing file (-B) is not supported");
    spec.size = src->size();
    spec.has_size = true;
    create_image(h, dst_path, spec, false);
    Image dst(h, dst_path, dfmt, true);
    if (dst->size() < src->size()) fail("Target is smaller than the source");

    std::vector<uint8_t> buf(chunk);
    uint64_t total = src->size();
    progress(show, 0, total);
    for (uint64_t off = 0; off < total;) {
        size_t n = total - off < chunk ? size_t(total - off) : chunk;
        if (!known_zero(src.dev(), off, n)) {
            auto s = src->read(off, buf.data(), n);
            if (!s) fail("Error while reading '" + src_path + "' at offset " + std::to_string(off), s.error());
            // Fresh targets read as zeros: keep them sparse.
            if (!all_zero(buf.data(), n)) {
                s = dst->write(off, buf.data(), n);
                if (!s) fail("Error while writing '" + dst_path + "' at offset " + std::to_string(off), s.error());
            }
        }
        off += n;
        progress(show, off, total);
    }
    if (show) std::printf("\n");
    dst.close();
    return 0;
}

int cmd_compare(Host& h, const Args& a)
{
    try {
        Opts o = parse_opts(a, "fF", "pqsU", {}, {"force-share"});
        if (o.positional.size() != 2) fail("Expecting two image file names");
        vmm::block::Format f1 = o.has("f") ? parse_format_arg(o.get("f")) : vmm::block::Format::automatic;
        vmm::block::Format f2 = o.has("F") ? parse_format_arg(o.get("F")) : f1;
        Image a1(h, o.positional[0], f1, false), a2(h, o.positional[1], f2, false);
        bool strict = o.has("s"), quiet = o.has("q"), show = o.has("p") && !quiet;
        uint64_t s1 = a1->size(), s2 = a2->size();
        uint64_t common = s1 < s2 ? s1 : s2, total = s1 > s2 ? s1 : s2;
        if (s1 != s2) {
            if (strict) {
                if (!quiet) std::printf("Strict mode: Image size mismatch!\n");
                return 1;
            }
            if (!quiet) std::printf("Warning: Image size mismatch!\n");
        }
        std::vector<uint8_t> b1(chunk), b2(chunk);
        for (uint64_t off = 0; off < total;) {
            size_t n = total - off < chunk ? size_t(total - off) : chunk;
            if (off < common && common - off < n) n = size_t(common - off);
            bool z1 = off >= s1 || known_zero(a1.dev(), off, n), z2 = off >= s2 || known_zero(a2.dev(), off, n);
            if (!(z1 && z2)) {
                if (z1) std::memset(b1.data(), 0, n);
                else if (auto s = a1->read(off, b1.data(), n); !s) fail("Error while reading " + o.positional[0], s.error());
                if (z2) std::memset(b2.data(), 0, n);
                else if (auto s = a2->read(off, b2.data(), n); !s) fail("Error while reading " + o.positional[1], s.error());
                if (std::memcmp(b1.data(), b2.data(), n) != 0) {
                    size_t i = 0;
                    while (b1[i] == b2[i]) ++i;
                    if (!quiet) std::printf("Content mismatch at offset %llu!\n", (unsigned long long)(off + i / 512 * 512));
                    return 1;
                }
            }
            off += n;
            progress(show, off, total);
        }
        if (show) std::printf("\n");
        if (!quiet) std::printf("Images are identical.\n");
        return 0;
    } catch (Failure& f) {
        f.status = 2;  // qemu-img compare: 2 means an error, not a difference
        throw;
    }
}

}  // namespace hvimg
