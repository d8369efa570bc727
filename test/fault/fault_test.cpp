// Each program's key scenario with the server under the fault shim (short counts, EINTR, EAGAIN,
// ECONNRESET, ENOSPC, EMFILE at random, several seeds): it must keep its promises. Clients are
// not under the shim; they retry what a reset connection cut off. Every scenario also checks that
// faults were really injected, so it cannot pass by accident.
#include <algorithm>
#include <csignal>
#include <fstream>
#include <set>

#include "test/fault/fault_support.h"

using namespace fault_testing;
using testing::Child;
using testing::TempDir;

namespace {

const std::string kAllKinds = "short,eintr,eagain,econnreset,enospc,emfile";
const std::string kNoResets = "short,eintr,eagain,emfile";  // nothing that legitimately loses a connection

// Starts `argv` under faults and waits for its `listening` lines; a seed whose faults make the
// start-up itself fail (a journal that cannot be created is refused, loudly) moves on to the next.
std::unique_ptr<Child> start_faulted(const std::vector<std::string>& argv, Faults& faults, std::vector<std::string> what,
                                     std::vector<int>& ports) {
  for (int attempt = 0; attempt < 5; ++attempt, faults.seed += 1000) {
    auto child = std::make_unique<Child>(argv, faults.env());
    try {
      ports.clear();
      for (const auto& w : what) ports.push_back(child->listening_port(w));
      return child;
    } catch (const std::exception&) {
      auto code = child->wait(Seconds(10));
      INFO("start-up under faults: " << child->stderr_text());
      REQUIRE(code.has_value());  // it did not hang
      REQUIRE(*code != 0);        // and it said it failed
      CHECK(!child->stderr_text().empty());
    }
  }
  FAIL("no seed let the program start");
  return nullptr;
}

// SIGTERM; the program must end (cleanly or with a reported error), not hang. Returns its status.
int stop(Child& child) {
  child.signal(SIGTERM);
  auto code = child.wait(Seconds(25));
  INFO("stderr: " << child.stderr_text());
  REQUIRE(code.has_value());
  return *code;
}

std::string payload(unsigned seed, int index) {
  std::string text;
  std::size_t size = 1 + (static_cast<std::size_t>(seed) * 7919u + static_cast<std::size_t>(index) * 104729u) % 90000;
  for (std::size_t i = 0; text.size() < size; ++i) text += std::to_string(seed) + ":" + std::to_string(index) + ":" + std::to_string(i) + ",";
  text.resize(size);
  return text;
}

// One message echoed through a fresh connection per attempt; returns the attempts used (0: never).
int echo_once(int port, const std::string& message) {
  for (int attempt = 1; attempt <= 30; ++attempt) {
    try {
      testing::Client client(port);
      client.send_all(message);
      std::string back = client.recv_exact(message.size(), Seconds(5));
      REQUIRE(back == message);  // cut short is retried; wrong bytes are a failure
      return attempt;
    } catch (const std::runtime_error&) {
    }
  }
  return 0;
}

}  // namespace

TEST_CASE("echo-server: every byte comes back, whatever its own calls suffer" * doctest::skip(kSanitized)) {
  for (const auto& [seed, kinds] : std::vector<std::pair<unsigned, std::string>>{{1, kAllKinds}, {2, kAllKinds}, {3, kNoResets}}) {
    CAPTURE(seed);
    CAPTURE(kinds);
    TempDir dir;
    Faults faults{seed, 0.15, kinds, dir.file("faults")};
    std::vector<int> ports;
    auto server = start_faulted({testing::bin_path("echo-server"), "--port", "0", "--quiet"}, faults, {"echo"}, ports);
    int retries = 0;
    for (int m = 0; m < 40; ++m) {
      int attempts = echo_once(ports[0], payload(faults.seed, m));
      REQUIRE(attempts > 0);
      retries += attempts - 1;
    }
    stop(*server);
    auto counts = read_fault_log(faults.log);
    INFO("faults: " << describe(counts) << " retries=" << retries);
    CHECK(counts["total"] > 10);
    if (kinds == kNoResets) CHECK(retries == 0);  // short writes, EINTR, EAGAIN, EMFILE lose nothing
  }
}

