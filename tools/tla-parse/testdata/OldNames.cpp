// Test input for spec_parse_rejects_old_names: a conformance command under a name that is not
// an action of Good.tla (the old API-function spelling). Never compiled.
class Next final : public ApiCommand {
  void show(std::ostream& os) const override { os << "Next(pid=1)"; }
};
class KnIommuAttachDevice final : public ApiCommand {
  void show(std::ostream& os) const override { os << "KnIommuAttachDevice(pid=1)"; }
};
