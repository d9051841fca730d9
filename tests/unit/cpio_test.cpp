// cpio newc reader: archives written by GNU cpio (-H newc and -H crc, names
// with and without "./", symlinks, hard links, an empty file, a 100 KiB
// binary file, a long name, two archives concatenated) read back byte for
// byte, and hand-built archives for each way an archive can be wrong.
//
// Bad inputs tried: every truncation of a small archive (each one copied to
// a buffer of exactly that size, so ASan sees any read past it), an empty
// buffer, bad magic (odc 070707, garbage), a non-hex digit in each of the 13
// fields ('g', ' ', '-', '+' where a parser might accept a sign), namesize 0,
// namesize 4097 and 0xFFFFFFFF, a name running past the end, a name without
// its NUL and with a NUL inside, filesize one past the end and 0xFFFFFFFF,
// a missing trailer, `..` components ("..", "../x", "a/../../b", "a/.."),
// an empty name on a regular file, a checksum off by one, junk (and a second
// archive on an unaligned offset) after a trailer. Also checked: absolute
// names, duplicate names (the last entry wins, as in Linux's initramfs
// unpacking, including when it changes the type), hard-link groups with and
// without data, "a//b" and "a/./b" spellings, use before validate().
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "vmm/files/cpio.hpp"

using lib::Error;
using vmm::files::CpioArchive;
using vmm::files::CpioEntry;
using vmm::files::CpioType;

namespace {

constexpr uint32_t reg = 0100644, dir = 0040755, lnk = 0120777, chr = 0020644;

// One hand-built entry; `check` of -1 means "the right sum" for 070702.
struct Ent {
    std::string name;
    uint32_t mode = reg;
    std::string data;
    uint32_t ino = 0;
    uint32_t nlink = 1;
    int64_t check = -1;
};

void put_header(std::vector<uint8_t>& a, const char* magic, const uint32_t (&f)[13])
{
    a.insert(a.end(), magic, magic + 6);
    char hex[9];
    for (uint32_t v : f) {
        snprintf(hex, sizeof hex, "%08X", v);
        a.insert(a.end(), hex, hex + 8);
    }
}

void pad4(std::vector<uint8_t>& a)
{
    while (a.size() % 4) a.push_back(0);
}

void put_entry(std::vector<uint8_t>& a, const Ent& e, bool crc)
{
    uint32_t sum = 0;
    for (unsigned char c : e.data) sum += c;
    uint32_t check = crc ? (e.check >= 0 ? uint32_t(e.check) : sum) : 0;
    uint32_t f[13] = {e.ino, e.mode, 0, 0, e.nlink, 0, uint32_t(e.data.size()), 0, 0, 0, 0,
                      uint32_t(e.name.size() + 1), check};
    put_header(a, crc ? "070702" : "070701", f);
    a.insert(a.end(), e.name.begin(), e.name.end());
    a.push_back(0);
    pad4(a);
    a.insert(a.end(), e.data.begin(), e.data.end());
    pad4(a);
}

void put_trailer(std::vector<uint8_t>& a, bool crc = false)
{
    put_entry(a, Ent{"TRAILER!!!", 0, "", 0, 1, 0}, crc);
}

std::vector<uint8_t> build(const std::vector<Ent>& ents, bool crc = false, bool trailer = true)
{
    std::vector<uint8_t> a;
    for (const Ent& e : ents) put_entry(a, e, crc);
    if (trailer) put_trailer(a, crc);
    return a;
}

std::string str(lib::StrView s) { return std::string(s.data(), s.size()); }
std::string data_of(const CpioEntry& e) { return std::string(reinterpret_cast<const char*>(e.data), e.size); }

// Validates a copy of `a` in a buffer of exactly its size.
struct Checked {
    std::vector<uint8_t> buf;
    CpioArchive arc;
    lib::Status status;
    explicit Checked(const std::vector<uint8_t>& a)
        : buf(a), arc(buf.empty() ? nullptr : buf.data(), buf.size()), status(arc.validate())
    {
    }
    Checked(const Checked&) = delete;
};

Error validate_error(const std::vector<uint8_t>& a)
{
    Checked c(a);
    return c.status.error();
}

std::vector<std::string> names(const CpioArchive& arc)
{
    std::vector<std::string> out;
    for (const CpioEntry& e : arc) out.push_back(str(e.name));
    return out;
}

// Writes the header field `field` (0 = ino ... 12 = check) of the entry at
// `entry_off` as 8 raw characters.
void set_field(std::vector<uint8_t>& a, size_t entry_off, size_t field, const char* eight)
{
    memcpy(&a[entry_off + 6 + field * 8], eight, 8);
}

// A temporary directory with files in it, archived by the real GNU cpio.
class GnuCpio : public ::testing::Test {
protected:
    std::filesystem::path root;

