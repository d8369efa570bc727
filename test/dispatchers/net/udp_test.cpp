// UdpDispatcher: echo over IPv4 and IPv6 loopback on every backend, truncation, errors.
#include <asyncore/net/udp.h>

#include <doctest/doctest.h>

#include <string>
#include <system_error>
#include <vector>

#include <asyncore/asyncore.h>
#include "test/dispatchers/loop_helpers.h"

using namespace asyncore;
using namespace dispatcher_tests;

namespace {

class UdpEcho : public UdpDispatcher {
 public:
  using UdpDispatcher::UdpDispatcher;
  void handle_read() override {
    while (auto datagram = recvfrom()) {
      senders.push_back(datagram->from);
      sendto(datagram->data, datagram->from);
    }
  }
  std::vector<Address> senders;
};

class UdpCollector : public UdpDispatcher {
 public:
  using UdpDispatcher::UdpDispatcher;
  void handle_read() override {
    while (auto datagram = recvfrom()) received.push_back(std::move(*datagram));
  }
  std::vector<Datagram> received;
};

void echo_check(const Address& loopback) {
  for (BackendKind backend : kAllBackends) {
    const std::string backend_label = backend_name(backend);
    CAPTURE(backend_label);
    ChannelMap map;
    map.use_backend(backend);
    UdpEcho server(loopback, &map);
    REQUIRE(server.addr.port() != 0);
    UdpCollector client(loopback, &map);
    const std::vector<std::string> messages = {"one", std::string(1200, 'x'), std::string("\0binary\0", 8), ""};
    for (const auto& m : messages) CHECK(client.sendto(m, server.addr) == m.size());
    REQUIRE(run_until(map, [&] { return client.received.size() == messages.size(); }));
    for (size_t i = 0; i < messages.size(); ++i) {
      CHECK(client.received[i].data == messages[i]);
      CHECK(client.received[i].from == server.addr);
      CHECK_FALSE(client.received[i].truncated);
    }
    REQUIRE(server.senders.size() == messages.size());
    CHECK(server.senders[0] == client.addr);
  }
}

}  // namespace

TEST_CASE("UDP echo over IPv4 loopback") { echo_check(Address::ipv4("127.0.0.1", 0)); }

TEST_CASE("UDP echo over IPv6 loopback") { echo_check(Address::ipv6("::1", 0)); }

TEST_CASE("recvfrom: nothing waiting, and a datagram longer than the buffer") {
  ChannelMap map;
  UdpDispatcher receiver(Address::ipv4("127.0.0.1", 0), &map);
  CHECK_FALSE(receiver.recvfrom());
  UdpDispatcher sender(Address::ipv4("127.0.0.1", 0), &map);
  REQUIRE(sender.sendto("0123456789", receiver.addr) == 10);
  std::optional<Datagram> got;
  REQUIRE(run_until(map, [&] { return (got = receiver.recvfrom(4)).has_value(); }));
  CHECK(got->data == "0123");
  CHECK(got->truncated);
  CHECK(got->from == sender.addr);
  CHECK_FALSE(receiver.recvfrom());  // the rest of a truncated datagram is gone
}

TEST_CASE("sendto errors name the destination") {
  ChannelMap map;
  UdpDispatcher v4(Address::ipv4("127.0.0.1", 0), &map);
  const Address v6 = Address::ipv6("::1", 9);
  CHECK_THROWS_WITH_AS(v4.sendto("x", v6), doctest::Contains("sendto [::1]:9"), std::system_error);
  CHECK_THROWS_WITH_AS(v4.sendto(std::string(70000, 'b'), Address::ipv4("127.0.0.1", 9)),
                       doctest::Contains("(70000 bytes)"), std::system_error);
}
