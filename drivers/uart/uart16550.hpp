// 16550 UART, polled transmit and receive. Used for the hypervisor console.
#pragma once

#include <cstdint>

namespace drivers {

class Uart16550 {
public:
    // Standard PC COM port bases (COM1..COM4).
    static constexpr uint16_t com_base[4] = {0x3f8, 0x2f8, 0x3e8, 0x2e8};

    // Programs 8N1 at `baud` with FIFOs on; returns false if no UART answers
    // (scratch register test), in which case output is dropped.
    bool init(uint16_t base, uint32_t baud);
    void put(char c);
    void write(const char* s, unsigned long n);
    // Receive: whether a byte is waiting, and the next byte (-1 if none).
    bool can_read() const;
    int get();
    bool present() const { return present_; }
    uint16_t base() const { return base_; }

private:
    uint16_t base_ = 0;
    bool present_ = false;
};

}  // namespace drivers
