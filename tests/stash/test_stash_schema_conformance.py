"""PlexSync's GraphQL documents and the Stash emulator's SDL, checked against Stash's REAL schema.

Stash v0.30.1's schema lives outside the project, in ../shared/stash-schema/v0.30.1 (never
copied in); without it these tests skip and say so. PlexSync's documents are the module-level
strings of hooks/stash_documents.py whose names end in _QUERY or _MUTATION.
"""
from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path

import pytest
from graphql import (GraphQLSchema, build_schema, is_enum_type, is_input_object_type,
                     is_interface_type, is_non_null_type, is_object_type, is_scalar_type, parse,
                     validate)
from graphql.pyutils import Undefined
from graphql.validation import NoDeprecatedCustomRule

from tests.emulators.stash_graphql import SCHEMA as EMULATOR_SCHEMA

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SCHEMA_ROOT = PROJECT_ROOT.parent / "shared" / "stash-schema"
REAL_SCHEMA_DIR = SCHEMA_ROOT / "v0.30.1"
BUILT_IN = {"String", "Int", "Float", "Boolean", "ID"}


def load_real_schema(directory: Path) -> GraphQLSchema:
    """types/*.graphql then schema.graphql, concatenated, as Stash's gqlgen config lists them."""
    parts = [p.read_text(encoding="utf-8") for p in sorted((directory / "types").glob("*.graphql"))]
    return build_schema("\n".join(parts + [(directory / "schema.graphql").read_text(encoding="utf-8")]))


def schema_versions() -> list[str]:
    """Every Stash release folder in ../shared/stash-schema (v0.24.3 ... v0.30.1)."""
    if not SCHEMA_ROOT.is_dir():
        return []
    return sorted((d.name for d in SCHEMA_ROOT.iterdir() if (d / "schema.graphql").is_file()),
                  key=lambda name: _version(name))


def _version(name: str) -> tuple:
    return tuple(int(part) for part in name.lstrip("v").split("."))


def plexsync_documents() -> dict[str, str] | None:
    """name -> document: every module-level *_QUERY / *_MUTATION string of every hooks/*.py
    module, plus the generated ones hooks.stash_documents.documents_for_tests() lists. None while
    hooks/stash_documents.py does not exist."""
    if importlib.util.find_spec("hooks") is None or importlib.util.find_spec("hooks.stash_documents") is None:
        return None
    documents = {}
    for path in sorted((PROJECT_ROOT / "hooks").glob("*.py")):
        module = importlib.import_module(f"hooks.{path.stem}")
        documents.update({name: value for name, value in sorted(vars(module).items())
                          if name.endswith(("_QUERY", "_MUTATION")) and isinstance(value, str)})
    stash_documents = importlib.import_module("hooks.stash_documents")
    documents.update(stash_documents.documents_for_tests())
    return documents


def stash_versions_of(name: str) -> tuple:
    """The first Stash version a document needs (hooks.stash_documents.DOCUMENT_MIN_STASH)."""
    stash_documents = importlib.import_module("hooks.stash_documents")
    return stash_documents.DOCUMENT_MIN_STASH.get(name, stash_documents.MINIMUM_STASH)


def conformance_problems(subset: GraphQLSchema, real: GraphQLSchema) -> list[str]:
    """Everything `subset` declares that the real schema does not declare the same way."""
    problems = []
    if subset.query_type.name != real.query_type.name:
        problems.append(f"query root is {subset.query_type.name}, Stash's is {real.query_type.name}")
    for name, ours in subset.type_map.items():
        if name.startswith("__") or name in BUILT_IN:
            continue
        theirs = real.type_map.get(name)
        if theirs is None:
            problems.append(f"type {name} does not exist in Stash")
        elif _kind(ours) != _kind(theirs):
            problems.append(f"{name} is {_kind(ours)} here but {_kind(theirs)} in Stash")
        elif is_enum_type(ours):
            problems += [f"enum {name} has no value {v} in Stash" for v in ours.values if v not in theirs.values]
        elif is_input_object_type(ours):
            problems += _field_problems(name, ours.fields, theirs.fields, check_args=False)
            problems += [f"{name}.{f} is required in Stash but not declared here"
                         for f, field in theirs.fields.items()
                         if is_non_null_type(field.type) and field.default_value is Undefined
                         and f not in ours.fields]
        elif is_object_type(ours) or is_interface_type(ours):
            problems += _field_problems(name, ours.fields, theirs.fields, check_args=True)
    return problems


