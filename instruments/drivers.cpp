// The scpi and http instrument drivers (instrument.h).
#include <boost/asio.hpp>

#include <algorithm>
#include <chrono>
#include <functional>
#include <optional>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "core/log.h"
#include "instruments/instrument.h"

namespace labloop::instruments {

namespace asio = boost::asio;
using json = nlohmann::json;

const char* RunStateName(RunState state) {
  switch (state) {
    case RunState::kQueued:
      return "queued";
    case RunState::kRunning:
      return "running";
    case RunState::kDone:
      return "done";
    case RunState::kFailed:
      return "failed";
    case RunState::kAborted:
      return "aborted";
    case RunState::kUnknown:
      return "unknown";
  }
  return "unknown";
}

const std::map<std::string, std::string>& DefaultScpiCommands() {
  static const std::map<std::string, std::string> commands = {
      {"identify", "*IDN?"},
      {"capabilities", "CAPS?"},
      {"submit", "RUN {request_id} {smiles} {args}"},
      {"status", "STAT? {request_id}"},
      {"fetch", "FETCH? {request_id}"},
      {"abort", "ABORT {request_id}"},
      {"stop", "STOP"},
      {"reset", "RESET"}};
  return commands;
}

namespace {

RunState ParseState(std::string word) {
  for (auto& c : word) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (word == "queued") return RunState::kQueued;
  if (word == "running") return RunState::kRunning;
  if (word == "done") return RunState::kDone;
  if (word == "failed") return RunState::kFailed;
  if (word == "aborted") return RunState::kAborted;
  return RunState::kUnknown;
}

Result<Capabilities> ParseCapabilities(const std::string& text, const std::string& who) try {
  json j = json::parse(text, nullptr, false);
  if (!j.is_object()) {
    return MakeError(ErrorCode::kUnavailable, who + ": capabilities are not a JSON object");
  }
  Capabilities c;
  c.json = text;
  c.kind = j.value("kind", "");
  c.concurrency = j.value("concurrency", 1);
  if (j.contains("min_concentration")) c.min_concentration = j["min_concentration"].get<double>();
  if (j.contains("max_concentration")) c.max_concentration = j["max_concentration"].get<double>();
  if (j.contains("max_points")) c.max_points = j["max_points"].get<int>();
  if (j.contains("max_amount_mg")) c.max_amount_mg = j["max_amount_mg"].get<double>();
  if (j.contains("reagents")) c.reagents = j["reagents"].get<std::vector<std::string>>();
  return c;
} catch (const json::exception& e) {  // a field of the wrong type
  return MakeError(ErrorCode::kUnavailable,
                   who + ": malformed capabilities: " + std::string(e.what()));
}

std::string Fill(std::string text, const RunRequest& r) {
  std::string args;
  for (double a : r.args) {
    std::ostringstream s;
    s.precision(10);
    s << a;
    args += (args.empty() ? "" : " ") + s.str();
  }
  for (const auto& [key, value] : std::vector<std::pair<std::string, std::string>>{
           {"{request_id}", r.request_id}, {"{smiles}", r.smiles}, {"{args}", args}}) {
    for (size_t at; (at = text.find(key)) != std::string::npos;)
      text.replace(at, key.size(), value);
  }
  return text;
}

// What can answer each scpi operation: its reply shape, or an error line. On a serial line a reply
// that cannot answer the command sent is a late reply to an earlier one (see ReplyCheck).
bool StartsWith(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

ReplyCheck ScpiReplyCheck(const std::string& op, const std::string& command,
                          const std::string& request_id) {
  auto or_error = [](std::function<bool(const std::string&)> shape) -> ReplyCheck {
    return [shape](const std::string& r) { return StartsWith(r, "ERR") || shape(r); };
  };
  if (op == "identify") {
    if (command != "*IDN?") return {};  // a custom identity query: any text answers it
    // IEEE 488.2: manufacturer,model,serial,firmware
    return or_error([](const std::string& r) { return std::count(r.begin(), r.end(), ',') >= 3; });
  }
  if (op == "capabilities")
    return or_error([](const std::string& r) { return StartsWith(r, "{"); });
  if (op == "submit") {  // "OK <id>" or "OK <id> KNOWN": an acceptance names its run
    return or_error([request_id](const std::string& r) {
      return r == "OK" || r == "OK " + request_id || StartsWith(r, "OK " + request_id + " ");
    });
  }
  if (op == "status") {
    return or_error([](const std::string& r) {
      const std::string word = r.substr(0, r.find(' '));
      return ParseState(word) != RunState::kUnknown || word == "UNKNOWN";
    });
  }
  if (op == "fetch") return or_error([](const std::string& r) { return StartsWith(r, "DATA "); });
  return or_error([](const std::string& r) { return StartsWith(r, "OK"); });  // abort, stop, reset
}

class ScpiInstrument final : public Instrument {
 public:
  ScpiInstrument(InstrumentOptions options, std::unique_ptr<LineTransport> transport)
      : options_(std::move(options)), transport_(std::move(transport)) {
    for (const auto& [op, text] : DefaultScpiCommands()) options_.commands.emplace(op, text);
  }
  const std::string& Name() const override { return options_.name; }

  Result<std::string> Identify() override { return Ask("identify", {}); }
  Result<Capabilities> GetCapabilities() override {
    auto text = Ask("capabilities", {});
    if (!text) return tl::unexpected(text.error());
    return ParseCapabilities(*text, options_.name);
  }
  Status Submit(const RunRequest& request) override {
    auto reply = Ask("submit", request);
    if (!reply) return tl::unexpected(reply.error());
    return Accepted(*reply, "run " + request.request_id);
  }
  Result<RunStatus> Poll(const std::string& request_id) override {
    auto reply = Ask("status", {request_id, "", {}});
    if (!reply) return tl::unexpected(reply.error());
    RunStatus status;
    const auto space = reply->find(' ');
    status.state = ParseState(reply->substr(0, space));
    if (space != std::string::npos) status.reason = reply->substr(space + 1);
    if (status.state == RunState::kUnknown && reply->rfind("UNKNOWN", 0) != 0) {
      return MakeError(ErrorCode::kUnavailable,
                       options_.name + ": unexpected status reply '" + *reply + "'");
    }
    return status;
  }
  Result<std::string> Fetch(const std::string& request_id) override {
    auto reply = Ask("fetch", {request_id, "", {}});
    if (!reply) return tl::unexpected(reply.error());
    if (reply->rfind("DATA ", 0) != 0) {
      return MakeError(ErrorCode::kFailedPrecondition,
                       options_.name + ": no data for " + request_id + ": " + *reply);
    }
    return reply->substr(5);
  }
  Status Abort(const std::string& request_id) override {
    auto reply = Ask("abort", {request_id, "", {}});
    if (!reply) return tl::unexpected(reply.error());
    return Accepted(*reply, "abort " + request_id);
  }
  Status EmergencyStop() override {
    auto reply = Ask("stop", {});
    if (!reply) return tl::unexpected(reply.error());
    return Accepted(*reply, "emergency stop");
  }
  Status Reset() override {
    auto reply = Ask("reset", {});
    if (!reply) return tl::unexpected(reply.error());
    return Accepted(*reply, "reset");
  }

 private:
  Result<std::string> Ask(const std::string& op, const RunRequest& r) {
    const std::string& command = options_.commands.at(op);
    const std::string line = Fill(command, r);
    return ExchangeWithRetry(
        *transport_, line, options_.transport, ScpiReplyCheck(op, command, r.request_id),
        [&](const Error& e) { LogWarn("{}: {} ({}); retrying", options_.name, e.message, op); });
  }
  Status Accepted(const std::string& reply, const std::string& what) const {
    if (StartsWith(reply, "OK")) return {};
    return MakeError(ErrorCode::kFailedPrecondition,
                     options_.name + " refused " + what + ": " +
                         (reply.rfind("ERR ", 0) == 0 ? reply.substr(4) : reply));
  }

  InstrumentOptions options_;
  std::unique_ptr<LineTransport> transport_;
};

// One HTTP/1.1 exchange on a fresh connection, under one deadline.
struct HttpReply {
  int status = 0;
  std::string body;
};

Result<HttpReply> HttpExchange(const std::string& host, const std::string& port,
                               const std::string& method, const std::string& path,
                               const std::string& body, double timeout) {
  asio::io_context io;
  asio::ip::tcp::socket socket(io);
  asio::ip::tcp::resolver resolver(io);
  boost::system::error_code ec;
  auto endpoints = resolver.resolve(host, port, ec);
  if (ec) return MakeError(ErrorCode::kUnavailable, host + ":" + port + ": " + ec.message());
  std::ostringstream request;
  request << method << " " << path << " HTTP/1.1\r\nHost: " << host << ":" << port
          << "\r\nContent-Type: application/json\r\nContent-Length: " << body.size()
          << "\r\nConnection: close\r\n\r\n"
          << body;
  const std::string out = request.str();
  asio::streambuf buffer;
  std::optional<boost::system::error_code> done;
  // connect -> write -> read the head -> read the body, one deadline for all. The body is as
  // long as Content-Length says; without one (chunked, or ended by the close that the request
  // asks for) it is read to the end of the stream.
  std::optional<size_t> body_length;
  bool chunked = false;
  asio::async_connect(socket, endpoints, [&](auto e, const auto&) {
    if (e) {
      done = e;
      return;
    }
    asio::async_write(socket, asio::buffer(out), [&](auto e2, size_t) {
      if (e2) {
        done = e2;
        return;
      }
      asio::async_read_until(socket, buffer, "\r\n\r\n", [&](auto e3, size_t head_size) {
        if (e3) {
          done = e3;
          return;
        }
        const std::string head(asio::buffers_begin(buffer.data()),
                               asio::buffers_begin(buffer.data()) + static_cast<long>(head_size));
        std::istringstream lines(head);
        std::string line;
        std::getline(lines, line);  // the status line
        while (std::getline(lines, line)) {
          const auto colon = line.find(':');
          if (colon == std::string::npos) continue;
          std::string name = line.substr(0, colon);
          for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
          const std::string value = line.substr(colon + 1);
          if (name == "content-length") {
            try {
              body_length = std::stoul(value);
            } catch (const std::exception&) {
              done = asio::error::invalid_argument;  // a malformed head: garbled
              return;
            }
          } else if (name == "transfer-encoding" && value.find("chunked") != std::string::npos) {
            chunked = true;
          }
        }
        const size_t have = buffer.size() - head_size;
        if (body_length && !chunked) {
          if (have >= *body_length) {
            done = boost::system::error_code();
            return;
          }
          asio::async_read(socket, buffer, asio::transfer_exactly(*body_length - have),
                           [&](auto e4, size_t) { done = e4; });
          return;
        }
        asio::async_read(socket, buffer, asio::transfer_all(), [&](auto e4, size_t) {
          done = e4 == asio::error::eof ? boost::system::error_code() : e4;
        });
      });
    });
  });
  io.run_for(std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      std::chrono::duration<double>(timeout)));
  if (!done) {
    socket.close(ec);
    io.restart();
    io.run();
    return MakeError(ErrorCode::kDeadlineExceeded,
                     method + " " + path + ": no reply within " + std::to_string(timeout) + " s");
  }
  if (*done) {
    return MakeError(ErrorCode::kUnavailable, method + " " + path + ": " + done->message());
  }
  std::string text((std::istreambuf_iterator<char>(&buffer)), std::istreambuf_iterator<char>());
  HttpReply reply;
  std::istringstream head(text);
  std::string version;
  if (!(head >> version >> reply.status) || version.rfind("HTTP/", 0) != 0) {
    return MakeError(ErrorCode::kUnavailable, method + " " + path + ": not an HTTP reply");
  }
  const auto split = text.find("\r\n\r\n");
  std::string content = split == std::string::npos ? "" : text.substr(split + 4);
  if (chunked) {  // size line (hex), data, CRLF; ... a zero size ends it
    std::string decoded;
    size_t at = 0;
    for (;;) {
      const auto eol = content.find("\r\n", at);
      if (eol == std::string::npos) {
        return MakeError(ErrorCode::kUnavailable, method + " " + path + ": a cut chunked reply");
      }
      const size_t size = std::strtoul(content.c_str() + at, nullptr, 16);
      if (size == 0) break;
      if (eol + 2 + size > content.size()) {
        return MakeError(ErrorCode::kUnavailable, method + " " + path + ": a cut chunked reply");
      }
      decoded += content.substr(eol + 2, size);
      at = eol + 2 + size + 2;
    }
    content = std::move(decoded);
  } else if (body_length) {
    content.resize(std::min(content.size(), *body_length));
  }
  reply.body = std::move(content);
  return reply;
}

// A string field of a JSON object, "" when absent or of another type.
std::string Text(const json& j, const std::string& key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

class HttpInstrument final : public Instrument {
 public:
  HttpInstrument(InstrumentOptions options, std::string host, std::string port)
      : options_(std::move(options)), host_(std::move(host)), port_(std::move(port)) {}
  const std::string& Name() const override { return options_.name; }

  Result<std::string> Identify() override {
    auto j = Call("GET", "/api/info", "");
    if (!j) return tl::unexpected(j.error());
    return Text(*j, "identity");
  }
  Result<Capabilities> GetCapabilities() override {
    auto j = Call("GET", "/api/info", "");
    if (!j) return tl::unexpected(j.error());
    return ParseCapabilities(j->contains("capabilities") ? (*j)["capabilities"].dump() : "{}",
                             options_.name);
  }
  Status Submit(const RunRequest& r) override {
    auto j =
        Call("POST", "/api/runs",
             json{{"request_id", r.request_id}, {"smiles", r.smiles}, {"args", r.args}}.dump());
    if (!j) return tl::unexpected(j.error());
    return {};
  }
  Result<RunStatus> Poll(const std::string& id) override {
    auto j = Call("GET", "/api/runs/" + id, "");
    if (!j) {
      if (j.error().code == ErrorCode::kNotFound) return RunStatus{RunState::kUnknown, ""};
      return tl::unexpected(j.error());
    }
    const std::string state = Text(*j, "state");
    const RunState parsed = ParseState(state);
    if (parsed == RunState::kUnknown) {  // only a 404 means the instrument never heard of it
      return MakeError(ErrorCode::kUnavailable,
                       options_.name + ": unexpected run state '" + state + "' for " + id);
    }
    return RunStatus{parsed, Text(*j, "reason")};
  }
  Result<std::string> Fetch(const std::string& id) override {
    auto j = Call("GET", "/api/runs/" + id + "/data", "");
    if (!j) return tl::unexpected(j.error());
    return Text(*j, "data");
  }
  Status Abort(const std::string& id) override {
    auto j = Call("POST", "/api/runs/" + id + "/abort", "");
    if (!j) return tl::unexpected(j.error());
    return {};
  }
  Status EmergencyStop() override {
    auto j = Call("POST", "/api/stop", "");
    if (!j) return tl::unexpected(j.error());
    return {};
  }
  Status Reset() override {
    auto j = Call("POST", "/api/reset", "");
    if (!j) return tl::unexpected(j.error());
    return {};
  }

 private:
  // Retries transient failures (no connection, timeout, a reply that is not JSON, 503) with
  // backoff; other HTTP errors are the instrument's answer.
  Result<json> Call(const std::string& method, const std::string& path, const std::string& body) {
    const auto& t = options_.transport;
    double wait = t.backoff;
    for (int attempt = 0;; ++attempt) {
      auto reply = HttpExchange(host_, port_, method, path, body, t.timeout);
      Error failure;
      if (reply) {
        json j = json::parse(reply->body, nullptr, false);
        if (j.is_discarded() || !j.is_object()) {
          failure = {ErrorCode::kUnavailable, method + " " + path + ": garbled reply"};
        } else if (reply->status == 503) {
          failure = {ErrorCode::kUnavailable,
                     method + " " + path + ": busy (" + Text(j, "error") + ")"};
        } else if (reply->status >= 400) {
          return MakeError(
              reply->status == 404 ? ErrorCode::kNotFound : ErrorCode::kFailedPrecondition,
              options_.name + " refused " + method + " " + path + ": " +
                  (j.contains("error") ? Text(j, "error") : reply->body));
        } else {
          return j;
        }
      } else {
        failure = reply.error();
      }
      if (attempt >= t.retries) {
        return tl::unexpected(WithContext(
            failure, options_.name + ", after " + std::to_string(attempt + 1) + " tries"));
      }
      LogWarn("{}: {}; retrying", options_.name, failure.message);
      std::this_thread::sleep_for(std::chrono::duration<double>(wait));
      wait *= 2;
    }
  }

  InstrumentOptions options_;
  std::string host_, port_;
};

}  // namespace

Result<std::unique_ptr<Instrument>> CreateInstrument(const InstrumentOptions& options) {
  for (const auto& [op, text] : options.commands) {
    if (!DefaultScpiCommands().count(op)) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "instrument '" + options.name + "': unknown command '" + op +
                           "' (known: identify, capabilities, submit, status, fetch, abort, "
                           "stop, reset)");
    }
  }
  if (options.driver == "scpi") {
    auto transport = OpenTransport(options.transport);
    if (!transport) return tl::unexpected(transport.error());
    return std::unique_ptr<Instrument>(new ScpiInstrument(options, std::move(*transport)));
  }
  if (options.driver == "http") {
    std::string address = options.transport.address;
    if (address.rfind("http://", 0) == 0) address = address.substr(7);
    const auto colon = address.rfind(':');
    if (colon == std::string::npos) {
      return MakeError(ErrorCode::kInvalidArgument, "instrument '" + options.name + "': address '" +
                                                        options.transport.address +
                                                        "' is not http://HOST:PORT");
    }
    return std::unique_ptr<Instrument>(
        new HttpInstrument(options, address.substr(0, colon), address.substr(colon + 1)));
  }
  return MakeError(ErrorCode::kInvalidArgument, "instrument '" + options.name +
                                                    "': unknown driver '" + options.driver +
                                                    "' (allowed: scpi, http)");
}

}  // namespace labloop::instruments
