// Device -> server reports: one handler per instruction type, found by number (the seed's
// `type_N` dispatch table). Adding an instruction is adding one handler to the table.
#pragma once
#include <optional>
#include <string>

#include "apps/device/device_store.h"
#include "apps/device/fields.h"

namespace asyncore::device {

class DeviceHub;
class DeviceSession;

struct ReportContext {
  DeviceHub& hub;
  DeviceSession& session;
  DeviceRecord& record;
  Imei imei;
  double now;  // unix seconds
  FieldReader& fields;
};

struct ReportReply {
  int status = 200;
  std::string extra;         // encoded members after "status", each starting with ','
  bool durable = false;      // it recorded events: answer once they are synced
  bool close_after = false;  // poweroff: close once the reply is written
};

using ReportHandler = ReportReply (*)(ReportContext&);

// nullptr for a type nobody handles (the caller answers 404).
ReportHandler find_report_handler(int type);

// A heartbeat's work once its fields are read: by the type 3 handler, and by the session for the
// heartbeats parse_heartbeat() reads. Always answered 200 at once (nothing in it waits for a sync).
void record_heartbeat(DeviceHub& hub, Imei imei, DeviceRecord& record, double now, std::optional<int> battery);

}  // namespace asyncore::device
