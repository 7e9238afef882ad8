#pragma once
// The instrument tests' emulator: labloop-emulator (LABLOOP_EMULATOR) in a fresh temp folder.
#include <string>
#include <vector>

#include "instruments/emulator_process.h"
#include "tests/support/temp_dir.h"

namespace labloop::testing {

class Emulator {
 public:
  explicit Emulator(std::vector<std::string> flags)
      : process_(LABLOOP_EMULATOR, std::move(flags), dir_.path()) {}
  std::string Address() const { return process_.Address(); }

 private:
  TempDir dir_;
  instruments::EmulatorProcess process_;
};

}  // namespace labloop::testing
