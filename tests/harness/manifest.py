"""Plugin manifests loaded exactly as Stash loads them (pkg/plugin/config.go, plugins.go).

Stash decodes each `.yml` with gopkg.in/yaml.v2 in strict mode into its `Config` struct, so:
- a key the struct does not have (top level, or inside a task, hook, setting, ui) is an error,
  and so is a key given twice;
- every Go `string` receives the scalar's raw text: `hours: 24` is "24", `flag: yes` is "yes",
  `ratio: 1.50` is "1.50" (PyYAML's load() would give 24, True, 1.5 -- so we walk PyYAML's
  node graph instead, which keeps the raw text, and apply the Go types ourselves);
- only files ending in `.yml` are plugins, and the plugin id is the file name up to its last dot.
Unknown `triggeredBy` names are accepted silently, as in Stash (they simply never fire).
"""
from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field

import yaml


class ManifestError(Exception):
    """The manifest would not load in Stash (the message follows Stash's / yaml.v2's wording)."""


VALID_INTERFACES = ("rpc", "raw", "js")
VALID_SETTING_TYPES = ("STRING", "NUMBER", "BOOLEAN")
PYTHON_COMMANDS = ("python", "python3")  # pkg/python.IsPythonCommand


# --- Go types of the Config struct, as yaml.v2 decodes them -------------------------------

STRING, PTR_STRING = "string", "*string"


@dataclass(frozen=True)
class _List:
    elem: object
    go: str


@dataclass(frozen=True)
class _Map:
    elem: object
    go: str


@dataclass(frozen=True)
class _Struct:
    go: str
    fields: tuple[str, ...]
    types: tuple[object, ...]

    def type_of(self, key):
        return self.types[self.fields.index(key)]


def _struct(go, **fields):
    return _Struct(go, tuple(fields), tuple(fields.values()))


_STRINGS = _List(STRING, "[]string")
_OPERATION_FIELDS = dict(name=STRING, description=STRING, execArgs=_STRINGS,
                         defaultArgs=_Map(STRING, "map[string]string"))
_TASK = _struct("plugin.OperationConfig", **_OPERATION_FIELDS)
_HOOK = _struct("plugin.HookConfig", **_OPERATION_FIELDS,  # OperationConfig is `yaml:",inline"`
                triggeredBy=_List(STRING, "[]hook.TriggerEnum"))
_SETTING = _struct("plugin.SettingConfig", type=STRING, displayName=STRING, description=STRING)
_CSP = _struct("plugin.PluginCSP", **{"script-src": _STRINGS, "style-src": _STRINGS,
                                      "connect-src": _STRINGS})
_UI = _struct("plugin.UIConfig", requires=_STRINGS, csp=_CSP, javascript=_STRINGS, css=_STRINGS,
              assets=_Map(STRING, "utils.URLMap"))
_CONFIG = _struct("plugin.Config", name=STRING, description=PTR_STRING, url=PTR_STRING,
                  version=PTR_STRING, interface=STRING, exec=_STRINGS, errLog=STRING,
                  tasks=_List(_TASK, "[]*plugin.OperationConfig"),
                  hooks=_List(_HOOK, "[]*plugin.HookConfig"), ui=_UI,
                  settings=_Map(_SETTING, "map[string]plugin.SettingConfig"))

_NULL_TAG = "tag:yaml.org,2002:null"


def _short_tag(node) -> str:
    return node.tag.replace("tag:yaml.org,2002:", "!!")


def _go_name(typ) -> str:
    return typ if isinstance(typ, str) else typ.go


