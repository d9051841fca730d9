// Guest console ring: everything is compared with a model that keeps all the
// bytes ever written (head = the first head_size, tail = the last
// capacity - head_size, the middle dropped).
//
// Inputs tried: zero-length writes, a ring that never fills, wrap-around by
// small writes, single writes larger than the tail and than the whole ring,
// many small writes against one big write of the same bytes (random split
// points, several ring shapes), a head of 0 (pure ring), a head as large as
// the ring (no tail) and larger (clamped), a capacity of 0, reader cursors
// behind the tail (in the dropped range), inside the head, at the end and
// past the end, a reader that keeps up and one that falls behind, replay
// through buffers from 1 byte up (smaller than a marker), 10 MB of boot log
// into a 64 KiB ring.
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "vmm/console/console_ring.hpp"

using vmm::console::ConsoleRead;
using vmm::console::ConsoleRing;

namespace {

std::string marker(uint64_t n)
{
    return "\n[... " + std::to_string(n) + (n == 1 ? " byte" : " bytes") + " dropped ...]\n";
}

// What replay must show after `all` was written to a ring of this shape.
std::string model_replay(const std::string& all, size_t cap, size_t head)
{
    if (head > cap) head = cap;
    size_t tail = cap - head;
    if (all.size() <= cap) return all;
    return all.substr(0, head) + marker(all.size() - cap) + all.substr(all.size() - tail);
}

std::string replay_all(const ConsoleRing& r, size_t chunk = 1 << 20)
{
    std::string out;
    std::vector<char> buf(chunk);
    ConsoleRead rd = r.replay(buf.data(), buf.size());
    for (;;) {
        out.append(buf.data(), rd.len);
        if (rd.next == r.total_written()) break;
        if (rd.len == 0) {
            ADD_FAILURE() << "replay stalled at " << rd.next << " with a " << chunk << "-byte buffer";
            break;
        }
        rd = r.read_text(rd.next, buf.data(), buf.size());
    }
    return out;
}

std::string raw(const ConsoleRing& r, uint64_t cursor, size_t cap, ConsoleRead* res = nullptr)
{
    std::vector<char> buf(cap ? cap : 1);
    ConsoleRead rd = r.read(cursor, buf.data(), cap);
    if (res) *res = rd;
    return std::string(buf.data(), rd.len);
}

std::string pattern(size_t n, uint32_t seed)
{
    std::string s(n, '\0');
    for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + (seed + i * 7 + i / 26) % 26);
    return s;
}

}  // namespace

TEST(ConsoleRing, KeepsOrderBeforeFull)
{
    char buf[64];
    ConsoleRing r(buf, sizeof buf, 16);
    r.write("SeaBIOS\n");
    r.write("");
    r.write("Linux version 6.1\n");
    EXPECT_EQ(r.total_written(), 26u);
    EXPECT_EQ(r.dropped(), 0u);
    EXPECT_EQ(r.head_len(), 16u);
    EXPECT_EQ(r.tail_start(), 16u);
    EXPECT_EQ(replay_all(r), "SeaBIOS\nLinux version 6.1\n");
    ConsoleRead rd;
    EXPECT_EQ(raw(r, 0, 100, &rd), "SeaBIOS\nLinux version 6.1\n");  // head and tail contiguous: one read
    EXPECT_EQ(rd.missed, 0u);
    EXPECT_EQ(rd.next, 26u);
}

TEST(ConsoleRing, ZeroLengthWrites)
{
    char buf[8];
    ConsoleRing r(buf, sizeof buf, 4);
    for (int i = 0; i < 100; ++i) r.write(nullptr, 0);
    EXPECT_EQ(r.total_written(), 0u);
    EXPECT_EQ(replay_all(r), "");
    r.write("0123456789");
    r.write("", 0);
    EXPECT_EQ(r.total_written(), 10u);
    EXPECT_EQ(replay_all(r), "0123" + marker(2) + "6789");
}

TEST(ConsoleRing, WrapAroundKeepsHeadAndNewest)
{
    char buf[16];
    ConsoleRing r(buf, sizeof buf, 4);
    std::string all;
    for (int i = 0; i < 10; ++i) {
        std::string piece = pattern(7, i);
        r.write(piece.data(), piece.size());
        all += piece;
        ASSERT_EQ(replay_all(r), model_replay(all, 16, 4)) << i;
    }
    EXPECT_EQ(r.total_written(), 70u);
    EXPECT_EQ(r.head_len(), 4u);
    EXPECT_EQ(r.tail_start(), 58u);
    EXPECT_EQ(r.dropped(), 54u);
    EXPECT_EQ(replay_all(r), all.substr(0, 4) + "\n[... 54 bytes dropped ...]\n" + all.substr(58));
}

