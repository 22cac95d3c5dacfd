// The spec's state (docs/semantics.md) encoded for Z3, for any number of objects: one uninterpreted
// sort per kind of object (so a proof covers every finite or infinite population), arrays for
// per-object attributes and relations, integers for IOVA page numbers and footprints.
//
// Pages are not a sort of their own: a device reaches "page k of buffer b" (the footprint index),
// exactly as can_access in semantics.md names it. Page contents and CPU mappings' addresses are
// not modelled: they do not decide what a device may reach.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <z3++.h>

#include "obligation.h"

namespace kniommu::proofs {

struct Sorts {
  explicit Sorts(Universe& u);
  z3::context& ctx;
  z3::sort proc, dev, dom, buf, grant;
};

// Z3 symbol spellings that differ from the field names (field → symbol); empty: the field names.
using Spelling = std::map<std::string, std::string>;

// Every field is an array (a Z3 term), so a successor state is just another AbsState whose fields
// are store/lambda terms over the predecessor's.
struct AbsState {
  // Process
  z3::expr started;       // Proc → Bool: created (ProcessCreate); "unborn" otherwise
  z3::expr alive;         // Proc → Bool: created and not exited
  z3::expr attachedOnce;  // Proc → Bool: has had a successful KnIommuAttachDevice
  z3::expr hasAuto;       // Proc → Bool: has an automatic domain
  z3::expr autoDom;       // Proc → Dom: which one (meaningful when hasAuto)
  // Domain
  z3::expr domLive;    // Dom → Bool
  z3::expr domOwner;   // Dom → Proc
  z3::expr domAuto;    // Dom → Bool: automatic (else created)
  z3::expr domHandle;  // Dom → Bool: a created domain's handle is open
  // Attachment: a relation, so that AttachmentUnique is a property and not an encoding artefact
  z3::expr att;  // Dev → (Dom → Bool)
  // Buffer
  z3::expr bufLive;    // Buf → Bool: the buffer object exists (frames not yet returned)
  z3::expr bufOwner;   // Buf → Proc: creator
  z3::expr bufHandle;  // Buf → Bool: the creator's buffer handle is open
  z3::expr bufMaps;    // Buf → Int: number of CPU mappings (KnIoDmaMap)
  z3::expr bufLen;     // Buf → Int: footprint in pages
  z3::expr bufR;       // Buf → Bool: device may read (DMA_DIR_TO_DEVICE or BIDIR)
  z3::expr bufW;       // Buf → Bool: device may write (DMA_DIR_FROM_DEVICE or BIDIR)
  // Grant (and its handle)
  z3::expr gLive;     // Grant → Bool: the association exists (pages mapped in the domain)
  z3::expr gHandle;   // Grant → Bool: the grant handle is allocated
  z3::expr gRevoked;  // Grant → Bool: the handle is revoked (its domain was destroyed)
  z3::expr gProc;     // Grant → Proc: process holding the handle
  z3::expr gBuf;      // Grant → Buf
  z3::expr gDom;      // Grant → Dom
  z3::expr gIovaPage;  // Grant → Int: first IOVA page number

  // Fresh, unconstrained state: every field a constant named <prefix>.<field>, or
  // <prefix>.<spell[field]> for the fields `spell` renames. Only the robustness test renames
  // (a proof must not depend on how Z3's symbols are spelled).
  static AbsState fresh(const Sorts& s, const std::string& prefix, const Spelling& spell = {});
};

// Convenience accessors: s.at(array, index).
inline z3::expr at(const z3::expr& a, const z3::expr& i) { return z3::select(a, i); }
inline z3::expr at(const z3::expr& a, const z3::expr& i, const z3::expr& j) {
  return z3::select(z3::select(a, i), j);
}

// Device x at IOVA page v in direction `write` reaches page (v − gIovaPage(g)) of buffer gBuf(g)
// through attachment to d and grant g: the can_access relation of semantics.md.
z3::expr reach_via(const AbsState& s, const z3::expr& x, const z3::expr& d, const z3::expr& g,
                   const z3::expr& v, const z3::expr& write);

struct NamedFormula {
  std::string name;
  z3::expr formula;
};

// The spec's invariants over state `s`, with the names shared with spec/KnIommu.tla and model/.
std::vector<NamedFormula> invariants(const Sorts& so, const AbsState& s);

// Init: no process has been created; no domain, buffer, grant or attachment exists.
z3::expr init(const Sorts& so, const AbsState& s);

}  // namespace kniommu::proofs
