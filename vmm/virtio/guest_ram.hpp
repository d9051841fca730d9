// Zero-copy access to a guest's RAM for device models. Dom0 maps each
// guest's RAM contiguously, so a guest-physical range that is wholly RAM has
// one host address. The integrator implements this over its mapping.
#pragma once

#include <cstdint>

namespace vmm::virtio {

class GuestRam {
public:
    // Host pointer for [gpa, gpa+len), or nullptr unless the whole range is
    // guest RAM (including when gpa+len overflows). len 0 is never asked.
    // The guest can change the memory at any time: callers read each value
    // once into a local and validate it there.
    virtual uint8_t* span(uint64_t gpa, uint64_t len) = 0;

protected:
    ~GuestRam() = default;
};

}  // namespace vmm::virtio