def _field_problems(type_name: str, ours: dict, theirs: dict, check_args: bool) -> list[str]:
    problems = []
    for field_name, field in ours.items():
        real_field = theirs.get(field_name)
        where = f"{type_name}.{field_name}"
        if real_field is None:
            problems.append(f"{where} does not exist in Stash")
            continue
        if str(field.type) != str(real_field.type):
            problems.append(f"{where} is {field.type} here but {real_field.type} in Stash")
        if not check_args:
            continue
        for arg_name, arg in field.args.items():
            real_arg = real_field.args.get(arg_name)
            if real_arg is None:
                problems.append(f"{where}({arg_name}:) does not exist in Stash")
            elif str(arg.type) != str(real_arg.type):
                problems.append(f"{where}({arg_name}:) is {arg.type} here but {real_arg.type} in Stash")
        problems += [f"{where}({a}:) is required in Stash but not declared here"
                     for a, real_arg in real_field.args.items()
                     if is_non_null_type(real_arg.type) and a not in field.args]
    return problems


def _kind(graphql_type) -> str:
    for test, kind in ((is_object_type, "an object type"), (is_input_object_type, "an input type"),
                       (is_enum_type, "an enum"), (is_scalar_type, "a scalar"),
                       (is_interface_type, "an interface")):
        if test(graphql_type):
            return kind
    return "a union"


@pytest.fixture(scope="module")
def real_schema() -> GraphQLSchema:
    if not (REAL_SCHEMA_DIR / "schema.graphql").is_file():
        pytest.skip(f"Stash's real schema is not at {REAL_SCHEMA_DIR} (../shared/stash-schema/v0.30.1 "
                    "beside the project): GraphQL conformance not checked")
    return load_real_schema(REAL_SCHEMA_DIR)


_SCHEMAS: dict = {}


def schema_of(version: str) -> GraphQLSchema:
    if version not in _SCHEMAS:
        _SCHEMAS[version] = load_real_schema(SCHEMA_ROOT / version)
    return _SCHEMAS[version]


DOCUMENTS = plexsync_documents()
VERSIONS = schema_versions()
NO_MODULE = pytest.mark.skip(reason="hooks/stash_documents.py does not exist yet: no PlexSync GraphQL documents")
NO_SCHEMAS = pytest.mark.skip(reason=f"no Stash schemas at {SCHEMA_ROOT} (../shared/stash-schema "
                              "beside the project): per-version conformance not checked")
DOCUMENT_PARAMS = ([pytest.param(name, id=name) for name in DOCUMENTS] if DOCUMENTS is not None
                   else [pytest.param(None, id="no-stash_api", marks=NO_MODULE)])
# (document, Stash version) for every version the document is sent to.
VERSION_PARAMS = ([pytest.param(name, version, id=f"{name}@{version}")
                   for version in VERSIONS for name in DOCUMENTS
                   if _version(version) >= stash_versions_of(name)]
                  if DOCUMENTS is not None and VERSIONS else
                  [pytest.param(None, None, id="no-schemas", marks=NO_SCHEMAS)])


# ---- (a) every document PlexSync sends, to every Stash version it is sent to ------------------

@pytest.mark.skipif(DOCUMENTS is None, reason="hooks/stash_documents.py does not exist yet")
def test_plexsync_defines_its_documents_where_these_tests_look():
    assert DOCUMENTS, "hooks/stash_documents.py has no *_QUERY / *_MUTATION string constants"
    assert {"SETTINGS_QUERY", "SCENES_QUERY", "FIND_SCENES_QUERY"} <= set(DOCUMENTS)
    assert any(name.startswith("scenes_document(50") for name in DOCUMENTS)


def test_every_schema_release_is_here():
    if not VERSIONS:
        pytest.skip(f"no Stash schemas at {SCHEMA_ROOT}")
    assert VERSIONS[0] == "v0.24.3" and VERSIONS[-1] == "v0.30.1" and len(VERSIONS) == 7


@pytest.mark.parametrize("name, version", VERSION_PARAMS)
def test_document_is_valid_for_every_stash_version_it_is_sent_to(name, version):
    from hooks.stash_documents import adapt_document, parse_version
    document = adapt_document(DOCUMENTS[name], parse_version(version))
    errors = validate(schema_of(version), parse(document))
    assert not errors, (f"{name} as sent to Stash {version} would be refused:\n"
                        + "\n".join(e.message for e in errors))
    deprecated = validate(schema_of(version), parse(document), [NoDeprecatedCustomRule])
    assert not deprecated, (f"{name} relies on API Stash {version} deprecated:\n"
                            + "\n".join(e.message for e in deprecated))


