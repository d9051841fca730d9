#include "tools/hvimg/common.hpp"

#include <cctype>
#include <cstdio>

#include "vmm/block/qcow2/qcow2.hpp"
#include "vmm/block/vhd/vhd.hpp"

namespace hvimg {

void fail(const std::string& message, int status) { throw Failure{message, status}; }

std::string error_text(lib::Error e)
{
    switch (e) {
    case lib::Error::invalid: return "Image is not in the expected format or has an invalid header field";
    case lib::Error::truncated: return "Image is truncated: a table or header lies beyond the end of the file";
    case lib::Error::bad_checksum: return "Checksum mismatch in image metadata";
    case lib::Error::unsupported: return "Unsupported image feature";
    case lib::Error::no_memory: return "Out of memory";
    case lib::Error::not_found: return "No such file or directory";
    case lib::Error::denied: return "Permission denied (read-only image, or image marked corrupt)";
    case lib::Error::out_of_range: return "Value out of range";
    case lib::Error::io: return "I/O error";
    case lib::Error::corrupt: return "Image metadata is corrupt";
    default: return lib::error_name(e);
    }
}

void fail(const std::string& what, lib::Error e) { fail(what + ": " + error_text(e)); }

uint64_t parse_number(const std::string& s, const char* what)
{
    if (s.empty()) fail(std::string("Invalid ") + what + ": ''");
    uint64_t v = 0;
    size_t i = 0;
    int base = 10;
    if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        i = 2;
    }
    for (; i < s.size(); ++i) {
        char c = s[i];
        int d = c >= '0' && c <= '9' ? c - '0' : base == 16 && c >= 'a' && c <= 'f' ? c - 'a' + 10
                : base == 16 && c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0 || __builtin_mul_overflow(v, uint64_t(base), &v) || __builtin_add_overflow(v, uint64_t(d), &v))
            fail(std::string("Invalid ") + what + ": '" + s + "'");
    }
    return v;
}

uint64_t parse_size(const std::string& s, const char* what)
{
    std::string num = s;
    uint64_t mult = 1;
    if (!num.empty()) {
        std::string suf;
        while (!num.empty() && std::isalpha(static_cast<unsigned char>(num.back())) &&
               !(num.size() > 2 && num[0] == '0' && (num[1] == 'x' || num[1] == 'X'))) {
            suf.insert(suf.begin(), num.back());
            num.pop_back();
        }
        if (suf == "b" || suf == "B" || suf.empty()) mult = 1;
        else {
            char u = char(std::toupper(static_cast<unsigned char>(suf[0])));
            std::string rest = suf.substr(1);
            if (!(rest.empty() || rest == "B" || rest == "iB")) fail(std::string("Invalid ") + what + ": '" + s + "'");
            switch (u) {
            case 'K': mult = 1ull << 10; break;
            case 'M': mult = 1ull << 20; break;
            case 'G': mult = 1ull << 30; break;
            case 'T': mult = 1ull << 40; break;
            case 'P': mult = 1ull << 50; break;
            case 'E': mult = 1ull << 60; break;
            default: fail(std::string("Invalid ") + what + ": '" + s + "'");
            }
        }
    }
    uint64_t v = parse_number(num, what), out;
    if (__builtin_mul_overflow(v, mult, &out)) fail(std::string("Invalid ") + what + ": '" + s + "'");
    return out;
}

vmm::block::Format parse_format_arg(const std::string& s)
{
    auto f = vmm::block::parse_format(lib::StrView(s.c_str()));
    if (!f) fail("Unknown file format '" + s + "'");
    return *f;
}

std::string human_size(uint64_t bytes)
{
    static const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    int u = 0;
    double v = double(bytes);
    while (v >= 1024 && u < 6) {
        v /= 1024;
        ++u;
    }
    char b[32];
    std::snprintf(b, sizeof b, "%0.3g %s", v, units[u]);
    return b;
}

Image::Image(Host& h, const std::string& path, vmm::block::Format fmt, bool writable, bool open_backing) : path_(path)
{
    vmm::block::OpenOptions o;
    o.writable = writable;
    o.format = fmt;
    o.open_backing = open_backing;
    const char* detail = nullptr;
    o.detail = &detail;
    auto r = vmm::block::open_image(h.alloc, h.opener, lib::StrView(path_.c_str()), lib::StrView(), o);
    if (!r && detail) fail("Could not open '" + path + "': " + error_text(r.error()) + ": " + detail);
    if (!r) fail("Could not open '" + path + "'", r.error());
    dev_ = *r;
}

