// How a format reaches other files by name: its backing file (qcow2) or parent
// (VHD differencing). The host tool opens paths relative to the image's
// directory; Dom0 will resolve names against xl.cfg targets.
#pragma once

#include <cstddef>

#include "lib/result.hpp"
#include "lib/str.hpp"
#include "vmm/block/file.hpp"

namespace vmm::block {

class FileOpener {
public:
    // `name` as stored in the image; `relative_to` is the name the referring
    // image was opened by (empty for the top image).
    virtual lib::Result<File*> open(lib::StrView name, lib::StrView relative_to, bool writable) = 0;
    virtual void close(File* f) = 0;
    // The full name `f` was opened as (names in it are relative to this).
    virtual lib::StrView resolved_name(File* f) = 0;

protected:
    ~FileOpener() = default;
};

}  // namespace vmm::block
