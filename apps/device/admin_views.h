// The JSON the admin API answers with, built from the model cache (no HTTP here).
#pragma once
#include <cstddef>
#include <string>

#include "apps/device/device_store.h"
#include "apps/device/hub.h"
#include <asyncore/json/json.h>

namespace asyncore::device {

// `node`: this node's name when it is one of several (--redis): then "node" says where an online
// device is held.
json::Value device_json(Imei imei, const DeviceRecord& record, std::string_view node = {});
// {"total":N,"online":M,"devices":[...]} for every known device, ordered by IMEI.
json::Value devices_json(const DeviceStore& store, std::size_t online, std::string_view node = {});
// {"imei":..,"events":[...]} newest first, at most `limit`.
json::Value events_json(Imei imei, const DeviceRecord& record, std::size_t limit);
// The body answering a command request (serialized: written straight as text, it is on every
// round trip), and its HTTP status.
struct CommandAnswer {
  int status;
  std::string body;
};
CommandAnswer command_answer(const CommandResult& result);

}  // namespace asyncore::device
