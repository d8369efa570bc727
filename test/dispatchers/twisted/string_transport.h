// StringTransport: a Transport that keeps what is written in memory (Twisted's
// proto_helpers.StringTransport), for testing protocols without sockets.
#pragma once
#include <string>

#include <asyncore/twisted/protocol.h>

namespace testing {

class StringTransport final : public asyncore::Transport {
 public:
  std::string written;
  bool lost = false, aborted = false, reading_paused = false;

  void write(std::string_view data) override {
    if (!lost) written.append(data);
  }
  void lose_connection() override { lost = true; }
  void abort_connection() override { lost = aborted = true; }
  asyncore::Address get_peer() const override { return asyncore::Address::ipv4("192.0.2.1", 4321); }
  asyncore::Address get_host() const override { return asyncore::Address::ipv4("127.0.0.1", 1234); }
  bool disconnecting() const override { return lost; }
  void pause_producing() override { reading_paused = true; }
  void resume_producing() override { reading_paused = false; }
  void register_producer(asyncore::Producer&) override {}
  void unregister_producer() override {}
  void set_write_buffer_limits(size_t, size_t) override {}
  size_t write_buffer_size() const override { return 0; }
};

}  // namespace testing
