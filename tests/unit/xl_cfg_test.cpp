// xl.cfg parsing (vmm/control/xl_cfg): the example configurations of Xen's
// xl.cfg(5), xl-disk-configuration(5), xl-network-configuration(5) and
// xl(1) and of Xen's tools/examples, the disk and vif cases of xl's
// check-xl-disk-parse and check-xl-vif-parse, then malformed input, each
// with its exact outcome (values, or error line, key and message).
//
// Bad input tried: unterminated "double" and 'single' strings (also ending
// in a backslash), an unterminated list, a missing '=', a key with no '='
// at the end of the input, keys with bad characters (mem-ory, 1abc,
// foo.bar, memory:, UTF-8, a NUL), a statement starting with '=', with a
// string or with '+', two statements on one line, bare words as values,
// an empty value (end of line, ';', end of input, value on the next line),
// decimal/hex/octal overflow, numbers past a key's range, negative numbers
// (bare and quoted), 512M, 1.5, 08, bad escapes (\q, \x4, \xZZ, \x00, \0,
// \400, backslash-space), nested lists for known keys, a list where one
// value is expected and the reverse, list syntax errors ([,], ['a' 'b'],
// [1,,2], [foo], [1;]), values one byte too long for every bounded field,
// '+=' overflowing a field, 9 disks, 9 vifs, 5 serial devices, 65 cpus
// entries, 40 unknown keys (warning list overflow), bad MACs (bad digit,
// five groups, '-' separators, one-digit groups, multicast, all zeros),
// bad CPU lists (3-1, ^, 1000, ^all, empty, a-b, 0-, nodes:0, node:1,
// ^0, huge), CRLF line ends, a lone CR, NUL bytes in a string, a comment,
// between tokens and in a key, non-ASCII bytes outside strings, no
// trailing newline (also after a comment), bad disk specifications
// (unknown format/access/devtype/backendtype/specification/parameter/
// prefix, respecified format and vdev, too many positionals, no vdev, no
// target, COLO), bad vif parameters, contradicting type and builder, bad
// UUIDs, bad actions, '+=' on numbers and enums, overrides with syntax
// errors, bare words and bad values.
#include <gtest/gtest.h>

#include <cstring>
#include <initializer_list>
#include <set>
#include <string>
#include <vector>

#include "vmm/control/xl_cfg.hpp"

using namespace vmm;

namespace {

lib::StrView sv(const std::string& s) { return {s.data(), s.size()}; }

std::string message(const CfgMessage& m)
{
    char buf[512];
    format_cfg_message(m, buf, sizeof buf);
    return buf;
}

CpuSet cpu_set(std::initializer_list<unsigned> cpus)
{
    CpuSet s;
    for (unsigned c : cpus) s.set(c);
    return s;
}

CpuSet cpu_range(unsigned first, unsigned last)
{
    CpuSet s;
    for (unsigned c = first; c <= last; ++c) s.set(c);
    return s;
}

CpuSet all_cpus()
{
    CpuSet s;
    s.set_all();
    return s;
}

class XlCfgTest : public ::testing::Test {
protected:
    DomainConfig cfg;
    CfgDiagnostics diag;

    lib::Status parse(const std::string& text) { return parse_xl_cfg(sv(text), cfg, diag); }

    lib::Status parse_with(const std::string& text, const std::vector<std::string>& overrides)
    {
        std::vector<lib::StrView> views;
        for (const auto& o : overrides) views.push_back(sv(o));
        return parse_xl_cfg(sv(text), views.data(), views.size(), cfg, diag);
    }

    std::string error() const { return message(diag.error); }

    std::vector<std::string> warnings() const
    {
        std::vector<std::string> out;
        for (size_t i = 0; i < diag.warning_count; ++i) out.push_back(message(diag.warnings[i]));
        return out;
    }

    void expect_ok(const std::string& text)
    {
        SCOPED_TRACE(text);
        lib::Status s = parse(text);
        ASSERT_TRUE(s.ok()) << error();
        EXPECT_FALSE(diag.has_error);
    }

    void expect_error(const std::string& text, lib::Error code, const std::string& msg)
    {
        SCOPED_TRACE(text);
        lib::Status s = parse(text);
        ASSERT_FALSE(s.ok());
        EXPECT_EQ(s.error(), code) << lib::error_name(s.error());
        EXPECT_TRUE(diag.has_error);
        EXPECT_EQ(error(), msg);
    }

    // One disk specification as the only item of disk=.
    lib::Status parse_disk(const std::string& spec) { return parse("disk = [ \"" + spec + "\" ]\n"); }

    lib::Status validate() { return validate_domain_config(cfg, diag); }
};

// ------------------------------------------------------------ basics

TEST_F(XlCfgTest, EmptyInputGivesXlDefaults)
{
    for (const char* text : {"", "\n\n\n", "# only a comment\n", "   \t\n;;\n ; \n", "# no newline at the end"}) {
        expect_ok(text);
        EXPECT_STREQ(cfg.name, "");
        EXPECT_FALSE(cfg.has_uuid);
        EXPECT_EQ(cfg.type, DomainType::pv);
        EXPECT_EQ(cfg.memory_mib, 32u);
        EXPECT_EQ(cfg.maxmem_mib, 32u);
        EXPECT_EQ(cfg.vcpus, 1u);
        EXPECT_EQ(cfg.maxvcpus, 1u);
        EXPECT_FALSE(cfg.cpus.pinned);
        EXPECT_EQ(cfg.cpu_weight, 256u);
        EXPECT_EQ(cfg.cap, 0u);
        EXPECT_STREQ(cfg.kernel, "");
        EXPECT_STREQ(cfg.kernel_cmdline, "");
        EXPECT_EQ(cfg.on_poweroff, ShutdownAction::destroy);
        EXPECT_EQ(cfg.on_reboot, ShutdownAction::restart);
        EXPECT_EQ(cfg.on_watchdog, ShutdownAction::destroy);
        EXPECT_EQ(cfg.on_crash, ShutdownAction::destroy);
        EXPECT_EQ(cfg.on_soft_reset, ShutdownAction::soft_reset);
        EXPECT_EQ(cfg.disk_count, 0u);
        EXPECT_EQ(cfg.vif_count, 0u);
        EXPECT_EQ(cfg.serial_count, 0u);
        EXPECT_FALSE(cfg.pause_exits);
        EXPECT_TRUE(cfg.directed_yield);
        for (size_t k = 0; k < size_t(XlKey::count); ++k) EXPECT_FALSE(cfg.given(XlKey(k)));
        EXPECT_EQ(diag.warning_count, 0u);
    }
}

TEST_F(XlCfgTest, ParseResetsAPreviousConfig)
{
    expect_ok("name = \"a\"\nmemory = 512\ndisk = [ 'a.img,raw,xvda' ]\n");
    expect_ok("vcpus = 2\n");
    EXPECT_STREQ(cfg.name, "");
    EXPECT_EQ(cfg.memory_mib, 32u);
    EXPECT_EQ(cfg.disk_count, 0u);
    EXPECT_EQ(cfg.vcpus, 2u);
}

// xl.cfg(5) SYNTAX: pairs separated by a newline or by a semicolon.
TEST_F(XlCfgTest, ManPageSeparatorExamples)
{
    for (const char* text : {"name=\"h0\"\ntype=\"hvm\"\n", "name=\"h0\"; type=\"hvm\""}) {
        expect_ok(text);
        EXPECT_STREQ(cfg.name, "h0");
        EXPECT_EQ(cfg.type, DomainType::hvm);
        EXPECT_EQ(cfg.origin[size_t(XlKey::type)].line, text[9] == '\n' ? 2u : 1u);
    }
}

// Xen's tools/examples/xlexample.pvhlinux.
TEST_F(XlCfgTest, XenExamplePvhLinux)
{
    expect_ok(R"cfg(# Example PVH Linux guest: a minimal configuration.

# A PVH rather than PV guest
type = "pvh"

name = "example.pvhlinux"

#uuid = "XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX"

kernel = "/boot/vmlinuz"

#ramdisk = "/boot/initrd.gz"

extra = "root=/dev/xvda1"

# MB
memory = 512

vcpus = 4

vif = [ '' ]

disk = [ '/dev/zvol/tank/guest-volume,raw,xvda,rw' ]
)cfg");
    EXPECT_EQ(cfg.type, DomainType::pvh);
    EXPECT_STREQ(cfg.name, "example.pvhlinux");
    EXPECT_FALSE(cfg.has_uuid);
    EXPECT_STREQ(cfg.kernel, "/boot/vmlinuz");
    EXPECT_STREQ(cfg.ramdisk, "");
    EXPECT_STREQ(cfg.extra, "root=/dev/xvda1");
    EXPECT_STREQ(cfg.kernel_cmdline, "root=/dev/xvda1");
    EXPECT_EQ(cfg.memory_mib, 512u);
    EXPECT_EQ(cfg.maxmem_mib, 512u);
    EXPECT_EQ(cfg.vcpus, 4u);
    EXPECT_EQ(cfg.maxvcpus, 4u);
    ASSERT_EQ(cfg.vif_count, 1u);
    EXPECT_FALSE(cfg.vifs[0].has_mac);
    EXPECT_STREQ(cfg.vifs[0].bridge, "");
    ASSERT_EQ(cfg.disk_count, 1u);
    EXPECT_STREQ(cfg.disks[0].target, "/dev/zvol/tank/guest-volume");
    EXPECT_EQ(cfg.disks[0].format, DiskFormat::raw);
    EXPECT_STREQ(cfg.disks[0].vdev, "xvda");
    EXPECT_TRUE(cfg.disks[0].readwrite);
    EXPECT_EQ(diag.warning_count, 0u);
    EXPECT_EQ(cfg.origin[size_t(XlKey::memory)].line, 17u);
    EXPECT_TRUE(validate().ok()) << error();
}

// Xen's tools/examples/xlexample.pvlinux: no type, so PV.
TEST_F(XlCfgTest, XenExamplePvLinux)
{
    expect_ok(R"cfg(name = "example.pvlinux"
kernel = "/boot/vmlinuz"
extra = "root=/dev/xvda1"
memory = 128
#maxmem = 512
vcpus = 2
vif = [ '' ]
disk = [ '/dev/vg/guest-volume,raw,xvda,rw' ]
)cfg");
    EXPECT_EQ(cfg.type, DomainType::pv);
    EXPECT_FALSE(cfg.given(XlKey::type));
    EXPECT_EQ(cfg.memory_mib, 128u);
    EXPECT_EQ(cfg.maxmem_mib, 128u);
    EXPECT_EQ(cfg.vcpus, 2u);
    EXPECT_STREQ(cfg.disks[0].target, "/dev/vg/guest-volume");
    EXPECT_TRUE(validate().ok()) << error();
}

// Xen's tools/examples/xlexample.hvm: sdl is not a key this parser knows.
TEST_F(XlCfgTest, XenExampleHvm)
{
    expect_ok(R"cfg(type = "hvm"
name = "example.hvm"
#viridian = 1
memory = 128
vcpus = 2
vif = [ '' ]
disk = [ '/dev/vg/guest-volume,raw,xvda,rw' ]
sdl = 1
#vnc = 1
)cfg");
    EXPECT_EQ(cfg.type, DomainType::hvm);
    EXPECT_STREQ(cfg.name, "example.hvm");
    EXPECT_EQ(warnings(), std::vector<std::string>{"config line 8: sdl: unknown key, ignored"});
    EXPECT_TRUE(validate().ok()) << error();  // an HVM guest boots firmware, no kernel needed
}

TEST_F(XlCfgTest, CrLfLineEnds)
{
    expect_ok("name = \"win\"\r\nmemory = 128\r\n# comment\r\ndisk = [ 'a.img,raw,xvda',\r\n  'b.img,qcow2,xvdb' ]\r\n"
              "vcpus = 2 # trailing comment\r\n");
    EXPECT_STREQ(cfg.name, "win");
    EXPECT_EQ(cfg.memory_mib, 128u);
    ASSERT_EQ(cfg.disk_count, 2u);
    EXPECT_STREQ(cfg.disks[1].target, "b.img");
    EXPECT_EQ(cfg.disks[1].format, DiskFormat::qcow2);
    EXPECT_EQ(cfg.vcpus, 2u);
    EXPECT_EQ(cfg.origin[size_t(XlKey::vcpus)].line, 6u);
}

TEST_F(XlCfgTest, NoTrailingNewline)
{
    expect_ok("memory = 64");
    EXPECT_EQ(cfg.memory_mib, 64u);
    expect_ok("memory = 64 # the end");
    EXPECT_EQ(cfg.memory_mib, 64u);
    expect_ok("name = 'x';");
    EXPECT_STREQ(cfg.name, "x");
    expect_ok("disk = [ 'a,raw,xvda' ]");
    EXPECT_EQ(cfg.disk_count, 1u);
}

TEST_F(XlCfgTest, StringEscapes)
{
    expect_ok(R"cfg(extra = "a\tb\nc \\ \" \' \x41\x7e \101\7 \a\b\f\r\v"
cmdline = 'it\'s "quoted"'
)cfg");
    EXPECT_STREQ(cfg.extra, "a\tb\nc \\ \" ' A~ A\a \a\b\f\r\v");
    EXPECT_STREQ(cfg.cmdline, "it's \"quoted\"");
    expect_ok("root = \"\\1010\"\n");  // at most three octal digits
    EXPECT_STREQ(cfg.root, "A0");
    expect_ok("root = '\\377'\n");
    EXPECT_STREQ(cfg.root, "\xff");
}

TEST_F(XlCfgTest, Numbers)
{
    expect_ok("memory = 0x200\nvcpus = 0X4\n");
    EXPECT_EQ(cfg.memory_mib, 512u);
    EXPECT_EQ(cfg.vcpus, 4u);
    expect_ok("memory = 010\n");  // octal, as xl.cfg(5) says
    EXPECT_EQ(cfg.memory_mib, 8u);
    expect_ok("memory = \"1024\"\ncap = '0x32'\n");  // strings are atoms too
    EXPECT_EQ(cfg.memory_mib, 1024u);
    EXPECT_EQ(cfg.cap, 50u);
    expect_ok("memory = 0\n");
    EXPECT_EQ(cfg.memory_mib, 0u);
    expect_ok("memory = 17592186044415\n");  // the most MiB whose byte count fits 64 bits
    EXPECT_EQ(cfg.memory_mib, 17592186044415u);
    expect_ok("name = 42\n");  // and numbers are strings
    EXPECT_STREQ(cfg.name, "42");
}

TEST_F(XlCfgTest, ListsSpanLinesWithCommentsAndTrailingComma)
{
    expect_ok(R"cfg(disk = [
    # system disk
    'a.img,raw,xvda',   # comment after an item

    'b.img,raw,xvdb'
    ,
    'c.img,raw,xvdc',
]
vif = [ ]
serial = [
]
)cfg");
    ASSERT_EQ(cfg.disk_count, 3u);
    EXPECT_STREQ(cfg.disks[2].vdev, "xvdc");
    EXPECT_EQ(cfg.vif_count, 0u);
    EXPECT_EQ(cfg.serial_count, 0u);
    EXPECT_TRUE(cfg.given(XlKey::vif));
}