    void SetUp() override
    {
        ASSERT_EQ(std::system("command -v cpio >/dev/null 2>&1"), 0)
            << "GNU cpio is needed for these tests (tools/install-deps installs it)";
        std::string tmpl = (std::filesystem::temp_directory_path() / "hv-cpio-XXXXXX").string();
        ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
        root = tmpl;
    }
    void TearDown() override
    {
        if (!root.empty()) std::filesystem::remove_all(root);
    }
    void file(const std::string& rel, const std::string& content)
    {
        std::filesystem::create_directories((root / rel).parent_path());
        std::ofstream(root / rel, std::ios::binary) << content;
    }
    // Runs `find <what> | sort | cpio -o -H <format>` in the directory.
    std::vector<uint8_t> archive(const std::string& what, const char* format)
    {
        std::string cmd = "cd '" + root.string() + "' && find " + what + " | LC_ALL=C sort | cpio -o --quiet -H " +
                          format + " 2>/dev/null";
        std::vector<uint8_t> out;
        FILE* p = popen(cmd.c_str(), "r");
        if (!p) return out;
        uint8_t buf[65536];
        size_t n;
        while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.insert(out.end(), buf, buf + n);
        EXPECT_EQ(pclose(p), 0) << cmd;
        return out;
    }
    void populate()
    {
        file("boot/vmlinuz", std::string("\x7f" "ELF\0\0kernel", 12));
        file("etc/xl/guest.cfg", "name = \"guest\"\nmemory = 512\n");
        file("empty", "");
        std::string big(100000, '\0');
        uint32_t x = 12345;
        for (char& c : big) c = static_cast<char>((x = x * 1103515245 + 12345) >> 16);
        file("boot/initrd.img", big);
        file(std::string(200, 'n'), "long name");
        std::filesystem::create_symlink("vmlinuz", root / "boot/current");
        std::filesystem::create_hard_link(root / "etc/xl/guest.cfg", root / "etc/xl/alias.cfg");
    }
    void expect_populated(CpioArchive& arc)
    {
        ASSERT_TRUE(arc.validate().ok()) << arc.error_message();
        auto k = arc.find("boot/vmlinuz");
        ASSERT_TRUE(k.ok());
        EXPECT_EQ(data_of(*k), std::string("\x7f" "ELF\0\0kernel", 12));
        EXPECT_EQ(k->mode, 0100644u);
        auto big = arc.find("./boot/initrd.img");
        ASSERT_TRUE(big.ok());
        ASSERT_EQ(big->size, 100000u);
        uint32_t x = 12345;
        for (size_t i = 0; i < 100000; ++i)
            ASSERT_EQ(big->data[i], static_cast<uint8_t>((x = x * 1103515245 + 12345) >> 16)) << i;
        auto cfg = arc.find("/etc/xl/guest.cfg");
        ASSERT_TRUE(cfg.ok());
        EXPECT_EQ(data_of(*cfg), "name = \"guest\"\nmemory = 512\n");
        // Hard link: GNU cpio stores the data with one name only; both get it.
        auto alias = arc.find("etc//xl/./alias.cfg");
        ASSERT_TRUE(alias.ok());
        EXPECT_EQ(data_of(*alias), "name = \"guest\"\nmemory = 512\n");
        EXPECT_EQ(alias->nlink, 2u);
        auto empty = arc.find("empty");
        ASSERT_TRUE(empty.ok());
        EXPECT_EQ(empty->size, 0u);
        auto longname = arc.find(lib::StrView(std::string(200, 'n').c_str()));
        ASSERT_TRUE(longname.ok());
        EXPECT_EQ(data_of(*longname), "long name");
        EXPECT_EQ(arc.find("boot/current").error(), Error::unsupported);  // symlink, not followed
        EXPECT_EQ(arc.find("boot").error(), Error::unsupported);          // directory
        EXPECT_EQ(arc.find("boot/missing").error(), Error::not_found);
        EXPECT_EQ(arc.find("boot/../boot/vmlinuz").error(), Error::invalid);
        for (const CpioEntry& e : arc) {
            if (str(e.name) != "boot/current") continue;
            EXPECT_EQ(e.type, CpioType::symlink);
            EXPECT_EQ(data_of(e), "vmlinuz");
        }
    }
};

}  // namespace

