// The scpi and http drivers against labloop-emulator processes on loopback: a full run, every
// fault kind, the serial line, idempotent resubmission and the emergency stop.
#include <catch2/catch.hpp>

#include <boost/asio.hpp>

#include <chrono>
#include <sstream>
#include <thread>

#include "instruments/assay_fit.h"
#include "instruments/ground_truth.h"
#include "instruments/instrument.h"
#include "instruments/transport.h"
#include "tests/instruments/emulator_process.h"

using namespace labloop;
using namespace labloop::instruments;
using labloop::testing::Emulator;

namespace {

using Clock = std::chrono::steady_clock;
double Since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

std::unique_ptr<Instrument> Connect(const std::string& address, const std::string& driver = "scpi",
                                    double timeout = 1.0, int retries = 3) {
  InstrumentOptions o;
  o.name = "reader";
  o.driver = driver;
  o.transport.address = driver == "http" ? "http://" + address : address;
  o.transport.timeout = timeout;
  o.transport.retries = retries;
  o.transport.backoff = 0.05;
  auto instrument = CreateInstrument(o);
  REQUIRE(instrument);
  return std::move(*instrument);
}

// How many times the emulator started run `id` (its STARTS? query, on a fresh connection).
int Starts(const std::string& address, const std::string& id) {
  TransportOptions t;
  t.address = address;
  auto transport = OpenTransport(t);
  REQUIRE(transport);
  auto reply = (*transport)->Exchange("STARTS? " + id);
  REQUIRE(reply);
  return std::stoi(*reply);
}

RunState StateOf(Instrument& instrument, const std::string& id) {
  auto status = instrument.Poll(id);
  REQUIRE(status);  // an error here must fail the test, not crash it
  return status->state;
}

RunStatus WaitDone(Instrument& instrument, const std::string& id) {
  for (int i = 0; i < 200; ++i) {
    auto status = instrument.Poll(id);
    REQUIRE(status);
    if (status->state != RunState::kQueued && status->state != RunState::kRunning) return *status;
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  FAIL("run " << id << " never finished");
  return {};
}

DoseResponse Parse(const std::string& data) {
  DoseResponse d;
  std::istringstream in(data);
  for (std::string point; std::getline(in, point, ';');) {
    d.concentration.push_back(std::stod(point.substr(0, point.find(','))));
    d.signal.push_back(std::stod(point.substr(point.find(',') + 1)));
  }
  return d;
}

const std::string kIbuprofen = "CC(C)Cc1ccc(C(C)C(=O)O)cc1";

}  // namespace

TEST_CASE("A dose-response run on the emulated plate reader - fitted near the hidden truth",
          "[integration]") {
  for (const std::string driver : {"scpi", "http"}) {
    INFO(driver);
    std::vector<std::string> flags = {"--kind", "plate_reader", "--duration", "0.2", "--seed", "3"};
    if (driver == "http") flags.push_back("--http");
    Emulator emulator(flags);
    auto reader = Connect(emulator.Address(), driver);
    auto identity = reader->Identify();
    REQUIRE(identity);
    CHECK(identity->find("PLATE_READER-EMULATOR") != std::string::npos);
    auto caps = reader->GetCapabilities();
    REQUIRE(caps);
    CHECK(caps->kind == "plate_reader");
    CHECK(*caps->max_points == 24);
    REQUIRE(reader->Submit({"r1", kIbuprofen, {1e-3, 12, 3}}));
    REQUIRE(reader->Submit({"r1", kIbuprofen, {1e-3, 12, 3}}));  // a repeat starts nothing
    CHECK(WaitDone(*reader, "r1").state == RunState::kDone);
    auto data = reader->Fetch("r1");
    REQUIRE(data);
    auto fit = FitDoseResponse(Parse(*data));
    REQUIRE(fit);
    INFO(fit->Summary());
    CHECK(fit->ok);
    auto truth = GroundTruth(kIbuprofen);
    CHECK(std::abs(fit->pic50 - truth->pic50) < 3 * fit->pic50_sigma + 0.05);
    // Refusals are the instrument's answer, not retried: a series below its lowest concentration.
    auto refused = reader->Submit({"r2", kIbuprofen, {1e-9, 12, 10}});
    REQUIRE(!refused);
    CHECK(refused.error().code == ErrorCode::kFailedPrecondition);
    if (driver == "scpi") CHECK(Starts(emulator.Address(), "r1") == 1);
  }
}

TEST_CASE("A lost reply to RUN is retried - and the experiment runs once", "[integration]") {
  for (const std::string driver : {"scpi", "http"}) {
    INFO(driver);
    std::vector<std::string> flags = {
        "--kind", "synthesizer", "--duration", "0.1",           "--fault",
        "drop",   "--fault-on",  "RUN",        "--fault-count", "2"};
    if (driver == "http") flags.push_back("--http");
    Emulator emulator(flags);
    auto synthesizer = Connect(emulator.Address(), driver);
    REQUIRE(synthesizer->Submit({"s1", kIbuprofen, {10}}));
    CHECK(WaitDone(*synthesizer, "s1").state == RunState::kDone);
    auto data = synthesizer->Fetch("s1");
    REQUIRE(data);
    CHECK(data->rfind("yield=", 0) == 0);
    if (driver == "scpi") CHECK(Starts(emulator.Address(), "s1") == 1);
  }
}

TEST_CASE("Delayed and garbled replies are retried on a fresh connection", "[integration]") {
  for (const std::string fault : {"delay", "garbage"}) {
    INFO(fault);
    Emulator emulator({"--kind", "plate_reader", "--duration", "0.1", "--fault", fault,
                       "--fault-on", "STAT?", "--fault-count", "1", "--delay", "2"});
    auto reader = Connect(emulator.Address(), "scpi", /*timeout=*/0.4);
    REQUIRE(reader->Submit({"r1", kIbuprofen, {1e-3, 8, 3}}));
    auto t0 = Clock::now();
    CHECK(WaitDone(*reader, "r1").state == RunState::kDone);
    if (std::string(fault) == "delay") CHECK(Since(t0) >= 0.4);  // the timeout fired, then a retry
    CHECK(Starts(emulator.Address(), "r1") == 1);
  }
}

TEST_CASE("A stuck instrument times out after the retries - a refusal is not retried",
          "[integration]") {
  {
    Emulator emulator(
        {"--kind", "plate_reader", "--fault", "stuck", "--fault-on", "RUN", "--fault-count", "0"});
    auto reader = Connect(emulator.Address(), "scpi", /*timeout=*/0.3, /*retries=*/2);
    auto t0 = Clock::now();
    auto submitted = reader->Submit({"r1", kIbuprofen, {1e-3, 8, 3}});
    const double seconds = Since(t0);
    REQUIRE(!submitted);
    CHECK(submitted.error().code == ErrorCode::kDeadlineExceeded);
    CHECK(submitted.error().message.find("after 3 tries") != std::string::npos);
    CHECK(seconds >= 0.9);  // 3 x 0.3 s plus the backoff
    CHECK(seconds < 3.0);
    CHECK(reader->Identify());  // the instrument still answers other commands
  }
  {
    Emulator emulator(
        {"--kind", "plate_reader", "--fault", "refuse", "--fault-on", "RUN", "--fault-count", "0"});
    auto reader = Connect(emulator.Address());
    auto t0 = Clock::now();
    auto submitted = reader->Submit({"r1", kIbuprofen, {1e-3, 8, 3}});
    REQUIRE(!submitted);
    CHECK(submitted.error().code == ErrorCode::kFailedPrecondition);
    CHECK(submitted.error().message.find("REFUSED") != std::string::npos);
    CHECK(Since(t0) < 0.5);  // no retries
  }
  // Nobody listening: unavailable, named.
  auto nobody = Connect("127.0.0.1:1", "scpi", 0.3, 1);
  auto identity = nobody->Identify();
  REQUIRE(!identity);
  CHECK(identity.error().code == ErrorCode::kUnavailable);
  CHECK(identity.error().message.find("tcp 127.0.0.1:1") != std::string::npos);
}

TEST_CASE("The scpi driver over a serial line (a pseudo-terminal)", "[integration]") {
  Emulator emulator({"--kind", "synthesizer", "--serial", "--duration", "0.1"});
  REQUIRE(emulator.Address().rfind("serial:/dev/pts/", 0) == 0);
  auto synthesizer = Connect(emulator.Address());
  auto identity = synthesizer->Identify();
  REQUIRE(identity);
  CHECK(identity->find("SYNTHESIZER-EMULATOR") != std::string::npos);
  REQUIRE(synthesizer->Submit({"s1", "CCO", {5}}));
  CHECK(WaitDone(*synthesizer, "s1").state == RunState::kDone);
  auto data = synthesizer->Fetch("s1");
  REQUIRE(data);
  CHECK(data->find("amount_mg=") != std::string::npos);
}

TEST_CASE("Late replies on a serial line never pass for the answers to later commands",
          "[integration]") {
  // The first STAT? is answered 0.5 s late: after the driver gave up on it (0.3 s) and asked again.
  // That late reply answers the retry, and from then on each reply is one command behind until one
  // cannot answer its command (DONE to FETCH?): the driver then flushes the line and asks again.
  Emulator emulator({"--kind", "synthesizer", "--serial", "--duration", "0.1", "--fault", "delay",
                     "--delay", "0.5", "--fault-on", "STAT?", "--fault-count", "1"});
  auto synthesizer = Connect(emulator.Address(), "scpi", 0.3, 3);
  REQUIRE(synthesizer->Submit({"s1", "CCO", {5}}));
  CHECK(WaitDone(*synthesizer, "s1").state == RunState::kDone);
  auto data = synthesizer->Fetch("s1");
  REQUIRE(data);
  CHECK(data->find("amount_mg=") != std::string::npos);
  // In step again: a second run goes through with every reply its own.
  REQUIRE(synthesizer->Submit({"s2", "CCN", {5}}));
  CHECK(WaitDone(*synthesizer, "s2").state == RunState::kDone);
  data = synthesizer->Fetch("s2");
  REQUIRE(data);
  CHECK(data->find("amount_mg=") != std::string::npos);
}

TEST_CASE("Emergency stop aborts every run at once and holds until reset", "[integration]") {
  Emulator emulator({"--kind", "plate_reader", "--duration", "30", "--concurrency", "1"});
  auto reader = Connect(emulator.Address());
  REQUIRE(reader->Submit({"r1", kIbuprofen, {1e-3, 8, 3}}));
  REQUIRE(reader->Submit({"r2", kIbuprofen, {1e-3, 8, 3}}));
  CHECK(StateOf(*reader, "r1") == RunState::kRunning);
  CHECK(StateOf(*reader, "r2") == RunState::kQueued);
  auto t0 = Clock::now();
  REQUIRE(reader->EmergencyStop());
  CHECK(Since(t0) < 0.1);
  CHECK(StateOf(*reader, "r1") == RunState::kAborted);
  CHECK(StateOf(*reader, "r2") == RunState::kAborted);
  auto refused = reader->Submit({"r3", kIbuprofen, {1e-3, 8, 3}});
  REQUIRE(!refused);
  CHECK(refused.error().message.find("emergency stop") != std::string::npos);
  REQUIRE(reader->Reset());
  REQUIRE(reader->Submit({"r3", kIbuprofen, {1e-3, 8, 3}}));
}

TEST_CASE("Over HTTP a refused stop is an error, not a stop", "[integration]") {
  Emulator emulator({"--kind", "plate_reader", "--http", "--fault", "refuse", "--fault-on", "STOP",
                     "--fault-count", "0"});
  auto reader = Connect(emulator.Address(), "http", 0.5, 1);
  REQUIRE(reader->Submit({"r1", kIbuprofen, {1e-3, 8, 3}}));
  auto stopped = reader->EmergencyStop();
  REQUIRE_FALSE(stopped);
  CHECK(stopped.error().message.find("REFUSED") != std::string::npos);
  CHECK(StateOf(*reader, "r1") != RunState::kAborted);  // it did not stop, and says so
}

namespace {
// A one-request HTTP server on loopback that answers `reply` as it is, then closes.
class OneReply {
 public:
  explicit OneReply(std::string reply)
      : acceptor_(io_, {boost::asio::ip::address_v4::loopback(), 0}) {
    thread_ = std::thread([this, reply = std::move(reply)] {
      boost::asio::ip::tcp::socket socket(io_);
      acceptor_.accept(socket);
      boost::asio::streambuf request;
      boost::asio::read_until(socket, request, "\r\n\r\n");
      boost::asio::write(socket, boost::asio::buffer(reply));
      socket.close();
    });
  }
  ~OneReply() { thread_.join(); }
  std::string Address() const {
    return "127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port());
  }

