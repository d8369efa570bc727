// Reason: why a connection ended or never began (Twisted's Failure for connectionLost and
// clientConnectionFailed, reduced to a kind and a readable message).
#pragma once
#include <exception>
#include <string>
#include <string_view>

namespace asyncore {

struct Reason {
  enum class Kind {
    done,     // closed cleanly (our lose_connection, or the peer's orderly close)
    lost,     // closed uncleanly (reset, broken pipe)
    refused,  // the peer refused the connection
    timeout,  // a connect or the peer took too long
    aborted,  // our abort_connection or stop_connecting
    error,    // anything else: a system error or an exception from a callback
  };

  Kind kind = Kind::done;
  std::string message;

  static Reason done(std::string message = "connection closed cleanly") { return {Kind::done, std::move(message)}; }
  static Reason lost(std::string message = "connection lost") { return {Kind::lost, std::move(message)}; }
  static Reason refused(std::string message = "connection refused") { return {Kind::refused, std::move(message)}; }
  static Reason timeout(std::string message = "timed out") { return {Kind::timeout, std::move(message)}; }
  static Reason aborted(std::string message = "connection aborted") { return {Kind::aborted, std::move(message)}; }
  static Reason error(std::string message) { return {Kind::error, std::move(message)}; }
  // Classifies an errno value (ECONNREFUSED -> refused, ETIMEDOUT -> timeout, ECONNRESET -> lost...);
  // `what` says where it happened, e.g. "connect 127.0.0.1:80".
  static Reason from_errno(int error, std::string_view what);
  // A std::system_error is classified by its errno; any other exception is Kind::error.
  static Reason from_exception(const std::exception& error);

  bool clean() const { return kind == Kind::done; }
  std::string to_string() const;  // "refused: connect 127.0.0.1:80: Connection refused"
  bool operator==(const Reason&) const = default;
};

const char* kind_name(Reason::Kind kind);

}  // namespace asyncore
