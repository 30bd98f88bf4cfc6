// Which config file a command means, and what a unit instance's file implies.
//
// `tund@NAME` reads /etc/tund/NAME.toml; so do `tund run NAME`, `tund status
// NAME` and the unit's ExecStopPost (`tund cleanup NAME`). The instance name
// is derived from the file's path, not passed beside it, so every command that
// loads /etc/tund/NAME.toml, whether named by NAME or by -c, sees the same
// defaults (the client's TUN and control socket; tund/client_config.hpp).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tund::config {

inline constexpr const char* kConfigDir = "/etc/tund";

// NAME: a file name without '/', not "." or "..", not empty.
bool valid_instance_name(std::string_view name);

// DIR/NAME.toml.
std::string instance_config_path(const std::string& name, const std::string& dir = kConfigDir);

// NAME when `path` is DIR/NAME.toml (made absolute and normalized first, so
// "./NAME.toml" inside DIR counts; symlinks are not followed: the name is the
// one the unit uses). Nothing for any other path.
std::optional<std::string> instance_name(const std::string& path, const std::string& dir = kConfigDir);

// What the kernel takes as a network interface name: 1 to 15 bytes, no '/',
// ':' or whitespace, not "." or "..".
bool valid_interface_name(std::string_view name);
inline constexpr const char* kInterfaceNameRule = "interface names have 1 to 15 characters, none of them '/', ':' or a space";

// Whose file it is: a client's has [[hub]] tables, a hub's a `listen` key.
// A file that does not parse (or has neither) may be either: kUnknown.
enum class Role { kClient, kHub, kUnknown };
Role config_role(const std::string& path);

// The config a command means: `file` (-c FILE), or DIR/NAME.toml for `name`
// (not both), or with neither the only DIR/*.toml of `role` (or of unknown
// role). Otherwise `error` says why and `path` is empty.
struct ConfigChoice {
  std::string path;
  std::string error;
};
ConfigChoice choose_config(const std::string& file, const std::string& name, Role role,
                           const std::string& dir = kConfigDir);

}  // namespace tund::config