Image::~Image()
{
    if (dev_) (void)dev_->close();
}

void Image::close()
{
    if (!dev_) return;
    auto s = dev_->close();
    dev_ = nullptr;
    if (!s) fail("Error while closing '" + path_ + "'", s.error());
}

std::string stored_backing_name(vmm::block::BlockDevice* d)
{
    std::string f = d->format_name();
    if (f == "qcow2") return static_cast<vmm::block::qcow2::Device*>(d)->backing_name();
    if (f == "vpc") return static_cast<vmm::block::vhd::Device*>(d)->parent_name();
    return "";
}

std::string stored_backing_format(vmm::block::BlockDevice* d)
{
    std::string f = d->format_name();
    if (f == "qcow2") return static_cast<vmm::block::qcow2::Device*>(d)->backing_format();
    if (f == "vpc" && !stored_backing_name(d).empty()) return "vpc";
    return "";
}

std::string layer_name(vmm::block::BlockDevice* top, const std::string& top_path, unsigned depth)
{
    std::string name = top_path;
    vmm::block::BlockDevice* d = top;
    for (unsigned i = 0; i < depth && d; ++i) {
        name = PosixOpener::resolve(stored_backing_name(d), name);
        d = d->backing();
    }
    return name;
}

std::string json_string(const std::string& s)
{
    std::string o = "\"";
    for (char c : s) {
        if (c == '"' || c == '\\') o += '\\';
        if (static_cast<unsigned char>(c) < 0x20) {
            char b[8];
            std::snprintf(b, sizeof b, "\\u%04x", c);
            o += b;
            continue;
        }
        o += c;
    }
    return o + "\"";
}

bool Opts::has(const std::string& n) const
{
    for (auto& o : opts)
        if (o.first == n) return true;
    return false;
}

std::string Opts::get(const std::string& n, const std::string& dflt) const
{
    std::string v = dflt;
    for (auto& o : opts)
        if (o.first == n) v = o.second;
    return v;
}

std::vector<std::string> Opts::all(const std::string& n) const
{
    std::vector<std::string> v;
    for (auto& o : opts)
        if (o.first == n) v.push_back(o.second);
    return v;
}

Opts parse_opts(const Args& a, const std::string& with_arg, const std::string& flags,
                const std::vector<std::string>& long_with_arg, const std::vector<std::string>& long_flags)
{
    Opts o;
    for (size_t i = 0; i < a.size(); ++i) {
        const std::string& s = a[i];
        if (s.size() > 2 && s[0] == '-' && s[1] == '-') {
            std::string name = s.substr(2), value;
            auto eq = name.find('=');
            bool has_value = eq != std::string::npos;
            if (has_value) {
                value = name.substr(eq + 1);
                name = name.substr(0, eq);
            }
            bool takes = false, known = false;
            for (auto& l : long_with_arg)
                if (l == name) takes = known = true;
            for (auto& l : long_flags)
                if (l == name) known = true;
            if (!known) fail("Unknown option '" + s + "'");
            if (takes && !has_value) {
                if (i + 1 >= a.size()) fail("Option '" + s + "' needs an argument");
                value = a[++i];
            }
            o.opts.push_back({name, value});
        } else if (s.size() > 1 && s[0] == '-') {
            for (size_t k = 1; k < s.size(); ++k) {
                std::string name(1, s[k]);
                if (with_arg.find(s[k]) != std::string::npos) {
                    std::string value = s.substr(k + 1);
                    if (value.empty()) {
                        if (i + 1 >= a.size()) fail("Option '-" + name + "' needs an argument");
                        value = a[++i];
                    }
                    o.opts.push_back({name, value});
                    break;
                }
                if (flags.find(s[k]) == std::string::npos) fail("Unknown option '-" + name + "'");
                o.opts.push_back({name, ""});
            }
        } else {
            o.positional.push_back(s);
        }
    }
    return o;
}

}  // namespace hvimg
