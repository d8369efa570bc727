// The web side: the JSON API over HTTP, the self-contained page, and the page in a real headless
// Chromium pressing "Sync Up" and following the job to a full progress bar.
#include <doctest/doctest.h>

#include <cstdlib>
#include <thread>
#include <tuple>

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

TEST_CASE("the page offers the configured types, notices a duplicate without an error, marks stderr, says who cancelled; "
          "it fits desktop and phone widths") {
  std::string why;
  std::optional<std::string> chromium = devtools::find_chromium(why);
  if (!chromium) {
    MESSAGE("skipped: " << why);
    return;
  }
  testing::TempDir dir;
  Server server(dir);  // the fixture's types: no 'demo'
  CHECK(json::dump(api(server.http_port, "GET", "/api/types", "", 200)) ==
        R"({"ok":true,"types":["echo","fail","hang","record","slow","steps","stubborn","waits"]})");
  testing::TempDir profile;
  devtools::Browser browser(*chromium, profile.path(), profile.file("chromium.log"));
  const std::string session = browser.open("http://127.0.0.1:" + std::to_string(server.http_port) + "/");

  // The Type list holds what the server runs, and nothing it does not.
  json::Value options;
  REQUIRE(testing::eventually([&] {
    options = browser.evaluate(session, "[...document.querySelectorAll('#type option')].map(o => o.value)");
    return options.is_array() && options.size() == 8;
  }, testing::Seconds(20)));
  CHECK(json::dump(options) == R"(["echo","fail","hang","record","slow","steps","stubborn","waits"])");

  auto sync_up = [&](const std::string& type, const std::string& id) {
    browser.evaluate(session, "document.getElementById('type').value = '" + type + "'; document.getElementById('id').value = '" +
                                  id + "'; document.getElementById('sync-up').click(); true");
  };
  const std::string message = R"JS((() => { const m = document.getElementById("message");
      return {text: m.textContent, kind: m.dataset.kind || "", visible: m.offsetHeight > 0,
              color: getComputedStyle(m).color}; })())JS";
  const std::string card_of = R"JS(((n) => { const card = document.getElementById("job-" + n);
      if (!card) return null;
      return {state: card.dataset.state || "", polling: jobs.get(n).polling,
              lines: [...card.querySelectorAll("pre.log .line")].map(l => ({text: l.lastChild.textContent,
                      stderr: l.classList.contains("stderr"), tag: l.querySelector(".stream")?.textContent || ""}))}; }))JS";

  // A job that waits; pressing Sync Up again for the same record is a notice, not an error.
  sync_up("waits", "7");
  json::Value card;
  REQUIRE(testing::eventually([&] {
    card = browser.evaluate(session, card_of + "(1)");
    return card.is_object() && card["state"].as_string() == "running";
  }, testing::Seconds(20)));
  sync_up("waits", "7");
  json::Value shown;
  REQUIRE(testing::eventually([&] {
    shown = browser.evaluate(session, message);
    return shown["text"].as_string().find("already") != std::string::npos;
  }, testing::Seconds(10)));
  CAPTURE(json::dump(shown));
  CHECK(shown["kind"].as_string() == "notice");
  CHECK(shown["visible"].as_bool());
  CHECK(shown["color"].as_string() != "rgb(220, 38, 38)");  // not the error red
  CHECK(browser.evaluate(session, "document.querySelectorAll('article.job').length").as_int() == 1);

  // Cancel from the page: the notice goes once the job has ended, and the log says who and when.
  browser.evaluate(session, R"JS(document.querySelector("#job-1 button").click(); true)JS");
  REQUIRE(testing::eventually([&] {
    card = browser.evaluate(session, card_of + "(1)");
    return card.is_object() && card["state"].as_string() == "cancelled" && !card["polling"].as_bool();
  }, testing::Seconds(20)));
  CHECK(browser.evaluate(session, message)["text"].as_string().empty());
  const std::string last = card["lines"].as_array().back()["text"].as_string();
  CAPTURE(last);
  CHECK(last.find("sync-server: cancelled at 20") == 0);
  CHECK(last.find(" UTC by the web page/API, peer 127.0.0.1:") != std::string::npos);

  // A program's stderr line is marked as such; its stdout lines are not.
  sync_up("steps", "4");
  REQUIRE(testing::eventually([&] {
    card = browser.evaluate(session, card_of + "(2)");
    return card.is_object() && card["state"].as_string() == "succeeded" && !card["polling"].as_bool();
  }, testing::Seconds(20)));
  CAPTURE(json::dump(card));
  int marked = 0;
  for (const json::Value& line : card["lines"].as_array()) {
    const bool from_stderr = line["text"].as_string() == "a note on stderr";
    CHECK(line["stderr"].as_bool() == from_stderr);
    if (from_stderr) marked += line["tag"].as_string() == "stderr";
  }
  CHECK(marked == 1);

  // Desktop and phone widths: nothing wider than the window, the form's controls inside it.
  const std::string fits = R"JS((() => { const w = window.innerWidth;
      const controls = ["type", "id", "sync-up"].map(id => document.getElementById(id).getBoundingClientRect());
      return {width: w, scroll: document.documentElement.scrollWidth,
              inside: controls.every(r => r.left >= 0 && r.right <= w && r.width > 40)}; })())JS";
  browser.evaluate(session, R"JS(document.querySelectorAll("details").forEach(d => d.open = true); true)JS");
  const char* shots = std::getenv("SYNC_PAGE_SCREENSHOTS");  // a folder: desktop.png and phone.png
  for (auto [name, width, height] : {std::tuple{"desktop", 1280, 900}, std::tuple{"phone", 390, 844}}) {
    CAPTURE(name);
    browser.call("Emulation.setDeviceMetricsOverride",
                 json::Object{{"width", width}, {"height", height}, {"deviceScaleFactor", 1}, {"mobile", width < 600}},
                 session);
    json::Value layout;
    CHECK(testing::eventually([&] {
      layout = browser.evaluate(session, fits);
      return layout["width"].as_int() == width;
    }, testing::Seconds(10)));
    CAPTURE(json::dump(layout));
    CHECK(layout["scroll"].as_int() <= width);
    CHECK(layout["inside"].as_bool());
    // The finished job's bar is drawn full once its transition has run.
    CHECK(testing::eventually([&] {
      return browser.evaluate(session, R"JS((() => { const card = document.getElementById("job-2");
          return card.querySelector(".fill").getBoundingClientRect().width /
                 card.querySelector(".progress").getBoundingClientRect().width; })())JS").as_double() > 0.99;
    }, testing::Seconds(10)));
    if (shots) browser.screenshot(session, std::string(shots) + "/" + name + ".png");
  }
}
