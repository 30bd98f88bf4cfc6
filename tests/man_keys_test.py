#!/usr/bin/env python3
"""tund.toml(5) and the config parsers must agree: every key a parser accepts
(the allowed-key lists of check_keys in tund/client_config.cpp,
hub/hub_config.cpp and daemon/config_check.cpp) is documented in the man page
under the same table, and every documented key is accepted. Also checks that
the three pages render without warnings (groff -man -ww)."""
import re, subprocess, sys, os

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
read = lambda p: open(os.path.join(root, p)).read()

def table_name(scope):
    s = scope.strip()
    if s == "the top level": return "top level"
    return s

def parser_keys(path, who):
    keys = {}
    for m in re.finditer(r'check_keys\(\s*\*?\w+\s*,\s*\{([^}]*)\}\s*,\s*"([^"]+)"\)', read(path), re.S):
        names = re.findall(r'"([^"]+)"', m.group(1))
        keys.setdefault(table_name(m.group(2)), set()).update(names)
    return {(who, t, k) for t, ks in keys.items() for k in ks}

accepted = parser_keys("tund/client_config.cpp", "CLIENT") | parser_keys("hub/hub_config.cpp", "HUB")
# Shared tables (daemon/config_check.cpp): [handover] has a hub-only key, [performance] is the same for both.
shared = read("daemon/config_check.cpp")
hub_handover = re.search(r'if \(hub\)\s*check_keys\(\*t, \{([^}]*)\}', shared).group(1)
client_handover = re.search(r'else check_keys\(\*t, \{([^}]*)\}', shared).group(1)
perf = re.search(r'check_keys\(\*t, \{([^}]*)\}, "\[performance\]"\)', shared).group(1)
for who, text, table in [("HUB", hub_handover, "[handover]"), ("CLIENT", client_handover, "[handover]"),
                         ("HUB", perf, "[performance]"), ("CLIENT", perf, "[performance]")]:
    accepted |= {(who, table, k) for k in re.findall(r'"([^"]+)"', text)}
# Table names in the top-level lists are sections, not keys.
tables = {"tun", "hub", "uplinks", "handover", "performance", "gateway", "client", "nat", "expose", "limits", "cluster"}
accepted = {(w, t, k) for (w, t, k) in accepted if not (t == "top level" and k in tables)}

documented = set()
who = table = None
for line in read("man/tund.toml.5").splitlines():
    if line.startswith(".SH "):
        m = re.match(r'\.SH (CLIENT|HUB)', line)
        who = m.group(1) if m else None
    elif line.startswith(".SS ") and who:
        table = re.match(r'\.SS (\S+(?: level)?)', line).group(1)
        table = "top level" if table == "top" else table
    elif who and table:
        m = re.match(r'\\fB([a-z_0-9]+)\\fR \(', line)
        if m: documented.add((who, table, m.group(1)))

ok = True
for w, t, k in sorted(accepted - documented):
    print(f"FAIL: the {w.lower()} parser accepts {t} {k}, tund.toml(5) does not document it"); ok = False
for w, t, k in sorted(documented - accepted):
    print(f"FAIL: tund.toml(5) documents {w.lower()} {t} {k}, the parser refuses it"); ok = False
print(f"{len(accepted)} keys accepted, {len(documented)} documented")
for page in ("tund.8", "tund-hub.8", "tund.toml.5"):
    r = subprocess.run(["groff", "-man", "-ww", "-z", os.path.join(root, "man", page)], capture_output=True, text=True)
    if r.returncode or r.stderr.strip():
        print(f"FAIL: {page} does not render cleanly: {r.stderr.strip()}"); ok = False
sys.exit(0 if ok else 1)
