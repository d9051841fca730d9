// Word-sized fields that one CPU writes under its run-queue lock and other
// CPUs read without it (hints: idle, load, a vCPU's CPU and state). Relaxed
// atomic accesses make those reads well-defined; a stale value only makes a
// hint wrong, and every call that acts on a hint re-checks under the locks.
#pragma once

namespace hv::sched {

template <typename T> inline T peek(const T& x) { return __atomic_load_n(&x, __ATOMIC_RELAXED); }
template <typename T, typename U> inline void poke(T& x, U v) { __atomic_store_n(&x, T(v), __ATOMIC_RELAXED); }

}  // namespace hv::sched
