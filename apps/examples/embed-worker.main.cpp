// embed-worker: the loop living inside a program that has other threads.
//
// A line server: each request line is a number N; a worker thread (not the loop) computes the
// N-th prime, and hands the answer back to the loop with call_soon_threadsafe(), which then writes
// it to the client that asked, if that client is still connected. The loop never blocks on the
// computation and the worker never touches a socket.
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <deque>
#include <mutex>
#include <thread>

#include <asyncore/asyncore.h>
#include <asyncore/net/tcp_server.h>
#include <asyncore/stream/buffered_stream.h>
#include "apps/common/cli.h"

using namespace asyncore;

namespace {

// A queue of jobs for the worker thread; results go back through the loop.
class Worker {
 public:
  explicit Worker(ChannelMap& loop) : loop_(loop), thread_([this] { run(); }) {}
  ~Worker() {
    {
      std::lock_guard lock(mutex_);
      done_ = true;
    }
    wake_.notify_one();
    thread_.join();
  }
  void submit(long n, std::function<void(long)> deliver) {
    {
      std::lock_guard lock(mutex_);
      jobs_.push_back({n, std::move(deliver)});
    }
    wake_.notify_one();
  }

 private:
  struct Job {
    long n;
    std::function<void(long)> deliver;  // runs on the loop thread
  };
  static long nth_prime(long n) {
    long count = 0;
    for (long candidate = 2;; ++candidate) {
      bool prime = true;
      for (long d = 2; d * d <= candidate; ++d) {
        if (candidate % d == 0) {
          prime = false;
          break;
        }
      }
      if (prime && ++count == n) return candidate;
    }
  }
  void run() {
    for (;;) {
      Job job;
      {
        std::unique_lock lock(mutex_);
        wake_.wait(lock, [this] { return done_ || !jobs_.empty(); });
        if (done_) return;
        job = std::move(jobs_.front());
        jobs_.pop_front();
      }
      long result = nth_prime(job.n);
      loop_.call_soon_threadsafe([deliver = std::move(job.deliver), result] { deliver(result); });
    }
  }
  ChannelMap& loop_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Job> jobs_;
  bool done_ = false;
  std::thread thread_;  // last: starts after everything it uses exists
};

class PrimeSession final : public BufferedStream {
 public:
  PrimeSession(Fd socket, Worker& worker) : BufferedStream(std::move(socket)), worker_(worker) {}
  void handle_read() override {
    char buffer[4096];
    size_t n = recv_into(buffer, sizeof buffer);
    input_.append(buffer, n);
    for (size_t nl; (nl = input_.find('\n')) != std::string::npos;) {
      std::string line = input_.substr(0, nl);
      input_.erase(0, nl + 1);
      char* end = nullptr;
      long value = std::strtol(line.c_str(), &end, 10);
      if (line.empty() || *end != '\0' || value < 1 || value > 1000000) {
        send("error: expected a number 1..1000000\n");
        continue;
      }
      auto self = std::static_pointer_cast<PrimeSession>(shared_from_this());
      std::weak_ptr<PrimeSession> weak = self;
      ++outstanding_;
      worker_.submit(value, [weak, value](long prime) {
        auto session = weak.lock();
        if (!session || !session->is_open()) return;  // the client left meanwhile
        session->send("prime " + std::to_string(value) + " = " + std::to_string(prime) + "\n");
        if (--session->outstanding_ == 0 && session->at_eof()) session->close_when_done();
      });
    }
    if (input_.size() > 4096) close();
  }
  // The client is done sending; answer what it asked, then close.
  void handle_eof() override {
    if (outstanding_ == 0) close_when_done();
  }

 private:
  Worker& worker_;
  int outstanding_ = 0;
  std::string input_;
};

}  // namespace

int main(int argc, char** argv) {
  std::string host = "127.0.0.1";
  int port = 7010;
  Cli cli("embed-worker", "[--host H] [--port P]",
          "Answers 'N' lines with the N-th prime, computed on a worker thread.");
  cli.option("--host", &host, "H", "address to listen on (default 127.0.0.1)");
  cli.option("--port", &port, "P", "port (default 7010; 0 picks a free one)", 0, 65535);
  cli.parse(argc, argv);

  ChannelMap& loop = socket_map();
  Worker worker(loop);
  std::shared_ptr<TcpServer> server;
  try {
    server = make_server(Address::resolve(host, static_cast<uint16_t>(port)),
                         [&](Fd socket, const Address&) { make<PrimeSession>(std::move(socket), worker); });
  } catch (const std::exception& e) {
    cli.fail(std::string("cannot listen: ") + e.what());
  }
  announce_listening("primes", server->server_address);
  loop.add_signal_handler(SIGINT, [&] { loop.stop(); });
  loop.add_signal_handler(SIGTERM, [&] { loop.stop(); });
  loop.run();
  loop.close_all();
  return 0;
}
