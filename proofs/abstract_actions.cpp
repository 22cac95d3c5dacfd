#include "abstract_actions.h"

#include <functional>
#include <stdexcept>

namespace kniommu::proofs {

namespace {

struct Builder {
  const Sorts& so;
  const AbsState& s;
  std::string tag;  // distinguishes parameters of several instances of one action in a trace
  z3::context& c = so.ctx;

  z3::expr T() const { return c.bool_val(true); }
  z3::expr F() const { return c.bool_val(false); }
  z3::expr param(const std::string& action, const char* name, const z3::sort& sort) const {
    return c.constant((action + tag + "." + name).c_str(), sort);
  }
  // ∀ bound. body, for guards that quantify over objects (e.g. "not attached anywhere").
  z3::expr all(const z3::expr& bound, const z3::expr& body) const {
    return z3::forall(bound, body);
  }
  z3::expr unattached(const z3::expr& x) const {
    const z3::expr d = c.constant("d#free", so.dom);
    return all(d, !at(s.att, x, d));
  }
  // The buffer has no live grant in domain `d`, and [iovaPage, iovaPage + len) overlaps no live
  // grant of d.
  z3::expr fresh_range(const z3::expr& b, const z3::expr& d, const z3::expr& iovaPage) const {
    const z3::expr g = c.constant("g#other", so.grant);
    const z3::expr len = at(s.bufLen, b);
    const z3::expr other_end = at(s.gIovaPage, g) + at(s.bufLen, at(s.gBuf, g));
    return iovaPage >= 0 &&
           all(g, z3::implies(at(s.gLive, g) && at(s.gDom, g) == d,
                              at(s.gBuf, g) != b &&
                                  (iovaPage + len <= at(s.gIovaPage, g) || other_end <= iovaPage)));
  }
  // Process p may use created domain d through its handle.
  z3::expr own_created(const z3::expr& p, const z3::expr& d) const {
    return at(s.domLive, d) && !at(s.domAuto, d) && at(s.domHandle, d) && at(s.domOwner, d) == p;
  }
  // att' with every attachment to a domain satisfying `gone(d)` removed.
  z3::expr detach_all(const std::function<z3::expr(const z3::expr&)>& gone) const {
    const z3::expr x = c.constant("x#", so.dev);
    const z3::expr d = c.constant("d#", so.dom);
    return z3::lambda(x, z3::lambda(d, at(s.att, x, d) && !gone(d)));
  }
};

Step create_process(const Builder& k) {
  const std::string n = "ProcessCreate";
  const z3::expr p = k.param(n, "p", k.so.proc);
  AbsState t = k.s;
  t.started = z3::store(k.s.started, p, k.T());
  t.alive = z3::store(k.s.alive, p, k.T());
  return {n, !at(k.s.started, p), t, {{"p", p}}};
}

Step create_buffer(const Builder& k) {
  const std::string n = "DmaCreate";
  const z3::expr p = k.param(n, "p", k.so.proc), b = k.param(n, "b", k.so.buf);
  const z3::expr len = k.c.int_const((n + k.tag + ".pages").c_str());
  const z3::expr r = k.c.bool_const((n + k.tag + ".read").c_str()),
                 w = k.c.bool_const((n + k.tag + ".write").c_str());
  AbsState t = k.s;
  t.bufLive = z3::store(k.s.bufLive, b, k.T());
  t.bufOwner = z3::store(k.s.bufOwner, b, p);
  t.bufHandle = z3::store(k.s.bufHandle, b, k.T());
  t.bufMaps = z3::store(k.s.bufMaps, b, k.c.int_val(0));
  t.bufLen = z3::store(k.s.bufLen, b, len);
  t.bufR = z3::store(k.s.bufR, b, r);
  t.bufW = z3::store(k.s.bufW, b, w);
  return {n,
          at(k.s.alive, p) && !at(k.s.bufLive, b) && len > 0 && (r || w),
          t,
          {{"p", p}, {"b", b}, {"pages", len}}};
}

// The buffer handle of a live process, for Map / close.
z3::expr own_buffer(const Builder& k, const z3::expr& p, const z3::expr& b) {
  return at(k.s.alive, p) && at(k.s.bufLive, b) && at(k.s.bufHandle, b) && at(k.s.bufOwner, b) == p;
}

Step map_buffer(const Builder& k) {
  const std::string n = "DmaMap";
  const z3::expr p = k.param(n, "p", k.so.proc), b = k.param(n, "b", k.so.buf);
  AbsState t = k.s;
  t.bufMaps = z3::store(k.s.bufMaps, b, at(k.s.bufMaps, b) + 1);
  return {n, own_buffer(k, p, b), t, {{"p", p}, {"b", b}}};
}

Step close_mapping(const Builder& k) {
  const std::string n = "HandleClose(mapping)";
  const z3::expr p = k.param(n, "p", k.so.proc), b = k.param(n, "b", k.so.buf);
  AbsState t = k.s;
  t.bufMaps = z3::store(k.s.bufMaps, b, at(k.s.bufMaps, b) - 1);
  return {n,
          at(k.s.alive, p) && at(k.s.bufOwner, b) == p && at(k.s.bufMaps, b) > 0,
          t,
          {{"p", p}, {"b", b}}};
}

Step close_buffer(const Builder& k) {
  const std::string n = "HandleClose(buffer)";
  const z3::expr p = k.param(n, "p", k.so.proc), b = k.param(n, "b", k.so.buf);
  AbsState t = k.s;
  t.bufHandle = z3::store(k.s.bufHandle, b, k.F());
  return {n, own_buffer(k, p, b), t, {{"p", p}, {"b", b}}};
}

// Internal step: the last reference (handle, grant or mapping) is gone, the frames are returned.
Step free_buffer(const Builder& k) {
  const std::string n = "Collect";
  const z3::expr b = k.param(n, "b", k.so.buf);
  const z3::expr g = k.c.constant("g#ref", k.so.grant);
  AbsState t = k.s;
  t.bufLive = z3::store(k.s.bufLive, b, k.F());
  return {n,
          at(k.s.bufLive, b) && !at(k.s.bufHandle, b) && at(k.s.bufMaps, b) == 0 &&
              k.all(g, z3::implies(at(k.s.gLive, g), at(k.s.gBuf, g) != b)),
          t,
          {{"b", b}}};
}

Step attach_auto(const Builder& k) {
  const std::string n = "AttachDevice";
  const z3::expr p = k.param(n, "p", k.so.proc), x = k.param(n, "x", k.so.dev);
  const z3::expr fresh = k.param(n, "newDomain", k.so.dom);
  const z3::expr has = at(k.s.hasAuto, p);
  const z3::expr target = z3::ite(has, at(k.s.autoDom, p), fresh);
  AbsState t = k.s;
  t.attachedOnce = z3::store(k.s.attachedOnce, p, k.T());
  t.hasAuto = z3::store(k.s.hasAuto, p, k.T());
  t.autoDom = z3::store(k.s.autoDom, p, target);
  t.domLive = z3::store(k.s.domLive, target, k.T());
  t.domOwner = z3::store(k.s.domOwner, target, p);
  t.domAuto = z3::store(k.s.domAuto, target, k.T());
  t.domHandle = z3::store(k.s.domHandle, target, z3::ite(has, at(k.s.domHandle, target), k.F()));
  t.att = z3::store(k.s.att, x, z3::store(at(k.s.att, x), target, k.T()));
  return {n,
          at(k.s.alive, p) && k.unattached(x) && (has || !at(k.s.domLive, fresh)),
          t,
          {{"p", p}, {"x", x}, {"domain", target}, {"hadAuto", has}}};
}

Step detach_auto(const Builder& k) {
  const std::string n = "DetachDevice";
  const z3::expr p = k.param(n, "p", k.so.proc), x = k.param(n, "x", k.so.dev);
  const z3::expr d = at(k.s.autoDom, p);
  AbsState t = k.s;
  t.att = z3::store(k.s.att, x, z3::store(at(k.s.att, x), d, k.F()));
  return {n,
          at(k.s.alive, p) && at(k.s.hasAuto, p) && at(k.s.att, x, d),
          t,
          {{"p", p}, {"x", x}, {"domain", d}}};
}

Step create_domain(const Builder& k) {
  const std::string n = "CreateDomain";
  const z3::expr p = k.param(n, "p", k.so.proc), d = k.param(n, "d", k.so.dom);
  AbsState t = k.s;
  t.domLive = z3::store(k.s.domLive, d, k.T());
  t.domOwner = z3::store(k.s.domOwner, d, p);
  t.domAuto = z3::store(k.s.domAuto, d, k.F());
  t.domHandle = z3::store(k.s.domHandle, d, k.T());
  return {n, at(k.s.alive, p) && !at(k.s.domLive, d), t, {{"p", p}, {"d", d}}};
}

// AttachDeviceToDomain / DetachDeviceFromDomain: p sets / clears device x's attachment to one of
// its created domains.
Step device_to_domain(const Builder& k, bool attach) {
  const std::string n = attach ? "AttachDeviceToDomain" : "DetachDeviceFromDomain";
  const z3::expr p = k.param(n, "p", k.so.proc), x = k.param(n, "x", k.so.dev);
  const z3::expr d = k.param(n, "d", k.so.dom);
  AbsState t = k.s;
  t.att = z3::store(k.s.att, x, z3::store(at(k.s.att, x), d, attach ? k.T() : k.F()));
  return {n,
          at(k.s.alive, p) && k.own_created(p, d) && (attach ? k.unattached(x) : at(k.s.att, x, d)),
          t,
          {{"p", p}, {"x", x}, {"d", d}}};
}

Step begin(const Builder& k, bool ex) {
  const std::string n = ex ? "DmaBeginEx" : "DmaBegin";
  const z3::expr p = k.param(n, "p", k.so.proc), b = k.param(n, "b", k.so.buf);
  const z3::expr g = k.param(n, "g", k.so.grant);
  const z3::expr iovaPage = k.c.int_const((n + k.tag + ".iovaPage").c_str());
  const z3::expr dEx = k.param(n, "d", k.so.dom);
  const z3::expr d = ex ? dEx : at(k.s.autoDom, p);
  const z3::expr domain_ok = ex ? k.own_created(p, d) : at(k.s.hasAuto, p);
  AbsState t = k.s;
  t.gLive = z3::store(k.s.gLive, g, k.T());
  t.gHandle = z3::store(k.s.gHandle, g, k.T());
  t.gRevoked = z3::store(k.s.gRevoked, g, k.F());
  t.gProc = z3::store(k.s.gProc, g, p);
  t.gBuf = z3::store(k.s.gBuf, g, b);
  t.gDom = z3::store(k.s.gDom, g, d);
  t.gIovaPage = z3::store(k.s.gIovaPage, g, iovaPage);
  return {n,
          own_buffer(k, p, b) && domain_ok && !at(k.s.gHandle, g) && !at(k.s.gLive, g) &&
              k.fresh_range(b, d, iovaPage),
          t,
          {{"p", p}, {"b", b}, {"d", d}, {"g", g}, {"iovaPage", iovaPage}}};
}

Step close_grant(const Builder& k) {
  const std::string n = "HandleClose(grant)";
  const z3::expr p = k.param(n, "p", k.so.proc), g = k.param(n, "g", k.so.grant);
  AbsState t = k.s;
  t.gLive = z3::store(k.s.gLive, g, k.F());
  t.gHandle = z3::store(k.s.gHandle, g, k.F());
  t.gRevoked = z3::store(k.s.gRevoked, g, k.F());
  return {n,
          at(k.s.alive, p) && at(k.s.gHandle, g) && at(k.s.gProc, g) == p,
          t,
          {{"p", p}, {"g", g}, {"revoked", at(k.s.gRevoked, g)}}};
}

// Closing a created domain's handle: detach its devices, unmap and revoke its grants, free it.
Step close_domain(const Builder& k) {
  const std::string n = "HandleClose(domain)";
  const z3::expr p = k.param(n, "p", k.so.proc), d = k.param(n, "d", k.so.dom);
  const z3::expr g = k.c.constant("g#", k.so.grant);
  const z3::expr into = at(k.s.gLive, g) && at(k.s.gDom, g) == d;
  AbsState t = k.s;
  t.domLive = z3::store(k.s.domLive, d, k.F());
  t.domHandle = z3::store(k.s.domHandle, d, k.F());
#ifdef KNIOMMU_PROOFS_SEEDED_BUG
  // Seeded bug (second executable only): the domain is destroyed but its devices stay attached.
#else
  t.att = k.detach_all([&](const z3::expr& e) { return e == d; });
#endif
  t.gLive = z3::lambda(g, at(k.s.gLive, g) && !into);
  t.gRevoked = z3::lambda(g, at(k.s.gRevoked, g) || into);
  return {n, at(k.s.alive, p) && k.own_created(p, d), t, {{"p", p}, {"d", d}}};
}

// Process exit: every handle closed, the automatic domain destroyed, buffers freed (all their
// references belonged to the process).
Step exit_process(const Builder& k) {
  const std::string n = "ProcessExit";
  const z3::expr p = k.param(n, "p", k.so.proc);
  const z3::expr d = k.c.constant("d#", k.so.dom);
  const z3::expr b = k.c.constant("b#", k.so.buf);
  const z3::expr g = k.c.constant("g#", k.so.grant);
  auto mine = [&](const z3::expr& dom) { return at(k.s.domOwner, dom) == p; };
  AbsState t = k.s;
  t.alive = z3::store(k.s.alive, p, k.F());
  t.hasAuto = z3::store(k.s.hasAuto, p, k.F());
  t.domLive = z3::lambda(d, at(k.s.domLive, d) && !mine(d));
  t.domHandle = z3::lambda(d, at(k.s.domHandle, d) && !mine(d));
  t.att = k.detach_all(mine);
  t.bufLive = z3::lambda(b, at(k.s.bufLive, b) && at(k.s.bufOwner, b) != p);
  t.bufHandle = z3::lambda(b, at(k.s.bufHandle, b) && at(k.s.bufOwner, b) != p);
  t.bufMaps = z3::lambda(b, z3::ite(at(k.s.bufOwner, b) == p, k.c.int_val(0), at(k.s.bufMaps, b)));
  const z3::expr held = at(k.s.gProc, g) == p;
  t.gLive = z3::lambda(g, at(k.s.gLive, g) && !held);
  t.gHandle = z3::lambda(g, at(k.s.gHandle, g) && !held);
  t.gRevoked = z3::lambda(g, at(k.s.gRevoked, g) && !held);
  return {n, at(k.s.alive, p), t, {{"p", p}}};
}

}  // namespace

std::vector<Step> abstract_actions(const Sorts& so, const AbsState& pre, const std::string& tag) {
  const Builder k{so, pre, tag};
  return {create_process(k), create_buffer(k),    map_buffer(k),         close_mapping(k),
          close_buffer(k),   free_buffer(k),      attach_auto(k),        detach_auto(k),
          create_domain(k),  device_to_domain(k, true), device_to_domain(k, false), begin(k, false),
          begin(k, true),    close_grant(k),      close_domain(k),       exit_process(k)};
}

Step abstract_action(const Sorts& so, const AbsState& pre, const std::string& name,
                     const std::string& tag) {
  for (Step& s : abstract_actions(so, pre, tag)) {
    if (s.name == name) return s;
  }
  throw std::out_of_range("no abstract action " + name);
}

z3::expr param_of(const Step& step, const std::string& label) {
  for (const auto& [l, e] : step.params) {
    if (l == label) return e;
  }
  throw std::out_of_range("no parameter " + label + " in " + step.name);
}

}  // namespace kniommu::proofs
