// Hypervisor command-line parsing: every option form, the image name that
// QEMU/iPXE put first, and bad input that must be warned about by name
// while the default is kept.
#include <gtest/gtest.h>

#include "hv/boot/cmdline.hpp"
#include "tests/unit/host_log.hpp"

using hv::boot::CmdLine;
using hv::boot::IommuMode;
using hv::boot::parse_cmdline;
using lib::LogLevel;

namespace {

class CmdLineTest : public ::testing::Test {
protected:
    void SetUp() override { test::log_clear(); }
};

TEST_F(CmdLineTest, EmptyGivesDefaults)
{
    CmdLine c = parse_cmdline("");
    EXPECT_TRUE(c.console.enabled);
    EXPECT_EQ(c.console.port, 0x3f8);
    EXPECT_EQ(c.console.baud, 115200u);
    EXPECT_EQ(c.loglevel, LogLevel::info);
    EXPECT_EQ(c.dom0_mem, 0u);
    EXPECT_EQ(c.iommu, IommuMode::on);
    EXPECT_STREQ(c.sched, "credit");
    EXPECT_EQ(c.maxcpus, 0u);
    EXPECT_TRUE(test::log_lines().empty());
    c = parse_cmdline(" \t\n ");
    EXPECT_TRUE(test::log_lines().empty());
}

TEST_F(CmdLineTest, GrubStyleAllOptions)
{
    CmdLine c = parse_cmdline("console=com2,57600n8 loglevel=debug dom0_mem=2G iommu=force sched=credit maxcpus=4");
    EXPECT_TRUE(c.console.enabled);
    EXPECT_EQ(c.console.port, 0x2f8);
    EXPECT_EQ(c.console.baud, 57600u);
    EXPECT_EQ(c.loglevel, LogLevel::debug);
    EXPECT_EQ(c.dom0_mem, 2ull << 30);
    EXPECT_EQ(c.iommu, IommuMode::force);
    EXPECT_EQ(c.maxcpus, 4u);
    EXPECT_TRUE(test::log_lines().empty());
}

// The image name first: a path (QEMU -kernel), a URI (iPXE, even one with
// a query string containing '='), a bare file name ending .elf/.elf32/.gz.
TEST_F(CmdLineTest, ImageNameFirstTokenSkipped)
{
    for (const char* line : {"/boot/hv.elf loglevel=warn", "hv.elf32 loglevel=warn", "hv.gz loglevel=warn",
                             "tftp://10.0.2.2/hv.elf loglevel=warn", "http://boot.example/hv.elf32?a=b loglevel=warn",
                             "  boot/hv loglevel=warn"}) {
        test::log_clear();
        CmdLine c = parse_cmdline(line);
        EXPECT_EQ(c.loglevel, LogLevel::warn) << line;
        EXPECT_TRUE(test::log_lines().empty()) << line;
    }
    // Only the first token is an image name: a path later is an unknown option.
    parse_cmdline("loglevel=warn /boot/hv.elf");
    EXPECT_TRUE(test::log_contains("unknown option '/boot/hv.elf' ignored"));
    // A first token that is an option is not skipped.
    EXPECT_EQ(parse_cmdline("maxcpus=2").maxcpus, 2u);
}

TEST_F(CmdLineTest, ConsoleForms)
{
    CmdLine c = parse_cmdline("console=com3");
    EXPECT_EQ(c.console.port, 0x3e8);
    EXPECT_EQ(c.console.baud, 115200u);
    c = parse_cmdline("console=com4,9600");
    EXPECT_EQ(c.console.port, 0x2e8);
    EXPECT_EQ(c.console.baud, 9600u);
    c = parse_cmdline("console=com1,38400,8n1");
    EXPECT_EQ(c.console.baud, 38400u);
    c = parse_cmdline("console=com1,19200 8n1");  // stray 8n1 token: unknown option
    EXPECT_EQ(c.console.baud, 19200u);
    c = parse_cmdline("console=ttyS1,115200n8");  // Linux spelling
    EXPECT_EQ(c.console.port, 0x2f8);
    c = parse_cmdline("console=COM2");
    EXPECT_EQ(c.console.port, 0x2f8);
    c = parse_cmdline("console=none");
    EXPECT_FALSE(c.console.enabled);
    test::log_clear();
    c = parse_cmdline("console=com1,vga");  // Xen's usual line
    EXPECT_TRUE(c.console.enabled);
    EXPECT_EQ(c.console.port, 0x3f8);
    EXPECT_TRUE(test::log_contains("console 'vga' is not supported"));
}

// Bad input: unknown device, baud that the 1.8432 MHz UART cannot make,
// non-numeric baud, empty value, a second serial device.
TEST_F(CmdLineTest, ConsoleBadValuesWarned)
{
    CmdLine c = parse_cmdline("console=dtuart");
    EXPECT_EQ(c.console.port, 0x3f8);
    EXPECT_TRUE(test::log_contains("bad value 'dtuart' for option 'console'"));
    c = parse_cmdline("console=com1,56000");
    EXPECT_EQ(c.console.baud, 115200u);
    EXPECT_TRUE(test::log_contains("bad value '56000' for option 'console'"));
    c = parse_cmdline("console=com1,9x00");
    EXPECT_EQ(c.console.baud, 115200u);
    EXPECT_TRUE(test::log_contains("bad value '9x00' for option 'console'"));
    c = parse_cmdline("console=");
    EXPECT_TRUE(test::log_contains("bad value '' for option 'console'"));
    c = parse_cmdline("console=com2,com1");
    EXPECT_EQ(c.console.port, 0x2f8);
    EXPECT_TRUE(test::log_contains("only one serial console is supported, 'com1' ignored"));
}

TEST_F(CmdLineTest, XenComOption)
{
    CmdLine c = parse_cmdline("com1=57600,8n1 console=com1");
    EXPECT_EQ(c.console.port, 0x3f8);
    EXPECT_EQ(c.console.baud, 57600u);
    c = parse_cmdline("console=com2 com2=9600,8n1,0x2e0");  // order does not matter
    EXPECT_EQ(c.console.port, 0x2e0);
    EXPECT_EQ(c.console.baud, 9600u);
    c = parse_cmdline("com1=auto,,0x3e8");
    EXPECT_EQ(c.console.port, 0x3e8);
    EXPECT_EQ(c.console.baud, 115200u);
    c = parse_cmdline("com2=19200 console=com1");  // com2 settings do not touch com1
    EXPECT_EQ(c.console.baud, 115200u);
    c = parse_cmdline("com1=19200 console=com1,38400");  // console= baud wins
    EXPECT_EQ(c.console.baud, 38400u);
    EXPECT_TRUE(test::log_lines().empty());
}

// Bad input: bad baud, bad io-base, 7e1 framing, clock override, extra
// fields (irq).
TEST_F(CmdLineTest, XenComOptionBadValues)
{
    CmdLine c = parse_cmdline("com1=fast");
    EXPECT_EQ(c.console.baud, 115200u);
    EXPECT_TRUE(test::log_contains("bad value 'fast' for option 'com1'"));
    c = parse_cmdline("com1=9600,8n1,0x10000");
    EXPECT_EQ(c.console.port, 0x3f8);
    EXPECT_EQ(c.console.baud, 115200u);  // the whole option is rejected
    EXPECT_TRUE(test::log_contains("bad value '9600,8n1,0x10000' for option 'com1'"));
    c = parse_cmdline("com1=9600,7e1");
    EXPECT_EQ(c.console.baud, 9600u);
    EXPECT_TRUE(test::log_contains("only 8n1 framing is supported, '7e1' ignored"));
    c = parse_cmdline("com1=9600/1843200");
    EXPECT_EQ(c.console.baud, 9600u);
    EXPECT_TRUE(test::log_contains("UART clock override not supported"));
    c = parse_cmdline("com1=9600,8n1,0x3f8,4");
    EXPECT_TRUE(test::log_contains("settings '4' not supported"));
}

TEST_F(CmdLineTest, LogLevels)
{
    struct {
        const char* v;
        LogLevel l;
    } cases[] = {{"error", LogLevel::error}, {"warn", LogLevel::warn},   {"warning", LogLevel::warn},
                 {"info", LogLevel::info},   {"debug", LogLevel::debug}, {"all", LogLevel::debug},
                 {"0", LogLevel::error},     {"1", LogLevel::warn},      {"2", LogLevel::info},
                 {"3", LogLevel::debug},     {"ALL", LogLevel::debug},   {"all/warn", LogLevel::debug}};
    for (auto& k : cases) {
        std::string line = std::string("loglevel=") + k.v;
        EXPECT_EQ(parse_cmdline(line.c_str()).loglevel, k.l) << line;
    }
    EXPECT_TRUE(test::log_lines().empty());
    // Bad input: out-of-range number, unknown word, missing value.
    EXPECT_EQ(parse_cmdline("loglevel=4").loglevel, LogLevel::info);
    EXPECT_TRUE(test::log_contains("bad value '4' for option 'loglevel'"));
    EXPECT_EQ(parse_cmdline("loglevel=loud").loglevel, LogLevel::info);
    EXPECT_TRUE(test::log_contains("bad value 'loud' for option 'loglevel'"));
    EXPECT_EQ(parse_cmdline("loglevel").loglevel, LogLevel::info);
    EXPECT_TRUE(test::log_contains("bad value '' for option 'loglevel'"));
}

TEST_F(CmdLineTest, Dom0Mem)
{
    EXPECT_EQ(parse_cmdline("dom0_mem=512M").dom0_mem, 512ull << 20);
    EXPECT_EQ(parse_cmdline("dom0-mem=1g").dom0_mem, 1ull << 30);  // '-' for '_', like Xen
    EXPECT_EQ(parse_cmdline("dom0_mem=65536K").dom0_mem, 64ull << 20);
    EXPECT_EQ(parse_cmdline("dom0_mem=1073741824").dom0_mem, 1ull << 30);
    CmdLine c = parse_cmdline("dom0_mem=1024M,max:2G,min:512M");
    EXPECT_EQ(c.dom0_mem, 1ull << 30);
    EXPECT_EQ(c.dom0_mem_max, 2ull << 30);
    EXPECT_EQ(c.dom0_mem_min, 512ull << 20);
    EXPECT_TRUE(test::log_lines().empty());
}

// Bad input: unknown suffix, zero, overflow, relative '-', empty, a bad
// item after a good one (all of the option is rejected).
TEST_F(CmdLineTest, Dom0MemBadValues)
{
    EXPECT_EQ(parse_cmdline("dom0_mem=12Q").dom0_mem, 0u);
    EXPECT_TRUE(test::log_contains("bad value '12Q' for option 'dom0_mem'"));
    EXPECT_EQ(parse_cmdline("dom0_mem=0").dom0_mem, 0u);
    EXPECT_TRUE(test::log_contains("bad value '0' for option 'dom0_mem'"));
    EXPECT_EQ(parse_cmdline("dom0_mem=99999999999999G").dom0_mem, 0u);
    EXPECT_TRUE(test::log_contains("bad value '99999999999999G'"));
    EXPECT_EQ(parse_cmdline("dom0_mem=-512M").dom0_mem, 0u);
    EXPECT_TRUE(test::log_contains("sizes relative to host memory ('-512M') not supported"));
    EXPECT_EQ(parse_cmdline("dom0_mem=").dom0_mem, 0u);
    EXPECT_TRUE(test::log_contains("bad value '' for option 'dom0_mem'"));
    CmdLine c = parse_cmdline("dom0_mem=1G,max:lots");
    EXPECT_EQ(c.dom0_mem, 0u);
    EXPECT_EQ(c.dom0_mem_max, 0u);
    EXPECT_TRUE(test::log_contains("bad value '1G,max:lots' for option 'dom0_mem'"));
}

TEST_F(CmdLineTest, Iommu)
{
    struct {
        const char* line;
        IommuMode m;
    } cases[] = {{"iommu=on", IommuMode::on},       {"iommu=1", IommuMode::on},     {"iommu=true", IommuMode::on},
                 {"iommu=off", IommuMode::off},     {"iommu=0", IommuMode::off},    {"iommu=false", IommuMode::off},
                 {"iommu=force", IommuMode::force}, {"iommu=OFF", IommuMode::off},  {"iommu=no", IommuMode::off},
                 {"iommu", IommuMode::on},          {"iommu=force,verbose", IommuMode::force},
                 {"iommu=off iommu=on", IommuMode::on}};
    for (auto& k : cases) EXPECT_EQ(parse_cmdline(k.line).iommu, k.m) << k.line;
    EXPECT_TRUE(test::log_lines().empty());
    // Bad input: unknown word, alone and after a valid one.
    EXPECT_EQ(parse_cmdline("iommu=maybe").iommu, IommuMode::on);
    EXPECT_TRUE(test::log_contains("bad value 'maybe' for option 'iommu'"));
    EXPECT_EQ(parse_cmdline("iommu=off,sometimes").iommu, IommuMode::on);
    EXPECT_TRUE(test::log_contains("bad value 'sometimes' for option 'iommu'"));
}

TEST_F(CmdLineTest, SchedAndMaxcpus)
{
    CmdLine c = parse_cmdline("sched=credit maxcpus=64");
    EXPECT_STREQ(c.sched, "credit");
    EXPECT_EQ(c.maxcpus, 64u);
    EXPECT_TRUE(test::log_lines().empty());
    // Bad input: a scheduler that does not exist, an empty one.
    c = parse_cmdline("sched=credit2");
    EXPECT_STREQ(c.sched, "credit");
    EXPECT_TRUE(test::log_contains("scheduler 'credit2' not available, using 'credit'"));
    parse_cmdline("sched=");
    EXPECT_TRUE(test::log_contains("bad value '' for option 'sched'"));
    // Bad input: non-numeric, negative, beyond 32 bits.
    EXPECT_EQ(parse_cmdline("maxcpus=many").maxcpus, 0u);
    EXPECT_TRUE(test::log_contains("bad value 'many' for option 'maxcpus'"));
    EXPECT_EQ(parse_cmdline("maxcpus=-1").maxcpus, 0u);
    EXPECT_TRUE(test::log_contains("bad value '-1' for option 'maxcpus'"));
    EXPECT_EQ(parse_cmdline("maxcpus=4294967296").maxcpus, 0u);
    EXPECT_TRUE(test::log_contains("bad value '4294967296' for option 'maxcpus'"));
    // maxcpus=0 means the boot CPU only (Linux's meaning), nosmp likewise.
    EXPECT_EQ(parse_cmdline("maxcpus=0").maxcpus, 1u);
    EXPECT_EQ(parse_cmdline("nosmp").maxcpus, 1u);
    test::log_clear();
    EXPECT_EQ(parse_cmdline("nosmp=1").maxcpus, 0u);
    EXPECT_TRUE(test::log_contains("bad value '1' for option 'nosmp'"));
}

// Bad input: unknown options with and without values, a lone '=', stray
// NULs inside the string; the options around them still apply.
TEST_F(CmdLineTest, UnknownOptionsWarnedByName)
{
    CmdLine c = parse_cmdline("quiet loglevel=error frobnicate=7 =x noreboot");
    EXPECT_EQ(c.loglevel, LogLevel::error);
    EXPECT_TRUE(test::log_contains("hv: unknown option 'quiet' ignored"));
    EXPECT_TRUE(test::log_contains("hv: unknown option 'frobnicate' ignored"));
    EXPECT_TRUE(test::log_contains("hv: unknown option '' ignored"));
    EXPECT_TRUE(test::log_contains("hv: unknown option 'noreboot' ignored"));
    EXPECT_EQ(test::log_lines().size(), 4u);

    const char with_nul[] = "maxcpus=3\0loglevel=debug";
    c = parse_cmdline(lib::StrView(with_nul, sizeof with_nul - 1));
    EXPECT_EQ(c.maxcpus, 3u);
    EXPECT_EQ(c.loglevel, LogLevel::debug);
}

// Values that are much longer than anything expected are handled without
// truncation surprises: they are just bad values.
TEST_F(CmdLineTest, VeryLongTokens)
{
    std::string v(400, '9');
    CmdLine c = parse_cmdline(("maxcpus=" + v).c_str());
    EXPECT_EQ(c.maxcpus, 0u);
    EXPECT_TRUE(test::log_contains("for option 'maxcpus'"));
}

}  // namespace
