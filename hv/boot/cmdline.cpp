#include "hv/boot/cmdline.hpp"

namespace hv::boot {
namespace {

using lib::StrView;

constexpr uint16_t com_ports[4] = {0x3f8, 0x2f8, 0x3e8, 0x2e8};  // legacy PC COM1-COM4
constexpr uint32_t uart_clock_baud = 115200;                     // 1.8432 MHz / 16

constexpr char lower(char c) { return c >= 'A' && c <= 'Z' ? char(c - 'A' + 'a') : c; }

// Option names: '-' and '_' are interchangeable (dom0-mem == dom0_mem).
bool name_is(StrView name, StrView want)
{
    if (name.size() != want.size()) return false;
    for (size_t i = 0; i < name.size(); ++i) {
        char a = name[i] == '-' ? '_' : name[i];
        char b = want[i] == '-' ? '_' : want[i];
        if (a != b) return false;
    }
    return true;
}

// Keyword values compare case-insensitively (iommu=Off, console=COM1).
bool value_is(StrView v, StrView want)
{
    if (v.size() != want.size()) return false;
    for (size_t i = 0; i < v.size(); ++i)
        if (lower(v[i]) != lower(want[i])) return false;
    return true;
}

// Length for "%.*s": long tokens are cut so the option name still fits the
// log line.
int sz(StrView s) { return s.size() > 64 ? 64 : int(s.size()); }

void warn_bad_value(StrView name, StrView value)
{
    LOG_WARN("hv: bad value '%.*s' for option '%.*s', keeping the default", sz(value), value.data(), sz(name),
             name.data());
}

// A URI scheme: a letter, then letters/digits/+/-/., then "://".
bool has_uri_scheme(StrView t)
{
    size_t i = 0;
    if (t.empty() || !(lower(t[0]) >= 'a' && lower(t[0]) <= 'z')) return false;
    while (i < t.size()) {
        char c = lower(t[i]);
        if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.') {
            ++i;
            continue;
        }
        break;
    }
    return t.substr(i).starts_with("://");
}

// QEMU -kernel puts the image file name first, iPXE the whole URI; GRUB
// passes only the arguments.
bool is_image_name(StrView t)
{
    if (has_uri_scheme(t)) return true;
    if (t.find('=') != StrView::npos) return false;
    return t.find('/') != StrView::npos || t.ends_with(".elf") || t.ends_with(".elf32") || t.ends_with(".gz");
}

bool valid_baud(uint64_t b) { return b > 0 && b <= uart_clock_baud && uart_clock_baud % b == 0; }

// Per-COM settings from com1=..com4=, applied to whichever port console= picks.
struct ComSetting {
    uint32_t baud = 0;  // 0 = not given
    uint16_t port = 0;  // 0 = legacy default
};

struct Parser {
    CmdLine cl;
    ComSetting com[4];
    int console_com = 0;          // index into com_ports
    uint32_t console_baud = 0;    // 0 = not given on console=
    bool console_serial_seen = false;

    // "com1".."com4" or Linux's "ttyS0".."ttyS3": index, or -1.
    static int serial_index(StrView d)
    {
        if (d.size() == 4 && value_is(d.substr(0, 3), "com") && d[3] >= '1' && d[3] <= '4') return d[3] - '1';
        if (d.size() == 5 && d.starts_with("ttyS") && d[4] >= '0' && d[4] <= '3') return d[4] - '0';
        return -1;
    }

    // <baud>[n8|8n1]: returns the baud rate or 0.
    static uint32_t parse_baud_item(StrView v)
    {
        if (v.ends_with("8n1") && v.size() > 3) v = v.substr(0, v.size() - 3);
        else if (v.ends_with("n8")) v = v.substr(0, v.size() - 2);
        auto b = lib::parse_u64(v);
        return b && valid_baud(*b) ? uint32_t(*b) : 0;
    }

