// The device server's counters as /metrics shows them.
#include <doctest/doctest.h>

#include <string>

#include "apps/device/metrics.h"

using namespace asyncore::device;

namespace {

// The value of one sample line of the exposition, -1 when absent.
long long sample(const std::string& text, const std::string& series) {
  const std::string line = series + " ";
  const std::size_t at = text.find("\n" + line);
  if (at == std::string::npos) return -1;
  return std::stoll(text.substr(at + 1 + line.size()));
}

const std::string kInteractOk = R"(device_commands_total{mode="interact",result="OK"})";
const std::string kInteractTimeout = R"(device_commands_total{mode="interact",result="TIMEOUT"})";
const std::string kSendSent = R"(device_commands_total{mode="send",result="SENT"})";

}  // namespace

TEST_CASE("commands are counted by mode and result, repeated or alternating, and a copy counts on its own") {
  Metrics metrics;
  CHECK(sample(metrics.prometheus({}), kInteractOk) == 0);
  for (int i = 0; i < 3; ++i) metrics.count_command("interact", "OK");
  metrics.count_command("interact", "TIMEOUT");
  metrics.count_command("interact", "OK");
  metrics.count_command("send", "SENT");
  metrics.count_command("send", "SENT");
  std::string text = metrics.prometheus({});
  CHECK(sample(text, kInteractOk) == 4);
  CHECK(sample(text, kInteractTimeout) == 1);
  CHECK(sample(text, kSendSent) == 2);

  // A pair no series starts with is added, then counted as the others.
  metrics.count_command("interact", "UNAVAILABLE");
  metrics.count_command("interact", "UNAVAILABLE");
  CHECK(sample(metrics.prometheus({}), R"(device_commands_total{mode="interact",result="UNAVAILABLE"})") == 2);

  // The copy's counters are its own, even for the pair the original counted last.
  const std::string unavailable = R"(device_commands_total{mode="interact",result="UNAVAILABLE"})";
  Metrics copy = metrics;
  copy.count_command("interact", "UNAVAILABLE");
  CHECK(sample(copy.prometheus({}), unavailable) == 3);
  CHECK(sample(metrics.prometheus({}), unavailable) == 2);
  metrics.count_command("send", "SENT");
  copy = metrics;
  copy.count_command("send", "SENT");
  CHECK(sample(metrics.prometheus({}), kSendSent) == 3);
  CHECK(sample(copy.prometheus({}), kSendSent) == 4);
  CHECK(sample(copy.prometheus({}), unavailable) == 2);
}
