#include "daemon/config_files.hpp"

#include <algorithm>
#include <cctype>
#include <filesystem>

#include "daemon/config_check.hpp"

namespace tund::config {

namespace fs = std::filesystem;

bool valid_instance_name(std::string_view name) {
  return !name.empty() && name != "." && name != ".." && name.find('/') == std::string_view::npos;
}

std::string instance_config_path(const std::string& name, const std::string& dir) {
  return (fs::path(dir) / (name + ".toml")).string();
}

std::optional<std::string> instance_name(const std::string& path, const std::string& dir) {
  std::error_code ec;
  const auto file = fs::absolute(path, ec).lexically_normal();
  if (ec || file.extension() != ".toml") return std::nullopt;
  if (file.parent_path() != fs::absolute(dir, ec).lexically_normal()) return std::nullopt;
  const auto stem = file.stem().string();
  if (!valid_instance_name(stem)) return std::nullopt;
  return stem;
}

bool valid_interface_name(std::string_view name) {
  if (name.empty() || name.size() > 15 || name == "." || name == "..") return false;
  return std::none_of(name.begin(), name.end(),
                      [](char c) { return c == '/' || c == ':' || std::isspace(static_cast<unsigned char>(c)); });
}

Role config_role(const std::string& path) {
  try {
    const auto root = parse_file(path);
    if (!root.is_table()) return Role::kUnknown;
    if (root.contains("hub")) return Role::kClient;
    if (root.contains("listen")) return Role::kHub;
  } catch (const std::exception&) {
    // Unreadable or not TOML: it may be either's; loading it says why.
  }
  return Role::kUnknown;
}

ConfigChoice choose_config(const std::string& file, const std::string& name, Role role, const std::string& dir) {
  if (!file.empty() && !name.empty()) return {{}, "give NAME or -c FILE, not both"};
  if (!file.empty()) return {file, {}};
  if (!name.empty()) {
    if (!valid_instance_name(name)) return {{}, "NAME '" + name + "' is not a file name in " + dir + " (use -c FILE for a path)"};
    return {instance_config_path(name, dir), {}};
  }
  // Neither: the one config of this program's kind in DIR, if there is exactly one.
  std::vector<std::string> found;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.path().extension() != ".toml" || !entry.is_regular_file(ec)) continue;
    const auto r = config_role(entry.path().string());
    if (r == role || r == Role::kUnknown) found.push_back(entry.path().string());
  }
  const std::string kind = role == Role::kHub ? "hub" : "client";
  if (found.size() == 1) return {found.front(), {}};
  if (found.empty())
    return {{}, "no " + kind + " config in " + dir + "; give NAME (for " + dir + "/NAME.toml) or -c FILE"};
  std::sort(found.begin(), found.end());
  std::string names;
  for (const auto& f : found) names += (names.empty() ? "" : ", ") + fs::path(f).stem().string();
  return {{}, std::to_string(found.size()) + " " + kind + " configs in " + dir + " (" + names +
                  "); give NAME (one of them) or -c FILE"};
}

}  // namespace tund::config
