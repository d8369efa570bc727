// What the device tests share: the server and emulator as child processes, a raw device
// speaking frames over a testing::Client, and JSON over the admin API. Every wait is bounded.
#pragma once
#include <doctest/doctest.h>

#include <csignal>
#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "apps/device/frame.h"
#include <asyncore/address.h>
#include <asyncore/json/json.h>
#include "test/support/testing.h"

namespace device_test {

namespace json = asyncore::json;
using testing::Seconds;

struct Server {
  std::unique_ptr<testing::Child> child;
  int port = 0;
  int admin = 0;

  // device-server on free ports with `data_dir`, plus `extra` flags.
  static Server start(const std::string& data_dir, std::vector<std::string> extra = {}) {
    std::vector<std::string> argv = {testing::bin_path("device-server"), "--port", "0", "--admin-port", "0",
                                     "--data-dir", data_dir};
    argv.insert(argv.end(), extra.begin(), extra.end());
    Server s;
    s.child = std::make_unique<testing::Child>(argv);
    s.port = s.child->listening_port("device");
    s.admin = s.child->listening_port("admin");
    return s;
  }
  // SIGTERM and the exit code.
  std::optional<int> stop() {
    child->signal(SIGTERM);
    return child->wait(Seconds(20));
  }
};

struct Emulator {
  std::unique_ptr<testing::Child> child;
  static Emulator start(int port, std::vector<std::string> extra) {
    std::vector<std::string> argv = {testing::bin_path("device-emulator"), "--port", std::to_string(port), "--quiet"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return Emulator{std::make_unique<testing::Child>(argv)};
  }
  // SIGTERM, then the summary line's "key=value" fields.
  std::map<std::string, long> stop() {
    child->signal(SIGTERM);
    std::string summary = child->wait_for_line("summary ", Seconds(20));
    std::map<std::string, long> fields;
    std::size_t at = 0;
    while ((at = summary.find('=', at)) != std::string::npos) {
      std::size_t start = summary.rfind(' ', at) + 1;
      std::size_t end = summary.find(' ', at);
      fields[summary.substr(start, at - start)] = std::stol(summary.substr(at + 1, end - at - 1));
      at = at + 1;
    }
    child->wait(Seconds(10));
    return fields;
  }
};

inline std::string frame(std::string_view body) { return asyncore::device::encode_frame(body); }

// A device played by hand.
struct RawDevice {
  testing::Client client;
  explicit RawDevice(int port) : client(port) {}
  RawDevice(int port, std::string_view source) : client(port, "127.0.0.1", source) {}  // from 127.0.0.x

  void send(const json::Value& body) { client.send_all(frame(json::dump(body))); }
  void send_raw(std::string_view bytes) { client.send_all(bytes); }
  // The next frame's body as JSON (throws on timeout or EOF).
  json::Value read(Seconds timeout = Seconds(10)) {
    std::string header = client.recv_exact(4, timeout);
    std::string body = client.recv_exact(asyncore::device::read_be32(header.data()), timeout);
    return json::parse(body);
  }
  json::Value login(std::string_view imei, int heartbeat = 60, std::optional<std::string> token = std::nullopt, int ident = 1) {
    json::Object login{{"type", 1}, {"ident", ident}, {"imei", imei}, {"heartbeat", heartbeat}};
    if (token) login.append("token", *token);
    send(login);
    return read();
  }
  bool closed(Seconds timeout = Seconds(10)) { return client.wait_closed(timeout); }
};

inline json::Value get_json(int admin, std::string_view target, int expect_status = 200) {
  testing::HttpResponse r = testing::http(admin, "GET", target);
  INFO("GET " << target << " -> " << r.status << " " << r.body);
  REQUIRE(r.status == expect_status);
  return json::parse(r.body);
}

struct CommandReply {
  int status;
  json::Value body;
};
inline CommandReply post_command(int admin, std::string_view imei, std::string_view mode, std::string_view command,
                                 double timeout = 10) {
  std::string target = "/devices/" + std::string(imei) + "/commands?mode=" + std::string(mode) +
                       "&timeout=" + std::to_string(timeout);
  testing::HttpResponse r = testing::http(admin, "POST", target, command, {"Content-Type: application/json"},
                                          Seconds(timeout + 10));
  INFO("POST " << target << " -> " << r.status << " " << r.body);
  json::ParseResult parsed = json::try_parse(r.body);
  return {r.status, parsed ? *parsed.value : json::Value(r.body)};
}

// The value of one metric sample line (exact name with labels), or -1 when absent.
inline long metric(int admin, std::string_view sample) {
  testing::HttpResponse r = testing::http(admin, "GET", "/metrics");
  std::string key = std::string(sample) + " ";
  for (std::size_t at = 0; at < r.body.size();) {
    std::size_t end = r.body.find('\n', at);
    std::string_view line = std::string_view(r.body).substr(at, end - at);
    if (line.starts_with(key)) return std::stol(std::string(line.substr(key.size())));
    if (end == std::string::npos) break;
    at = end + 1;
  }
  return -1;
}

inline long online(int admin) { return metric(admin, "device_online"); }

}  // namespace device_test