// xl.cfg(5): "Lists can be heterogeneous and nested" (its vnuma example).
// Nested lists are valid syntax; no key handled here takes one.
TEST_F(XlCfgTest, NestedListsAreSyntaxForUnknownKeys)
{
    expect_ok("vnuma = [ [\"pnode=0\",\"size=512\",\"vcpus=0-4\",\"vdistances=10,20\"] ]\n"
              "irqs = [ 1, [2, [3]], '4', ]\n");
    EXPECT_EQ(warnings(), (std::vector<std::string>{"config line 1: vnuma: unknown key, ignored",
                                                    "config line 2: irqs: unknown key, ignored"}));
}

TEST_F(XlCfgTest, UnknownKeysWarnedWithTheirLines)
{
    expect_ok("name = \"g\"\n\nvnc = 1\nsdl = 0\n_private = 'x'\nMemory = 512\nbootloader = \"pygrub\"\n");
    EXPECT_EQ(warnings(), (std::vector<std::string>{
                              "config line 3: vnc: unknown key, ignored",
                              "config line 4: sdl: unknown key, ignored",
                              "config line 5: _private: unknown key, ignored",
                              "config line 6: Memory: unknown key, ignored (keys are case-sensitive: \"memory\"?)",
                              "config line 7: bootloader: unknown key, ignored",
                          }));
    EXPECT_EQ(cfg.memory_mib, 32u);
}

TEST_F(XlCfgTest, WarningListIsBounded)
{
    std::string text;
    for (int i = 0; i < 40; ++i) text += "unknown_" + std::to_string(i) + " = 1\n";
    expect_ok(text);
    EXPECT_EQ(diag.warning_count, CfgDiagnostics::max_warnings);
    EXPECT_EQ(diag.warnings_dropped, 8u);
    EXPECT_EQ(message(diag.warnings[31]), "config line 32: unknown_31: unknown key, ignored");
}

TEST_F(XlCfgTest, LongKeyIsCutVisiblyInMessages)
{
    expect_ok("a_very_long_key_name_that_nobody_knows = 1\n");
    EXPECT_EQ(warnings(),
              std::vector<std::string>{"config line 1: a_very_long_key_name_that_no...: unknown key, ignored"});
}

// ---------------------------------------------------- repeated keys, +=

TEST_F(XlCfgTest, LastSettingWinsWithAWarning)
{
    expect_ok("memory = 256\nvcpus = 2\nmemory = 512\nmemory = 1024\n");
    EXPECT_EQ(cfg.memory_mib, 1024u);
    EXPECT_EQ(cfg.origin[size_t(XlKey::memory)].line, 4u);
    EXPECT_EQ(warnings(), (std::vector<std::string>{
                              "config line 1: memory: set again on line 4; the last setting wins",
                              "config line 3: memory: set again on line 4; the last setting wins",
                          }));
}

// As in xl, a setting that a later one replaces is never interpreted.
TEST_F(XlCfgTest, ReplacedBadValueIsNotAnError)
{
    expect_ok("memory = \"lots\"\nmemory = 512\n");
    EXPECT_EQ(cfg.memory_mib, 512u);
    EXPECT_EQ(warnings(),
              std::vector<std::string>{"config line 1: memory: set again on line 2; the last setting wins"});
}

TEST_F(XlCfgTest, PlusEqualsAppendsToTextAndDeviceLists)
{
    expect_ok("extra = \"console=hvc0\"\nextra += \" quiet\"\nkernel += \"/boot/vmlinuz\"\n"
              "disk = [ 'a.img,raw,xvda' ]\ndisk += [ 'b.img,raw,xvdb' ]\nvif += [ 'bridge=xenbr1' ]\n");
    EXPECT_STREQ(cfg.extra, "console=hvc0 quiet");
    EXPECT_STREQ(cfg.kernel_cmdline, "console=hvc0 quiet");
    EXPECT_STREQ(cfg.kernel, "/boot/vmlinuz");
    ASSERT_EQ(cfg.disk_count, 2u);
    EXPECT_STREQ(cfg.disks[1].vdev, "xvdb");
    ASSERT_EQ(cfg.vif_count, 1u);
    EXPECT_STREQ(cfg.vifs[0].bridge, "xenbr1");
    EXPECT_EQ(diag.warning_count, 0u);

    // A later '=' replaces everything before it, '+=' included.
    expect_ok("extra = \"a\"\nextra += \"b\"\nextra = \"c\"\nextra += \"d\"\n");
    EXPECT_STREQ(cfg.extra, "cd");
    EXPECT_EQ(warnings(), (std::vector<std::string>{
                              "config line 1: extra: set again on line 3; the last setting wins",
                              "config line 2: extra: set again on line 3; the last setting wins",
                          }));
}

TEST_F(XlCfgTest, PlusEqualsErrors)
{
    const char* only = "'+=' is not supported for this key (only for text keys and the disk and vif lists)";
    expect_error("memory = 5\nmemory += 5\n", lib::Error::invalid, std::string("config line 2: memory: ") + only);
    expect_error("on_crash += \"restart\"\n", lib::Error::invalid, std::string("config line 1: on_crash: ") + only);
    expect_error("cpus += \"1\"\n", lib::Error::invalid, std::string("config line 1: cpus: ") + only);
    expect_error("extra = \"x\"\nextra += [\"y\"]\n", lib::Error::invalid,
                 "config line 2: extra: expected a single value, got a [list]");
    expect_error("disk += \"a,raw,xvda\"\n", lib::Error::invalid,
                 "config line 1: disk: expected a [list] of disk specifications, got \"a,raw,xvda\"");
    expect_error("name = \"" + std::string(60, 'n') + "\"\nname += \"0123456789\"\n", lib::Error::out_of_range,
                 "config line 2: name: value too long after '+=' (70 bytes, at most 63)");
}

// ------------------------------------------------------- syntax errors

TEST_F(XlCfgTest, UnterminatedString)
{
    expect_error("name = \"abc\nmemory = 5\n", lib::Error::invalid,
                 "config line 1: name: unterminated string: no closing \" on this line");
    expect_error("memory = 5\nkernel = '/boot/vmlinuz", lib::Error::invalid,
                 "config line 2: kernel: unterminated string: no closing ' on this line");
    expect_error("extra = \"ends in a backslash\\\n\"\n", lib::Error::invalid,
                 "config line 1: extra: unterminated string: no closing \" on this line");
    expect_error("extra = \"x\\", lib::Error::invalid,
                 "config line 1: extra: unterminated string: no closing \" on this line");
    expect_error("disk = [ 'a,raw,xvda',\n 'b,raw,xvdb ]\n", lib::Error::invalid,
                 "config line 2: disk: unterminated string: no closing ' on this line");
}

TEST_F(XlCfgTest, UnterminatedList)
{
    expect_error("name = \"g\"\ndisk = [ 'a,raw,xvda',\n  'b,raw,xvdb'\n\nmemory = 5\n", lib::Error::invalid,
                 "config line 5: disk: expected ',' or ']' in the list, got memory");
    expect_error("name = \"g\"\ndisk = [ 'a,raw,xvda',\n  'b,raw,xvdb',\n", lib::Error::invalid,
                 "config line 2: disk: unterminated list: the '[' has no ']' before the end");
    expect_error("x = [[1]", lib::Error::invalid,
                 "config line 1: x: unterminated list: the '[' has no ']' before the end");
}

TEST_F(XlCfgTest, MissingEqualsAndBadKeys)
{
    const std::string rule = ": a key is a letter or '_' followed by letters, digits and '_'";
    expect_error("memory 512\n", lib::Error::invalid, "config line 1: memory: expected '=' after the key, got 512");
    expect_error("vcpus = 1\nmemory", lib::Error::invalid,
                 "config line 2: memory: expected '=' after the key, got the end of the input");
    expect_error("memory\n= 512\n", lib::Error::invalid,
                 "config line 1: memory: expected '=' after the key, got the end of the line");
    expect_error("mem-ory = 1\n", lib::Error::invalid,
                 "config line 1: invalid key \"mem-ory\"" + rule);
    expect_error("\n1abc = 2\n", lib::Error::invalid,
                 "config line 2: invalid key \"1abc\"" + rule);
    expect_error("foo.bar = 3\n", lib::Error::invalid,
                 "config line 1: invalid key \"foo.bar\"" + rule);
    expect_error("memory: 512\n", lib::Error::invalid,
                 "config line 1: invalid key \"memory:\"" + rule);
    expect_error("m\xc3\xa9moire = 1\n", lib::Error::invalid,
                 "config line 1: invalid key \"m\xc3\xa9moire\"" + rule);
    expect_error("= 5\n", lib::Error::invalid, "config line 1: expected a key at the start of a statement, got '='");
    expect_error("\"name\" = \"x\"\n", lib::Error::invalid,
                 "config line 1: expected a key at the start of a statement, got \"name\"");
    expect_error("+memory = 1\n", lib::Error::invalid, "config line 1: unexpected character '+'");
    expect_error("[1] = 1\n", lib::Error::invalid,
                 "config line 1: expected a key at the start of a statement, got '['");
}

