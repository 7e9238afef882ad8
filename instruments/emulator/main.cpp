// labloop-emulator: one emulated instrument as a separate process on loopback, speaking the line
// protocol of emulated_lab.h over TCP (default), over a pseudo-terminal like a serial port
// (--serial), or as an HTTP/JSON robot API (--http). Faults are injected by flag.
//
//   labloop-emulator --kind plate_reader --port-file reader.port [--seed 1] [--duration 1.0]
//       [--fault drop|delay|garbage|stuck|refuse --fault-on RUN --fault-count 1 --delay 2]
//
// The port (or the pty's path) is written to --port-file once the emulator listens.
//
// Faults hit the commands named by --fault-on (a command word such as RUN or STAT?, or "any"):
// the first --fault-count of them (0: all), each with probability --fault-rate.
//   drop     the command is carried out, then the connection closes without a reply (a lost
//            reply: a retry must not run the experiment twice)
//   delay    the reply comes --delay seconds late
//   garbage  the reply is bytes that are not the protocol
//   stuck    no reply ever; the connection stays open
//   refuse   "ERR REFUSED", the command not carried out
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio.hpp>
#include <chrono>
#include <fstream>
#include <iostream>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "instruments/emulator/emulated_lab.h"

namespace asio = boost::asio;
using asio::ip::tcp;
using json = nlohmann::json;
using labloop::instruments::EmulatedLab;
using labloop::instruments::EmulatorOptions;

namespace {

struct FaultOptions {
  std::string kind;  // empty: none
  std::string on = "any";
  int count = 1;
  double rate = 1.0;
  double delay = 2.0;
};

// Decides, command by command, whether the fault strikes.
class Faults {
 public:
  Faults(FaultOptions o, uint64_t seed) : o_(std::move(o)), rng_(seed ^ 0xfa017ULL) {}
  std::string Strike(const std::string& command_word) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (o_.kind.empty() || (o_.on != "any" && o_.on != command_word)) return "";
    if (o_.count > 0 && struck_ >= o_.count) return "";
    if (std::uniform_real_distribution<double>(0, 1)(rng_) >= o_.rate) return "";
    ++struck_;
    return o_.kind;
  }
  double delay() const { return o_.delay; }

 private:
  FaultOptions o_;
  std::mutex mutex_;
  std::mt19937_64 rng_;
  int struck_ = 0;
};

std::string FirstWord(const std::string& line) { return line.substr(0, line.find(' ')); }

// What to send back for one command line: the reply, or nothing (drop: close; stuck: hang).
struct Outcome {
  std::string reply;
  bool close = false, hang = false;
};

Outcome Serve(EmulatedLab& lab, Faults& faults, const std::string& line) {
  const std::string fault = faults.Strike(FirstWord(line));
  if (fault == "refuse") return {"ERR REFUSED"};
  if (fault == "stuck") return {"", false, true};
  std::string reply = lab.Handle(line);
  if (fault == "drop") return {"", true};
  if (fault == "delay") {
    std::this_thread::sleep_for(std::chrono::duration<double>(faults.delay()));
  }
  if (fault == "garbage") return {"\x01\xfe#GARBAGE%%\x7f reply"};
  return {reply};
}

void ServeLines(tcp::socket socket, EmulatedLab& lab, Faults& faults) {
  try {
    asio::streambuf buffer;
    for (;;) {
      asio::read_until(socket, buffer, '\n');
      std::istream in(&buffer);
      std::string line;
      std::getline(in, line);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      Outcome out = Serve(lab, faults, line);
      if (out.close) return;
      if (out.hang) {
        for (;;) std::this_thread::sleep_for(std::chrono::hours(1));
      }
      asio::write(socket, asio::buffer(out.reply + "\n"));
    }
  } catch (const std::exception&) {  // the client went away
  }
}

