#pragma once

// Stops this CPU after printing "hv: FATAL: <message>" on the console. For
// conditions the hypervisor cannot continue from; never for guest behaviour.
extern "C" [[noreturn]] void rt_panic(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

#define HV_ASSERT(cond) \
    do { \
        if (!(cond)) rt_panic("assertion failed: %s (%s:%d)", #cond, __FILE__, __LINE__); \
    } while (0)
