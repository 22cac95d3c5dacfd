// Option parsing, JUnit output and adapter-loading errors of kniommu-conform.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <vector>

#include "adapter_loader.h"
#include "junit.h"
#include "options.h"
#include "report.h"

namespace kniommu::conform {
namespace {

std::optional<CliOptions> parse(const std::vector<std::string>& args, std::string& error) {
  static char program[] = "kniommu-conform";
  std::vector<std::string> copies = args;  // parse_options takes char**, as main does
  std::vector<char*> argv{program};
  for (auto& a : copies) argv.push_back(a.data());
  return parse_options(static_cast<int>(argv.size()), argv.data(), error);
}

TEST(ConformOptions, ParsesEveryOption) {
  std::string error;
  const auto o = parse({"--seed",
                        "42",
                        "--cases",
                        "7",
                        "--max-length",
                        "30",
                        "--config",
                        "l4_sp,l3_nosp",
                        "--shard",
                        "2/5",
                        "--time-budget",
                        "1.5",
                        "--junit",
                        "j.xml",
                        "--replay-out",
                        "r.txt",
                        "--mutant",
                        "m",
                        "--no-shrink",
                        "--no-frame-generations",
                        "--no-progress",
                        "--adapter",
                        "x.so",
                        "--coverage-out",
                        "c.json",
                        "--require-coverage",
                        "--case-timeout",
                        "2.5",
                        "--no-isolate"},
                       error);
  ASSERT_TRUE(o) << error;
  EXPECT_EQ(o->run.seed, 42u);
  EXPECT_EQ(o->run.cases, 7);
  EXPECT_EQ(o->run.max_length, 30);
  EXPECT_EQ(o->run.configs, (std::vector<std::string>{"l4_sp", "l3_nosp"}));
  EXPECT_EQ(o->run.shard_index, 2u);
  EXPECT_EQ(o->run.shard_count, 5u);
  EXPECT_EQ(o->run.time_budget, std::chrono::milliseconds(1500));
  EXPECT_EQ(o->junit, "j.xml");
  EXPECT_EQ(o->run.replay_out, "r.txt");
  EXPECT_EQ(o->run.mutant, "m");
  EXPECT_FALSE(o->run.shrink);
  EXPECT_FALSE(o->run.frame_generations);
  EXPECT_EQ(o->progress, ProgressMode::kOff);
  EXPECT_EQ(o->adapter, "x.so");
  EXPECT_EQ(o->coverage_out, "c.json");
  EXPECT_TRUE(o->run.require_coverage);
  EXPECT_EQ(o->run.case_timeout, std::chrono::milliseconds(2500));
  EXPECT_FALSE(o->run.isolate);
}

// Isolation: optimistic by default, --isolate=case per case, --no-isolate none; the last wins.
TEST(ConformOptions, IsolationModes) {
  std::string error;
  const auto def = parse({}, error);
  ASSERT_TRUE(def) << error;
  EXPECT_TRUE(def->run.isolate);
  EXPECT_TRUE(def->run.optimistic);
  const auto per_case = parse({"--no-isolate", "--isolate=case"}, error);
  ASSERT_TRUE(per_case) << error;
  EXPECT_TRUE(per_case->run.isolate);
  EXPECT_FALSE(per_case->run.optimistic);
  const auto none = parse({"--isolate=case", "--no-isolate"}, error);
  ASSERT_TRUE(none) << error;
  EXPECT_FALSE(none->run.isolate);
  EXPECT_FALSE(parse({"--isolate=bogus"}, error));
}

TEST(ConformOptions, RejectsBadValues) {
  const std::vector<std::vector<std::string>> bad = {
      {"--shard", "5/5"},      {"--shard", "1"},
      {"--shard", "0/0"},      {"--cases", "0"},
      {"--cases", "-3"},       {"--seed", "x"},
      {"--config", "nope"},    {"--time-budget", "-1"},
      {"--frobnicate"},        {"--junit"},
      {"--shard", "1/4"},  // a shard without --seed
      {"--case-timeout", "0"}, {"--case-timeout", ""},
      {"--coverage-out"},
  };
  for (const auto& args : bad) {
    std::string error;
    EXPECT_FALSE(parse(args, error)) << args[0];
    EXPECT_FALSE(error.empty());
  }
}

TEST(ConformJunit, OneTestcasePerConfigurationWithFailureDetails) {
  conformance::ConformanceResult r;
  r.passed = false;
  conformance::ConfigOutcome ok;
  ok.config = "l4_sp";
  ok.cases_run = 10;
  conformance::ConfigOutcome bad;
  bad.config = "l3_nosp";
  bad.status = conformance::ConfigOutcome::Status::Failed;
  bad.failure = "Retcode <mismatch> & more";
  bad.counterexample = "AttachDevice(00:01.0)\nDetachDevice(00:01.0)";
  bad.counterexample_length = 2;
  r.outcomes = {ok, bad};
  const auto xml = junit_xml(r, "kniommu-conform");
  EXPECT_NE(xml.find("tests=\"2\" failures=\"1\""), std::string::npos) << xml;
  EXPECT_NE(xml.find("name=\"l4_sp\""), std::string::npos);
  EXPECT_NE(xml.find("Retcode &lt;mismatch&gt; &amp; more"), std::string::npos);
  EXPECT_NE(xml.find("DetachDevice(00:01.0)"), std::string::npos);
}

TEST(ConformAdapterLoader, MissingLibraryIsAClearError) {
  std::string error;
  EXPECT_EQ(LoadedAdapter::open("/nonexistent/adapter.so", error), nullptr);
  EXPECT_NE(error.find("cannot load adapter"), std::string::npos);
}

TEST(ConformAdapterLoader, LibraryWithoutEntryPointIsRejected) {
  std::string error;
  EXPECT_EQ(LoadedAdapter::open(NOT_AN_ADAPTER, error), nullptr);
  EXPECT_NE(error.find("does not export kniommu_adapter_v1"), std::string::npos) << error;
}

// Throughput is reported per wall second and per CPU-second (this process and its case
// children): on a loaded machine only the second says what one core does.
TEST(ConformReport, CommandsPerCpuSecondUseCpuTime) {
  conformance::ConformanceResult result;
  conformance::ConfigOutcome o;
  o.config = "l4_sp";
  o.cases_run = 10;
  o.commands = 1000;
  o.seconds = 2.0;
  o.cpu_seconds = 0.05;
  result.outcomes = {o, o};
  EXPECT_DOUBLE_EQ(commands_per_cpu_second(o.commands, o.cpu_seconds), 20000.0);
  EXPECT_DOUBLE_EQ(commands_per_cpu_second(5, 0.0), 0.0);  // no CPU time measured: no rate
  char* text = nullptr;
  size_t size = 0;
  std::FILE* out = open_memstream(&text, &size);
  ASSERT_NE(out, nullptr);
  print_result(out, result, conformance::ConformanceOptions{}, "kniommu-conform");
  std::fclose(out);
  const std::string printed(text, size);
  std::free(text);
  EXPECT_NE(printed.find("500 commands/s"), std::string::npos) << printed;
  EXPECT_NE(printed.find("20000 commands/CPU-s"), std::string::npos) << printed;
  EXPECT_NE(printed.find("2000 commands in 4.0s (500 commands/s; 20000 per CPU-second, 0.1 CPU-s)"),
            std::string::npos)
      << printed;
}

}  // namespace
}  // namespace kniommu::conform