class _Decoder:
    """yaml.v2 strict decoding: collects every type error, like yaml.v2's TypeError."""

    def __init__(self):
        self.errors: list[str] = []

    def fail(self, node, message):
        self.errors.append(f"line {node.start_mark.line + 1}: {message}")

    def decode(self, node, typ):
        if isinstance(node, yaml.ScalarNode) and node.tag == _NULL_TAG:
            return None if typ == PTR_STRING or isinstance(typ, _List) else self.zero(typ)
        if typ in (STRING, PTR_STRING):
            if isinstance(node, yaml.ScalarNode):
                return node.value  # the raw text, whatever YAML would have resolved it to
            return self.mismatch(node, typ)
        if isinstance(typ, _List):
            if not isinstance(node, yaml.SequenceNode):
                return self.mismatch(node, typ)
            # a null element is a nil *OperationConfig, or "" in a []string
            return [None if _is_null(item) and isinstance(typ.elem, _Struct)
                    else self.decode(item, typ.elem) for item in node.value]
        if not isinstance(node, yaml.MappingNode):
            return self.mismatch(node, typ)
        return self.mapping(node, typ)

    def mapping(self, node, typ):
        out: dict = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                self.fail(key_node, "merge keys (<<) are not supported by the harness loader")
                continue
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            if key is None:
                self.fail(key_node, f"cannot unmarshal {_short_tag(key_node)} into string")
                continue
            if isinstance(typ, _Struct):
                if key not in typ.fields:
                    self.fail(key_node, f"field {key} not found in type {typ.go}")
                    continue
                if key in out:
                    self.fail(key_node, f"field {key} already set in type {typ.go}")
                    continue
                out[key] = self.decode(value_node, typ.type_of(key))
            else:
                if key in out:
                    self.fail(key_node, f'key "{key}" already set in map')
                    continue
                out[key] = self.decode(value_node, typ.elem)
        return out

    def mismatch(self, node, typ):
        shown = f" `{node.value}`" if isinstance(node, yaml.ScalarNode) else ""
        self.fail(node, f"cannot unmarshal {_short_tag(node)}{shown} into {_go_name(typ)}")
        return self.zero(typ)

    @staticmethod
    def zero(typ):
        if typ == STRING:
            return ""
        if isinstance(typ, (_Map, _Struct)):
            return {}
        return None


