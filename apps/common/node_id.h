// A node's name among the processes sharing one Redis (device-server, msg-hub --node-id).
#pragma once
#include <optional>
#include <string>
#include <string_view>

namespace asyncore {

std::string default_node_id();  // "<host name>-<pid>"

// Why `name` cannot be a node name, or nullopt. Node names go into Redis keys, channels and
// space-separated messages: letters, digits, '-', '_' and '.' only.
std::optional<std::string> node_id_problem(std::string_view name);

}  // namespace asyncore
