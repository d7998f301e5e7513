"""The real Stash server (../shared/stash-server) driven over GraphQL, for tests/real_stash.

Started only through `start-stash HOME MEDIA PORT` (it blocks Stash's release check and writes
a config without a setup wizard), stopped through `stop-stash HOME` by the pid it recorded.
"""
from __future__ import annotations

import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SHARED = PROJECT_ROOT.parent / "shared"
STASH_SERVER = SHARED / "stash-server"
PYTHON_DEP_MANAGER = SHARED / "stash-plugins" / "PythonDepManager"

# Stash's environment is inherited by every plugin run: nothing of the test process may decide
# where PlexSync keeps its data or which modules it imports.
_ENV_DROP = ("PLEXSYNC_", "PYTHONPATH", "PYTHONDONTWRITEBYTECODE", "PYTEST_", "COV_CORE_")


class GraphQLError(RuntimeError):
    def __init__(self, errors: list, query: str):
        super().__init__("; ".join(e.get("message", str(e)) for e in errors) + f"\n  in: {query[:200]}")
        self.errors = errors


PORT_ATTEMPTS = 3  # a port found free can be taken before Stash binds it: try another


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def unavailable_reason() -> str | None:
    """Why the real-Stash suite cannot run here (None when it can)."""
    if not (STASH_SERVER / "start-stash").exists():
        return (f"the real Stash server is not at {STASH_SERVER} (../shared/stash-server next to "
                "the project): the real-Stash suite needs it")
    if not shutil.which("ffmpeg") or not shutil.which("ffprobe"):
        return "ffmpeg/ffprobe are not installed (apt-get install -y ffmpeg; .ci/run does it)"
    return None