// HTTP/1.1 with JSON bodies, one request per connection or keep-alive:
//   GET  /api/info                      {"identity", "capabilities"}
//   POST /api/runs  {"request_id", "smiles", "args": [...]}   201 {"request_id", "known"}
//   GET  /api/runs/ID                   {"request_id", "state", "reason", "starts"}
//   GET  /api/runs/ID/data              {"request_id", "data"}
//   POST /api/runs/ID/abort             {"ok": true}
//   POST /api/stop, POST /api/reset     {"ok": true}
std::pair<int, json> Route(EmulatedLab& lab, Faults& faults, const std::string& method,
                           const std::string& path, const std::string& body, Outcome& outcome) {
  auto line_reply = [&](const std::string& line) {
    outcome = Serve(lab, faults, line);
    return outcome.reply;
  };
  auto error = [](int code, const std::string& message) {
    return std::pair<int, json>{code, json{{"error", message}}};
  };
  if (method == "GET" && path == "/api/info") {
    std::string identity = line_reply("*IDN?");
    return {200, {{"identity", identity}, {"capabilities", json::parse(lab.Capabilities())}}};
  }
  // What the line protocol refused (a fault, ERR ...) is refused over HTTP too: a driver must
  // not take an emergency stop for done when the instrument did not stop.
  auto acknowledged = [&](const std::string& reply) {
    if (reply.rfind("OK", 0) == 0) return std::pair<int, json>{200, {{"ok", true}}};
    return error(reply == "ERR REFUSED" ? 503 : 409,
                 reply.empty() ? "no answer" : reply.substr(std::min<size_t>(4, reply.size())));
  };
  if (method == "POST" && (path == "/api/stop" || path == "/api/reset")) {
    return acknowledged(line_reply(path == "/api/stop" ? "STOP" : "RESET"));
  }
  if (method == "POST" && path == "/api/runs") {
    json request = json::parse(body, nullptr, false);
    if (request.is_discarded() || !request.contains("request_id") || !request.contains("smiles")) {
      return error(400, "expected JSON with request_id, smiles and args");
    }
    std::string line = "RUN " + request["request_id"].get<std::string>() + " " +
                       request["smiles"].get<std::string>();
    for (const auto& a : request.value("args", json::array())) line += " " + a.dump();
    std::string reply = line_reply(line);
    if (reply.rfind("OK", 0) == 0) {
      return {201,
              {{"request_id", request["request_id"]},
               {"known", reply.find("KNOWN") != std::string::npos}}};
    }
    return error(reply == "ERR REFUSED" ? 503 : 422,
                 reply.substr(std::min<size_t>(4, reply.size())));
  }
  const std::string prefix = "/api/runs/";
  if (path.rfind(prefix, 0) == 0) {
    std::string rest = path.substr(prefix.size());
    std::string id = rest.substr(0, rest.find('/'));
    std::string tail = rest.size() > id.size() ? rest.substr(id.size()) : "";
    if (method == "GET" && tail.empty()) {
      std::string reply = line_reply("STAT? " + id);
      if (reply == "UNKNOWN") return error(404, "unknown request " + id);
      std::string state = FirstWord(reply);
      std::transform(state.begin(), state.end(), state.begin(), ::tolower);
      json j = {
          {"request_id", id}, {"state", state}, {"starts", std::stoi(lab.Handle("STARTS? " + id))}};
      if (reply.size() > FirstWord(reply).size())
        j["reason"] = reply.substr(FirstWord(reply).size() + 1);
      return {200, j};
    }
    if (method == "GET" && tail == "/data") {
      std::string reply = line_reply("FETCH? " + id);
      if (reply.rfind("DATA ", 0) != 0) return error(409, reply);
      return {200, {{"request_id", id}, {"data", reply.substr(5)}}};
    }
    if (method == "POST" && tail == "/abort") {
      const std::string reply = line_reply("ABORT " + id);
      if (reply == "UNKNOWN") return error(404, "unknown request " + id);
      return acknowledged(reply);
    }
  }
  return error(404, "no route " + method + " " + path);
}

void ServeHttp(tcp::socket socket, EmulatedLab& lab, Faults& faults) {
  try {
    asio::streambuf buffer;
    for (;;) {
      asio::read_until(socket, buffer, "\r\n\r\n");
      std::istream in(&buffer);
      std::string request_line, header;
      std::getline(in, request_line);
      size_t length = 0;
      bool close = false;
      while (std::getline(in, header) && header != "\r") {
        std::string lower = header;
        std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
        if (lower.rfind("content-length:", 0) == 0) length = std::stoul(header.substr(15));
        if (lower.rfind("connection: close", 0) == 0) close = true;
      }
      std::string body(length, '\0');
      const size_t buffered = std::min(length, buffer.size());
      in.read(&body[0], static_cast<std::streamsize>(buffered));
      if (buffered < length) {
        asio::read(socket, asio::buffer(&body[buffered], length - buffered));
      }
      std::istringstream first(request_line);
      std::string method, path;
      first >> method >> path;
      Outcome outcome;
      auto [code, reply] = Route(lab, faults, method, path, body, outcome);
      if (outcome.close) return;
      if (outcome.hang) {
        for (;;) std::this_thread::sleep_for(std::chrono::hours(1));
      }
      std::string text = outcome.reply.rfind("\x01", 0) == 0 ? outcome.reply : reply.dump();
      std::ostringstream response;
      response << "HTTP/1.1 " << code << (code < 300 ? " OK" : " Error")
               << "\r\nContent-Type: application/json\r\nContent-Length: " << text.size()
               << "\r\n\r\n"
               << text;
      asio::write(socket, asio::buffer(response.str()));
      if (close) return;
    }
  } catch (const std::exception&) {
  }
}