TEST(ConsoleRing, OneByteDroppedSaysByte)
{
    char buf[4];
    ConsoleRing r(buf, sizeof buf, 2);
    r.write("abcde");
    EXPECT_EQ(replay_all(r), "ab\n[... 1 byte dropped ...]\nde");
}

TEST(ConsoleRing, WriteLargerThanRing)
{
    char buf[64];
    ConsoleRing r(buf, sizeof buf, 16);
    std::string big = pattern(1000, 3);
    r.write(big.data(), big.size());
    EXPECT_EQ(r.dropped(), 1000u - 64u);
    EXPECT_EQ(replay_all(r), big.substr(0, 16) + marker(936) + big.substr(952));
    // Then a write larger than the tail alone, starting mid-ring.
    std::string more = pattern(50, 9);
    r.write(more.data(), more.size());
    EXPECT_EQ(replay_all(r), model_replay(big + more, 64, 16));
}

TEST(ConsoleRing, ManySmallWritesEqualOneBigWrite)
{
    struct Shape {
        size_t cap, head;
    };
    std::mt19937 rng(42);
    for (Shape s : {Shape{64, 16}, Shape{64, 0}, Shape{64, 64}, Shape{17, 5}, Shape{1, 0}, Shape{1, 1}, Shape{100, 99}}) {
        for (size_t total : {0u, 1u, 16u, 63u, 64u, 65u, 200u, 5000u}) {
            std::string all = pattern(total, static_cast<uint32_t>(total));
            std::vector<char> b1(s.cap + 1), b2(s.cap + 1);
            ConsoleRing one(b1.data(), s.cap, s.head), many(b2.data(), s.cap, s.head);
            one.write(all.data(), all.size());
            for (size_t at = 0; at < all.size();) {
                size_t n = std::min<size_t>(rng() % 40, all.size() - at);  // some writes of 0
                many.write(all.data() + at, n);
                at += n;
            }
            std::string want = model_replay(all, s.cap, s.head);
            EXPECT_EQ(replay_all(one), want) << s.cap << "/" << s.head << " " << total;
            EXPECT_EQ(replay_all(many), want) << s.cap << "/" << s.head << " " << total;
            EXPECT_EQ(one.total_written(), total);
            EXPECT_EQ(many.dropped(), total > s.cap ? total - s.cap : 0u);
        }
    }
}

TEST(ConsoleRing, NoTailAndNoStorage)
{
    char buf[8];
    ConsoleRing all_head(buf, sizeof buf, 100);  // clamped to the capacity
    EXPECT_EQ(all_head.head_size(), 8u);
    all_head.write("0123456789abc");
    EXPECT_EQ(all_head.tail_start(), 13u);
    EXPECT_EQ(all_head.dropped(), 5u);
    EXPECT_EQ(replay_all(all_head), "01234567" + marker(5));
    ConsoleRead rd;
    EXPECT_EQ(raw(all_head, 9, 16, &rd), "");
    EXPECT_EQ(rd.missed, 4u);
    EXPECT_EQ(rd.next, 13u);

    ConsoleRing none(nullptr, 0, 0);
    none.write("lost");
    EXPECT_EQ(none.total_written(), 4u);
    EXPECT_EQ(none.dropped(), 4u);
    EXPECT_EQ(replay_all(none), marker(4));
}

TEST(ConsoleRing, RawReadCursors)
{
    char buf[16];
    ConsoleRing r(buf, sizeof buf, 4);
    std::string all = pattern(40, 1);  // head 0..4, dropped 4..28, tail 28..40
    r.write(all.data(), all.size());
    ASSERT_EQ(r.tail_start(), 28u);
    ConsoleRead rd;
    // From the start: the head, stopping before the gap.
    EXPECT_EQ(raw(r, 0, 100, &rd), all.substr(0, 4));
    EXPECT_EQ(rd.missed, 0u);
    EXPECT_EQ(rd.next, 4u);
    // At the gap: told how much is gone, then the tail.
    EXPECT_EQ(raw(r, 4, 100, &rd), all.substr(28));
    EXPECT_EQ(rd.missed, 24u);
    EXPECT_EQ(rd.next, 40u);
    // Inside the head, with a small buffer.
    EXPECT_EQ(raw(r, 2, 1, &rd), all.substr(2, 1));
    EXPECT_EQ(rd.next, 3u);
    // Behind, in the middle of the dropped range.
    EXPECT_EQ(raw(r, 20, 5, &rd), all.substr(28, 5));
    EXPECT_EQ(rd.missed, 8u);
    EXPECT_EQ(rd.next, 33u);
    // Inside the tail.
    EXPECT_EQ(raw(r, 35, 100, &rd), all.substr(35));
    EXPECT_EQ(rd.missed, 0u);
    // At the end, and past it.
    for (uint64_t c : {uint64_t(40), uint64_t(41), UINT64_MAX}) {
        EXPECT_EQ(raw(r, c, 100, &rd), "") << c;
        EXPECT_EQ(rd.missed, 0u) << c;
        EXPECT_EQ(rd.next, 40u) << c;
    }
    // A buffer of 0 bytes at a gap still moves the cursor past it.
    EXPECT_EQ(raw(r, 10, 0, &rd), "");
    EXPECT_EQ(rd.missed, 18u);
    EXPECT_EQ(rd.next, 28u);
}