    // console=<dev>[,<dev or baud>]...
    void console(StrView name, StrView value)
    {
        if (value.empty()) return warn_bad_value(name, value);
        StrView rest = value;
        while (!rest.empty()) {
            StrView item = rest.split_first(',');
            int idx = serial_index(item);
            if (idx >= 0) {
                if (console_serial_seen && idx != console_com)
                    LOG_WARN("hv: only one serial console is supported, '%.*s' ignored", sz(item), item.data());
                else {
                    console_com = idx;
                    cl.console.enabled = true;
                }
                console_serial_seen = true;
            } else if (value_is(item, "none")) {
                cl.console.enabled = false;
            } else if (value_is(item, "vga")) {
                LOG_WARN("hv: console 'vga' is not supported (serial only), ignored");
            } else if (value_is(item, "8n1") || value_is(item, "n8")) {
                // framing is always 8n1
            } else if (item.size() && item[0] >= '0' && item[0] <= '9') {
                uint32_t b = parse_baud_item(item);
                if (b) console_baud = b;
                else warn_bad_value(name, item);
            } else {
                warn_bad_value(name, item);
            }
        }
    }

    // Xen: com<N>=<baud>[/<clock>][,<DPS>][,<io-base>][,<irq>...]
    void com_option(int idx, StrView name, StrView value)
    {
        ComSetting s = com[idx];
        StrView rest = value;
        StrView baud = rest.split_first(',');
        if (baud.find('/') != StrView::npos) {
            LOG_WARN("hv: option '%.*s': UART clock override not supported, ignored", sz(name), name.data());
            baud = baud.substr(0, baud.find('/'));
        }
        if (!value_is(baud, "auto") && !baud.empty()) {
            auto b = lib::parse_u64(baud);
            if (!b || !valid_baud(*b)) return warn_bad_value(name, value);
            s.baud = uint32_t(*b);
        }
        StrView dps = rest.split_first(',');
        if (!dps.empty() && !value_is(dps, "8n1")) {
            LOG_WARN("hv: option '%.*s': only 8n1 framing is supported, '%.*s' ignored", sz(name), name.data(),
                     sz(dps), dps.data());
        }
        StrView base = rest.split_first(',');
        if (!base.empty()) {
            auto p = lib::parse_u64(base);
            if (!p || *p == 0 || *p > 0xfff8) return warn_bad_value(name, value);
            s.port = uint16_t(*p);
        }
        if (!rest.empty())
            LOG_WARN("hv: option '%.*s': settings '%.*s' not supported, ignored", sz(name), name.data(),
                     sz(rest), rest.data());
        com[idx] = s;
    }

    void loglevel(StrView name, StrView value)
    {
        StrView v = value;
        v = v.split_first('/');  // Xen's <level>/<rate-limited level>: the second has no meaning here
        static constexpr struct {
            const char* word;
            lib::LogLevel level;
        } words[] = {
            {"error", lib::LogLevel::error}, {"0", lib::LogLevel::error}, {"warn", lib::LogLevel::warn},
            {"warning", lib::LogLevel::warn}, {"1", lib::LogLevel::warn},  {"info", lib::LogLevel::info},
            {"2", lib::LogLevel::info},       {"debug", lib::LogLevel::debug}, {"3", lib::LogLevel::debug},
            {"all", lib::LogLevel::debug},
        };
        for (const auto& w : words)
            if (value_is(v, w.word)) {
                cl.loglevel = w.level;
                return;
            }
        warn_bad_value(name, value);
    }

    void dom0_mem(StrView name, StrView value)
    {
        if (value.empty()) return warn_bad_value(name, value);
        uint64_t amount = cl.dom0_mem, min = cl.dom0_mem_min, max = cl.dom0_mem_max;
        StrView rest = value;
        while (!rest.empty()) {
            StrView item = rest.split_first(',');
            uint64_t* dst = &amount;
            if (item.starts_with("min:")) {
                dst = &min;
                item = item.substr(4);
            } else if (item.starts_with("max:")) {
                dst = &max;
                item = item.substr(4);
            }
            if (item.starts_with("-")) {
                LOG_WARN("hv: option '%.*s': sizes relative to host memory ('%.*s') not supported", sz(name),
                         name.data(), sz(item), item.data());
                return;
            }
            auto s = lib::parse_size(item);
            if (!s || *s == 0) return warn_bad_value(name, value);
            *dst = *s;
        }
        cl.dom0_mem = amount;
        cl.dom0_mem_min = min;
        cl.dom0_mem_max = max;
    }