@pytest.mark.skipif(not VERSIONS, reason="no Stash schemas in ../shared/stash-schema")
def test_unadapted_documents_would_fail_on_old_stash():
    """Why adapt_document exists: the newest form is refused by v0.24 (and v0.26 for groups)."""
    from hooks.stash_documents import SCENES_QUERY, SETTINGS_QUERY
    old = [e.message for query in (SCENES_QUERY, SETTINGS_QUERY)
           for e in validate(schema_of("v0.24.3"), parse(query))]
    assert any("groups" in m for m in old) and any("[String!]" in m for m in old), old
    assert any("groups" in e.message for e in validate(schema_of("v0.26.2"), parse(SCENES_QUERY)))


@pytest.mark.skipif(not VERSIONS, reason="no Stash schemas in ../shared/stash-schema")
def test_a_document_needing_newer_stash_is_checked_only_where_it_exists(monkeypatch):
    """DOCUMENT_MIN_STASH keeps e.g. a sceneAddPlay mutation (v0.25+) off older schemas."""
    import hooks.stash_documents as stash_documents
    play = 'mutation PlexSyncPlay($id: ID!) { sceneAddPlay(id: $id) { count } }'
    assert validate(schema_of("v0.24.3"), parse(play))  # v0.24 has no sceneAddPlay
    assert not validate(schema_of("v0.25.1"), parse(play))
    monkeypatch.setitem(stash_documents.DOCUMENT_MIN_STASH, "SCENE_ADD_PLAY_MUTATION", (0, 25, 0))
    checked = [v for v in VERSIONS if _version(v) >= stash_versions_of("SCENE_ADD_PLAY_MUTATION")]
    assert checked[0] == "v0.25.1" and "v0.24.3" not in checked
    for name in stash_documents.DOCUMENT_MIN_STASH:
        assert DOCUMENTS is not None and (name in DOCUMENTS or name == "SCENE_ADD_PLAY_MUTATION"), \
            f"DOCUMENT_MIN_STASH names {name}, which is no document"


@pytest.mark.parametrize("name", DOCUMENT_PARAMS)
def test_document_is_valid_against_real_stash(name, real_schema):
    errors = validate(real_schema, parse(DOCUMENTS[name]))
    assert not errors, f"{name} would be refused by Stash v0.30.1:\n" + "\n".join(e.message for e in errors)


@pytest.mark.parametrize("name", DOCUMENT_PARAMS)
def test_emulator_serves_document(name):
    errors = validate(EMULATOR_SCHEMA, parse(DOCUMENTS[name]))
    assert not errors, (f"the Stash emulator cannot answer {name}; extend tests/emulators/"
                        "stash_schema.graphql:\n" + "\n".join(e.message for e in errors))


def test_validation_catches_a_document_stash_would_refuse(real_schema):
    errors = validate(real_schema, parse("{ findScenes(ids: [1]) { scenes { id cover_url } } }"))
    assert [e.message for e in errors] == ["Cannot query field 'cover_url' on type 'Scene'."]


# ---- (b) the emulator's SDL subset -----------------------------------------------------------

def test_emulator_sdl_is_a_subset_of_real_stash(real_schema):
    assert conformance_problems(EMULATOR_SCHEMA, real_schema) == []


def test_subset_check_reports_each_kind_of_mismatch(real_schema):
    wrong = build_schema("""
        type Query { findScene(id: ID!, nope: Int): Scene  findScenes: Int }
        type Mutation { configurePlugin(input: Map!): Map! }
        scalar Map
        type Scene { id: Int  title: String  cover: String }
        enum SortDirectionEnum { ASC SIDEWAYS }
        input TimestampCriterionInput { value: String! }
        type PlexOnly { id: ID }
    """)
    assert sorted(conformance_problems(wrong, real_schema)) == sorted([
        "Query.findScene(id:) is ID! here but ID in Stash",
        "Query.findScene(nope:) does not exist in Stash",
        "Query.findScenes is Int here but FindScenesResultType! in Stash",
        "Mutation.configurePlugin(plugin_id:) is required in Stash but not declared here",
        "Scene.id is Int here but ID! in Stash",
        "Scene.cover does not exist in Stash",
        "enum SortDirectionEnum has no value SIDEWAYS in Stash",
        "TimestampCriterionInput.modifier is required in Stash but not declared here",
        "type PlexOnly does not exist in Stash",
    ])
