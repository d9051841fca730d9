// hvimg: the host image tool, qemu-img's command-line shape over the
// hypervisor's own block backends (vmm/block).
#include <cstdio>
#include <cstring>

#include "tools/hvimg/common.hpp"

namespace {

void usage()
{
    std::printf(
        "usage: hvimg <command> [options]\n"
        "  create [-f fmt] [-o options] [-b backing_file [-F backing_fmt]] [-u] filename [size]\n"
        "  info [-f fmt] [--output=human|json] filename\n"
        "  check [-f fmt] [-r leaks|all] [--output=human|json] filename\n"
        "  convert [-f fmt] [-O output_fmt] [-o options] [-p] filename output_filename\n"
        "  compare [-f fmt] [-F fmt] [-s] [-p] filename1 filename2\n"
        "  snapshot [-l | -c snapshot | -d snapshot | -a snapshot] filename\n"
        "  map [-f fmt] [--output=human|json] filename\n"
        "  bench [-c count] [-d depth] [-f fmt] [-o offset] [-s size] [-S step] [-w] [--random] filename\n"
        "  io [-f fmt] -c 'write [-P pattern|-z] off len' -c 'read [-P pattern] off len' -c 'discard off len' "
        "-c flush filename\n"
        "formats: raw, qcow2, vpc; options: cluster_size, compat=0.10|1.1, backing_file, backing_fmt,\n"
        "lazy_refcounts, refcount_bits (qcow2); subformat=fixed|dynamic, block_size (vpc)\n");
}

}  // namespace

int main(int argc, char** argv)
{
    if (argc < 2 || !std::strcmp(argv[1], "-h") || !std::strcmp(argv[1], "--help")) {
        usage();
        return argc < 2 ? 1 : 0;
    }
    hvimg::Args args(argv + 2, argv + argc);
    std::string cmd = argv[1];
    hvimg::Host host;
    try {
        if (cmd == "create") return hvimg::cmd_create(host, args);
        if (cmd == "info") return hvimg::cmd_info(host, args);
        if (cmd == "check") return hvimg::cmd_check(host, args);
        if (cmd == "convert") return hvimg::cmd_convert(host, args);
        if (cmd == "compare") return hvimg::cmd_compare(host, args);
        if (cmd == "snapshot") return hvimg::cmd_snapshot(host, args);
        if (cmd == "map") return hvimg::cmd_map(host, args);
        if (cmd == "bench") return hvimg::cmd_bench(host, args);
        if (cmd == "io") return hvimg::cmd_io(host, args);
        hvimg::fail("Command not found: " + cmd);
    } catch (const hvimg::Failure& f) {
        std::fflush(stdout);
        std::fprintf(stderr, "hvimg: %s\n", f.message.c_str());
        return f.status;
    }
}