// A pseudo-terminal stands in for a serial cable: its slave path goes to the port file.
int ServeSerial(EmulatedLab& lab, Faults& faults, const std::string& port_file) {
  int master = posix_openpt(O_RDWR | O_NOCTTY);
  if (master < 0 || grantpt(master) != 0 || unlockpt(master) != 0) {
    std::cerr << "labloop-emulator: cannot open a pseudo-terminal\n";
    return 1;
  }
  std::string slave = ptsname(master);
  {
    const std::string temporary = port_file + ".tmp";
    std::ofstream(temporary) << slave << "\n";
    std::rename(temporary.c_str(), port_file.c_str());  // readers never see half a path
  }
  std::string pending;
  char chunk[512];
  for (;;) {
    ssize_t n = read(master, chunk, sizeof chunk);
    if (n <= 0) {  // no one has the slave open yet
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      continue;
    }
    pending.append(chunk, static_cast<size_t>(n));
    for (size_t end; (end = pending.find_first_of("\r\n")) != std::string::npos;) {
      std::string line = pending.substr(0, end);
      pending.erase(0, end + 1);
      if (line.empty()) continue;
      Outcome out = Serve(lab, faults, line);
      if (out.close || out.hang) continue;  // a serial line cannot close: the reply is lost
      std::string reply = out.reply + "\n";
      if (write(master, reply.data(), reply.size()) < 0) return 1;
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app("labloop-emulator: an emulated lab instrument on loopback");
  EmulatorOptions options;
  FaultOptions fault;
  std::string port_file;
  int port = 0;
  bool http = false, serial = false;
  app.add_option("--kind", options.kind, "plate_reader or synthesizer")
      ->check(CLI::IsMember({"plate_reader", "synthesizer"}));
  app.add_option("--port", port, "TCP port on 127.0.0.1 (0: any free one)");
  app.add_option("--port-file", port_file, "write the port (or the pty path) here")->required();
  app.add_flag("--http", http, "serve the HTTP/JSON robot API instead of the line protocol");
  app.add_flag("--serial", serial, "serve the line protocol on a pseudo-terminal");
  app.add_option("--seed", options.seed, "noise and failure seed");
  app.add_option("--duration", options.duration, "seconds a run takes");
  app.add_option("--concurrency", options.concurrency, "runs at once");
  app.add_option("--fail-rate", options.fail_rate, "share of runs that fail");
  app.add_option("--noise", options.noise, "plate reader noise (% activity, sd)");
  app.add_option("--fault", fault.kind, "drop, delay, garbage, stuck or refuse")
      ->check(CLI::IsMember({"drop", "delay", "garbage", "stuck", "refuse"}));
  app.add_option("--fault-on", fault.on, "command word the fault hits (any: all)");
  app.add_option("--fault-count", fault.count, "how many commands it hits (0: all)");
  app.add_option("--fault-rate", fault.rate, "probability for each of them");
  app.add_option("--delay", fault.delay, "seconds of the delay fault");
  CLI11_PARSE(app, argc, argv);
  signal(SIGPIPE, SIG_IGN);

  EmulatedLab lab(options);
  Faults faults(fault, options.seed);
  if (serial) return ServeSerial(lab, faults, port_file);
  try {
    asio::io_context io;
    tcp::acceptor acceptor(
        io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)));
    {
      const std::string temporary = port_file + ".tmp";
      std::ofstream(temporary) << acceptor.local_endpoint().port() << "\n";
      std::rename(temporary.c_str(), port_file.c_str());  // readers never see half a port
    }
    for (;;) {
      tcp::socket socket(io);
      acceptor.accept(socket);
      socket.set_option(tcp::no_delay(true));
      std::thread(http ? ServeHttp : ServeLines, std::move(socket), std::ref(lab), std::ref(faults))
          .detach();
    }
  } catch (const std::exception& e) {
    std::cerr << "labloop-emulator: " << e.what() << "\n";
    return 1;
  }
}
