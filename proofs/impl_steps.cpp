#include "impl_steps.h"

#include <stdexcept>

namespace kniommu::proofs {

namespace {

struct K {
  const ImplSorts& so;
  const ImplState& s;
  const Discipline& disc;
  std::string tag;
  z3::context& c = so.spec.ctx;
  const AbsState& a = s.spec;

  z3::expr T() const { return c.bool_val(true); }
  z3::expr F() const { return c.bool_val(false); }
  z3::expr param(const std::string& step, const char* name, const z3::sort& sort) const {
    return c.constant((step + tag + "." + name).c_str(), sort);
  }
  Step spec(const std::string& name) const { return abstract_action(so.spec, a, name, tag); }
  z3::expr iv() const { return c.int_const("v#"); }
  z3::expr in_range(const z3::expr& g, const z3::expr& v) const {
    return at(a.gIovaPage, g) <= v && v < at(a.gIovaPage, g) + at(a.bufLen, at(a.gBuf, g));
  }
  // arr[i] := λv. cond(v) ? val(v) : arr[i][v]
  z3::expr update_row(const z3::expr& arr, const z3::expr& i, const z3::expr& v,
                      const z3::expr& cond, const z3::expr& val) const {
    return z3::store(arr, i, z3::lambda(v, z3::ite(cond, val, at(arr, i, v))));
  }
  // Writes the context entry of x (present, DID and table of d).
  void write_context(ImplState& t, const z3::expr& x, const z3::expr& d) const {
    t.ctxP = z3::store(s.ctxP, x, T());
    t.ctxDid = z3::store(s.ctxDid, x, at(s.didOf, d));
    t.ctxDom = z3::store(s.ctxDom, x, d);
  }
  // PSI: drop IOTLB and paging-structure-cache entries of DID i for pages in g's range.
  void psi(ImplState& t, const z3::expr& i, const z3::expr& g) const {
    const z3::expr v = iv();
    t.tlb = update_row(t.tlb, i, v, in_range(g, v), so.invalidEntry());
    t.psc = update_row(t.psc, i, v, in_range(g, v), so.invalidPsc());
  }
  // DSI: drop every IOTLB and paging-structure-cache entry of DID i.
  void dsi(ImplState& t, const z3::expr& i) const {
    t.tlb = z3::store(t.tlb, i, z3::const_array(c.int_sort(), so.invalidEntry()));
    t.psc = z3::store(t.psc, i, z3::const_array(c.int_sort(), so.invalidPsc()));
  }
  void release_iova(ImplState& t, const z3::expr& g) const {
    const z3::expr v = iv();
    t.iovaUsed = update_row(t.iovaUsed, at(a.gDom, g), v, in_range(g, v), F());
  }
};

ImplStep lift(const K& k, const std::string& name) {
  const Step st = k.spec(name);
  ImplState t = k.s;
  t.spec = st.post;
  return {name, st.guard, t, st.params};
}

ImplStep create_domain(const K& k) {
  const Step st = k.spec("CreateDomain");
  const z3::expr d = param_of(st, "d");
  const z3::expr i = k.param(st.name, "did", k.so.did);
  ImplState t = k.s;
  t.spec = st.post;
  t.didUsed = z3::store(k.s.didUsed, i, k.T());
  t.didDom = z3::store(k.s.didDom, i, d);
  t.didOf = z3::store(k.s.didOf, d, i);
  Watch w = st.params;
  w.emplace_back("did", i);
  return {st.name, st.guard && !at(k.s.didUsed, i), t, w};
}

// KnIommuAttachDevice: may create the automatic domain (with a fresh DID), then writes the context.
ImplStep attach_auto(const K& k) {
  const Step st = k.spec("AttachDevice");
  const z3::expr x = param_of(st, "x"), d = param_of(st, "domain"), had = param_of(st, "hadAuto");
  const z3::expr i = k.param(st.name, "did", k.so.did);
  ImplState t = k.s;
  t.spec = st.post;
  t.didUsed = z3::store(k.s.didUsed, i, at(k.s.didUsed, i) || !had);
  t.didDom = z3::store(k.s.didDom, i, z3::ite(had, at(k.s.didDom, i), d));
  t.didOf = z3::store(k.s.didOf, d, z3::ite(had, at(k.s.didOf, d), i));
  t.ctxP = z3::store(k.s.ctxP, x, k.T());
  t.ctxDid = z3::store(k.s.ctxDid, x, at(t.didOf, d));
  t.ctxDom = z3::store(k.s.ctxDom, x, d);
  Watch w = st.params;
  w.emplace_back("did", at(t.didOf, d));
  return {st.name,
          st.guard && !at(k.s.detaching, x) && !at(k.s.closingD, d) && (had || !at(k.s.didUsed, i)),
          t, w};
}

ImplStep attach_to_domain(const K& k) {
  const Step st = k.spec("AttachDeviceToDomain");
  const z3::expr x = param_of(st, "x"), d = param_of(st, "d");
  ImplState t = k.s;
  t.spec = st.post;
  k.write_context(t, x, d);
  return {st.name, st.guard && !at(k.s.detaching, x) && !at(k.s.closingD, d), t, st.params};
}

// Detach (KnIommuDetachDevice or KnIommuDetachDeviceFromDomain; the same hardware steps):
// Start clears the context entry; Finish invalidates the context cache, then returns.
ImplStep detach_start(const K& k) {
  const std::string n = "DetachDevice.Start";
  const z3::expr x = k.param(n, "x", k.so.spec.dev), d = k.param(n, "d", k.so.spec.dom);
  ImplState t = k.s;
  t.ctxP = z3::store(k.s.ctxP, x, k.F());
  t.detaching = z3::store(k.s.detaching, x, k.T());
  return {n,
          at(k.a.att, x, d) && at(k.a.alive, at(k.a.domOwner, d)) && !at(k.s.detaching, x) &&
              !at(k.s.closingD, d),
          t,
          {{"x", x}, {"d", d}}};
}

ImplStep detach_finish(const K& k) {
  const std::string n = "DetachDevice.Finish";
  const z3::expr x = k.param(n, "x", k.so.spec.dev), d = k.param(n, "d", k.so.spec.dom);
  ImplState t = k.s;
  t.spec.att = z3::store(k.a.att, x, z3::store(at(k.a.att, x), d, k.F()));
  if (k.disc.invalidate_before_return) t.ccV = z3::store(k.s.ccV, x, k.F());
  t.detaching = z3::store(k.s.detaching, x, k.F());
  return {n, at(k.s.detaching, x) && at(k.a.att, x, d), t, {{"x", x}, {"d", d}}};
}

// KnIoDmaBegin / KnIoDmaBeginEx into domain d (automatic or created): a fresh IOVA range from the
// allocator, a fresh (zeroed) leaf-table frame, entries for every page of the footprint.
ImplStep begin(const K& k) {
  const std::string n = "DmaBegin";
  const AbsState& a = k.a;
  const z3::expr p = k.param(n, "p", k.so.spec.proc), b = k.param(n, "b", k.so.spec.buf);
  const z3::expr d = k.param(n, "d", k.so.spec.dom), g = k.param(n, "g", k.so.spec.grant);
  const z3::expr f = k.param(n, "frame", k.so.frame);
  const z3::expr iovaPage = k.c.int_const((n + k.tag + ".iovaPage").c_str());
  const z3::expr v = k.iv();
  const z3::expr other = k.c.constant("g#other", k.so.spec.grant);
  const z3::expr len = at(a.bufLen, b);
  const z3::expr in = iovaPage <= v && v < iovaPage + len;
  const z3::expr guard = at(a.alive, p) && at(a.bufLive, b) && at(a.bufHandle, b) &&
                         at(a.bufOwner, b) == p && at(a.domLive, d) && at(a.domOwner, d) == p &&
                         !at(k.s.closingD, d) && !at(a.gLive, g) && !at(a.gHandle, g) &&
                         !at(k.s.frUsed, f) && iovaPage >= 0 &&
                         z3::forall(other, z3::implies(at(a.gLive, other) && at(a.gDom, other) == d,
                                                       at(a.gBuf, other) != b)) &&
                         z3::forall(v, z3::implies(in, !at(k.s.iovaUsed, d, v)));
  ImplState t = k.s;
  t.spec.gLive = z3::store(a.gLive, g, k.T());
  t.spec.gHandle = z3::store(a.gHandle, g, k.T());
  t.spec.gRevoked = z3::store(a.gRevoked, g, k.F());
  t.spec.gProc = z3::store(a.gProc, g, p);
  t.spec.gBuf = z3::store(a.gBuf, g, b);
  t.spec.gDom = z3::store(a.gDom, g, d);
  t.spec.gIovaPage = z3::store(a.gIovaPage, g, iovaPage);
  t.iovaUsed = k.update_row(k.s.iovaUsed, d, v, in, k.T());
  t.frUsed = z3::store(k.s.frUsed, f, k.T());
  t.frDom = z3::store(k.s.frDom, f, d);
  t.frG = z3::store(k.s.frG, f, g);
  t.gFrame = z3::store(k.s.gFrame, g, f);
  const z3::expr entry = k.so.make_entry(k.T(), b, v - iovaPage, at(a.bufR, b), at(a.bufW, b), g);
  t.fe = z3::store(k.s.fe, f, z3::lambda(v, z3::ite(in, entry, k.so.invalidEntry())));
  t.tbl = k.update_row(k.s.tbl, d, v, in, f);
  t.tblV = k.update_row(k.s.tblV, d, v, in, k.T());
  return {n,
          guard,
          t,
          {{"p", p},
           {"b", b},
           {"d", d},
           {"g", g},
           {"frame", f},
           {"iovaPage", iovaPage},
           {"pages", len}}};
}

// Closing a grant: Start clears its leaf entries and table pointers; Finish issues PSI for the
// range, waits, frees the frame, releases the IOVA range, and returns.
ImplStep close_grant_start(const K& k) {
  const std::string n = "HandleClose(grant).Start";
  const z3::expr g = k.param(n, "g", k.so.spec.grant);
  const z3::expr d = at(k.a.gDom, g), f = at(k.s.gFrame, g), v = k.iv();
  ImplState t = k.s;
  t.closingG = z3::store(k.s.closingG, g, k.T());
  t.fe = z3::store(k.s.fe, f, z3::const_array(k.c.int_sort(), k.so.invalidEntry()));
  t.tblV = k.update_row(k.s.tblV, d, v, k.in_range(g, v), k.F());
  if (!k.disc.free_frames_after_invalidation) t.frUsed = z3::store(k.s.frUsed, f, k.F());
  if (!k.disc.reuse_iova_after_invalidation) k.release_iova(t, g);
  return {n,
          at(k.a.gLive, g) && at(k.a.alive, at(k.a.gProc, g)) && !at(k.s.closingG, g) &&
              !at(k.s.closingD, d),
          t,
          {{"g", g}, {"d", d}, {"frame", f}}};
}

ImplStep close_grant_finish(const K& k) {
  const std::string n = "HandleClose(grant).Finish";
  const z3::expr g = k.param(n, "g", k.so.spec.grant);
  const z3::expr d = at(k.a.gDom, g), f = at(k.s.gFrame, g);
  ImplState t = k.s;
  if (k.disc.invalidate_before_return) k.psi(t, at(k.s.didOf, d), g);
  if (k.disc.free_frames_after_invalidation) t.frUsed = z3::store(k.s.frUsed, f, k.F());
  if (k.disc.reuse_iova_after_invalidation) k.release_iova(t, g);
  t.closingG = z3::store(k.s.closingG, g, k.F());
  t.spec.gLive = z3::store(k.a.gLive, g, k.F());
  t.spec.gHandle = z3::store(k.a.gHandle, g, k.F());
  t.spec.gRevoked = z3::store(k.a.gRevoked, g, k.F());
  return {n, at(k.s.closingG, g), t, {{"g", g}, {"d", d}}};
}

// Closing a created domain: Start clears the context entries of its devices and every leaf entry
// and table pointer of the domain; Finish invalidates the context cache, DSI, waits, frees the
// frames, the IOVA space and the DID, and returns (the spec's KnHandleClose(domain)).
ImplStep close_domain_start(const K& k) {
  const std::string n = "HandleClose(domain).Start";
  const z3::expr d = k.param(n, "d", k.so.spec.dom);
  const z3::expr x = k.c.constant("x#", k.so.spec.dev), f = k.c.constant("f#", k.so.frame);
  const z3::expr g = k.c.constant("g#", k.so.spec.grant);
  const z3::expr mine = at(k.s.frUsed, f) && at(k.s.frDom, f) == d;
  ImplState t = k.s;
  t.closingD = z3::store(k.s.closingD, d, k.T());
  t.ctxP = z3::lambda(x, at(k.s.ctxP, x) && at(k.s.ctxDom, x) != d);
  t.fe = z3::lambda(
      f, z3::ite(mine, z3::const_array(k.c.int_sort(), k.so.invalidEntry()), at(k.s.fe, f)));
  t.tblV = z3::store(k.s.tblV, d, z3::const_array(k.c.int_sort(), k.F()));
  if (!k.disc.free_frames_after_invalidation) t.frUsed = z3::lambda(f, at(k.s.frUsed, f) && !mine);
  if (!k.disc.reuse_did_after_invalidation) {
    t.didUsed = z3::store(k.s.didUsed, at(k.s.didOf, d), k.F());
  }
  if (!k.disc.reuse_iova_after_invalidation) {
    t.iovaUsed = z3::store(k.s.iovaUsed, d, z3::const_array(k.c.int_sort(), k.F()));
  }
  return {n,
          at(k.a.domLive, d) && !at(k.a.domAuto, d) && at(k.a.domHandle, d) &&
              at(k.a.alive, at(k.a.domOwner, d)) && !at(k.s.closingD, d) &&
              z3::forall(
                  g, z3::implies(at(k.a.gLive, g) && at(k.a.gDom, g) == d, !at(k.s.closingG, g))) &&
              z3::forall(x, z3::implies(at(k.a.att, x, d), !at(k.s.detaching, x))),
          t,
          {{"d", d}, {"did", at(k.s.didOf, d)}}};
}

ImplStep close_domain_finish(const K& k) {
  const Step st = k.spec("HandleClose(domain)");
  const std::string n = "HandleClose(domain).Finish";
  const z3::expr d = param_of(st, "d");
  const z3::expr i = at(k.s.didOf, d);
  const z3::expr x = k.c.constant("x#", k.so.spec.dev), f = k.c.constant("f#", k.so.frame);
  ImplState t = k.s;
  t.spec = st.post;
  if (k.disc.invalidate_before_return) {
    t.ccV = z3::lambda(x, at(k.s.ccV, x) && at(k.s.ccDom, x) != d);
    k.dsi(t, i);
  }
  if (k.disc.free_frames_after_invalidation) {
    t.frUsed = z3::lambda(f, at(k.s.frUsed, f) && at(k.s.frDom, f) != d);
  }
  if (k.disc.reuse_did_after_invalidation) t.didUsed = z3::store(k.s.didUsed, i, k.F());
  if (k.disc.reuse_iova_after_invalidation) {
    t.iovaUsed = z3::store(k.s.iovaUsed, d, z3::const_array(k.c.int_sort(), k.F()));
  }
  t.closingD = z3::store(k.s.closingD, d, k.F());
  return {n, st.guard && at(k.s.closingD, d), t, st.params};
}

// Device DMA: the hardware may fill its caches from what it can currently see.
struct Lookup {
  z3::expr valid, did, dom;
};
Lookup context_for(const K& k, const z3::expr& x, const z3::expr& use_cache) {
  return {z3::ite(use_cache, at(k.s.ccV, x), at(k.s.ctxP, x)),
          z3::ite(use_cache, at(k.s.ccDid, x), at(k.s.ctxDid, x)),
          z3::ite(use_cache, at(k.s.ccDom, x), at(k.s.ctxDom, x))};
}

ImplStep fill_context_cache(const K& k) {
  const std::string n = "Dma(fill context cache)";
  const z3::expr x = k.param(n, "x", k.so.spec.dev);
  ImplState t = k.s;
  t.ccV = z3::store(k.s.ccV, x, k.T());
  t.ccDid = z3::store(k.s.ccDid, x, at(k.s.ctxDid, x));
  t.ccDom = z3::store(k.s.ccDom, x, at(k.s.ctxDom, x));
  return {n, at(k.s.ctxP, x), t, {{"x", x}}};
}

ImplStep fill_paging_cache(const K& k) {
  const std::string n = "Dma(fill paging-structure cache)";
  const z3::expr x = k.param(n, "x", k.so.spec.dev);
  const z3::expr cached = k.c.bool_const((n + k.tag + ".viaCachedContext").c_str());
  const z3::expr v = k.c.int_const((n + k.tag + ".v").c_str());
  const Lookup c = context_for(k, x, cached);
  ImplState t = k.s;
  t.psc = z3::store(k.s.psc, c.did,
                    z3::store(at(k.s.psc, c.did), v, k.so.mkPsc(k.T(), at(k.s.tbl, c.dom, v))));
  return {
      n, c.valid && at(k.s.tblV, c.dom, v), t, {{"x", x}, {"viaCachedContext", cached}, {"v", v}}};
}

ImplStep fill_iotlb(const K& k) {
  const std::string n = "Dma(fill IOTLB)";
  const z3::expr x = k.param(n, "x", k.so.spec.dev);
  const z3::expr cached = k.c.bool_const((n + k.tag + ".viaCachedContext").c_str());
  const z3::expr via_psc = k.c.bool_const((n + k.tag + ".viaPagingCache").c_str());
  const z3::expr v = k.c.int_const((n + k.tag + ".v").c_str());
  const Lookup c = context_for(k, x, cached);
  const z3::expr p = at(k.s.psc, c.did, v);
  const z3::expr frame = z3::ite(via_psc, k.so.pFrame(p), at(k.s.tbl, c.dom, v));
  const z3::expr found = z3::ite(via_psc, k.so.pValid(p), at(k.s.tblV, c.dom, v));
  const z3::expr e = at(k.s.fe, frame, v);
  ImplState t = k.s;
  t.tlb = z3::store(k.s.tlb, c.did, z3::store(at(k.s.tlb, c.did), v, e));
  return {n,
          c.valid && found && k.so.eValid(e),
          t,
          {{"x", x},
           {"viaCachedContext", cached},
           {"viaPagingCache", via_psc},
           {"v", v},
           {"did", c.did}}};
}

}  // namespace

std::vector<ImplStep> impl_steps(const ImplSorts& so, const ImplState& pre, const Discipline& disc,
                                 const std::string& tag) {
  const K k{so, pre, disc, tag};
  return {lift(k, "ProcessCreate"),
          lift(k, "DmaCreate"),
          lift(k, "DmaMap"),
          lift(k, "HandleClose(mapping)"),
          lift(k, "HandleClose(buffer)"),
          lift(k, "Collect"),
          create_domain(k),
          attach_auto(k),
          attach_to_domain(k),
          detach_start(k),
          detach_finish(k),
          begin(k),
          close_grant_start(k),
          close_grant_finish(k),
          close_domain_start(k),
          close_domain_finish(k),
          fill_context_cache(k),
          fill_paging_cache(k),
          fill_iotlb(k)};
}

ImplStep impl_step(const ImplSorts& so, const ImplState& pre, const Discipline& disc,
                   const std::string& name, const std::string& tag) {
  for (ImplStep& s : impl_steps(so, pre, disc, tag)) {
    if (s.name == name) return s;
  }
  throw std::out_of_range("no implementation step " + name);
}

}  // namespace kniommu::proofs
