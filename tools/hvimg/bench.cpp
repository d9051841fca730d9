// hvimg bench (qemu-img bench's options and output) and hvimg io (a small
// qemu-io: write/read with patterns, discard, write zeroes, flush).
#include <time.h>

#include <cstdio>
#include <cstring>
#include <vector>

#include "tools/hvimg/common.hpp"

namespace hvimg {
namespace {

double now()
{
    struct timespec ts {};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return double(ts.tv_sec) + double(ts.tv_nsec) / 1e9;
}

std::vector<std::string> split_words(const std::string& s)
{
    std::vector<std::string> w;
    std::string cur;
    for (char c : s) {
        if (c == ' ' || c == '\t') {
            if (!cur.empty()) w.push_back(cur);
            cur.clear();
        } else {
            cur += c;
        }
    }
    if (!cur.empty()) w.push_back(cur);
    return w;
}

}  // namespace

int cmd_bench(Host& h, const Args& a)
{
    Opts o = parse_opts(a, "cdfoSstT", "nqwU", {"pattern", "flush-interval", "seed"}, {"no-drain", "force-share", "random"});
    if (o.positional.size() != 1) fail("Expecting one image file name");
    uint64_t count = parse_number(o.get("c", "75000"), "request count");
    uint64_t size = parse_size(o.get("s", "4096"), "buffer size");
    uint64_t step = o.has("S") ? parse_size(o.get("S"), "step size") : size;
    uint64_t offset = parse_size(o.get("o", "0"), "offset");
    uint64_t depth = parse_number(o.get("d", "64"), "queue depth");
    uint64_t flush_every = o.has("flush-interval") ? parse_number(o.get("flush-interval"), "flush interval") : 0;
    bool write = o.has("w");
    int pattern = o.has("pattern") ? int(parse_number(o.get("pattern"), "pattern")) : 0;
    bool random = o.has("random");
    uint64_t seed = o.has("seed") ? parse_number(o.get("seed"), "seed") : 1;
    if (size == 0 || depth == 0) fail("Invalid buffer size or queue depth");
    vmm::block::Format fmt = o.has("f") ? parse_format_arg(o.get("f")) : vmm::block::Format::automatic;
    Image img(h, o.positional[0], fmt, write);
    uint64_t disk = img->size();
    if (size > disk) fail("Buffer size is larger than the image");
    if (!o.has("q"))
        std::printf("Sending %llu %s requests, %llu bytes each, %llu in parallel (starting at offset %llu, step size "
                    "%llu)\n",
                    (unsigned long long)count, write ? "write" : "read", (unsigned long long)size,
                    (unsigned long long)depth, (unsigned long long)offset, (unsigned long long)step);
    std::vector<uint8_t> buf(size, uint8_t(pattern));
    double t0 = now();
    uint64_t pos = offset;
    uint64_t slots = disk / size;
    for (uint64_t i = 0; i < count; ++i) {
        uint64_t off;
        if (random) {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            off = ((seed >> 17) % slots) * size;
        } else {
            off = pos;
            pos = (pos + step) % disk;  // wraps like qemu-img bench
            if (pos + size > disk) pos = 0;
        }
        auto s = write ? img->write(off, buf.data(), size) : img->read(off, buf.data(), size);
        if (!s) fail("Request failed at offset " + std::to_string(off), s.error());
        if (write && flush_every && (i + 1) % flush_every == 0) {
            s = img->flush();
            if (!s) fail("Flush failed", s.error());
        }
    }
    double t = now() - t0;  // like qemu-img bench: the final flush is not timed
    img.close();
    std::printf("Run completed in %.3f seconds.\n", t);
    if (!o.has("q"))
        std::printf("%.0f IOPS, %.1f MB/s\n", double(count) / t, double(count) * double(size) / t / 1e6);
    return 0;
}

int cmd_io(Host& h, const Args& a)
{
    Opts o = parse_opts(a, "cf", "", {}, {});
    if (o.positional.size() != 1) fail("Expecting one image file name");
    vmm::block::Format fmt = o.has("f") ? parse_format_arg(o.get("f")) : vmm::block::Format::automatic;
    bool writes = false;
    for (auto& c : o.all("c")) {
        auto w = split_words(c);
        if (!w.empty() && w[0] != "read") writes = true;
    }
    Image img(h, o.positional[0], fmt, writes);
    for (auto& c : o.all("c")) {
        auto w = split_words(c);
        if (w.empty()) continue;
        std::string cmd = w[0];
        int pattern = -1;
        bool zero = false;
        std::vector<std::string> pos;
        for (size_t i = 1; i < w.size(); ++i) {
            if (w[i] == "-P" && i + 1 < w.size()) pattern = int(parse_number(w[++i], "pattern"));
            else if (w[i] == "-z") zero = true;
            else if (w[i] == "-u" || w[i] == "-q") continue;
            else pos.push_back(w[i]);
        }
        if (cmd == "flush") {
            if (auto s = img->flush(); !s) fail("flush failed", s.error());
            continue;
        }
        if (pos.size() != 2) fail("Command '" + c + "' needs an offset and a length");
        uint64_t off = parse_size(pos[0], "offset"), len = parse_size(pos[1], "length");
        lib::Status s;
        if (cmd == "write" && zero) {
            s = img->write_zeroes(off, len);
        } else if (cmd == "write") {
            std::vector<uint8_t> b(len, uint8_t(pattern < 0 ? 0xcd : pattern));
            s = img->write(off, b.data(), len);
        } else if (cmd == "discard") {
            s = img->discard(off, len);
        } else if (cmd == "read") {
            std::vector<uint8_t> b(len);
            s = img->read(off, b.data(), len);
            if (s && pattern >= 0)
                for (uint64_t i = 0; i < len; ++i)
                    if (b[i] != uint8_t(pattern)) {
                        std::printf("Pattern verification failed at offset %llu, %llu bytes\n",
                                    (unsigned long long)(off + i), (unsigned long long)len);
                        return 1;
                    }
        } else {
            fail("Unknown command '" + cmd + "' (write, read, discard, flush)");
        }
        if (!s) fail(cmd + " failed", s.error());
        std::printf("%s %llu/%llu bytes at offset %llu\n",
                    cmd == "read" ? "read" : cmd == "discard" ? "discard" : "wrote", (unsigned long long)len,
                    (unsigned long long)len, (unsigned long long)off);
    }
    img.close();
    return 0;
}

}  // namespace hvimg
