#include "vmm/net/bridge.hpp"

namespace vmm::net {

lib::Result<unsigned> Bridge::attach(BridgePort& p, const char* name)
{
    for (unsigned i = 0; i < max_ports; ++i) {
        PortSlot& s = ports_[i];
        if (s.dev) continue;
        s = PortSlot{};
        s.dev = &p;
        size_t k = 0;
        for (; name && name[k] && k + 1 < name_size; ++k) s.name[k] = name[k];
        s.name[k] = '\0';
        return i;
    }
    return lib::err(lib::Error::no_memory);
}

void Bridge::detach(unsigned port)
{
    if (!attached(port)) return;
    ports_[port].dev = nullptr;
    for (Entry& e : fdb_)
        if (e.port == port) e.port = max_ports;
}

unsigned Bridge::hash(const uint8_t* mac) const
{
    // FNV-1a over the six bytes: guests' MACs share their OUI, the low bytes
    // carry the difference.
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < eth_alen; ++i) h = (h ^ mac[i]) * 16777619u;
    return h & (fdb_size - 1);
}

int Bridge::lookup(const uint8_t* mac, uint64_t now) const
{
    const unsigned h = hash(mac);
    for (unsigned k = 0; k < fdb_probe; ++k) {
        const Entry& e = fdb_[(h + k) & (fdb_size - 1)];
        if (!e.used) return -1;
        if (mac_equal(e.mac, mac)) return live(e, now) ? int(e.port) : -1;
    }
    return -1;
}

void Bridge::learn(const uint8_t* mac, unsigned port, uint64_t now)
{
    const unsigned h = hash(mac);
    Entry* free_slot = nullptr;
    for (unsigned k = 0; k < fdb_probe; ++k) {
        Entry& e = fdb_[(h + k) & (fdb_size - 1)];
        if (e.used && mac_equal(e.mac, mac)) {
            e.port = uint16_t(port);  // a MAC that moved follows its new port
            e.seen = now;
            return;
        }
        if (!free_slot && (!e.used || !live(e, now))) free_slot = &e;
        if (!e.used) break;  // the MAC is not further on
    }
    if (!free_slot) {
        ++fdb_full_;
        return;
    }
    __builtin_memcpy(free_slot->mac, mac, eth_alen);
    free_slot->used = true;
    free_slot->port = uint16_t(port);
    free_slot->seen = now;
}

size_t Bridge::fdb_count(uint64_t now) const
{
    size_t n = 0;
    for (const Entry& e : fdb_) n += e.used && live(e, now);
    return n;
}

void Bridge::send(unsigned port, const Frame& f)
{
    PortSlot& s = ports_[port];
    switch (s.dev->deliver(f)) {
    case BridgePort::Delivery::delivered:
        ++s.stats.tx_packets;
        s.stats.tx_bytes += f.len;
        break;
    case BridgePort::Delivery::dropped: ++s.stats.tx_dropped; break;
    case BridgePort::Delivery::filtered: break;
    }
}

void Bridge::input(unsigned port, const Frame& f, uint64_t now)
{
    if (!attached(port)) return;
    PortStats& in = ports_[port].stats;
    uint8_t eth[2 * eth_alen];
    if (f.len < eth_hlen || f.read(0, eth, sizeof eth) != sizeof eth) {
        ++in.rx_dropped;  // a runt: no Ethernet header
        return;
    }
    const uint8_t* dst = eth;
    const uint8_t* src = eth + eth_alen;
    if (is_multicast(src)) {
        ++in.rx_dropped;  // 802.1D 7.8: a group address is never a source
        return;
    }
    ++in.rx_packets;
    in.rx_bytes += f.len;
    learn(src, port, now);
    if (!is_multicast(dst)) {
        const int out = lookup(dst, now);
        if (out == int(port)) return;  // it is on the ingress segment: filtered
        if (out >= 0) {
            send(unsigned(out), f);
            return;
        }
    }
    for (unsigned p = 0; p < max_ports; ++p)
        if (p != port && ports_[p].dev) send(p, f);
}

}  // namespace vmm::net
