// The msg-peer program's logic (the original filer_client): reports to the hub, keeps the
// directory it multicasts, talks to other peers directly (text and files), and runs the
// commands read from stdin (see peer_command.h). Every line for the user goes through `print`.
#pragma once
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "apps/messenger/client.h"
#include "apps/messenger/directory.h"
#include "apps/messenger/file_receiver.h"
#include "apps/messenger/file_sender.h"
#include "apps/messenger/peer_command.h"
#include "apps/messenger/server.h"
#include <asyncore/rate_limited_log.h>

namespace asyncore::messenger {

struct HubAddress {
  std::string host = "127.0.0.1";
  std::uint16_t port = 9000;
};

struct PeerOptions {
  std::string name;
  // The hubs sharing one directory (msg-hub --redis): the peer reports to one at a time and,
  // when that one is lost, goes on with the next.
  std::vector<HubAddress> hubs{HubAddress{}};
  std::string host = "127.0.0.1";  // where to listen for other peers
  std::uint16_t port = 0;
  double report = 1.0;  // seconds between reports to the hub
  std::string inbox;
  ConnectionCaps caps{.max_connections = 1024, .max_per_peer = 64};  // inbound connections from peers
  MessengerLimits connection;  // what frames from other peers may hold, and for how long
  std::string hub_token;       // sent with each report when the hub wants one (--hub-token-file)
  FileLimits files;
  // Who may send us files (--accept-files-from): nobody unless asked for, everybody, or the
  // peers named, each only from the address the hub lists for it.
  enum class FilesFrom { none, all, named };
  FilesFrom accept_files = FilesFrom::none;
  std::set<std::string> accept_files_from;  // the names, for FilesFrom::named
};

// Parses --accept-files-from's value: "none", "all" or NAME,NAME; throws std::invalid_argument.
void parse_accept_files_from(std::string_view text, PeerOptions& options);

class Peer {
 public:
  using Print = std::function<void(const std::string& line)>;
  // Listens at once (throws std::system_error when it cannot) and starts reporting to the hub.
  Peer(PeerOptions options, Print print, ChannelMap* map = nullptr);
  ~Peer();
  Peer(const Peer&) = delete;
  Peer& operator=(const Peer&) = delete;

  const Address& address() const { return inbound_.address(); }
  const ConnectionLimits& connection_limits() const { return inbound_.connection_limits(); }
  void run_command(const std::string& line);
  // Stops reporting, lets queued messages and file transfers finish (at most `max_wait`
  // seconds), closes everything and calls `done`.
  void shut_down(double max_wait, std::function<void()> done);

  std::function<void()> on_quit;  // the quit command (after its "ok quit" line)

 private:
  using Ready = std::function<void(const MessengerPtr&)>;
  using Failed = std::function<void(const std::string& reason)>;
  struct FileJob {
    std::string path;
  };
  struct Link {  // our outgoing connection to one peer
    MessengerPtr connection;
    std::vector<Ready> on_ready;
    std::vector<Failed> on_failed;
    std::deque<FileJob> files;
    std::shared_ptr<FileSender> active_file;
    ScopedTimer next_file;  // start_next_file at the next pass
  };

  void connect_hub();
  void send_report();
  void hub_message(const Header& header, const std::string& body);
  void peer_message(const MessengerPtr& m, const std::string& key, const Header& header, const std::string& body);
  void file_chunk(const MessengerPtr& m, const std::string& key, const std::string& from, const Header& header,
                  const std::string& body);
  // Why files from `from` over m are not accepted, or "" when they are.
  std::string file_sender_problem(const MessengerPtr& m, const std::string& from) const;
  std::string directory_text() const;

  void with_link(const std::string& name, Ready ready, Failed failed);
  void link_up(const MessengerPtr& m);
  void link_failed(const MessengerPtr& m, const std::string& reason);
  void link_closed(const MessengerPtr& m);
  std::string link_name(const MessengerPtr& m) const;
  void start_next_file(const std::string& name);

  void do_msg(const PeerCommand& command);
  void do_broadcast(const PeerCommand& command);
  void do_send(const PeerCommand& command);
  bool busy() const;
  void finish_shutdown();

  PeerOptions options_;
  Print print_;
  MessengerServer inbound_;   // connections other peers opened to us
  MessengerClient outbound_;  // connections we opened to other peers
  MessengerClient hub_;
  MessengerPtr hub_link_;
  FileReceiver receiver_;
  std::map<std::string, PeerEntry> directory_;  // by name
  std::map<std::string, Link> links_;           // by peer name
  std::unordered_map<const Messenger*, std::string> link_names_;
  std::size_t hub_index_ = 0;  // the hub in options_.hubs reported to now
  ScopedTimer report_timer_, reconnect_timer_, shutdown_timer_;
  RateLimitedLog refused_file_log_;  // any peer can send refused chunks at will
  bool shutting_down_ = false;
  Clock::time_point shutdown_deadline_{};
  std::function<void()> shutdown_done_;
};

}  // namespace asyncore::messenger
