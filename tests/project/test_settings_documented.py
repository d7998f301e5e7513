"""Every setting exists once: in the parser's table, the manifest and the config reference."""
import re

import yaml

from validation.config import SETTINGS

MANIFEST_TYPES = {"str": "STRING", "list": "STRING", "path_map": "STRING", "bool": "BOOLEAN",
                  "int": "NUMBER", "float": "NUMBER"}


def test_manifest_declares_exactly_the_settings(project_root):
    manifest = yaml.safe_load((project_root / "PlexSync.yml").read_text())
    declared = manifest["settings"]
    assert list(declared) == [s.name for s in SETTINGS]
    for setting in SETTINGS:
        assert declared[setting.name]["type"] == MANIFEST_TYPES[setting.kind], setting.name


def test_config_reference_lists_every_setting_with_its_default(project_root):
    doc = (project_root / "docs" / "config.md").read_text()
    for setting in SETTINGS:
        row = re.search(rf"^\| `{setting.name}` \| (\w+) \| ([^|]+) \|", doc, re.M)
        assert row, f"{setting.name} missing from docs/config.md"
        shown = row.group(2).strip()
        if setting.default is None:
            assert shown == "(required)"
        elif setting.default in ((), ""):
            assert shown == "empty"
        elif isinstance(setting.default, bool):
            assert shown == str(setting.default).lower(), setting.name
        else:
            assert float(shown) == float(setting.default), setting.name
