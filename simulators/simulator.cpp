#include "simulators/simulator.h"

#include "simulators/lookup_simulator.h"
#include "simulators/xtb_simulator.h"

namespace labloop::simulators {

Status SimulatorOptions::Validate() const {
  auto bad = [](const std::string& what) {
    return MakeError(ErrorCode::kInvalidArgument, "simulator option " + what);
  };
  if (!(xtb_accuracy > 0 && xtb_accuracy <= 1000)) return bad("xtb_accuracy must be in (0, 1000]");
  if (xtb_max_iterations < 1) return bad("xtb_max_iterations must be at least 1");
  if (!(electronic_temperature > 0)) return bad("electronic_temperature must be positive");
  if (property.empty()) return bad("property must not be empty");
  return {};
}

void RegisterBuiltinSimulators(SimulatorRegistry& registry) {
  registry.Register("xtb", CreateXtbSimulator);
  registry.Register("lookup", CreateLookupSimulator);
}

}  // namespace labloop::simulators
