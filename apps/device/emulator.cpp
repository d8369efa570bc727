#include "apps/device/emulator.h"

#include <netinet/in.h>

#include <cmath>
#include <cstdio>
#include <system_error>

#include "apps/device/commands.h"
#include "apps/device/message.h"
#include <asyncore/log_escape.h>

namespace asyncore::device {
namespace {

constexpr int kLoginIdent = 1;

}  // namespace

// ---- DeviceLink -------------------------------------------------------------------------------

DeviceLink::DeviceLink(Fleet& fleet, EmulatedDevice& device) : BufferedStream(&fleet.map()), fleet_(fleet), device_(device) {
  create_socket(fleet.options().server_for(device.imei.number() + device.moves).family());
  if (const Address& source = fleet.options().source; !source.empty()) {
    // The port is chosen at connect(), for the whole 4-tuple, not reserved here by bind().
    const int one = 1;
    ::setsockopt(fileno(), IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    const Address::Raw raw = source.raw();
    if (::bind(fileno(), raw.get(), raw.length) != 0) {
      throw std::system_error(errno, std::generic_category(), "bind " + source.to_string());
    }
  }
}

DeviceLink::~DeviceLink() {
  heartbeat_timer_.cancel();
  report_timer_.cancel();
  login_timer_.cancel();
}

void DeviceLink::send_raw(std::string_view body) {
  ++fleet_.stats().frames_out;
  send(encode_frame(body));
}

void DeviceLink::handle_connect() {
  ++fleet_.stats().connects;
  next_ident_ = kLoginIdent - 1;
  send_message(1, [this](JsonLine& login) {
    login("imei", device_.imei)("heartbeat", static_cast<int>(device_.heartbeat))("fw", "emulator-1.0")("model", "asyncore-watch");
    if (!device_.token.empty()) login("token", device_.token);
  });
  login_timer_ = map().call_later(fleet_.options().login_reply_timeout, [this] {
    log_info("device " + device_.imei.str() + ": no login reply; reconnecting", LogLevel::warning);
    handle_close();
  });
}

void DeviceLink::handle_read() {
  const std::size_t n = recv_into(fleet_.scratch(), fleet_.scratch_size());
  if (n == 0) return;
  extractor_.feed(std::string_view(fleet_.scratch(), n));
  while (is_open() && !gone_) {
    FrameEvent event = extractor_.next();
    if (event.kind == FrameEvent::need_more) return;
    if (event.kind != FrameEvent::frame) {
      log_info("device " + device_.imei.str() + ": bad frame length from the server", LogLevel::warning);
      return handle_close();
    }
    ++fleet_.stats().frames_in;
    json::ParseResult parsed = json::try_parse(event.body);
    if (!parsed || !parsed.value->is_object()) {
      log_info("device " + device_.imei.str() + ": unreadable frame from the server", LogLevel::warning);
      return handle_close();
    }
    handle_message(*parsed.value);
  }
}

void DeviceLink::handle_message(const json::Value& message) {
  const json::Value* type = message.get("type");
  const json::Value* ident = message.get("ident");
  const json::Value* status = message.get("status");
  if (!type || !type->is_int()) return;
  const int t = static_cast<int>(type->as_int());
  const int i = ident && ident->is_int() ? static_cast<int>(ident->as_int()) : 0;
  if (t >= 100) return handle_command(t, i, message);
  const int s = status && status->is_int() ? static_cast<int>(status->as_int()) : 0;
  if (t == 1 && !logged_in_) {
    login_timer_.cancel();
    if (s == 200) {
      logged_in_ = true;
      fleet_.logged_in(device_);
      schedule_heartbeat(fleet_.random(0.2, 1.0) * device_.heartbeat);
      if (fleet_.options().report > 0) schedule_report(fleet_.random(0.2, 1.0) * fleet_.options().report);
      return;
    }
    ++fleet_.stats().login_failures;
    const json::Value* error = message.get("error");
    log_info("device " + device_.imei.str() + ": login refused (" + std::to_string(s) + " " +
                 log_escape(error && error->is_string() ? error->as_string() : std::string()) + ")",
             LogLevel::warning);
    if (s == 401 || s == 403) {
      // Retrying a refused identity only hammers the server; a real device would wait for a fix.
      device_.stopped = true;
      ++fleet_.stats().refused;
    }
    return handle_close();
  }
  if (s != 200) {
    ++fleet_.stats().report_errors;
    log_info("device " + device_.imei.str() + ": server answered " + log_escape(json::dump(message)), LogLevel::warning);
  }
}

void DeviceLink::handle_command(int type, int ident, const json::Value& message) {
  ++fleet_.stats().commands;
  auto ack = [&](int status) {
    ++fleet_.stats().acks;
    send_raw(status_reply(type, ident, status));
  };
  switch (type) {
    case set_heartbeat: {
      const json::Value* interval = message.get("interval");
      if (!interval || !interval->is_int()) return ack(400);
      ack(200);
      device_.heartbeat = clamp_heartbeat(interval->as_int());
      return schedule_heartbeat(device_.heartbeat);
    }
    case locate_now:
      ack(200);
      return send_location();
    case device::message:
      return ack(200);
    case lock: {
      const json::Value* locked = message.get("locked");
      if (!locked || !locked->is_bool()) return ack(400);
      device_.locked = locked->as_bool();
      return ack(200);
    }
    case control: {
      const json::Value* action = message.get("action");
      if (!action || !action->is_string()) return ack(400);
      const std::string& a = action->as_string();
      if (a != "reboot" && a != "poweroff" && a != "relogin") return ack(400);
      ack(200);
      gone_ = true;
      disconnected();
      close_when_done();
      // A powered-off watch stays off; a rebooting one takes a moment; relogin is immediate.
      if (a == "poweroff") device_.stopped = true;
      else fleet_.schedule_reconnect(device_, a == "reboot" ? 1.0 : 0.05);
      return;
    }
    default:
      return ack(404);
  }
}

void DeviceLink::schedule_heartbeat(double delay) {
  heartbeat_timer_.cancel();
  heartbeat_timer_ = map().call_later(delay, [this] {
    send_heartbeat();
    schedule_heartbeat(device_.heartbeat);
  });
}

void DeviceLink::schedule_report(double delay) {
  report_timer_ = map().call_later(delay, [this] {
    send_location();
    schedule_report(fleet_.options().report);
  });
}

void DeviceLink::send_heartbeat() {
  if (device_.battery > 5 && fleet_.random(0, 1) < 0.1) --device_.battery;
  send_message(3, [this](JsonLine& m) { m("battery", device_.battery); });
}

void DeviceLink::send_location() {
  device_.lat = std::clamp(device_.lat + fleet_.random(-1e-4, 1e-4), -90.0, 90.0);
  device_.lon = std::clamp(device_.lon + fleet_.random(-1e-4, 1e-4), -180.0, 180.0);
  send_message(4, [this](JsonLine& m) { m("lat", device_.lat)("lon", device_.lon)("loc_type", 1); });
}

void DeviceLink::raise_alarm(std::string_view alarm) {
  if (!logged_in_) return;
  ++fleet_.stats().alarms;
  send_message(5, [this, alarm](JsonLine& m) { m("alarm", alarm)("lat", device_.lat)("lon", device_.lon); });
}

void DeviceLink::hang_up() {
  gone_ = true;
  disconnected();
  close();
}

void DeviceLink::disconnected() {
  heartbeat_timer_.cancel();
  report_timer_.cancel();
  login_timer_.cancel();
  if (logged_in_) {
    logged_in_ = false;
    --fleet_.stats().online;
    ++fleet_.stats().disconnects;
  }
}

void DeviceLink::handle_close() {
  const bool was_gone = gone_;
  gone_ = true;
  if (!logged_in_) fleet_.first_attempt_done(device_);
  disconnected();
  close();
  if (!was_gone) fleet_.schedule_reconnect(device_, -1);
}

void DeviceLink::handle_error(const std::exception& error) {
  if (!logged_in_) ++fleet_.stats().connect_failures;
  log_info("device " + device_.imei.str() + ": " + error.what(), LogLevel::debug);
  handle_close();
}

// ---- Fleet ------------------------------------------------------------------------------------

Fleet::Fleet(ChannelMap& map, EmulatorOptions options)
    : map_(map), options_(std::move(options)), scratch_(64 * 1024), rng_(std::random_device{}()) {
  devices_.reserve(static_cast<std::size_t>(options_.devices));
  for (int i = 0; i < options_.devices; ++i) {
    auto device = std::make_unique<EmulatedDevice>();
    device->imei = Imei::from_number(options_.imei_base + static_cast<std::uint64_t>(i));
    if (static_cast<std::size_t>(i) < options_.tokens.size()) device->token = options_.tokens[static_cast<std::size_t>(i)];
    device->heartbeat = options_.heartbeat;
    device->lat = random(-60, 60);
    device->lon = random(-170, 170);
    devices_.push_back(std::move(device));
  }
}

double Fleet::random(double low, double high) { return std::uniform_real_distribution<double>(low, high)(rng_); }

void Fleet::start() {
  started_ = Clock::now();
  launch_next();
}

void Fleet::launch_next() {
  if (stopping_ || launched_ >= devices_.size()) return;
  // As fast as possible still goes in slices, so the loop serves replies between them.
  const double rate = options_.connect_rate;
  if (rate > 0) {
    const std::size_t slice = std::max<std::size_t>(1, static_cast<std::size_t>(rate / 100));
    for (std::size_t i = 0; i < slice && launched_ < devices_.size(); ++i) launch(*devices_[launched_++]);
    if (launched_ < devices_.size()) launch_timer_ = map_.call_later(static_cast<double>(slice) / rate, [this] { launch_next(); });
    return;
  }
  // As fast as the server takes them: keep a window of first logins in flight, topped up as
  // they resolve (first_attempt_done), so the listen queue never overflows into SYN retries.
  while (launched_ < devices_.size() && in_flight_ < options_.connect_window) launch(*devices_[launched_++]);
}

void Fleet::launch(EmulatedDevice& device) {
  ++in_flight_;
  connect(device);
}

void Fleet::first_attempt_done(EmulatedDevice& device) {
  if (!device.first_attempt) return;
  device.first_attempt = false;
  --in_flight_;
  if (options_.connect_rate <= 0 && launched_ < devices_.size() && !launch_scheduled_) {
    launch_scheduled_ = true;
    launch_timer_ = map_.call_soon([this] {
      launch_scheduled_ = false;
      launch_next();
    });
  }
}

void Fleet::connect(EmulatedDevice& device) {
  if (stopping_ || device.stopped) return;
  auto link = std::make_shared<DeviceLink>(*this, device);
  adopt_dispatcher(link);
  device.link = link;
  try {
    link->connect(options_.server_for(device.imei.number() + device.moves));
    // Optimistic: on loopback the handshake is already done when connect() returns EINPROGRESS,
    // so the login goes now; otherwise it waits in the output buffer until the socket is
    // writable, and a refused connect shows up as a send error (caught below) or a hangup. Saves
    // the writability event, its getsockopt(SO_ERROR) and an epoll_ctl per login: the emulator
    // is the load generator and must drive more logins than the server takes.
    link->handle_connect_event();
  } catch (const std::exception& e) {
    link->handle_error(e);
  }
}

void Fleet::schedule_reconnect(EmulatedDevice& device, double delay) {
  if (stopping_ || device.stopped) return;
  if (delay < 0) {
    if (options_.failover) ++device.moves;
    device.backoff = device.backoff == 0 ? options_.backoff_min : std::min(device.backoff * 2, options_.backoff_max);
    delay = device.backoff * random(0.75, 1.25);  // jitter: a fleet must not come back in lockstep
  }
  device.reconnect.cancel();
  device.reconnect = map_.call_later(delay, [this, &device] { connect(device); });
}

void Fleet::logged_in(EmulatedDevice& device) {
  ++stats_.logins;
  ++stats_.online;
  first_attempt_done(device);
  device.backoff = 0;
  if (!device.ever_logged_in) {
    device.ever_logged_in = true;
    ++stats_.ever_logged_in;
  }
  if (!all_reported_ && stats_.ever_logged_in == devices_.size()) {
    all_reported_ = true;
    const double seconds = std::chrono::duration<double>(Clock::now() - started_).count();
    if (before_output) before_output();
    std::printf("all logged in %zu devices in %.3f s\n", devices_.size(), seconds);
    std::fflush(stdout);
  }
}

void Fleet::raise_alarms(std::string_view alarm) {
  for (auto& device : devices_) {
    if (auto link = device->link.lock()) link->raise_alarm(alarm);
  }
}

void Fleet::stop() {
  stopping_ = true;
  for (auto& device : devices_) {
    device->reconnect.cancel();
    if (auto link = device->link.lock(); link && link->is_open()) link->hang_up();
  }
}

std::string Fleet::status_line() const {
  char line[256];
  std::snprintf(line, sizeof line, "devices %zu online %zu logged-in-once %zu refused %zu frames out %llu in %llu acks %llu reconnects %llu",
                devices_.size(), stats_.online, stats_.ever_logged_in, stats_.refused,
                static_cast<unsigned long long>(stats_.frames_out), static_cast<unsigned long long>(stats_.frames_in),
                static_cast<unsigned long long>(stats_.acks), static_cast<unsigned long long>(stats_.disconnects));
  return line;
}

std::string Fleet::summary() const {
  char line[512];
  std::snprintf(line, sizeof line,
                "summary devices=%zu logged_in=%zu online=%zu failed=%llu refused=%zu logins=%llu connect_failures=%llu "
                "disconnects=%llu frames_out=%llu frames_in=%llu commands=%llu acks=%llu report_errors=%llu",
                devices_.size(), stats_.ever_logged_in, stats_.online, static_cast<unsigned long long>(stats_.login_failures),
                stats_.refused, static_cast<unsigned long long>(stats_.logins),
                static_cast<unsigned long long>(stats_.connect_failures), static_cast<unsigned long long>(stats_.disconnects),
                static_cast<unsigned long long>(stats_.frames_out), static_cast<unsigned long long>(stats_.frames_in),
                static_cast<unsigned long long>(stats_.commands), static_cast<unsigned long long>(stats_.acks),
                static_cast<unsigned long long>(stats_.report_errors));
  return line;
}

}  // namespace asyncore::device
