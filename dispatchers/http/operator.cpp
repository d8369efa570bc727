#include <asyncore/http/operator.h>

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>

namespace asyncore::http {
namespace {

void metric(std::string& out, const char* name, const char* type, const char* help, double value) {
  metric_family(out, name, type, help);
  metric_sample(out, name, value);
}

long open_fds() {
  DIR* dir = ::opendir("/proc/self/fd");
  if (!dir) return -1;
  long n = 0;
  while (const dirent* entry = ::readdir(dir)) {
    if (entry->d_name[0] != '.') ++n;
  }
  ::closedir(dir);
  return n - 1;  // the directory stream's own fd
}

// Start time: field 22 of /proc/self/stat (clock ticks after boot) plus the boot time. The
// command name (field 2) may hold spaces and parentheses, so fields are counted from its last ')'.
double start_time_seconds() {
  std::ifstream stat_file("/proc/self/stat");
  std::string stat((std::istreambuf_iterator<char>(stat_file)), std::istreambuf_iterator<char>());
  const std::size_t paren = stat.rfind(')');
  if (paren == std::string::npos) return 0;
  std::istringstream fields(stat.substr(paren + 2));
  std::string field;
  unsigned long long ticks = 0;
  for (int i = 3; i <= 22 && fields >> field; ++i) {
    if (i == 22) ticks = std::stoull(field);
  }
  std::ifstream boot_file("/proc/stat");
  std::string key;
  unsigned long long boot = 0;
  while (boot_file >> key) {
    if (key == "btime") {
      boot_file >> boot;
      break;
    }
  }
  return static_cast<double>(boot) + static_cast<double>(ticks) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

}  // namespace

void metric_family(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
  out.append("# HELP ").append(name).append(" ").append(help).append("\n");
  out.append("# TYPE ").append(name).append(" ").append(type).append("\n");
}

void metric_sample(std::string& out, std::string_view name, double value, std::string_view labels) {
  char number[64];
  std::snprintf(number, sizeof(number), "%.17g", value);  // integers up to 2^53 print exactly
  out.append(name);
  if (!labels.empty()) out.append("{").append(labels).append("}");
  out.append(" ").append(number).append("\n");
}

std::string process_metrics() {
  std::string out;
  unsigned long long pages_virtual = 0, pages_resident = 0;
  if (std::FILE* statm = std::fopen("/proc/self/statm", "r")) {
    if (std::fscanf(statm, "%llu %llu", &pages_virtual, &pages_resident) != 2) pages_virtual = pages_resident = 0;
    std::fclose(statm);
  }
  const double page = static_cast<double>(::sysconf(_SC_PAGESIZE));
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  const double cpu = static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
                     static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
  rlimit fd_limit{};
  ::getrlimit(RLIMIT_NOFILE, &fd_limit);
  metric(out, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.",
         static_cast<double>(pages_resident) * page);
  metric(out, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.",
         static_cast<double>(pages_virtual) * page);
  metric(out, "process_open_fds", "gauge", "Number of open file descriptors.", static_cast<double>(open_fds()));
  metric(out, "process_max_fds", "gauge", "Maximum number of open file descriptors.",
         static_cast<double>(fd_limit.rlim_cur));
  metric(out, "process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.", cpu);
  metric(out, "process_start_time_seconds", "gauge", "Start time of the process since unix epoch in seconds.",
         start_time_seconds());
  return out;
}

void add_operator_routes(Router& router, std::function<std::string()> program_metrics) {
  router.get("/health", [](const Request&) { return Response::json(std::string_view(R"({"status":"ok"})")); });
  router.get("/metrics", [program_metrics = std::move(program_metrics)](const Request&) {
    return Response::content(program_metrics() + process_metrics(), "text/plain; version=0.0.4; charset=utf-8");
  });
}

}  // namespace asyncore::http
