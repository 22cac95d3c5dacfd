#include "obligation.h"

#include "child_run.h"
#include "finite_expand.h"

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

namespace kniommu::proofs {

z3::sort Universe::sort(const char* name) {
  if (scope_ == 0) return ctx.uninterpreted_sort(name);
  std::vector<std::string> names;
  for (unsigned i = 0; i < scope_; ++i) names.push_back(std::string(name) + std::to_string(i));
  std::vector<const char*> cnames;
  for (const std::string& n : names) cnames.push_back(n.c_str());
  z3::func_decl_vector consts(ctx), testers(ctx);
  return ctx.enumeration_sort(name, scope_, cnames.data(), consts, testers);
}

const char* verdict_name(Verdict v) {
  switch (v) {
    case Verdict::Proved:
      return "proved";
    case Verdict::Refuted:
      return "refuted";
    case Verdict::Unknown:
      return "unknown";
  }
  return "?";
}

namespace {

// One solver configuration of the portfolio.
struct Strategy {
  const char* name;
  unsigned scope;  // 0: uninterpreted sorts; k: finite sorts (may only refute)
  unsigned timeout_ms;
  bool ematching;
  bool expand = false;  // normalise array reads and expand quantifiers over finite sorts first
};

// Proofs, by deepening budgets: default Z3 (E-matching + MBQI) and MBQI alone (E-matching off)
// each briefly first, because with E-matching on a few obligations over lambda successor states
// loop until the timeout while MBQI alone decides them in milliseconds, and the reverse holds for
// others; then a quick finite-scope search, which can only refute (a genuine counterexample); then
// both again with long budgets, and a larger scope. Every stage may run to its timeout, so the
// total budget stays under kQueryTimeoutMs; the short first stages only let the common case skip
// a long timeout of the wrong engine.
constexpr Strategy kProofPortfolio[] = {{"default", 0, 300, true},     {"mbqi-only", 0, 1000, false},
                                        {"scope-2", 2, 2000, true},    {"default", 0, 2000, true},
                                        {"mbqi-only", 0, 10000, false}, {"scope-3", 3, 4000, true}};
// Witness searches want a model: finite scopes first, normalised (finite_expand.h), where models
// are found in milliseconds; then the normalised query over uninterpreted sorts, whose unsat
// answer shows that no trace of that shape exists for any population of objects.
constexpr Strategy kWitnessPortfolio[] = {{"scope-2-expanded", 2, 6000, true, true},
                                          {"scope-3-expanded", 3, 6000, true, true},
                                          {"normalized", 0, 4000, true, true},
                                          {"default", 0, 3000, true}};

struct Raw {
  z3::check_result result = z3::unknown;
  double seconds = 0;
  std::string log;         // per strategy: what it answered
  std::string model_text;  // evaluated watches when sat
};

// Over uninterpreted sorts: the SMT core as a one-shot tactic solver, not z3::solver(ctx): Z3's
// default solver builds its whole default tactic (probes and pipelines for every logic) on the
// first check, about 20 ms per solver, more than most obligations need; every query here is
// checked once. Pure bit-vector lemmas (part 3) go to the bit-blasting pipeline, which decides
// them in milliseconds where the SMT core's bit-vector theory needs seconds. Finite scopes keep
// the default solver: its preprocessing finds the counterexamples over enumeration sorts (the
// seeded bug's among them) that the bare SMT core does not find within the budget.
z3::solver make_solver(z3::context& ctx, const Query& q, bool negate_goal, const Strategy& st) {
  if (st.scope != 0) return z3::solver(ctx);
  z3::goal g(ctx);
  for (const z3::expr& h : q.hypotheses) g.add(h);
  if (negate_goal) g.add(!q.goal);
  const bool qfbv = z3::probe(ctx, "is-qfbv")(g) != 0.0;
  return z3::tactic(ctx, qfbv ? "qfbv" : "smt").mk_solver();
}

Raw run_one(const QueryBuilder& build, bool negate_goal, const Strategy& st) {
  static const bool seeded = (apply_environment_seed(), true);
  (void)seeded;
  z3::context ctx;
  Universe u(ctx, st.scope);
  const Query q = build(u);
  z3::solver s = make_solver(ctx, q, negate_goal, st);
  z3::params p(ctx);
  p.set("timeout", st.timeout_ms);
  p.set("ematching", st.ematching);
  s.set(p);
  for (unsigned i = 0; i < q.hypotheses.size(); ++i) {
    s.add(st.expand ? expand_finite_quantifiers(q.hypotheses[i]) : q.hypotheses[i]);
  }
  if (negate_goal) s.add(st.expand ? expand_finite_quantifiers(!q.goal) : !q.goal);
  // KNIOMMU_PROOFS_DUMP=<prefix>: write each strategy's query as SMT-LIB
  // (<prefix>.<strategy>.smt2), to replay it with the z3 command line.
  if (const char* dump = std::getenv("KNIOMMU_PROOFS_DUMP")) {
    std::ofstream(std::string(dump) + "." + st.name + ".smt2") << s.to_smt2();
  }
  const auto t0 = std::chrono::steady_clock::now();
  Raw raw;
  std::string reason;
  try {
    raw.result = s.check();
  } catch (const z3::exception& e) {
    // A cancelled query surfaces as an exception in some paths; it is an unknown, never a pass.
    reason = e.msg();
  }
  raw.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (raw.result == z3::sat) {
    z3::model m = s.get_model();
    std::ostringstream text;
    for (const auto& [label, term] : q.watch)
      text << "    " << label << " = " << m.eval(term, true) << "\n";
    // With finite sorts the whole model is small enough to read: every state array in full.
    if (st.scope != 0) text << "  full model (objects named <Sort><i>):\n" << m << "\n";
    raw.model_text = text.str();
  } else if (raw.result == z3::unknown && reason.empty()) {
    reason = s.reason_unknown();
  }
  const char* answer = raw.result == z3::sat     ? "sat"
                       : raw.result == z3::unsat ? "unsat"
                                                 : "unknown";
  char secs[32];
  std::snprintf(secs, sizeof secs, " %.3f s", raw.seconds);
  raw.log = std::string(st.name) + ": " + answer + (reason.empty() ? "" : " (" + reason + ")") + secs;
  return raw;
}

// A strategy's answer as bytes, for the child that computes it (child_run.h).
std::string encode(const Raw& r) {
  std::string out(1, static_cast<char>(r.result == z3::unsat ? 0 : r.result == z3::sat ? 1 : 2));
  out.append(reinterpret_cast<const char*>(&r.seconds), sizeof r.seconds);
  const std::uint64_t n = r.log.size();
  out.append(reinterpret_cast<const char*>(&n), sizeof n);
  return out + r.log + r.model_text;
}

bool decode(const std::string& in, Raw* r) {
  std::uint64_t n = 0;
  constexpr std::size_t kHead = 1 + sizeof r->seconds + sizeof n;
  if (in.size() < kHead || static_cast<unsigned char>(in[0]) > 2) return false;
  r->result = in[0] == 0 ? z3::unsat : in[0] == 1 ? z3::sat : z3::unknown;
  std::memcpy(&r->seconds, in.data() + 1, sizeof r->seconds);
  std::memcpy(&n, in.data() + 1 + sizeof r->seconds, sizeof n);
  if (in.size() - kHead < n) return false;
  r->log = in.substr(kHead, n);
  r->model_text = in.substr(kHead + n);
  return true;
}

// How long past its budget a strategy's child may run before it is stopped: time for Z3 to notice
// its timeout (it normally returns within milliseconds of it) and for the child to start and
// report on a loaded machine.
constexpr unsigned kStopGraceMs = 5000;

// One strategy in a child process: a child that Z3 keeps busy past its budget plus the grace is
// stopped, and the strategy counts as timed out (unknown, never a pass).
Raw run_stage(const QueryBuilder& build, bool negate_goal, const Strategy& st) {
  const auto t0 = std::chrono::steady_clock::now();
  std::string bytes;
  const auto body = [&] {
    try {
      return encode(run_one(build, negate_goal, st));
    } catch (const z3::exception& e) {  // outside check(): never an answer, but worth naming
      Raw r;
      r.log = std::string(st.name) + ": unknown (Z3 exception: " + e.msg() + ")";
      return encode(r);
    }
  };
  const ChildOutcome o = run_in_child(body, st.timeout_ms + kStopGraceMs, &bytes);
  Raw raw;
  if (o == ChildOutcome::kDone && decode(bytes, &raw)) return raw;
  raw = Raw{};
  raw.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  char secs[32];
  std::snprintf(secs, sizeof secs, " %.3f s", raw.seconds);
  raw.log = std::string(st.name) + ": unknown (" +
            (o == ChildOutcome::kStopped ? "no answer within its budget plus 5 s: stopped"
                                         : "its child process failed") +
            ")" + secs;
  return raw;
}

template <std::size_t N>
Raw run_portfolio(const Strategy (&portfolio)[N], const QueryBuilder& build, bool negate_goal) {
  Raw total;
  for (const Strategy& st : portfolio) {
    const Raw r = run_stage(build, negate_goal, st);
    total.seconds += r.seconds;
    total.log += (total.log.empty() ? "" : "; ") + r.log;
    // A finite scope proves nothing: only its sat answers count.
    if (r.result == z3::sat || (r.result == z3::unsat && st.scope == 0)) {
      total.result = r.result;
      total.model_text = r.model_text;
      return total;
    }
  }
  return total;
}

Raw run(const QueryBuilder& build, bool negate_goal) {
  return negate_goal ? run_portfolio(kProofPortfolio, build, true)
                     : run_portfolio(kWitnessPortfolio, build, false);
}

std::string headline(const char* what, const std::string& name, double secs) {
  char buf[64];
  std::snprintf(buf, sizeof buf, " (%.3f s)", secs);
  return std::string(what) + " " + name + buf + "\n";
}

}  // namespace

void apply_environment_seed() {
  if (const char* seed = std::getenv("KNIOMMU_PROOFS_SEED")) {
    z3::set_param("smt.random_seed", seed);
    z3::set_param("sat.random_seed", seed);
  }
}

Outcome prove(const std::string& name, const QueryBuilder& build) {
  const Raw raw = run(build, true);
  switch (raw.result) {
    case z3::unsat:
      return {Verdict::Proved, raw.seconds,
              headline("PROVED", name, raw.seconds) + "  [" + raw.log + "]\n"};
    case z3::sat:
      return {Verdict::Refuted, raw.seconds,
              headline("REFUTED", name, raw.seconds) + "  [" + raw.log + "]\n  counterexample:\n" +
                  raw.model_text};
    case z3::unknown:
      break;
  }
  return {Verdict::Unknown, raw.seconds,
          headline("UNKNOWN", name, raw.seconds) + "  [" + raw.log + "]\n"};
}

Outcome find_witness(const std::string& name, const QueryBuilder& build) {
  const Raw raw = run(build, false);
  switch (raw.result) {
    case z3::sat:
      return {Verdict::Refuted, raw.seconds,
              headline("WITNESS", name, raw.seconds) + "  [" + raw.log + "]\n  trace:\n" +
                  raw.model_text};
    case z3::unsat:
      return {Verdict::Proved, raw.seconds, headline("NO-WITNESS", name, raw.seconds)};
    case z3::unknown:
      break;
  }
  return {Verdict::Unknown, raw.seconds,
          headline("UNKNOWN", name, raw.seconds) + "  [" + raw.log + "]\n"};
}

}  // namespace kniommu::proofs
