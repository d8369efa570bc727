// The web side: the JSON API over HTTP, the self-contained page, and the page in a real headless
// Chromium pressing "Sync Up" and following the job to a full progress bar.
#include <doctest/doctest.h>

#include <cstdlib>
#include <thread>

#include "test/apps/sync/devtools.h"
#include "test/apps/sync/sync_testing.h"

using namespace sync_testing;

namespace {

json::Value api(int port, std::string_view method, std::string_view target, std::string_view body, int expected_status) {
  testing::HttpResponse response = testing::http(port, method, target, body, {"Content-Type: application/json"});
  CAPTURE(target);
  CAPTURE(response.body);
  CHECK(response.status == expected_status);
  CHECK(response.headers["content-type"].find("application/json") != std::string::npos);
  return json::parse(response.body);
}

// A server with no --config: the built-in demo type.
struct DemoServer {
  testing::TempDir dir;
  testing::Child child{{testing::bin_path("sync-server"), "--port", "0", "--http-port", "0", "--data-dir", dir.file("data")}};
  int port = child.listening_port("command");
  int http_port = child.listening_port("http");
};

}  // namespace

TEST_CASE("the JSON API gives the command port's fields and its errors with HTTP statuses") {
  testing::TempDir dir;
  Server server(dir);
  const int p = server.http_port;
  json::Value started = api(p, "POST", "/api/sync", R"({"type":"steps","id":"5"})", 200);
  CHECK(json::dump(started) == R"({"ok":true,"job":1,"state":"queued"})");
  json::Value status = wait_final(server.port, 1);
  CHECK(json::dump(api(p, "GET", "/api/jobs/1", "", 200)) == json::dump(status));
  json::Value log = api(p, "GET", "/api/jobs/1/log?from=2", "", 200);
  CHECK(json::dump(log) == json::dump(command(server.port, "log 1 2")));
  CHECK(log["lines"][0]["n"].as_int() == 2);
  api(p, "POST", "/api/sync", R"({"type":"echo","id":"w2"})", 200);
  json::Value jobs = api(p, "GET", "/api/jobs?limit=1", "", 200);
  REQUIRE(jobs["jobs"].size() == 1);
  CHECK(jobs["jobs"][0]["job"].as_int() == 2);  // newest first
  CHECK(api(p, "GET", "/api/jobs", "", 200)["jobs"].size() == 2);

  json::Value waiting = api(p, "POST", "/api/sync", R"({"type":"waits","id":"w3"})", 200);
  json::Value dedup = api(p, "POST", "/api/sync", R"({"type":"waits","id":"w3"})", 200);
  CHECK(dedup["job"] == waiting["job"]);
  CHECK(dedup["dedup"].as_bool());
  const std::string cancel = "/api/jobs/" + std::to_string(waiting["job"].as_int()) + "/cancel";
  CHECK(api(p, "POST", cancel, "", 200)["state"].as_string() == "cancelled");
  CHECK(api(p, "POST", cancel, "", 409)["ok"].as_bool() == false);

  for (std::string bad : {"not json", "[1]", R"({"type":"echo"})", R"({"type":"echo","id":7})",
                          R"({"type":"echo","id":"a b"})", R"({"type":"../echo","id":"x"})"}) {
    json::Value reply = api(p, "POST", "/api/sync", bad, 400);
    CHECK(reply["ok"].as_bool() == false);
    CHECK(reply["error"].is_string());
  }
  CHECK(api(p, "POST", "/api/sync", R"({"type":"nope","id":"x"})", 404)["error"].as_string().find("unknown type") != std::string::npos);
  CHECK(api(p, "GET", "/api/jobs/99", "", 404)["error"].as_string() == "no job 99");
  CHECK(api(p, "GET", "/api/jobs/99/log", "", 404)["ok"].as_bool() == false);
  CHECK(api(p, "POST", "/api/jobs/99/cancel", "", 404)["ok"].as_bool() == false);
  api(p, "GET", "/api/jobs/abc", "", 400);
  api(p, "GET", "/api/jobs/1/log?from=-1", "", 400);
  api(p, "GET", "/api/jobs?limit=0", "", 400);
  CHECK(testing::http(p, "DELETE", "/api/jobs/1").status == 405);
  CHECK(testing::http(p, "GET", "/nothing").status == 404);
  CHECK(command(server.port, "jobs")["jobs"].size() == 3);  // none of the bad requests made a job
}

TEST_CASE("GET / is one self-contained page with the form and the job list") {
  testing::TempDir dir;
  Server server(dir);
  testing::HttpResponse page = testing::http(server.http_port, "GET", "/");
  CHECK(page.status == 200);
  CHECK(page.headers["content-type"].find("text/html") != std::string::npos);
  CHECK(page.body.find("Sync Up") != std::string::npos);
  CHECK(page.body.find("<style>") != std::string::npos);
  CHECK(page.body.find("<script>") != std::string::npos);
  for (const char* external : {"src=", "<link", "@import", "http://", "https://", "url("}) {
    CAPTURE(external);
    CHECK(page.body.find(external) == std::string::npos);
  }
}

TEST_CASE("the page in a headless browser: Sync Up starts a job, its log and a full progress bar appear") {
  std::string why;
  std::optional<std::string> chromium = devtools::find_chromium(why);
  if (!chromium) {
    MESSAGE("skipped: " << why);
    return;
  }
  DemoServer server;
  testing::TempDir profile;
  devtools::Browser browser(*chromium, profile.path(), profile.file("chromium.log"));
  const std::string session =
      browser.open("http://127.0.0.1:" + std::to_string(server.http_port) + "/?autostart=demo:42");

  // What the page shows for its newest job.
  const std::string probe = R"JS((() => {
      const card = document.querySelector("article.job");
      if (!card) return null;
      return {job: Number(card.id.replace("job-", "")), state: card.dataset.state || "",
              progress: card.querySelector(".progress").dataset.progress || "",
              width: card.querySelector(".fill").style.width,
              lines: [...card.querySelectorAll("pre.log .line")].map(l => l.lastChild.textContent),
              polling: jobs.get(Number(card.id.replace("job-", ""))).polling};
    })())JS";
  json::Value shown;
  const bool done = testing::eventually(
      [&] {
        shown = browser.evaluate(session, probe);
        return shown.is_object() && shown["state"].as_string() == "succeeded" && !shown["polling"].as_bool();
      },
      testing::Seconds(30));
  CAPTURE(json::dump(shown));
  REQUIRE(done);
  CHECK(shown["progress"].as_string() == "100");
  CHECK(shown["width"].as_string() == "100%");
  const int64_t job = shown["job"].as_int();
  CHECK(command(server.port, "status " + std::to_string(job))["id"].as_string() == "42");
  std::vector<std::string> lines;
  for (const json::Value& line : shown["lines"].as_array()) lines.push_back(line.as_string());
  CHECK(lines == log_texts(server.port, job));  // every log line, in order, once
  CHECK(lines.size() >= 10);

  // Pressing the button itself starts another job, shown above the first.
  browser.evaluate(session, R"JS(document.getElementById("id").value = "43";
                                 document.getElementById("sync-up").click(); true)JS");
  CHECK(testing::eventually([&] {
    shown = browser.evaluate(session, probe);
    return shown.is_object() && shown["job"].as_int() == job + 1 && shown["state"].as_string() == "succeeded";
  }, testing::Seconds(30)));
  CHECK(browser.evaluate(session, "document.querySelectorAll('article.job').length").as_int() == 2);
  if (const char* png = std::getenv("SYNC_PAGE_SCREENSHOT")) browser.screenshot(session, png);
}
