#include "apps/sync/demo.h"

#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

namespace asyncore::sync {

int run_demo(std::string_view type, std::string_view id, double step_seconds) {
  const std::string record = std::string(type) + " " + std::string(id);
  const char* steps[] = {"connecting to the remote API",  "fetching the local record",  "fetching the remote record",
                         "comparing fields",              "resolving conflicts",        "uploading changes",
                         "downloading changes",           "updating the local record",  "verifying",
                         "writing the sync receipt"};
  constexpr int kSteps = static_cast<int>(std::size(steps));
  std::printf("sync %s: started\n", record.c_str());
  std::fflush(stdout);
  for (int i = 0; i < kSteps; ++i) {
    std::this_thread::sleep_for(std::chrono::duration<double>(step_seconds));
    std::printf("step %d/%d: %s\n", i + 1, kSteps, steps[i]);
    std::printf("PROGRESS %d/%d\n", i + 1, kSteps);
    std::fflush(stdout);
  }
  std::printf("sync %s: done\n", record.c_str());
  std::fflush(stdout);
  return 0;
}

}  // namespace asyncore::sync
