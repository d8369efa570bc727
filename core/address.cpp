#include <asyncore/address.h>

#include <arpa/inet.h>
#include <netdb.h>

#include <cstring>
#include <stdexcept>
#include <system_error>

namespace asyncore {
namespace {

[[noreturn]] void bad_address(std::string_view text, std::string_view why) {
  throw std::invalid_argument("bad address '" + std::string(text) + "': " + std::string(why));
}

uint16_t port_of(std::string_view text, std::string_view whole) {
  if (text.empty() || text.size() > 5) bad_address(whole, "port must be a number 0..65535");
  unsigned value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') bad_address(whole, "port must be a number 0..65535");
    value = value * 10 + static_cast<unsigned>(c - '0');
  }
  if (value > 65535) bad_address(whole, "port must be a number 0..65535");
  return static_cast<uint16_t>(value);
}

// Decimal digits of n (< 100000) at `out`; returns the end. Servers name the peer of every
// connection they log or record: inet_ntop + std::to_string cost ~2,000 instructions a time.
char* put_decimal(char* out, unsigned n) {
  char digits[5];
  int count = 0;
  do {
    digits[count++] = static_cast<char>('0' + n % 10);
    n /= 10;
  } while (n > 0);
  while (count > 0) *out++ = digits[--count];
  return out;
}

// "a.b.c.d" or "a.b.c.d:port" for a network-order IPv4 address.
std::string format_ipv4(const in_addr& address, int port) {
  const auto* b = reinterpret_cast<const unsigned char*>(&address.s_addr);
  char text[24];  // "255.255.255.255:65535"
  char* end = text;
  for (int i = 0; i < 4; ++i) {
    if (i > 0) *end++ = '.';
    end = put_decimal(end, b[i]);
  }
  if (port >= 0) {
    *end++ = ':';
    end = put_decimal(end, static_cast<unsigned>(port));
  }
  return std::string(text, end);
}

}  // namespace

Address Address::ipv4(std::string_view host, uint16_t port) {
  Address a;
  a.family_ = AF_INET;
  a.inet_.in4.sin_family = AF_INET;
  a.inet_.in4.sin_port = htons(port);
  std::string h(host.empty() ? "0.0.0.0" : host);
  if (::inet_pton(AF_INET, h.c_str(), &a.inet_.in4.sin_addr) != 1) bad_address(host, "not an IPv4 address");
  return a;
}

Address Address::ipv6(std::string_view host, uint16_t port) {
  Address a;
  a.family_ = AF_INET6;
  a.inet_.in6.sin6_family = AF_INET6;
  a.inet_.in6.sin6_port = htons(port);
  std::string h(host.empty() ? "::" : host);
  if (::inet_pton(AF_INET6, h.c_str(), &a.inet_.in6.sin6_addr) != 1) bad_address(host, "not an IPv6 address");
  return a;
}

Address Address::unix_path(std::string_view path) {
  if (path.empty() || path.size() >= sizeof(sockaddr_un::sun_path)) {
    bad_address(path, "a Unix socket path needs 1.." + std::to_string(sizeof(sockaddr_un::sun_path) - 1) + " bytes");
  }
  Address a;
  a.family_ = AF_UNIX;
  a.path_ = std::make_unique<std::string>(path);
  return a;
}

Address Address::parse(std::string_view text) {
  if (text.rfind("unix:", 0) == 0) return unix_path(text.substr(5));
  if (!text.empty() && text.front() == '/') return unix_path(text);
  if (!text.empty() && text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      bad_address(text, "expected [IPv6]:port");
    }
    return ipv6(text.substr(1, close - 1), port_of(text.substr(close + 2), text));
  }
  auto colon = text.rfind(':');
  if (colon == std::string_view::npos) bad_address(text, "expected host:port");
  return ipv4(text.substr(0, colon), port_of(text.substr(colon + 1), text));
}

Address Address::resolve(std::string_view host, uint16_t port, int family) {
  if (host.empty()) return family == AF_INET6 ? ipv6("::", port) : ipv4("0.0.0.0", port);
  addrinfo hints{};
  hints.ai_family = family;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* result = nullptr;
  std::string h(host);
  int rc = ::getaddrinfo(h.c_str(), nullptr, &hints, &result);
  if (rc != 0) bad_address(host, ::gai_strerror(rc));
  Address a = from_sockaddr(result->ai_addr, result->ai_addrlen);
  ::freeaddrinfo(result);
  if (a.family_ == AF_INET) a.inet_.in4.sin_port = htons(port);
  else a.inet_.in6.sin6_port = htons(port);
  return a;
}