TEST_F(GnuCpio, NewcWithDotSlashNames)
{
    populate();
    auto a = archive(".", "newc");
    ASSERT_GT(a.size(), 100000u);
    EXPECT_EQ(a.size() % 512, 0u);  // GNU cpio pads to its block size
    CpioArchive arc(a.data(), a.size());
    expect_populated(arc);
    // find . lists: . boot boot/current boot/initrd.img boot/vmlinuz empty etc
    // etc/xl etc/xl/alias.cfg etc/xl/guest.cfg nnn...
    std::vector<std::string> want = {"", "boot", "boot/current", "boot/initrd.img", "boot/vmlinuz", "empty", "etc",
                                     "etc/xl", "etc/xl/alias.cfg", "etc/xl/guest.cfg", std::string(200, 'n')};
    // GNU cpio may move hard-linked names until it has seen all of a group.
    auto got = names(arc);
    std::sort(got.begin(), got.end());
    EXPECT_EQ(got, want);
    EXPECT_EQ(arc.entry_count(), want.size());
    auto it = arc.begin();
    EXPECT_EQ(it->type, CpioType::directory);  // "."
    EXPECT_EQ(it->offset, 0u);
}

TEST_F(GnuCpio, CrcWithPlainNames)
{
    populate();
    auto a = archive("boot etc empty " + std::string(200, 'n'), "crc");
    ASSERT_EQ(std::string(a.begin(), a.begin() + 6), "070702");
    CpioArchive arc(a.data(), a.size());
    expect_populated(arc);
    EXPECT_EQ(names(arc).front(), "boot");
}

TEST_F(GnuCpio, CrcDetectsACorruptByte)
{
    populate();
    auto a = archive(".", "crc");
    size_t entry = 0, at = 0;
    {
        CpioArchive arc(a.data(), a.size());
        ASSERT_TRUE(arc.validate().ok());
        auto k = arc.find("boot/vmlinuz");
        ASSERT_TRUE(k.ok());
        entry = k->offset;
        at = static_cast<size_t>(k->data - a.data()) + 3;
    }
    a[at] ^= 0x01;
    CpioArchive arc(a.data(), a.size());
    EXPECT_EQ(arc.validate().error(), Error::bad_checksum);
    EXPECT_EQ(arc.error_offset(), entry);
    EXPECT_EQ(std::string(arc.error_message()),
              "cpio: entry at offset " + std::to_string(entry) + ": data checksum mismatch");
    EXPECT_EQ(arc.find("boot/vmlinuz").error(), Error::bad_checksum);
    EXPECT_TRUE(arc.begin() == arc.end());
    // The same corruption in newc (no checksum) goes unnoticed, as in the kernel.
    auto n = archive(".", "newc");
    CpioArchive plain(n.data(), n.size());
    ASSERT_TRUE(plain.validate().ok());
    size_t p = static_cast<size_t>(plain.find("boot/vmlinuz")->data - n.data()) + 3;
    n[p] ^= 0x01;
    CpioArchive plain2(n.data(), n.size());
    EXPECT_TRUE(plain2.validate().ok());
}

TEST_F(GnuCpio, ConcatenatedArchivesLastNameWins)
{
    file("etc/xl/guest.cfg", "first\n");
    file("only-first", "1");
    auto a = archive(".", "newc");
    std::filesystem::remove(root / "only-first");
    file("etc/xl/guest.cfg", "second\n");
    auto b = archive("etc", "crc");
    a.insert(a.end(), b.begin(), b.end());
    CpioArchive arc(a.data(), a.size());
    ASSERT_TRUE(arc.validate().ok()) << arc.error_message();
    EXPECT_EQ(data_of(*arc.find("etc/xl/guest.cfg")), "second\n");
    EXPECT_EQ(data_of(*arc.find("only-first")), "1");
    EXPECT_EQ(arc.entry_count(), 5u + 3u);  // . etc etc/xl etc/xl/guest.cfg only-first; etc etc/xl etc/xl/guest.cfg
}

