#include "vmm/block/archive/cpio_opener.hpp"

#include "vmm/block/buffer.hpp"

namespace vmm::block {
namespace {

// A file of the archive with the name it was found by.
struct ArchiveFile final : MemoryFile {
    ArchiveFile(const uint8_t* data, uint64_t size) : MemoryFile(data, size) {}
    char name[CpioOpener::max_name] = {};
    size_t name_len = 0;
};

// Every File this opener hands out is an ArchiveFile.
ArchiveFile* of(File* f) { return static_cast<ArchiveFile*>(static_cast<MemoryFile*>(f)); }

}  // namespace

lib::Status CpioOpener::resolve(lib::StrView name, lib::StrView relative_to, char* out, size_t cap)
{
    // Components of the result, as [start, end) offsets into out.
    constexpr size_t max_parts = 64;
    size_t starts[max_parts];
    size_t parts = 0, len = 0;
    auto push = [&](lib::StrView c) -> lib::Status {
        if (c.empty() || c == ".") return {};
        if (c == "..") {
            if (parts == 0) return lib::Error::invalid;
            len = starts[--parts];
            if (len) --len;  // the '/' before it
            return {};
        }
        if (parts == max_parts) return lib::Error::out_of_range;
        const size_t need = (len ? 1 : 0) + c.size();
        if (len + need + 1 > cap) return lib::Error::out_of_range;
        if (len) out[len++] = '/';
        starts[parts++] = len;
        __builtin_memcpy(out + len, c.data(), c.size());
        len += c.size();
        return {};
    };
    auto push_all = [&](lib::StrView path) -> lib::Status {
        while (!path.empty()) TRY(push(path.split_first('/')));
        return {};
    };
    if (cap == 0) return lib::Error::out_of_range;
    if (!name.starts_with("/") && !relative_to.empty()) {
        // The referring image's directory: everything up to its last '/'.
        size_t slash = lib::StrView::npos;
        for (size_t i = 0; i < relative_to.size(); ++i)
            if (relative_to[i] == '/') slash = i;
        if (slash != lib::StrView::npos) TRY(push_all(relative_to.substr(0, slash)));
    }
    TRY(push_all(name));
    out[len] = '\0';
    return {};
}

lib::Result<File*> CpioOpener::open(lib::StrView name, lib::StrView relative_to, bool writable)
{
    if (writable) return lib::err(lib::Error::denied);
    char path[max_name];
    TRY(resolve(name, relative_to, path, sizeof path));
    if (path[0] == '\0') return lib::err(lib::Error::not_found);
    const files::CpioEntry e = TRY(archive_.find(path));
    auto* f = make_in<ArchiveFile>(alloc_, e.data, uint64_t(e.size));
    if (!f) return lib::err(lib::Error::no_memory);
    f->name_len = lib::StrView(path).size();
    __builtin_memcpy(f->name, path, f->name_len + 1);
    ++open_;
    return static_cast<File*>(f);
}

void CpioOpener::close(File* f)
{
    if (!f) return;
    destroy_in(alloc_, of(f));
    --open_;
}

lib::StrView CpioOpener::resolved_name(File* f) { return lib::StrView(of(f)->name, of(f)->name_len); }

}  // namespace vmm::block
