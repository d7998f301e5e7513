"""Build a Stash plugin source: dist/index.yml + dist/PlexSync.zip.

Add the folder's URL (…/index.yml) in Stash under Settings → Plugins → Available Plugins →
Add Source. The zip holds exactly the plugin's runtime files: Stash loads every .yml it finds
in a plugin folder as a plugin, so tests, docs, benchmarks and CI files must not ship.

Usage: python .ci/build_plugin_source.py [--out dist]
"""
from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import io
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PLUGIN_ID = "PlexSync"
RUNTIME_FILES = ("PlexSync.py", "entry.py", "PlexSync.yml", "process_queue.py", "requirements.txt")
RUNTIME_PACKAGES = ("hooks", "sync_queue", "worker", "plex", "validation")
# Fixed timestamps make the zip, and so its sha256, depend on content only.
ZIP_TIME = (2020, 1, 1, 0, 0, 0)


def runtime_files(root: Path = ROOT) -> list[Path]:
    files = [root / name for name in RUNTIME_FILES]
    for package in RUNTIME_PACKAGES:
        files += sorted(p for p in (root / package).rglob("*.py") if "__pycache__" not in p.parts)
    return files


def build_zip(root: Path = ROOT) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in runtime_files(root):
            info = zipfile.ZipInfo(path.relative_to(root).as_posix(), ZIP_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
    return buffer.getvalue()


def manifest_field(name: str, root: Path = ROOT) -> str:
    for line in (root / "PlexSync.yml").read_text(encoding="utf-8").splitlines():
        if line.startswith(f"{name}:"):
            return line.split(":", 1)[1].strip()
    return ""


def index_yaml(sha256: str, version: str, date: str, root: Path = ROOT) -> str:
    description = manifest_field("description", root).replace('"', "'")
    return (f"- id: {PLUGIN_ID}\n"
            f"  name: {manifest_field('name', root)}\n"
            f"  metadata:\n"
            f"    description: \"{description}\"\n"
            f"  version: {version}\n"
            f"  date: \"{date}\"\n"
            f"  path: {PLUGIN_ID}.zip\n"
            f"  sha256: {sha256}\n"
            f"  requires: []\n")


def release_date(root: Path = ROOT) -> str:
    """When the shipped plugin last changed: the date of the last commit touching a runtime file.

    Stash offers an update whenever index.yml's date is newer than the installed one's, so the
    build time would offer an "update" after every rebuild, and a docs-only commit would too.
    Outside a git checkout, or with runtime files changed but not committed (a local source
    while developing), the newest runtime file's mtime stands in.
    """
    paths = [*RUNTIME_FILES, *RUNTIME_PACKAGES]
    try:
        stamp = subprocess.run(["git", "log", "-1", "--format=%ct", "--", *paths], cwd=root,
                               capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", *paths], cwd=root,
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        stamp, dirty = "", ""
    if stamp and not dirty:
        epoch = int(stamp)
    else:
        epoch = max(int(p.stat().st_mtime) for p in runtime_files(root))
    return dt.datetime.fromtimestamp(epoch, dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def _git_version(root: Path) -> str:
    base = manifest_field("version", root) or "0.0.0"
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root,
                                capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return base
    return f"{base}-{commit}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "dist")
    parser.add_argument("--root", type=Path, default=ROOT, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    root = args.root.resolve()
    data = build_zip(root)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{PLUGIN_ID}.zip").write_bytes(data)
    sha256 = hashlib.sha256(data).hexdigest()
    index = index_yaml(sha256, _git_version(root), release_date(root), root)
    (args.out / "index.yml").write_text(index, encoding="utf-8")
    print(f"{args.out / 'index.yml'} + {PLUGIN_ID}.zip ({len(data)} bytes, sha256 {sha256[:12]}…)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