 private:
  boost::asio::io_context io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::thread thread_;
};
}  // namespace

TEST_CASE("The http driver reads chunked and close-delimited replies", "[integration]") {
  const std::string body = R"({"identity":"emulated reader 7","capabilities":{}})";
  {
    OneReply server(
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        "10\r\n" +
        body.substr(0, 16) + "\r\n" +
        [&] {
          std::ostringstream size;
          size << std::hex << body.size() - 16;
          return size.str();
        }() +
        "\r\n" + body.substr(16) + "\r\n0\r\n\r\n");
    auto reader = Connect(server.Address(), "http", 2.0, 0);
    auto identity = reader->Identify();
    INFO((identity ? "" : identity.error().message));
    REQUIRE(identity);
    CHECK(*identity == "emulated reader 7");
  }
  {
    OneReply server("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + body);
    auto reader = Connect(server.Address(), "http", 2.0, 0);
    auto identity = reader->Identify();
    INFO((identity ? "" : identity.error().message));
    REQUIRE(identity);
    CHECK(*identity == "emulated reader 7");
  }
  {
    // A header whose name only ends in content-length is not the length.
    OneReply server("HTTP/1.1 200 OK\r\nX-Original-Content-Length: 3\r\nContent-Length: " +
                    std::to_string(body.size()) + "\r\n\r\n" + body);
    auto reader = Connect(server.Address(), "http", 2.0, 0);
    auto identity = reader->Identify();
    INFO((identity ? "" : identity.error().message));
    REQUIRE(identity);
    CHECK(*identity == "emulated reader 7");
  }
}
