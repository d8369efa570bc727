// CommandClient: the seed's asyncore Client, line-based: connects to the command port, sends
// command lines, and hands each JSON reply line to `on_reply`. `on_lost` is called once if the
// connection fails or ends before close() (the server cannot be reached or went away).
#pragma once
#include <functional>
#include <string>
#include <string_view>

#include <asyncore/chat/async_chat.h>

namespace asyncore::sync {

class CommandClient : public AsyncChat {
 public:
  using OnReply = std::function<void(std::string_view line)>;
  using OnLost = std::function<void(std::string_view reason)>;

  CommandClient(const Address& server, OnReply on_reply, OnLost on_lost, ChannelMap* map = nullptr);

  void send_command(std::string_view command);  // queued until connected
  void finish();                                 // closes without calling on_lost

  void handle_connect() override;
  void collect_incoming_data(std::string_view data) override { reply_.append(data); }
  void found_terminator() override;
  void handle_close() override;
  void handle_error(const std::exception& error) override;

 private:
  void lost(std::string_view reason);
  OnReply on_reply_;
  OnLost on_lost_;
  std::string reply_;
  std::string queued_;  // commands written before the connection was made
  bool finished_ = false;
};

}  // namespace asyncore::sync
