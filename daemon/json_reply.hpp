// Every JSON text the daemons hand out (control replies, status) goes through
// here: bytes that are not UTF-8 (a request echoed back, an odd interface
// name) are replaced, never thrown (nlohmann's dump() throws on them).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace tund::daemon {

inline std::string to_reply(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// The answer to a request neither daemon knows: it names the request (cut).
inline std::string unknown_request_reply(const std::string& request) {
  return to_reply(nlohmann::json{{"error", "unknown request '" + request.substr(0, 64) + "'"}});
}

}  // namespace tund::daemon
