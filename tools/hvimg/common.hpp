// Shared pieces of the hvimg commands: error reporting, size parsing, opening
// images through the vmm/block code, human-readable sizes.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tools/hvimg/host.hpp"
#include "vmm/block/device.hpp"
#include "vmm/block/image.hpp"

namespace hvimg {

// Thrown by fail(): caught in main, printed as one line, exit status 1.
struct Failure {
    std::string message;
    int status = 1;
};
[[noreturn]] void fail(const std::string& message, int status = 1);
std::string error_text(lib::Error e);
[[noreturn]] void fail(const std::string& what, lib::Error e);

// "64M", "1G", "4096", "2T", "64k" (binary multiples, as qemu-img).
uint64_t parse_size(const std::string& s, const char* what);
uint64_t parse_number(const std::string& s, const char* what);
vmm::block::Format parse_format_arg(const std::string& s);
std::string human_size(uint64_t bytes);  // "64 MiB", "1.5 GiB", "196 KiB"

struct Host {
    MallocAllocator alloc;
    PosixOpener opener;
};

// An open image (and its backing chain), closed on destruction.
class Image {
public:
    Image(Host& h, const std::string& path, vmm::block::Format fmt, bool writable, bool open_backing = true);
    ~Image();
    Image(const Image&) = delete;
    Image& operator=(const Image&) = delete;
    vmm::block::BlockDevice* dev() { return dev_; }
    vmm::block::BlockDevice* operator->() { return dev_; }
    const std::string& path() const { return path_; }
    // Closes now and reports failure (a failed final flush is an error).
    void close();

private:
    vmm::block::BlockDevice* dev_ = nullptr;
    std::string path_;
};

// Name of layer `depth` of a chain whose top is `top` (for map output).
std::string layer_name(vmm::block::BlockDevice* top, const std::string& top_path, unsigned depth);
// The backing file name stored in a layer, "" if none.
std::string stored_backing_name(vmm::block::BlockDevice* d);
std::string stored_backing_format(vmm::block::BlockDevice* d);
std::string json_string(const std::string& s);

using Args = std::vector<std::string>;
int cmd_create(Host& h, const Args& a);
int cmd_info(Host& h, const Args& a);
int cmd_check(Host& h, const Args& a);
int cmd_convert(Host& h, const Args& a);
int cmd_compare(Host& h, const Args& a);
int cmd_snapshot(Host& h, const Args& a);
int cmd_map(Host& h, const Args& a);
int cmd_bench(Host& h, const Args& a);
int cmd_io(Host& h, const Args& a);

// Minimal getopt over a vector: short options with/without argument and
// --long[=value] options. Non-options are collected in order.
struct Opts {
    std::vector<std::pair<std::string, std::string>> opts;  // name, value
    std::vector<std::string> positional;
    bool has(const std::string& n) const;
    std::string get(const std::string& n, const std::string& dflt = "") const;
    std::vector<std::string> all(const std::string& n) const;
};
// `with_arg`: short option letters that take an argument; `long_with_arg`:
// long names that take an argument; `flags`: accepted letters without one;
// `long_flags`: accepted long names without one.
Opts parse_opts(const Args& a, const std::string& with_arg, const std::string& flags,
                const std::vector<std::string>& long_with_arg, const std::vector<std::string>& long_flags);

}  // namespace hvimg