def _load_build_module():
    spec = importlib.util.spec_from_file_location("build_plugin_source",
                                                  PROJECT_ROOT / ".ci" / "build_plugin_source.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def copy_plugin(dest: Path) -> Path:
    """Install route (a): PlexSync's runtime files (exactly those the release zip holds,
    .ci/build_plugin_source.py) copied into a plugins folder, e.g. HOME/plugins/PlexSync.
    The one way tests and benches put PlexSync into a real Stash."""
    for path in _load_build_module().runtime_files(PROJECT_ROOT):
        target = dest / path.relative_to(PROJECT_ROOT)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    return dest


def make_clip(path: Path, n: int) -> Path:
    """A 0.4 s H.264 clip whose picture is unique to n (a box at its own place and size):
    real Stash merges files with the same fingerprint into one scene."""
    path.parent.mkdir(parents=True, exist_ok=True)
    x, y, w = (n % 28) * 2, (n // 28) % 4 * 10, 3 + n // 112
    subprocess.run(
        ["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
         f"color=c=black:size=64x48:rate=5:duration=0.4,"
         f"drawbox=x={x}:y={y}:w={w}:h=7:color=red@1:t=fill",
         "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(path)],
        check=True, stdin=subprocess.DEVNULL)
    return path


def make_clips(paths_and_numbers) -> None:
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda pn: make_clip(*pn), paths_and_numbers))


def post_graphql(base_url: str, query: str, variables: dict | None = None, timeout: float = 300,
                 headers: dict | None = None) -> tuple[int, dict]:
    """Raw answer: (HTTP status, JSON body), for tests that compare answers as they come."""
    request = urllib.request.Request(
        f"{base_url}/graphql", method="POST",
        headers={"Content-Type": "application/json", **(headers or {})},
        data=json.dumps({"query": query, "variables": variables or {}}).encode())
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        body = exc.read()
        try:
            return exc.code, json.loads(body or b"null")
        except ValueError:
            return exc.code, {"raw": body.decode("utf-8", "replace")}


@dataclass
class RealStash:
    home: Path
    media: Path
    port: int
    pid: int = 0
    progress_seen: dict = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def plugins_dir(self) -> Path:
        return self.home / "plugins"

    # ---- process ------------------------------------------------------------------------
    def start(self, extra_env: dict | None = None) -> "RealStash":
        env = {k: v for k, v in os.environ.items() if not k.startswith(_ENV_DROP)}
        env.update(extra_env or {})
        for _ in range(PORT_ATTEMPTS):
            out = subprocess.run([str(STASH_SERVER / "start-stash"), str(self.home),
                                  str(self.media), str(self.port)], env=env, capture_output=True,
                                 text=True, timeout=90)
            if out.returncode == 0 or "address already in use" not in out.stderr:
                break
            # free_port() only found the port free; another process bound it before Stash did
            self.port = free_port()
        if out.returncode != 0:
            raise RuntimeError(f"start-stash failed: {out.stderr.strip()}")
        self.pid = int(out.stdout.split()[0])
        return self

    def stop(self) -> None:
        """stop-stash by the recorded pid, reaping our child meanwhile (else its zombie looks
        alive to stop-stash's kill -0 for the whole 10 s timeout)."""
        if not self.pid:
            return
        stopper = subprocess.Popen([str(STASH_SERVER / "stop-stash"), str(self.home)])
        done = threading.Event()

        def reap():
            while not done.is_set():
                try:
                    if os.waitpid(self.pid, os.WNOHANG)[0]:
                        return
                except ChildProcessError:
                    return
                time.sleep(0.1)
        reaper = threading.Thread(target=reap, daemon=True)
        reaper.start()
        stopper.wait(30)
        done.set()
        self.pid = 0

    def log_text(self) -> str:
        path = self.home / "stash.log"
        return path.read_text("utf-8", "replace") if path.exists() else ""

    # ---- GraphQL ------------------------------------------------------------------------
    def post(self, query: str, variables: dict | None = None, timeout: float = 300) -> tuple[int, dict]:
        return post_graphql(self.url, query, variables, timeout)

    def graphql(self, query: str, variables: dict | None = None, timeout: float = 300) -> dict:
        _, answer = self.post(query, variables, timeout)
        if answer.get("errors"):
            raise GraphQLError(answer["errors"], query)
        return answer["data"]

    def wait_job(self, job_id: str, timeout: float = 120) -> dict:
        """Poll findJob until the job is over; the progress values seen are kept per job."""
        seen = self.progress_seen.setdefault(str(job_id), [])
        deadline = time.monotonic() + timeout
        while True:
            job = self.graphql("query J($id: ID!) { findJob(input: {id: $id}) "
                               "{ id status progress description error } }", {"id": str(job_id)})["findJob"]
            if job is None:  # finished jobs leave the queue after a while
                return {"id": job_id, "status": "GONE"}
            if job.get("progress") is not None:
                seen.append(job["progress"])
            if job["status"] in ("FINISHED", "FAILED", "CANCELLED"):
                return job
            if time.monotonic() > deadline:
                raise TimeoutError(f"Stash job {job_id} still {job['status']} after {timeout:g} s")
            time.sleep(0.1)

    def scan(self, *paths: Path, timeout: float = 180) -> dict:
        job = self.graphql("mutation S($paths: [String!]) { metadataScan(input: {paths: $paths}) }",
                           {"paths": [str(p) for p in (paths or (self.media,))]})["metadataScan"]
        result = self.wait_job(job, timeout)
        assert result["status"] == "FINISHED", result
        return result

    def scene_ids_by_path(self) -> dict[str, str]:
        scenes = self.graphql("{ findScenes(filter: {per_page: -1}) { scenes { id files { path } } } }")
        return {f["path"]: s["id"] for s in scenes["findScenes"]["scenes"] for f in s["files"]}

    def reload_plugins(self) -> None:
        self.graphql("mutation { reloadPlugins }")

    def plugin(self, plugin_id: str = "PlexSync") -> dict | None:
        plugins = self.graphql("{ plugins { id name enabled hooks { name hooks } tasks { name } "
                               "settings { name type display_name } } }")["plugins"] or []  # null when none
        return next((p for p in plugins if p["id"] == plugin_id), None)

    def configure_plugin(self, settings: dict, plugin_id: str = "PlexSync") -> dict:
        return self.graphql("mutation C($id: ID!, $input: Map!) { configurePlugin(plugin_id: $id, "
                            "input: $input) }", {"id": plugin_id, "input": settings})["configurePlugin"]

    def plugin_settings(self, plugin_id: str = "PlexSync") -> dict:
        return (self.graphql("{ configuration { plugins } }")["configuration"]["plugins"] or {}).get(plugin_id, {})

    def set_python(self, python: str) -> None:
        self.graphql("mutation P($p: String) { configureGeneral(input: {pythonPath: $p}) { pythonPath } }",
                     {"p": python})

    def run_task(self, task_name: str, args: dict | None = None, plugin_id: str = "PlexSync") -> str:
        return self.graphql(
            "mutation T($id: ID!, $task: String!, $args: Map) { runPluginTask(plugin_id: $id, "
            "task_name: $task, args_map: $args) }",
            {"id": plugin_id, "task": task_name, "args": args})["runPluginTask"]

    def log_lines(self, since: int = 0) -> list[str]:
        """Stash's log lines written after byte offset `since` (see log_size)."""
        path = self.home / "stash.log"
        with open(path, "rb") as log:
            log.seek(since)
            return log.read().decode("utf-8", "replace").splitlines()

    def log_size(self) -> int:
        path = self.home / "stash.log"
        return path.stat().st_size if path.exists() else 0


def process_alive(pid: int) -> bool:
    """pid still runs (a zombie, exited but not reaped yet, does not): e.g. a drainer, which
    leaves its summary after letting go of the drain lock."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True  # no /proc (not Linux), or gone this instant: the next look tells
    return state != "Z"


def kill_plexsync_processes(marker_dir: Path) -> list[int]:
    """SIGKILL PlexSync processes (detached drainers) whose environment names marker_dir as
    their data folder: they are started by hooks and may outlive Stash (Linux /proc only)."""
    marker = f"PLEXSYNC_DATA_DIR={marker_dir}".encode()
    killed = []
    for proc_dir in Path("/proc").glob("[0-9]*"):
        try:
            if marker in (proc_dir / "environ").read_bytes().split(b"\0"):
                argv = (proc_dir / "cmdline").read_bytes().split(b"\0")
                if b"worker" in argv or any(a.endswith((b"PlexSync.py", b"process_queue.py")) for a in argv):
                    os.kill(int(proc_dir.name), signal.SIGKILL)
                    killed.append(int(proc_dir.name))
        except (OSError, ValueError):
            continue
    return killed


def stash_log_errors(text: str) -> list[str]:
    """Error lines of stash.log text: a plugin's error lines and Stash's "Plugin returned error"."""
    return [line for line in text.splitlines() if "level=error" in line or "returned error" in line]
