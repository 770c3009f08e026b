"""Fetch the JavaScript the built book needs (MathJax, require.js, the ipywidgets HTML manager) from the
npm registry and unpack it into ``_build/vendor/_vendor/``, so that the HTML works with no network.

Why here and not in ``_static``: Jupyter Book adds every ``.js`` file in ``_static`` to every page, and
MathJax alone is hundreds of files. Instead ``_config.yml`` copies ``_build/vendor`` next to the pages with
Sphinx's ``html_extra_path`` and points ``mathjax_path`` and ``nb_ipywidgets_js`` at the copies, so each
page loads exactly what it used to load from a CDN, only from the book itself.

Nothing is committed: the build fetches the pinned packages once (npm keeps them in its cache, so a later
build with the network cut still works) and checks each tarball against its pinned sha512 integrity.
Run it directly to (re)fetch: ``python scripts/vendor_js.py [--force]``.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "_build" / "vendor"
# (npm spec, sha512 integrity as the registry publishes it, [(path inside the tarball, destination)])
PACKAGES = [
    (
        "mathjax@3.2.2",
        "sha512-Bt+SSVU8eBG27zChVewOicYs7Xsdt40qm4+UpHyX7k0/O9NliPc+x77k1/FEsPsjKPZGJvtRZM1vO+geW0OhGw==",
        [("package/es5/", "_vendor/mathjax/es5/"), ("package/LICENSE", "_vendor/mathjax/LICENSE")],
    ),
    (
        "requirejs@2.3.8",
        "sha512-7/cTSLOdYkNBNJcDMWf+luFvMriVm7eYxp4BcFCsAX0wF421Vyce5SXP17c+Jd5otXKGNehIonFlyQXSowL6Mw==",
        [("package/require.js", "_vendor/requirejs/require.js"), ("package/LICENSE", "_vendor/requirejs/LICENSE")],
    ),
    (
        "@jupyter-widgets/html-manager@1.0.7",
        "sha512-2xGwS7vVd2RGlKMiSqj1vYv2X59V73ygefUodhzy9Bho0mswWT/yo3Cg7MaYOqwozQjNo5k3rbJ3cETXWUwJ/g==",
        # The manager asks require.js for its icon fonts relative to the id of whichever of its modules
        # loads them ("@jupyter-widgets/<module>"), so the fonts sit both beside the bundle and one level
        # up; widgets-paths.js maps "@jupyter-widgets" to _vendor/jupyter-widgets.
        [("package/dist/", "_vendor/jupyter-widgets/html-manager/dist/"),
         *[(f"package/dist/{font}", f"_vendor/jupyter-widgets/{font}") for font in (
             "1551f4f60c37af51121f.woff2", "d878b0a6a1144760244f.woff2", "7a3337626410ca2f4071.woff2",
             "eeccf4f66002c6f2ba24.woff", "2285773e6b4b172f07d9.woff", "bb58e57c48a3e911f15f.woff",
             "be9ee23c0c6390141475.ttf", "527940b104eb2ea366c8.ttf", "491974d108fe4002b2aa.ttf",
             "23f19bb08961f37aaf69.eot", "77206a6bb316fa0aded5.eot", "9bbb245e67a133f6e486.eot",
             "2f517e09eb2ca6650ff5.svg", "4689f52cc96215721344.svg", "7a8b4f130182d19a2d7c.svg")],
         ("package/LICENSE", "_vendor/jupyter-widgets/LICENSE")],
    ),
]
# Our own glue, copied beside the packages (see the file's header).
LOCAL_FILES = [(ROOT / "scripts" / "widgets-paths.js", "_vendor/widgets-paths.js")]
STAMP = OUT / ".vendor-stamp.json"


class VendorError(RuntimeError):
    pass


def _integrity(path: Path) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(path.read_bytes()).digest()).decode()


def _npm_pack(spec: str, dest: Path) -> Path:
    npm = shutil.which("npm")
    if npm is None:
        raise VendorError(
            "npm was not found. The book's HTML bundles MathJax and the widget JavaScript from the npm "
            "registry at build time; install Node.js and npm (Debian: apt-get install npm) and build again."
        )
    cmd = [npm, "pack", "--json", "--prefer-offline", "--pack-destination", str(dest), spec]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise VendorError(
            f"`{' '.join(cmd[1:])}` failed (exit {proc.returncode}); the npm registry or npm's cache must "
            f"have {spec}.\n{proc.stderr.strip()[-2000:]}"
        )
    info = json.loads(proc.stdout)[0]
    return dest / info["filename"]


def _extract(tarball: Path, members: list[tuple[str, str]], out: Path) -> int:
    n = 0
    with tarfile.open(tarball, "r:gz") as tar:
        for m in tar.getmembers():
            if not m.isfile() or m.name.endswith(".map"):
                continue
            for src, dst in members:
                if m.name == src or (src.endswith("/") and m.name.startswith(src)):
                    rel = dst + m.name[len(src):] if src.endswith("/") else dst
                    target = (out / rel).resolve()
                    if out.resolve() not in target.parents:
                        raise VendorError(f"{tarball.name}: member {m.name!r} would escape the output folder")
                    target.parent.mkdir(parents=True, exist_ok=True)
                    with tar.extractfile(m) as f:  # type: ignore[union-attr]
                        target.write_bytes(f.read())
                    n += 1
    return n


def vendor(force: bool = False, quiet: bool = False) -> Path:
    want = {spec: integrity for spec, integrity, _ in PACKAGES}
    want.update({dst: hashlib.sha256(src.read_bytes()).hexdigest() for src, dst in LOCAL_FILES})
    if not force and STAMP.exists():
        try:
            if json.loads(STAMP.read_text()) == want:
                if not quiet:
                    print(f"[vendor] up to date: {OUT.relative_to(ROOT)}")
                return OUT
        except json.JSONDecodeError:
            pass
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=OUT.parent) as tmp:
        tmp_path = Path(tmp)
        staging = tmp_path / "vendor"
        staging.mkdir()
        for spec, integrity, members in PACKAGES:
            tarball = _npm_pack(spec, tmp_path)
            got = _integrity(tarball)
            if got != integrity:
                raise VendorError(f"{spec}: the tarball's sha512 is {got}, expected the pinned {integrity}")
            n = _extract(tarball, members, staging)
            if n == 0:
                raise VendorError(f"{spec}: none of {[m[0] for m in members]} was found in the tarball")
            if not quiet:
                print(f"[vendor] {spec}: {n} files")
        for src, dst in LOCAL_FILES:
            (staging / dst).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, staging / dst)
        (staging / STAMP.name).write_text(json.dumps(want, indent=1))
        if OUT.exists():
            shutil.rmtree(OUT)
        os.replace(staging, OUT)  # the folder appears whole or not at all
    return OUT


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--force", action="store_true", help="fetch again even if up to date")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args()
    try:
        vendor(force=args.force, quiet=args.quiet)
    except VendorError as e:
        print(f"[vendor] error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