TEST_F(XlCfgTest, BadValues)
{
    expect_error("memory = 512 vcpus = 2\n", lib::Error::invalid,
                 "config line 1: memory: expected a new line or ';' after the value, got vcpus");
    expect_error("name = foo\n", lib::Error::invalid,
                 "config line 1: name: expected a value (a \"string\", a number or a [list]), got foo (strings need "
                 "quotes)");
    expect_error("name = = 1\n", lib::Error::invalid,
                 "config line 1: name: expected a value (a \"string\", a number or a [list]), got '='");
    expect_error("memory = 5 @\n", lib::Error::invalid, "config line 1: memory: unexpected character '@'");
    expect_error("memory = (5)\n", lib::Error::invalid, "config line 1: memory: unexpected character '('");
    expect_error("memory = 5 + 1\n", lib::Error::invalid, "config line 1: memory: unexpected character '+'");
    expect_error("memory = 1.5\n", lib::Error::invalid, "config line 1: memory: unexpected character '.'");
    expect_error("name = \xc3\xa9\n", lib::Error::invalid, "config line 1: name: unexpected byte 0xc3");
    expect_error("disk = [ 'a' ] ]\n", lib::Error::invalid,
                 "config line 1: disk: expected a new line or ';' after the value, got ']'");
}

TEST_F(XlCfgTest, EmptyValue)
{
    const char* msg = "config line 1: memory: missing value after '='";
    expect_error("memory =\n", lib::Error::invalid, msg);
    expect_error("memory = ;\n", lib::Error::invalid, msg);
    expect_error("memory =", lib::Error::invalid, msg);
    expect_error("memory = # comment\n", lib::Error::invalid, msg);
    expect_error("memory =\n  512\n", lib::Error::invalid, msg);  // the value must be on the key's line
}

TEST_F(XlCfgTest, ListSyntaxErrors)
{
    expect_error("disk = [,]\n", lib::Error::invalid, "config line 1: disk: expected a value in the list, got ','");
    expect_error("disk = [ 'a' 'b' ]\n", lib::Error::invalid,
                 "config line 1: disk: expected ',' or ']' in the list, got 'b'");
    expect_error("x = [1,,2]\n", lib::Error::invalid, "config line 1: x: expected a value in the list, got ','");
    expect_error("vif = [ foo ]\n", lib::Error::invalid,
                 "config line 1: vif: expected a value (a \"string\", a number or a [list]), got foo (strings need "
                 "quotes)");
    expect_error("x = [ 1; ]\n", lib::Error::invalid,
                 "config line 1: x: expected a value, ',' or ']' in the list, got ';'");
    expect_error("x = [ 1\n\n ] [2]\n", lib::Error::invalid,
                 "config line 3: x: expected a new line or ';' after the value, got '['");
}

TEST_F(XlCfgTest, SyntaxErrorsComeBeforeValueErrors)
{
    // Line 1's bad value is never interpreted: the syntax of the whole
    // file is checked first, as xl does.
    expect_error("memory = \"lots\"\nname = \"g\"\n\n\nkernel = \"/boot/vmlinuz\n", lib::Error::invalid,
                 "config line 5: kernel: unterminated string: no closing \" on this line");
    EXPECT_EQ(cfg.memory_mib, 32u);
    // Escapes are syntax too, even in keys nobody reads.
    expect_error("memory = \"lots\"\nfoo = \"\\q\"\n", lib::Error::invalid,
                 "config line 2: foo: bad escape in a string: \\q");
}

TEST_F(XlCfgTest, BadEscapes)
{
    expect_error("extra = \"\\q\"\n", lib::Error::invalid, "config line 1: extra: bad escape in a string: \\q");
    expect_error("extra = \"\\x4\"\n", lib::Error::invalid,
                 "config line 1: extra: bad escape in a string: \\x needs two hex digits");
    expect_error("extra = \"\\xZZ\"\n", lib::Error::invalid,
                 "config line 1: extra: bad escape in a string: \\x needs two hex digits");
    expect_error("extra = \"\\x00\"\n", lib::Error::invalid,
                 "config line 1: extra: bad escape in a string: \\x00 would be a NUL byte");
    expect_error("extra = 'a\\0b'\n", lib::Error::invalid,
                 "config line 1: extra: bad escape in a string: \\0 would be a NUL byte");
    expect_error("extra = \"\\400\"\n", lib::Error::invalid,
                 "config line 1: extra: bad escape in a string: octal 400 is above \\377");
    expect_error("extra = \"a\\ b\"\n", lib::Error::invalid,
                 "config line 1: extra: bad escape in a string: backslash before byte 0x20");
    expect_error("disk = [ 'ok',\n '\\d' ]\n", lib::Error::invalid, "config line 2: disk: bad escape in a string: \\d");
}

TEST_F(XlCfgTest, NulBytes)
{
    using namespace std::string_literals;
    const char* msg = "NUL byte in the configuration text";
    expect_error("name = \"a\0b\"\n"s, lib::Error::invalid, "config line 1: name: "s + msg);
    expect_error("memory = 5\n# a \0 comment\n"s, lib::Error::invalid, "config line 2: "s + msg);
    expect_error("memory = 5\0\n"s, lib::Error::invalid, "config line 1: memory: "s + msg);
    expect_error("\0memory = 5\n"s, lib::Error::invalid, "config line 1: "s + msg);
    expect_error("mem\0ory = 5\n"s, lib::Error::invalid, "config line 1: mem: "s + msg);
}

TEST_F(XlCfgTest, LoneCarriageReturn)
{
    expect_error("memory = 5\rvcpus = 2\n", lib::Error::invalid,
                 "config line 1: memory: carriage return not followed by a line feed");
    expect_error("# comment\r# more\n", lib::Error::invalid,
                 "config line 1: carriage return not followed by a line feed");
}

// ------------------------------------------------------ number errors

TEST_F(XlCfgTest, NumberErrors)
{
    expect_error("\n\n\n\n\n\nmemory = \"lots\"\n", lib::Error::invalid,
                 "config line 7: memory: expected a number, got \"lots\"");
    expect_error("memory = 99999999999999999999999\n", lib::Error::out_of_range,
                 "config line 1: memory: number too large: 99999999999999999999999");
    expect_error("memory = 0x1ffffffffffffffff\n", lib::Error::out_of_range,
                 "config line 1: memory: number too large: 0x1ffffffffffffffff");
    expect_error("memory = 02777777777777777777777\n", lib::Error::out_of_range,
                 "config line 1: memory: number too large: 02777777777777777777777");
    expect_error("memory = 17592186044416\n", lib::Error::out_of_range,
                 "config line 1: memory: 17592186044416 is out of range (0..17592186044415)");
    expect_error("memory = -512\n", lib::Error::invalid, "config line 1: memory: negative numbers are not allowed");
    expect_error("memory = \"-512\"\n", lib::Error::invalid, "config line 1: memory: expected a number, got \"-512\"");
    expect_error("memory = \" 512\"\n", lib::Error::invalid, "config line 1: memory: expected a number, got \" 512\"");
    expect_error("memory = 512M\n", lib::Error::invalid, "config line 1: memory: expected a number, got 512M");
    expect_error("memory = 08\n", lib::Error::invalid, "config line 1: memory: expected a number, got 08");
    expect_error("memory = 0x\n", lib::Error::invalid, "config line 1: memory: expected a number, got 0x");
    expect_error("memory = \"\"\n", lib::Error::invalid, "config line 1: memory: expected a number, got \"\"");
    expect_error("memory = [512]\n", lib::Error::invalid,
                 "config line 1: memory: expected a single value, got a [list]");
    expect_error("vcpus = 4294967296\n", lib::Error::out_of_range,
                 "config line 1: vcpus: 4294967296 is out of range (0..4294967295)");
    expect_error("cpu_weight = 0\n", lib::Error::out_of_range,
                 "config line 1: cpu_weight: 0 is out of range (1..65535)");
    expect_error("cpu_weight = 65536\n", lib::Error::out_of_range,
                 "config line 1: cpu_weight: 65536 is out of range (1..65535)");
    expect_error("cap = 25601\n", lib::Error::out_of_range, "config line 1: cap: 25601 is out of range (0..25600)");
    expect_error("pause_exits = 2\n", lib::Error::out_of_range, "config line 1: pause_exits: expected 0 or 1, got 2");
    expect_error("directed_yield = \"yes\"\n", lib::Error::invalid,
                 "config line 1: directed_yield: expected 0 or 1, got \"yes\"");
    // A string longer than any number: still "expected a number".
    expect_error("memory = \"" + std::string(2000, '1') + "\"\n", lib::Error::invalid,
                 "config line 1: memory: expected a number, got \"111111111111111111111111111111111111111...");
}

// -------------------------------------------------- bounded capacities

TEST_F(XlCfgTest, ValuesTooLong)
{
    expect_ok("name = \"" + std::string(63, 'n') + "\"\n");
    EXPECT_EQ(std::string(cfg.name), std::string(63, 'n'));
    expect_error("name = \"" + std::string(64, 'n') + "\"\n", lib::Error::out_of_range,
                 "config line 1: name: value too long (64 bytes, at most 63)");
    expect_error("name = \"" + std::string(2000, 'n') + "\"\n", lib::Error::out_of_range,
                 "config line 1: name: value too long (2000 bytes, at most 63)");
    expect_error("kernel = '/" + std::string(255, 'k') + "'\n", lib::Error::out_of_range,
                 "config line 1: kernel: value too long (256 bytes, at most 255)");
    expect_error("ramdisk = '/" + std::string(255, 'r') + "'\n", lib::Error::out_of_range,
                 "config line 1: ramdisk: value too long (256 bytes, at most 255)");
    expect_ok("extra = \"" + std::string(1023, 'e') + "\"\n");
    EXPECT_EQ(std::string(cfg.kernel_cmdline), std::string(1023, 'e'));
    expect_error("extra = \"" + std::string(1024, 'e') + "\"\n", lib::Error::out_of_range,
                 "config line 1: extra: value too long (1024 bytes, at most 1023)");
    expect_error("root = \"" + std::string(256, 'r') + "\"\n", lib::Error::out_of_range,
                 "config line 1: root: value too long (256 bytes, at most 255)");
    expect_error("serial = \"" + std::string(256, 's') + "\"\n", lib::Error::out_of_range,
                 "config line 1: serial: value too long (256 bytes, at most 255)");
    // Each fits, together they do not.
    expect_error("root = \"" + std::string(255, 'r') + "\"\nextra = \"" + std::string(1000, 'e') + "\"\n",
                 lib::Error::out_of_range,
                 "config line 1: root: the kernel command line \"root=<root> <extra>\" would be 1261 bytes, at most "
                 "1023");
}

TEST_F(XlCfgTest, TooManyDevices)
{
    std::string disks = "disk = [\n";
    for (int i = 0; i < 9; ++i) disks += "  'd" + std::to_string(i) + ".img,raw,xvd" + char('a' + i) + "',\n";
    disks += "]\n";
    expect_error(disks, lib::Error::out_of_range, "config line 10: disk: too many disks (at most 8)");

    std::string vifs = "vif = [";
    for (int i = 0; i < 9; ++i) vifs += "'', ";
    vifs += "]\n";
    expect_error(vifs, lib::Error::out_of_range, "config line 1: vif: too many vifs (at most 8)");

    expect_error("serial = [ 'pty', 'pty', 'pty', 'pty', 'pty' ]\n", lib::Error::out_of_range,
                 "config line 1: serial: too many serial devices (at most 4)");

    std::string cpus = "cpus = [";
    for (int i = 0; i < 65; ++i) cpus += "'0',";
    cpus += "]\n";
    expect_error(cpus, lib::Error::out_of_range, "config line 1: cpus: too many entries (at most 64, one per vCPU)");

    // Exactly at the limits.
    std::string eight = "disk = [";
    for (int i = 0; i < 8; ++i) eight += std::string("'d.img,raw,xvd") + char('a' + i) + "',";
    eight += "]\nvif = ['', '', '', '', '', '', '', '']\n";
    expect_ok(eight);
    EXPECT_EQ(cfg.disk_count, 8u);
    EXPECT_EQ(cfg.vif_count, 8u);
    // And '+=' past them.
    expect_error(eight + "disk += [ 'x.img,raw,xvdz' ]\n", lib::Error::out_of_range,
                 "config line 3: disk: too many disks (at most 8)");
}

