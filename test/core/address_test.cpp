// Address: parsing and printing IPv4, IPv6 and Unix-domain addresses; an IPv6 loopback echo and a
// Unix-domain stream echo through the Dispatcher, once per backend.
#include <arpa/inet.h>
#include <sys/stat.h>

#include <memory>
#include <stdexcept>
#include <thread>

#include <asyncore/stream/buffered_stream.h>
#include "test/core/core_testing.h"

using namespace coretest;
using testing::Client;

TEST_CASE("parse and to_string: IPv4") {
  Address a = Address::parse("127.0.0.1:8080");
  CHECK(a.family() == AF_INET);
  CHECK(a.host() == "127.0.0.1");
  CHECK(a.port() == 8080);
  CHECK(a.to_string() == "127.0.0.1:8080");
  CHECK(a.is_inet());
  CHECK(Address::parse(a.to_string()) == a);
  CHECK(Address::parse("0.0.0.0:0").port() == 0);
  CHECK(Address::parse("10.1.2.3:65535").port() == 65535);
  CHECK(Address::ipv4("", 80).host() == "0.0.0.0");
  CHECK(Address::parse(":80").to_string() == "0.0.0.0:80");  // an empty host is the wildcard
  CHECK(Address::ipv4("192.168.0.1", 1) == Address::parse("192.168.0.1:1"));
  CHECK_FALSE(Address::ipv4("192.168.0.1", 1) == Address::parse("192.168.0.1:2"));
  for (const char* bad : {"127.0.0.1", "127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:-1", "127.0.0.1:8x",
                          "localhost:80", "1.2.3:80", "256.0.0.1:80", "127.0.0.1:123456"}) {
    INFO(std::string(bad));
    CHECK_THROWS_AS(Address::parse(bad), std::invalid_argument);
  }
  try {
    Address::parse("127.0.0.1:99999");
  } catch (const std::invalid_argument& e) {
    CHECK(std::string(e.what()).find("127.0.0.1:99999") != std::string::npos);  // names the input
  }
}

TEST_CASE("IPv4 to_string and host agree with inet_ntop for every octet and edge ports") {
  // to_string is formatted by hand (it names the peer of every accepted connection).
  for (unsigned v = 0; v < 256; ++v) {
    const unsigned octets[4] = {v, 255 - v, v * 7 % 256, v / 3};
    in_addr raw{};
    auto* b = reinterpret_cast<unsigned char*>(&raw.s_addr);
    for (int i = 0; i < 4; ++i) b[i] = static_cast<unsigned char>(octets[i]);
    char expected[INET_ADDRSTRLEN];
    REQUIRE(::inet_ntop(AF_INET, &raw, expected, sizeof expected) != nullptr);
    for (unsigned port : {0u, 9u, 10u, 99u, 100u, 8080u, 65535u}) {
      sockaddr_in sa{};
      sa.sin_family = AF_INET;
      sa.sin_addr = raw;
      sa.sin_port = htons(static_cast<uint16_t>(port));
      Address a = Address::from_sockaddr(reinterpret_cast<const sockaddr*>(&sa), sizeof sa);
      INFO(expected << " port " << port);
      CHECK(a.host() == expected);
      CHECK(a.to_string() == std::string(expected) + ":" + std::to_string(port));
    }
  }
}

TEST_CASE("parse and to_string: IPv6") {
  Address a = Address::parse("[::1]:443");
  CHECK(a.family() == AF_INET6);
  CHECK(a.host() == "::1");
  CHECK(a.port() == 443);
  CHECK(a.to_string() == "[::1]:443");
  CHECK(Address::parse(a.to_string()) == a);
  Address b = Address::parse("[2001:DB8:0:0::1]:1");
  CHECK(b.to_string() == "[2001:db8::1]:1");  // canonical form
  CHECK(Address::ipv6("", 5).to_string() == "[::]:5");
  CHECK(Address::parse("[]:5").to_string() == "[::]:5");
  CHECK_FALSE(a == Address::parse("127.0.0.1:443"));
  for (const char* bad : {"[::1]", "[::1]443", "::1:80", "[::1:80", "[zz::1]:80", "[::1]:"}) {
    INFO(std::string(bad));
    CHECK_THROWS_AS(Address::parse(bad), std::invalid_argument);
  }
}

