// The command line of both programs, parsed with CLI11. What they share is
// defined here once: --help and --version, -c/--config, NAME, --json, -v and
// the run, status and cleanup commands; each main.cpp adds its own commands.
// Kept apart from cli.hpp so that only the two main.cpp files compile CLI11.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <optional>
#include <string>

#include "daemon/cli.hpp"
#include "daemon/config_files.hpp"

namespace tund::cli {

// args.program [-h] [--version] COMMAND ...: exactly one command, no extra
// arguments. args.role (whose configs the program reads) shapes the help.
std::unique_ptr<CLI::App> make_app(const std::string& description, Args& args);

// A command; when the command line picks it, its name lands in args.command.
CLI::App* add_command(CLI::App& app, const std::string& name, const std::string& description, Args& args);

// -c/--config FILE.
CLI::Option* add_config_option(CLI::App& cmd, Args& args);
// [NAME] (/etc/tund/NAME.toml) or -c FILE, not both; with neither, the only
// config of the program's kind in /etc/tund (resolve_config checks all that).
void add_config_choice(CLI::App& cmd, Args& args);
void add_json_flag(CLI::App& cmd, Args& args);
void add_verbose_flag(CLI::App& cmd, Args& args);

// run [NAME | -c FILE] [-v], status [NAME | -c FILE] [--json] and
// cleanup [NAME | -c FILE]: the same in both programs.
void add_daemon_commands(CLI::App& app, Args& args);

// Parses argv. Returns the exit code when the program stops here: kOk after
// --help or --version (printed on stdout), kUsage after a usage error (printed
// on stderr; never CLI11's own exit codes).
std::optional<int> parse(CLI::App& app, int argc, char** argv);

// Sets args.config to the file the command means (config::choose_config).
// False after printing why there is none: the caller exits kUsage.
bool resolve_config(Args& args);

}  // namespace tund::cli
