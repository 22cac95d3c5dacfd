// The main job's demo: it really has what the README promises (several processes, automatic and
// created domains, several devices and buffers) and the built-in implementation isolates it.
#include <gtest/gtest.h>

#include <algorithm>

#include "analysis/analysis.h"
#include "analysis/names.h"
#include "demo.h"
#include "render/render.h"
#include "snapshot/reader.h"
#include "snapshot/writer.h"

namespace kniommu::demo {
namespace {

TEST(Demo, HasProcessesDomainsDevicesAndBuffersAndNoViolations) {
  Demo d;
  std::string error;
  ASSERT_EQ(build_demo(d, error), rcOk) << error;
  const auto read = snapshot::read_snapshot(snapshot::write_snapshot(d.snapshot));
  ASSERT_TRUE(read.snapshot) << read.error.to_string();
  const auto report = audit::analyze(*read.snapshot);
  EXPECT_TRUE(report.violations.empty()) << audit::render_text(report);
  EXPECT_EQ(report.processes.size(), 3u);
  EXPECT_EQ(report.devices.size(), 5u);
  EXPECT_EQ(report.buffers.size(), 5u);
  const auto created =
      std::count_if(report.domains.begin(), report.domains.end(),
                    [](const auto& dom) { return dom.kind == snapshot::DomainKind::kCreated; });
  EXPECT_EQ(created, 2);
  EXPECT_EQ(report.domains.size(), 4u);
  for (const auto& dev : report.devices) {
    EXPECT_TRUE(dev.owner.has_value());
    EXPECT_FALSE(dev.reach.empty()) << audit::bdf_name(dev.bdf);
  }
  // The two disks share the storage driver's created domain, and so its buffer.
  EXPECT_EQ(report.devices[1].did, report.devices[2].did);
  EXPECT_EQ(report.devices[1].reach, report.devices[2].reach);
}

}  // namespace
}  // namespace kniommu::demo
