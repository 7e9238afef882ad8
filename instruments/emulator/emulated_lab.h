#pragma once
// The state of one emulated instrument (labloop-emulator): runs keyed by request id, started at
// most once each, taking time, failing now and then, with their results drawn from the hidden
// ground truth (instruments/ground_truth.h) plus noise.
//
// Line protocol (SCPI style, one reply line per command):
//   *IDN?                             LABLOOP,PLATE_READER-EMULATOR,<serial>,1.0
//   CAPS?                             capabilities as one JSON object
//   RUN <id> <smiles> <args...>       OK <id> | OK <id> KNOWN (a repeat: nothing new starts)
//                                     | ERR <why>
//       plate_reader args: <top concentration, mol/L> <points> <dilution fold>
//       synthesizer args:  <amount, mg>
//   STAT? <id>                        QUEUED | RUNNING | DONE | FAILED <why> | ABORTED | UNKNOWN
//   FETCH? <id>                       DATA <c1>,<y1>;<c2>,<y2>;...  (plate reader, % activity)
//                                     DATA yield=<fraction>;amount_mg=<mg>  (synthesizer)
//   ABORT <id>                        OK
//   STOP                              OK STOPPED: every run aborted, RUN refused until RESET
//   RESET                             OK
//   STARTS? <id>                      how many times that run started (0 or 1)
// The HTTP/JSON mode serves the same operations (see emulator/main.cpp).

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <vector>

namespace labloop::instruments {

struct EmulatorOptions {
  std::string kind = "plate_reader";  // plate_reader or synthesizer
  uint64_t seed = 1;
  double duration = 1.0;             // seconds a run takes
  int concurrency = 2;               // runs at once; the rest wait, QUEUED
  double fail_rate = 0.0;            // share of runs that fail
  double noise = 3.0;                // plate reader: readout noise, % activity (sd)
  double max_amount_mg = 50;         // synthesizer: the most it makes in one run
  double min_concentration = 1e-10;  // plate reader: the lowest it can dispense, mol/L
  double max_concentration = 1e-3;   // ... and the highest
  int max_points = 24;               // plate reader: dilution points per run
};

class EmulatedLab {
 public:
  explicit EmulatedLab(EmulatorOptions options);
  // One command line in, one reply line out.
  std::string Handle(const std::string& line);
  std::string Capabilities() const;

 private:
  using Clock = std::chrono::steady_clock;
  enum class State { kQueued, kRunning, kDone, kFailed, kAborted };
  struct Run {
    std::string smiles;
    std::vector<double> args;
    State state = State::kQueued;
    Clock::time_point started;
    std::string why;     // FAILED
    std::string result;  // DATA ...
    int starts = 0;
  };
  void Advance();  // queued runs start, finished runs end (under the lock)
  std::string Result(const std::string& id, const Run& run);
  std::string Start(const std::string& id, const std::string& smiles,
                    const std::vector<double>& args);

  EmulatorOptions options_;
  std::mutex mutex_;
  std::map<std::string, Run> runs_;
  std::vector<std::string> order_;  // request ids in arrival order
  bool stopped_ = false;
  std::mt19937_64 rng_;
};

}  // namespace labloop::instruments
