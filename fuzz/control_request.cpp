// A control-socket request as a local process may send it: the reply both
// daemons give to one they do not know echoes it, and must always be valid
// JSON (invalid UTF-8 replaced, never thrown).
#include <nlohmann/json.hpp>

#include "daemon/json_reply.hpp"
#include "fuzz.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace tund;
  const std::string request(reinterpret_cast<const char*>(data), size);
  const std::string reply = daemon::unknown_request_reply(request);
  const auto parsed = nlohmann::json::parse(reply, nullptr, false);
  fuzz::check(!parsed.is_discarded() && parsed.contains("error"), "reply is JSON with an error");
  return 0;
}
