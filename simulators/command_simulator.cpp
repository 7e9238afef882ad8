#include "simulators/command_simulator.h"

#include <chrono>
#include <cmath>

#include <nlohmann/json.hpp>

#include "core/chem/geometry.h"
#include "core/chem/molecule.h"
#include "simulators/external_process.h"
#include "simulators/standard_geometry.h"

namespace labloop::simulators {

namespace {

using json = nlohmann::json;

class CommandSimulator final : public Simulator {
 public:
  explicit CommandSimulator(const SimulatorOptions& options) : options_(options) {}
  std::string Kind() const override { return "command"; }
  std::vector<std::string> Properties() const override { return PropertiesOf(options_); }

  Result<SimulationSummary> Run(const std::string& smiles) const override {
    auto start = std::chrono::steady_clock::now();
    auto molecule = chem::Molecule::FromSmiles(smiles);
    if (!molecule) return tl::unexpected(molecule.error());
    std::string canonical = molecule->CanonicalSmiles();
    ProcessOptions process;
    process.timeout_seconds = options_.command_timeout_seconds;
    if (options_.command_input == "xyz") {
      auto geometry = StandardGeometry(*molecule, options_);
      if (!geometry) return tl::unexpected(geometry.error());
      process.input = geometry->ToXyz(canonical);
    } else {
      process.input = canonical + "\n";
    }
    auto ran = RunProcess(options_.command, process);
    if (!ran) return tl::unexpected(ran.error());
    if (ran->signal != 0 || ran->exit_code != 0) {
      return MakeError(ErrorCode::kAborted,
                       "command '" + options_.command[0] + "' failed: " + DescribeFailure(*ran));
    }
    // The answer: the last line of stdout that is a JSON object (programs may print chatter).
    json answer;
    size_t end = ran->out.size();
    while (end > 0) {
      size_t begin = ran->out.rfind('\n', end - 1);
      begin = begin == std::string::npos ? 0 : begin + 1;
      auto parsed = json::parse(ran->out.substr(begin, end - begin), nullptr, false);
      if (!parsed.is_discarded() && parsed.is_object()) {
        answer = std::move(parsed);
        break;
      }
      end = begin == 0 ? 0 : begin - 1;
    }
    if (answer.is_null()) {
      return MakeError(ErrorCode::kAborted,
                       "command '" + options_.command[0] + "' printed no JSON object on stdout");
    }
    if (answer.contains("error")) {
      return MakeError(ErrorCode::kAborted,
                       "command '" + options_.command[0] + "': " +
                           (answer["error"].is_string() ? answer["error"].get<std::string>()
                                                        : answer["error"].dump()));
    }
    SimulationSummary summary;
    for (const auto& name : options_.properties) {
      if (!answer.contains(name) || !answer[name].is_number()) {
        return MakeError(ErrorCode::kAborted, "command '" + options_.command[0] +
                                                  "' answered without a number for '" + name +
                                                  "': " + answer.dump());
      }
      double value = answer[name].get<double>();
      if (!std::isfinite(value)) {
        return MakeError(ErrorCode::kAborted, "command '" + options_.command[0] +
                                                  "' answered a non-finite '" + name + "'");
      }
      summary.properties[name] = value;
    }
    summary.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    json raw = {{"command", options_.command}, {"answer", answer}, {"seconds", summary.seconds}};
    summary.raw_json = raw.dump();
    return summary;
  }

 private:
  SimulatorOptions options_;
};

}  // namespace

Result<std::unique_ptr<Simulator>> CreateCommandSimulator(const SimulatorOptions& options) {
  if (auto valid = options.Validate(); !valid) return tl::unexpected(valid.error());
  if (options.command.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "the command simulator needs a command to run");
  }
  if (options.properties.empty()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "the command simulator needs the names of the properties it reports");
  }
  auto program = FindProgram(options.command[0]);
  if (!program) return tl::unexpected(program.error());
  return std::unique_ptr<Simulator>(new CommandSimulator(options));
}

}  // namespace labloop::simulators
