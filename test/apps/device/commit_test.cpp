// Group commit is pipelined (a writer thread syncs one batch while the loop gathers the next):
// a reply must still never leave before its record is on disk. Many devices pipeline reports
// (each keeps several unanswered, so a connection holds replies while later reports join later
// batches) until the server is killed with SIGKILL; after a restart every report that was
// answered 200 is in the history.
#include <atomic>
#include <cmath>
#include <mutex>
#include <set>
#include <thread>

#include "test/apps/device/device_harness.h"

using namespace device_test;

namespace {

constexpr int kDevices = 24;
constexpr int kThreads = 4;
constexpr int kWindow = 6;  // reports sent and not yet answered, per device
constexpr int kMaxReports = 150;  // per device, below --events-per-device with room to spare

std::string imei_of(int device) { return "86240000000" + std::to_string(1000 + device); }

std::string report(int seq, int ident) {
  return frame(json::dump(json::Object{{"type", 4}, {"ident", ident}, {"lat", seq * 0.01}, {"lon", 1.5}, {"loc_type", 1}}));
}

}  // namespace

TEST_CASE("under a storm of pipelined reports, every acknowledged one survives kill -9") {
  testing::TempDir dir;
  const std::vector<std::string> flags = {"--auto-register", "--events-per-device", "200"};
  Server server = Server::start(dir.file("data"), flags);
  std::vector<std::unique_ptr<RawDevice>> devices;
  for (int i = 0; i < kDevices; ++i) {
    devices.push_back(std::make_unique<RawDevice>(server.port));
    REQUIRE(devices.back()->login(imei_of(i))["status"] == 200);
  }

  std::mutex mutex;
  std::vector<std::set<int>> acknowledged(kDevices);  // seq numbers answered 200, per device
  std::atomic<long> total{0};
  std::atomic<int> bad_replies{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::vector<int> sent(kDevices, 0), answered(kDevices, 0);  // replies come in order
      for (bool busy = true; busy;) {
        busy = false;
        for (int i = t; i < kDevices; i += kThreads) {
          if (answered[i] >= kMaxReports) continue;
          busy = true;
          RawDevice& d = *devices[i];
          try {
            std::string burst;
            for (; sent[i] < kMaxReports && sent[i] - answered[i] < kWindow; ++sent[i]) burst += report(sent[i], 2 + sent[i]);
            if (!burst.empty()) d.send_raw(burst);
            const json::Value reply = d.read(Seconds(5));
            const int seq = answered[i]++;
            if (reply["status"] != 200 || reply["type"] != 4) {
              ++bad_replies;
              continue;
            }
            std::lock_guard lock(mutex);
            acknowledged[i].insert(seq);
            ++total;
          } catch (const std::exception&) {
            answered[i] = kMaxReports;  // the server is gone
          }
        }
      }
    });
  }
  REQUIRE(testing::eventually([&] { return total >= 400; }, Seconds(30)));
  server.child->signal(SIGKILL);
  CHECK(server.child->wait() == 128 + SIGKILL);
  for (auto& thread : threads) thread.join();
  CHECK(bad_replies == 0);

  server = Server::start(dir.file("data"), flags);
  long checked = 0;
  for (int i = 0; i < kDevices; ++i) {
    const json::Value events = get_json(server.admin, "/devices/" + imei_of(i) + "/events?limit=200");
    std::set<int> stored;
    for (const json::Value& e : events["events"].as_array()) {
      if (e["kind"] == "location") stored.insert(static_cast<int>(std::lround(e["lat"].as_double() * 100)));
    }
    for (int seq : acknowledged[i]) {
      INFO("device " << imei_of(i) << " report " << seq);
      CHECK(stored.count(seq) == 1);
      ++checked;
    }
  }
  CHECK(checked >= 400);
  CHECK(server.stop() == 0);
}
