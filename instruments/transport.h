#pragma once
// Line transports to instruments: TCP sockets and serial ports (Boost.Asio), one command line out,
// one reply line back, each exchange under a deadline.
//
// A transport connects lazily and reconnects after any failure: a timeout or a broken connection
// closes it, and the next exchange opens a new one. Errors:
//   kUnavailable       cannot connect, the connection broke, or the reply was not text
//   kDeadlineExceeded  no full reply line within the timeout
// Retries are the caller's (Exchange with retry below): only idempotent commands may be retried,
// which labloop's are (every run carries its request id).

#include <functional>
#include <memory>
#include <string>

#include "core/result.h"

namespace labloop::instruments {

struct TransportOptions {
  // "tcp:HOST:PORT" (or "HOST:PORT"), or "serial:/dev/ttyUSB0" (a serial port or a pty).
  std::string address;
  int baud = 9600;       // serial only
  double timeout = 2.0;  // seconds to connect, and again for one exchange (name lookup unbounded)
  int retries = 3;       // further tries after a failed exchange
  double backoff = 0.2;  // seconds before the first retry, doubling each time
};

class LineTransport {
 public:
  virtual ~LineTransport() = default;
  // Sends `line` (a newline is added) and returns the reply line (without its line end).
  virtual Result<std::string> Exchange(const std::string& line) = 0;
  virtual void Close() = 0;
  virtual std::string Describe() const = 0;  // "tcp 127.0.0.1:5025"
};

Result<std::unique_ptr<LineTransport>> OpenTransport(const TransportOptions& options);

// Says whether `reply` can be the answer to the command just sent. A reply that cannot is a late
// answer to an earlier command that timed out (on a serial line nothing else discards it).
using ReplyCheck = std::function<bool(const std::string& reply)>;

// Exchange with up to options.retries further tries on kUnavailable and kDeadlineExceeded, waiting
// backoff, 2 backoff, 4 backoff, ... between them; `on_retry` hears of each failure. Other errors
// return at once. A reply that fails `answers` puts the line out of step: the transport is closed
// (the next exchange opens it afresh and discards what is waiting) and the command is retried, as
// kUnavailable "out of step".
Result<std::string> ExchangeWithRetry(LineTransport& transport, const std::string& line,
                                      const TransportOptions& options, const ReplyCheck& answers,
                                      const std::function<void(const Error&)>& on_retry = {});

}  // namespace labloop::instruments
