// hvimg info, check, map and snapshot: reading an image's metadata.
#include <sys/stat.h>
#include <time.h>

#include <cstdio>
#include <cstring>

#include "tools/hvimg/common.hpp"
#include "vmm/block/qcow2/qcow2.hpp"
#include "vmm/block/vhd/vhd.hpp"

namespace hvimg {
namespace {

using vmm::block::BlockDevice;

uint64_t disk_usage(const std::string& path)
{
    struct stat st {};
    return stat(path.c_str(), &st) == 0 ? uint64_t(st.st_blocks) * 512 : 0;
}

vmm::block::qcow2::Device* as_qcow2(BlockDevice* d)
{
    return std::strcmp(d->format_name(), "qcow2") == 0 ? static_cast<vmm::block::qcow2::Device*>(d) : nullptr;
}
vmm::block::vhd::Device* as_vhd(BlockDevice* d)
{
    return std::strcmp(d->format_name(), "vpc") == 0 ? static_cast<vmm::block::vhd::Device*>(d) : nullptr;
}

std::string snapshot_date(uint32_t sec)
{
    time_t t = time_t(sec);
    struct tm tm {};
    localtime_r(&t, &tm);
    char b[32];
    strftime(b, sizeof b, "%Y-%m-%d %H:%M:%S", &tm);
    return b;
}

std::string vm_clock(uint64_t ns)
{
    uint64_t ms = ns / 1000000, s = ms / 1000;
    char b[32];
    std::snprintf(b, sizeof b, "%04llu:%02llu:%02llu.%03llu", (unsigned long long)(s / 3600),
                  (unsigned long long)(s / 60 % 60), (unsigned long long)(s % 60), (unsigned long long)(ms % 1000));
    return b;
}

void print_snapshots(vmm::block::qcow2::Device* q)
{
    std::printf("Snapshot list:\n");
    std::printf("%-10s%-17s%8s%20s%13s%11s\n", "ID", "TAG", "VM SIZE", "DATE", "VM CLOCK", "ICOUNT");
    for (uint32_t i = 0; i < q->snapshot_count(); ++i) {
        const auto& s = q->snapshot(i);
        std::string icount = s.icount == ~0ull ? "" : std::to_string(s.icount);
        std::printf("%-10s%-17s%8s%20s%13s%11s\n", s.id, s.name, human_size(s.vm_state_size).c_str(),
                    snapshot_date(s.date_sec).c_str(), vm_clock(s.vm_clock_nsec).c_str(), icount.c_str());
    }
}

}  // namespace

// Prints one image; returns the path and format of its backing file ("" if none).
static std::pair<std::string, std::string> info_one(Host& h, const std::string& path, vmm::block::Format fmt,
                                                    const std::string& output)
{
    Image img(h, path, fmt, false, false);
    BlockDevice* d = img.dev();
    auto* q = as_qcow2(d);
    auto* v = as_vhd(d);
    uint64_t cluster = q ? q->cluster_size() : v && v->disk_type() != vmm::block::vhd::disk_fixed ? v->block_size() : 0;
    std::string backing = stored_backing_name(d), bfmt = stored_backing_format(d);
    if (output == "json") {
        std::printf("{\n");
        if (q && q->snapshot_count()) {
            std::printf("    \"snapshots\": [\n");
            for (uint32_t i = 0; i < q->snapshot_count(); ++i) {
                const auto& s = q->snapshot(i);
                std::printf("        {\n            \"icount\": %llu,\n            \"vm-clock-nsec\": %llu,\n"
                            "            \"name\": %s,\n            \"date-sec\": %u,\n            \"date-nsec\": %u,\n"
                            "            \"vm-clock-sec\": %llu,\n            \"id\": %s,\n            \"vm-state-size\": %llu\n        }%s\n",
                            (unsigned long long)(s.icount == ~0ull ? 0 : s.icount),
                            (unsigned long long)(s.vm_clock_nsec % 1000000000), json_string(s.name).c_str(),
                            s.date_sec, s.date_nsec, (unsigned long long)(s.vm_clock_nsec / 1000000000),
                            json_string(s.id).c_str(), (unsigned long long)s.vm_state_size,
                            i + 1 < q->snapshot_count() ? "," : "");
            }
            std::printf("    ],\n");
        }
        std::printf("    \"virtual-size\": %llu,\n", (unsigned long long)d->size());
        std::printf("    \"filename\": %s,\n", json_string(path).c_str());
        if (cluster) std::printf("    \"cluster-size\": %llu,\n", (unsigned long long)cluster);
        std::printf("    \"format\": \"%s\",\n", d->format_name());
        std::printf("    \"actual-size\": %llu,\n", (unsigned long long)disk_usage(path));
        if (!backing.empty()) {
            std::printf("    \"backing-filename\": %s,\n", json_string(backing).c_str());
            std::printf("    \"full-backing-filename\": %s,\n", json_string(PosixOpener::resolve(backing, path)).c_str());
            if (!bfmt.empty()) std::printf("    \"backing-filename-format\": \"%s\",\n", bfmt.c_str());
        }
        if (q) {
            std::printf("    \"format-specific\": {\n        \"type\": \"qcow2\",\n        \"data\": {\n");
            std::printf("            \"compat\": \"%s\",\n", q->version() == 2 ? "0.10" : "1.1");
            if (q->version() == 3) {
                std::printf("            \"compression-type\": \"zlib\",\n");
                std::printf("            \"lazy-refcounts\": %s,\n", q->lazy_refcounts() ? "true" : "false");
            }
            std::printf("            \"refcount-bits\": %u", q->refcount_bits());
            if (q->version() == 3)
                std::printf(",\n            \"corrupt\": %s,\n            \"extended-l2\": false",
                            q->corrupt() ? "true" : "false");
            std::printf("\n        }\n    },\n");
        }
        std::printf("    \"dirty-flag\": %s\n}\n", q && q->was_dirty() ? "true" : "false");
        return {backing.empty() ? "" : PosixOpener::resolve(backing, path), bfmt};
    }
    std::printf("image: %s\n", path.c_str());
    std::printf("file format: %s\n", d->format_name());
    std::printf("virtual size: %s (%llu bytes)\n", human_size(d->size()).c_str(), (unsigned long long)d->size());
    std::printf("disk size: %s\n", human_size(disk_usage(path)).c_str());
    if (cluster) std::printf("cluster_size: %llu\n", (unsigned long long)cluster);
    if (!backing.empty()) {
        std::string full = PosixOpener::resolve(backing, path);
        if (full != backing) std::printf("backing file: %s (actual path: %s)\n", backing.c_str(), full.c_str());
        else std::printf("backing file: %s\n", backing.c_str());
        if (!bfmt.empty()) std::printf("backing file format: %s\n", bfmt.c_str());
    }
    if (q && q->snapshot_count()) print_snapshots(q);
    if (q) {
        std::printf("Format specific information:\n");
        std::printf("    compat: %s\n", q->version() == 2 ? "0.10" : "1.1");
        if (q->version() == 3) {
            std::printf("    compression type: zlib\n");
            std::printf("    lazy refcounts: %s\n", q->lazy_refcounts() ? "true" : "false");
        }
        std::printf("    refcount bits: %u\n", q->refcount_bits());
        if (q->version() == 3) {
            std::printf("    corrupt: %s\n", q->corrupt() ? "true" : "false");
            std::printf("    extended l2: false\n");
        }
    }
    if (v) {
        const char* t = v->disk_type() == vmm::block::vhd::disk_fixed ? "fixed"
                        : v->disk_type() == vmm::block::vhd::disk_dynamic ? "dynamic" : "differencing";
        std::printf("Format specific information:\n    subformat: %s\n    creator: %.4s\n", t, v->creator());
    }
    return {backing.empty() ? "" : PosixOpener::resolve(backing, path), bfmt};
}

int cmd_info(Host& h, const Args& a)
{
    Opts o = parse_opts(a, "f", "U", {"output"}, {"backing-chain", "force-share"});
    if (o.positional.size() != 1) fail("Expecting one image file name");
    std::string path = o.positional[0];
    std::string output = o.get("output", "human");
    if (output != "human" && output != "json") fail("--output must be used with human or json as argument.");
    vmm::block::Format fmt = o.has("f") ? parse_format_arg(o.get("f")) : vmm::block::Format::automatic;
    if (!o.has("backing-chain")) {
        info_one(h, path, fmt, output);
        return 0;
    }
    if (output == "json") std::printf("[\n");
    for (unsigned depth = 0; !path.empty(); ++depth) {
        if (depth >= vmm::block::max_chain_depth) fail("Backing chain deeper than 64 (a loop?)");
        if (depth) std::printf(output == "json" ? ",\n" : "\n");
        auto [next, next_fmt] = info_one(h, path, fmt, output);
        path = next;
        fmt = next_fmt.empty() ? vmm::block::Format::automatic : parse_format_arg(next_fmt);
    }
    if (output == "json") std::printf("]\n");
    return 0;
}

int cmd_check(Host& h, const Args& a)
{
    Opts o = parse_opts(a, "fr", "qU", {"output"}, {"force-share"});
    if (o.positional.size() != 1) fail("Expecting one image file name");
    std::string path = o.positional[0];
    std::string repair = o.get("r");
    if (o.has("r") && repair != "leaks" && repair != "all") fail("Invalid option for -r: '" + repair + "' (leaks or all)");
    std::string output = o.get("output", "human");
    bool json = output == "json";
    vmm::block::Format fmt = o.has("f") ? parse_format_arg(o.get("f")) : vmm::block::Format::automatic;
    if (fmt == vmm::block::Format::automatic) {
        Image probe(h, path, fmt, false, false);
        fmt = vmm::block::parse_format(lib::StrView(probe->format_name())).value_or(vmm::block::Format::raw);
    }
    if (fmt != vmm::block::Format::qcow2) fail("This image format does not support checks", 63);
    Image img(h, path, fmt, o.has("r"), false);
    auto* q = as_qcow2(img.dev());
    struct Lines {
        std::vector<std::string> v;
    } lines;
    vmm::block::qcow2::CheckResult r;
    r.report = [](void* ctx, const char* line) { static_cast<Lines*>(ctx)->v.push_back(line); };
    r.report_ctx = &lines;
    using Repair = vmm::block::qcow2::Device::Repair;
    auto s = q->check(r, !o.has("r") ? Repair::none : repair == "all" ? Repair::all : Repair::leaks);
    if (!s) fail("Check failed", s.error());
    if (!json) {
        for (auto& l : lines.v) std::fprintf(stderr, "%s\n", l.c_str());
    }
    uint64_t remaining_leaks = r.leaks - r.leaks_fixed;
    if (o.has("r") && (r.leaks_fixed || r.corruptions_fixed || (repair == "all" && r.copied_flag_errors)) && !json) {
        std::printf("The following inconsistencies were found and repaired:\n\n    %llu leaked clusters\n"
                    "    %llu corruptions\n\nDouble checking the fixed image now...\n",
                    (unsigned long long)r.leaks_fixed,
                    (unsigned long long)(repair == "all" ? r.corruptions_fixed + r.copied_flag_errors : 0));
        vmm::block::qcow2::CheckResult again;
        s = q->check(again, Repair::none);
        if (!s) fail("Check failed", s.error());
        r.corruptions = again.corruptions;
        remaining_leaks = again.leaks;
    }
    double total = r.total_clusters ? double(r.total_clusters) : 1;
    double alloc = r.allocated_clusters ? double(r.allocated_clusters) : 1;
    if (json) {
        std::printf("{\n    \"image-end-offset\": %llu,\n    \"total-clusters\": %llu,\n"
                    "    \"check-errors\": %llu,\n    \"leaks\": %llu,\n    \"corruptions\": %llu,\n"
                    "    \"allocated-clusters\": %llu,\n    \"filename\": %s,\n    \"format\": \"qcow2\",\n"
                    "    \"fragmented-clusters\": %llu,\n    \"compressed-clusters\": %llu\n}\n",
                    (unsigned long long)r.image_end_offset, (unsigned long long)r.total_clusters,
                    (unsigned long long)r.check_errors, (unsigned long long)remaining_leaks,
                    (unsigned long long)r.corruptions, (unsigned long long)r.allocated_clusters,
                    json_string(path).c_str(), (unsigned long long)r.fragmented_clusters,
                    (unsigned long long)r.compressed_clusters);
    } else {
        if (!r.corruptions && !remaining_leaks) std::printf("No errors were found on the image.\n");
        if (r.corruptions)
            std::printf("\n%llu errors were found on the image.\nData may be corrupted, or further writes to the "
                        "image may corrupt it.\n",
                        (unsigned long long)r.corruptions);
        if (remaining_leaks)
            std::printf("\n%llu leaked clusters were found on the image.\nThis means waste of disk space, but no "
                        "harm to data.\n",
                        (unsigned long long)remaining_leaks);
        std::printf("%llu/%llu = %.2f%% allocated, %.2f%% fragmented, %.2f%% compressed clusters\n",
                    (unsigned long long)r.allocated_clusters, (unsigned long long)r.total_clusters,
                    100.0 * double(r.allocated_clusters) / total,
                    r.allocated_clusters ? 100.0 * double(r.fragmented_clusters) / alloc : 0.0,
                    r.allocated_clusters ? 100.0 * double(r.compressed_clusters) / alloc : 0.0);
        std::printf("Image end offset: %llu\n", (unsigned long long)r.image_end_offset);
    }
    img.close();
    if (r.corruptions) return 2;
    if (remaining_leaks) return 3;
    return 0;
}

int cmd_map(Host& h, const Args& a)
{
    Opts o = parse_opts(a, "f", "U", {"output", "start-offset", "max-length"}, {"force-share"});
    if (o.positional.size() != 1) fail("Expecting one image file name");
    std::string path = o.positional[0];
    std::string output = o.get("output", "human");
    if (output != "human" && output != "json") fail("--output must be used with human or json as argument.");
    vmm::block::Format fmt = o.has("f") ? parse_format_arg(o.get("f")) : vmm::block::Format::automatic;
    Image img(h, path, fmt, false);
    BlockDevice* top = img.dev();
    uint64_t off = o.has("start-offset") ? parse_size(o.get("start-offset"), "start offset") : 0;
    uint64_t end = top->size();
    if (o.has("max-length")) end = std::min(end, off + parse_size(o.get("max-length"), "max length"));
    struct Entry {
        uint64_t start, length;
        unsigned depth;
        bool present, zero, data, has_off;
        uint64_t offset;
    };
    std::vector<Entry> entries;
    while (off < end) {
        uint64_t len = end - off;
        BlockDevice* d = top;
        unsigned depth = 0;
        Entry e{off, 0, 0, false, false, false, false, 0};
        for (;;) {
            vmm::block::Extent x;
            auto s = d->extent_at(off, len, x);
            if (!s) fail("Could not read the map of '" + path + "'", s.error());
            if (x.length < len) len = x.length;
            if (x.state == vmm::block::ExtentState::unallocated && d->backing() && off < d->backing()->size()) {
                if (d->backing()->size() - off < len) len = d->backing()->size() - off;
                d = d->backing();
                ++depth;
                continue;
            }
            e.depth = depth;
            e.present = x.state != vmm::block::ExtentState::unallocated;
            e.zero = x.state != vmm::block::ExtentState::data;
            e.data = x.state == vmm::block::ExtentState::data;
            e.has_off = x.has_host_offset;
            e.offset = x.host_offset;
            break;
        }
        e.length = len;
        if (!entries.empty()) {
            Entry& p = entries.back();
            if (p.depth == e.depth && p.present == e.present && p.zero == e.zero && p.data == e.data &&
                p.has_off == e.has_off && (!e.has_off || p.offset + p.length == e.offset)) {
                p.length += e.length;
                off += len;
                continue;
            }
        }
        entries.push_back(e);
        off += len;
    }
    if (output == "json") {
        std::printf("[");
        for (size_t i = 0; i < entries.size(); ++i) {
            const Entry& e = entries[i];
            std::printf("%s{ \"start\": %llu, \"length\": %llu, \"depth\": %u, \"present\": %s, \"zero\": %s, "
                        "\"data\": %s",
                        i ? ",\n" : "", (unsigned long long)e.start, (unsigned long long)e.length, e.depth,
                        e.present ? "true" : "false", e.zero ? "true" : "false", e.data ? "true" : "false");
            if (e.has_off) std::printf(", \"offset\": %llu", (unsigned long long)e.offset);
            std::printf("}");
        }
        std::printf("]\n");
        return 0;
    }
    std::printf("%-16s%-16s%-16s%s\n", "Offset", "Length", "Mapped to", "File");
    for (const Entry& e : entries) {
        if (!e.data || !e.has_off) continue;
        std::printf("%#-16llx%#-16llx%#-16llx%s\n", (unsigned long long)e.start, (unsigned long long)e.length,
                    (unsigned long long)e.offset, layer_name(top, path, e.depth).c_str());
    }
    return 0;
}

int cmd_snapshot(Host& h, const Args& a)
{
    Opts o = parse_opts(a, "cdaf", "lqU", {}, {"force-share"});
    if (o.positional.size() != 1) fail("Expecting one image file name");
    int actions = o.has("l") + o.has("c") + o.has("d") + o.has("a");
    if (actions != 1) fail("Expecting exactly one of -l, -c, -d, -a");
    vmm::block::Format fmt = o.has("f") ? parse_format_arg(o.get("f")) : vmm::block::Format::automatic;
    Image img(h, o.positional[0], fmt, !o.has("l"), false);
    auto* q = as_qcow2(img.dev());
    if (!q) fail("This image format does not support snapshots", 1);
    if (o.has("l")) {
        if (q->snapshot_count()) print_snapshots(q);
        return 0;
    }
    if (o.has("c")) {
        struct timespec ts {};
        clock_gettime(CLOCK_REALTIME, &ts);
        std::string name = o.get("c");
        auto s = q->snapshot_create(lib::StrView(name.c_str()), uint32_t(ts.tv_sec), uint32_t(ts.tv_nsec));
        if (!s) fail("Could not create snapshot '" + name + "'", s.error());
    } else if (o.has("a")) {
        std::string name = o.get("a");
        auto s = q->snapshot_apply(lib::StrView(name.c_str()));
        if (!s) fail("Could not apply snapshot '" + name + "'", s.error());
    } else {
        std::string name = o.get("d");
        auto s = q->snapshot_delete(lib::StrView(name.c_str()));
        if (!s) fail("Could not delete snapshot '" + name + "'", s.error());
    }
    img.close();
    return 0;
}

}  // namespace hvimg
