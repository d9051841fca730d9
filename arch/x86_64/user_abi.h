/* Numbers shared by user_entry.S, entry.S and C++ (percpu.hpp and
 * user_mode.cpp static_assert them). C preprocessor only. */
#pragma once

/* Byte offsets in arch::PerCpu. */
#define PERCPU_USER_RSP 8     /* scratch: the user RSP during SYSCALL entry */
#define PERCPU_KERNEL_RSP 16  /* top of the running thread's kernel stack */

/* InterruptFrame: CS sits after 15 GPRs, the vector, the error code and RIP. */
#define FRAME_CS 144
/* The "vector" of a frame built by the SYSCALL entry. */
#define FRAME_VECTOR_SYSCALL 256

/* Selectors (descriptors.hpp sel::). */
#define SEL_KERNEL_CODE 0x08
#define SEL_USER32_CODE 0x1b
#define SEL_USER_DATA 0x23
#define SEL_USER_CODE 0x2b