TEST(Cpio, HandBuiltArchiveReadsBack)
{
    auto a = build({{"dir", dir}, {"dir/file", reg, "hello"}, {"dev", chr}, {"link", lnk, "dir/file"}});
    Checked c(a);
    ASSERT_TRUE(c.status.ok());
    EXPECT_EQ(c.arc.entry_count(), 4u);
    std::vector<CpioType> types;
    for (const CpioEntry& e : c.arc) types.push_back(e.type);
    EXPECT_EQ(types, (std::vector<CpioType>{CpioType::directory, CpioType::regular, CpioType::other,
                                            CpioType::symlink}));
    auto f = c.arc.find("dir/file");
    ASSERT_TRUE(f.ok());
    EXPECT_EQ(data_of(*f), "hello");
    EXPECT_EQ(f->offset, 116u);  // 110 + "dir\0" = 114, padded to 116; no data
    EXPECT_EQ(f->data - c.buf.data(), 116 + 110 + 10);  // "dir/file\0" ends at 235, padded to 236
    EXPECT_EQ(c.arc.find("dev").error(), Error::unsupported);
    EXPECT_TRUE(c.arc.validate().ok());  // a second call returns the first result
    EXPECT_EQ(std::string(c.arc.error_message()), "");
}

TEST(Cpio, LowercaseHexAccepted)
{
    auto a = build({{"f", reg, std::string(0xab, 'x')}});
    set_field(a, 0, 6, "000000ab");
    EXPECT_EQ(validate_error(a), Error::none);
}

TEST(Cpio, EveryTruncationFailsCleanly)
{
    auto a = build({{"a", reg, "12345"}, {"bb", dir}, {"c", reg, std::string(9, 'z')}});
    // Entries at 0 (110 + "a\0" -> data at 112, 5 bytes, next at 120), 120
    // ("bb\0" -> 233 -> 236, no data), 236 ("c\0" -> 348, 9 bytes -> 360),
    // trailer at 360 whose name ends at 360 + 110 + 11 = 481.
    ASSERT_EQ(a.size(), 484u);
    const size_t entry_at[] = {0, 120, 236, 360};
    for (size_t cut = 0; cut < a.size(); ++cut) {
        Checked c(std::vector<uint8_t>(a.begin(), a.begin() + cut));
        if (cut >= 481) {
            EXPECT_TRUE(c.status.ok()) << cut;  // only the trailer's padding is missing
            continue;
        }
        ASSERT_EQ(c.status.error(), Error::truncated) << cut;
        // The entry that runs past the end, or the end when a cut falls on
        // an entry boundary or in an entry's padding.
        size_t want = cut;
        for (size_t i = 0; i < 4; ++i) {
            size_t data_end = i == 0 ? 117 : i == 1 ? 233 : i == 2 ? 357 : 481;
            if (cut > entry_at[i] && cut < data_end) want = entry_at[i];
        }
        EXPECT_EQ(c.arc.error_offset(), want) << cut;
        EXPECT_TRUE(c.arc.begin() == c.arc.end());
        EXPECT_EQ(c.arc.find("a").error(), Error::truncated);
        EXPECT_EQ(c.arc.entry_count(), 0u);
    }
}

TEST(Cpio, EmptyAndTrailerOnly)
{
    Checked empty(std::vector<uint8_t>{});
    EXPECT_EQ(empty.status.error(), Error::truncated);
    EXPECT_EQ(std::string(empty.arc.error_message()), "cpio: entry at offset 0: archive ends without a TRAILER!!! entry");
    Checked only(build({}));
    ASSERT_TRUE(only.status.ok());
    EXPECT_EQ(only.arc.entry_count(), 0u);
    EXPECT_TRUE(only.arc.begin() == only.arc.end());
    EXPECT_EQ(only.arc.find("x").error(), Error::not_found);
}

