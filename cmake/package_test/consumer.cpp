// Uses the installed model and implementation together: the same call gives the same Retcode.
#include <cstdio>

#include "kniommu/iommu_api.h"
#include "kniommu/sim.h"
#include "model/model.h"

int main() {
  KnSimConfig config;
  KnSimDefaultConfig(&config);
  KnSimSystem* system = nullptr;
  KnPid pid = 0;
  if (KnSimSystemCreate(&config, &system) != rcOk || KnSimProcessCreate(system, &pid) != rcOk ||
      KnSimBindThread(system, pid) != rcOk) {
    std::puts("consumer: cannot create the simulated system");
    return 1;
  }
  const uint16_t bdf = config.devices[0];
  const Retcode impl_first = KnIommuAttachDevice(bdf);
  const Retcode impl_second = KnIommuAttachDevice(bdf);
  KnSimBindThread(system, 0);
  KnSimSystemDestroy(system);

  kniommu::model::Config mc;
  mc.devices.assign(config.devices, config.devices + config.device_count);
  auto state = kniommu::model::initial_state(mc);
  const auto p = kniommu::model::process_create(state);
  const Retcode model_first = kniommu::model::attach_device(state, p.pid, bdf).rc;
  const Retcode model_second = kniommu::model::attach_device(state, p.pid, bdf).rc;

  std::printf("consumer: implementation %s/%s, model %s/%s\n", KnRetcodeName(impl_first),
              KnRetcodeName(impl_second), KnRetcodeName(model_first), KnRetcodeName(model_second));
  return impl_first == rcOk && impl_second == rcAlreadyExists && model_first == impl_first &&
                 model_second == impl_second
             ? 0
             : 1;
}
