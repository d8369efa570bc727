#include "apps/sync/reply_text.h"

#include <cstdio>

#include "apps/sync/job.h"
#include <asyncore/log.h>

namespace asyncore::sync {
namespace {

std::string text_of(const json::Value& reply, std::string_view key) {
  const json::Value* v = reply.get(key);
  if (!v || v->is_null()) return "-";
  if (v->is_string()) return v->as_string();
  return json::dump(*v);
}

std::string time_of(const json::Value& reply, std::string_view key) {
  const json::Value* v = reply.get(key);
  return v && v->is_number() ? utc_time_text(v->as_double()) : "-";
}

// How long the job ran (or has been running, when it has not ended: not known here, so "-").
std::string took(const json::Value& job) {
  const json::Value* started = job.get("started");
  const json::Value* ended = job.get("ended");
  if (!started || !ended || !started->is_number() || !ended->is_number()) return "-";
  return describe_seconds(ended->as_double() - started->as_double());
}

std::string pad(std::string text, std::size_t width) {
  if (text.size() < width) text.append(width - text.size(), ' ');
  return text;
}

std::string status_text(const json::Value& job) {
  std::string out = "job " + text_of(job, "job") + ": " + text_of(job, "type") + " " + text_of(job, "id") + ", " +
                    text_of(job, "state") + ", " + text_of(job, "progress") + "%\n";
  out += "  created  " + time_of(job, "created") + "\n";
  out += "  started  " + time_of(job, "started") + "\n";
  out += "  ended    " + time_of(job, "ended");
  if (const std::string t = took(job); t != "-") out += " (ran " + t + ")";
  out += "\n";
  std::string end = "exit " + text_of(job, "exit");
  if (job.get("signal")) end += ", signal " + text_of(job, "signal");
  out += "  " + end + ", " + text_of(job, "lines") + " log lines\n";
  if (job.get("pending_write")) out += "  not yet saved by the server: " + text_of(job, "storage_error") + "\n";
  return out;
}

std::string log_text(const json::Value& reply) {
  std::string out;
  const json::Value* lines = reply.get("lines");
  if (lines && lines->is_array()) {
    for (const json::Value& line : lines->as_array()) {
      std::string clock = time_of(line, "t");  // "2026-12-03 09:50:45 UTC": the time of day is enough here
      if (clock.size() > 19) clock = clock.substr(11, 8);
      const json::Value* stream = line.get("stream");
      const bool err = stream && stream->is_string() && stream->as_string() == "stderr";
      out += clock + (err ? " [stderr] " : "  ") + text_of(line, "text") + "\n";
    }
  }
  out += "(job " + text_of(reply, "job") + " " + text_of(reply, "state") + ", " + text_of(reply, "progress") +
         "%; next line " + text_of(reply, "next") + ")\n";
  return out;
}

std::string jobs_text(const json::Value& reply) {
  const json::Value* jobs = reply.get("jobs");
  if (!jobs || !jobs->is_array() || jobs->as_array().empty()) return "no jobs\n";
  std::string out = pad("JOB", 7) + pad("TYPE", 12) + pad("ID", 14) + pad("STATE", 13) + pad("PROGRESS", 10) +
                    pad("STARTED", 25) + "RAN\n";
  for (const json::Value& job : jobs->as_array()) {
    out += pad(text_of(job, "job"), 6) + " " + pad(text_of(job, "type"), 11) + " " + pad(text_of(job, "id"), 13) + " " +
           pad(text_of(job, "state"), 12) + " " + pad(text_of(job, "progress") + "%", 9) + " " +
           pad(time_of(job, "started"), 24) + " " + took(job) + "\n";
  }
  return out;
}

}  // namespace

std::string reply_text(std::string_view verb, const json::Value& reply) {
  const json::Value* ok = reply.get("ok");
  if (!ok || !ok->is_bool() || !ok->as_bool()) return "error: " + text_of(reply, "error") + "\n";
  if (verb == "sync") {
    const json::Value* dedup = reply.get("dedup");
    return "job " + text_of(reply, "job") + " " + text_of(reply, "state") +
           (dedup ? " (already there for this type and id)" : "") + "\n";
  }
  if (verb == "status") return status_text(reply);
  if (verb == "log") return log_text(reply);
  if (verb == "cancel") return "job " + text_of(reply, "job") + " " + text_of(reply, "state") + "\n";
  if (verb == "jobs") return jobs_text(reply);
  if (verb == "quit") return "the server is stopping\n";
  return json::dump(reply) + "\n";
}

}  // namespace asyncore::sync
