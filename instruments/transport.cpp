#include "instruments/transport.h"

#include <termios.h>

#include <boost/asio.hpp>

#include <chrono>
#include <optional>
#include <thread>

namespace labloop::instruments {

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

// A reply must be printable text: anything else is line noise or a confused device.
bool Printable(const std::string& s) {
  for (unsigned char c : s) {
    if (c < 0x20 && c != '\t') return false;
    if (c == 0x7f) return false;
  }
  return true;
}

// Shared by both transports: write a line, read until '\n', all under one deadline. `Stream` is
// a connected tcp::socket or an open serial_port.
template <typename Stream>
Result<std::string> ExchangeOn(asio::io_context& io, Stream& stream, asio::streambuf& buffer,
                               const std::string& line, double timeout, bool& broken) {
  std::optional<boost::system::error_code> written, read;
  const std::string out = line + "\n";
  asio::async_write(stream, asio::buffer(out),
                    [&](const boost::system::error_code& ec, size_t) { written = ec; });
  asio::async_read_until(stream, buffer, '\n',
                         [&](const boost::system::error_code& ec, size_t) { read = ec; });
  io.restart();
  io.run_for(std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      std::chrono::duration<double>(timeout)));
  const bool timed_out = !read;
  if (!read || !written) {
    // Cancel what is pending and let its handlers run now, while what they write to still
    // exists.
    boost::system::error_code ignored;
    stream.close(ignored);
    io.restart();
    io.run();
    broken = true;
  }
  if (timed_out) {
    return MakeError(ErrorCode::kDeadlineExceeded,
                     "no reply to '" + line + "' within " + std::to_string(timeout) + " s");
  }
  if ((written && *written) || *read) {
    broken = true;
    const auto& ec = (written && *written) ? *written : *read;
    return MakeError(ErrorCode::kUnavailable,
                     "connection lost during '" + line + "': " + ec.message());
  }
  std::istream in(&buffer);
  std::string reply;
  std::getline(in, reply);
  if (!reply.empty() && reply.back() == '\r') reply.pop_back();
  if (!Printable(reply)) {
    broken = true;  // resynchronize on a fresh connection
    return MakeError(ErrorCode::kUnavailable, "garbled reply to '" + line + "'");
  }
  return reply;
}

// What both transports share: a stream opened on first use, one exchange at a time, and a
// fresh stream after any failure. `Stream` is tcp::socket or serial_port.
template <typename Stream>
class StreamTransport : public LineTransport {
 public:
  Result<std::string> Exchange(const std::string& line) override {
    if (!stream_) LABLOOP_TRY(Open());
    bool broken = false;
    auto reply = ExchangeOn(io_, *stream_, buffer_, line, timeout_, broken);
    if (broken) Close();
    return reply;
  }

  void Close() override {
    if (stream_) {
      boost::system::error_code ignored;
      stream_->close(ignored);
      stream_.reset();
    }
    buffer_.consume(buffer_.size());
  }

 protected:
  explicit StreamTransport(double timeout) : timeout_(timeout) {}
  virtual Status Open() = 0;  // sets stream_, or returns why not

  double timeout_;
  asio::io_context io_;
  std::unique_ptr<Stream> stream_;
  asio::streambuf buffer_;
};

class TcpTransport final : public StreamTransport<tcp::socket> {
 public:
  TcpTransport(std::string host, std::string port, double timeout)
      : StreamTransport(timeout), host_(std::move(host)), port_(std::move(port)) {}
  std::string Describe() const override { return "tcp " + host_ + ":" + port_; }

