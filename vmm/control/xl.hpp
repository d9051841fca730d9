// The xl command set (Xen's xl(1) names, options and output formats where
// they apply), over an interface to the hypervisor so that host tests drive
// it with a fake. One call runs one command line.
#pragma once

#include <cstddef>
#include <cstdint>

#include "hv/abi/hypercall.hpp"
#include "lib/result.hpp"
#include "lib/str.hpp"

namespace vmm::xl {

// One row of `xl list`.
struct DomainRow {
    char name[64];
    uint32_t id;
    uint64_t mem_mib;
    uint32_t vcpus;
    char state[7];    // Xen's six flags: r b p s c d, '-' where off
    uint64_t cpu_time_ns;
};

// What xl needs from the hypervisor and Dom0's registry.
class Backend {
public:
    virtual lib::Result<hv::abi::SystemInfo> system_info() = 0;
    // The hypervisor log from sequence number `seq`: appends "Ltext\n"
    // lines to buf (NUL-terminated), returns the next sequence number.
    virtual lib::Result<uint64_t> read_log(uint64_t seq, char* buf, size_t cap) = 0;
    // Domains in ID order; returns how many were written (at most cap).
    virtual size_t list_domains(DomainRow* rows, size_t cap) = 0;

protected:
    ~Backend() = default;
};

class Output {
public:
    virtual void write(const char* s, size_t n) = 0;
    void print(const char* fmt, ...) __attribute__((format(printf, 2, 3)));

protected:
    ~Output() = default;
};

// Splits a command line into words: blanks separate, "double" and 'single'
// quotes group, a backslash escapes the next character. Error::invalid for
// an unterminated quote, Error::out_of_range for more than `cap` words or
// more than `store_cap` bytes. Words point into `store`.
lib::Result<size_t> split_words(lib::StrView line, char* store, size_t store_cap, const char** words, size_t cap);

class Shell {
public:
    Shell(Backend& b, Output& o) : backend_(b), out_(o) {}
    // Runs one line typed at the prompt: "xl <command> ..." or just
    // "<command> ...". Returns the command's exit status (0 = success, 1 =
    // failure, 2 = usage error).
    int run_line(lib::StrView line);
    int run(size_t argc, const char* const* argv);

    // The commands, each with its whole argv (argv[0] = the command name).
    int cmd_help(size_t argc, const char* const* argv);
    int cmd_info(size_t argc, const char* const* argv);
    int cmd_dmesg(size_t argc, const char* const* argv);
    int cmd_list(size_t argc, const char* const* argv);

private:
    int usage(const char* command);

    Backend& backend_;
    Output& out_;
    uint64_t dmesg_cleared_seq_ = 0;  // `xl dmesg -c`: later reads start here
};

}  // namespace vmm::xl
