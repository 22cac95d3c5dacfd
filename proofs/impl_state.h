// Design-level implementation state (issue #8 part 2): what the VT-d hardware and the driver hold,
// next to the spec's state (AbsState) that the implementation is meant to refine.
//
//   context entries   ctx*  (in memory)      context cache  cc*   (hardware)
//   DIDs              didOf / didUsed / didDom
//   leaf tables       tbl / tblV: domain × IOVA page → frame holding the leaf entry
//   frames            frUsed / frDom / frG, contents fe: frame × IOVA page → Entry
//   IOTLB             tlb: DID × IOVA page → Entry (a cached translation)
//   paging-structure  psc: DID × IOVA page → (valid, frame) (a cached pointer to a leaf table)
//   IOVA allocator    iovaUsed: domain × IOVA page → Bool
//   calls in flight   closingG (grant close), closingD (domain close), detaching (device)
//
// Abstractions (see docs/proofs.md): one leaf-table frame per grant (sharing of tables between
// grants is the page-table code's business, tested in impl/vtd); entries carry the translation
// itself (buffer, footprint index, R, W) plus a ghost grant used only by the invariant.
#pragma once

#include <string>
#include <vector>

#include "abstract_state.h"

namespace kniommu::proofs {

struct ImplSorts {
  explicit ImplSorts(Universe& u);
  Sorts spec;
  z3::sort did, frame;
  z3::func_decl_vector entryField;  // valid, buf, idx, r, w, g
  z3::func_decl_vector pscField;    // valid, frame
  z3::func_decl mkEntry;            // Entry(valid, buf, idx, r, w, g): a leaf translation
  z3::func_decl mkPsc;              // Psc(valid, frame): a cached pointer to a leaf table
  z3::sort entry, psc;

  z3::expr eValid(const z3::expr& e) const { return entryField[0](e); }
  z3::expr eBuf(const z3::expr& e) const { return entryField[1](e); }
  z3::expr eIdx(const z3::expr& e) const { return entryField[2](e); }
  z3::expr eR(const z3::expr& e) const { return entryField[3](e); }
  z3::expr eW(const z3::expr& e) const { return entryField[4](e); }
  z3::expr eG(const z3::expr& e) const { return entryField[5](e); }
  z3::expr pValid(const z3::expr& e) const { return pscField[0](e); }
  z3::expr pFrame(const z3::expr& e) const { return pscField[1](e); }
  z3::expr make_entry(const z3::expr& valid, const z3::expr& b, const z3::expr& idx,
                      const z3::expr& r, const z3::expr& w, const z3::expr& g) const;
  // Not-present entries (valid = false; the other fields are irrelevant constants).
  z3::expr invalidEntry() const;
  z3::expr invalidPsc() const;
};

struct ImplState {
  AbsState spec;
  z3::expr ctxP, ctxDid, ctxDom;           // Dev → Bool / Did / Dom
  z3::expr ccV, ccDid, ccDom;              // Dev → Bool / Did / Dom
  z3::expr didOf;                          // Dom → Did
  z3::expr didUsed, didDom;                // Did → Bool / Dom
  z3::expr tblV, tbl;                      // Dom → (Int → Bool / Frame)
  z3::expr frUsed, frDom, frG;             // Frame → Bool / Dom / Grant
  z3::expr gFrame;                         // Grant → Frame
  z3::expr fe;                             // Frame → (Int → Entry)
  z3::expr tlb;                            // Did → (Int → Entry)
  z3::expr psc;                            // Did → (Int → Psc)
  z3::expr iovaUsed;                       // Dom → (Int → Bool)
  z3::expr closingG, closingD, detaching;  // Grant / Dom / Dev → Bool