def _is_null(node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag == _NULL_TAG


# --- the loaded manifest ------------------------------------------------------------------

@dataclass(frozen=True)
class Operation:
    """A task (OperationConfig) or a hook (HookConfig; triggered_by is empty for tasks)."""
    name: str
    description: str
    exec_args: tuple[str, ...]
    default_args: dict  # map[string]string: every value is a str
    triggered_by: tuple[str, ...] = ()


@dataclass(frozen=True)
class Setting:
    type: str  # as written; "" means STRING (getPluginSettings)
    display_name: str
    description: str

    @property
    def effective_type(self) -> str:
        return self.type or "STRING"


@dataclass(frozen=True)
class Manifest:
    id: str
    path: str
    name: str
    description: str | None
    url: str | None
    version: str | None
    interface: str
    exec: tuple[str, ...]
    err_log: str
    tasks: tuple[Operation, ...]
    hooks: tuple[Operation, ...]
    settings: dict
    ui: dict = field(default_factory=dict)

    @property
    def plugin_dir(self) -> str:
        return os.path.dirname(self.path)

    @property
    def display_name(self) -> str:
        return self.name or self.id  # Config.getName

    def task(self, name: str) -> Operation | None:
        return next((t for t in self.tasks if t.name == name), None)

    def hooks_for(self, trigger: str) -> list[Operation]:
        # Config.getHooks appends a hook once per matching triggeredBy entry: a trigger listed
        # twice runs the hook twice, so we keep that.
        return [h for h in self.hooks for t in h.triggered_by if t == trigger]

    def exec_command(self, operation: Operation | None = None) -> list[str]:
        """Config.getExecCommand: exec + the operation's execArgs; a non-python program that
        is not on PATH is taken from the plugin folder; {pluginDir} is replaced in every
        argument but the first."""
        command = list(self.exec) + list(operation.exec_args if operation else ())
        if command and command[0] not in PYTHON_COMMANDS and shutil.which(command[0]) is None:
            command[0] = os.path.join(self.plugin_dir, command[0])
        return command[:1] + [a.replace("{pluginDir}", self.plugin_dir) for a in command[1:]]


def _operation(raw: dict, kind: str) -> Operation:
    if raw is None:  # yaml.v2 would store a nil pointer; Stash then panics listing the plugin
        raise ManifestError(f"a {kind} entry is null (Stash would crash on it)")
    return Operation(name=raw.get("name", ""), description=raw.get("description", ""),
                     exec_args=tuple(raw.get("execArgs") or ()),
                     default_args=dict(raw.get("defaultArgs") or {}),
                     triggered_by=tuple(raw.get("triggeredBy") or ()))


def load_manifest_text(text: str, path: str) -> Manifest:
    """loadPluginFromYAML + loadPluginFromYAMLFile for an already-read file."""
    try:
        root = next(iter(yaml.compose_all(text, Loader=yaml.SafeLoader)), None)
    except yaml.YAMLError as exc:
        raise ManifestError(f"yaml: {exc}") from None
    if root is None:
        raise ManifestError("EOF")  # yaml.v2's Decoder.Decode on an empty document
    if _is_null(root):  # Decode would set the *Config to nil; Stash then dereferences it
        raise ManifestError("the document is null (Stash would crash on it)")
    decoder = _Decoder()
    raw = decoder.decode(root, _CONFIG)
    if decoder.errors:
        raise ManifestError("yaml: unmarshal errors:\n  " + "\n  ".join(decoder.errors))
    interface = raw.get("interface") or "raw"
    if interface not in VALID_INTERFACES:
        raise ManifestError(f"invalid interface type {interface}")
    settings = {}
    for key, s in (raw.get("settings") or {}).items():
        s = s or {}
        if s.get("type") and s["type"] not in VALID_SETTING_TYPES:
            # sic: Stash's message swaps the two values
            raise ManifestError(f"invalid type {key} for setting {s['type']}")
        settings[key] = Setting(s.get("type", ""), s.get("displayName", ""),
                                s.get("description", ""))
    base = os.path.basename(path)
    return Manifest(
        id=base[:base.rindex(".")], path=os.path.abspath(path), name=raw.get("name", ""),
        description=raw.get("description"), url=raw.get("url"), version=raw.get("version"),
        interface=interface, exec=tuple(raw.get("exec") or ()),
        err_log=raw.get("errLog", ""),
        tasks=tuple(_operation(t, "task") for t in raw.get("tasks") or ()),
        hooks=tuple(_operation(h, "hook") for h in raw.get("hooks") or ()),
        settings=settings, ui=raw.get("ui") or {})


def load_manifest(path: str | os.PathLike) -> Manifest:
    path = os.fspath(path)
    if os.path.splitext(path)[1] != ".yml":
        raise ManifestError(f"{path}: Stash only loads files ending in .yml")
    with open(path, encoding="utf-8") as f:
        return load_manifest_text(f.read(), path)


def find_manifest(plugin_dir: str | os.PathLike, plugin_id: str | None = None) -> str:
    """The .yml of a plugin folder: `<plugin_id>.yml`, or the folder's only .yml."""
    path = os.fspath(plugin_dir)
    if os.path.isfile(path):
        return path
    if plugin_id:
        return os.path.join(path, plugin_id + ".yml")
    found = sorted(n for n in os.listdir(path) if os.path.splitext(n)[1] == ".yml")
    if len(found) != 1:
        raise ManifestError(f"{path}: expected one .yml manifest (Stash loads only .yml), "
                            f"found {found or 'none'}; pass plugin_id")
    return os.path.join(path, found[0])


def discover_plugins(root: str | os.PathLike) -> tuple[list[Manifest], list[tuple[str, str]]]:
    """Cache.ReloadPlugins: every `.yml` anywhere under root (symlinks followed) is a plugin;
    ids are unique case-insensitively. Returns (loaded, [(path, error)]) -- Stash logs the
    errors and skips those files."""
    loaded, errors, seen = [], [], set()
    for folder, dirs, files in os.walk(os.fspath(root), followlinks=True):
        dirs.sort()  # filepath.Walk visits in lexical order
        for name in sorted(files):
            if os.path.splitext(name)[1] != ".yml":
                continue
            path = os.path.join(folder, name)
            try:
                manifest = load_manifest(path)
            except (ManifestError, OSError, UnicodeDecodeError) as exc:
                errors.append((path, str(exc)))
                continue
            if manifest.id.lower() in seen:
                errors.append((path, f"plugin ID {manifest.id} already exists"))
                continue
            seen.add(manifest.id.lower())
            loaded.append(manifest)
    return loaded, errors
