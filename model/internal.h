// Helpers shared by the model's step functions (not part of the model API).
#ifndef KNIOMMU_MODEL_INTERNAL_H
#define KNIOMMU_MODEL_INTERNAL_H

#include <initializer_list>

#include "model/model.h"

namespace kniommu::model::detail {

// The explorer's self-test builds the model a second time with KNIOMMU_MODEL_SEEDED_BUG: then
// destroying a domain forgets the grants into it (they stay, unrevoked, pointing at a dead
// domain: the stale-access bug the invariants exist to catch).
#ifdef KNIOMMU_MODEL_SEEDED_BUG
inline constexpr bool kSeededBug = true;
#else
inline constexpr bool kSeededBug = false;
#endif

// The process `pid` if it is alive, else nullptr.
Process* live_process(State& s, Pid pid);
const Process* live_process(const State& s, Pid pid);

// The handle checks of docs/semantics.md "Handles", in order: a live entry of the caller's table
// (else rcInvalidArgument), not revoked (else rcHandleRevoked), one of `kinds` (else
// rcInvalidArgument). On rcOk, *out is the entry.
Retcode resolve(const Process& p, Handle h, std::initializer_list<Kind> kinds,
                const HandleEntry** out);

// The smallest free handle value >= 1 of `p`, now naming `entry`.
Handle add_handle(Process& p, HandleEntry entry);

// Removes every grant into domain `d`, revokes their handles, detaches every device, and forgets
// the domain (and the owner's automatic-domain link).
void destroy_domain(State& s, DomainSerial d);

// Frees buffer `b` if no handle, grant or mapping refers to it any more.
void release_if_unreferenced(State& s, BufferId b);

// The grant of buffer `b` in `domain`, if any.
const Grant* find_grant(const State& s, BufferId b, std::optional<DomainSerial> domain);

// can_access in both directions at once (Isolation probes every page both ways; the lookups of
// the device's domain and of the grant holding the page serve both). can_access returns one of
// the two.
struct AccessPair {
  Access read;   // Dir::Read: the device reads memory
  Access write;  // Dir::Write
};
AccessPair access_both(const State& s, Bdf bdf, uint64_t iova);

inline Result fail(Retcode rc) {
  Result r;
  r.rc = rc;
  return r;
}

}  // namespace kniommu::model::detail

#endif
