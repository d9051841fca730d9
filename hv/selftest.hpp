// Deliberate faults, selected with `selftest=<name>` on the command line, so
// tests can prove the protections and the fault report work on a real boot:
//   pagefault       read an unmapped address                -> #PF report
//   write-text      write into the hypervisor's own code    -> #PF (W^X holds)
//   stack-overflow  unbounded recursion into the guard page -> #DF on its IST stack
#pragma once

#include "lib/str.hpp"

namespace hv::selftest {
// Runs the named self-test after boot; unknown names are warned about.
void run(lib::StrView name);
}  // namespace hv::selftest
