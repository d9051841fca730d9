// Ticket-free test-and-test-and-set spin lock that also disables interrupts
// while held, so an interrupt handler on the same CPU cannot deadlock on it.
#pragma once

#include <cstdint>

#include "arch/x86_64/cpu.hpp"

namespace arch {

class SpinLock {
public:
    uint64_t lock()
    {
        uint64_t flags = read_flags();
        cli();
        while (__atomic_exchange_n(&locked_, 1, __ATOMIC_ACQUIRE)) {
            while (__atomic_load_n(&locked_, __ATOMIC_RELAXED)) pause();
        }
        return flags;
    }
    void unlock(uint64_t flags)
    {
        __atomic_store_n(&locked_, 0, __ATOMIC_RELEASE);
        if (flags & (1u << 9)) sti();
    }

private:
    uint32_t locked_ = 0;
};

class SpinGuard {
public:
    explicit SpinGuard(SpinLock& l) : lock_(l), flags_(l.lock()) {}
    ~SpinGuard() { lock_.unlock(flags_); }
    SpinGuard(const SpinGuard&) = delete;
    SpinGuard& operator=(const SpinGuard&) = delete;

private:
    SpinLock& lock_;
    uint64_t flags_;
};

}  // namespace arch
