"""Where PlexSync finds PythonDepManager: every layout Stash's installs produce (issue 10.5)."""
from __future__ import annotations

import pytest

from hooks.dependencies import dep_manager_parent


def make(root, *parts):
    folder = root.joinpath(*parts)
    folder.mkdir(parents=True)
    return folder


@pytest.mark.parametrize("plexsync, dep_manager, expected", [
    (("PlexSync",), ("community", "PythonDepManager"), ("community",)),            # copied
    (("src", "PlexSync"), ("community", "PythonDepManager"), ("community",)),      # plugin source
    (("community", "PlexSync"), ("community", "PythonDepManager"), ("community",)),  # same source
    (("PlexSync",), ("PythonDepManager",), ()),                                   # both copied
    (("src", "PlexSync"), ("PythonDepManager",), ()),
])
def test_found_in_every_layout(tmp_path, plexsync, dep_manager, expected):
    plugins = make(tmp_path, "plugins")
    plugin_dir = make(plugins, *plexsync)
    (make(plugins, *dep_manager) / "__init__.py").write_text("")
    assert dep_manager_parent(plugin_dir) == plugins.joinpath(*expected)


def test_absent_is_none(tmp_path):
    plugin_dir = make(tmp_path, "plugins", "src", "PlexSync")
    make(tmp_path, "plugins", "community", "Other")
    assert dep_manager_parent(plugin_dir) is None
