// The TOML config loaders (client and hub) on fuzzed files: a clean
// config::ConfigError or a result, never a crash or another exception.
#include <unistd.h>

#include <fstream>

#include "fuzz.hpp"
#include "hub/hub_config.hpp"
#include "tund/client_config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace tund;
  if (size < 1) return 0;
  static const std::string dir = [] {
    char tmpl[] = "/tmp/tund-fuzz-config-XXXXXX";
    const char* d = ::mkdtemp(tmpl);
    std::ofstream(std::string(d) + "/k.key") << "YAcrgGfH0jFbdqVwN7sjcAgbpNnyTk5ARNAxcQm/cEI=\n";
    return std::string(d);
  }();
  const std::string path = dir + "/c.toml";
  {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f.write(reinterpret_cast<const char*>(data + 1), static_cast<std::streamsize>(size - 1));
  }
  try {
    if (data[0] % 2)
      (void)hub::load_hub_config(path);
    else
      (void)client::load_client_config(path);
  } catch (const config::ConfigError&) {
  }
  return 0;
}
