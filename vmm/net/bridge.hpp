// A learning Ethernet switch (IEEE 802.1D's transparent bridge, as Linux's
// bridge and Xen's xenbr0 behave): ports are guests' vifs and, later, an
// uplink to a physical NIC. The source MAC of every frame is learnt for its
// ingress port (forwarding database with ageing, 300 s by default as in
// Linux); a unicast frame to a learnt MAC goes out of that one port, while
// broadcast, multicast and unknown unicast frames are flooded to every port
// but the ingress one. A frame is never sent back where it came from.
//
// Frames are handed to the egress ports by reference (net::Frame points
// into the sender's buffers); each egress port copies what it takes once
// into its own buffers before input() returns. Per-port counters are kept
// as the bridge sees them: rx is what the port sent into the bridge, tx
// what the bridge delivered to it; tx_dropped counts frames the port could
// not take (no receive buffer, too big), rx_dropped frames the bridge
// refused from it (runts, multicast source addresses). Fixed tables, no
// allocation. One thread at a time (Dom0's device-model thread).
// Portable, host-tested.
#pragma once

#include <cstddef>
#include <cstdint>

#include "lib/result.hpp"
#include "vmm/net/frame.hpp"

namespace vmm::net {

class BridgePort {
public:
    enum class Delivery : uint8_t {
        delivered,  // copied into the port's buffers
        filtered,   // not for it (its receive filter): not a drop
        dropped,    // for it, but it could not take it
    };
    virtual Delivery deliver(const Frame& f) = 0;

protected:
    ~BridgePort() = default;
};

struct PortStats {
    uint64_t rx_packets = 0, rx_bytes = 0, rx_dropped = 0;
    uint64_t tx_packets = 0, tx_bytes = 0, tx_dropped = 0;
};

class Bridge {
public:
    static constexpr unsigned max_ports = 64;
    static constexpr unsigned fdb_size = 512;  // power of two
    static constexpr unsigned fdb_probe = 16;  // slots looked at per MAC
    static constexpr uint64_t default_ageing_ns = 300'000'000'000ull;
    static constexpr size_t name_size = 16;

    // constexpr, so a bridge can be a constinit global (no static
    // constructor runs in Dom0).
    constexpr explicit Bridge(const char* name)
    {
        size_t i = 0;
        for (; name && name[i] && i + 1 < name_size; ++i) name_[i] = name[i];
        name_[i] = '\0';
    }

    const char* name() const { return name_; }
    // Adds a port; its number stays valid until detach(). no_memory when
    // every port is taken.
    lib::Result<unsigned> attach(BridgePort& p, const char* name);
    // Removes the port and forgets the MACs learnt on it.
    void detach(unsigned port);
    bool attached(unsigned port) const { return port < max_ports && ports_[port].dev; }
    const char* port_name(unsigned port) const { return attached(port) ? ports_[port].name : ""; }

    // A frame that came in on `port` at time now_ns.
    void input(unsigned port, const Frame& f, uint64_t now_ns);

    const PortStats& stats(unsigned port) const { return ports_[port < max_ports ? port : 0].stats; }
    // The port `mac` was learnt on and has not aged out, or -1.
    int lookup(const uint8_t* mac, uint64_t now_ns) const;
    // Live forwarding-database entries.
    size_t fdb_count(uint64_t now_ns) const;
    void set_ageing(uint64_t ns) { ageing_ns_ = ns; }
    uint64_t ageing() const { return ageing_ns_; }
    // Frames no learnt entry could be stored for (the probe window full of
    // live entries): they are still forwarded, by flooding.
    uint64_t fdb_full() const { return fdb_full_; }

private:
    struct Entry {
        uint8_t mac[eth_alen];
        bool used;       // ever used: probing goes on past it
        uint16_t port;   // max_ports: forgotten
        uint64_t seen;
    };
    struct PortSlot {
        BridgePort* dev = nullptr;
        char name[name_size] = "";
        PortStats stats;
    };

    bool live(const Entry& e, uint64_t now) const { return e.port < max_ports && now - e.seen < ageing_ns_; }
    unsigned hash(const uint8_t* mac) const;
    void learn(const uint8_t* mac, unsigned port, uint64_t now);
    void send(unsigned port, const Frame& f);

    char name_[name_size] = {};
    PortSlot ports_[max_ports];
    Entry fdb_[fdb_size] = {};
    uint64_t ageing_ns_ = default_ageing_ns;
    uint64_t fdb_full_ = 0;
};

}  // namespace vmm::net
