// Opens disk images by name among Dom0's files (the boot cpio archive), for
// xl.cfg disk targets and the backing files they name. Names are resolved
// as QEMU resolves backing files: relative to the directory of the image
// that names them, a leading '/' meaning the archive's root; "." and ".."
// components are folded (".." above the root is not_found). Files are
// read-only: a writable open is denied.
#pragma once

#include <cstddef>

#include "lib/allocator.hpp"
#include "vmm/block/archive/memory_file.hpp"
#include "vmm/block/opener.hpp"
#include "vmm/files/cpio.hpp"

namespace vmm::block {

class CpioOpener final : public FileOpener {
public:
    static constexpr size_t max_name = 256;

    CpioOpener(const files::CpioArchive& archive, lib::Allocator& a) : archive_(archive), alloc_(a) {}

    lib::Result<File*> open(lib::StrView name, lib::StrView relative_to, bool writable) override;
    void close(File* f) override;
    lib::StrView resolved_name(File* f) override;

    // The archive path `name` names from an image called `relative_to`,
    // into out (NUL-terminated). invalid for ".." above the root, out_of_range
    // when it does not fit.
    static lib::Status resolve(lib::StrView name, lib::StrView relative_to, char* out, size_t cap);

    // Files open now (each close()d file is given back).
    size_t open_files() const { return open_; }

private:
    const files::CpioArchive& archive_;
    lib::Allocator& alloc_;
    size_t open_ = 0;
};

}  // namespace vmm::block
