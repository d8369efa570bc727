#include <asyncore/net/connection_limits.h>

#include <algorithm>

#include <asyncore/log.h>

namespace asyncore {
namespace {

constexpr std::size_t kFirstPrune = 64;

// "verify_request 1, max_per_peer 49": the non-zero counts.
std::string by_reason(const std::array<std::size_t, kRefusalKinds>& counts) {
  std::string text;
  for (std::size_t i = 0; i < kRefusalKinds; ++i) {
    if (counts[i] == 0) continue;
    text += std::string(text.empty() ? "" : ", ") + refusal_name(static_cast<Refusal>(i)) + " " + std::to_string(counts[i]);
  }
  return text;
}

std::size_t sum(const std::array<std::size_t, kRefusalKinds>& counts) {
  std::size_t total = 0;
  for (std::size_t n : counts) total += n;
  return total;
}

}  // namespace

const char* refusal_name(Refusal reason) {
  switch (reason) {
    case Refusal::verify_request: return "verify_request";
    case Refusal::max_connections: return "max_connections";
    case Refusal::max_per_peer: return "max_per_peer";
  }
  return "?";
}

ConnectionLimits::ConnectionLimits(std::string name, ChannelMap& map, ConnectionCaps caps)
    : name(std::move(name)), caps(caps), map_(map), prune_at_(kFirstPrune),
      log_(map, LogLevel::warning, "refused connections", log_interval) {
  log_.summary = [this](std::uint64_t) { return summary_line(); };
}

ConnectionLimits::~ConnectionLimits() { flush_log(); }  // refusals not yet told are not lost

std::optional<Refusal> ConnectionLimits::check(const Address& peer) {
  if (caps.max_connections > 0 && tracked_ >= caps.max_connections) {
    prune_all();  // only when the cheap count says full: closed connections may still be listed
    if (tracked_ >= caps.max_connections) return Refusal::max_connections;
  }
  if (caps.max_per_peer > 0 && active_from(peer.host()) >= caps.max_per_peer) return Refusal::max_per_peer;
  return std::nullopt;
}

bool ConnectionLimits::admit(const Address& peer) {
  const auto refusal = check(peer);
  if (refusal) refuse(peer, *refusal);
  return !refusal;
}

void ConnectionLimits::refuse(const Address& peer, Refusal reason) {
  count_refusal(reason);
  log_refusal(peer, reason);
}

void ConnectionLimits::count_refusal(Refusal reason) {
  ++refused_[static_cast<std::size_t>(reason)];
  if (on_refused) on_refused(reason);
}

std::string ConnectionLimits::describe(Refusal reason) const {
  std::string why = refusal_name(reason);
  if (reason == Refusal::max_connections) why += " " + std::to_string(caps.max_connections) + " reached";
  if (reason == Refusal::max_per_peer) why += " " + std::to_string(caps.max_per_peer) + " reached";
  return why;
}

void ConnectionLimits::log_refusal(const Address& peer, Refusal reason) {
  log_.set_interval(log_interval);
  if (log_.admit()) {
    log_warning(name + ": refused " + peer.to_string() + ": " + describe(reason));
  } else if (log_.in_window()) {
    ++unlogged_[static_cast<std::size_t>(reason)];  // told in the next summary line
  }
}

void ConnectionLimits::flush_log() { log_.end_window(); }

std::string ConnectionLimits::summary_line() {
  const std::size_t total = sum(unlogged_);
  std::string line = name + ": refused " + std::to_string(total) + " more connection" + (total == 1 ? "" : "s") + " (" +
                     by_reason(unlogged_) + "); " + std::to_string(refused_total()) + " refused in all";
  unlogged_ = {};
  return line;
}

std::size_t ConnectionLimits::refused_total() const { return sum(refused_); }

std::string ConnectionLimits::refusal_summary() const {
  const std::size_t total = refused_total();
  return std::to_string(total) + " refused" + (total == 0 ? "" : " (" + by_reason(refused_) + ")");
}

bool ConnectionLimits::still_open(const Connection& c) const {
  return map_.find(c.fd) != nullptr && map_.generation_of(c.fd) == c.generation;
}

void ConnectionLimits::track(int fd, const Address& peer) {
  // Only a connection whose dispatcher is in the map can be followed (and so limited).
  if (map_.find(fd) == nullptr) return;
  by_host_[peer.host()].push_back({fd, map_.generation_of(fd)});
  ++tracked_;
  // Forget closed connections now and then, so tracking costs O(1) amortised per accept.
  if (tracked_ >= prune_at_) {
    prune_all();
    prune_at_ = std::max(kFirstPrune, 2 * tracked_);
  }
}

std::size_t ConnectionLimits::prune(std::vector<Connection>& list) {
  const std::size_t before = list.size();
  std::erase_if(list, [this](const Connection& c) { return !still_open(c); });
  tracked_ -= before - list.size();
  return list.size();
}

std::size_t ConnectionLimits::active_from(std::string_view host) {
  auto it = by_host_.find(std::string(host));
  if (it == by_host_.end()) return 0;
  const std::size_t open = prune(it->second);
  if (open == 0) by_host_.erase(it);
  return open;
}

void ConnectionLimits::prune_all() {
  for (auto it = by_host_.begin(); it != by_host_.end();) {
    it = prune(it->second) == 0 ? by_host_.erase(it) : std::next(it);
  }
}

std::size_t ConnectionLimits::active() {
  prune_all();
  return tracked_;
}

}  // namespace asyncore
