#include "vmm/hostdev/uplink.hpp"

#include "vmm/net/checksum.hpp"
#include "vmm/net/tso.hpp"

namespace vmm::hostdev {

lib::Status Uplink::attach(drivers::Nic& nic, net::Bridge& bridge, const char* name)
{
    if (nic_) return lib::Error::exists;
    unsigned p = TRY(bridge.attach(*this, name));
    nic_ = &nic;
    bridge_ = &bridge;
    port_ = p;
    return {};
}

bool Uplink::send(uint8_t* buf, size_t len, const net::Offload& off)
{
    if (off.needs_csum) {
        // The field holds the pseudo-header sum (virtio's partial checksum):
        // add the rest and store the complement.
        size_t at = size_t(off.csum_start) + off.csum_offset;
        if (off.csum_start >= len || at + 2 > len) return false;
        uint16_t sum = net::finish(net::sum_bytes(buf + off.csum_start, len - off.csum_start));
        buf[at] = uint8_t(sum >> 8);
        buf[at + 1] = uint8_t(sum);
    }
    return nic_->transmit(buf, len).ok();
}

net::BridgePort::Delivery Uplink::deliver(const net::Frame& f)
{
    if (!nic_) return Delivery::dropped;
    bool ok = true;
    if (f.off.gso != net::Gso::none) {
        net::TcpSegmenter seg;
        if (!seg.start(f).ok()) {
            ++tx_dropped_;
            return Delivery::dropped;
        }
        net::TcpSegmenter::Segment s;
        while (seg.next(s)) {
            if (s.len() > sizeof buf_) {
                ok = false;
                continue;
            }
            __builtin_memcpy(buf_, s.header, s.hdr_len);
            f.read(s.payload_from, buf_ + s.hdr_len, s.payload_len);
            ok &= send(buf_, s.len(), s.off);
            ++segmented_;
        }
    } else {
        if (f.len > sizeof buf_) {
            ++tx_dropped_;
            return Delivery::dropped;
        }
        f.read(0, buf_, f.len);
        ok = send(buf_, f.len, f.off);
    }
    if (!ok) {
        ++tx_dropped_;
        return Delivery::dropped;
    }
    return Delivery::delivered;
}

void Uplink::received(void* ctx, const uint8_t* frame, size_t len, uint32_t flags)
{
    auto* u = static_cast<Uplink*>(ctx);
    net::Span span{frame, uint32_t(len)};
    net::Frame f;
    f.spans = &span;
    f.count = 1;
    f.len = uint32_t(len);
    f.off.data_valid = flags & drivers::rx_checksum_verified;
    u->bridge_->input(u->port_, f, u->now_);
}

unsigned Uplink::poll(uint64_t now_ns)
{
    if (!nic_) return 0;
    now_ = now_ns;
    return nic_->poll(received, this);
}

}  // namespace vmm::hostdev
