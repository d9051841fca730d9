# Scheduler policy (credit-style proportional share, affinity, balancing,
# directed yield): portable, compiled into the kernel and the host tests.
list(APPEND HV_PORTABLE_SOURCES
  hv/sched/sched_config.cpp
  hv/sched/run_queue.cpp
  hv/sched/cap.cpp
  hv/sched/accounting.cpp
  hv/sched/transitions.cpp
  hv/sched/pick.cpp
  hv/sched/balance.cpp
  hv/sched/directed_yield.cpp
  hv/sched/invariants.cpp)
