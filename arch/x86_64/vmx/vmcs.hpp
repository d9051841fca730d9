// VMX instructions (SDM Vol. 3C Chapter 31) and width-typed VMCS accessors.
// Kernel only.
//
// Every VMX instruction reports failure in RFLAGS (31.2): CF=1 is
// VMfailInvalid (no current VMCS), ZF=1 is VMfailValid (the reason is in the
// VM-instruction error field). The wrappers return that as an InsnStatus; the
// VMCS accessors log failures with the field encoding and the error's name.
#pragma once

#include <concepts>
#include <cstdint>

#include "arch/x86_64/vmx/vmcs_fields.hpp"

namespace arch::vmx {

enum class InsnStatus : uint8_t { ok, fail_invalid, fail_valid };

namespace detail {
// Flags after a VMX instruction: "a" (CF=0 and ZF=0) is success; "c" tells
// the two failures apart.
inline InsnStatus status(bool above, bool carry)
{
    if (above) return InsnStatus::ok;
    return carry ? InsnStatus::fail_invalid : InsnStatus::fail_valid;
}
// Logs a failed VMREAD/VMWRITE (vmcs.cpp).
void access_failed(const char* insn, uint32_t encoding, InsnStatus s);
}  // namespace detail

inline InsnStatus vmxon(uint64_t phys)
{
    bool above, carry;
    asm volatile("vmxon %2" : "=@cca"(above), "=@ccc"(carry) : "m"(phys) : "memory");
    return detail::status(above, carry);
}
inline void vmxoff() { asm volatile("vmxoff" ::: "cc", "memory"); }
inline InsnStatus vmclear(uint64_t phys)
{
    bool above, carry;
    asm volatile("vmclear %2" : "=@cca"(above), "=@ccc"(carry) : "m"(phys) : "memory");
    return detail::status(above, carry);
}
inline InsnStatus vmptrld(uint64_t phys)
{
    bool above, carry;
    asm volatile("vmptrld %2" : "=@cca"(above), "=@ccc"(carry) : "m"(phys) : "memory");
    return detail::status(above, carry);
}

// INVEPT / INVVPID types and descriptors (31.3, "INVEPT", "INVVPID").
enum class InveptType : uint64_t { single_context = 1, all_context = 2 };
enum class InvvpidType : uint64_t { individual_address = 0, single_context = 1, all_context = 2,
                                    single_context_keep_global = 3 };
struct alignas(16) InveptDescriptor {
    uint64_t eptp;
    uint64_t reserved;
};
struct alignas(16) InvvpidDescriptor {
    uint64_t vpid;  // bits 15:0, rest reserved (0)
    uint64_t linear_address;
};
static_assert(sizeof(InveptDescriptor) == 16 && sizeof(InvvpidDescriptor) == 16);

inline InsnStatus invept(InveptType type, uint64_t eptp)
{
    InveptDescriptor d{eptp, 0};
    bool above, carry;
    asm volatile("invept %2, %3" : "=@cca"(above), "=@ccc"(carry) : "m"(d), "r"(uint64_t(type)) : "memory");
    return detail::status(above, carry);
}
inline InsnStatus invvpid(InvvpidType type, uint16_t vpid, uint64_t linear = 0)
{
    InvvpidDescriptor d{vpid, linear};
    bool above, carry;
    asm volatile("invvpid %2, %3" : "=@cca"(above), "=@ccc"(carry) : "m"(d), "r"(uint64_t(type)) : "memory");
    return detail::status(above, carry);
}

// Raw VMREAD/VMWRITE of an encoding (64-bit operands in 64-bit mode).
inline InsnStatus vmread_raw(uint32_t encoding, uint64_t& value)
{
    bool above, carry;
    asm volatile("vmread %3, %2" : "=@cca"(above), "=@ccc"(carry), "=r"(value) : "r"(uint64_t(encoding)));
    return detail::status(above, carry);
}
inline InsnStatus vmwrite_raw(uint32_t encoding, uint64_t value)
{
    bool above, carry;
    asm volatile("vmwrite %2, %3" : "=@cca"(above), "=@ccc"(carry) : "rm"(value), "r"(uint64_t(encoding))
                 : "memory");
    return detail::status(above, carry);
}

namespace detail {
template <typename Field> inline uint64_t read_checked(Field f)
{
    uint64_t v = 0;
    InsnStatus s = vmread_raw(uint32_t(f), v);
    if (s != InsnStatus::ok) [[unlikely]] access_failed("VMREAD", uint32_t(f), s);
    return v;
}
template <typename Field> inline void write_checked(Field f, uint64_t v)
{
    InsnStatus s = vmwrite_raw(uint32_t(f), v);
    if (s != InsnStatus::ok) [[unlikely]] access_failed("VMWRITE", uint32_t(f), s);
}
}  // namespace detail

// Width-typed accessors of the current VMCS. A field can only be used with
// the value type of its width; passing a wider unsigned value to a narrower
// field does not compile (cast explicitly where the narrowing is intended).
inline uint16_t read(Field16 f) { return uint16_t(detail::read_checked(f)); }
inline uint32_t read(Field32 f) { return uint32_t(detail::read_checked(f)); }
inline uint64_t read(Field64 f) { return detail::read_checked(f); }
inline uint64_t read(FieldNat f) { return detail::read_checked(f); }

inline void write(Field16 f, uint16_t v) { detail::write_checked(f, v); }
inline void write(Field32 f, uint32_t v) { detail::write_checked(f, v); }
inline void write(Field64 f, uint64_t v) { detail::write_checked(f, v); }
inline void write(FieldNat f, uint64_t v) { detail::write_checked(f, v); }
template <std::unsigned_integral T>
    requires(sizeof(T) > 2)
void write(Field16, T) = delete;
template <std::unsigned_integral T>
    requires(sizeof(T) > 4)
void write(Field32, T) = delete;

// The VM-instruction error field after a VMfailValid (25.9.5).
inline uint32_t instruction_error() { return read(Field32::vm_instruction_error); }

}  // namespace arch::vmx