TEST(Cpio, MissingTrailer)
{
    auto a = build({{"a", reg, "x"}}, false, false);
    Checked c(a);
    EXPECT_EQ(c.status.error(), Error::truncated);
    EXPECT_EQ(c.arc.error_offset(), a.size());
    EXPECT_EQ(std::string(c.arc.error_reason()), "archive ends without a TRAILER!!! entry");
}

TEST(Cpio, BadMagic)
{
    for (const char* m : {"070707", "070700", "07070x", "\0\0\0\0\0\0", "TRAILE"}) {
        auto a = build({{"a", reg, "x"}});
        memcpy(&a[0], m, 6);
        Checked c(a);
        EXPECT_EQ(c.status.error(), Error::invalid) << m;
        EXPECT_EQ(std::string(c.arc.error_message()), "cpio: entry at offset 0: bad magic (not 070701 or 070702)");
    }
    auto a = build({{"a", reg, "x"}});
    memcpy(&a[116], "070707", 6);  // the trailer's
    Checked c(a);
    EXPECT_EQ(c.status.error(), Error::invalid);
    EXPECT_EQ(c.arc.error_offset(), 116u);
}

TEST(Cpio, NonHexDigitInEveryField)
{
    for (size_t field = 0; field < 13; ++field) {
        for (char bad : {'g', ' ', '-', '+', 'x', '\0'}) {
            auto a = build({{"a", reg, "x"}});
            a[6 + field * 8 + 7 - field % 8] = static_cast<uint8_t>(bad);
            Checked c(a);
            EXPECT_EQ(c.status.error(), Error::invalid) << field << " " << bad;
            EXPECT_EQ(std::string(c.arc.error_reason()), "non-hex digit in a header field");
        }
    }
}

TEST(Cpio, NameSizeBounds)
{
    auto a = build({{"a", reg, "x"}});
    set_field(a, 0, 11, "00000000");
    EXPECT_EQ(validate_error(a), Error::invalid);
    set_field(a, 0, 11, "00001001");  // 4097
    EXPECT_EQ(validate_error(a), Error::out_of_range);
    set_field(a, 0, 11, "FFFFFFFF");
    Checked huge(a);
    EXPECT_EQ(huge.status.error(), Error::out_of_range);
    EXPECT_EQ(std::string(huge.arc.error_reason()), "name longer than 4096 bytes");
    set_field(a, 0, 11, "00000100");  // 256: within the bound, past the end
    EXPECT_EQ(validate_error(a), Error::truncated);
    // 4095 characters and the NUL: the longest name accepted.
    EXPECT_EQ(validate_error(build({{std::string(4095, 'n'), reg, "x"}})), Error::none);
    EXPECT_EQ(validate_error(build({{std::string(4096, 'n'), reg, "x"}})), Error::out_of_range);
}

TEST(Cpio, NameNulRules)
{
    auto a = build({{"abc", reg, "x"}});
    a[110 + 3] = 'd';  // the NUL
    EXPECT_EQ(validate_error(a), Error::invalid);
    a = build({{"abc", reg, "x"}});
    a[110 + 1] = 0;  // "a\0c\0"
    Checked c(a);
    EXPECT_EQ(c.status.error(), Error::invalid);
    EXPECT_EQ(std::string(c.arc.error_reason()), "NUL inside the name");
}

TEST(Cpio, FileSizeBounds)
{
    auto a = build({{"a", reg, "xyz"}});  // data at 112..115, trailer at 116, ends at 240
    ASSERT_EQ(a.size(), 240u);
    set_field(a, 0, 6, "00000080");  // 128: up to 240 exactly, swallowing the trailer
    EXPECT_EQ(validate_error(a), Error::truncated);  // then no trailer
    set_field(a, 0, 6, "00000081");  // one past the end
    Checked c(a);
    EXPECT_EQ(c.status.error(), Error::truncated);
    EXPECT_EQ(std::string(c.arc.error_reason()), "data runs past the end of the archive");
    set_field(a, 0, 6, "FFFFFFFF");
    EXPECT_EQ(validate_error(a), Error::truncated);
}

