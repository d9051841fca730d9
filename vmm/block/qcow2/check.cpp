// Consistency check in the spirit of `qemu-img check`: walk every table from
// the header, count references per host cluster, compare with the refcounts.
// refcount > references: leak (harmless, repairable); refcount < references:
// corruption (data could be overwritten); plus COPIED flags of the active
// tables, misaligned entries and tables beyond the end of the file.
#include <cstring>

#include "lib/format.hpp"
#include "vmm/block/qcow2/qcow2.hpp"

namespace vmm::block::qcow2 {

class Checker {
public:
    Checker(Device& d, CheckResult& r) : d_(d), r_(r) {}

    lib::Status run(Device::Repair repair)
    {
        uint64_t cs = d_.cluster_size_;
        nclusters_ = div_round_up(d_.file_.size(), cs);
        // One counter per host cluster: refuse sizes that would need more
        // than 4 GiB of counters (e.g. a 1 TiB file of 512-byte clusters).
        if (nclusters_ > (1ull << 30)) return lib::Error::unsupported;
        refs_ = TRY(Buffer::make(d_.alloc_, (nclusters_ + 1) * sizeof(uint32_t), alignof(uint32_t)));
        table_ = TRY(Buffer::make(d_.alloc_, cs));

        ref(0, cs);  // header
        ref(d_.l1_offset_, uint64_t(d_.l1_size_) * 8);
        TRY(walk_l1(d_.l1_.data(), d_.l1_size_, true));
        for (uint32_t i = 0; i < d_.nb_snapshots_; ++i) {
            const SnapshotInfo& s = d_.snapshots_[i];
            ref(s.l1_offset, uint64_t(s.l1_size) * 8);
            Buffer l1 = TRY(Buffer::make(d_.alloc_, uint64_t(s.l1_size) * 8 + 8));
            TRY(file_read(d_.file_, s.l1_offset, l1.data(), uint64_t(s.l1_size) * 8));
            TRY(walk_l1(l1.data(), s.l1_size, false));
        }
        if (d_.nb_snapshots_) ref(d_.snapshots_offset_, d_.snapshot_table_bytes_);
        ref(d_.rt_offset_, uint64_t(d_.rt_clusters_) * cs);
        for (uint64_t bi = 0; bi < d_.rt_entries(); ++bi) {
            uint64_t off = d_.rt_get(bi);
            if (!off) continue;
            if (off % cs) {
                report("ERROR refcount block %llu is not cluster aligned; refcount table entry corrupted", bi);
                r_.corruptions++;
                continue;
            }
            ref(off, cs);
        }
        return compare(repair);
    }

private:
    template <typename... A> void report(const char* fmt, A... a)
    {
        if (!r_.report) return;
        char line[160];
        lib::format(line, sizeof line, fmt, static_cast<unsigned long long>(a)...);
        r_.report(r_.report_ctx, line);
    }

    void ref(uint64_t off, uint64_t len)
    {
        if (!len) return;
        uint64_t cs = d_.cluster_size_;
        uint64_t first = off / cs, last = (off + len - 1) / cs;
        auto* refs = refs_.as<uint32_t>();
        for (uint64_t c = first; c <= last; ++c) {
            if (c >= nclusters_) {
                report("ERROR: reference to cluster %llu beyond the end of the image file", c);
                r_.corruptions++;
                continue;
            }
            refs[c]++;
        }
    }

    lib::Status walk_l1(const uint8_t* l1, uint32_t n, bool active)
    {
        uint64_t cs = d_.cluster_size_;
        for (uint32_t i = 0; i < n; ++i) {
            uint64_t e = load_be64(l1 + uint64_t(i) * 8);
            uint64_t l2 = e & offset_mask;
            if (!l2) continue;
            if (l2 % cs) {
                report("ERROR: L2 table offset %#llx unaligned (L1 index %llu)", l2, i);
                r_.corruptions++;
                continue;
            }
            if (l2 + cs > d_.file_.size()) {
                report("ERROR: L2 table at %#llx beyond the end of the image file", l2);
                r_.corruptions++;
                continue;
            }
            ref(l2, cs);
            if (active) TRY(check_copied(e, l2, "L1"));
            TRY(file_read(d_.file_, l2, table_.data(), cs));
            TRY(walk_l2(table_.data(), uint64_t(i) << d_.l2_bits_, active));
        }
        return {};
    }