  // Every field a constant named <prefix>.<field> (`spell` renames symbols: AbsState::fresh).
  static ImplState fresh(const ImplSorts& s, const std::string& prefix, const Spelling& spell = {});
};

// One of the six ways the hardware finds a leaf entry for device x at IOVA page v: a context
// (cached or in memory) and a source (IOTLB, leaf through a cached table pointer, leaf through the
// table in memory); `enabled` when that path is usable, `entry` the leaf entry it yields, `dom`
// the domain the context names.
struct HwPath {
  z3::expr enabled, entry, dom;
};
std::vector<HwPath> hw_paths(const ImplSorts& so, const ImplState& s, const z3::expr& x,
                             const z3::expr& v);

// Everything the hardware can do with device x at IOVA page v in direction `write`, reaching page
// k of buffer b: a context (cached or in memory) gives (DID, table); an IOTLB entry, or a leaf
// entry found through a cached table pointer or through the table in memory, gives the page.
z3::expr hw_can(const ImplSorts& so, const ImplState& s, const z3::expr& x, const z3::expr& v,
                const z3::expr& write, const z3::expr& b, const z3::expr& k);

// What the spec allows: some grant of x's domain covers v in direction `write`, at page k of b.
z3::expr spec_allows(const ImplSorts& so, const ImplState& s, const z3::expr& x, const z3::expr& v,
                     const z3::expr& write, const z3::expr& b, const z3::expr& k);

// spec_allows with its ∃ instantiated: grant g, through x's attachment to d, covers v in
// direction `write`, at page k of b. spec_allows is ∃ d g. spec_allows_via(..., d, g).
z3::expr spec_allows_via(const ImplSorts& so, const ImplState& s, const z3::expr& x,
                         const z3::expr& v, const z3::expr& write, const z3::expr& b,
                         const z3::expr& k, const z3::expr& d, const z3::expr& g);

// "What the hardware can translate ⊆ what the spec allows", over all devices, pages, directions.
z3::expr hardware_within_spec(const ImplSorts& so, const ImplState& s);

// The same inclusion with its witness named: every translation the hardware can use is justified
// by the grant the entry was made for (its ghost grant), under the device's abstract attachment.
// Implies hardware_within_spec (it exhibits the ∃ of spec_allows); this is the form proved.
z3::expr hardware_justified(const ImplSorts& so, const ImplState& s);

// Deliberately broken justifications, for the teeth of the JustifiedImpliesWithinSpec obligation:
// each justifies a translation the spec does not allow, so the obligation must be refuted.
enum class Justification {
  Sound,
  IgnoresFootprintIndex,  // does not tie the entry's footprint index to v − gIovaPage(g)
  IgnoresDirection,       // checks the grant's read permission even for a write
};

// The body of hardware_justified for one device x, page v and direction w (quantifier-free).
z3::expr hardware_justified_at(const ImplSorts& so, const ImplState& s, const z3::expr& x,
                               const z3::expr& v, const z3::expr& w,
                               Justification j = Justification::Sound);

// The quantifier-free proof obligation of hardware_justified ⇒ hardware_within_spec, for one
// arbitrary device x, page v, direction w, buffer b and footprint index k (fresh constants: the
// ∀ of hardware_within_spec, skolemised): the hypothesis is hardware_justified instantiated at
// (x, v, w) (∀-elimination), the goal is hw_can ⇒ spec_allows with its ∃ replaced by the
// disjunction of its instances at the witnesses the six paths name (∃-introduction: the domain of
// the context used, the entry's ghost grant). Valid for fresh constants ⇒ the quantified
// implication holds; no quantifier is left for Z3 to instantiate, so the proof cannot depend on
// its instantiation heuristics (symbol names, ordering, random seeds).
struct GroundObligation {
  z3::expr hypothesis, goal;
  Watch watch;  // the fresh constants, for a readable counterexample
};
GroundObligation justified_implies_within_spec(const ImplSorts& so, const ImplState& s,
                                               Justification j = Justification::Sound);

// The refinement invariant: the spec's invariants of the abstraction, plus the implementation
// conjuncts that make "hardware ⊆ spec" inductive.
std::vector<NamedFormula> refinement_invariants(const ImplSorts& so, const ImplState& s);

z3::expr impl_init(const ImplSorts& so, const ImplState& s);

}  // namespace kniommu::proofs