TEST_F(XlCfgTest, NestedListForKnownKeys)
{
    const char* msg = "expected a string in the list, got a nested [list]";
    expect_error("disk = [ ['a,raw,xvda'] ]\n", lib::Error::invalid, std::string("config line 1: disk: ") + msg);
    expect_error("vif = [ '', [] ]\n", lib::Error::invalid, std::string("config line 1: vif: ") + msg);
    expect_error("cpus = [ '1',\n [ '2' ] ]\n", lib::Error::invalid, std::string("config line 2: cpus: ") + msg);
    expect_error("serial = [ ['pty'] ]\n", lib::Error::invalid, std::string("config line 1: serial: ") + msg);
    expect_error("name = [ 'a' ]\n", lib::Error::invalid, "config line 1: name: expected a single value, got a [list]");
    expect_error("vif = 'bridge=xenbr0'\n", lib::Error::invalid,
                 "config line 1: vif: expected a [list] of vif specifications, got 'bridge=xenbr0'");
}

// ---------------------------------------------------------- domain keys

TEST_F(XlCfgTest, TypeAndBuilder)
{
    expect_ok("type = \"pvh\"\n");
    EXPECT_EQ(cfg.type, DomainType::pvh);
    expect_ok("builder = \"generic\"\n");
    EXPECT_EQ(cfg.type, DomainType::pv);
    expect_ok("builder = \"hvm\"\n");
    EXPECT_EQ(cfg.type, DomainType::hvm);
    expect_ok("type = \"hvm\"\nbuilder = \"hvm\"\n");
    EXPECT_EQ(cfg.type, DomainType::hvm);
    expect_error("type = \"pvh\"\nbuilder = \"hvm\"\n", lib::Error::invalid,
                 "config line 2: builder: builder \"hvm\" contradicts type \"pvh\"");
    expect_error("builder = \"generic\"\ntype = \"pvh\"\n", lib::Error::invalid,
                 "config line 1: builder: builder \"generic\" contradicts type \"pvh\"");
    expect_error("type = \"kvm\"\n", lib::Error::invalid,
                 "config line 1: type: unknown domain type \"kvm\" (pv, pvh or hvm)");
    expect_error("type = \"PVH\"\n", lib::Error::invalid,
                 "config line 1: type: unknown domain type \"PVH\" (pv, pvh or hvm)");
    expect_error("type = \"p\"\n", lib::Error::invalid,
                 "config line 1: type: unknown domain type \"p\" (pv, pvh or hvm)");
    expect_error("builder = \"linux\"\n", lib::Error::invalid,
                 "config line 1: builder: unknown builder \"linux\" (generic or hvm)");
}

TEST_F(XlCfgTest, Uuid)
{
    expect_ok("uuid = \"0123abcd-4567-89AB-cdef-0123456789ab\"\n");
    ASSERT_TRUE(cfg.has_uuid);
    const uint8_t want[16] = {0x01, 0x23, 0xab, 0xcd, 0x45, 0x67, 0x89, 0xab,
                              0xcd, 0xef, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab};
    for (int i = 0; i < 16; ++i) EXPECT_EQ(cfg.uuid[i], want[i]) << i;
    for (const char* bad : {"XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX", "0123abcd45678-9ab-cdef-0123456789ab",
                            "0123abcd-4567-89ab-cdef-0123456789a", "0123abcd-4567-89ab-cdef-0123456789abc",
                            "{0123abcd-4567-89ab-cdef-0123456789ab}", ""}) {
        expect_error(std::string("uuid = \"") + bad + "\"\n", lib::Error::invalid,
                     std::string("config line 1: uuid: expected a UUID like 01234567-89ab-cdef-0123-456789abcdef, got "
                                 "\"") +
                         std::string(bad).substr(0, 40) + (std::string(bad).size() > 40 ? "..." : "") + "\"");
    }
}

// xl.cfg(5) memory= and maxmem=, with its example figures; libxl's defaults.
TEST_F(XlCfgTest, MemoryAndMaxmem)
{
    expect_ok("maxmem=262144\nmemory=8096\n");
    EXPECT_EQ(cfg.memory_mib, 8096u);
    EXPECT_EQ(cfg.maxmem_mib, 262144u);
    expect_ok("memory = 2048\n");
    EXPECT_EQ(cfg.maxmem_mib, 2048u);
    expect_ok("maxmem = 4096\n");
    EXPECT_EQ(cfg.memory_mib, 4096u);
    EXPECT_EQ(cfg.maxmem_mib, 4096u);
}

TEST_F(XlCfgTest, VcpusAndMaxvcpus)
{
    expect_ok("vcpus = 4\n");
    EXPECT_EQ(cfg.maxvcpus, 4u);
    expect_ok("maxvcpus = 8\nvcpus = 2\n");
    EXPECT_EQ(cfg.vcpus, 2u);
    EXPECT_EQ(cfg.maxvcpus, 8u);
}

// xl.cfg(5) cpus= examples.
TEST_F(XlCfgTest, CpusStringForms)
{
    struct Case {
        const char* value;
        CpuSet want;
    } cases[] = {
        {"\"all\"", all_cpus()},
        {"\"0-3,5,^1\"", cpu_set({0, 2, 3, 5})},
        {"'3'", cpu_set({3})},
        {"3", cpu_set({3})},
        {"\"255\"", cpu_set({255})},
        {"\"^1,0-3\"", cpu_range(0, 3)},  // applied left to right
        {"\"0-3, 5\"", cpu_set({0, 1, 2, 3, 5})},
        {"\"0,,1\"", cpu_set({0, 1})},
        {"\"2-2\"", cpu_set({2})},
    };
    for (const auto& c : cases) {
        expect_ok(std::string("cpus = ") + c.value + "\n");
        EXPECT_TRUE(cfg.cpus.pinned) << c.value;
        EXPECT_EQ(cfg.cpus.per_vcpu_count, 0u) << c.value;
        EXPECT_TRUE(cfg.cpus.all_vcpus == c.want) << c.value;
    }
    expect_ok("cpus = \"all,^7\"\n");
    CpuSet want = all_cpus();
    want.clear(7);
    EXPECT_TRUE(cfg.cpus.all_vcpus == want);
    EXPECT_EQ(cfg.cpus.all_vcpus.count(), 255u);
    expect_ok("cpus = \"all,^5-8\"\nvcpus = 3\n");
    for (unsigned c = 5; c <= 8; ++c) EXPECT_FALSE(cfg.cpus.all_vcpus.test(c));
    EXPECT_TRUE(cfg.cpus.all_vcpus.test(4));
    EXPECT_TRUE(cfg.cpus.all_vcpus.test(9));
    EXPECT_TRUE(vcpu_hard_affinity(cfg, 2) == cfg.cpus.all_vcpus);
}

// xl.cfg(5): cpus = ["2", "3-8,^5"] pins vCPU 0 to CPU 2 and vCPU 1 to
// 3,4,6,7,8; vCPUs past the list are not pinned.
TEST_F(XlCfgTest, CpusListForm)
{
    expect_ok("vcpus = 3\ncpus = [\"2\", \"3-8,^5\"]\n");
    EXPECT_TRUE(cfg.cpus.pinned);
    ASSERT_EQ(cfg.cpus.per_vcpu_count, 2u);
    EXPECT_TRUE(cfg.cpus.per_vcpu[0] == cpu_set({2}));
    EXPECT_TRUE(cfg.cpus.per_vcpu[1] == cpu_set({3, 4, 6, 7, 8}));
    EXPECT_TRUE(cfg.cpus.all_vcpus == cpu_set({2, 3, 4, 6, 7, 8}));
    EXPECT_TRUE(vcpu_hard_affinity(cfg, 0) == cpu_set({2}));
    EXPECT_TRUE(vcpu_hard_affinity(cfg, 1) == cpu_set({3, 4, 6, 7, 8}));
    EXPECT_TRUE(vcpu_hard_affinity(cfg, 2) == all_cpus());

    expect_ok("cpus = [2, 3]\n");
    EXPECT_TRUE(cfg.cpus.per_vcpu[1] == cpu_set({3}));
    expect_ok("cpus = []\n");
    EXPECT_FALSE(cfg.cpus.pinned);
    expect_ok("");
    EXPECT_TRUE(vcpu_hard_affinity(cfg, 0) == all_cpus());
}

TEST_F(XlCfgTest, BadCpuLists)
{
    struct Case {
        const char* value;
        lib::Error code;
        const char* msg;
    } cases[] = {
        {"\"3-1\"", lib::Error::invalid, "invalid CPU range \"3-1\": it ends before it starts"},
        {"\"^\"", lib::Error::invalid, "invalid CPU range \"^\""},
        {"\"1000\"", lib::Error::out_of_range, "CPU 1000 is out of range (at most 255)"},
        {"\"0-256\"", lib::Error::out_of_range, "CPU 256 is out of range (at most 255)"},
        {"\"99999999999999999999999\"", lib::Error::out_of_range,
         "CPU 99999999999999999999999 is out of range (at most 255)"},
        {"\"^all\"", lib::Error::invalid, "\"^all\": '^' cannot be combined with \"all\""},
        {"\"\"", lib::Error::invalid, "the CPU list \"\" selects no CPU"},
        {"\"^0\"", lib::Error::invalid, "the CPU list \"^0\" selects no CPU"},
        {"\"a-b\"", lib::Error::invalid, "invalid CPU range \"a-b\""},
        {"\"0-\"", lib::Error::invalid, "invalid CPU range \"0-\""},
        {"\"1-2-3\"", lib::Error::invalid, "invalid CPU range \"1-2-3\""},
        {"\"0x3\"", lib::Error::invalid, "invalid CPU range \"0x3\""},
        {"\"nodes:0\"", lib::Error::unsupported, "NUMA node selection \"nodes:0\" is not supported"},
        {"\"nodes:0-3,^node:2\"", lib::Error::unsupported, "NUMA node selection \"nodes:0-3\" is not supported"},
        {"\"1,node:1,^6\"", lib::Error::unsupported, "NUMA node selection \"node:1\" is not supported"},
        {"\"all,^node:1\"", lib::Error::unsupported, "NUMA node selection \"^node:1\" is not supported"},
    };
    for (const auto& c : cases)
        expect_error(std::string("cpus = ") + c.value + "\n", c.code, std::string("config line 1: cpus: ") + c.msg);
    expect_error("cpus = [\"2\",\n \"3-1\"]\n", lib::Error::invalid,
                 "config line 2: cpus: vCPU 1: invalid CPU range \"3-1\": it ends before it starts");
}

TEST_F(XlCfgTest, Scheduling)
{
    expect_ok("cpu_weight = 512\ncap = 50\n");
    EXPECT_EQ(cfg.cpu_weight, 512u);
    EXPECT_EQ(cfg.cap, 50u);
    expect_ok("cpu_weight = 65535\ncap = 400\n");
    EXPECT_EQ(cfg.cpu_weight, 65535u);
    EXPECT_EQ(cfg.cap, 400u);
}

TEST_F(XlCfgTest, ShutdownActions)
{
    struct Case {
        const char* name;
        ShutdownAction action;
    } cases[] = {
        {"destroy", ShutdownAction::destroy},
        {"restart", ShutdownAction::restart},
        {"rename-restart", ShutdownAction::rename_restart},
        {"preserve", ShutdownAction::preserve},
        {"coredump-destroy", ShutdownAction::coredump_destroy},
        {"coredump-restart", ShutdownAction::coredump_restart},
        {"soft-reset", ShutdownAction::soft_reset},
    };
    for (const auto& c : cases) {
        expect_ok(std::string("on_poweroff = \"") + c.name + "\"\non_reboot = '" + c.name + "'\non_crash = \"" +
                  c.name + "\"\non_watchdog = \"" + c.name + "\"\non_soft_reset = \"" + c.name + "\"\n");
        EXPECT_EQ(cfg.on_poweroff, c.action);
        EXPECT_EQ(cfg.on_reboot, c.action);
        EXPECT_EQ(cfg.on_crash, c.action);
        EXPECT_EQ(cfg.on_watchdog, c.action);
        EXPECT_EQ(cfg.on_soft_reset, c.action);
        EXPECT_STREQ(shutdown_action_name(c.action), c.name);
    }
    expect_error("on_reboot = \"reboot\"\n", lib::Error::invalid,
                 "config line 1: on_reboot: unknown action \"reboot\" (destroy, restart, rename-restart, preserve, "
                 "coredump-destroy, coredump-restart or soft-reset)");
    expect_error("on_crash = \"Destroy\"\n", lib::Error::invalid,
                 "config line 1: on_crash: unknown action \"Destroy\" (destroy, restart, rename-restart, preserve, "
                 "coredump-destroy, coredump-restart or soft-reset)");
}

