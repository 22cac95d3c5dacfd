#include "impl_state.h"

#include <array>

namespace kniommu::proofs {

namespace {

z3::func_decl make_tuple(z3::context& c, const char* name, const std::vector<const char*>& fields,
                         const std::vector<z3::sort>& sorts, z3::func_decl_vector& projs) {
  return c.tuple_sort(name, static_cast<unsigned>(fields.size()), fields.data(), sorts.data(),
                      projs);
}

}  // namespace

ImplSorts::ImplSorts(Universe& u)
    : spec(u),
      did(u.sort("Did")),
      frame(u.sort("Frame")),
      entryField(u.ctx),
      pscField(u.ctx),
      mkEntry(make_tuple(u.ctx, "Entry", {"valid", "buf", "idx", "r", "w", "g"},
                         {u.ctx.bool_sort(), spec.buf, u.ctx.int_sort(), u.ctx.bool_sort(),
                          u.ctx.bool_sort(), spec.grant},
                         entryField)),
      mkPsc(make_tuple(u.ctx, "Psc", {"valid", "frame"}, {u.ctx.bool_sort(), frame}, pscField)),
      entry(mkEntry.range()),
      psc(mkPsc.range()) {}

z3::expr ImplSorts::invalidEntry() const {
  z3::context& c = spec.ctx;
  return make_entry(c.bool_val(false), c.constant("none.buf", spec.buf), c.int_val(0),
                    c.bool_val(false), c.bool_val(false), c.constant("none.grant", spec.grant));
}
z3::expr ImplSorts::make_entry(const z3::expr& valid, const z3::expr& b, const z3::expr& idx,
                               const z3::expr& r, const z3::expr& w, const z3::expr& g) const {
  z3::expr_vector args(spec.ctx);
  for (const z3::expr& e : {valid, b, idx, r, w, g}) args.push_back(e);
  return mkEntry(args);
}
z3::expr ImplSorts::invalidPsc() const {
  z3::context& c = spec.ctx;
  return mkPsc(c.bool_val(false), c.constant("none.frame", frame));
}

ImplState ImplState::fresh(const ImplSorts& s, const std::string& prefix, const Spelling& spell) {
  z3::context& c = s.spec.ctx;
  auto arr = [&](const char* field, const z3::sort& from, const z3::sort& to) {
    const auto renamed = spell.find(field);
    const std::string symbol = renamed == spell.end() ? field : renamed->second;
    return c.constant((prefix + "." + symbol).c_str(), c.array_sort(from, to));
  };
  auto arr2 = [&](const char* field, const z3::sort& from, const z3::sort& to) {
    return arr(field, from, c.array_sort(c.int_sort(), to));
  };
  const Sorts& p = s.spec;
  const z3::sort B = c.bool_sort();
  return ImplState{
      AbsState::fresh(p, prefix, spell), arr("ctxP", p.dev, B),        arr("ctxDid", p.dev, s.did),
      arr("ctxDom", p.dev, p.dom),       arr("ccV", p.dev, B),         arr("ccDid", p.dev, s.did),
      arr("ccDom", p.dev, p.dom),        arr("didOf", p.dom, s.did),   arr("didUsed", s.did, B),
      arr("didDom", s.did, p.dom),       arr2("tblV", p.dom, B),       arr2("tbl", p.dom, s.frame),
      arr("frUsed", s.frame, B),         arr("frDom", s.frame, p.dom), arr("frG", s.frame, p.grant),
      arr("gFrame", p.grant, s.frame),   arr2("fe", s.frame, s.entry), arr2("tlb", s.did, s.entry),
      arr2("psc", s.did, s.psc),         arr2("iovaUsed", p.dom, B),   arr("closingG", p.grant, B),
      arr("closingD", p.dom, B),         arr("detaching", p.dev, B),
  };
}

namespace {

// g's IOVA range covers page v.
z3::expr in_range(const AbsState& s, const z3::expr& g, const z3::expr& v) {
  const z3::expr lo = at(s.gIovaPage, g);
  return lo <= v && v < lo + at(s.bufLen, at(s.gBuf, g));
}

// Entry e (found for IOVA page v in a structure of domain d) is a translation of a live grant of d.
z3::expr entry_ok(const ImplSorts& so, const AbsState& s, const z3::expr& e, const z3::expr& d,
                  const z3::expr& v) {
  const z3::expr g = so.eG(e);
  const z3::expr b = so.eBuf(e);
  return at(s.gLive, g) && at(s.gDom, g) == d && in_range(s, g, v) && b == at(s.gBuf, g) &&
         so.eIdx(e) == v - at(s.gIovaPage, g) && z3::implies(so.eR(e), at(s.bufR, b)) &&
         z3::implies(so.eW(e), at(s.bufW, b));
}

struct Ctx {
  z3::expr valid, did, dom;
};

std::array<Ctx, 2> contexts(const ImplState& s, const z3::expr& x) {
  return {Ctx{at(s.ccV, x), at(s.ccDid, x), at(s.ccDom, x)},
          Ctx{at(s.ctxP, x), at(s.ctxDid, x), at(s.ctxDom, x)}};
}

// The leaf entries the hardware can use for page v under context c, each with its enabling
// condition: the IOTLB, a cached table pointer, the table in memory.
std::array<std::pair<z3::expr, z3::expr>, 3> sources(const ImplSorts& so, const ImplState& s,
                                                     const Ctx& c, const z3::expr& v) {
  const z3::expr p = at(s.psc, c.did, v);
  return {std::pair{c.valid, at(s.tlb, c.did, v)},
          std::pair{c.valid && so.pValid(p), at(s.fe, so.pFrame(p), v)},
          std::pair{c.valid && at(s.tblV, c.dom, v), at(s.fe, at(s.tbl, c.dom, v), v)}};
}

z3::expr matches(const ImplSorts& so, const z3::expr& e, const z3::expr& write, const z3::expr& b,
                 const z3::expr& k) {
  return so.eValid(e) && so.eBuf(e) == b && so.eIdx(e) == k && z3::ite(write, so.eW(e), so.eR(e));
}

}  // namespace

std::vector<HwPath> hw_paths(const ImplSorts& so, const ImplState& s, const z3::expr& x,
                             const z3::expr& v) {
  std::vector<HwPath> out;
  for (const Ctx& c : contexts(s, x)) {
    for (const auto& [enabled, e] : sources(so, s, c, v)) out.push_back(HwPath{enabled, e, c.dom});
  }
  return out;
}

z3::expr hw_can(const ImplSorts& so, const ImplState& s, const z3::expr& x, const z3::expr& v,
                const z3::expr& write, const z3::expr& b, const z3::expr& k) {
  z3::expr_vector paths(so.spec.ctx);
  for (const HwPath& p : hw_paths(so, s, x, v))
    paths.push_back(p.enabled && matches(so, p.entry, write, b, k));
  return z3::mk_or(paths);
}

z3::expr spec_allows_via(const ImplSorts& /*so*/, const ImplState& s, const z3::expr& x,
                         const z3::expr& v, const z3::expr& write, const z3::expr& b,
                         const z3::expr& k, const z3::expr& d, const z3::expr& g) {
  return reach_via(s.spec, x, d, g, v, write) && at(s.spec.gBuf, g) == b &&
         k == v - at(s.spec.gIovaPage, g);
}

z3::expr spec_allows(const ImplSorts& so, const ImplState& s, const z3::expr& x, const z3::expr& v,
                     const z3::expr& write, const z3::expr& b, const z3::expr& k) {
  z3::context& c = so.spec.ctx;
  const z3::expr d = c.constant("d#allow", so.spec.dom);
  const z3::expr g = c.constant("g#allow", so.spec.grant);
  z3::expr_vector xs(c);
  xs.push_back(d);
  xs.push_back(g);
  return z3::exists(xs, spec_allows_via(so, s, x, v, write, b, k, d, g));
}

z3::expr hardware_within_spec(const ImplSorts& so, const ImplState& s) {
  z3::context& c = so.spec.ctx;
  const z3::expr x = c.constant("x!", so.spec.dev), b = c.constant("b!", so.spec.buf);
  const z3::expr v = c.int_const("v!"), k = c.int_const("k!"), w = c.bool_const("w!");
  z3::expr_vector xs(c);
  for (const z3::expr& e : {x, v, w, b, k}) xs.push_back(e);
  return z3::forall(xs,
                    z3::implies(hw_can(so, s, x, v, w, b, k), spec_allows(so, s, x, v, w, b, k)));
}

z3::expr hardware_justified_at(const ImplSorts& so, const ImplState& s, const z3::expr& x,
                               const z3::expr& v, const z3::expr& w, Justification j) {
  z3::context& c = so.spec.ctx;
  const AbsState& a = s.spec;
  z3::expr_vector cases(c);
  for (const HwPath& p : hw_paths(so, s, x, v)) {
    const z3::expr& e = p.entry;
    const z3::expr g = so.eG(e);
    const z3::expr dir = j == Justification::IgnoresDirection ? c.bool_val(false) : w;
    const z3::expr idx = j == Justification::IgnoresFootprintIndex
                             ? c.bool_val(true)
                             : so.eIdx(e) == v - at(a.gIovaPage, g);
    cases.push_back(
        z3::implies(p.enabled && so.eValid(e) && z3::ite(w, so.eW(e), so.eR(e)),
                    reach_via(a, x, p.dom, g, v, dir) && so.eBuf(e) == at(a.gBuf, g) && idx));
  }
  return z3::mk_and(cases);
}

z3::expr hardware_justified(const ImplSorts& so, const ImplState& s) {
  z3::context& c = so.spec.ctx;
  const z3::expr x = c.constant("x!", so.spec.dev);
  const z3::expr v = c.int_const("v!"), w = c.bool_const("w!");
  z3::expr_vector xs(c);
  for (const z3::expr& e : {x, v, w}) xs.push_back(e);
  return z3::forall(xs, hardware_justified_at(so, s, x, v, w));
}

GroundObligation justified_implies_within_spec(const ImplSorts& so, const ImplState& s,
                                               Justification j) {
  z3::context& c = so.spec.ctx;
  // Fresh constants: the skolemised ∀ of hardware_within_spec.
  const z3::expr x = c.constant("x#0", so.spec.dev), b = c.constant("b#0", so.spec.buf);
  const z3::expr v = c.int_const("v#0"), k = c.int_const("k#0"), w = c.bool_const("w#0");
  z3::expr_vector witnessed(c);
  for (const HwPath& p : hw_paths(so, s, x, v))
    witnessed.push_back(spec_allows_via(so, s, x, v, w, b, k, p.dom, so.eG(p.entry)));
  return {hardware_justified_at(so, s, x, v, w, j),
          z3::implies(hw_can(so, s, x, v, w, b, k), z3::mk_or(witnessed)),
          {{"device", x}, {"IOVA page", v}, {"write", w}, {"buffer", b}, {"footprint index", k}}};
}

std::vector<NamedFormula> refinement_invariants(const ImplSorts& so, const ImplState& s) {
  z3::context& c = so.spec.ctx;
  const AbsState& a = s.spec;
  const z3::expr x = c.constant("x!", so.spec.dev);
  const z3::expr d = c.constant("d!", so.spec.dom);
  const z3::expr g = c.constant("g!", so.spec.grant);
  const z3::expr f = c.constant("f!", so.frame);
  const z3::expr i = c.constant("i!", so.did);
  const z3::expr v = c.int_const("v!");
  auto all = [&](std::initializer_list<z3::expr> vars, const z3::expr& body) {
    z3::expr_vector xs(c);
    for (const z3::expr& e : vars) xs.push_back(e);
    return z3::forall(xs, body);
  };
  auto closing = [&](const z3::expr& gr) {
    return at(s.closingG, gr) || at(s.closingD, at(a.gDom, gr));
  };
  auto ctx_ok = [&](const z3::expr& dom, const z3::expr& did) {
    return at(a.att, x, dom) && at(s.didOf, dom) == did;
  };
  const z3::expr fg = at(s.frG, f);

  // The spec's own invariants hold of the abstraction (so impl steps refine spec steps).
  std::vector<NamedFormula> out = invariants(so.spec, a);
  std::vector<NamedFormula> impl = {
      // A context entry in memory names the device's current domain by its DID and table.
      {"ContextEntries",
       all({x}, z3::implies(at(s.ctxP, x), ctx_ok(at(s.ctxDom, x), at(s.ctxDid, x)) &&
                                               !at(s.detaching, x) &&
                                               !at(s.closingD, at(s.ctxDom, x))))},
      // A cached context entry still names the device's abstract domain (until detach returns).
      {"ContextCache", all({x}, z3::implies(at(s.ccV, x), ctx_ok(at(s.ccDom, x), at(s.ccDid, x))))},
      // DIDs and live domains correspond one to one.
      {"DomainIds",
       all({d}, z3::implies(at(a.domLive, d),
                            at(s.didUsed, at(s.didOf, d)) && at(s.didDom, at(s.didOf, d)) == d)) &&
           all({i}, z3::implies(at(s.didUsed, i), at(a.domLive, at(s.didDom, i)) &&
                                                      at(s.didOf, at(s.didDom, i)) == i))},
      // Every cached translation is one of a live grant of the DID's domain.
      {"IotlbSound", all({i, v}, z3::implies(so.eValid(at(s.tlb, i, v)),
                                             at(s.didUsed, i) && entry_ok(so, a, at(s.tlb, i, v),
                                                                          at(s.didDom, i), v)))},
      // Every cached table pointer points to a used frame of the DID's domain covering v.
      {"PagingCacheSound",
       all({i, v}, z3::implies(so.pValid(at(s.psc, i, v)),
                               at(s.didUsed, i) && at(s.frUsed, so.pFrame(at(s.psc, i, v))) &&
                                   at(s.frDom, so.pFrame(at(s.psc, i, v))) == at(s.didDom, i) &&
                                   in_range(a, at(s.frG, so.pFrame(at(s.psc, i, v))), v)))},
      // Table pointers in memory point to used frames of their domain, of grants not being revoked.
      {"LeafTables",
       all({d, v}, z3::implies(at(s.tblV, d, v), at(s.frUsed, at(s.tbl, d, v)) &&
                                                     at(s.frDom, at(s.tbl, d, v)) == d &&
                                                     in_range(a, at(s.frG, at(s.tbl, d, v)), v) &&
                                                     !closing(at(s.frG, at(s.tbl, d, v)))))},
      // A used frame belongs to one live grant; its valid entries translate that grant, which is
      // not being revoked.
      {"FramesSound",
       all({f}, z3::implies(at(s.frUsed, f), at(a.gLive, fg) && at(s.gFrame, fg) == f &&
                                                 at(a.gDom, fg) == at(s.frDom, f))) &&
           all({g}, z3::implies(at(a.gLive, g), at(s.frUsed, at(s.gFrame, g)) &&
                                                    at(s.frG, at(s.gFrame, g)) == g)) &&
           all({f, v}, z3::implies(at(s.frUsed, f) && so.eValid(at(s.fe, f, v)),
                                   so.eG(at(s.fe, f, v)) == fg && !closing(fg) &&
                                       entry_ok(so, a, at(s.fe, f, v), at(s.frDom, f), v)))},
      // The IOVA allocator has every page of every live grant marked used.
      {"IovaAllocator", all({g, v}, z3::implies(at(a.gLive, g) && in_range(a, g, v),
                                                at(s.iovaUsed, at(a.gDom, g), v)))},
      // Calls in flight are on live objects, one per domain at a time.
      {"InFlight",
       all({g}, z3::implies(at(s.closingG, g), at(a.gLive, g) && !at(s.closingD, at(a.gDom, g)))) &&
           all({d}, z3::implies(at(s.closingD, d), at(a.domLive, d) && !at(a.domAuto, d)))},
  };
  out.insert(out.end(), impl.begin(), impl.end());
  return out;
}

z3::expr impl_init(const ImplSorts& so, const ImplState& s) {
  z3::context& c = so.spec.ctx;
  const z3::expr F = c.bool_val(false);
  const z3::sort I = c.int_sort();
  return init(so.spec, s.spec) && s.ctxP == z3::const_array(so.spec.dev, F) &&
         s.ccV == z3::const_array(so.spec.dev, F) && s.didUsed == z3::const_array(so.did, F) &&
         s.tblV == z3::const_array(so.spec.dom, z3::const_array(I, F)) &&
         s.frUsed == z3::const_array(so.frame, F) &&
         s.tlb == z3::const_array(so.did, z3::const_array(I, so.invalidEntry())) &&
         s.psc == z3::const_array(so.did, z3::const_array(I, so.invalidPsc())) &&
         s.iovaUsed == z3::const_array(so.spec.dom, z3::const_array(I, F)) &&
         s.closingG == z3::const_array(so.spec.grant, F) &&
         s.closingD == z3::const_array(so.spec.dom, F) &&
         s.detaching == z3::const_array(so.spec.dev, F);
}

}  // namespace kniommu::proofs
