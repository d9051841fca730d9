/* Event channels, the part Dom0 and the hypervisor share: the layout of the
 * event page mapped into each domain, port limits, port states and virtual
 * IRQ numbers. Plain C (C11 or C++), fixed-width types only, so Dom0's C code
 * and the kernel include the same file.
 *
 * The page is the domain's memory: it may write anything into it at any
 * time. The hypervisor only ever sets or clears single bits in it with atomic
 * operations and reads nothing from it but "is this bit set"; which ports
 * exist and how they are bound is kept on the hypervisor's side.
 *
 * Protocol (Xen 2-level style): bit p of pending[] is set when an event
 * arrives on port p; the domain is notified when the bit goes from 0 to 1
 * while bit p of mask[] is clear, and then also finds bit p/64 set in
 * pending_sel. The domain clears pending bits (and pending_sel bits) as it
 * handles them, and masks a port by setting its mask bit. To unmask without
 * losing an event it clears the mask bit and, if the pending bit is set,
 * makes the unmask hypercall (which renotifies). */
#pragma once

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
#define HV_EVTCHN_ABI_ASSERT(cond, msg) static_assert(cond, msg)
#else
#define HV_EVTCHN_ABI_ASSERT(cond, msg) _Static_assert(cond, msg)
#endif

/* Most ports a domain can have (its own count is set when it is created).
 * Port 0 is never allocated: 0 means "no port" in every call. */
#define HV_EVTCHN_MAX_PORTS 1024u
#define HV_EVTCHN_WORDS (HV_EVTCHN_MAX_PORTS / 64u)
#define HV_EVTCHN_PAGE_SIZE 4096u

/* Port states, as the status hypercall reports them. */
#define HV_EVTCHN_STATE_FREE 0u
#define HV_EVTCHN_STATE_UNBOUND 1u      /* allocated, waiting for the allowed remote domain to bind */
#define HV_EVTCHN_STATE_INTERDOMAIN 2u  /* connected to a port of another domain */
#define HV_EVTCHN_STATE_GUEST_VECTOR 3u /* an event becomes interrupt vector V on vCPU C; no pending bit */
#define HV_EVTCHN_STATE_VIRQ 4u         /* raised by the hypervisor itself */

/* Virtual IRQs: events the hypervisor raises, at most one port each per domain. */
#define HV_VIRQ_DOM_EXC 0u /* a domain shut down, crashed or died (for Dom0's toolstack) */
#define HV_VIRQ_CONSOLE 1u /* hypervisor console output is waiting in the log ring */
#define HV_VIRQ_TIMER 2u   /* the domain's one-shot timer fired */
#define HV_EVTCHN_NR_VIRQS 8u

/* Lowest vector a guest_vector port may use: 0-31 are CPU exceptions. */
#define HV_EVTCHN_MIN_VECTOR 32u

/* The event page: one 4 KiB page, page-aligned, mapped read-write into its
 * domain. Bits for ports at or above the domain's port count are ignored. */
typedef struct hv_evtchn_shared {
    uint64_t pending[HV_EVTCHN_WORDS]; /* bit p % 64 of word p / 64: port p has an event */
    uint64_t mask[HV_EVTCHN_WORDS];    /* set: no notification for port p */
    uint64_t pending_sel;              /* bit w: pending[w] got a new unmasked event (a hint) */
    uint64_t reserved[(HV_EVTCHN_PAGE_SIZE - (2u * HV_EVTCHN_WORDS + 1u) * 8u) / 8u];
} hv_evtchn_shared;

HV_EVTCHN_ABI_ASSERT(HV_EVTCHN_MAX_PORTS % 64u == 0, "whole words of ports");
HV_EVTCHN_ABI_ASSERT(HV_EVTCHN_WORDS <= 64, "pending_sel has one bit per pending word");
HV_EVTCHN_ABI_ASSERT(HV_EVTCHN_NR_VIRQS <= 32, "virq numbers are small");
HV_EVTCHN_ABI_ASSERT(sizeof(hv_evtchn_shared) == HV_EVTCHN_PAGE_SIZE, "one page");
HV_EVTCHN_ABI_ASSERT(offsetof(hv_evtchn_shared, pending) == 0, "layout");
HV_EVTCHN_ABI_ASSERT(offsetof(hv_evtchn_shared, mask) == 128, "layout");
HV_EVTCHN_ABI_ASSERT(offsetof(hv_evtchn_shared, pending_sel) == 256, "layout");
HV_EVTCHN_ABI_ASSERT(offsetof(hv_evtchn_shared, reserved) == 264, "layout");
