// What the fault tests share: the LD_PRELOAD shim (compiled here: the Makefile has no rule for
// shared objects), the environment that runs a server under it, its fault counts, and clients
// that retry what a reset connection cut off (the faults hit the server's end, not ours).
#pragma once
#include <doctest/doctest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <asyncore/json/json.h>
#include "test/support/testing.h"

namespace fault_testing {

using testing::Seconds;
namespace json = asyncore::json;

// Under AddressSanitizer the programs' socket and file calls go to its interceptors, which the
// shim cannot come before (ASan insists on being first), so no fault would be injected: the
// fault tests are skipped in `make SANITIZE=...` builds and run in the plain one.
#if defined(__SANITIZE_ADDRESS__) || defined(TEST_SANITIZED)
inline constexpr bool kSanitized = true;
#else
inline constexpr bool kSanitized = false;
#endif

inline long mtime_of(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? static_cast<long>(st.st_mtime) : -1;
}

// build/fault/fault_shim.so, rebuilt when missing or older than its source.
inline std::string shim_path() {
  static const std::string path = [] {
    const std::string so = std::string(TEST_BUILD_DIR) + "/fault/fault_shim.so";
    const std::string source = testing::source_path("test/fault/fault_shim.c");
    if (mtime_of(so) < mtime_of(source)) {
      std::system(("mkdir -p '" + std::string(TEST_BUILD_DIR) + "/fault'").c_str());
      auto r = testing::run({"g++", "-x", "c", "-shared", "-fPIC", "-O2", "-Wall", "-Wextra", "-Werror", "-o", so, source, "-ldl"},
                            Seconds(60));
      if (r.code != 0) throw std::runtime_error("cannot build the fault shim: " + r.err);
    }
    return so;
  }();
  return path;
}

struct Faults {
  Faults(unsigned seed_, double rate_, std::string kinds_, std::string log_, std::string calls_ = {})
      : seed(seed_), rate(rate_), kinds(std::move(kinds_)), log(std::move(log_)), calls(std::move(calls_)) {}
  unsigned seed;
  double rate;
  std::string kinds;  // FAULT_KINDS
  std::string log;    // FAULT_LOG
  std::string calls;  // FAULT_CALLS; empty: every call

  std::vector<std::string> env() const {
    std::vector<std::string> e = {"LD_PRELOAD=" + shim_path(), "FAULT_SEED=" + std::to_string(seed),
                                  "FAULT_RATE=" + std::to_string(rate), "FAULT_KINDS=" + kinds, "FAULT_LOG=" + log};
    if (!calls.empty()) e.push_back("FAULT_CALLS=" + calls);
    return e;
  }
};

// The shim's exit report: "<call> <kind>" -> count, plus "total" and "eligible".
inline std::map<std::string, long> read_fault_log(const std::string& path) {
  std::map<std::string, long> counts;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    std::size_t last = line.rfind(' ');
    if (last != std::string::npos) counts[line.substr(0, last)] = std::stol(line.substr(last + 1));
  }
  return counts;
}

inline std::string describe(const std::map<std::string, long>& counts) {
  std::string text;
  for (const auto& [what, n] : counts) text += what + "=" + std::to_string(n) + " ";
  return text;
}

// An HTTP exchange retried while the server's faults cut it (reset, truncated body); nullopt
// when every attempt failed. `complete` decides whether a response is whole.
inline std::optional<testing::HttpResponse> http_retry(int port, std::string_view method, std::string_view target,
                                                       std::string_view body = {}, int attempts = 20) {
  for (int i = 0; i < attempts; ++i) {
    try {
      testing::HttpResponse r = testing::http(port, method, target, body, {"Content-Type: application/json"}, Seconds(15));
      auto length = r.headers.find("content-length");
      bool whole = r.status > 0 && (length == r.headers.end() || std::stoul(length->second) == r.body.size());
      if (whole) return r;
    } catch (const std::exception&) {
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return std::nullopt;
}

inline std::optional<json::Value> get_json_retry(int port, std::string_view target) {
  for (int i = 0; i < 20; ++i) {
    auto r = http_retry(port, "GET", target);
    if (!r) return std::nullopt;
    if (r->status == 200) {
      if (json::ParseResult parsed = json::try_parse(r->body)) return *parsed.value;
    }
  }
  return std::nullopt;
}

}  // namespace fault_testing
