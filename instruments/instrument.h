#pragma once
// The instrument interface: what labloop asks of any lab device, whatever its driver.
//
// Every run carries a request id chosen by labloop and stored in the campaign file before the run
// is sent. Submit is idempotent on it: sending the same request again (after a lost reply, a
// timeout or a controller restart) never starts a second run. Drivers:
//   scpi  a line protocol (SCPI style) over TCP or a serial port; the command lines are templates
//         in the config ([instruments.NAME.commands]), defaulting to labloop-emulator's.
//   http  a JSON REST API in the style of liquid handlers' robot servers (POST /api/runs, ...).
// Both retry transient failures (lost connection, timeout, garbled reply) with exponential backoff
// and reconnect.

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/result.h"
#include "instruments/transport.h"

namespace labloop::instruments {

enum class RunState { kQueued, kRunning, kDone, kFailed, kAborted, kUnknown };
const char* RunStateName(RunState state);

struct RunStatus {
  RunState state = RunState::kUnknown;
  std::string reason;  // why it failed, when the instrument says
};

struct Capabilities {
  std::string kind;  // plate_reader, synthesizer, ...
  int concurrency = 1;
  std::optional<double> min_concentration, max_concentration;  // mol/L
  std::optional<int> max_points;
  std::optional<double> max_amount_mg;
  std::vector<std::string> reagents;  // allowed reagents, empty: any
  std::string json;                   // as the instrument reported them
};

struct RunRequest {
  std::string request_id;
  std::string smiles;
  std::vector<double> args;  // plate reader: top concentration, points, fold; synthesizer: mg
};

struct InstrumentOptions {
  std::string name;
  std::string driver = "scpi";  // scpi or http
  TransportOptions transport;
  // scpi: command templates by operation (identify, capabilities, submit, status, fetch, abort,
  // stop, reset) with {request_id}, {smiles} and {args} (space-separated); missing ones take the
  // emulator's.
  std::map<std::string, std::string> commands;
};

class Instrument {
 public:
  virtual ~Instrument() = default;
  virtual const std::string& Name() const = 0;
  virtual Result<std::string> Identify() = 0;
  virtual Result<Capabilities> GetCapabilities() = 0;
  // Errors: kFailedPrecondition when the instrument refuses (its reason in the message),
  // kUnavailable / kDeadlineExceeded when it could not be reached after the retries.
  virtual Status Submit(const RunRequest& request) = 0;
  virtual Result<RunStatus> Poll(const std::string& request_id) = 0;
  virtual Result<std::string> Fetch(const std::string& request_id) = 0;  // the raw readout
  virtual Status Abort(const std::string& request_id) = 0;
  virtual Status EmergencyStop() = 0;  // every run on it stops; it refuses runs until Reset
  virtual Status Reset() = 0;
};

Result<std::unique_ptr<Instrument>> CreateInstrument(const InstrumentOptions& options);

// The scpi driver's default command templates (labloop-emulator's protocol).
const std::map<std::string, std::string>& DefaultScpiCommands();

}  // namespace labloop::instruments
