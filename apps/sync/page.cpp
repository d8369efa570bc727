#include "apps/sync/page.h"

namespace asyncore::sync {
namespace {

constexpr std::string_view kPage = R"PAGE(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sync relay</title>
<style>
  :root {
    --bg: #f4f5f7; --card: #fff; --text: #1f2328; --muted: #656d76; --line: #d8dee4;
    --accent: #2563eb; --queued: #6b7280; --running: #2563eb; --succeeded: #16a34a;
    --failed: #dc2626; --timeout: #d97706; --cancelled: #7c3aed; --interrupted: #be185d;
  }
  * { box-sizing: border-box; }
  body { margin: 0; background: var(--bg); color: var(--text);
         font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", sans-serif; }
  main { max-width: 880px; margin: 0 auto; padding: 28px 20px 48px; }
  h1 { font-size: 22px; margin: 0 0 4px; }
  .subtitle { color: var(--muted); margin: 0 0 20px; }
  .card { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 16px 18px;
          margin-bottom: 14px; box-shadow: 0 1px 2px rgba(0,0,0,.04); }
  form { display: flex; gap: 12px; align-items: flex-end; flex-wrap: wrap; }
  label { display: flex; flex-direction: column; gap: 4px; font-size: 13px; color: var(--muted); }
  input, select { font: inherit; padding: 7px 10px; border: 1px solid var(--line); border-radius: 6px; min-width: 200px;
                  background: #fff; color: var(--text); }
  input:focus, select:focus { outline: 2px solid rgba(37,99,235,.35); border-color: var(--accent); }
  button { font: inherit; border: 0; border-radius: 6px; padding: 8px 18px; cursor: pointer; }
  button.primary { background: var(--accent); color: #fff; font-weight: 600; }
  button.primary:hover { background: #1d4ed8; }
  button.small { padding: 3px 10px; font-size: 13px; background: #eef0f3; color: var(--text); }
  .message { margin: 10px 0 0; font-size: 14px; padding: 6px 10px; border-radius: 6px; }
  .message.error { color: var(--failed); background: #fef2f2; }
  .message.notice { color: #1e3a8a; background: #eff6ff; }
  .message:empty { display: none; }
  @media (max-width: 520px) {
    main { padding: 18px 12px 36px; }
    form label, input, select, button.primary { width: 100%; min-width: 0; }
    .meta { margin-left: 0; width: 100%; }
  }
  h2 { font-size: 16px; margin: 26px 0 10px; }
  .empty { color: var(--muted); }
  .job-head { display: flex; align-items: center; gap: 10px; flex-wrap: wrap; }
  .job-title { font-weight: 600; }
  .job-title .record { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-weight: 500; }
  .meta { color: var(--muted); font-size: 13px; margin-left: auto; }
  .badge { font-size: 12px; font-weight: 600; padding: 2px 9px; border-radius: 999px; color: #fff;
           background: var(--queued); text-transform: uppercase; letter-spacing: .03em; }
  .badge.running { background: var(--running); } .badge.succeeded { background: var(--succeeded); }
  .badge.failed { background: var(--failed); } .badge.timeout { background: var(--timeout); }
  .badge.cancelled { background: var(--cancelled); } .badge.interrupted { background: var(--interrupted); }
  .progress-row { display: flex; align-items: center; gap: 10px; margin: 12px 0 8px; }
  .progress { flex: 1; height: 10px; background: #e5e7eb; border-radius: 999px; overflow: hidden; }
  .fill { height: 100%; width: 0; background: var(--running); border-radius: 999px; transition: width .3s ease; }
  .fill.succeeded { background: var(--succeeded); } .fill.failed { background: var(--failed); }
  .fill.timeout { background: var(--timeout); } .fill.cancelled { background: var(--cancelled); }
  .fill.interrupted { background: var(--interrupted); } .fill.queued { background: var(--queued); }
  .percent { width: 44px; text-align: right; font-variant-numeric: tabular-nums; font-size: 13px; color: var(--muted); }
  details summary { cursor: pointer; color: var(--muted); font-size: 13px; }
  pre.log { margin: 8px 0 0; padding: 10px 12px; background: #0f172a; color: #e2e8f0; border-radius: 8px;
            max-height: 260px; overflow: auto; font: 12.5px/1.5 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
            white-space: pre-wrap; word-break: break-word; }
  pre.log .t { color: #94a3b8; margin-right: 8px; }
  pre.log .stderr { color: #fca5a5; }
  pre.log .stream { color: #0f172a; background: #fca5a5; border-radius: 3px; padding: 0 4px; margin-right: 6px; font-size: 11px; }
  pre.log:empty::before { content: "no output yet"; color: #94a3b8; }
</style>
</head>
<body>
<main>
  <h1>Sync relay</h1>
  <p class="subtitle">Press <b>Sync Up</b> to synchronise a record; its log and progress appear below as the sync runs.</p>
  <section class="card">
    <form id="sync-form" autocomplete="off">
      <label>Type <select id="type" name="type" required></select></label>
      <label>ID <input id="id" name="id" placeholder="e.g. 42" required maxlength="128" pattern="[A-Za-z0-9_.:\-]{1,128}"></label>
      <button class="primary" id="sync-up" type="submit">Sync Up</button>
    </form>
    <p class="message" id="message" role="status" aria-live="polite"></p>
  </section>
  <h2>Recent jobs</h2>
  <div id="jobs"><p class="empty" id="no-jobs">No jobs yet.</p></div>
</main>
<script>
"use strict";
const POLL_MS = 500;
const FINAL = new Set(["succeeded", "failed", "timeout", "cancelled", "interrupted"]);
const jobs = new Map();  // job number -> {el, next, polling}

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}
function clock(t) { return t ? new Date(t * 1000).toLocaleTimeString() : ""; }
async function api(method, path, body) {
  const options = {method, headers: {}};
  if (body !== undefined) { options.headers["Content-Type"] = "application/json"; options.body = JSON.stringify(body); }
  const response = await fetch(path, options);
  return response.json();
}

function card(job) {
  const root = el("article", "card job");
  root.id = "job-" + job.job;
  const head = el("div", "job-head");
  const title = el("span", "job-title", "#" + job.job + " ");
  title.append(el("span", "record", job.type + " · " + job.id));
  const badge = el("span", "badge");
  const meta = el("span", "meta");
  const cancel = el("button", "small", "Cancel");
  cancel.type = "button";
  cancel.addEventListener("click", async () => {
    const reply = await api("POST", "/api/jobs/" + job.job + "/cancel");
    if (!reply.ok) show(reply.error);
    poll(job.job);
  });
  head.append(title, badge, cancel, meta);
  const row = el("div", "progress-row");
  const bar = el("div", "progress");
  bar.setAttribute("role", "progressbar");
  bar.setAttribute("aria-valuemin", "0");
  bar.setAttribute("aria-valuemax", "100");
  const fill = el("div", "fill");
  bar.append(fill);
  const percent = el("span", "percent");
  row.append(bar, percent);
  const details = el("details");
  details.append(el("summary", "", "Log"));
  const log = el("pre", "log");
  details.append(log);
  root.append(head, row, details);
  return {root, badge, meta, cancel, bar, fill, percent, details, log};
}

function update(entry, job) {
  const state = job.state;
  entry.root.dataset.state = state;
  entry.badge.className = "badge " + state;
  // Reported but not yet on the server's disk (it retries): said on the badge, the error on hover.
  entry.root.dataset.pending = job.pending_write ? "true" : "";
  entry.badge.textContent = job.pending_write ? state + " · pending durable write" : state;
  entry.badge.title = job.pending_write ? "not yet saved: " + job.storage_error : "";
  entry.fill.className = "fill " + state;
  entry.fill.style.width = job.progress + "%";
  entry.bar.dataset.progress = String(job.progress);
  entry.bar.setAttribute("aria-valuenow", String(job.progress));
  entry.percent.textContent = job.progress + "%";
  entry.cancel.hidden = FINAL.has(state);
  if (job.created !== undefined) {  // a status (log replies carry no times)
    let meta = "created " + clock(job.created);
    if (job.ended) meta += " · ended " + clock(job.ended);
    if (job.exit !== null && job.exit !== undefined) meta += " · exit " + job.exit;
    if (job.signal) meta += " · signal " + job.signal;
    entry.meta.textContent = meta;
  }
}

function appendLines(entry, lines) {
  const atBottom = entry.log.scrollTop + entry.log.clientHeight >= entry.log.scrollHeight - 4;
  for (const line of lines) {
    const row = el("div", "line");
    row.dataset.n = String(line.n);
    row.append(el("span", "t", clock(line.t)));
    if (line.stream === "stderr") {  // the program wrote it on stderr: marked, not mixed in silently
      row.classList.add("stderr");
      row.append(el("span", "stream", "stderr"));
    }
    row.append(document.createTextNode(line.text));
    entry.log.append(row);
  }
  if (atBottom) entry.log.scrollTop = entry.log.scrollHeight;
}

function track(job, open) {
  let entry = jobs.get(job.job);
  if (!entry) {
    entry = card(job);
    entry.next = 0;
    entry.polling = false;
    jobs.set(job.job, entry);
    document.getElementById("no-jobs")?.remove();
    const list = document.getElementById("jobs");
    const newer = [...jobs.keys()].filter(n => n > job.job).sort((a, b) => a - b)[0];
    list.insertBefore(entry.root, newer ? jobs.get(newer).root.nextSibling : list.firstChild);
  }
  if (open) entry.details.open = true;
  update(entry, job);
  if (!entry.polling) poll(job.job);
}

async function poll(number) {
  const entry = jobs.get(number);
  if (!entry || entry.polling) return;
  entry.polling = true;
  try {
    for (;;) {
      const reply = await api("GET", "/api/jobs/" + number + "/log?from=" + entry.next);
      if (!reply.ok) { show(reply.error); break; }
      appendLines(entry, reply.lines);
      entry.next = reply.next;
      update(entry, reply);
      if (reply.more || reply.lines.length >= 1000) continue;  // more is waiting: fetch it at once
      if (FINAL.has(reply.state) && !reply.pending_write) {  // ended and saved: a last status, then stop
        const status = await api("GET", "/api/jobs/" + number);
        if (status.ok) update(entry, status);
        if (noticeFor === number) show("");  // "already running" no longer holds
        break;
      }
      await new Promise(resolve => setTimeout(resolve, POLL_MS));
    }
  } catch (error) {
    show("lost contact with the server: " + error.message);
  } finally {
    entry.polling = false;
  }
}

// One line under the form: an error (red) or a notice (blue) about job `job`, which goes away
// once that job ends.
let noticeFor = null;
function show(text, kind = "error", job = null) {
  const message = document.getElementById("message");
  message.textContent = text || "";
  message.className = "message " + (text ? kind : "");
  message.dataset.kind = text ? kind : "";
  noticeFor = text ? job : null;
}

async function syncUp(type, id) {
  show("");
  try {
    const reply = await api("POST", "/api/sync", {type, id});
    if (!reply.ok) { show(reply.error); return; }
    const status = await api("GET", "/api/jobs/" + reply.job);
    if (status.ok) track(status, true);
    if (reply.dedup) {
      show("job #" + reply.job + " for " + type + " " + id + " is already " + status.state + "; following it", "notice", reply.job);
    }
  } catch (error) {
    show("cannot reach the server: " + error.message);
  }
}

document.getElementById("sync-form").addEventListener("submit", event => {
  event.preventDefault();
  syncUp(document.getElementById("type").value.trim(), document.getElementById("id").value.trim());
});

// The record types the server runs, from GET /api/types; a type asked for that it does not
// list is still offered, so its error comes from the server.
function offerType(type) {
  const select = document.getElementById("type");
  if (![...select.options].some(o => o.value === type)) select.append(new Option(type, type));
  select.value = type;
}
async function loadTypes() {
  const reply = await api("GET", "/api/types");
  if (!reply.ok) { show(reply.error); return; }
  const select = document.getElementById("type");
  for (const type of reply.types) select.append(new Option(type, type));
  if (!reply.types.length) show("the server has no record types configured");
}

async function start() {
  try {
    await loadTypes();
    const reply = await api("GET", "/api/jobs?limit=10");
    if (reply.ok) for (const job of reply.jobs.reverse()) track(job, false);
  } catch (error) {
    show("cannot reach the server: " + error.message);
  }
  const auto = new URLSearchParams(location.search).get("autostart");
  if (auto && auto.includes(":")) {
    const colon = auto.indexOf(":");
    offerType(auto.slice(0, colon));
    document.getElementById("id").value = auto.slice(colon + 1);
    document.getElementById("sync-up").click();
  }
}
start();
</script>
</body>
</html>
)PAGE";

}  // namespace

std::string_view page_html() { return kPage; }

}  // namespace asyncore::sync
