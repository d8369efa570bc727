#include "apps/sync/http_api.h"

#include "apps/sync/page.h"

namespace asyncore::sync {
namespace {

http::Response answer(const Reply& reply) { return http::Response::json(reply.line(), reply.http_status); }

std::optional<std::uint64_t> job_of(const http::Request& request) {
  return SyncService::parse_job_number(request.param("n"));
}

Reply bad_job(const http::Request& request) {
  std::string text;
  json::append_quoted(text, request.param("n").substr(0, 64));
  return SyncService::error("bad job number " + text);
}

Reply start_sync(SyncService& service, const http::Request& request) {
  json::ParseResult parsed = json::try_parse(request.body());
  if (!parsed || !parsed.value->is_object()) return SyncService::error("the body must be a JSON object {\"type\":..,\"id\":..}");
  const json::Value* type = parsed.value->get("type");
  const json::Value* id = parsed.value->get("id");
  if (!type || !type->is_string() || !id || !id->is_string()) {
    return SyncService::error("the body needs string fields \"type\" and \"id\"");
  }
  return service.sync(type->as_string(), id->as_string());
}

}  // namespace

http::Router make_router(SyncService& service) {
  http::Router router;
  router.get("/", [](const http::Request&) {
    http::Response page = http::Response::html(std::string(page_html()));
    page.set_header("Cache-Control", "no-store");
    return page;
  });
  router.post("/api/sync", [&service](const http::Request& request) { return answer(start_sync(service, request)); });
  router.get("/api/types", [&service](const http::Request&) { return answer(service.types()); });
  router.get("/api/jobs", [&service](const http::Request& request) {
    auto limit = SyncService::parse_count(request.query_or("limit", std::to_string(kDefaultJobsLimit)), kMaxJobsLimit);
    if (!limit || *limit == 0) return answer(SyncService::error("bad limit: 1 to " + std::to_string(kMaxJobsLimit)));
    return answer(service.jobs(*limit));
  });
  router.get("/api/jobs/:n", [&service](const http::Request& request) {
    auto job = job_of(request);
    return answer(job ? service.status(*job) : bad_job(request));
  });
  router.get("/api/jobs/:n/log", [&service](const http::Request& request) {
    auto job = job_of(request);
    if (!job) return answer(bad_job(request));
    auto from = SyncService::parse_count(request.query_or("from", "0"), SIZE_MAX / 2);
    if (!from) return answer(SyncService::error("bad from: a line number, 0 or more"));
    return answer(service.log(*job, *from));
  });
  router.post("/api/jobs/:n/cancel", [&service](const http::Request& request) {
    auto job = job_of(request);
    return answer(job ? service.cancel(*job, "the web page/API, peer " + request.peer().to_string()) : bad_job(request));
  });
  return router;
}

}  // namespace asyncore::sync