// xl composes the kernel command line from cmdline, root and extra.
TEST_F(XlCfgTest, KernelCommandLine)
{
    expect_ok("kernel = \"/boot/vmlinuz\"\nramdisk = \"/boot/initrd.gz\"\nextra = \"console=hvc0\"\n");
    EXPECT_STREQ(cfg.kernel, "/boot/vmlinuz");
    EXPECT_STREQ(cfg.ramdisk, "/boot/initrd.gz");
    EXPECT_STREQ(cfg.kernel_cmdline, "console=hvc0");
    expect_ok("root = \"/dev/xvda1 ro\"\n");
    EXPECT_STREQ(cfg.kernel_cmdline, "root=/dev/xvda1 ro");
    expect_ok("root = \"/dev/xvda1\"\nextra = \"console=hvc0 quiet\"\n");
    EXPECT_STREQ(cfg.kernel_cmdline, "root=/dev/xvda1 console=hvc0 quiet");
    EXPECT_EQ(diag.warning_count, 0u);
    expect_ok("root = \"/dev/xvda1\"\nextra = \"quiet\"\ncmdline = \"root=/dev/xvda2 console=hvc0\"\n");
    EXPECT_STREQ(cfg.kernel_cmdline, "root=/dev/xvda2 console=hvc0");
    EXPECT_STREQ(cfg.root, "/dev/xvda1");
    EXPECT_EQ(warnings(),
              std::vector<std::string>{"config line 3: cmdline: ignoring root and extra in favour of cmdline"});
    // Set counts, not non-empty: cmdline = "" still wins, as in xl.
    expect_ok("cmdline = \"\"\nroot = \"/dev/xvda1\"\n");
    EXPECT_STREQ(cfg.kernel_cmdline, "");
    EXPECT_EQ(diag.warning_count, 1u);
}

TEST_F(XlCfgTest, Serial)
{
    expect_ok("serial = \"pty\"\n");
    ASSERT_EQ(cfg.serial_count, 1u);
    EXPECT_STREQ(cfg.serial[0], "pty");
    expect_ok("serial = [ 'pty', \"file:/var/log/xen/guest-serial.log\" ]\n");
    ASSERT_EQ(cfg.serial_count, 2u);
    EXPECT_STREQ(cfg.serial[1], "file:/var/log/xen/guest-serial.log");
}

TEST_F(XlCfgTest, TestGuestKeys)
{
    expect_ok("pause_exits = 1\ndirected_yield = 0\n");
    EXPECT_TRUE(cfg.pause_exits);
    EXPECT_FALSE(cfg.directed_yield);
    expect_ok("pause_exits = '0'\ndirected_yield = \"1\"\n");
    EXPECT_FALSE(cfg.pause_exits);
    EXPECT_TRUE(cfg.directed_yield);
}

// --------------------------------------------- xl-disk-configuration(5)

struct DiskWant {
    const char* target;  // nullptr: no target
    DiskFormat format;
    const char* vdev;
    bool readwrite;
    bool cdrom;
    const char* script = "";
    DiskBackendType backendtype = DiskBackendType::automatic;
};

void expect_disk(const DiskConfig& d, const DiskWant& w)
{
    EXPECT_EQ(d.has_target, w.target != nullptr);
    EXPECT_STREQ(d.target, w.target ? w.target : "");
    EXPECT_EQ(d.format, w.format) << disk_format_name(d.format);
    EXPECT_STREQ(d.vdev, w.vdev);
    EXPECT_EQ(d.readwrite, w.readwrite);
    EXPECT_EQ(d.cdrom, w.cdrom);
    EXPECT_STREQ(d.script, w.script);
    EXPECT_EQ(d.backendtype, w.backendtype);
}

TEST_F(XlCfgTest, DiskManPageEquivalentForms)
{
    for (const char* spec : {"/dev/vg/guest-volume,,hda", "/dev/vg/guest-volume,raw,hda,rw",
                             "format=raw, vdev=hda, access=rw, target=/dev/vg/guest-volume",
                             "raw:/dev/vg/guest-volume,hda,w"}) {
        SCOPED_TRACE(spec);
        ASSERT_TRUE(parse_disk(spec).ok()) << error();
        ASSERT_EQ(cfg.disk_count, 1u);
        expect_disk(cfg.disks[0], {"/dev/vg/guest-volume", DiskFormat::raw, "hda", true, false});
    }
    for (const char* spec : {"/root/image.iso,,hdc,cdrom", "/root/image.iso,,hdc,,cdrom",
                             "/root/image.iso,raw,hdc,devtype=cdrom",
                             "format=raw, vdev=hdc, access=ro, devtype=cdrom, target=/root/image.iso",
                             "raw:/root/image.iso,hdc:cdrom,ro"}) {
        SCOPED_TRACE(spec);
        ASSERT_TRUE(parse_disk(spec).ok()) << error();
        expect_disk(cfg.disks[0], {"/root/image.iso", DiskFormat::raw, "hdc", false, true});
    }
    expect_ok("disk = [ '/dev/vg/guest-volume,,hda', '/root/image.iso,,hdc,cdrom' ]\n");
    ASSERT_EQ(cfg.disk_count, 2u);
    expect_disk(cfg.disks[0], {"/dev/vg/guest-volume", DiskFormat::raw, "hda", true, false});
    expect_disk(cfg.disks[1], {"/root/image.iso", DiskFormat::raw, "hdc", false, true});
}

// The cases of xl's tools/xl/check-xl-disk-parse.
TEST_F(XlCfgTest, DiskCheckXlDiskParseCases)
{
    ASSERT_TRUE(parse_disk("backendtype=phy,vdev=xvdb,access=w,target=/dev/vg/guest-volume").ok()) << error();
    expect_disk(cfg.disks[0], {"/dev/vg/guest-volume", DiskFormat::raw, "xvdb", true, false, "", DiskBackendType::phy});

    // Empty CD-ROM drives: an empty target...
    for (const char* spec : {"devtype=cdrom,,,hdc", ",,hdc:cdrom,r", ",hdc:cdrom,r",
                             "vdev=hdc,access=r,devtype=cdrom,target=", ",empty,hdc:cdrom,r"}) {
        SCOPED_TRACE(spec);
        ASSERT_TRUE(parse_disk(spec).ok()) << error();
        expect_disk(cfg.disks[0], {"", DiskFormat::empty, "hdc", false, true});
    }
    // ... or none at all.
    for (const char* spec : {"vdev=hdc,access=r,devtype=cdrom,format=empty", "vdev=hdc,access=r,devtype=cdrom"}) {
        SCOPED_TRACE(spec);
        ASSERT_TRUE(parse_disk(spec).ok()) << error();
        expect_disk(cfg.disks[0], {nullptr, DiskFormat::empty, "hdc", false, true});
    }

    const char* iqn = "iqn.2001-05.com.equallogic:0-8a0906-23fe93404-c82797962054a96d-examplehost";
    for (std::string spec : {std::string("iscsi:") + iqn + ",xvda,w",
                             std::string("vdev=xvda,access=w,script=block-iscsi,target=") + iqn}) {
        SCOPED_TRACE(spec);
        ASSERT_TRUE(parse_disk(spec).ok()) << error();
        expect_disk(cfg.disks[0], {iqn, DiskFormat::raw, "xvda", true, false, "block-iscsi"});
    }
    ASSERT_TRUE(parse_disk("drbd:app01,hda,w").ok()) << error();
    expect_disk(cfg.disks[0], {"app01", DiskFormat::raw, "hda", true, false, "block-drbd"});

    ASSERT_TRUE(parse_disk("discard, vdev=hda, target=/some/disk/image.raw").ok()) << error();
    expect_disk(cfg.disks[0], {"/some/disk/image.raw", DiskFormat::raw, "hda", true, false});
    EXPECT_EQ(cfg.disks[0].discard, Toggle::on);
    ASSERT_TRUE(parse_disk("cdrom, no-discard, vdev=hda, target=/some/disk/image.iso").ok()) << error();
    expect_disk(cfg.disks[0], {"/some/disk/image.iso", DiskFormat::raw, "hda", false, true});
    EXPECT_EQ(cfg.disks[0].discard, Toggle::off);
    ASSERT_TRUE(parse_disk("trusted, vdev=hda, target=/some/disk/image.raw").ok()) << error();
    EXPECT_EQ(cfg.disks[0].trusted, Toggle::on);
    ASSERT_TRUE(parse_disk("untrusted, vdev=hda, target=/some/disk/image.raw").ok()) << error();
    EXPECT_EQ(cfg.disks[0].trusted, Toggle::off);
    EXPECT_EQ(cfg.disks[0].discard, Toggle::unset);

    expect_error("disk = [ 'foo' ]\n", lib::Error::invalid, "config line 1: disk: no vdev specified in \"foo\"");
}

TEST_F(XlCfgTest, DiskOtherParameters)
{
    ASSERT_TRUE(parse_disk("/images/g.qcow2,qcow2,xvda,rw").ok()) << error();
    expect_disk(cfg.disks[0], {"/images/g.qcow2", DiskFormat::qcow2, "xvda", true, false});
    ASSERT_TRUE(parse_disk("format=vhd,vdev=xvdb,access=ro,target=/images/g.vhd").ok()) << error();
    expect_disk(cfg.disks[0], {"/images/g.vhd", DiskFormat::vhd, "xvdb", false, false});
    ASSERT_TRUE(parse_disk("tap:aio:/some/path,xvda,w").ok()) << error();
    expect_disk(cfg.disks[0], {"/some/path", DiskFormat::raw, "xvda", true, false});
    ASSERT_TRUE(parse_disk("phy:/dev/sdb,xvdb,r").ok()) << error();
    expect_disk(cfg.disks[0], {"/dev/sdb", DiskFormat::raw, "xvdb", false, false});
    ASSERT_TRUE(parse_disk("qcow2:/images/g.qcow2,xvda,w").ok()) << error();
    expect_disk(cfg.disks[0], {"/images/g.qcow2", DiskFormat::qcow2, "xvda", true, false});
    ASSERT_TRUE(parse_disk("vhd:/images/g.vhd,xvdc:disk,w").ok()) << error();
    expect_disk(cfg.disks[0], {"/images/g.vhd", DiskFormat::vhd, "xvdc", true, false});
    ASSERT_TRUE(parse_disk("nfs:server/export,raw,xvda").ok()) << error();  // "nfs:s": not a prefix
    expect_disk(cfg.disks[0], {"nfs:server/export", DiskFormat::raw, "xvda", true, false});
    // target= takes the rest, commas included (one trailing comma dropped).
    ASSERT_TRUE(parse_disk("vdev=xvda,target=/path/with,comma and space ").ok()) << error();
    EXPECT_STREQ(cfg.disks[0].target, "/path/with,comma and space ");
    ASSERT_TRUE(parse_disk("vdev=xvda,target=/p,").ok()) << error();
    EXPECT_STREQ(cfg.disks[0].target, "/p");
    // A CD-ROM is read-only whatever access says.
    ASSERT_TRUE(parse_disk("/iso/a.iso,raw,hdc,rw,devtype=cdrom").ok()) << error();
    EXPECT_FALSE(cfg.disks[0].readwrite);
    ASSERT_TRUE(parse_disk("backendtype=qdisk,specification=virtio,backend=storage-dom,direct-io-safe,"
                           "script=block-nbd,vdev=xvde,target=nbd.example:10809")
                    .ok())
        << error();
    const DiskConfig& d = cfg.disks[0];
    EXPECT_EQ(d.backendtype, DiskBackendType::qdisk);
    EXPECT_EQ(d.specification, DiskSpecification::virtio);
    EXPECT_STREQ(d.backend, "storage-dom");
    EXPECT_TRUE(d.direct_io_safe);
    EXPECT_STREQ(d.script, "block-nbd");
    EXPECT_STREQ(d.target, "nbd.example:10809");
    for (const char* b : {"tap", "standalone"}) {
        ASSERT_TRUE(parse_disk(std::string("backendtype=") + b + ",vdev=xvda,target=/x").ok()) << error();
    }
    EXPECT_EQ(cfg.disks[0].backendtype, DiskBackendType::standalone);
    // This hypervisor's benchmark keys, as on vifs: on unless turned off.
    ASSERT_TRUE(parse_disk("vdev=xvda,target=/x").ok()) << error();
    EXPECT_TRUE(cfg.disks[0].event_idx);
    EXPECT_TRUE(cfg.disks[0].ioevent);
    ASSERT_TRUE(parse_disk("format=raw, vdev=xvda, event_idx=0, ioevent=off, target=/x").ok()) << error();
    EXPECT_FALSE(cfg.disks[0].event_idx);
    EXPECT_FALSE(cfg.disks[0].ioevent);
    ASSERT_TRUE(parse_disk("vdev=xvda,event_idx=on,ioevent=1,target=/x").ok()) << error();
    EXPECT_TRUE(cfg.disks[0].event_idx);
    EXPECT_TRUE(cfg.disks[0].ioevent);
}

