"""A real Stash server for the play-import tests, self-contained in this one module.

The lead may fold it into the shared real-Stash fixtures later; until then nothing else uses
it. Stash runs only through ../shared/stash-server/start-stash (loopback, its own HOME, MEDIA
and a free port) and is stopped by stop-stash with the pid it recorded.
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.real_stash.server import copy_plugin

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SHARED = PROJECT_ROOT.parent / "shared"
STASH_SERVER = SHARED / "stash-server"


def unavailable_reason() -> str | None:
    """Why a real-Stash test cannot run here, or None."""
    if not (STASH_SERVER / "start-stash").is_file():
        return f"the real Stash server is not at {STASH_SERVER} (../shared/stash-server)"
    if shutil.which("ffmpeg") is None or shutil.which("ffprobe") is None:
        return "ffmpeg/ffprobe are not installed (apt-get install -y ffmpeg)"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_clip(path: Path, frequency: int, seconds: int = 10) -> None:
    """A small H.264 clip with a tone of its own: Stash merges files with equal content."""
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                    f"testsrc=size=160x120:rate=10:duration={seconds}", "-f", "lavfi", "-i",
                    f"sine=frequency={frequency}:duration={seconds}", "-c:v", "libx264",
                    "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", str(path)],
                   check=True, timeout=120)


class RealStash:
    """One Stash process with its own HOME and MEDIA folders under `root`."""

    def __init__(self, root: Path, env: dict | None = None):
        self.home, self.media = root / "home", root / "media"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, **(env or {})}

    def start(self) -> "RealStash":
        subprocess.run([str(STASH_SERVER / "start-stash"), str(self.home), str(self.media),
                        str(self.port)], check=True, capture_output=True, timeout=120,
                       env=self.env)
        return self

    def stop(self) -> None:
        # stop-stash waits for the pid to vanish; reap it meanwhile if it is our child.
        subprocess.run([str(STASH_SERVER / "stop-stash"), str(self.home)], timeout=60,
                       capture_output=True)

    def gql(self, query: str, variables: dict | None = None) -> dict:
        body = json.dumps({"query": query, "variables": variables or {}}).encode()
        request = urllib.request.Request(f"{self.url}/graphql", data=body, method="POST",
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as response:
            payload = json.loads(response.read())
        if payload.get("errors"):
            raise AssertionError(f"Stash GraphQL error: {payload['errors']}")
        return payload["data"]

    def wait_job(self, job_id, timeout: float = 120.0) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = self.gql("query($id: ID!) { findJob(input: {id: $id}) { status progress error } }",
                           {"id": job_id})["findJob"]
            if job is None or job["status"] in ("FINISHED", "FAILED", "CANCELLED"):
                return job or {"status": "FINISHED"}
            time.sleep(0.2)
        raise AssertionError(f"Stash job {job_id} did not finish in {timeout} s")

    def scan(self) -> None:
        job = self.gql("mutation($p: [String!]) { metadataScan(input: {paths: $p}) }",
                       {"p": [str(self.media)]})["metadataScan"]
        assert self.wait_job(job)["status"] == "FINISHED"

    def install_plugin(self, settings: dict) -> Path:
        """Copy PlexSync into HOME/plugins/PlexSync, run it with this interpreter, set it up."""
        target = copy_plugin(self.home / "plugins" / "PlexSync")
        self.gql("mutation($p: String) { configureGeneral(input: {pythonPath: $p}) { pythonPath } }",
                 {"p": sys.executable})
        self.gql("mutation { reloadPlugins }")
        self.gql("mutation($i: Map!) { configurePlugin(plugin_id: \"PlexSync\", input: $i) }",
                 {"i": settings})
        return target

    def run_task(self, task_name: str, timeout: float = 120.0) -> dict:
        job = self.gql('mutation($t: String!) { runPluginTask(plugin_id: "PlexSync", '
                       'task_name: $t) }', {"t": task_name})["runPluginTask"]
        return self.wait_job(job, timeout)

    def log_text(self) -> str:
        path = self.home / "stash.log"
        return path.read_text(errors="replace") if path.exists() else ""
