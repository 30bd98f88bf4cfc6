#include "daemon/cli_options.hpp"

#include <iostream>

#include "daemon/version.hpp"

namespace tund::cli {

namespace {

// The help's last lines: which config a command reads, then the exit status,
// as tund(8) and tund-hub(8) say them.
std::string config_note(const Args& args, bool takes_name) {
  const std::string only = std::string("the only ") + (args.role == config::Role::kHub ? "hub" : "client") + " config in " +
                           config::kConfigDir + ".\n";
  if (!takes_name) return "Without -c, " + only;
  return std::string("NAME is ") + config::kConfigDir + "/NAME.toml; with neither NAME nor -c, " + only;
}
std::string exit_note(const Args& args) {
  return std::string("Exit status: 0 ") + (args.role == config::Role::kHub ? "success or running" : "connected (or done)") +
         ", 1 not connected or no daemon, 2 usage or configuration error.";
}

}  // namespace

std::unique_ptr<CLI::App> make_app(const std::string& description, Args& args) {
  const std::string program = args.program;
  auto app = std::make_unique<CLI::App>(description, program);
  app->set_version_flag("--version", program + " " + version(), "Print the version and exit");
  app->require_subcommand(1);
  app->footer(config_note(args, true) + exit_note(args));
  // "PROG COMMAND: what went wrong" and the help that applies: the command's own.
  app->failure_message([program](const CLI::App* a, const CLI::Error& e) {
    const auto picked = a->get_subcommands();
    const std::string where = picked.empty() ? program : program + " " + picked.front()->get_name();
    std::string what = e.what();
    // CLI11 reports "tund bogus" as a missing command; name the word instead.
    if (const auto rest = a->remaining(); picked.empty() && !rest.empty()) {
      what = "'" + rest.front() + "' is no " + (rest.front()[0] == '-' ? "option" : "command") + "; the commands are";
      for (const auto* c : a->get_subcommands([](const CLI::App*) { return true; })) what += " " + c->get_name();
    }
    return where + ": " + what + "\nRun '" + where + " --help' for more information.\n";
  });
  return app;
}

CLI::App* add_command(CLI::App& app, const std::string& name, const std::string& description, Args& args) {
  auto* cmd = app.add_subcommand(name, description);
  cmd->footer(exit_note(args));
  cmd->callback([&args, name] { args.command = name; });
  return cmd;
}

CLI::Option* add_config_option(CLI::App& cmd, Args& args) {
  cmd.footer(config_note(args, false) + exit_note(args));
  return cmd.add_option("-c,--config", args.config, "The configuration file")->type_name("FILE");
}

// NAME and -c exclude each other in config::choose_config, not with CLI11's
// excludes(), which would clutter both lines of the help with "Excludes:".
void add_config_choice(CLI::App& cmd, Args& args) {
  add_config_option(cmd, args);
  cmd.add_option("NAME", args.name, "The configuration " + std::string(config::kConfigDir) + "/NAME.toml, instead of -c")
      ->type_name("");
  cmd.footer(config_note(args, true) + exit_note(args));
}

void add_json_flag(CLI::App& cmd, Args& args) {
  cmd.add_flag("--json", args.json, "The daemon's whole status as JSON, for scripts");
}

void add_verbose_flag(CLI::App& cmd, Args& args) { cmd.add_flag("-v,--verbose", args.verbose, "Log debug messages too"); }

void add_daemon_commands(CLI::App& app, Args& args) {
  auto* run = add_command(app, "run",
                          "Run the daemon in the foreground (SIGHUP reloads the configuration; SIGTERM and SIGINT "
                          "stop it and remove what it added)",
                          args);
  add_config_choice(*run, args);
  add_verbose_flag(*run, args);
  auto* status = add_command(app, "status", "Ask the running daemon for its sessions, traffic and drops", args);
  add_config_choice(*status, args);
  add_json_flag(*status, args);
  auto* cleanup = add_command(app, "cleanup",
                              "Remove what a daemon that died left behind (refused while one answers; the "
                              "unit's ExecStopPost)",
                              args);
  add_config_choice(*cleanup, args);
}

std::optional<int> parse(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
    return std::nullopt;
  } catch (const CLI::ParseError& e) {
    // exit() prints help and the version on stdout and errors on stderr; its
    // codes for errors are CLI11's own (105, 106, ...), ours is kUsage.
    return app.exit(e) == 0 ? kOk : kUsage;
  }
}

bool resolve_config(Args& args) {
  const auto choice = config::choose_config(args.config, args.name, args.role);
  if (choice.path.empty()) {
    std::cerr << args.program << " " << args.command << ": " << choice.error << "\n";
    return false;
  }
  args.config = choice.path;
  return true;
}

}  // namespace tund::cli
