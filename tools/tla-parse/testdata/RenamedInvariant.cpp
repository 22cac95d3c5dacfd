// Test input for spec_parse_rejects_renamed_invariant: a checker (model or Z3 proof) that checks
// an invariant under a name the README does not list, beside a listed one and a strengthening
// passed with --not-invariants. Never compiled.
const Checks kChecks = {
    {"Positive", positive},
    {"Strengthening", strengthening},
    {"OldPositive", positive},
};
