// MessengerEndpoint: what MessengerServer and MessengerClient share: the list of established
// connections, send / broadcast / multicast, and the on_message / on_close callbacks.
#pragma once
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "apps/messenger/messenger.h"
#include <asyncore/net/input_budget.h>

namespace asyncore::messenger {

class MessengerEndpoint : protected MessengerEvents {
 public:
  using MessageCallback = std::function<void(const MessengerPtr&, const Header&, const std::string& body)>;
  using CloseCallback = std::function<void(const MessengerPtr&, std::size_t remaining)>;

  explicit MessengerEndpoint(ChannelMap* map = nullptr, MessengerLimits limits = {});
  virtual ~MessengerEndpoint();  // closes every connection without calling back
  MessengerEndpoint(const MessengerEndpoint&) = delete;
  MessengerEndpoint& operator=(const MessengerEndpoint&) = delete;

  // Established connections, oldest first.
  const std::vector<MessengerPtr>& messengers() const { return messengers_; }
  std::size_t size() const { return messengers_.size(); }
  MessengerPtr find(std::string_view id) const;

  // Each throws FrameError, sending nothing to anyone, when the header cannot be sent. A
  // connection whose send fails is closed and reported through on_close; the others still get
  // the message. broadcast and multicast encode the frame once and return how many took it.
  bool send(const MessengerPtr& m, const Header& header, std::string_view body = {});
  std::size_t broadcast(const Header& header, std::string_view body = {});
  std::size_t multicast(const std::vector<MessengerPtr>& targets, const Header& header, std::string_view body = {});
  bool send_probe(const MessengerPtr& m);

  void close(const MessengerPtr& m, std::string reason = "closed locally");
  void close_all(std::string reason = "closed locally");

  ChannelMap& map() const { return *map_; }
  const MessengerLimits& limits() const { return limits_; }
  // Memory held for unfinished frames over every connection (bounded by limits().max_partial_input).
  std::size_t partial_input() const { return partial_input_.total(); }
  // Connections closed for the partial input budget (for stop lines).
  std::size_t closed_for_budget() const { return partial_input_.evicted(); }

  MessageCallback on_message;  // probes (TP:Check) never arrive here
  CloseCallback on_close;      // `remaining`: connections still established

 protected:
  // Wraps an accepted socket (servers) or an outgoing connection (clients).
  MessengerPtr adopt_accepted(Fd socket);
  MessengerPtr new_outgoing();
  void add_established(const MessengerPtr& m);

  // MessengerEvents
  void messenger_message(const MessengerPtr& m) override;
  void messenger_closed(const MessengerPtr& m) override;
  void messenger_partial(Messenger& m, std::size_t before, std::size_t now) override;
  RateLimitedLog& peer_log() override { return peer_log_; }

  std::vector<MessengerPtr> pending_;  // connecting, not yet established

 private:
  bool remove(std::vector<MessengerPtr>& list, const MessengerPtr& m);
  ChannelMap* map_;
  MessengerLimits limits_;
  std::vector<MessengerPtr> messengers_;
  InputBudget<Messenger> partial_input_;
  RateLimitedLog peer_log_;
};

}  // namespace asyncore::messenger
