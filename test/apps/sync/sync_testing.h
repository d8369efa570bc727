// What the sync-server tests share: a server started with a config of the fixture's modes, a
// data dir that outlives restarts, and a line client for the command port.
#pragma once
#include <doctest/doctest.h>

#include <dirent.h>

#include <fstream>
#include <sstream>
#include <memory>
#include <string>
#include <vector>

#include <asyncore/json/json.h>
#include "test/support/testing.h"

namespace sync_testing {

namespace json = asyncore::json;

// The config every test uses: each type is a mode of build/test-bin/sync-fixture.
inline std::string fixture_config(const testing::TempDir& dir) {
  const std::string fixture = testing::test_bin_path("sync-fixture");
  return "# record types of the tests\n"
         "steps 20 " + fixture + " steps {id}\n"
         "fail 20 " + fixture + " fail {id}\n"
         "hang 1 " + fixture + " hang " + dir.file("pids-{id}") + "\n"
         "stubborn 1 " + fixture + " stubborn " + dir.file("pids-{id}") + "\n"
         "waits 60 " + fixture + " hang " + dir.file("pids-{id}") + "\n"
         "record 30 " + fixture + " record " + dir.file("times") + " {id} 0.3\n"
         "slow 60 " + fixture + " slow 40 0.1\n"
         "echo 10 /bin/echo {type}:{id}\n";
}

struct Server {
  testing::TempDir& dir;
  std::unique_ptr<testing::Child> child;
  int port = 0;
  int http_port = 0;

  explicit Server(testing::TempDir& d, std::vector<std::string> extra = {}) : dir(d) { start(std::move(extra)); }

  void start(std::vector<std::string> extra = {}) {
    if (!std::ifstream(dir.file("sync.conf"))) std::ofstream(dir.file("sync.conf")) << fixture_config(dir);
    std::vector<std::string> argv{testing::bin_path("sync-server"), "--port", "0", "--http-port", "0",
                                  "--data-dir", dir.file("data"), "--config", dir.file("sync.conf")};
    argv.insert(argv.end(), extra.begin(), extra.end());
    child = std::make_unique<testing::Child>(argv);
    port = child->listening_port("command");
    http_port = child->listening_port("http");
  }
};

// One reply line for one command, parsed.
inline json::Value command(testing::Client& client, const std::string& line) {
  client.send_all(line + "\n");
  std::string reply = client.recv_until("\n");
  return json::parse(reply);
}
inline json::Value command(int port, const std::string& line) {
  testing::Client client(port);
  return command(client, line);
}

inline bool final_state(const std::string& state) {
  return state != "queued" && state != "running";
}

// Polls `status N` until the job has ended; returns the last status.
inline json::Value wait_final(int port, std::int64_t job, testing::Seconds timeout = testing::Seconds(20)) {
  json::Value status;
  bool ended = testing::eventually(
      [&] {
        status = command(port, "status " + std::to_string(job));
        return status["ok"].as_bool() && final_state(status["state"].as_string());
      },
      timeout);
  REQUIRE_MESSAGE(ended, "job " << job << " did not end: " << json::dump(status));
  return status;
}

inline std::int64_t start_sync(int port, const std::string& type, const std::string& id) {
  json::Value reply = command(port, "sync " + type + " " + id);
  REQUIRE_MESSAGE(reply["ok"].as_bool(), json::dump(reply));
  return reply["job"].as_int();
}

inline std::vector<std::string> log_texts(int port, std::int64_t job) {
  json::Value reply = command(port, "log " + std::to_string(job));
  std::vector<std::string> texts;
  for (const json::Value& line : reply["lines"].as_array()) texts.push_back(line["text"].as_string());
  return texts;
}

inline std::string read_file(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Resident memory of a process in kB (/proc/PID/status VmRSS).
inline long rss_kb(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with("VmRSS:")) return std::stol(line.substr(6));
  }
  return -1;
}

// Open file descriptors of a process.
inline int open_fds(int pid) {
  DIR* dir = ::opendir(("/proc/" + std::to_string(pid) + "/fd").c_str());
  if (!dir) return -1;
  int n = 0;
  while (dirent* entry = ::readdir(dir)) n += entry->d_name[0] != '.';
  ::closedir(dir);
  return n;
}

// The well-behaved client beside an attack: a new connection's `jobs 1` answered within 1 s.
inline bool served_promptly(int port) {
  try {
    testing::Client client(port);
    client.send_all("jobs 1\n");
    return json::parse(client.recv_until("\n", testing::Seconds(1)))["ok"].as_bool();
  } catch (const std::exception&) {
    return false;
  }
}

}  // namespace sync_testing
