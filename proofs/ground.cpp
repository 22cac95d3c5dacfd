#include "ground.h"

#include <functional>
#include <unordered_map>

namespace kniommu::proofs {

namespace {

bool has_quantifier_memo(const z3::expr& e, std::unordered_map<unsigned, bool>& seen) {
  const unsigned id = Z3_get_ast_id(e.ctx(), e);
  if (const auto it = seen.find(id); it != seen.end()) return it->second;
  bool q = false;
  if (e.is_quantifier()) {
    q = !e.is_lambda() || has_quantifier_memo(e.body(), seen);
  } else if (e.is_app()) {
    for (unsigned i = 0; i < e.num_args() && !q; ++i) q = has_quantifier_memo(e.arg(i), seen);
  }
  seen.emplace(id, q);
  return q;
}

// The bound variables of ∀ q as fresh constants: vars[i] for the i-th declared; `subst` the same
// in de Bruijn order (Var(0) is the last declared), as expr::substitute wants it.
void bound_constants(const z3::expr& q, const std::string& prefix, std::vector<z3::expr>& vars) {
  z3::context& c = q.ctx();
  const unsigned n = Z3_get_quantifier_num_bound(c, q);
  for (unsigned i = 0; i < n; ++i) {
    const z3::sort s(c, Z3_get_quantifier_bound_sort(c, q, i));
    vars.push_back(c.constant((prefix + std::to_string(vars.size())).c_str(), s));
  }
}

z3::expr instantiate(const z3::expr& q, const std::vector<z3::expr>& terms) {
  z3::expr_vector subst(q.ctx());
  for (auto it = terms.rbegin(); it != terms.rend(); ++it) subst.push_back(*it);
  return q.body().substitute(subst);
}

void flatten(const z3::expr& e, std::vector<z3::expr>& out) {
  if (e.is_app() && e.decl().decl_kind() == Z3_OP_AND) {
    for (unsigned i = 0; i < e.num_args(); ++i) flatten(e.arg(i), out);
  } else {
    out.push_back(e);
  }
}

void instances_of(const z3::expr& e, const std::vector<z3::expr>& pool, unsigned depth,
                  z3::expr_vector& out) {
  std::vector<z3::expr> conjuncts;
  flatten(e, conjuncts);
  for (const z3::expr& f : conjuncts) {
    if (!f.is_quantifier() || !f.is_forall()) {
      if (!has_quantifier(f)) out.push_back(f);
      continue;
    }
    if (depth == 0) continue;
    z3::context& c = f.ctx();
    const unsigned n = Z3_get_quantifier_num_bound(c, f);
    std::vector<std::vector<z3::expr>> choices(n);
    for (unsigned i = 0; i < n; ++i) {
      const z3::sort s(c, Z3_get_quantifier_bound_sort(c, f, i));
      for (const z3::expr& t : pool) {
        if (z3::eq(t.get_sort(), s)) choices[i].push_back(t);
      }
    }
    std::vector<z3::expr> pick;
    const std::function<void(unsigned)> each = [&](unsigned i) {
      if (i == n) {
        instances_of(instantiate(f, pick), pool, depth - 1, out);
        return;
      }
      for (const z3::expr& t : choices[i]) {
        pick.push_back(t);
        each(i + 1);
        pick.pop_back();
      }
    };
    each(0);
  }
}

}  // namespace

bool has_quantifier(const z3::expr& e) {
  std::unordered_map<unsigned, bool> seen;
  return has_quantifier_memo(e, seen);
}

z3::expr skolemize(const z3::expr& goal, const std::string& prefix,
                   std::vector<z3::expr>& skolems) {
  z3::expr g = goal;
  while (g.is_quantifier() && g.is_forall()) {
    std::vector<z3::expr> vars;
    bound_constants(g, prefix + std::to_string(skolems.size()) + ".", vars);
    g = instantiate(g, vars);
    skolems.insert(skolems.end(), vars.begin(), vars.end());
  }
  return g;
}

z3::expr_vector ground_instances(const z3::expr_vector& hypotheses,
                                 const std::vector<z3::expr>& pool, unsigned depth) {
  z3::expr_vector out(hypotheses.ctx());
  for (const z3::expr& h : hypotheses) instances_of(h, pool, depth, out);
  return out;
}

}  // namespace kniommu::proofs
