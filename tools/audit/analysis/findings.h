// What the tables show an auditor without any metadata from the system that built them:
// domains shared across functions, identity maps, empty domains, physical pages reached
// through several IOVAs, an OS that never writes write-only entries, and devices the platform
// says bypass the IOMMU. docs/auditing-a-vm.md explains each.
#pragma once

#include "analysis/analysis.h"

namespace kniommu::audit {

// Appends to report.findings (and, for iommu-bypass, to report.violations). Needs
// report.devices with their mappings and report.platform_devices.
void add_findings(Report& report);

// Physical ranges reached through more than one IOVA page of the same mappings (each range
// counts its pages once).
std::vector<Range> aliased_pages(const std::vector<Mapping>& mappings);

}  // namespace kniommu::audit