TEST_CASE("journal: records whose write or fdatasync failed are written again; none lost, none doubled" * doctest::skip(kSanitized)) {
  long sync_failures = 0, append_failures = 0;
  for (unsigned seed : {51u, 52u, 53u}) {
    CAPTURE(seed);
    TempDir dir;
    Faults faults{seed, 0.3, "short,eintr,enospc", dir.file("faults")};
    testing::Child writer({testing::test_bin_path("journal-retry"), "write", dir.file("j"), "300"}, faults.env());
    std::string line = writer.wait_for_line("appended", Seconds(30));
    REQUIRE(writer.wait(Seconds(10)) == 0);
    std::istringstream fields(line);
    std::string word;
    long n = 0, appends = 0, syncs = 0;
    fields >> word >> n >> word >> appends >> word >> syncs;
    append_failures += appends;
    sync_failures += syncs;
    auto checked = testing::run({testing::test_bin_path("journal-retry"), "check", dir.file("j"), "300"});
    INFO(line << " / " << checked.out << checked.err);
    CHECK(checked.code == 0);
    CHECK(checked.out == "ok 300\n");
  }
  CHECK(append_failures > 0);  // both failure paths were really taken
  CHECK(sync_failures > 0);
}

namespace {

// Device frames: a 4-byte big-endian length, then JSON (apps/device/frame.h).
std::string device_frame(const std::string& body) {
  std::string out(4, '\0');
  for (int i = 0; i < 4; ++i) out[i] = static_cast<char>((body.size() >> (8 * (3 - i))) & 0xff);
  return out + body;
}

std::optional<json::Value> read_device_frame(testing::Client& client, Seconds timeout) {
  try {
    std::string header = client.recv_exact(4, timeout);
    std::size_t length = 0;
    for (unsigned char c : header) length = length << 8 | c;
    return json::parse(client.recv_exact(length, timeout));
  } catch (const std::runtime_error&) {
    return std::nullopt;
  }
}

// Logs in as `imei` on a server without faults and returns the texts of the commands delivered
// (the queue replayed from the journal), acking none.
std::set<std::string> delivered_texts(int port, const std::string& imei) {
  testing::Client device(port);
  device.send_all(device_frame(R"({"type":1,"ident":1,"imei":")" + imei + R"(","heartbeat":60,"token":"tok"})"));
  auto reply = read_device_frame(device, Seconds(10));
  REQUIRE(reply);
  REQUIRE((*reply)["status"] == 200);
  std::set<std::string> texts;
  while (auto command = read_device_frame(device, Seconds(1))) {
    if (const json::Value* text = command->get("text")) texts.insert(text->as_string());
  }
  return texts;
}

}  // namespace

