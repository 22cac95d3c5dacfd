#include "abstract_state.h"

namespace kniommu::proofs {

Sorts::Sorts(Universe& u)
    : ctx(u.ctx),
      proc(u.sort("Proc")),
      dev(u.sort("Dev")),
      dom(u.sort("Dom")),
      buf(u.sort("Buf")),
      grant(u.sort("Grant")) {}

AbsState AbsState::fresh(const Sorts& s, const std::string& prefix, const Spelling& spell) {
  z3::context& c = s.ctx;
  auto arr = [&](const char* field, const z3::sort& from, const z3::sort& to) {
    const auto renamed = spell.find(field);
    const std::string symbol = renamed == spell.end() ? field : renamed->second;
    return c.constant((prefix + "." + symbol).c_str(), c.array_sort(from, to));
  };
  const z3::sort B = c.bool_sort();
  const z3::sort I = c.int_sort();
  return AbsState{
      arr("started", s.proc, B),      arr("alive", s.proc, B),
      arr("attachedOnce", s.proc, B), arr("hasAuto", s.proc, B),
      arr("autoDom", s.proc, s.dom),  arr("domLive", s.dom, B),
      arr("domOwner", s.dom, s.proc), arr("domAuto", s.dom, B),
      arr("domHandle", s.dom, B),     arr("att", s.dev, c.array_sort(s.dom, B)),
      arr("bufLive", s.buf, B),       arr("bufOwner", s.buf, s.proc),
      arr("bufHandle", s.buf, B),     arr("bufMaps", s.buf, I),
      arr("bufLen", s.buf, I),        arr("bufR", s.buf, B),
      arr("bufW", s.buf, B),          arr("gLive", s.grant, B),
      arr("gHandle", s.grant, B),     arr("gRevoked", s.grant, B),
      arr("gProc", s.grant, s.proc),  arr("gBuf", s.grant, s.buf),
      arr("gDom", s.grant, s.dom),    arr("gIovaPage", s.grant, I),
  };
}

z3::expr reach_via(const AbsState& s, const z3::expr& x, const z3::expr& d, const z3::expr& g,
                   const z3::expr& v, const z3::expr& write) {
  const z3::expr b = at(s.gBuf, g);
  const z3::expr lo = at(s.gIovaPage, g);
  return at(s.att, x, d) && at(s.gLive, g) && at(s.gDom, g) == d && lo <= v &&
         v < lo + at(s.bufLen, b) && z3::ite(write, at(s.bufW, b), at(s.bufR, b));
}

std::vector<NamedFormula> invariants(const Sorts& so, const AbsState& s) {
  z3::context& c = so.ctx;
  const z3::expr p = c.constant("p!", so.proc);
  const z3::expr x = c.constant("x!", so.dev);
  const z3::expr d = c.constant("d!", so.dom), d2 = c.constant("d2!", so.dom);
  const z3::expr b = c.constant("b!", so.buf);
  const z3::expr g = c.constant("g!", so.grant), g2 = c.constant("g2!", so.grant);
  const z3::expr v = c.int_const("v!");
  const z3::expr w = c.bool_const("w!"), w2 = c.bool_const("w2!");
  auto all = [&](std::initializer_list<z3::expr> vars, const z3::expr& body) {
    z3::expr_vector xs(c);
    for (const z3::expr& e : vars) xs.push_back(e);
    return z3::forall(xs, body);
  };
  const z3::expr owner_d = at(s.domOwner, d);
  const z3::expr gb = at(s.gBuf, g), gd = at(s.gDom, g);
  auto ends = [&](const z3::expr& gr) {
    return at(s.gIovaPage, gr) + at(s.bufLen, at(s.gBuf, gr));
  };

  return {
      // A device is attached to at most one domain.
      {"AttachmentUnique",
       all({x, d, d2}, z3::implies(at(s.att, x, d) && at(s.att, x, d2), d == d2))},
      // Attachments name live domains (model/: a domain's device list).
      {"AttachmentValid", all({x, d}, z3::implies(at(s.att, x, d), at(s.domLive, d)))},
      // Every live domain has exactly one owner (a function), which is alive; it is automatic
      // exactly when it is its owner's automatic domain.
      {"DomainOwner", all({d}, z3::implies(at(s.domLive, d), at(s.alive, owner_d) &&
                                                                 (at(s.domAuto, d) ==
                                                                  (at(s.hasAuto, owner_d) &&
                                                                   at(s.autoDom, owner_d) == d))))},
      // At most one automatic domain per process.
      {"AutoDomainUnique",
       all({d, d2}, z3::implies(at(s.domLive, d) && at(s.domLive, d2) && at(s.domAuto, d) &&
                                    at(s.domAuto, d2) && owner_d == at(s.domOwner, d2),
                                d == d2))},
      // A process has an automatic domain iff it is alive and has had a successful attach.
      {"AutoDomainLifetime", all({p}, (at(s.alive, p) && at(s.attachedOnce, p)) ==
                                          (at(s.hasAuto, p) && at(s.domLive, at(s.autoDom, p))))},
      // Grants reference live buffers and live domains of one process, which holds the handle;
      // CPU mappings and handles reference live buffers; a live buffer has a non-empty footprint.
      {"GrantRefsLive",
       all({g}, z3::implies(at(s.gLive, g), at(s.bufLive, gb) && at(s.domLive, gd) &&
                                                at(s.bufOwner, gb) == at(s.domOwner, gd) &&
                                                at(s.gProc, g) == at(s.bufOwner, gb) &&
                                                at(s.bufLen, gb) > 0)) &&
           all({b}, at(s.bufMaps, b) >= 0 &&
                        z3::implies(at(s.bufMaps, b) > 0 || at(s.bufHandle, b), at(s.bufLive, b)) &&
                        z3::implies(at(s.bufLive, b), at(s.bufLen, b) > 0))},
      // Within a domain: one grant per buffer, pairwise disjoint IOVA ranges.
      {"GrantsDisjoint",
       all({g, g2},
           z3::implies(at(s.gLive, g) && at(s.gLive, g2) && gd == at(s.gDom, g2) && g != g2,
                       gb != at(s.gBuf, g2) &&
                           (ends(g) <= at(s.gIovaPage, g2) || ends(g2) <= at(s.gIovaPage, g))))},
      // A device reaches a page only of a live buffer granted to its current domain, in a
      // permitted direction, created by the domain's owner; and at most one page per IOVA.
      {"Isolation",
       all({x, d, g, v}, all({w}, z3::implies(reach_via(s, x, d, g, v, w),
                                              at(s.bufLive, gb) && at(s.domLive, d) &&
                                                  at(s.bufOwner, gb) == owner_d &&
                                                  z3::ite(w, at(s.bufW, gb), at(s.bufR, gb)))) &&
                             all({d2, g2, w, w2}, z3::implies(reach_via(s, x, d, g, v, w) &&
                                                                  reach_via(s, x, d2, g2, v, w2),
                                                              g == g2)))},
      // Every live grant is named by an unrevoked handle of a live process (one: gHandle is per
      // grant); every live created domain by its open handle; a revoked handle names no live grant.
      {"ObjectNamedOnce",
       all({g}, z3::implies(at(s.gLive, g), at(s.gHandle, g) && !at(s.gRevoked, g) &&
                                                at(s.alive, at(s.gProc, g)))) &&
           all({d}, z3::implies(at(s.domLive, d) && !at(s.domAuto, d), at(s.domHandle, d))) &&
           all({g}, z3::implies(at(s.gRevoked, g), at(s.gHandle, g) && !at(s.gLive, g)))},
      // Nothing of an exited process exists: no automatic domain, no domain, no buffer.
      {"ExitedUnreachable",
       all({p}, z3::implies(!at(s.alive, p), !at(s.hasAuto, p))) &&
           all({d}, z3::implies(at(s.domLive, d), at(s.alive, owner_d))) &&
           all({b}, z3::implies(at(s.bufLive, b), at(s.alive, at(s.bufOwner, b))))},
      // Strengthening (not a spec invariant): a process is unborn, alive or exited, and an unborn
      // one has never attached.
      {"ProcessLifecycle", all({p}, z3::implies(at(s.alive, p), at(s.started, p)) &&
                                        z3::implies(!at(s.started, p), !at(s.attachedOnce, p)))},
      // Strengthening (not a spec invariant): the automatic-domain pointer is well formed.
      {"AutoDomainRef",
       all({p}, z3::implies(at(s.hasAuto, p), at(s.domLive, at(s.autoDom, p)) &&
                                                  at(s.domAuto, at(s.autoDom, p)) &&
                                                  at(s.domOwner, at(s.autoDom, p)) == p))},
  };
}

z3::expr init(const Sorts& so, const AbsState& s) {
  z3::context& c = so.ctx;
  const z3::expr F = c.bool_val(false);
  return s.started == z3::const_array(so.proc, F) && s.alive == z3::const_array(so.proc, F) &&
         s.attachedOnce == z3::const_array(so.proc, F) &&
         s.hasAuto == z3::const_array(so.proc, F) && s.domLive == z3::const_array(so.dom, F) &&
         s.domHandle == z3::const_array(so.dom, F) &&
         s.att == z3::const_array(so.dev, z3::const_array(so.dom, F)) &&
         s.bufLive == z3::const_array(so.buf, F) && s.bufHandle == z3::const_array(so.buf, F) &&
         s.bufMaps == z3::const_array(so.buf, c.int_val(0)) &&
         s.gLive == z3::const_array(so.grant, F) && s.gHandle == z3::const_array(so.grant, F) &&
         s.gRevoked == z3::const_array(so.grant, F);
}

}  // namespace kniommu::proofs
