"""Print _config.yml with the notebook execution mode replaced (used by the test build)."""

import argparse
import pathlib

import yaml

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--execute", choices=["off", "cache", "force", "auto"], required=True)
args = parser.parse_args()
root = pathlib.Path(__file__).resolve().parents[1]
config = yaml.safe_load((root / "_config.yml").read_text())
config.setdefault("execute", {})["execute_notebooks"] = args.execute
# Jupyter Book resolves local extension folders against the config file's folder; the printed config is
# written elsewhere (_build/), so make them absolute.
local = config.get("sphinx", {}).get("local_extensions") or {}
for name, path in local.items():
    local[name] = str((root / path).resolve())
print(yaml.safe_dump(config, sort_keys=False))
