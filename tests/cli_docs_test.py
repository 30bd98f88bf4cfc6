#!/usr/bin/env python3
"""The command lines of tund and tund-hub, their man pages and their bash
completion must agree. Runs each program's --help and each command's --help
(CLI11's output, daemon/cli_options.cpp) and checks:
  - tund(8) and tund-hub(8): COMMANDS lists exactly the commands; each
    command's SYNOPSIS lines show exactly its options; OPTIONS describes
    exactly the options there are; EXAMPLES use only commands and options that
    exist;
  - completions/tund offers exactly the commands, and for each command exactly
    its options;
  - --version prints project(VERSION); usage errors exit 2, --help exits 0.
Usage: cli_docs_test.py BINDIR"""
import os, re, subprocess, sys

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
bindir = sys.argv[1]
read = lambda p: open(os.path.join(root, p)).read()
failures = []
fail = lambda msg: failures.append(msg)


def run(*args):
    return subprocess.run([os.path.join(bindir, args[0]), *args[1:]], capture_output=True, text=True, timeout=20)


def help_of(*args):
    """(commands, {name: canonical name} for every option spelling) from --help."""
    r = run(*args, "--help")
    if r.returncode != 0: fail(f"{' '.join(args)} --help exits {r.returncode}, not 0")
    section, commands, names = None, [], {}
    for line in r.stdout.splitlines():
        if re.match(r'^\S.*:$', line): section = line[:-1]; continue
        m = re.match(r'^  (\S+)', line)
        if not m: continue
        if section == "Subcommands": commands.append(m.group(1))
        elif section == "Options":
            spellings = m.group(1).split(",")
            for s in spellings: names[s] = spellings[-1]  # "-c,--config": --config
    return commands, names


def unroff(text):
    return text.replace("\\-", "-").replace("\\e", "\\")


def option_tokens(text):
    return re.findall(r'(?<![\w-])--?[a-z][a-z-]*', re.sub(r'\\f[BIRP]', '', unroff(text)))


def sections(page):
    out, name = {}, None
    for line in page.splitlines():
        if line.startswith(".SH "): name = line[4:].strip(); out[name] = []
        elif name: out[name].append(line)
    return out


with open(os.path.join(root, "CMakeLists.txt")) as f:
    version = re.search(r'project\(tund VERSION ([0-9.]+)', f.read()).group(1)

bash_completion = os.path.join(root, "completions", "tund")


def complete(line):
    """What completions/tund offers for `line` (the cursor at its end)."""
    script = f'source "{bash_completion}"; COMP_WORDS=({line}); COMP_CWORD={len(line.split()) - (0 if line.endswith(" ") else 1)}; ' \
             'COMP_WORDS[COMP_CWORD]=${COMP_WORDS[COMP_CWORD]:-}; _tund; printf "%s\\n" "${COMPREPLY[@]}"'
    r = subprocess.run(["bash", "-c", script], capture_output=True, text=True)
    if r.returncode or r.stderr: fail(f"completion of '{line}' fails: {r.stderr.strip()}")
    return set(r.stdout.split())


for prog in ("tund", "tund-hub"):
    commands, global_names = help_of(prog)
    if not commands: fail(f"{prog} --help lists no commands"); continue
    options = {c: help_of(prog, c)[1] for c in commands}  # per command: spelling -> canonical
    every = dict(global_names)
    for names in options.values(): every.update(names)

    r = run(prog, "--version")
    if r.returncode != 0 or r.stdout.strip() != f"{prog} {version}":
        fail(f"{prog} --version prints '{r.stdout.strip()}' (exit {r.returncode}), not '{prog} {version}'")
    for bad in ([], ["no-such-command"], [commands[0], "--no-such-option"], ["status", "a", "-c", "b"],
                [commands[-1], "x", "y", "z"]):
        r = run(prog, *bad)
        if r.returncode != 2: fail(f"{prog} {' '.join(bad)}: exit {r.returncode}, not 2 (a usage error)")
        elif not r.stderr.strip(): fail(f"{prog} {' '.join(bad)}: a usage error says nothing on stderr")

    # The man page.
    page = sections(read(f"man/{prog}.8"))
    documented = []
    lines = page.get("COMMANDS", [])
    for i, line in enumerate(lines[:-1]):
        if line == ".TP" and lines[i + 1].startswith(".B "): documented.append(unroff(lines[i + 1][3:]).strip())
    if sorted(documented) != sorted(commands):
        fail(f"{prog}(8) COMMANDS documents {sorted(documented)}, {prog} --help lists {sorted(commands)}")
    synopsis = {}
    for chunk in "\n".join(page.get("SYNOPSIS", [])).split(".br"):
        words = unroff(re.sub(r'^\.\w+ ', '', chunk.strip(), flags=re.M)).split()
        if not words or words[0] != prog: continue
        cmd = words[1] if len(words) > 1 and not words[1].startswith(("-", "[")) else ""
        synopsis.setdefault(cmd, set()).update(option_tokens(" ".join(words[2 if cmd else 1:])))
    for cmd in commands:
        shown = {every.get(t, t) for t in synopsis.get(cmd, set())}
        has = set(options[cmd].values()) - {"--help"}
        if cmd not in synopsis: fail(f"{prog}(8) SYNOPSIS does not show '{prog} {cmd}'")
        elif shown != has: fail(f"{prog}(8) SYNOPSIS shows {prog} {cmd} with {sorted(shown)}, --help says {sorted(has)}")
    for cmd in set(synopsis) - set(commands) - {""}:
        fail(f"{prog}(8) SYNOPSIS shows '{prog} {cmd}', which is no command")
    described = set()
    lines = page.get("OPTIONS", [])
    for i, line in enumerate(lines[:-1]):
        if line == ".TP": described.update(every.get(t, t) for t in option_tokens(lines[i + 1]))
    if described != set(every.values()):
        fail(f"{prog}(8) OPTIONS describes {sorted(described)}, the program has {sorted(set(every.values()))}")
    examples = 0
    for line in page.get("EXAMPLES", []):
        words = unroff(line).split()
        while words and words[0] in ("(umask", "077;"): words = words[1:]
        if len(words) < 2 or words[0] != prog: continue
        examples += 1
        if words[1] not in options: fail(f"{prog}(8) EXAMPLES runs '{prog} {words[1]}', which is no command"); continue
        own = " ".join(words[2:]).split("|")[0].split(">")[0]  # not what a pipe or a redirection runs
        for t in option_tokens(own):
            if t not in options[words[1]]: fail(f"{prog}(8) EXAMPLES gives '{prog} {words[1]}' {t}, which it does not take")
    if not examples: fail(f"{prog}(8) has no EXAMPLES running {prog}")

    # The bash completion.
    want = set(commands) | set(global_names)
    if complete(f"{prog} ") != want:
        fail(f"completions/tund offers {sorted(complete(prog + ' '))} after '{prog}', --help says {sorted(want)}")
    for cmd in commands:
        got, want = complete(f"{prog} {cmd} -"), set(options[cmd])
        if got != want: fail(f"completions/tund offers {sorted(got)} for '{prog} {cmd} -', --help says {sorted(want)}")

for f in failures: print("FAIL: " + f)
print(f"{len(failures)} failure(s)")
sys.exit(1 if failures else 0)