    lib::Status walk_l2(const uint8_t* t, uint64_t first_guest_cluster, bool active)
    {
        uint64_t cs = d_.cluster_size_;
        uint64_t entries = cs / 8;
        for (uint64_t j = 0; j < entries; ++j) {
            uint64_t e = load_be64(t + j * 8);
            if (e & entry_compressed) {
                if (e & entry_copied) {
                    report("ERROR: compressed cluster %llu has the COPIED flag", first_guest_cluster + j);
                    r_.corruptions++;
                }
                uint64_t host, bytes;
                if (!d_.compressed_span(e, host, bytes)) {
                    report("ERROR: compressed cluster %llu points beyond the end of the image file",
                           first_guest_cluster + j);
                    r_.corruptions++;
                    continue;
                }
                ref(host, bytes);
                if (active) {
                    r_.allocated_clusters++;
                    r_.compressed_clusters++;
                }
                continue;
            }
            uint64_t host = e & offset_mask;
            bool zero = d_.version_ == version3 && (e & l2_zero);
            if (!host) continue;
            if (host % cs) {
                report("ERROR: cluster at guest cluster %llu has unaligned offset %#llx", first_guest_cluster + j,
                       host);
                r_.corruptions++;
                continue;
            }
            ref(host, cs);
            if (active) {
                TRY(check_copied(e, host, "L2"));
                if (!zero) {
                    r_.allocated_clusters++;
                    if (last_host_ && host != last_host_ + cs) r_.fragmented_clusters++;
                    last_host_ = host;
                }
            }
        }
        return {};
    }

    lib::Status check_copied(uint64_t entry, uint64_t host, const char* table)
    {
        uint64_t rc = TRY(d_.get_refcount(host / d_.cluster_size_));
        if ((rc == 1) != bool(entry & entry_copied)) {
            report(table[1] == '1' ? "ERROR OFLAG_COPIED L1 table entry for cluster %#llx: refcount=%llu"
                                   : "ERROR OFLAG_COPIED data cluster: l2_entry=%#llx refcount=%llu",
                   table[1] == '1' ? host : entry, rc);
            r_.corruptions++;
            r_.copied_flag_errors++;
        }
        return {};
    }

    lib::Status compare(Device::Repair repair_mode)
    {
        bool repair = repair_mode != Device::Repair::none;
        bool repair_all = repair_mode == Device::Repair::all;
        auto* refs = refs_.as<uint32_t>();
        uint64_t last_used = 0;
        uint64_t limit = d_.rt_entries() * d_.refblock_entries_;
        uint64_t end = nclusters_ > limit ? nclusters_ : limit;
        for (uint64_t c = 0; c < end; ++c) {
            if (c % d_.refblock_entries_ == 0 && c >= nclusters_) {
                uint64_t bi = c / d_.refblock_entries_;
                if (bi >= d_.rt_entries()) break;
                if (!d_.rt_get(bi)) {
                    c += d_.refblock_entries_ - 1;
                    continue;
                }
            }
            uint64_t rc = TRY(d_.get_refcount(c));
            uint64_t rf = c < nclusters_ ? refs[c] : 0;
            if (rf) last_used = c + 1;
            if (rc == rf) continue;
            if (rc > rf) {
                if (repair) {
                    TRY(d_.set_refcount(c, rf));
                    r_.leaks_fixed++;
                    report("Repairing cluster %llu refcount=%llu reference=%llu", c, rc, rf);
                } else {
                    report("Leaked cluster %llu refcount=%llu reference=%llu", c, rc, rf);
                }
                r_.leaks++;
            } else {
                uint64_t bi = c / d_.refblock_entries_;
                bool covered = bi < d_.rt_entries() && d_.rt_get(bi);
                if (repair_all && covered && d_.set_refcount(c, rf)) {
                    r_.corruptions_fixed++;
                    report("Repairing cluster %llu refcount=%llu reference=%llu", c, rc, rf);
                } else {
                    report("ERROR cluster %llu refcount=%llu reference=%llu", c, rc, rf);
                }
                r_.corruptions++;
            }
        }
        if (repair && (r_.leaks_fixed || r_.corruptions_fixed)) {
            TRY(d_.write_dirty_refblocks());
            TRY(d_.sync());
            if (d_.free_hint_ > 0) d_.free_hint_ = 0;
        }
        r_.image_end_offset = last_used * d_.cluster_size_;
        r_.total_clusters = div_round_up(d_.size_, d_.cluster_size_);
        return {};
    }

    Device& d_;
    CheckResult& r_;
    Buffer refs_;
    Buffer table_;
    uint64_t nclusters_ = 0;
    uint64_t last_host_ = 0;
};

lib::Status Device::check(CheckResult& r, Repair repair)
{
    if (repair != Repair::none && read_only_) return lib::Error::denied;
    if (!read_only_) TRY(flush_metadata());
    Checker c(*this, r);
    TRY(c.run(repair));
    if (repair == Repair::all && (r.corruptions_fixed || r.copied_flag_errors)) {
        // Refcounts are right now: make the COPIED flags agree with them.
        TRY(sync_copied_flags());
        TRY(flush_metadata());
    }
    return {};
}

}  // namespace vmm::block::qcow2
