// Address: one small value type for IPv4, IPv6 and Unix-domain socket addresses.
#pragma once
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace asyncore {

class Address {
 public:
  Address() = default;  // empty: family() == AF_UNSPEC

  static Address ipv4(std::string_view host, uint16_t port);   // numeric dotted quad; throws
  static Address ipv6(std::string_view host, uint16_t port);   // numeric; throws
  static Address unix_path(std::string_view path);             // throws if too long
  // Numeric host and port: "127.0.0.1:80", "[::1]:80", "unix:/run/x.sock" or "/run/x.sock".
  static Address parse(std::string_view text);
  // host may be a name ("localhost") or numeric; "" means the wildcard (0.0.0.0). Blocking lookup.
  static Address resolve(std::string_view host, uint16_t port, int family = AF_UNSPEC);
  static Address from_sockaddr(const sockaddr* sa, socklen_t len);
  static Address local_of(int fd);  // getsockname
  static Address peer_of(int fd);   // getpeername; empty when not connected

  int family() const { return family_; }
  bool empty() const { return family_ == AF_UNSPEC; }
  bool is_inet() const { return family_ == AF_INET || family_ == AF_INET6; }
  std::string host() const;     // "127.0.0.1", "::1", or the Unix path
  uint16_t port() const;        // 0 for Unix paths
  const std::string& path() const;
  std::string to_string() const;  // "127.0.0.1:80", "[::1]:80", "unix:/path"

  // The sockaddr form for bind/connect/sendto.
  struct Raw {
    sockaddr_storage storage;
    socklen_t length;
    const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage); }
  };
  Raw raw() const;

  bool operator==(const Address& other) const;

  Address(const Address& other) : family_(other.family_), inet_(other.inet_) {
    if (other.path_) path_ = std::make_unique<std::string>(*other.path_);
  }
  Address& operator=(const Address& other) {
    if (this != &other) *this = Address(other);
    return *this;
  }
  Address(Address&&) noexcept = default;
  Address& operator=(Address&&) noexcept = default;

 private:
  int family_ = AF_UNSPEC;
  union {
    sockaddr_in in4;
    sockaddr_in6 in6;
  } inet_{};
  // Unix-domain only. A pointer, not a string, because every connection holds an Address and
  // inet addresses (nearly all of them) should stay small.
  std::unique_ptr<std::string> path_;
};

// Parses "0".."65535" (digits only); throws std::invalid_argument otherwise.
uint16_t parse_port(std::string_view text);

}  // namespace asyncore
