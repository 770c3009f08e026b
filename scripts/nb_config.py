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
print(yaml.safe_dump(config, sort_keys=False))
