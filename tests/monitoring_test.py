#!/usr/bin/env python3
"""examples/monitoring/ must query only metrics the daemons export: every
tund_* name in the Grafana dashboard and the Prometheus rules is a series of a
family declared in the renderers (tund/*.cpp, hub/*.cpp). A family is
declared where its name is followed by its type, as in
m.family("tund_up", "gauge", ...) and the per_session / per_path helpers that
call it, or passed to m.build_info("..."); a histogram's series are its
_bucket, _sum and _count. The dashboard must be valid JSON, the rules valid
YAML (checked when PyYAML is installed). The Metrics section of
docs/operations.md names exactly the declared families."""
import glob, json, os, re, sys

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
read = lambda p: open(os.path.join(root, p)).read()

source = "".join(read(p) for d in ("tund", "hub") for p in sorted(glob.glob(os.path.join(root, d, "*.cpp"))))
families = {n: t for n, t in re.findall(r'"(tund_[a-z0-9_]+)"\s*,\s*"(gauge|counter|histogram)"', source)}
families.update({n: "gauge" for n in re.findall(r'build_info\(\s*"(tund_[a-z0-9_]+)"\s*\)', source)})
series = set()
for name, kind in families.items():
    series |= {name + s for s in ("_bucket", "_sum", "_count")} if kind == "histogram" else {name}

ok = True
# Fewer would mean the declarations changed shape and this test went blind.
if len(families) < 30 or "tund_up" not in families or "tund_hub_up" not in families:
    print(f"FAIL: found only {len(families)} metric families in tund/ and hub/: does the pattern still match?")
    ok = False

for path in ("examples/monitoring/grafana-dashboard.json", "examples/monitoring/tund-alerts.yml"):
    text = read(path)
    try:
        if path.endswith(".json"):
            json.loads(text)
        else:
            try:
                import yaml
            except ImportError:
                yaml = None
            if yaml:
                rules = yaml.safe_load(text)
                assert all("expr" in r for g in rules["groups"] for r in g["rules"]), "a rule without expr"
    except Exception as e:
        print(f"FAIL: {path} does not parse: {e}")
        ok = False
    used = set(re.findall(r"\b(tund_[a-z0-9_]*[a-z0-9])\b", text))
    for name in sorted(used - series):
        print(f"FAIL: {path} uses {name}, which neither daemon exports")
        ok = False
    print(f"{path}: {len(used)} metric names, all exported" if used <= series else f"{path}: {len(used - series)} unknown")

# docs/operations.md: `tund_session_{rx,tx}_bytes_total{hub}` is two families (a brace
# group inside a name expands; a trailing one lists labels).
def expand(name):
    m = re.search(r"\{([a-z0-9_,]+)\}", name)
    if not m: return {name}
    return {x for alt in m.group(1).split(",") for x in expand(name[:m.start()] + alt + name[m.end():])}
doc = "docs/operations.md"
text = read(doc)
section = text[text.index("\n## Metrics\n"):]
section = section[:section.index("\n## ", 1)]
documented = set()
for name in re.findall(r"`(tund_[a-z0-9_{},]+)`", section):
    documented |= expand(re.sub(r"\{[a-z0-9_,]+\}$", "", name))
for name in sorted(set(families) - documented):
    print(f"FAIL: {doc}'s Metrics section does not name {name}"); ok = False
for name in sorted(documented - set(families)):
    print(f"FAIL: {doc}'s Metrics section names {name}, which neither daemon exports"); ok = False
print(f"{len(families)} metric families declared, {len(documented)} named in {doc}")
sys.exit(0 if ok else 1)
