// Crash test: a write workload on a qcow2 image through vmm/block, killed with
// SIGKILL at random moments, many times. After each kill:
//  - `qemu-img check` must accept the image (exit 0, or 3 = leaked clusters);
//  - read back with `qemu-img convert -O raw`, every sector must hold the
//    data acknowledged before the last completed flush, or data written after
//    it (the workload is deterministic from its seed, so the checker replays
//    it; the child logs each completed flush to a side file).
//
//   block_crash_test <qemu-img> <workdir> <iterations> [time budget seconds]
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "tools/hvimg/host.hpp"
#include "vmm/block/image.hpp"
#include "vmm/block/qcow2/qcow2.hpp"

namespace {

constexpr uint64_t disk_size = 16 << 20;
constexpr uint64_t sector = 512;
constexpr uint64_t max_ops = 200000;

struct Op {
    bool flush = false, discard = false;
    uint64_t first = 0, count = 0;  // sectors
};

// The workload: the same sequence in the child and in the checker.
struct Workload {
    std::mt19937_64 rng;
    explicit Workload(uint64_t seed) : rng(seed) {}
    Op next()
    {
        Op op;
        uint64_t r = rng() % 100;
        if (r < 5) {
            op.flush = true;
            return op;
        }
        op.discard = r < 12;
        op.count = 1 + rng() % 256;  // up to 128 KiB
        op.first = rng() % (disk_size / sector - op.count);
        if (rng() % 2) op.first &= ~uint64_t(7);  // often 4K aligned
        return op;
    }
};

struct Config {
    uint32_t version, cluster_bits;
};

Config config_for(uint64_t iter)
{
    static const Config c[] = {{3, 16}, {2, 16}, {3, 12}, {3, 9}};
    return c[iter % 4];
}

[[noreturn]] void child(const std::string& img, const std::string& log, uint64_t seed)
{
    hvimg::MallocAllocator alloc;
    hvimg::PosixOpener opener;
    vmm::block::OpenOptions o;
    o.writable = true;
    o.l2_cache_tables = 4;
    auto r = vmm::block::open_image(alloc, opener, lib::StrView(img.c_str()), lib::StrView(), o);
    if (!r) _exit(10);
    vmm::block::BlockDevice* d = *r;
    int lf = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    Workload w(seed);
    std::vector<uint8_t> buf;
    for (uint32_t i = 1; i <= max_ops; ++i) {
        Op op = w.next();
        if (op.flush) {
            if (!d->flush()) _exit(11);
            char line[32];
            int n = std::snprintf(line, sizeof line, "%u\n", i);  // ops before i are durable
            if (write(lf, line, size_t(n)) != n) _exit(12);
            continue;
        }
        if (op.discard) {
            if (!d->discard(op.first * sector, op.count * sector)) _exit(13);
            continue;
        }
        buf.resize(op.count * sector);
        for (size_t k = 0; k < buf.size(); k += 4) std::memcpy(&buf[k], &i, 4);
        if (!d->write(op.first * sector, buf.data(), buf.size())) _exit(14);
    }
    (void)d->close();
    _exit(0);
}

std::string run(const std::string& cmd, int& status)
{
    std::string out;
    FILE* p = popen((cmd + " 2>&1").c_str(), "r");
    char b[512];
    while (p && fgets(b, sizeof b, p)) out += b;
    int st = p ? pclose(p) : -1;
    status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return out;
}

}  // namespace

