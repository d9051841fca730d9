// Power-cut simulation for the qcow2 metadata ordering. The image lives in a
// MemFile that keeps what a disk would keep: the state as of the last flush
// plus any subset of the writes issued since. The workload is cut at a random
// file operation (also in the middle of a flush or an allocation), a random
// subset of the unflushed writes survives, and the survivor must
//  - show no corruption under check() (leaked clusters are allowed),
//  - hold, in every sector, either the value acknowledged before the last
//    completed flush or a value written after it,
//  - open read-write again (v3 dirty bit: leaks repaired) without corruption.
#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <random>
#include <set>
#include <vector>

#include "tools/hvimg/host.hpp"
#include "vmm/block/image.hpp"
#include "vmm/block/qcow2/qcow2.hpp"

namespace {

using namespace vmm::block;

class MemFile final : public File {
public:
    std::vector<uint8_t> durable, current;
    struct Op {
        bool resize;
        uint64_t off;
        std::vector<uint8_t> data;
    };
    std::vector<Op> pending;
    uint64_t ops = 0, crash_at = ~0ull;
    bool crashed = false;
    std::vector<uint8_t> survivor;
    std::mt19937_64* rng = nullptr;
    bool rw = true;

    void crash()
    {
        crashed = true;
        survivor = durable;
        for (auto& op : pending) {
            if ((*rng)() % 2) continue;  // this write never reached the disk
            apply(survivor, op);
        }
    }
    static void apply(std::vector<uint8_t>& img, const Op& op)
    {
        if (op.resize) {
            img.resize(op.off);
            return;
        }
        if (img.size() < op.off + op.data.size()) img.resize(op.off + op.data.size());
        std::memcpy(img.data() + op.off, op.data.data(), op.data.size());
    }
    void submit(FileRequest& r) override
    {
        lib::Status s;
        if (!crashed && ++ops >= crash_at) crash();
        if (crashed) {
            s = lib::Error::io;
        } else {
            switch (r.op) {
            case FileOp::read:
                if (r.offset + r.len > current.size()) s = lib::Error::truncated;
                else std::memcpy(r.buf, current.data() + r.offset, r.len);
                break;
            case FileOp::write: {
                Op op{false, r.offset, std::vector<uint8_t>(static_cast<uint8_t*>(r.buf), static_cast<uint8_t*>(r.buf) + r.len)};
                apply(current, op);
                pending.push_back(std::move(op));
                break;
            }
            case FileOp::resize: {
                Op op{true, r.offset, {}};
                apply(current, op);
                pending.push_back(std::move(op));
                break;
            }
            case FileOp::flush:
                durable = current;
                pending.clear();
                break;
            }
        }
        if (r.done) r.done(r, s);
    }
    void wait() override {}
    uint64_t size() const override { return current.size(); }
    bool writable() const override { return rw; }
};

class OneFileOpener final : public FileOpener {
public:
    MemFile* file;
    explicit OneFileOpener(MemFile* f) : file(f) {}
    lib::Result<File*> open(lib::StrView, lib::StrView, bool) override { return static_cast<File*>(file); }
    void close(File*) override {}
    lib::StrView resolved_name(File*) override { return "mem"; }
};

constexpr uint64_t disk_size = 2 << 20;
constexpr uint64_t sector = 512;

struct Config {
    uint32_t version, cluster_bits;
    bool snapshots = false;
};

void run_trial(const Config& cfg, uint64_t seed)
{
    std::mt19937_64 rng(seed);
    hvimg::MallocAllocator alloc;
    MemFile f;
    f.rng = &rng;
    {
        qcow2::CreateOptions o;
        o.size = disk_size;
        o.version = cfg.version;
        o.cluster_bits = cfg.cluster_bits;
        ASSERT_TRUE(qcow2::create(alloc, f, o).ok());
    }
    // Per sector: the write id acknowledged at the last completed flush, and
    // the ids written since (any of which may have reached the disk).
    std::vector<uint32_t> acked(disk_size / sector, 0), now(disk_size / sector, 0);
    std::vector<std::set<uint32_t>> since(disk_size / sector);
    OneFileOpener opener(&f);
    f.ops = 0;
    f.crash_at = 20 + rng() % 3000;
    OpenOptions oo;
    oo.writable = true;
    oo.l2_cache_tables = 2;
    auto r = open_image(alloc, opener, "mem", "", oo);
    ASSERT_TRUE(r.ok());
    BlockDevice* d = *r;
    std::vector<uint8_t> buf;
    int snapshot_ops = 0;
    for (uint32_t id = 1; !f.crashed; ++id) {
        uint64_t first = rng() % (disk_size / sector);
        uint64_t count = 1 + rng() % 64;
        if (first + count > disk_size / sector) count = disk_size / sector - first;
        int op = int(rng() % 100);
        lib::Status s;
        if (cfg.snapshots && op < 3) {
            // Internal snapshot create/delete: active data unchanged.
            auto* q = static_cast<qcow2::Device*>(d);
            if (q->snapshot_count() < 3 && op < 2) s = q->snapshot_create(("s" + std::to_string(id)).c_str(), id, 0);
            else if (q->snapshot_count()) s = q->snapshot_delete(q->snapshot(0).id);
            snapshot_ops++;
        } else if (op < 70) {
            buf.assign(count * sector, 0);
            for (uint64_t i = 0; i < count * sector; i += 4) std::memcpy(&buf[i], &id, 4);
            for (uint64_t k = first; k < first + count; ++k) since[k].insert(id);  // maybe on disk
            s = d->write(first * sector, buf.data(), buf.size());
            if (s) for (uint64_t k = first; k < first + count; ++k) now[k] = id;
        } else if (op < 90) {
            for (uint64_t k = first; k < first + count; ++k) since[k].insert(0);
            s = d->discard(first * sector, count * sector);
            if (s) for (uint64_t k = first; k < first + count; ++k) now[k] = 0;
        } else {
            s = d->flush();
            if (s) {
                acked = now;
                for (auto& x : since) x.clear();
            }
        }
        if (!s) {
            ASSERT_TRUE(f.crashed) << "only the cut may fail an operation";
        }
    }
    (void)d->close();  // fails: the "disk" is gone

    // Boot again on what survived.
    MemFile g;
    g.durable = g.current = f.survivor;
    g.rw = false;
    OneFileOpener o2(&g);
    OpenOptions ro;
    auto r2 = open_image(alloc, o2, "mem", "", ro);
    ASSERT_TRUE(r2.ok()) << "seed " << seed << ": " << lib::error_name(r2.error());
    auto* q = static_cast<qcow2::Device*>(*r2);
    qcow2::CheckResult cr;
    ASSERT_TRUE(q->check(cr, qcow2::Device::Repair::none).ok());
    // Refcounts below the references would be real damage: never. COPIED
    // flag mismatches: only where a snapshot operation was cut.
    EXPECT_EQ(cr.corruptions - cr.copied_flag_errors, 0u) << "seed " << seed;
    if (snapshot_ops == 0) {
        EXPECT_EQ(cr.copied_flag_errors, 0u) << "seed " << seed;
    }
    std::vector<uint8_t> got(disk_size);
    ASSERT_TRUE(q->read(0, got.data(), got.size()).ok()) << "seed " << seed;
    for (uint64_t k = 0; k < disk_size / sector; ++k) {
        uint32_t v;
        std::memcpy(&v, &got[k * sector], 4);
        bool fine = v == acked[k] || since[k].count(v);
        ASSERT_TRUE(fine) << "seed " << seed << " sector " << k << " holds write " << v << ", acknowledged "
                          << acked[k];
        for (uint64_t i = 4; i < sector; i += 4) ASSERT_EQ(std::memcmp(&got[k * sector], &got[k * sector + i], 4), 0);
    }
    ASSERT_TRUE(q->close().ok());

    // Read-write open of the crashed (dirty) image repairs leaks.
    g.rw = true;
    oo.l2_cache_tables = 16;
    auto r3 = open_image(alloc, o2, "mem", "", oo);
    ASSERT_TRUE(r3.ok()) << "seed " << seed;
    qcow2::CheckResult c3;
    ASSERT_TRUE(static_cast<qcow2::Device*>(*r3)->check(c3, qcow2::Device::Repair::none).ok());
    EXPECT_EQ(c3.corruptions - c3.copied_flag_errors, 0u) << "seed " << seed;
    // v3 carries the dirty bit, so the read-write open repaired the leaks;
    // v2 has no dirty bit and keeps them until `check -r leaks`.
    if (cfg.version == 3) {
        EXPECT_EQ(c3.leaks, 0u) << "seed " << seed;
    }
    ASSERT_TRUE((*r3)->close().ok());
    EXPECT_EQ(alloc.live_bytes(), 0u);
}

}  // namespace

TEST(Qcow2PowerCut, V3With4KClusters)
{
    for (uint64_t seed = 1; seed <= 40; ++seed) run_trial({3, 12}, seed);
}

TEST(Qcow2PowerCut, V2With64KClusters)
{
    for (uint64_t seed = 100; seed <= 115; ++seed) run_trial({2, 16}, seed);
}

TEST(Qcow2PowerCut, InternalSnapshotCreateAndDelete)
{
    for (uint64_t seed = 300; seed <= 330; ++seed) run_trial({3, 12, true}, seed);
    for (uint64_t seed = 400; seed <= 415; ++seed) run_trial({2, 16, true}, seed);
}

TEST(Qcow2PowerCut, V3With512ByteClustersAndRefcountTableGrowth)
{
    for (uint64_t seed = 200; seed <= 230; ++seed) run_trial({3, 9}, seed);
}