    void iommu(StrView name, StrView value)
    {
        IommuMode mode = cl.iommu;
        StrView rest = value;
        if (rest.empty()) rest = "on";  // bare "iommu" enables it, like any Xen boolean
        while (!rest.empty()) {
            StrView item = rest.split_first(',');
            if (value_is(item, "on") || value_is(item, "1") || value_is(item, "true") || value_is(item, "yes") ||
                value_is(item, "enable"))
                mode = IommuMode::on;
            else if (value_is(item, "off") || value_is(item, "0") || value_is(item, "false") ||
                     value_is(item, "no") || value_is(item, "disable"))
                mode = IommuMode::off;
            else if (value_is(item, "force") || value_is(item, "required"))
                mode = IommuMode::force;
            else if (value_is(item, "verbose") || value_is(item, "debug"))
                ;  // diagnostics: accepted, nothing to switch
            else
                return warn_bad_value(name, item);
        }
        cl.iommu = mode;
    }

    void sched(StrView name, StrView value)
    {
        if (value == "credit") return;
        if (value.empty()) return warn_bad_value(name, value);
        LOG_WARN("hv: scheduler '%.*s' not available, using 'credit'", sz(value), value.data());
    }

    void maxcpus(StrView name, StrView value)
    {
        auto n = lib::parse_u64(value);
        if (!n || *n > UINT32_MAX) return warn_bad_value(name, value);
        if (*n == 0) {
            // Linux's maxcpus=0: boot processor only.
            LOG_INFO("hv: maxcpus=0: starting the boot CPU only");
            cl.maxcpus = 1;
            return;
        }
        cl.maxcpus = uint32_t(*n);
    }

    void option(StrView token)
    {
        StrView value = token;
        StrView name = value.split_first('=');
        bool has_value = token.find('=') != StrView::npos;
        if (name_is(name, "console")) return console(name, value);
        if (name_is(name, "loglevel")) return loglevel(name, value);
        if (name_is(name, "dom0_mem")) return dom0_mem(name, value);
        if (name_is(name, "iommu")) return iommu(name, value);
        if (name_is(name, "sched")) return sched(name, value);
        if (name_is(name, "maxcpus")) return maxcpus(name, value);
        if (name_is(name, "selftest")) {
            // Deliberate-fault tests (hv/selftest.hpp): the name is checked there.
            lib::copy_cstr(cl.selftest, sizeof cl.selftest, value);
            return;
        }
        if (name_is(name, "nosmp")) {
            if (has_value) return warn_bad_value(name, value);
            cl.maxcpus = 1;
            return;
        }
        int idx = serial_index(name);
        if (idx >= 0 && name.starts_with("com")) return com_option(idx, name, value);
        LOG_WARN("hv: unknown option '%.*s' ignored", sz(name), name.data());
    }

    void finish()
    {
        const ComSetting& s = com[console_com];
        cl.console.port = s.port ? s.port : com_ports[console_com];
        cl.console.baud = console_baud ? console_baud : s.baud ? s.baud : uart_clock_baud;
    }
};

}  // namespace

CmdLine parse_cmdline(StrView text)
{
    Parser p;
    bool first = true;
    size_t i = 0;
    while (i < text.size()) {
        while (i < text.size() && StrView::is_space(text[i])) ++i;
        size_t start = i;
        while (i < text.size() && !StrView::is_space(text[i]) && text[i] != '\0') ++i;
        if (i == start) {
            if (i < text.size()) ++i;  // a stray NUL: skip it
            continue;
        }
        StrView token = text.substr(start, i - start);
        if (first && is_image_name(token)) {
            first = false;
            continue;
        }
        first = false;
        p.option(token);
    }
    p.finish();
    return p.cl;
}

}  // namespace hv::boot