TEST(Cpio, DotDotComponentsRejected)
{
    for (const char* n : {"..", "../etc/passwd", "a/../../b", "a/..", "./..", "a/./../b"}) {
        Checked c(build({{n, reg, "x"}}));
        EXPECT_EQ(c.status.error(), Error::invalid) << n;
        EXPECT_EQ(std::string(c.arc.error_reason()), "name has a '..' component") << n;
    }
    auto dirs = build({{"ok", reg, "x"}, {"../up", dir}});
    Checked c(dirs);
    EXPECT_EQ(c.status.error(), Error::invalid);
    EXPECT_EQ(c.arc.error_offset(), 120u);  // 110 + "ok\0" -> 116, one byte -> 120
    // Names that merely contain dots are fine.
    Checked fine(build({{"a..b", reg, "1"}, {"..a", reg, "2"}, {"a/...", reg, "3"}}));
    ASSERT_TRUE(fine.status.ok());
    EXPECT_EQ(data_of(*fine.arc.find("..a")), "2");
    EXPECT_EQ(data_of(*fine.arc.find("a/...")), "3");
}

TEST(Cpio, AbsoluteAndOddSpellings)
{
    Checked c(build({{"/etc/abs", reg, "abs"}, {"./x//y/./z/", reg, "xyz"}, {".", dir}, {"/", dir}}));
    ASSERT_TRUE(c.status.ok()) << c.arc.error_message();
    EXPECT_EQ(names(c.arc), (std::vector<std::string>{"etc/abs", "x//y/./z", "", ""}));
    EXPECT_EQ(data_of(*c.arc.find("etc/abs")), "abs");
    EXPECT_EQ(data_of(*c.arc.find("/etc/abs")), "abs");
    EXPECT_EQ(data_of(*c.arc.find("x/y/z")), "xyz");
    EXPECT_EQ(data_of(*c.arc.find("//x/y//z//")), "xyz");
    EXPECT_EQ(c.arc.find("x/y").error(), Error::not_found);
    EXPECT_EQ(c.arc.find("").error(), Error::unsupported);  // the root directory
    EXPECT_TRUE(vmm::files::same_path("./a/b", "/a//b/"));
    EXPECT_FALSE(vmm::files::same_path("a/b", "a/bc"));
    EXPECT_FALSE(vmm::files::same_path("a/b", "a"));
    // An empty name is only a directory (the root).
    EXPECT_EQ(validate_error(build({{".", reg, "x"}})), Error::invalid);
    EXPECT_EQ(validate_error(build({{"", reg, "x"}})), Error::invalid);
    EXPECT_EQ(validate_error(build({{"/", lnk, "x"}})), Error::invalid);
}

TEST(Cpio, ChecksumExact)
{
    std::string data = "\xff\xff\xff\x01";  // 766
    EXPECT_EQ(validate_error(build({{"f", reg, data}}, true)), Error::none);
    EXPECT_EQ(validate_error(build({{"f", reg, data, 0, 1, 765}}, true)), Error::bad_checksum);
    EXPECT_EQ(validate_error(build({{"f", reg, data, 0, 1, 767}}, true)), Error::bad_checksum);
    // The sum wraps at 32 bits: no data, check 0 is right; 0x100000000 - 1 is not.
    EXPECT_EQ(validate_error(build({{"f", reg, "", 0, 1, 0}}, true)), Error::none);
    EXPECT_EQ(validate_error(build({{"f", reg, "", 0, 1, 0xffffffff}}, true)), Error::bad_checksum);
    // As GNU cpio writes them: check 0 on symlinks and directories; not checked.
    EXPECT_EQ(validate_error(build({{"l", lnk, "target", 0, 1, 0}, {"d", dir, "", 0, 1, 7}}, true)), Error::none);
    // 070701 ignores the check field.
    auto a = build({{"f", reg, data}});
    set_field(a, 0, 12, "12345678");
    EXPECT_EQ(validate_error(a), Error::none);
}

TEST(Cpio, DuplicateNamesLastWins)
{
    Checked c(build({{"a", reg, "old"}, {"b", reg, "b"}, {"./a", reg, "new"}}));
    ASSERT_TRUE(c.status.ok());
    EXPECT_EQ(data_of(*c.arc.find("a")), "new");
    EXPECT_EQ(c.arc.entry_count(), 3u);  // iteration shows both
    Checked to_dir(build({{"a", reg, "file"}, {"a", dir}}));
    ASSERT_TRUE(to_dir.status.ok());
    EXPECT_EQ(to_dir.arc.find("a").error(), Error::unsupported);
    Checked to_file(build({{"a", dir}, {"a", reg, "file"}}));
    EXPECT_EQ(data_of(*to_file.arc.find("a")), "file");
}

