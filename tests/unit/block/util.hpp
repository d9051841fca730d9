// Helpers for the block backend tests: a temporary directory with real image
// files, the host opener and allocator, and one-line create/open calls.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "tools/hvimg/host.hpp"
#include "vmm/block/image.hpp"
#include "vmm/block/qcow2/qcow2.hpp"
#include "vmm/block/raw/raw.hpp"
#include "vmm/block/vhd/vhd.hpp"

namespace blocktest {

using vmm::block::BlockDevice;
using vmm::block::Format;

struct TempDir {
    std::string path;
    TempDir()
    {
        const char* t = std::getenv("TMPDIR");
        std::string tmpl = std::string(t && *t ? t : "/tmp") + "/hv-block-XXXXXX";
        std::vector<char> b(tmpl.begin(), tmpl.end());
        b.push_back(0);
        path = mkdtemp(b.data());
    }
    ~TempDir() { std::system(("rm -rf '" + path + "'").c_str()); }
    std::string operator/(const std::string& n) const { return path + "/" + n; }
};

class BlockTest : public ::testing::Test {
protected:
    TempDir dir;
    hvimg::MallocAllocator alloc;
    hvimg::PosixOpener opener;

    void TearDown() override { EXPECT_EQ(alloc.live_bytes(), 0u) << "block code leaked memory"; }

    std::string p(const std::string& n) { return dir / n; }

    void create_qcow2(const std::string& name, const vmm::block::qcow2::CreateOptions& o)
    {
        auto f = opener.create(p(name));
        ASSERT_TRUE(f.ok());
        auto s = vmm::block::qcow2::create(alloc, **f, o);
        opener.close(*f);
        ASSERT_TRUE(s.ok()) << lib::error_name(s.error());
    }
    void create_qcow2(const std::string& name, uint64_t size, uint32_t version = 3, uint32_t cluster_bits = 16,
                      const std::string& backing = "", const std::string& backing_fmt = "")
    {
        vmm::block::qcow2::CreateOptions o;
        o.size = size;
        o.version = version;
        o.cluster_bits = cluster_bits;
        o.backing_file = lib::StrView(backing.c_str());
        o.backing_format = lib::StrView(backing_fmt.c_str());
        create_qcow2(name, o);
    }
    void create_raw(const std::string& name, uint64_t size)
    {
        auto f = opener.create(p(name));
        ASSERT_TRUE(f.ok());
        ASSERT_TRUE(vmm::block::raw_create(**f, size).ok());
        opener.close(*f);
    }

    lib::Result<BlockDevice*> open(const std::string& name, bool writable, Format fmt = Format::automatic)
    {
        vmm::block::OpenOptions o;
        o.writable = writable;
        o.format = fmt;
        return vmm::block::open_image(alloc, opener, lib::StrView(p(name).c_str()), lib::StrView(), o);
    }
    BlockDevice* must_open(const std::string& name, bool writable, Format fmt = Format::automatic)
    {
        auto r = open(name, writable, fmt);
        EXPECT_TRUE(r.ok()) << name << ": " << lib::error_name(r.error());
        return r.ok() ? *r : nullptr;
    }
    lib::Error open_error(const std::string& name, bool writable = false, Format fmt = Format::automatic)
    {
        auto r = open(name, writable, fmt);
        if (r.ok()) {
            (void)(*r)->close();
            return lib::Error::none;
        }
        return r.error();
    }

    // Raw file surgery for hostile-image tests.
    std::vector<uint8_t> read_file(const std::string& name)
    {
        std::ifstream in(p(name), std::ios::binary);
        return std::vector<uint8_t>((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    }
    void write_file(const std::string& name, const std::vector<uint8_t>& data)
    {
        std::ofstream out(p(name), std::ios::binary | std::ios::trunc);
        out.write(reinterpret_cast<const char*>(data.data()), std::streamsize(data.size()));
    }
    void poke_be(const std::string& name, uint64_t off, uint64_t v, int bytes)
    {
        auto d = read_file(name);
        if (d.size() < off + bytes) d.resize(off + bytes);
        for (int i = 0; i < bytes; ++i) d[off + i] = uint8_t(v >> (8 * (bytes - 1 - i)));
        write_file(name, d);
    }
    uint64_t peek_be(const std::string& name, uint64_t off, int bytes)
    {
        auto d = read_file(name);
        uint64_t v = 0;
        for (int i = 0; i < bytes; ++i) v = (v << 8) | d.at(off + i);
        return v;
    }
};

inline std::vector<uint8_t> pattern(size_t n, uint8_t seed)
{
    std::vector<uint8_t> v(n);
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; ++i) {
        x = x * 1103515245u + 12345u;
        v[i] = uint8_t(x >> 16);
    }
    return v;
}

inline void expect_bytes(BlockDevice* d, uint64_t off, const std::vector<uint8_t>& want, const char* what = "")
{
    std::vector<uint8_t> got(want.size());
    auto s = d->read(off, got.data(), got.size());
    ASSERT_TRUE(s.ok()) << what << ": " << lib::error_name(s.error());
    ASSERT_TRUE(got == want) << what << ": contents differ at offset " << off;
}

inline void expect_fill(BlockDevice* d, uint64_t off, size_t n, uint8_t v, const char* what = "")
{
    expect_bytes(d, off, std::vector<uint8_t>(n, v), what);
}

}  // namespace blocktest