 private:
  Status Open() override {
    stream_ = std::make_unique<tcp::socket>(io_);
    tcp::resolver resolver(io_);
    boost::system::error_code ec;
    auto endpoints = resolver.resolve(host_, port_, ec);
    if (ec) {
      stream_.reset();
      return MakeError(ErrorCode::kUnavailable, Describe() + ": " + ec.message());
    }
    std::optional<boost::system::error_code> connected;
    asio::async_connect(
        *stream_, endpoints,
        [&](const boost::system::error_code& e, const tcp::endpoint&) { connected = e; });
    io_.restart();
    io_.run_for(std::chrono::duration_cast<std::chrono::steady_clock::duration>(
        std::chrono::duration<double>(timeout_)));
    if (!connected) {  // cancel, and run the handler before `connected` goes away
      boost::system::error_code ignored;
      stream_->close(ignored);
      io_.restart();
      io_.run();
    }
    if (!connected || *connected) {
      const std::string why = connected && *connected != asio::error::operation_aborted
                                  ? connected->message()
                                  : "connect timed out";
      Close();
      return MakeError(ErrorCode::kUnavailable, Describe() + ": " + why);
    }
    stream_->set_option(tcp::no_delay(true));
    return {};
  }

  std::string host_, port_;
};

class SerialTransport final : public StreamTransport<asio::serial_port> {
 public:
  SerialTransport(std::string device, int baud, double timeout)
      : StreamTransport(timeout), device_(std::move(device)), baud_(baud) {}
  std::string Describe() const override { return "serial " + device_; }

 private:
  Status Open() override {
    stream_ = std::make_unique<asio::serial_port>(io_);
    boost::system::error_code ec;
    stream_->open(device_, ec);
    if (!ec) stream_->set_option(asio::serial_port_base::baud_rate(baud_), ec);
    if (ec) {
      stream_.reset();
      return MakeError(ErrorCode::kUnavailable, Describe() + ": " + ec.message());
    }
    // A late reply to a command that timed out must not pass for the next one's.
    ::tcflush(stream_->native_handle(), TCIFLUSH);
    return {};
  }

  std::string device_;
  int baud_;
};

}  // namespace

Result<std::unique_ptr<LineTransport>> OpenTransport(const TransportOptions& options) {
  std::string address = options.address;
  if (!(options.timeout > 0)) {
    return MakeError(ErrorCode::kInvalidArgument, "transport timeout must be positive");
  }
  if (address.rfind("serial:", 0) == 0) {
    return std::unique_ptr<LineTransport>(
        new SerialTransport(address.substr(7), options.baud, options.timeout));
  }
  if (address.rfind("tcp:", 0) == 0) address = address.substr(4);
  const auto colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == address.size()) {
    return MakeError(
        ErrorCode::kInvalidArgument,
        "instrument address '" + options.address + "' is neither tcp:HOST:PORT nor serial:DEVICE");
  }
  return std::unique_ptr<LineTransport>(
      new TcpTransport(address.substr(0, colon), address.substr(colon + 1), options.timeout));
}

Result<std::string> ExchangeWithRetry(LineTransport& transport, const std::string& line,
                                      const TransportOptions& options, const ReplyCheck& answers,
                                      const std::function<void(const Error&)>& on_retry) {
  double wait = options.backoff;
  for (int attempt = 0;; ++attempt) {
    auto reply = transport.Exchange(line);
    if (reply && (!answers || answers(*reply))) return reply;
    if (reply) {
      transport.Close();
      reply = MakeError(ErrorCode::kUnavailable,
                        "out of step: '" + *reply + "' cannot answer '" + line + "'");
    }
    const auto code = reply.error().code;
    const bool transient = code == ErrorCode::kUnavailable || code == ErrorCode::kDeadlineExceeded;
    if (!transient || attempt >= options.retries) {
      return tl::unexpected(WithContext(reply.error(), transport.Describe() + ", after " +
                                                           std::to_string(attempt + 1) +
                                                           (attempt ? " tries" : " try")));
    }
    if (on_retry) on_retry(reply.error());
    std::this_thread::sleep_for(std::chrono::duration<double>(wait));
    wait *= 2;
  }
}

}  // namespace labloop::instruments