TEST_CASE("parse and to_string: Unix paths") {
  Address a = Address::parse("unix:/run/x.sock");
  CHECK(a.family() == AF_UNIX);
  CHECK(a.path() == "/run/x.sock");
  CHECK(a.host() == "/run/x.sock");
  CHECK(a.port() == 0);
  CHECK_FALSE(a.is_inet());
  CHECK(a.to_string() == "unix:/run/x.sock");
  CHECK(Address::parse("/tmp/y") == Address::unix_path("/tmp/y"));
  CHECK(Address::parse(a.to_string()) == a);
  CHECK_THROWS_AS(Address::parse("unix:"), std::invalid_argument);
  CHECK_THROWS_AS(Address::unix_path(std::string(200, 'x')), std::invalid_argument);
  CHECK_NOTHROW(Address::unix_path("/" + std::string(106, 'x')));  // 107 bytes + NUL fit
  auto raw = Address::unix_path("/a/b").raw();
  CHECK(Address::from_sockaddr(raw.get(), raw.length) == Address::unix_path("/a/b"));
}

TEST_CASE("empty, resolve and sockaddr round trips") {
  Address none;
  CHECK(none.empty());
  CHECK(none.to_string() == "-");
  CHECK(Address::resolve("", 9).to_string() == "0.0.0.0:9");
  CHECK(Address::resolve("127.0.0.1", 9).to_string() == "127.0.0.1:9");
  Address local = Address::resolve("localhost", 7, AF_INET);
  CHECK(local.to_string() == "127.0.0.1:7");
  CHECK_THROWS_AS(Address::resolve("no-such-host.invalid", 1), std::invalid_argument);
  for (auto text : {"1.2.3.4:5", "[fe80::1]:6"}) {
    Address a = Address::parse(text);
    auto raw = a.raw();
    CHECK(Address::from_sockaddr(raw.get(), raw.length) == a);
  }
  CHECK(Address::peer_of(-1).empty());
}

namespace {

class EchoConn : public BufferedStream {
 public:
  using BufferedStream::BufferedStream;
  void handle_read() override {
    char buf[4096];
    size_t n = recv_into(buf, sizeof buf);
    if (n) send(std::string_view(buf, n));
  }
  void handle_eof() override { close_when_done(); }
  void handle_close() override { close(); }
};

// A client connecting in its base-class constructor, as Python's BaseClient does; the derived
// class overrides handle_connect.
class BaseClient : public Dispatcher {
 public:
  BaseClient(ChannelMap& map, const Address& to) : Dispatcher(&map) {
    create_socket(to.family());
    connect(to);
  }
};

class EchoClient : public BaseClient {
 public:
  EchoClient(ChannelMap& map, const Address& to, std::string message) : BaseClient(map, to), out_(std::move(message)) {}
  void handle_connect() override { ++connects; }
  bool writable() override { return !out_.empty(); }
  void handle_write() override { out_.erase(0, send(out_)); }
  void handle_read() override { got += recv(4096); }
  std::string got;
  int connects = 0;

 private:
  std::string out_;
};

void echo_through(ChannelMap& map, const Address& where) {
  Listener listener(map, where);
  std::vector<std::shared_ptr<EchoConn>> conns;
  listener.on_accept = [&](Fd s, const Address&) { conns.push_back(make<EchoConn>(std::move(s), &map)); };
  std::string message(100000, 'q');
  for (size_t i = 0; i < message.size(); ++i) message[i] = static_cast<char>('a' + i % 23);
  EchoClient client(map, listener.addr, message);
  REQUIRE(pump(map, [&] { return client.got.size() >= message.size(); }));
  CHECK(client.got == message);
  CHECK(client.connects == 1);
  CHECK(client.connected);
  REQUIRE(conns.size() == 1);
  if (where.family() != AF_UNIX) {
    CHECK(conns[0]->addr == Address::local_of(client.fileno()));
    CHECK(listener.addr.port() != 0);
  }
}

}  // namespace

TEST_CASE("IPv6 loopback echo through the Dispatcher") {
  each_backend([](ChannelMap& map, BackendKind) {
    Address where = Address::parse("[::1]:0");
    echo_through(map, where);
    // And a blocking client from outside the loop.
    Listener listener(map, where);
    CHECK(listener.addr.to_string().rfind("[::1]:", 0) == 0);
    std::vector<std::shared_ptr<EchoConn>> conns;
    listener.on_accept = [&](Fd s, const Address& peer) {
      CHECK(peer.family() == AF_INET6);
      conns.push_back(make<EchoConn>(std::move(s), &map));
    };
    Client c(listener.port(), "::1");
    c.send_all("over IPv6");
    std::string got;
    std::thread reader([&] { got = c.recv_exact(9); });
    pump(map, [&] { return got.size() == 9; });
    reader.join();
    CHECK(got == "over IPv6");
  });
}

TEST_CASE("Unix-domain stream socket echo through the Dispatcher") {
  each_backend([](ChannelMap& map, BackendKind) {
    testing::TempDir dir;
    Address where = Address::unix_path(dir.file("echo.sock"));
    echo_through(map, where);
    struct stat st {};
    CHECK(::stat(where.path().c_str(), &st) == 0);
    CHECK(S_ISSOCK(st.st_mode));
  });
}