TEST(Cpio, HardLinkGroups)
{
    // GNU style: data on the last member.
    Checked gnu(build({{"x", reg, "", 7, 3}, {"y", reg, "", 7, 3}, {"z", reg, "shared", 7, 3}, {"w", reg, "w", 8, 1}}));
    ASSERT_TRUE(gnu.status.ok());
    for (const char* n : {"x", "y", "z"}) {
        auto e = gnu.arc.find(n);
        ASSERT_TRUE(e.ok()) << n;
        EXPECT_EQ(data_of(*e), "shared") << n;
        EXPECT_EQ(str(e->name), n);
    }
    // Data on the first member also reaches the later ones.
    Checked first(build({{"x", reg, "first", 7, 2}, {"y", reg, "", 7, 2}}));
    EXPECT_EQ(data_of(*first.arc.find("y")), "first");
    // A group with no data at all: empty files.
    Checked none(build({{"x", reg, "", 7, 2}, {"y", reg, "", 7, 2}}));
    EXPECT_EQ(none.arc.find("x")->size, 0u);
    // A same inode number with nlink 1 is not a link.
    Checked unlinked(build({{"x", reg, "", 7, 1}, {"y", reg, "data", 7, 1}}));
    EXPECT_EQ(unlinked.arc.find("x")->size, 0u);
    // Groups end at a trailer: the second archive's inode 7 is another file.
    auto a = build({{"x", reg, "", 7, 2}});
    auto b = build({{"y", reg, "other", 7, 2}});
    a.insert(a.end(), b.begin(), b.end());
    Checked two(a);
    ASSERT_TRUE(two.status.ok());
    EXPECT_EQ(two.arc.find("x")->size, 0u);
    EXPECT_EQ(data_of(*two.arc.find("y")), "other");
}

TEST(Cpio, AfterTheTrailer)
{
    auto a = build({{"a", reg, "x"}});
    auto zeros = a;
    zeros.insert(zeros.end(), 1000, 0);
    EXPECT_EQ(validate_error(zeros), Error::none);
    auto junk = a;
    junk.insert(junk.end(), {'j', 'u', 'n', 'k'});
    Checked j(junk);
    EXPECT_EQ(j.status.error(), Error::invalid);
    EXPECT_EQ(j.arc.error_offset(), a.size());
    EXPECT_EQ(std::string(j.arc.error_reason()), "junk after a TRAILER!!! entry");
    auto shortjunk = a;
    shortjunk.insert(shortjunk.end(), {'0', '7', '0'});
    EXPECT_EQ(validate_error(shortjunk), Error::invalid);
    // A second archive after zero padding, aligned and not.
    auto second = build({{"b", reg, "y"}});
    auto aligned = a;
    aligned.insert(aligned.end(), 8, 0);
    aligned.insert(aligned.end(), second.begin(), second.end());
    Checked al(aligned);
    ASSERT_TRUE(al.status.ok());
    EXPECT_EQ(names(al.arc), (std::vector<std::string>{"a", "b"}));
    auto unaligned = a;
    unaligned.insert(unaligned.end(), 2, 0);
    unaligned.insert(unaligned.end(), second.begin(), second.end());
    Checked un(unaligned);
    EXPECT_EQ(un.status.error(), Error::invalid);
    EXPECT_EQ(un.arc.error_offset(), a.size() + 2);
    // A second archive that is itself broken.
    auto broken = a;
    broken.insert(broken.end(), second.begin(), second.end() - 20);
    Checked br(broken);
    EXPECT_EQ(br.status.error(), Error::truncated);
    EXPECT_EQ(br.arc.error_offset(), a.size() + 116);  // its trailer
}

TEST(Cpio, UseBeforeValidate)
{
    auto a = build({{"a", reg, "x"}});
    CpioArchive arc(a.data(), a.size());
    EXPECT_FALSE(arc.validated());
    EXPECT_EQ(arc.find("a").error(), Error::invalid);
    EXPECT_TRUE(arc.begin() == arc.end());
    ASSERT_TRUE(arc.validate().ok());
    EXPECT_TRUE(arc.validated());
    EXPECT_EQ(data_of(*arc.find("a")), "x");
}
