#include "finite_expand.h"

#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace kniommu::proofs {

namespace {

// The values of a finite sort, or none if the sort is not an enumeration or Bool.
std::vector<z3::expr> values_of(const z3::sort& s) {
  z3::context& c = s.ctx();
  std::vector<z3::expr> out;
  if (s.is_bool()) return {c.bool_val(false), c.bool_val(true)};
  if (!s.is_datatype()) return out;
  const unsigned n = Z3_get_datatype_sort_num_constructors(c, s);
  for (unsigned i = 0; i < n; ++i) {
    z3::func_decl k(c, Z3_get_datatype_sort_constructor(c, s, i));
    if (k.arity() != 0) return {};
    out.push_back(k());
  }
  return out;
}

class Expander {
 public:
  z3::expr operator()(const z3::expr& e) {
    // Terms are DAGs (successor states share their predecessors): memoise, or the walk is
    // exponential in the length of a trace.
    // The key term is kept alive with its result, so its id cannot be reused by a new term.
    const auto hit = done_.find(e.id());
    if (hit != done_.end()) return hit->second.second;
    z3::expr r = expand(e);
    done_.emplace(e.id(), std::pair{e, r});
    return r;
  }

 private:
  std::unordered_map<unsigned, std::pair<z3::expr, z3::expr>> done_;
  unsigned fresh_ = 0;
  z3::expr expand(const z3::expr& e);
  z3::expr read(const z3::expr& arr, const z3::expr& idx);
};

// select(arr, idx) pushed through the array's construction: read-over-write, beta reduction of
// lambdas, constant arrays and if-then-else, so that successor states (stores and lambdas over
// their predecessors) turn into plain terms over the initial state.
z3::expr Expander::read(const z3::expr& arr, const z3::expr& idx) {
  if (arr.is_lambda() && Z3_get_quantifier_num_bound(arr.ctx(), arr) == 1) {
    z3::expr_vector to(arr.ctx());
    to.push_back(idx);
    z3::expr body = arr.body();
    return (*this)(body.substitute(to));
  }
  if (arr.is_app()) {
    switch (arr.decl().decl_kind()) {
      case Z3_OP_STORE:
        if (arr.num_args() == 3) {
          return z3::ite(idx == arr.arg(1), arr.arg(2), read(arr.arg(0), idx));
        }
        break;
      case Z3_OP_CONST_ARRAY:
        return arr.arg(0);
      case Z3_OP_ITE:
        return z3::ite(arr.arg(0), read(arr.arg(1), idx), read(arr.arg(2), idx));
      default:
        break;
    }
  }
  return z3::select(arr, idx);
}

z3::expr Expander::expand(const z3::expr& e) {
  z3::context& c = e.ctx();
  if (e.is_app()) {
    if (e.num_args() == 0) return e;
    z3::expr_vector args(c);
    for (unsigned i = 0; i < e.num_args(); ++i) args.push_back((*this)(e.arg(i)));
    if (e.decl().decl_kind() == Z3_OP_SELECT && args.size() == 2) return read(args[0], args[1]);
    return e.decl()(args);
  }
  if (!e.is_quantifier() || e.is_lambda()) return e;
  const unsigned n = Z3_get_quantifier_num_bound(c, e);
  // Bound variable j (in declaration order) is de Bruijn index n-1-j in the body.
  std::vector<z3::expr> consts;
  for (unsigned j = 0; j < n; ++j) {
    const z3::sort s(c, Z3_get_quantifier_bound_sort(c, e, j));
    consts.push_back(c.constant(("fx!" + std::to_string(fresh_++)).c_str(), s));
  }
  z3::expr_vector by_index(c);
  for (unsigned i = 0; i < n; ++i) by_index.push_back(consts[n - 1 - i]);
  z3::expr body = e.body().substitute(by_index);

  std::vector<std::size_t> finite;
  z3::expr_vector rest(c);
  std::vector<std::vector<z3::expr>> domains;
  for (unsigned j = 0; j < n; ++j) {
    std::vector<z3::expr> vals = values_of(consts[j].get_sort());
    if (vals.empty()) {
      rest.push_back(consts[j]);
    } else {
      finite.push_back(j);
      domains.push_back(std::move(vals));
    }
  }
  const bool is_forall = e.is_forall();
  z3::expr_vector instances(c);
  std::vector<std::size_t> pick(finite.size(), 0);
  for (;;) {
    z3::expr_vector from(c), to(c);
    for (std::size_t f = 0; f < finite.size(); ++f) {
      from.push_back(consts[finite[f]]);
      to.push_back(domains[f][pick[f]]);
    }
    z3::expr inst = (*this)(finite.empty() ? body : body.substitute(from, to));
    if (!rest.empty()) inst = is_forall ? z3::forall(rest, inst) : z3::exists(rest, inst);
    instances.push_back(inst);
    std::size_t f = 0;
    while (f < finite.size() && ++pick[f] == domains[f].size()) pick[f++] = 0;
    if (f == finite.size()) break;
  }
  return is_forall ? z3::mk_and(instances) : z3::mk_or(instances);
}

}  // namespace

z3::expr expand_finite_quantifiers(const z3::expr& e) { return Expander{}(e); }

}  // namespace kniommu::proofs