TEST_CASE("device-server: a fleet logs in, and every command answered QUEUED is in the journal after a restart" * doctest::skip(kSanitized)) {
  const std::vector<std::string> offline = {"863000000000001", "863000000000002", "863000000000003"};
  for (unsigned seed : {11u, 12u}) {
    CAPTURE(seed);
    TempDir dir;
    {
      std::ofstream registry(dir.file("registry"));
      for (const auto& imei : offline) registry << imei << " tok\n";
    }
    const std::vector<std::string> argv = {testing::bin_path("device-server"), "--port", "0", "--admin-port", "0",
                                           "--data-dir", dir.file("data"), "--registry", dir.file("registry"),
                                           "--auto-register", "--login-timeout", "5"};
    Faults faults{seed, 0.06, kAllKinds, dir.file("faults")};
    std::vector<int> ports;
    auto server = start_faulted(argv, faults, {"device", "admin"}, ports);
    const int port = ports[0], admin = ports[1];
    Child fleet({testing::bin_path("device-emulator"), "--port", std::to_string(port), "--quiet", "--devices", "30",
                 "--imei-base", "864000000000000", "--heartbeat", "1", "--report", "1", "--backoff-max", "1"});
    fleet.wait_for_line("all logged in", Seconds(40));

    std::set<std::string> queued;
    int refused = 0;
    for (int i = 0; i < 24; ++i) {
      const std::string text = "cmd-" + std::to_string(seed) + "-" + std::to_string(i);
      auto r = http_retry(admin, "POST", "/devices/" + offline[i % 3] + "/commands?mode=queue",
                          R"({"type":104,"text":")" + text + R"("})");
      REQUIRE(r);
      INFO("answer " << r->status << " " << r->body);
      if (r->status == 202) {
        CHECK(r->body.find("QUEUED") != std::string::npos);
        queued.insert(text);
      } else {
        CHECK(r->status == 503);  // refused: the journal could not make it durable, and it says so
        ++refused;
      }
    }
    // An online device still answers commands (its connection may be reset meanwhile: retry).
    bool acked = false;
    std::string answers;
    // NO while it is offline (reset) until its emulator reconnects: keep asking for a while.
    for (int i = 0; i < 60 && !acked; ++i) {
      auto r = http_retry(admin, "POST", "/devices/864000000000007/commands?mode=interact&timeout=2", R"({"type":104,"text":"hi"})");
      if (r) answers += std::to_string(r->status) + " " + r->body + "; ";
      acked = r && r->status == 200 && r->body.find(R"("result":"OK")") != std::string::npos;
      if (!acked) std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
    INFO("interact answers: " << answers);
    if (!acked) {
      auto device = http_retry(admin, "GET", "/devices/864000000000007");
      auto events = http_retry(admin, "GET", "/devices/864000000000007/events?limit=20");
      MESSAGE("device: " << (device ? device->body : "?") << "\nevents: " << (events ? events->body : "?")
                         << "\nfleet stderr: " << fleet.stderr_text());
    }
    CHECK(acked);
    stop(*server);
    fleet.signal(SIGTERM);
    auto counts = read_fault_log(faults.log);
    INFO("faults: " << describe(counts) << " queued=" << queued.size() << " refused=" << refused);
    INFO("server stderr: " << server->stderr_text());
    CHECK(counts["total"] > 10);
    CHECK(queued.size() > 0);
    const long journal_faults = counts["pwrite enospc"] + counts["pwrite eintr"] + counts["fdatasync enospc"] +
                                counts["fdatasync eintr"] + counts["fsync enospc"] + counts["fsync eintr"];
    // A failed journal write is logged, never silent.
    if (counts["fdatasync enospc"] + counts["fdatasync eintr"] + counts["pwrite enospc"] > 0) {
      CHECK(server->stderr_text().find("journal") != std::string::npos);
    }
    MESSAGE("seed " << faults.seed << ": " << queued.size() << " QUEUED, " << refused << " refused, journal faults " << journal_faults);

    Child clean({testing::bin_path("device-server"), "--port", "0", "--admin-port", "0", "--data-dir", dir.file("data"),
                 "--registry", dir.file("registry"), "--quiet"});
    const int clean_port = clean.listening_port("device");
    std::set<std::string> delivered;
    for (const auto& imei : offline) delivered.merge(delivered_texts(clean_port, imei));
    for (const auto& text : queued) {
      CAPTURE(text);
      CHECK(delivered.count(text) == 1);
    }
  }
}

namespace {

// One command-port exchange on a fresh connection, retried while faults cut it.
std::optional<json::Value> sync_command(int port, const std::string& line) {
  for (int attempt = 0; attempt < 30; ++attempt) {
    try {
      testing::Client client(port);
      client.send_all(line + "\n");
      if (json::ParseResult parsed = json::try_parse(client.recv_until("\n", Seconds(5)))) return *parsed.value;
    } catch (const std::runtime_error&) {
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
  }
  return std::nullopt;
}

// A reply the store could not make durable is an error naming the storage failure ("cannot
// save"); ask again until it is not, as a client would.
std::optional<json::Value> sync_command_saved(int port, const std::string& line) {
  std::optional<json::Value> reply;
  for (int i = 0; i < 100; ++i) {
    reply = sync_command(port, line);
    if (!reply || (*reply)["ok"] == true) return reply;
    const json::Value* error = reply->get("error");
    if (!error || !error->is_string() || error->as_string().find("cannot save") == std::string::npos) return reply;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return reply;
}

// A job's final status and log as a client saw them.
struct Seen {
  std::string state;
  std::vector<std::string> lines;
  bool pending_write = false;  // reported as not on disk yet
};

Seen sync_seen(int port, std::int64_t job) {
  auto status = sync_command_saved(port, "status " + std::to_string(job));
  auto log = sync_command_saved(port, "log " + std::to_string(job));
  REQUIRE(status);
  REQUIRE(log);
  INFO(json::dump(*status) << " / " << json::dump(*log));
  REQUIRE((*status)["ok"] == true);
  REQUIRE((*log)["ok"] == true);
  Seen seen;
  seen.state = (*status)["state"].as_string();
  for (const json::Value& line : (*log)["lines"].as_array()) seen.lines.push_back(line["text"].as_string());
  seen.pending_write = status->get("pending_write") || log->get("pending_write");
  return seen;
}

}  // namespace

// Runs six jobs of 40 lines under `faults` (at least `min_faults` of them injected), then checks
// them against a clean restart.
void sync_scenario(Faults faults, TempDir& dir, long min_faults);

// FAULT_TEST_SEEDS=1,2,3 replaces a case's seeds (to run it under many).
std::vector<unsigned> seeds_or(std::vector<unsigned> defaults) {
  const char* text = std::getenv("FAULT_TEST_SEEDS");
  if (!text || !*text) return defaults;
  std::vector<unsigned> seeds;
  std::istringstream in(text);
  for (std::string item; std::getline(in, item, ',');) seeds.push_back(static_cast<unsigned>(std::stoul(item)));
  return seeds;
}

TEST_CASE("sync-server: jobs complete and every log line it reported is on disk after a restart" * doctest::skip(kSanitized)) {
  for (unsigned seed : seeds_or({21u, 22u})) {
    CAPTURE(seed);
    TempDir dir;
    // Journal appends (pwrite) are left out: see the next test case.
    Faults faults{seed, 0.15, kAllKinds, dir.file("faults"),
                  "send,sendto,sendmsg,recv,recvfrom,read,write,writev,accept,accept4,connect,fsync,fdatasync"};
    sync_scenario(faults, dir, 10);
  }
}

// One append in five fails with ENOSPC: the store keeps the refused records in memory and
// retries them (job_store.h), new jobs are refused meanwhile, every job still ends and is
// reported, and at the SIGTERM everything is written: a restart shows exactly what was reported.
TEST_CASE("sync-server: journal appends failing with ENOSPC" * doctest::skip(kSanitized)) {
  for (unsigned seed : seeds_or({23u, 24u})) {
    CAPTURE(seed);
    TempDir dir;
    // Few appends meet the shim: while the store fails, records wait and go out in one write.
    sync_scenario(Faults{seed, 0.2, "enospc", dir.file("faults"), "pwrite"}, dir, 3);
  }
}

void sync_scenario(Faults faults, TempDir& dir, long min_faults) {
  {
    {
      // 40 lines in bursts of 8, so that a job's lines meet several write failures and recoveries.
      std::ofstream(dir.file("lines.sh"))
          << "i=1; while [ $i -le 40 ]; do echo \"line $i of $1\"; [ $((i % 8)) -eq 0 ] && sleep 0.02; i=$((i+1)); done; exit 0\n";
      std::ofstream(dir.file("sync.conf")) << "lines 20 /bin/sh " << dir.file("lines.sh") << " {id}\n";
    }
    const std::vector<std::string> argv = {testing::bin_path("sync-server"), "--port", "0", "--http-port", "0",
                                           "--data-dir", dir.file("data"), "--config", dir.file("sync.conf")};
    std::vector<int> ports;
    auto server = start_faulted(argv, faults, {"command", "http"}, ports);
    // Every sync is eventually accepted (while the journal fails it is refused, saying why).
    std::vector<std::int64_t> jobs;
    for (int i = 0; i < 6; ++i) {
      auto reply = sync_command_saved(ports[0], "sync lines r" + std::to_string(i));
      REQUIRE(reply);
      INFO(json::dump(*reply));
      REQUIRE((*reply)["ok"] == true);
      jobs.push_back((*reply)["job"].as_int());
    }
    // Every job ends, and its final state is reported (marked pending_write while not on disk).
    std::map<std::int64_t, Seen> reported;
    std::map<std::string, int> states;
    int pending = 0;
    for (std::int64_t job : jobs) {
      std::string state, last;
      INFO("job " << job << ", last status: " << last << "\nserver stderr: " << server->stderr_text());
      REQUIRE(testing::eventually([&] {
        auto status = sync_command(ports[0], "status " + std::to_string(job));
        last = status ? json::dump(*status) : "(none)";
        if (!status || (*status)["ok"] != true) return false;
        state = (*status)["state"].as_string();
        return state != "queued" && state != "running";
      }, Seconds(30)));
      ++states[state];
      reported[job] = sync_seen(ports[0], job);
      pending += reported[job].pending_write;
    }
    const int code = stop(*server);
    auto counts = read_fault_log(faults.log);
    std::string summary;
    for (const auto& [state, n] : states) summary += state + "=" + std::to_string(n) + " ";
    INFO("faults: " << describe(counts) << " states: " << summary);
    INFO("server stderr: " << server->stderr_text());
    CHECK(counts["total"] >= min_faults);
    CHECK(states["succeeded"] == 6);  // the programs ran untouched by the shim: all succeed
    CHECK(code == 0);                 // 0: nothing was left unsaved at exit
    if (counts["pwrite enospc"] > 0) CHECK(server->stderr_text().find("job store: cannot write") != std::string::npos);

    Child clean({testing::bin_path("sync-server"), "--port", "0", "--http-port", "0", "--data-dir", dir.file("data"),
                 "--config", dir.file("sync.conf"), "--quiet"});
    const int clean_port = clean.listening_port("command");
    for (const auto& [job, seen] : reported) {
      CAPTURE(job);
      // What was reported is on disk, final state and every log line, in order.
      Seen on_disk = sync_seen(clean_port, job);
      CHECK(on_disk.state == seen.state);
      CHECK(on_disk.lines == seen.lines);
      CHECK(on_disk.lines.size() == 40);
      CHECK(!on_disk.pending_write);
    }
    MESSAGE("seed " << faults.seed << ": jobs " << summary << "reported pending_write " << pending << ", faults "
                    << counts["total"] << " (pwrite enospc " << counts["pwrite enospc"] << ")");
  }
}

TEST_CASE("barrage-server: broadcasts reach every client (exactly, when no connection is reset)" * doctest::skip(kSanitized)) {
  SUBCASE("no resets: 20 clients get every numbered message, none missing or repeated") {
    TempDir dir;
    Faults faults{31, 0.05, kNoResets, dir.file("faults")};
    std::vector<int> ports;
    auto server = start_faulted({testing::bin_path("barrage-server"), "--port", "0", "--quiet", "--rate", "200", "--total",
                                 "300", "--wait-for", "20", "--batch", "0.01"},
                                faults, {"barrage"}, ports);
    auto result = testing::run({testing::bin_path("barrage-load"), "--port", std::to_string(ports[0]), "--room", "1",
                                "--clients", "20", "--expect", "300", "--timeout", "30"},
                               Seconds(40));
    stop(*server);
    auto counts = read_fault_log(faults.log);
    INFO("faults: " << describe(counts) << "\nload: " << result.out << result.err << "\nserver: " << server->stderr_text());
    CHECK(counts["total"] > 10);
    CHECK(result.code == 0);
    CHECK(result.out.find("gaps=0 repeats=0") != std::string::npos);
  }
  SUBCASE("with resets: reconnecting clients keep receiving") {
    TempDir dir;
    Faults faults{32, 0.02, kAllKinds, dir.file("faults")};
    std::vector<int> ports;
    auto server = start_faulted({testing::bin_path("barrage-server"), "--port", "0", "--quiet", "--rate", "100"}, faults,
                                {"barrage"}, ports);
    std::vector<std::unique_ptr<Child>> clients;
    for (int i = 0; i < 3; ++i) {
      clients.push_back(std::make_unique<Child>(std::vector<std::string>{
          testing::bin_path("barrage-client"), "--port", std::to_string(ports[0]), "--room", "1", "--quiet", "--reconnect",
          "--retry-delay", "0.05", "--heartbeat", "1", "--count", "300"}));
    }
    for (auto& client : clients) {
      // Drained while it runs: a full stdout pipe would stall it.
      std::string out = client->read_all(Seconds(40));
      auto code = client->wait(Seconds(5));
      INFO("client stderr: " << client->stderr_text());
      CHECK(code == 0);
      CHECK(std::count(out.begin(), out.end(), '\n') == 300);
    }
    stop(*server);
    auto counts = read_fault_log(faults.log);
    INFO("faults: " << describe(counts));
    CHECK(counts["total"] > 10);
  }
}

TEST_CASE("msg-hub: the directory lists every reporting peer" * doctest::skip(kSanitized)) {
  for (unsigned seed : {41u, 42u}) {
    CAPTURE(seed);
    TempDir dir;
    Faults faults{seed, 0.1, kAllKinds, dir.file("faults")};
    std::vector<int> ports;
    auto hub = start_faulted({testing::bin_path("msg-hub"), "--port", "0", "--quiet", "--interval", "0.1", "--alive", "2"},
                             faults, {"hub"}, ports);
    std::vector<std::unique_ptr<Child>> peers;
    std::vector<std::string> entries;
    for (const std::string name : {"alice", "bob", "carol"}) {
      peers.push_back(std::make_unique<Child>(std::vector<std::string>{
          testing::bin_path("msg-peer"), "--name", name, "--hub", "127.0.0.1:" + std::to_string(ports[0]), "--report", "0.1",
          "--inbox", dir.file(name), "--quiet"}));
      entries.push_back(name + "@127.0.0.1:" + std::to_string(peers.back()->listening_port("peer")));
    }
    const std::string expected = "ok peers " + entries[0] + " " + entries[1] + " " + entries[2];
    // Three rounds a second apart: a peer whose hub connection was reset must come back
    // within --alive to stay listed.
    for (int round = 0; round < 3; ++round)
    for (auto& peer : peers) {
      bool listed = testing::eventually([&] {
        peer->write_stdin("peers\n");
        for (auto line = peer->read_line(Seconds(2)); line; line = peer->read_line(Seconds(2))) {
          if (line->starts_with("ok peers")) return *line == expected;
        }
        return false;
      }, Seconds(20));
      INFO("peer stderr: " << peer->stderr_text());
      CHECK(listed);
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
    }
    stop(*hub);
    auto counts = read_fault_log(faults.log);
    INFO("faults: " << describe(counts));
    CHECK(counts["total"] > 10);
  }
}
