#include "apps/messenger/peer.h"

#include "apps/messenger/file_protocol.h"
#include <asyncore/channel_map.h>
#include <asyncore/log_escape.h>

namespace asyncore::messenger {
namespace {

constexpr std::string_view kInboundKey = "in ";
constexpr std::string_view kOutboundKey = "out ";
constexpr double kShutdownPollSeconds = 0.02;

std::string describe(const PeerEntry& entry) { return entry.name + "@" + entry.ip + ":" + std::to_string(entry.port); }

}  // namespace

Peer::Peer(PeerOptions options, Print print, ChannelMap* map)
    : options_(std::move(options)),
      print_(std::move(print)),
      inbound_(options_.host, options_.port, map, options_.connection),
      outbound_(map),
      hub_(map),
      receiver_(options_.inbox, options_.files),
      refused_file_log_(inbound_.map(), LogLevel::warning, "refused file chunks", 10.0) {
  inbound_.connection_limits().name = "peer listener";
  inbound_.set_connection_caps(options_.caps);
  inbound_.on_message = [this](const MessengerPtr& m, const Header& header, const std::string& body) {
    peer_message(m, std::string(kInboundKey) + m->id(), header, body);
  };
  inbound_.on_close = [this](const MessengerPtr& m, std::size_t) {
    receiver_.connection_closed(std::string(kInboundKey) + m->id());
    log_debug("peer: inbound " + m->id() + " closed: " + m->close_reason());
  };
  outbound_.on_message = [this](const MessengerPtr& m, const Header& header, const std::string& body) {
    peer_message(m, std::string(kOutboundKey) + m->id(), header, body);
  };
  outbound_.on_connect_success = [this](const MessengerPtr& m) { link_up(m); };
  outbound_.on_connect_fail = [this](const MessengerPtr& m, const std::string& reason) { link_failed(m, reason); };
  outbound_.on_close = [this](const MessengerPtr& m, std::size_t) { link_closed(m); };

  hub_.on_connect_success = [this](const MessengerPtr& m) {
    log_info("peer: connected to the hub " + m->id());
    send_report();
  };
  auto retry = [this](const std::string& why) {
    if (shutting_down_) return;
    const HubAddress& lost = options_.hubs[hub_index_];
    hub_index_ = (hub_index_ + 1) % options_.hubs.size();  // the next hub shares the directory
    const HubAddress& next = options_.hubs[hub_index_];
    log_warning("peer: hub " + lost.host + ":" + std::to_string(lost.port) + ": " + why + "; retrying " + next.host + ":" +
                std::to_string(next.port) + " in " + describe_seconds(options_.report));
    reconnect_timer_ = inbound_.map().call_later(options_.report, [this] { connect_hub(); });
  };
  hub_.on_connect_fail = [retry](const MessengerPtr&, const std::string& reason) { retry(reason); };
  hub_.on_close = [retry](const MessengerPtr& m, std::size_t) { retry(m->close_reason()); };
  hub_.on_message = [this](const MessengerPtr&, const Header& header, const std::string& body) {
    hub_message(header, body);
  };
  connect_hub();
  report_timer_ = inbound_.map().call_later(options_.report, [this] { send_report(); });
}

Peer::~Peer() {
  report_timer_.cancel();
  reconnect_timer_.cancel();
  shutdown_timer_.cancel();
}

// --- the hub ---------------------------------------------------------------------------------

void Peer::connect_hub() {
  if (shutting_down_) return;
  hub_link_ = hub_.add_connection(options_.hubs[hub_index_].host, options_.hubs[hub_index_].port);
}

void Peer::send_report() {
  if (shutting_down_) return;
  report_timer_ = inbound_.map().call_later(options_.report, [this] { send_report(); });
  if (hub_link_ && hub_link_->established()) {
    hub_.send(hub_link_, report_header(options_.name, inbound_.address().port(), options_.hub_token));
  }
}

void Peer::hub_message(const Header& header, const std::string& body) {
  if (!header.contains(kBroadcastKey)) {
    log_debug("peer: ignoring a hub message without " + std::string(kBroadcastKey));
    return;
  }
  std::size_t skipped = 0;
  std::map<std::string, PeerEntry> fresh;
  for (PeerEntry& entry : parse_directory(body, &skipped)) fresh[entry.name] = std::move(entry);
  if (skipped) log_warning("peer: " + std::to_string(skipped) + " malformed directory entries skipped");
  if (fresh == directory_) return;
  directory_ = std::move(fresh);
  print_("directory" + directory_text());
}

std::string Peer::directory_text() const {
  std::string text;
  for (const auto& [name, entry] : directory_) text += " " + describe(entry);
  return text;
}

// --- messages from other peers ---------------------------------------------------------------

void Peer::peer_message(const MessengerPtr& m, const std::string& key, const Header& header, const std::string& body) {
  const std::string type = header.get(kTypeKey);
  const std::string from = one_line(header.get(kFromKey, m->id()));
  if (type == kMessageType) {
    print_("msg " + from + " " + one_line(body));
  } else if (type == kFileType) {
    file_chunk(m, key, header.get(kFromKey, m->id()), header, body);
  } else {
    log_debug("peer: ignoring a message of type '" + one_line(type) + "' from " + m->id());
  }
}

std::string Peer::file_sender_problem(const MessengerPtr& m, const std::string& from) const {
  using FilesFrom = PeerOptions::FilesFrom;
  if (options_.accept_files == FilesFrom::all) return {};
  if (options_.accept_files == FilesFrom::none) return "this peer accepts no files (--accept-files-from)";
  if (!options_.accept_files_from.count(from)) return "files from this sender are not accepted (--accept-files-from)";
  // From is only a claim: the connection must come from the host the hub lists for that name.
  auto entry = directory_.find(from);
  if (entry == directory_.end() || entry->second.ip != m->peer().host()) {
    return "the sender is not at the address the hub lists for " + from;
  }
  return {};
}

void Peer::file_chunk(const MessengerPtr& m, const std::string& key, const std::string& from, const Header& header,
                      const std::string& body) {
  const std::string shown_from = one_line(from);
  FileOutcome outcome;
  if (auto problem = file_sender_problem(m, from); !problem.empty()) {
    if (header.get(kOffsetKey) != "0") return;  // told once per file, at its first chunk
    outcome = {FileOutcome::Kind::refused, header.get(kNameKey), 0, {}, problem};
  } else {
    outcome = receiver_.receive(key, header, body);
  }
  if (outcome.kind == FileOutcome::Kind::complete) {
    log_info("peer: received " + log_escape(outcome.name) + " (" + std::to_string(outcome.size) + " bytes) from " +
             log_escape(from));
    print_("file " + shown_from + " " + outcome.name + " " + std::to_string(outcome.size) + " " + outcome.sha256);
  } else if (outcome.kind == FileOutcome::Kind::in_progress && outcome.tenth > 0) {
    print_("progress recv " + shown_from + " " + one_line(outcome.name) + " " + std::to_string(outcome.received) + "/" +
           std::to_string(outcome.size) + " bytes (" + std::to_string(outcome.tenth * 10) + "%)");
  } else if (outcome.kind == FileOutcome::Kind::refused) {
    if (refused_file_log_.admit()) {
      log_warning("peer: refused file '" + log_escape(outcome.name) + "' from " + log_escape(from) + " (" + m->id() +
                  "): " + log_escape(outcome.reason));
    }
    print_("refused " + shown_from + " " + one_line(outcome.name) + ": " + one_line(outcome.reason));
  }
}

void parse_accept_files_from(std::string_view text, PeerOptions& options) {
  using FilesFrom = PeerOptions::FilesFrom;
  options.accept_files_from.clear();
  if (text == "none" || text == "all") {
    options.accept_files = text == "all" ? FilesFrom::all : FilesFrom::none;
    return;
  }
  options.accept_files = FilesFrom::named;
  while (!text.empty()) {
    const std::size_t comma = text.find(',');
    const std::string_view name = text.substr(0, comma);
    if (auto problem = peer_name_problem(name)) throw std::invalid_argument("'" + std::string(name) + "': " + *problem);
    options.accept_files_from.emplace(name);
    text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
  }
  if (options.accept_files_from.empty()) throw std::invalid_argument("expected none, all or NAME,NAME");
}

// --- our connections to other peers ----------------------------------------------------------

void Peer::with_link(const std::string& name, Ready ready, Failed failed) {
  if (auto it = links_.find(name); it != links_.end()) {
    if (it->second.connection->established()) {
      ready(it->second.connection);
    } else {
      it->second.on_ready.push_back(std::move(ready));
      it->second.on_failed.push_back(std::move(failed));
    }
    return;
  }
  auto entry = directory_.find(name);
  if (entry == directory_.end()) return failed("unknown peer (not in the directory)");
  MessengerPtr m = outbound_.add_connection(entry->second.ip, entry->second.port);
  if (!m->is_open()) return failed(m->close_reason());  // failed at once
  link_names_[m.get()] = name;
  Link& link = links_[name];
  link.connection = m;
  link.on_ready.push_back(std::move(ready));
  link.on_failed.push_back(std::move(failed));
}

std::string Peer::link_name(const MessengerPtr& m) const {
  auto it = link_names_.find(m.get());
  return it == link_names_.end() ? std::string() : it->second;
}

void Peer::link_up(const MessengerPtr& m) {
  auto it = links_.find(link_name(m));
  if (it == links_.end()) return;
  auto waiting = std::move(it->second.on_ready);
  it->second.on_ready.clear();
  it->second.on_failed.clear();
  for (auto& ready : waiting) ready(m);
}

void Peer::link_failed(const MessengerPtr& m, const std::string& reason) {
  const std::string name = link_name(m);
  auto it = links_.find(name);
  if (it == links_.end()) return;
  auto waiting = std::move(it->second.on_failed);
  links_.erase(it);
  link_names_.erase(m.get());
  for (auto& failed : waiting) failed(reason);
}

void Peer::link_closed(const MessengerPtr& m) {
  const std::string name = link_name(m);
  auto it = links_.find(name);
  link_names_.erase(m.get());
  if (it == links_.end()) return;
  Link link = std::move(it->second);
  links_.erase(it);
  const std::string reason = "connection closed: " + m->close_reason();
  if (link.active_file) link.active_file->abort(reason);
  for (const FileJob& job : link.files) print_("error send " + name + " " + one_line(job.path) + ": " + reason);
}

void Peer::start_next_file(const std::string& name) {
  auto it = links_.find(name);
  if (it == links_.end()) return;
  Link& link = it->second;
  if ((link.active_file && !link.active_file->finished()) || link.files.empty()) return;
  FileJob job = std::move(link.files.front());
  link.files.pop_front();
  auto done = [this, name, path = job.path](const FileSendResult& result) {
    if (result.ok) {
      print_("ok send " + name + " " + result.name + " " + std::to_string(result.size) + " " + result.sha256);
    } else {
      print_("error send " + name + " " + one_line(path) + ": " + result.error);
    }
    if (auto it = links_.find(name); it != links_.end()) {
      it->second.next_file = inbound_.map().call_soon([this, name] { start_next_file(name); });
    }
  };
  // One line per tenth of the file that left for the kernel: a big transfer shows it moves.
  auto progress = [this, name, path = job.path, shown = 0](std::uint64_t sent, std::uint64_t size) mutable {
    const int tenth = size ? static_cast<int>(sent * 10 / size) : 10;
    if (tenth <= shown || tenth >= 10) return;
    shown = tenth;
    print_("progress send " + name + " " + one_line(path) + " " + std::to_string(sent) + "/" + std::to_string(size) +
           " bytes (" + std::to_string(tenth * 10) + "%)");
  };
  link.active_file = FileSender::start(link.connection, job.path, options_.name, done, std::move(progress));
}

// --- commands --------------------------------------------------------------------------------

void Peer::run_command(const std::string& line) {
  std::optional<PeerCommand> command;
  try {
    command = parse_peer_command(line);
  } catch (const std::exception& e) {
    print_(std::string("error ") + e.what());
    return;
  }
  if (!command) return;
  if (shutting_down_) {
    print_("error " + std::string(command_word(command->kind)) + ": shutting down");
    return;
  }
  switch (command->kind) {
    case PeerCommand::Kind::peers:
      print_("ok peers" + directory_text());
      break;
    case PeerCommand::Kind::connect: {
      const std::string name = command->name;
      with_link(name, [this, name](const MessengerPtr& m) { print_("ok connect " + name + " " + m->id()); },
                [this, name](const std::string& reason) { print_("error connect " + name + ": " + reason); });
      break;
    }
    case PeerCommand::Kind::msg:
      do_msg(*command);
      break;
    case PeerCommand::Kind::broadcast:
      do_broadcast(*command);
      break;
    case PeerCommand::Kind::send:
      do_send(*command);
      break;
    case PeerCommand::Kind::help:
      print_("ok help " + std::string(peer_command_help()));
      break;
    case PeerCommand::Kind::quit:
      print_("ok quit");
      if (on_quit) on_quit();  // the program decides how it ends
      break;
  }
}

void Peer::do_msg(const PeerCommand& command) {
  const std::string name = command.name, text = command.text;
  with_link(
      name,
      [this, name, text](const MessengerPtr& m) {
        Header header{{std::string(kTypeKey), std::string(kMessageType)}, {std::string(kFromKey), options_.name}};
        if (outbound_.send(m, header, text)) print_("ok msg " + name);
        else print_("error msg " + name + ": " + m->close_reason());
      },
      [this, name](const std::string& reason) { print_("error msg " + name + ": " + reason); });
}

void Peer::do_broadcast(const PeerCommand& command) {
  struct Round {
    std::size_t waiting = 0;
    std::vector<MessengerPtr> ready;
    std::string text;
  };
  auto round = std::make_shared<Round>();
  round->text = command.text;
  std::vector<std::string> names;
  for (const auto& [name, entry] : directory_) {
    if (name != options_.name) names.push_back(name);
  }
  round->waiting = names.size();
  // Once every connection is up (or failed), one multicast: the frame is encoded once.
  auto settle = [this, round] {
    if (--round->waiting > 0) return;
    Header header{{std::string(kTypeKey), std::string(kMessageType)}, {std::string(kFromKey), options_.name}};
    std::size_t sent = outbound_.multicast(round->ready, header, round->text);
    print_("ok broadcast " + std::to_string(sent));
  };
  if (names.empty()) return print_("ok broadcast 0");
  for (const std::string& name : names) {
    with_link(
        name,
        [round, settle](const MessengerPtr& m) {
          round->ready.push_back(m);
          settle();
        },
        [name, settle](const std::string& reason) {
          log_warning("peer: broadcast: cannot reach " + name + ": " + reason);
          settle();
        });
  }
}

void Peer::do_send(const PeerCommand& command) {
  const std::string name = command.name, path = command.text;
  with_link(
      name,
      [this, name, path](const MessengerPtr&) {
        auto it = links_.find(name);
        if (it == links_.end()) return print_("error send " + name + " " + one_line(path) + ": connection closed");
        it->second.files.push_back({path});
        start_next_file(name);
      },
      [this, name, path](const std::string& reason) { print_("error send " + name + " " + one_line(path) + ": " + reason); });
}

// --- shutting down ---------------------------------------------------------------------------

bool Peer::busy() const {
  if (outbound_.connecting() > 0) return true;
  for (const auto& [name, link] : links_) {
    if (!link.files.empty() || (link.active_file && !link.active_file->finished())) return true;
    if (link.connection->pending() > 0) return true;
  }
  return false;
}

void Peer::shut_down(double max_wait, std::function<void()> done) {
  if (shutting_down_) return;
  shutting_down_ = true;
  shutdown_done_ = std::move(done);
  report_timer_.cancel();
  reconnect_timer_.cancel();
  shutdown_deadline_ = inbound_.map().now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(max_wait));
  finish_shutdown();
}

void Peer::finish_shutdown() {
  if (busy() && inbound_.map().now() < shutdown_deadline_) {
    shutdown_timer_ = inbound_.map().call_later(kShutdownPollSeconds, [this] { finish_shutdown(); });
    return;
  }
  if (busy()) log_warning("peer: stopping with transfers still in flight");
  for (auto& [name, link] : links_) {
    if (link.active_file) link.active_file->abort("shutting down");
  }
  inbound_.stop();
  outbound_.close_all("shutting down");
  hub_.close_all("shutting down");
  if (shutdown_done_) {
    auto done = std::move(shutdown_done_);
    shutdown_done_ = nullptr;
    done();
  }
}

}  // namespace asyncore::messenger
