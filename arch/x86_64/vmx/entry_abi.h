/* Numbers shared by entry.S and C++ (vcpu.cpp static_asserts them against
 * hv::GuestGprs and the VMCS field enums). C preprocessor only. */
#pragma once

/* Byte offsets of the registers in hv::GuestGprs (x86 encoding order). */
#define VMX_GPR_RAX 0
#define VMX_GPR_RCX 8
#define VMX_GPR_RDX 16
#define VMX_GPR_RBX 24
#define VMX_GPR_RSP 32 /* not touched by the stub: lives in the VMCS guest RSP field */
#define VMX_GPR_RBP 40
#define VMX_GPR_RSI 48
#define VMX_GPR_RDI 56
#define VMX_GPR_R8 64
#define VMX_GPR_R9 72
#define VMX_GPR_R10 80
#define VMX_GPR_R11 88
#define VMX_GPR_R12 96
#define VMX_GPR_R13 104
#define VMX_GPR_R14 112
#define VMX_GPR_R15 120

/* VMCS encoding of the host RSP field (SDM Vol. 3C Appendix B.4). */
#define VMX_FIELD_HOST_RSP 0x6c14

/* vmx_enter() results. */
#define VMX_ENTER_EXIT 0          /* the guest ran and exited */
#define VMX_ENTER_FAIL_INVALID 1  /* VMfailInvalid: no current VMCS */
#define VMX_ENTER_FAIL_VALID 2    /* VMfailValid: see the VM-instruction error field */