TEST(ConsoleRing, LiveReaderKeepsUpOrIsToldWhatItMissed)
{
    char buf[32];
    ConsoleRing r(buf, sizeof buf, 8);
    std::string all, seen;
    uint64_t cursor = 0, missed = 0;
    // Keeps up: reads after each 10-byte write, never misses anything.
    for (int i = 0; i < 20; ++i) {
        std::string piece = pattern(10, i);
        r.write(piece.data(), piece.size());
        all += piece;
        ConsoleRead rd;
        seen += raw(r, cursor, 64, &rd);
        cursor = rd.next;
        missed += rd.missed;
    }
    EXPECT_EQ(seen, all);
    EXPECT_EQ(missed, 0u);
    // Falls behind by 100 bytes: exactly the bytes the tail lost are missed.
    std::string burst = pattern(100, 77);
    r.write(burst.data(), burst.size());
    all += burst;
    ConsoleRead rd;
    std::string got = raw(r, cursor, 64, &rd);
    EXPECT_EQ(rd.missed, 100u - 24u);
    EXPECT_EQ(got, all.substr(all.size() - 24));
    EXPECT_EQ(rd.next, r.total_written());
    // read_text puts the marker in the stream instead.
    char out[128];
    ConsoleRead t = r.read_text(cursor, out, sizeof out);
    EXPECT_EQ(std::string(out, t.len), marker(76) + all.substr(all.size() - 24));
    EXPECT_EQ(t.missed, 76u);
}

TEST(ConsoleRing, ReplayThroughSmallBuffers)
{
    char buf[64];
    ConsoleRing r(buf, sizeof buf, 16);
    std::string all = pattern(300, 5);
    r.write(all.data(), all.size());
    std::string want = model_replay(all, 64, 16);
    // Buffers at least as large as a marker always make progress.
    for (size_t chunk : {ConsoleRing::max_marker_len, size_t(49), size_t(100), size_t(1000)})
        EXPECT_EQ(replay_all(r, chunk), want) << chunk;
    // Smaller: the head comes through, then the marker does not fit.
    char small[8];
    ConsoleRead rd = r.replay(small, sizeof small);
    EXPECT_EQ(std::string(small, rd.len), all.substr(0, 8));
    rd = r.read_text(rd.next, small, sizeof small);
    EXPECT_EQ(std::string(small, rd.len), all.substr(8, 8));
    EXPECT_EQ(rd.next, 16u);
    rd = r.read_text(rd.next, small, sizeof small);
    EXPECT_EQ(rd.len, 0u);
    EXPECT_EQ(rd.next, 16u);
    EXPECT_EQ(rd.missed, 0u);
    // A marker that fits exactly, with no room for tail bytes after it.
    std::string m = marker(236);
    std::vector<char> exact(m.size());
    rd = r.read_text(16, exact.data(), exact.size());
    EXPECT_EQ(std::string(exact.data(), rd.len), m);
    EXPECT_EQ(rd.next, 252u);
    EXPECT_EQ(rd.missed, 236u);
}

TEST(ConsoleRing, MarkerLengthBound)
{
    char out[ConsoleRing::max_marker_len];
    size_t n = ConsoleRing::format_marker(UINT64_MAX, out, sizeof out);
    EXPECT_EQ(std::string(out, n), marker(UINT64_MAX));
    EXPECT_LT(n, ConsoleRing::max_marker_len);
}

TEST(ConsoleRing, TenMegabytesIntoSixtyFourKiB)
{
    std::vector<char> buf(64 << 10);
    ConsoleRing r(buf.data(), buf.size(), 16 << 10);
    std::string all;
    all.reserve(11 << 20);
    for (unsigned i = 0; all.size() < (10u << 20); ++i) {
        std::string line = "[" + std::to_string(i) + "] systemd: started unit " + std::to_string(i * 31 % 977) + "\n";
        r.write(line.data(), line.size());
        all += line;
    }
    EXPECT_EQ(r.total_written(), all.size());
    EXPECT_EQ(r.dropped(), all.size() - (64u << 10));
    std::string got = replay_all(r, 4096);
    EXPECT_EQ(got.substr(0, 16 << 10), all.substr(0, 16 << 10));  // the start of the boot, kept
    EXPECT_EQ(got, model_replay(all, 64 << 10, 16 << 10));
    EXPECT_EQ(got.size(), (64u << 10) + marker(all.size() - (64u << 10)).size());
}