int main(int argc, char** argv)
{
    if (argc < 4) {
        std::fprintf(stderr, "usage: %s <qemu-img> <workdir> <iterations> [seconds]\n", argv[0]);
        return 2;
    }
    std::string qimg = argv[1], dir = argv[2];
    uint64_t iterations = std::stoull(argv[3]);
    double budget = argc > 4 ? std::stod(argv[4]) : 100;
    std::string cmd = "rm -rf '" + dir + "' && mkdir -p '" + dir + "'";
    if (std::system(cmd.c_str()) != 0) return 2;
    auto start = std::chrono::steady_clock::now();
    std::mt19937_64 rng(std::random_device{}());
    uint64_t done = 0, failures = 0, leaks_seen = 0, total_acked_ops = 0;
    for (uint64_t iter = 0; iter < iterations; ++iter) {
        double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        if (elapsed > budget) break;
        Config cfg = config_for(iter);
        uint64_t seed = rng();
        std::string img = dir + "/crash.qcow2", log = dir + "/flushed.log", raw = dir + "/crash.raw";
        std::remove(log.c_str());
        {
            hvimg::MallocAllocator alloc;
            hvimg::PosixOpener opener;
            auto f = opener.create(img);
            if (!f) return 2;
            vmm::block::qcow2::CreateOptions o;
            o.size = disk_size;
            o.version = cfg.version;
            o.cluster_bits = cfg.cluster_bits;
            auto s = vmm::block::qcow2::create(alloc, **f, o);
            opener.close(*f);
            if (!s) return 2;
        }
        pid_t pid = fork();
        if (pid == 0) child(img, log, seed);
        usleep(useconds_t(10000 + rng() % 400000));
        kill(pid, SIGKILL);
        int st = 0;
        waitpid(pid, &st, 0);
        if (WIFEXITED(st) && WEXITSTATUS(st) != 0) {
            std::printf("iteration %llu: workload failed with status %d\n", (unsigned long long)iter, WEXITSTATUS(st));
            ++failures;
            continue;
        }

        int rc;
        std::string out = run("'" + qimg + "' check -f qcow2 '" + img + "'", rc);
        if (rc == 3) ++leaks_seen;
        if (rc != 0 && rc != 3) {
            std::printf("iteration %llu (seed %llu, v%u, %u-bit clusters): qemu-img check rc %d\n%s",
                        (unsigned long long)iter, (unsigned long long)seed, cfg.version, cfg.cluster_bits, rc, out.c_str());
            ++failures;
            continue;
        }
        out = run("'" + qimg + "' convert -f qcow2 -O raw '" + img + "' '" + raw + "'", rc);
        if (rc != 0) {
            std::printf("iteration %llu: qemu-img convert failed: %s", (unsigned long long)iter, out.c_str());
            ++failures;
            continue;
        }
        uint64_t flushed_before = 1;
        {
            std::ifstream in(log);
            uint64_t v;
            while (in >> v) flushed_before = v;
        }
        // Replay: the value per sector at the last completed flush; later
        // writes are checked by looking up the op whose id a sector holds.
        std::vector<uint32_t> acked(disk_size / sector, 0);
        std::vector<bool> discarded_later(disk_size / sector, false);
        std::vector<Op> ops(1);
        Workload w(seed);
        for (uint32_t i = 1; i <= max_ops && i <= flushed_before + 50000; ++i) {
            Op op = w.next();
            ops.push_back(op);
            if (op.flush) continue;
            for (uint64_t k = op.first; k < op.first + op.count; ++k) {
                if (i < flushed_before) acked[k] = op.discard ? 0 : i;
                else if (op.discard) discarded_later[k] = true;
            }
        }
        auto written_later = [&](uint32_t v, uint64_t k) {
            if (v == 0) return bool(discarded_later[k]);
            if (v < flushed_before || v >= ops.size()) return false;
            const Op& op = ops[v];
            return !op.flush && !op.discard && k >= op.first && k < op.first + op.count;
        };
        std::vector<uint8_t> data(disk_size);
        std::ifstream in(raw, std::ios::binary);
        in.read(reinterpret_cast<char*>(data.data()), std::streamsize(data.size()));
        uint64_t bad = 0;
        for (uint64_t k = 0; k < disk_size / sector; ++k) {
            uint32_t v;
            std::memcpy(&v, &data[k * sector], 4);
            bool uniform = true;
            for (uint64_t b = 4; b < sector; b += 4) uniform &= std::memcmp(&data[k * sector], &data[k * sector + b], 4) == 0;
            if (!uniform || (v != acked[k] && !written_later(v, k))) {
                if (bad++ < 3)
                    std::printf("iteration %llu (seed %llu): sector %llu holds %u, acknowledged %u\n",
                                (unsigned long long)iter, (unsigned long long)seed, (unsigned long long)k, v, acked[k]);
            }
        }
        if (bad) ++failures;
        total_acked_ops += flushed_before - 1;
        ++done;
    }
    std::printf("%llu crash iterations, %llu failures, %llu images with leaked clusters, %llu operations acknowledged "
                "by flushes in total\n",
                (unsigned long long)done, (unsigned long long)failures, (unsigned long long)leaks_seen,
                (unsigned long long)total_acked_ops);
    if (done < 10 || total_acked_ops == 0) {
        std::printf("FAIL: too few iterations ran to mean anything\n");
        return 1;
    }
    return failures ? 1 : 0;
}
