#include "hv/sched/sched_config.hpp"

namespace hv::sched {

lib::Status validate(const SchedConfig& c)
{
    if (c.slice_us < 100 || c.slice_us > 10'000'000) return lib::err(lib::Error::out_of_range);
    if (c.ratelimit_us > c.slice_us) return lib::err(lib::Error::out_of_range);
    if (c.boost_slice_us < 50 || c.boost_slice_us > c.slice_us) return lib::err(lib::Error::out_of_range);
    if (uint64_t(c.wake_credit_us) > uint64_t(c.slice_us) * 10) return lib::err(lib::Error::out_of_range);
    if (c.cap_period_us < 1000 || c.cap_period_us > 1'000'000) return lib::err(lib::Error::out_of_range);
    if (c.balance_interval_us < 1000 || c.balance_interval_us > 10'000'000) return lib::err(lib::Error::out_of_range);
    return {};
}

}  // namespace hv::sched
