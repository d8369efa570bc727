// Session: the simulator's side of one client connection. Answers login, join, heartbeats and
// keep-alives as the real server does, kicks the client after --idle-timeout without a packet,
// answers a malformed packet with error 51 and closes. Output is a bounded BufferedStream: a
// client that falls too far behind is dropped and nobody else notices.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "apps/barrage/packet.h"
#include "apps/barrage/stt.h"
#include <asyncore/asyncore.h>
#include <asyncore/stream/buffered_stream.h>
#include <asyncore/stream/byte_buffer.h>

namespace asyncore::barrage {

class Simulator;
class Room;

class Session final : public BufferedStream {
 public:
  Session(Fd socket, Simulator& server);
  ~Session() override;

  void start();
  // The packets of one broadcast (ends: where each packet ends), written as the mode wants: one
  // write for all (coalesce) or one per packet. Queued by reference when the client is behind.
  void deliver(const SharedBytes& batch, const std::vector<size_t>& ends);
  void say_goodbye();  // error 52, then close once flushed
  void detach();       // the server is going away first
  // Closed for the server's partial input budget: its unfinished packet is dropped at once.
  void drop_partial();

  size_t send(std::string_view data) override;
  bool readable() override;
  bool writable() override;
  void handle_write() override;
  void handle_read() override;
  void handle_close() override;

  Room* room = nullptr;
  size_t room_index = 0;  // kept by Room

 private:
  void handle_packet(std::string_view text);
  void login();
  void join_group();
  void refuse_room(std::string_view room_id);
  void malformed(const std::string& why);
  void reply(std::string_view text);
  void finish();  // close after everything queued was written
  void leave_room();
  void account_partial();  // tells the server how much unfinished packet is buffered now

  Simulator* server_;
  const bool split_;
  PacketDecoder decoder_;
  size_t partial_accounted_ = 0;
  Fields fields_;
  ScopedTimer idle_timer_;
  bool logged_in_ = false;
  bool finishing_ = false;
  std::string login_room_;
  ByteBuffer trickle_;  // split mode: everything goes out a byte at a time from here
};

}  // namespace asyncore::barrage
