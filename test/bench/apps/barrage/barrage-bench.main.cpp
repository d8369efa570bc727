// barrage-bench: the barrage figures. Parse rate of the client's hot path (PacketDecoder and
// STT decoding of chatmsg), then fan-out from one simulator to 1, 100 and 5,000 clients held by
// barrage-load (deliveries/s = messages x clients), with the simulator's resident memory.
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>

#include "apps/barrage/generator.h"
#include "apps/barrage/packet.h"
#include "apps/barrage/stt.h"
#include "test/support/testing.h"

using namespace asyncore::barrage;
using Seconds = std::chrono::duration<double>;

namespace {

double parse_rate() {
  std::string stream;
  const int distinct = 1000;
  for (int seq = 0; seq < distinct; ++seq) append_packet(stream, generated_message(1, static_cast<uint64_t>(seq * 8)), server_message_type);
  Fields fields;
  size_t chats = 0, text_bytes = 0;
  auto start = std::chrono::steady_clock::now();
  for (int round = 0; round < 300; ++round) {
    PacketDecoder decoder;
    for (size_t offset = 0; offset < stream.size(); offset += 65536) {  // as recv would hand it over
      decoder.feed(std::string_view(stream).substr(offset, 65536));
      while (auto packet = decoder.next()) {
        decode_map_into(packet->text, fields, Mode::lenient);
        chats += fields.get("type") == "chatmsg";
        text_bytes += fields.get("txt").size();
      }
    }
  }
  double seconds = Seconds(std::chrono::steady_clock::now() - start).count();
  std::printf("parse: %zu chatmsg (%zu bytes each on average) in %.3f s: %.0f chatmsg/s\n", chats,
              stream.size() / distinct, seconds, static_cast<double>(chats) / seconds);
  return text_bytes > 0 ? static_cast<double>(chats) / seconds : 0;
}

// The simulator encodes each broadcast once per room; this is what that costs.
void generate_rate() {
  size_t bytes = 0;
  const uint64_t count = 200000;
  auto start = std::chrono::steady_clock::now();
  for (uint64_t seq = 0; seq < count; ++seq) bytes += generated_message(1, seq).size();
  double seconds = Seconds(std::chrono::steady_clock::now() - start).count();
  std::printf("generate: %llu messages (%zu bytes each on average): %.0f messages/s\n",
              static_cast<unsigned long long>(count), bytes / count, static_cast<double>(count) / seconds);
}

std::string status_field(int pid, const std::string& name) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(name + ":", 0) == 0) {
      size_t begin = line.find_first_not_of(" \t", name.size() + 1);
      return line.substr(begin);
    }
  }
  return "?";
}

void fan_out(int clients, double rate, long messages, double batch) {
  testing::Child server({testing::bin_path("barrage-server"), "--port", "0", "--quiet", "--mode", "coalesce", "--rate",
                         std::to_string(rate), "--total", std::to_string(messages), "--wait-for", std::to_string(clients),
                         "--batch", std::to_string(batch), "--max-queue", std::to_string(64 << 20)});
  int port = server.listening_port("barrage");
  testing::Child load({testing::bin_path("barrage-load"), "--port", std::to_string(port), "--room", "1", "--clients",
                       std::to_string(clients), "--expect", std::to_string(messages), "--timeout", "120"});
  std::string summary;
  while (auto line = load.read_line(Seconds(130))) {
    if (line->rfind("clients=", 0) == 0) summary = *line;
  }
  std::string rss = status_field(server.pid(), "VmRSS"), peak = status_field(server.pid(), "VmHWM");
  auto code = load.wait(Seconds(10));
  std::printf("fan-out %5d clients x %6ld messages: %s | server VmRSS %s (peak %s)%s\n", clients, messages, summary.c_str(),
              rss.c_str(), peak.c_str(), code == 0 ? "" : " | INCOMPLETE");
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  const bool quick = argc > 1 && std::string(argv[1]) == "--quick";
  const long scale = quick ? 1 : 4;
  parse_rate();
  generate_rate();
  // One client: bounded by generating (server) and parsing (client) on the same two cores.
  fan_out(1, 150000, 100000 * scale, 0.01);
  fan_out(100, 20000, 10000 * scale, 0.02);
  fan_out(5000, 400, 250 * scale, 0.05);
  return 0;
}