Address Address::from_sockaddr(const sockaddr* sa, socklen_t len) {
  Address a;
  if (!sa || len < sizeof(sa_family_t)) return a;
  switch (sa->sa_family) {
    case AF_INET:
      a.family_ = AF_INET;
      std::memcpy(&a.inet_.in4, sa, sizeof(sockaddr_in));
      break;
    case AF_INET6:
      a.family_ = AF_INET6;
      std::memcpy(&a.inet_.in6, sa, sizeof(sockaddr_in6));
      break;
    case AF_UNIX: {
      a.family_ = AF_UNIX;
      auto* un = reinterpret_cast<const sockaddr_un*>(sa);
      size_t n = len > offsetof(sockaddr_un, sun_path) ? len - offsetof(sockaddr_un, sun_path) : 0;
      a.path_ = std::make_unique<std::string>(un->sun_path, ::strnlen(un->sun_path, n));
      break;
    }
    default:
      break;
  }
  return a;
}

Address Address::local_of(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) {
    throw std::system_error(errno, std::generic_category(), "getsockname");
  }
  return from_sockaddr(reinterpret_cast<sockaddr*>(&ss), len);
}

Address Address::peer_of(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return Address();
  return from_sockaddr(reinterpret_cast<sockaddr*>(&ss), len);
}

const std::string& Address::path() const {
  static const std::string none;
  return path_ ? *path_ : none;
}

std::string Address::host() const {
  char buf[INET6_ADDRSTRLEN] = "";
  if (family_ == AF_INET) return format_ipv4(inet_.in4.sin_addr, -1);
  if (family_ == AF_INET6) ::inet_ntop(AF_INET6, &inet_.in6.sin6_addr, buf, sizeof buf);
  else if (family_ == AF_UNIX) return path();
  return buf;
}

uint16_t Address::port() const {
  if (family_ == AF_INET) return ntohs(inet_.in4.sin_port);
  if (family_ == AF_INET6) return ntohs(inet_.in6.sin6_port);
  return 0;
}

std::string Address::to_string() const {
  switch (family_) {
    case AF_INET: return format_ipv4(inet_.in4.sin_addr, port());
    case AF_INET6: return "[" + host() + "]:" + std::to_string(port());
    case AF_UNIX: return "unix:" + path();
    default: return "-";
  }
}

Address::Raw Address::raw() const {
  Raw r{};
  switch (family_) {
    case AF_INET:
      std::memcpy(&r.storage, &inet_.in4, sizeof(sockaddr_in));
      r.length = sizeof(sockaddr_in);
      break;
    case AF_INET6:
      std::memcpy(&r.storage, &inet_.in6, sizeof(sockaddr_in6));
      r.length = sizeof(sockaddr_in6);
      break;
    case AF_UNIX: {
      auto* un = reinterpret_cast<sockaddr_un*>(&r.storage);
      un->sun_family = AF_UNIX;
      std::memcpy(un->sun_path, path().data(), path().size());
      r.length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path().size() + 1);
      break;
    }
    default:
      r.length = 0;
  }
  return r;
}

bool Address::operator==(const Address& other) const {
  if (family_ != other.family_) return false;
  switch (family_) {
    case AF_INET:
      return inet_.in4.sin_port == other.inet_.in4.sin_port && inet_.in4.sin_addr.s_addr == other.inet_.in4.sin_addr.s_addr;
    case AF_INET6:
      return inet_.in6.sin6_port == other.inet_.in6.sin6_port &&
             std::memcmp(&inet_.in6.sin6_addr, &other.inet_.in6.sin6_addr, sizeof(in6_addr)) == 0;
    case AF_UNIX: return path() == other.path();
    default: return true;
  }
}

uint16_t parse_port(std::string_view text) {
  if (text.empty() || text.size() > 5 || text.find_first_not_of("0123456789") != std::string_view::npos) {
    throw std::invalid_argument("port must be a number 0..65535");
  }
  unsigned value = 0;
  for (char c : text) value = value * 10 + static_cast<unsigned>(c - '0');
  if (value > 65535) throw std::invalid_argument("port must be a number 0..65535");
  return static_cast<uint16_t>(value);
}

}  // namespace asyncore
