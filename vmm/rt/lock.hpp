// A lock between Dom0's threads. They share one CPU and are preempted by
// hv's scheduler, so a waiter yields its slice to let the holder finish
// instead of spinning it away.
#pragma once

#include <cstdint>

#include "vmm/rt/hypercall.hpp"

namespace vmm {

class Lock {
public:
    void lock()
    {
        while (__atomic_exchange_n(&held_, 1, __ATOMIC_ACQUIRE)) hc::yield();
    }
    void unlock() { __atomic_store_n(&held_, 0, __ATOMIC_RELEASE); }

private:
    uint32_t held_ = 0;
};

class LockGuard {
public:
    explicit LockGuard(Lock& l) : l_(l) { l_.lock(); }
    ~LockGuard() { l_.unlock(); }
    LockGuard(const LockGuard&) = delete;
    LockGuard& operator=(const LockGuard&) = delete;

private:
    Lock& l_;
};

}  // namespace vmm
