#include "tools/hvimg/host.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

namespace hvimg {

PosixFile::PosixFile(int fd, bool writable, std::string path) : fd_(fd), writable_(writable), path_(std::move(path))
{
    struct stat st {};
    size_ = fstat(fd_, &st) == 0 ? uint64_t(st.st_size) : 0;
}

PosixFile::~PosixFile() { ::close(fd_); }

uint64_t PosixFile::allocated_bytes() const
{
    struct stat st {};
    return fstat(fd_, &st) == 0 ? uint64_t(st.st_blocks) * 512 : 0;
}

void PosixFile::submit(vmm::block::FileRequest& r)
{
    using vmm::block::FileOp;
    lib::Status s;
    auto* p = static_cast<uint8_t*>(r.buf);
    switch (r.op) {
    case FileOp::read: {
        size_t done = 0;
        while (done < r.len) {
            ssize_t n = pread(fd_, p + done, r.len - done, off_t(r.offset + done));
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) {
                s = n == 0 ? lib::Error::truncated : lib::Error::io;
                break;
            }
            done += size_t(n);
        }
        break;
    }
    case FileOp::write: {
        size_t done = 0;
        while (done < r.len) {
            ssize_t n = pwrite(fd_, p + done, r.len - done, off_t(r.offset + done));
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) {
                s = lib::Error::io;
                break;
            }
            done += size_t(n);
        }
        if (r.offset + done > size_) size_ = r.offset + done;
        break;
    }
    case FileOp::flush:
        if (fdatasync(fd_) != 0) s = lib::Error::io;
        break;
    case FileOp::resize:
        if (ftruncate(fd_, off_t(r.offset)) != 0) s = lib::Error::io;
        else size_ = r.offset;
        break;
    }
    if (r.done) r.done(r, s);
}

std::string PosixOpener::resolve(const std::string& name, const std::string& relative_to)
{
    if (name.empty() || name[0] == '/' || relative_to.empty()) return name;
    auto slash = relative_to.rfind('/');
    if (slash == std::string::npos) return name;
    return relative_to.substr(0, slash + 1) + name;
}

lib::Result<vmm::block::File*> PosixOpener::open(lib::StrView name, lib::StrView relative_to, bool writable)
{
    std::string path = resolve(std::string(name.data(), name.size()), std::string(relative_to.data(), relative_to.size()));
    int fd = ::open(path.c_str(), (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC);
    if (fd < 0) return lib::err(errno == ENOENT ? lib::Error::not_found : errno == EACCES ? lib::Error::denied : lib::Error::io);
    return static_cast<vmm::block::File*>(new PosixFile(fd, writable, path));
}

lib::Result<vmm::block::File*> PosixOpener::create(const std::string& path)
{
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return lib::err(errno == EACCES ? lib::Error::denied : lib::Error::io);
    return static_cast<vmm::block::File*>(new PosixFile(fd, true, path));
}

lib::StrView PosixOpener::resolved_name(vmm::block::File* f)
{
    const std::string& p = static_cast<PosixFile*>(f)->path();
    return lib::StrView(p.data(), p.size());
}

void PosixOpener::close(vmm::block::File* f) { delete static_cast<PosixFile*>(f); }

void* MallocAllocator::allocate(size_t size, size_t align)
{
    if (align < sizeof(void*)) align = sizeof(void*);
    size_t rounded = (size + align - 1) / align * align;
    void* p = std::aligned_alloc(align, rounded ? rounded : align);
    if (p) live_ += size;
    return p;
}

void MallocAllocator::deallocate(void* p, size_t size)
{
    live_ -= size;
    std::free(p);
}

}  // namespace hvimg