TEST_F(XlCfgTest, DiskErrors)
{
    struct Case {
        const char* spec;
        lib::Error code;
        const char* msg;
    } cases[] = {
        {"/dev/x,qcow3,xvda", lib::Error::invalid, "unknown value for format: near \"qcow3\" in \"/dev/x,qcow3,xvda\""},
        {"/dev/x, raw ,xvda", lib::Error::invalid, "unknown value for format: near \"raw \" in \"/dev/x, raw ,xvda\""},
        {"/dev/x,raw,xvda,rx", lib::Error::invalid, "unknown value for access: near \"rx\" in \"/dev/x,raw,xvda,rx\""},
        {"/dev/x,raw,xvda,rw,more", lib::Error::invalid,
         "too many positional parameters: near \"more\" in \"/dev/x,raw,xvda,rw,more\""},
        {"format=raw,format=qcow2,vdev=xvda,target=/x", lib::Error::invalid,
         "format respecified: near \"qcow2\" in \"format=raw,format=qcow2,vdev=xvda,target...\""},  // 40 bytes + "..."
        {"vdev=xvda,vdev=xvdb,target=/x", lib::Error::invalid,
         "vdev respecified: near \"xvdb\" in \"vdev=xvda,vdev=xvdb,target=/x\""},
        {"/a,raw,xvda,target=/b", lib::Error::invalid, "target respecified: near \"/b\" in \"/a,raw,xvda,target=/b\""},
        {"foo=bar,vdev=xvda,target=/x", lib::Error::invalid,
         "unknown parameter: near \"foo=bar\" in \"foo=bar,vdev=xvda,target=/x\""},
        {"ioevent=yes,vdev=xvda,target=/x", lib::Error::invalid,
         "must be 0, 1, off or on: near \"ioevent=yes\" in \"ioevent=yes,vdev=xvda,target=/x\""},
        {"http://host/img,xvda", lib::Error::invalid,
         "unknown deprecated disk prefix: near \"http:\" in \"http://host/img,xvda\""},
        {"devtype=floppy,vdev=xvda,target=/x", lib::Error::invalid,
         "unknown value for devtype: near \"floppy\" in \"devtype=floppy,vdev=xvda,target=/x\""},
        {"/x,raw,xvda:floppy", lib::Error::invalid,
         "unknown deprecated type: near \"floppy\" in \"/x,raw,xvda:floppy\""},
        {"backendtype=nbd,vdev=xvda,target=/x", lib::Error::invalid,
         "unknown value for backendtype: near \"nbd\" in \"backendtype=nbd,vdev=xvda,target=/x\""},
        {"specification=scsi,vdev=xvda,target=/x", lib::Error::invalid,
         "unknown value for specification: near \"scsi\" in \"specification=scsi,vdev=xvda,target=/x\""},
        {"colo,vdev=xvda,target=/x", lib::Error::unsupported,
         "unsupported parameter: near \"colo\" in \"colo,vdev=xvda,target=/x\""},
        {"colo-port=9000,vdev=xvda,target=/x", lib::Error::unsupported,
         "unsupported parameter: near \"colo-port=9000\" in \"colo-port=9000,vdev=xvda,target=/x\""},
        {"/x,raw", lib::Error::invalid, "no vdev specified in \"/x,raw\""},
        {"vdev=xvda", lib::Error::invalid, "no target specified (and device not removable) in \"vdev=xvda\""},
        {"", lib::Error::invalid, "no vdev specified in \"\""},
    };
    for (const auto& c : cases)
        expect_error(std::string("disk = [ \"") + c.spec + "\" ]\n", c.code,
                     std::string("config line 1: disk: ") + c.msg);

    // Messages quote the first 40 bytes of the specification.
    std::string long_target = "/" + std::string(255, 't');
    expect_error("disk = [ '" + long_target + ",raw,xvda' ]\n", lib::Error::out_of_range,
                 "config line 1: disk: target too long (256 bytes, at most 255) in \"/" + std::string(39, 't') +
                     "...\"");
    expect_error("disk = [ 'vdev=" + std::string(32, 'x') + ",target=/x' ]\n", lib::Error::out_of_range,
                 "config line 1: disk: vdev too long (32 bytes, at most 31) in \"vdev=" + std::string(32, 'x') +
                     ",ta...\"");
}

// The two forms Dom0's virtio-blk disks are written in (docs/storage.md),
// and QEMU's name for VHD.
TEST_F(XlCfgTest, DiskFormsForVirtioBlk)
{
    ASSERT_TRUE(parse_disk("format=qcow2, vdev=xvda, access=ro, target=guests/disks/pattern.qcow2").ok()) << error();
    const DiskConfig& d = cfg.disks[0];
    EXPECT_STREQ(d.target, "guests/disks/pattern.qcow2");
    EXPECT_EQ(d.format, DiskFormat::qcow2);
    EXPECT_STREQ(d.vdev, "xvda");
    EXPECT_FALSE(d.readwrite);
    EXPECT_FALSE(d.cdrom);
    ASSERT_TRUE(parse_disk("guests/disks/pattern.qcow2,qcow2,xvda,r").ok()) << error();
    EXPECT_STREQ(cfg.disks[0].target, "guests/disks/pattern.qcow2");
    EXPECT_EQ(cfg.disks[0].format, DiskFormat::qcow2);
    EXPECT_FALSE(cfg.disks[0].readwrite);
    for (const char* spec : {"a.vhd,vpc,xvdb,ro", "format=vpc,vdev=xvdb,access=ro,target=a.vhd", "a.vhd,vhd,xvdb,r"}) {
        ASSERT_TRUE(parse_disk(spec).ok()) << spec << ": " << error();
        EXPECT_EQ(cfg.disks[0].format, DiskFormat::vhd) << spec;
        EXPECT_FALSE(cfg.disks[0].readwrite) << spec;
    }
    ASSERT_TRUE(parse_disk("a.img,raw,xvdc,w").ok()) << error();
    EXPECT_TRUE(cfg.disks[0].readwrite);
    ASSERT_TRUE(parse_disk("format=raw, vdev=xvdc, access=rw, devtype=disk, target=a.img").ok()) << error();
    EXPECT_TRUE(cfg.disks[0].readwrite);
    EXPECT_FALSE(cfg.disks[0].cdrom);
    // Malformed: unknown key, unknown format or access, no target, no vdev.
    expect_error("disk = [ 'format=qcow2, vdev=xvda, mode=ro, target=a' ]\n", lib::Error::invalid,
                 "config line 1: disk: unknown parameter: near \"mode=ro\" in \"format=qcow2, vdev=xvda, mode=ro, target...\"");
    expect_error("disk = [ 'format=vmdk, vdev=xvda, target=a' ]\n", lib::Error::invalid,
                 "config line 1: disk: unknown value for format: near \"vmdk\" in \"format=vmdk, vdev=xvda, target=a\"");
    expect_error("disk = [ 'format=raw, vdev=xvda, access=readonly, target=a' ]\n", lib::Error::invalid,
                 "config line 1: disk: unknown value for access: near \"readonly\" in \"format=raw, vdev=xvda, "
                 "access=readonly, ...\"");
    expect_error("disk = [ 'format=qcow2, vdev=xvda, access=ro' ]\n", lib::Error::invalid,
                 "config line 1: disk: no target specified (and device not removable) in \"format=qcow2, vdev=xvda, "
                 "access=ro\"");
    expect_error("disk = [ 'format=qcow2, access=ro, target=a' ]\n", lib::Error::invalid,
                 "config line 1: disk: no vdev specified in \"format=qcow2, access=ro, target=a\"");
}

// --------------------------------------- xl-network-configuration(5)

TEST_F(XlCfgTest, VifManPageExamples)
{
    expect_ok("vif = [ 'mac=00:16:3E:74:3d:76,model=rtl8139,bridge=xenbr0', 'mac=00:16:3E:74:34:32', '' ]\n");
    ASSERT_EQ(cfg.vif_count, 3u);
    const uint8_t mac0[6] = {0x00, 0x16, 0x3e, 0x74, 0x3d, 0x76};
    EXPECT_TRUE(cfg.vifs[0].has_mac);
    for (int i = 0; i < 6; ++i) EXPECT_EQ(cfg.vifs[0].mac[i], mac0[i]);
    EXPECT_STREQ(cfg.vifs[0].model, "rtl8139");
    EXPECT_STREQ(cfg.vifs[0].bridge, "xenbr0");
    EXPECT_TRUE(cfg.vifs[1].has_mac);
    EXPECT_EQ(cfg.vifs[1].mac[5], 0x32);
    EXPECT_STREQ(cfg.vifs[1].bridge, "");
    EXPECT_FALSE(cfg.vifs[2].has_mac);

    expect_ok("vif = [ 'mac=00:16:3E:74:34:32', 'mac=00:16:3e:5f:48:e4,bridge=xenbr1' ]\n");
    ASSERT_EQ(cfg.vif_count, 2u);
    EXPECT_STREQ(cfg.vifs[1].bridge, "xenbr1");
    EXPECT_EQ(cfg.vifs[1].mac[3], 0x5f);
}

TEST_F(XlCfgTest, VifAllParameters)
{
    expect_ok("vif = [ 'type=ioemu, model=e1000,  ip=10.0.0.2 10.0.0.3,vifname=web0,,script=vif-route,"
              "backend=netdom,bridge=xenbr0 ,mac=02:00:00:00:00:01', 'type=vif' ]\n");
    const VifConfig& v = cfg.vifs[0];
    EXPECT_EQ(v.type, VifType::ioemu);
    EXPECT_STREQ(v.model, "e1000");
    EXPECT_STREQ(v.ip, "10.0.0.2 10.0.0.3");
    EXPECT_STREQ(v.vifname, "web0");
    EXPECT_STREQ(v.script, "vif-route");
    EXPECT_STREQ(v.backend, "netdom");
    EXPECT_STREQ(v.bridge, "xenbr0");
    EXPECT_EQ(v.mac[0], 0x02);  // locally administered: fine
    EXPECT_EQ(cfg.vifs[1].type, VifType::vif);
    expect_ok("vif = [ 'bridge=a,bridge=b' ]\n");  // later keys replace earlier ones
    EXPECT_STREQ(cfg.vifs[0].bridge, "b");
    EXPECT_TRUE(cfg.vifs[0].event_idx);
    expect_ok("vif = [ 'event_idx=0', 'event_idx=off', 'event_idx=on, event_idx=1', 'event_idx=1,event_idx=0' ]\n");
    EXPECT_FALSE(cfg.vifs[0].event_idx);
    EXPECT_FALSE(cfg.vifs[1].event_idx);
    EXPECT_TRUE(cfg.vifs[2].event_idx);
    EXPECT_FALSE(cfg.vifs[3].event_idx);
    EXPECT_TRUE(cfg.vifs[0].ioevent);
    expect_ok("vif = [ 'ioevent=0', 'ioevent=on' ]\n");
    EXPECT_FALSE(cfg.vifs[0].ioevent);
    EXPECT_TRUE(cfg.vifs[1].ioevent);
}

