#include "apps/barrage/fleet.h"

#include <algorithm>
#include <charconv>

namespace asyncore::barrage {

Fleet::Fleet(FleetOptions options, ChannelMap& map) : options_(std::move(options)), map_(map) {
  members_.resize(static_cast<size_t>(std::max(0, options_.clients)));
  for (Member& member : members_) {
    member.client = std::make_unique<Client>(options_.client, &map_);
    Member* m = &member;
    member.client->on_message = [this, m](std::string_view, const Fields& fields) {
      if (auto seq = fields.find("seq")) on_broadcast(*m, *seq);  // one lookup: every delivery comes here
    };
    member.client->on_state = [this, m](ClientState state) {
      if (state == ClientState::running) m->joined = true;
      if (state == ClientState::closed && !m->failed && (options_.expect == 0 || m->received < options_.expect)) {
        m->failed = true;
        ++finished_;
      }
    };
  }
}

Fleet::~Fleet() { step_timer_.cancel(); }

void Fleet::start() { start_step(0); }

void Fleet::start_step(size_t from) {
  size_t to = std::min(members_.size(), from + static_cast<size_t>(std::max(1, options_.connect_step)));
  for (size_t i = from; i < to; ++i) members_[i].client->start();
  if (to < members_.size()) step_timer_ = map_.call_later(options_.step_interval, [this, to] { start_step(to); });
}

void Fleet::on_broadcast(Member& member, std::string_view seq_text) {
  int64_t seq = -1;  // not a number: counted as a repeat
  auto [end, error] = std::from_chars(seq_text.data(), seq_text.data() + seq_text.size(), seq);
  if (error != std::errc() || end != seq_text.data() + seq_text.size()) seq = -1;
  if (member.last_seq >= 0 && seq <= member.last_seq) {
    ++repeats_;
  } else {
    if (member.last_seq >= 0 && seq > member.last_seq + 1) gaps_ += static_cast<uint64_t>(seq - member.last_seq - 1);
    member.last_seq = seq;
  }
  auto now = Clock::now();
  if (!any_received_) first_ = now, any_received_ = true;
  last_ = now;
  ++received_;
  if (++member.received == options_.expect) ++finished_;
}

bool Fleet::done() const { return options_.expect > 0 && finished_ >= static_cast<int>(members_.size()); }

FleetReport Fleet::report() const {
  FleetReport report;
  report.clients = static_cast<int>(members_.size());
  for (const Member& member : members_) {
    report.joined += member.joined;
    report.failed += member.failed;
    // Complete: all of them, and in order from the first (the server numbers from 0).
    if (options_.expect > 0 && member.received == options_.expect &&
        member.last_seq == static_cast<int64_t>(options_.expect) - 1) {
      ++report.complete;
    }
  }
  report.received = received_;
  report.gaps = gaps_;
  report.repeats = repeats_;
  report.seconds = any_received_ ? std::chrono::duration<double>(last_ - first_).count() : 0;
  if (any_received_) {
    report.first = std::chrono::duration<double>(first_.time_since_epoch()).count();
    report.last = std::chrono::duration<double>(last_.time_since_epoch()).count();
  }
  return report;
}

void Fleet::logout_all() {
  step_timer_.cancel();
  for (Member& member : members_) member.client->logout();
}

}  // namespace asyncore::barrage
