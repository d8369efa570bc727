#include "apps/sync/command_client.h"

namespace asyncore::sync {

CommandClient::CommandClient(const Address& server, OnReply on_reply, OnLost on_lost, ChannelMap* map)
    : AsyncChat(map), on_reply_(std::move(on_reply)), on_lost_(std::move(on_lost)) {
  set_terminator("\n");
  max_incoming = 64 * 1024 * 1024;  // a log reply of many long lines is still one line
  create_socket(server.family());
  connect(server);
}

void CommandClient::send_command(std::string_view command) {
  std::string line = std::string(command) + "\n";
  if (connected) {
    push(line);
  } else {
    queued_ += line;
  }
}

void CommandClient::handle_connect() {
  if (!queued_.empty()) push(std::exchange(queued_, std::string()));
}

void CommandClient::found_terminator() {
  std::string line = std::exchange(reply_, std::string());
  if (on_reply_) on_reply_(line);
}

void CommandClient::finish() {
  finished_ = true;
  close();
}

void CommandClient::handle_close() {
  close();
  lost("the server closed the connection");
}

void CommandClient::handle_error(const std::exception& error) {
  close();
  lost(error.what());
}

void CommandClient::lost(std::string_view reason) {
  if (finished_) return;
  finished_ = true;
  if (on_lost_) on_lost_(reason);
}

}  // namespace asyncore::sync
