// The Ops policy of impl/vtd/address_math.h instantiated with Z3 64-bit bit-vectors, so the
// proofs run the implementation's own address arithmetic symbolically (all 2^64 inputs at once).
#pragma once

#include <cstdint>

#include <z3++.h>

namespace kniommu::proofs {

struct Z3Ops {
  using Word = z3::expr;
  static Word constant(const Word& like, std::uint64_t v) { return like.ctx().bv_val(v, 64); }
  static Word shl(const Word& w, unsigned k) {
    return k >= 64 ? constant(w, 0) : z3::shl(w, static_cast<int>(k));
  }
  static Word shr(const Word& w, unsigned k) {
    return k >= 64 ? constant(w, 0) : z3::lshr(w, static_cast<int>(k));
  }
  static Word select(const z3::expr& c, const Word& a, const Word& b) { return z3::ite(c, a, b); }
};

}  // namespace kniommu::proofs
