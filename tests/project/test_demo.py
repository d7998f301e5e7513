"""The demo explains itself (issue 12, item 11): every announced edit is visible between the
before and after (the removed tag was in Plex before), the task answer appears once, lists
are whole, and the temporary folder is gone afterwards."""
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def blocks(text: str, heading: str) -> dict[str, dict[str, str]]:
    """{item title: {field: value}} of one 'Plex BEFORE/AFTER' section."""
    section = text.split(heading, 1)[1].split("\n", 1)[1].split("\n\n", 1)[0]
    items, current = {}, None
    for line in section.splitlines():
        field = re.match(r" [ *]   (\w+) +(.*)$", line)
        if field and current is not None:
            items[current][field.group(1)] = field.group(2)
        elif re.match(r" [ *] \S", line):
            current = line[3:]
            items[current] = {}
    return items


def test_demo_shows_each_edit_once_whole_and_cleans_up():
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLEXSYNC_")}
    done = subprocess.run([sys.executable, "-m", "tests.demo"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    before, after = blocks(out, "Plex BEFORE the edits"), blocks(out, "Plex AFTER the edits")
    assert "Epic" in before["Saga Part I"]["genres"].split(", ")     # the tag to be removed
    assert "Epic" not in after["Saga Part I: Remastered"]["genres"].split(", ")
    assert before["Saga Part I"]["poster"] != after["Saga Part I: Remastered"]["poster"]
    for title in ("Saga Part II", "Rich Tags"):
        assert "Demo" not in before[title]["genres"] and "Demo" in after[title]["genres"]
    assert "Ünïcødé ✓" in after["Rich Tags"]["genres"]  # whole lists, nothing cut to a column
    assert len(re.findall(r"^ +Process Queue: ", out, re.M)) == 1, out  # the answer, once
    workdir = re.search(r"temporary data in (\S+)\)", out).group(1)
    assert not Path(workdir).exists()