TEST_F(XlCfgTest, VifErrors)
{
    struct Case {
        const char* spec;
        lib::Error code;
        const char* msg;
    } cases[] = {
        {"foo", lib::Error::invalid, "unknown or unsupported vif parameter \"foo\" in \"foo\""},
        {"rate=10MB/s", lib::Error::unsupported,
         "unknown or unsupported vif parameter \"rate=10MB/s\" in \"rate=10MB/s\""},
        {"trusted", lib::Error::invalid, "unknown or unsupported vif parameter \"trusted\" in \"trusted\""},
        {"type=virtio", lib::Error::invalid, "unknown vif type \"virtio\" (vif or ioemu) in \"type=virtio\""},
        {"mac=00:16:3e:zz:00:01", lib::Error::invalid,
         "invalid MAC address \"00:16:3e:zz:00:01\" (want six hex pairs like 00:16:3e:00:00:01) in "
         "\"mac=00:16:3e:zz:00:01\""},
        {"mac=00:16:3e:00:01", lib::Error::invalid,
         "invalid MAC address \"00:16:3e:00:01\" (want six hex pairs like 00:16:3e:00:00:01) in "
         "\"mac=00:16:3e:00:01\""},
        {"mac=00-16-3e-00-00-01", lib::Error::invalid,
         "invalid MAC address \"00-16-3e-00-00-01\" (want six hex pairs like 00:16:3e:00:00:01) in "
         "\"mac=00-16-3e-00-00-01\""},
        {"mac=0:16:3e:0:0:1", lib::Error::invalid,
         "invalid MAC address \"0:16:3e:0:0:1\" (want six hex pairs like 00:16:3e:00:00:01) in \"mac=0:16:3e:0:0:1\""},
        {"mac=", lib::Error::invalid,
         "invalid MAC address \"\" (want six hex pairs like 00:16:3e:00:00:01) in \"mac=\""},
        {"mac=01:00:5e:00:00:01", lib::Error::invalid,
         "MAC address 01:00:5e:00:00:01 is a multicast address in \"mac=01:00:5e:00:00:01\""},
        {"mac=00:00:00:00:00:00", lib::Error::invalid,
         "MAC address 00:00:00:00:00:00 is all zeros in \"mac=00:00:00:00:00:00\""},
        {"event_idx=yes", lib::Error::invalid, "vif event_idx must be 0, 1, off or on, not \"yes\" in \"event_idx=yes\""},
        {"ioevent=", lib::Error::invalid, "vif ioevent must be 0, 1, off or on, not \"\" in \"ioevent=\""},
    };
    for (const auto& c : cases)
        expect_error(std::string("vif = [ \"") + c.spec + "\" ]\n", c.code,
                     std::string("config line 1: vif: ") + c.msg);
    // 39 bytes: quoted whole.
    expect_error("vif = [ 'bridge=" + std::string(32, 'b') + "' ]\n", lib::Error::out_of_range,
                 "config line 1: vif: vif bridge too long (32 bytes, at most 31) in \"bridge=" + std::string(32, 'b') +
                     "\"");
}

// mac= absent: a Xen-OUI MAC derived from the domain's name and the vif's
// index (stable across restarts), the top bit of the fourth byte clear as
// libxl makes them; mac= given: that MAC.
TEST_F(XlCfgTest, VifDefaultMac)
{
    expect_ok("name = \"web\"\nvif = [ 'bridge=xenbr0', 'mac=00:16:3e:74:34:32', '' ]\n");
    uint8_t m0[6], m1[6], m2[6], again[6];
    vif_mac(cfg, 0, m0);
    vif_mac(cfg, 1, m1);
    vif_mac(cfg, 2, m2);
    vif_mac(cfg, 0, again);
    EXPECT_EQ(std::memcmp(m0, again, 6), 0);
    for (const uint8_t* m : {m0, m2}) {
        EXPECT_EQ(m[0], 0x00);
        EXPECT_EQ(m[1], 0x16);
        EXPECT_EQ(m[2], 0x3e);
        EXPECT_EQ(m[3] & 0x80, 0);
    }
    EXPECT_NE(std::memcmp(m0, m2, 6), 0);
    const uint8_t given[6] = {0x00, 0x16, 0x3e, 0x74, 0x34, 0x32};
    EXPECT_EQ(std::memcmp(m1, given, 6), 0);
    // Another domain name gives other MACs; a retry (after a collision)
    // gives another MAC for the same vif.
    uint8_t other[6], retry[6];
    default_vif_mac("db", 0, other);
    default_vif_mac("web", 0, retry, 1);
    EXPECT_NE(std::memcmp(m0, other, 6), 0);
    EXPECT_NE(std::memcmp(m0, retry, 6), 0);
    // 10,000 domains' first vifs: every MAC a valid unicast Xen MAC, and
    // hardly any collide (23 bits of hash).
    std::set<uint32_t> seen;
    for (int i = 0; i < 10000; ++i) {
        uint8_t m[6];
        default_vif_mac(("guest" + std::to_string(i)).c_str(), 0, m);
        EXPECT_EQ(m[0] & 1, 0);
        seen.insert(uint32_t(m[3]) << 16 | uint32_t(m[4]) << 8 | m[5]);
    }
    EXPECT_GT(seen.size(), 9980u);
    EXPECT_STREQ(xl_default_bridge, "xenbr0");
}

// ------------------------------------------------------------ overrides

// xl(1)'s example: xl create hvm.cfg 'cpus="0-3"; pci=["01:05.1","01:05.2"]'
TEST_F(XlCfgTest, OverrideManPageExample)
{
    ASSERT_TRUE(parse_with("type = \"hvm\"\nname = \"h\"\ncpus = \"4-7\"\n",
                           {"cpus=\"0-3\"; pci=[\"01:05.1\",\"01:05.2\"]"})
                    .ok())
        << error();
    EXPECT_TRUE(cfg.cpus.all_vcpus == cpu_range(0, 3));
    EXPECT_EQ(cfg.origin[size_t(XlKey::cpus)].source, 1u);
    EXPECT_EQ(cfg.origin[size_t(XlKey::cpus)].line, 1u);
    // Replacing the file's value is what an override is for: no warning.
    EXPECT_EQ(warnings(), std::vector<std::string>{"override 1 line 1: pci: unknown key, ignored"});
}

TEST_F(XlCfgTest, OverridesReplaceFileValues)
{
    ASSERT_TRUE(parse_with("memory = \"lots\"\nvcpus = 2\nextra = \"console=hvc0\"\n",
                           {"memory=512", "vcpus=4\nmaxvcpus=8", "extra+=\" quiet\""})
                    .ok())
        << error();
    EXPECT_EQ(cfg.memory_mib, 512u);
    EXPECT_EQ(cfg.vcpus, 4u);
    EXPECT_EQ(cfg.maxvcpus, 8u);
    EXPECT_STREQ(cfg.kernel_cmdline, "console=hvc0 quiet");
    EXPECT_EQ(cfg.origin[size_t(XlKey::maxvcpus)].source, 2u);
    EXPECT_EQ(cfg.origin[size_t(XlKey::maxvcpus)].line, 2u);
    EXPECT_EQ(diag.warning_count, 0u);
    // Repeats within one override are warned about like repeats in the file.
    ASSERT_TRUE(parse_with("", {"memory=1; memory=2"}).ok()) << error();
    EXPECT_EQ(warnings(),
              std::vector<std::string>{"override 1 line 1: memory: set again on line 1; the last setting wins"});
}

TEST_F(XlCfgTest, OverrideErrors)
{
    lib::Status s = parse_with("memory = 256\n", {"vcpus=2", "memory=\"lots\""});
    EXPECT_EQ(s.error(), lib::Error::invalid);
    EXPECT_EQ(error(), "override 2 line 1: memory: expected a number, got \"lots\"");
    // xl reads overrides as configuration text: strings need quotes there too.
    s = parse_with("", {"name=web"});
    EXPECT_EQ(s.error(), lib::Error::invalid);
    EXPECT_EQ(error(),
              "override 1 line 1: name: expected a value (a \"string\", a number or a [list]), got web (strings need "
              "quotes)");
    s = parse_with("", {"memory"});
    EXPECT_EQ(error(), "override 1 line 1: memory: expected '=' after the key, got the end of the input");
}

TEST_F(XlCfgTest, ApplyOverrideToAParsedConfig)
{
    expect_ok("name = \"g\"\nmemory = 512\nroot = \"/dev/xvda1\"\ncmdline = \"console=hvc0\"\n");
    EXPECT_EQ(diag.warning_count, 1u);  // cmdline wins over root
    ASSERT_TRUE(apply_xl_cfg_override("maxmem=1024", cfg, diag).ok()) << error();
    EXPECT_EQ(cfg.memory_mib, 512u);
    EXPECT_EQ(cfg.maxmem_mib, 1024u);
    ASSERT_TRUE(apply_xl_cfg_override("memory = 2048", cfg, diag, 2).ok()) << error();
    EXPECT_EQ(cfg.memory_mib, 2048u);
    EXPECT_EQ(cfg.maxmem_mib, 1024u);  // given, so no longer derived (validation reports it)
    ASSERT_TRUE(apply_xl_cfg_override("cmdline += ' quiet'; disk=['a.img,raw,xvda']", cfg, diag, 3).ok()) << error();
    EXPECT_STREQ(cfg.kernel_cmdline, "console=hvc0 quiet");
    EXPECT_EQ(cfg.disk_count, 1u);
    // Warnings are kept across calls. Calls that leave cmdline alone do not
    // repeat its warning; one that sets it again warns where it did.
    EXPECT_EQ(warnings(), (std::vector<std::string>{
                              "config line 4: cmdline: ignoring root and extra in favour of cmdline",
                              "override 3 line 1: cmdline: ignoring root and extra in favour of cmdline",
                          }));

    // A syntax error leaves the configuration as it was.
    lib::Status s = apply_xl_cfg_override("vcpus = 4; memory = \"12", cfg, diag, 5);
    EXPECT_EQ(s.error(), lib::Error::invalid);
    EXPECT_EQ(error(), "override 5 line 1: memory: unterminated string: no closing \" on this line");
    EXPECT_EQ(cfg.vcpus, 1u);
    EXPECT_EQ(cfg.memory_mib, 2048u);
    s = apply_xl_cfg_override("cpus=\"1000\"", cfg, diag, 6);
    EXPECT_EQ(s.error(), lib::Error::out_of_range);
    EXPECT_EQ(error(), "override 6 line 1: cpus: CPU 1000 is out of range (at most 255)");
    // The next successful call clears the error.
    ASSERT_TRUE(apply_xl_cfg_override("vcpus=2", cfg, diag, 7).ok());
    EXPECT_FALSE(diag.has_error);
    EXPECT_EQ(cfg.maxvcpus, 2u);
}

// ------------------------------------------------------------ validation

TEST_F(XlCfgTest, ValidateAcceptsACompletePvhGuest)
{
    expect_ok("name = \"web\"\ntype = \"pvh\"\nkernel = \"/boot/vmlinuz\"\nmemory = 512\nmaxmem = 1024\nvcpus = 2\n"
              "maxvcpus = 4\ndisk = [ 'web.qcow2,qcow2,xvda', 'data.vhd,vhd,xvdb', '/iso/a.iso,,hdc,cdrom', "
              "',,hdd:cdrom,r' ]\nvif = [ 'mac=00:16:3e:00:00:01', 'mac=00:16:3e:00:00:02', '', '' ]\n");
    lib::Status s = validate();
    EXPECT_TRUE(s.ok()) << error();
    EXPECT_FALSE(diag.has_error);
}

