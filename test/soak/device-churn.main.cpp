// device-churn: keeps --concurrency connections to a device server, each playing one of a
// device's good or bad behaviours and then dropping the connection, forever (until SIGTERM):
// a normal session (login, heartbeats, location reports, then a plain close or a reset), garbage
// bytes, an oversized or zero length header, a frame that is not JSON, a frame of an unknown
// type, a login cut off mid-frame, and a connection that never says anything. IMEIs cycle over
// --devices numbers so the server's device table stops growing once each has been seen.
// On SIGTERM prints "churn connections=N sessions=N bad=N".
//
// device-churn --drain IMEI --token T: logs in as IMEI and prints "command TEXT" for each
// command delivered (acking none), then exits after a second of silence.
#include <csignal>
#include <cstdio>
#include <random>

#include <asyncore/asyncore.h>
#include "apps/common/cli.h"
#include <asyncore/stream/dispatcher_with_send.h>

using namespace asyncore;

namespace {

std::string frame(std::string_view body) {
  std::string out(4, '\0');
  for (int i = 0; i < 4; ++i) out[i] = static_cast<char>((body.size() >> (8 * (3 - i))) & 0xff);
  return out.append(body);
}

std::string login(const std::string& imei, const std::string& token) {
  std::string body = R"({"type":1,"ident":1,"imei":")" + imei + R"(","heartbeat":10)";
  if (!token.empty()) body += R"(,"token":")" + token + "\"";
  return frame(body + "}");
}

struct Counts {
  long connections = 0, sessions = 0, bad = 0;
};

class Churn final : public DispatcherWithSend {
 public:
  Churn(const Address& server, std::string imei, int behaviour, double lifetime, Counts& counts)
      : imei_(std::move(imei)), behaviour_(behaviour), counts_(counts) {
    create_socket(server.family());
    connect(server);
    ++counts_.connections;
    end_ = call_later(lifetime, [this] { finish(); });
  }
  ~Churn() override { end_.cancel(); tick_.cancel(); }

  void handle_connect() override {
    switch (behaviour_) {
      case 0: case 1: case 2:  // normal sessions are the common case
        ++counts_.sessions;
        send(login(imei_, ""));
        tick_ = call_later(0.5, [this] { report(); });
        return;
      case 3: ++counts_.bad; send("\x7f garbage that is no frame at all \r\n\r\n"); return;
      case 4: ++counts_.bad; send(std::string("\x7f\xff\xff\xff", 4)); return;          // oversized length
      case 5: ++counts_.bad; send(std::string(4, '\0')); return;                       // zero length
      case 6: ++counts_.bad; send(frame("{not json")); return;
      case 7: ++counts_.bad; send(login(imei_, "") + frame(R"({"type":999,"ident":2})")); return;
      case 8: ++counts_.bad; send(login(imei_, "").substr(0, 9)); return;               // cut mid-frame
      default: ++counts_.bad; return;                                                   // silent
    }
  }
  void handle_read() override {
    char buffer[4096];
    recv_into(buffer, sizeof buffer);  // replies and commands are dropped: never acked
  }
  void handle_close() override { close(); }
  void handle_error(const std::exception&) override { close(); }

 private:
  void report() {
    static int n = 0;
    send(frame(R"({"type":2,"ident":)" + std::to_string(++n % 60000 + 3) + "}"));  // heartbeat
    send(frame(R"({"type":3,"ident":)" + std::to_string(++n % 60000 + 3) +
               R"(,"loc_type":1,"lat":31.2,"lon":121.5})"));
    tick_ = call_later(0.5, [this] { report(); });
  }
  void finish() {
    if (behaviour_ == 1 && is_open()) {  // a reset instead of a close
      linger lg{1, 0};
      ::setsockopt(fileno(), SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    }
    close();
  }

  std::string imei_;
  int behaviour_;
  Counts& counts_;
  TimerHandle end_, tick_;
};

class Drain final : public DispatcherWithSend {
 public:
  Drain(const Address& server, const std::string& imei, const std::string& token) {
    create_socket(server.family());
    connect(server);
    send(login(imei, token));
    quiet_ = call_later(3.0, [this] { close(); });
  }
  ~Drain() override { quiet_.cancel(); }
  void handle_connect() override {}
  void handle_read() override {
    char buffer[65536];
    input_.append(buffer, recv_into(buffer, sizeof buffer));
    while (input_.size() >= 4) {
      std::size_t length = 0;
      for (int i = 0; i < 4; ++i) length = length << 8 | static_cast<unsigned char>(input_[i]);
      if (input_.size() < 4 + length) break;
      std::string body = input_.substr(4, length);
      input_.erase(0, 4 + length);
      // The command's text field, as the soak queued it ("text":"soak-N").
      if (auto at = body.find(R"("text":")"); at != std::string::npos) {
        std::printf("command %s\n", body.substr(at + 8, body.find('"', at + 8) - at - 8).c_str());
      }
      quiet_.cancel();
      quiet_ = call_later(1.0, [this] { close(); });
    }
  }
  void handle_close() override { close(); }

 private:
  std::string input_;
  TimerHandle quiet_;
};

}  // namespace

int main(int argc, char** argv) {
  std::string host = "127.0.0.1", imei_base = "865000000000000", drain, token;
  int port = 7000, concurrency = 20, devices = 200;
  Cli cli("device-churn", "--port P [--concurrency N] [--devices N] | --drain IMEI --token T",
          "Churns good and bad device connections against a device server (soak test load).");
  cli.option("--host", &host, "H", "server address (default 127.0.0.1)");
  cli.option("--port", &port, "P", "device port", 1, 65535);
  cli.option("--concurrency", &concurrency, "N", "connections kept open (default 20)", 1, 10000);
  cli.option("--devices", &devices, "N", "distinct IMEIs used, from --imei-base (default 200)", 1, 100000);
  cli.option("--imei-base", &imei_base, "IMEI", "first IMEI (default 865000000000000)");
  cli.option("--drain", &drain, "IMEI", "log in as IMEI, print the commands delivered, exit");
  cli.option("--token", &token, "T", "token for --drain");
  cli.parse(argc, argv);
  const Address server = Address::resolve(host, static_cast<uint16_t>(port));
  if (!drain.empty()) {
    make<Drain>(server, drain, token);
    loop(1.0);
    return 0;
  }

  std::mt19937 random(12345);
  Counts counts;
  const long long base = std::stoll(imei_base);
  std::function<void()> top_up;
  top_up = [&] {
    // Replace the connections that ended; a short timer keeps the churn going.
    while (static_cast<int>(socket_map().size()) < concurrency) {
      std::string imei = std::to_string(base + static_cast<long long>(random() % static_cast<unsigned>(devices)));
      double lifetime = 0.2 + (random() % 3000) / 1000.0;
      try {
        make<Churn>(server, imei, static_cast<int>(random() % 10), lifetime, counts);
      } catch (const std::exception& e) {
        std::fprintf(stderr, "device-churn: %s\n", e.what());
        break;
      }
    }
    call_later(0.05, top_up);
  };
  top_up();
  auto stop = [&] {
    std::printf("churn connections=%ld sessions=%ld bad=%ld\n", counts.connections, counts.sessions, counts.bad);
    std::fflush(stdout);
    std::_Exit(0);
  };
  socket_map().add_signal_handler(SIGTERM, stop);
  socket_map().add_signal_handler(SIGINT, stop);
  socket_map().run();
  return 0;
}