TEST_F(XlCfgTest, ValidateErrors)
{
    struct Case {
        const char* text;
        lib::Error code;
        const char* msg;
    } cases[] = {
        {"type = \"hvm\"\n", lib::Error::invalid, "config: name: a domain name is required (name = \"...\")"},
        {"name = \"\"\ntype = \"hvm\"\n", lib::Error::invalid, "config line 1: name: the domain name is empty"},
        {"name = \"g\"\n", lib::Error::invalid,
         "config: kernel: a pv guest needs a kernel (kernel = \"/path/to/image\")"},
        {"name = \"g\"\ntype = \"pvh\"\n", lib::Error::invalid,
         "config line 2: kernel: a pvh guest needs a kernel (kernel = \"/path/to/image\")"},
        {"name = \"g\"\ntype = \"pvh\"\nkernel = \"\"\n", lib::Error::invalid,
         "config line 3: kernel: a pvh guest needs a kernel (kernel = \"/path/to/image\")"},
        {"name = \"g\"\ntype = \"hvm\"\nmemory = 0\n", lib::Error::invalid,
         "config line 3: memory: memory must be more than 0 MiB"},
        {"name = \"g\"\ntype = \"hvm\"\nmemory = 1024\nmaxmem = 512\n", lib::Error::invalid,
         "config line 4: maxmem: maxmem (512 MiB) is less than memory (1024 MiB)"},
        {"name = \"g\"\ntype = \"hvm\"\nvcpus = 0\n", lib::Error::out_of_range,
         "config line 3: vcpus: vcpus must be 1..64, got 0"},
        {"name = \"g\"\ntype = \"hvm\"\nvcpus = 65\n", lib::Error::out_of_range,
         "config line 3: vcpus: vcpus must be 1..64, got 65"},
        {"name = \"g\"\ntype = \"hvm\"\nvcpus = 4\nmaxvcpus = 2\n", lib::Error::invalid,
         "config line 4: maxvcpus: maxvcpus (2) is less than vcpus (4)"},
        {"name = \"g\"\ntype = \"hvm\"\nmaxvcpus = 65\n", lib::Error::out_of_range,
         "config line 3: maxvcpus: maxvcpus must be at most 64, got 65"},
        {"name = \"g\"\ntype = \"hvm\"\ndisk = [ 'a.qcow,qcow,xvda' ]\n", lib::Error::unsupported,
         "config line 3: disk: disk 1 (xvda): format qcow is not supported (raw, qcow2 or vhd)"},
        {"name = \"g\"\ntype = \"hvm\"\ndisk = [ 'a.img,,xvda', 'b.qed,qed,xvdb' ]\n", lib::Error::unsupported,
         "config line 3: disk: disk 2 (xvdb): format qed is not supported (raw, qcow2 or vhd)"},
        {"name = \"g\"\ntype = \"hvm\"\ndisk = [ ',,xvda' ]\n", lib::Error::invalid,
         "config line 3: disk: disk 1 (xvda): a disk needs a target"},
        {"name = \"g\"\ntype = \"hvm\"\ndisk = [ 'a.img,,vda' ]\n", lib::Error::invalid,
         "config line 3: disk: disk 1 (vda): \"vda\" is not a virtual device name like xvda, hda, sda or d0p1"},
        {"name = \"g\"\ntype = \"hvm\"\ndisk = [ 'a.img,,xvda', 'b.img,,xvdb', 'c.img,,xvda' ]\n",
         lib::Error::invalid, "config line 3: disk: disk 3 (xvda): vdev also used by disk 1"},
        {"name = \"g\"\ntype = \"hvm\"\nvif = [ 'mac=00:16:3e:00:00:01', '', 'mac=00:16:3E:00:00:01' ]\n",
         lib::Error::invalid, "config line 3: vif: vif 3: MAC address also used by vif 1"},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.text);
        ASSERT_TRUE(parse(c.text).ok()) << error();
        lib::Status s = validate();
        ASSERT_FALSE(s.ok());
        EXPECT_EQ(s.error(), c.code);
        EXPECT_EQ(error(), c.msg);
    }
}

TEST_F(XlCfgTest, ValidateVdevNames)
{
    for (const char* ok : {"xvda", "xvdz", "xvdaa", "xvdb1", "xvda15", "hda", "hdd", "hdb3", "sda", "sdp", "sdp15",
                           "d0", "d0p1", "d12p3"}) {
        ASSERT_TRUE(parse(std::string("name='g'\ntype='hvm'\ndisk=['a.img,raw,") + ok + "']\n").ok()) << ok;
        EXPECT_TRUE(validate().ok()) << ok << ": " << error();
    }
    for (const char* bad :
         {"hde", "sdq", "xvd", "xvd1", "xvdA", "vda", "d", "dp1", "d01", "d1p", "xvda01", "xvdaaaaa"}) {
        ASSERT_TRUE(parse(std::string("name='g'\ntype='hvm'\ndisk=['a.img,raw,") + bad + "']\n").ok()) << bad;
        lib::Status s = validate();
        EXPECT_EQ(s.error(), lib::Error::invalid) << bad;
    }
}

TEST_F(XlCfgTest, ValidateWarnsAboutUnusedCpusEntries)
{
    ASSERT_TRUE(parse("name='g'\ntype='hvm'\nvcpus=2\ncpus=['0','1','2']\n").ok()) << error();
    EXPECT_TRUE(validate().ok()) << error();
    EXPECT_EQ(warnings(),
              std::vector<std::string>{"config line 4: cpus: 3 entries for 2 vCPUs; the extra entries are ignored"});
}

// ------------------------------------------------------------ formatter

TEST_F(XlCfgTest, MessageFormatting)
{
    CfgMessage m;
    lib::copy_cstr(m.text, sizeof m.text, "something happened");
    EXPECT_EQ(message(m), "config: something happened");
    m.where.line = 3;
    EXPECT_EQ(message(m), "config line 3: something happened");
    lib::copy_cstr(m.key, sizeof m.key, "memory");
    EXPECT_EQ(message(m), "config line 3: memory: something happened");
    m.where.source = 2;
    EXPECT_EQ(message(m), "override 2 line 3: memory: something happened");
    m.where.line = 0;
    EXPECT_EQ(message(m), "override 2: memory: something happened");

    char small[10];
    size_t n = format_cfg_message(m, small, sizeof small);
    EXPECT_EQ(n, std::string("override 2: memory: something happened").size());
    EXPECT_STREQ(small, "override ");
}

TEST_F(XlCfgTest, NamesOfEnums)
{
    EXPECT_STREQ(domain_type_name(DomainType::pvh), "pvh");
    EXPECT_STREQ(disk_format_name(DiskFormat::empty), "empty");
    EXPECT_STREQ(xl_key_name(XlKey::directed_yield), "directed_yield");
    EXPECT_STREQ(xl_key_name(XlKey::count), "?");
}

}  // namespace

// modules= (hypervisor-specific): Multiboot modules in order, each "PATH
// [CMDLINE]"; a string is a list of one. Bad inputs: an empty entry, nine
// entries, a nested list, an overlong entry.
TEST_F(XlCfgTest, Modules)
{
    ASSERT_TRUE(parse("modules = [ \"guests/a.bin first arg\", 'guests/b' ]\n").ok());
    ASSERT_EQ(cfg.module_count, 2u);
    EXPECT_STREQ(cfg.modules[0], "guests/a.bin first arg");
    EXPECT_STREQ(cfg.modules[1], "guests/b");
    ASSERT_TRUE(parse("modules = \"guests/only\"\n").ok());
    ASSERT_EQ(cfg.module_count, 1u);
    EXPECT_STREQ(cfg.modules[0], "guests/only");
    expect_error("modules = [ \"\" ]\n", lib::Error::invalid, "config line 1: modules: a module needs a file name");
    std::string nine = "modules = [";
    for (int i = 0; i < 9; ++i) nine += std::string(i ? "," : "") + " \"m" + std::to_string(i) + "\"";
    expect_error(nine + " ]\n", lib::Error::out_of_range, "config line 1: modules: too many modules (at most 8)");
    expect_error("modules = [ [ \"x\" ] ]\n", lib::Error::invalid,
                 "config line 1: modules: expected a string in the list, got a nested [list]");
    expect_error("modules = \"" + std::string(300, 'm') + "\"\n", lib::Error::out_of_range,
                 "config line 1: modules: value too long (300 bytes, at most 255)");
}

// The words of `xl block-attach` and `xl network-attach`: one specification
// over several words, read as if joined with commas (a word that already
// ends with one gets no second: no empty positional parameter), and the
// same errors as in a config file, without a line.
TEST(XlAttachSpecs, DiskWordsJoinLikeXlMultistring)
{
    auto disk = [](std::initializer_list<const char*> ws, DiskConfig& d, CfgDiagnostics& diag) {
        std::vector<lib::StrView> v;
        for (const char* w : ws) v.emplace_back(w);
        return parse_disk_spec(v.data(), v.size(), d, diag);
    };
    DiskConfig d;
    CfgDiagnostics diag;
    ASSERT_TRUE(disk({"format=raw,", "vdev=xvdb,", "access=ro,", "target=a.raw"}, d, diag).ok()) << diag.error.text;
    EXPECT_STREQ(d.vdev, "xvdb");
    EXPECT_STREQ(d.target, "a.raw");
    EXPECT_FALSE(d.readwrite);
    ASSERT_TRUE(disk({"format=qcow2", "vdev=xvdc", "access=ro", "target=b.qcow2"}, d, diag).ok()) << diag.error.text;
    EXPECT_EQ(d.format, DiskFormat::qcow2);
    EXPECT_STREQ(d.target, "b.qcow2");
    ASSERT_TRUE(disk({"c.img,raw,xvdd,r"}, d, diag).ok()) << diag.error.text;
    EXPECT_STREQ(d.target, "c.img");
    EXPECT_STREQ(d.vdev, "xvdd");
    ASSERT_TRUE(disk({"c.img", "", "raw", "xvdd"}, d, diag).ok()) << "an empty word is skipped";
    EXPECT_STREQ(d.vdev, "xvdd");
    // target= takes the rest, as in a disk= entry: put it last.
    EXPECT_FALSE(disk({"target=d.img", "vdev=xvde"}, d, diag).ok());
    EXPECT_STREQ(d.target, "d.img,vdev=xvde");
    EXPECT_NE(std::string(diag.error.text).find("no vdev specified"), std::string::npos) << diag.error.text;
    EXPECT_FALSE(disk({}, d, diag).ok());
    EXPECT_TRUE(diag.has_error);
    EXPECT_FALSE(disk({"format=raw", "target=x"}, d, diag).ok());
    EXPECT_STREQ(diag.error.text, "no vdev specified in \"format=raw,target=x\"");
    EXPECT_EQ(diag.error.where.line, 0u);
    std::string huge(600, 'a');
    EXPECT_EQ(disk({"vdev=xvdb", huge.c_str()}, d, diag).error(), lib::Error::out_of_range);
    EXPECT_NE(std::string(diag.error.text).find("too long"), std::string::npos) << diag.error.text;
}

TEST(XlAttachSpecs, VifWordsAndMacs)
{
    auto vif = [](std::initializer_list<const char*> ws, VifConfig& v, CfgDiagnostics& diag) {
        std::vector<lib::StrView> w;
        for (const char* s : ws) w.emplace_back(s);
        return parse_vif_spec(w.data(), w.size(), v, diag);
    };
    VifConfig v;
    CfgDiagnostics diag;
    ASSERT_TRUE(vif({}, v, diag).ok()) << "no words: every default";
    EXPECT_FALSE(v.has_mac);
    ASSERT_TRUE(vif({"mac=00:16:3e:00:00:42", "bridge=xenbr0", "vifname=web-lan"}, v, diag).ok()) << diag.error.text;
    EXPECT_TRUE(v.has_mac);
    EXPECT_EQ(v.mac[5], 0x42);
    EXPECT_STREQ(v.bridge, "xenbr0");
    EXPECT_STREQ(v.vifname, "web-lan");
    EXPECT_FALSE(vif({"mac=00:16:3e:00:00:42", "rate=10Mb/s"}, v, diag).ok());
    EXPECT_NE(std::string(diag.error.text).find("rate=10Mb/s"), std::string::npos) << diag.error.text;
    EXPECT_FALSE(vif({"mac=ff:ff:ff:ff:ff:ff"}, v, diag).ok());
    uint8_t mac[6];
    EXPECT_TRUE(parse_mac_address("00:16:3e:0a:Bc:01", mac));
    EXPECT_EQ(mac[4], 0xbc);
    EXPECT_FALSE(parse_mac_address("00:16:3e:0a:bc", mac));
    EXPECT_FALSE(parse_mac_address("00-16-3e-0a-bc-01", mac));
}
