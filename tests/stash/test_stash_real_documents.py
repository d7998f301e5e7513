"""Every GraphQL document PlexSync sends, sent to the REAL Stash server (../shared/stash-server):
none is refused, and a refused one reaches the user in Stash's own words.

The schema tests (test_stash_schema_conformance.py) validate against every release's SDL; this
one asks the running server itself, which also settles what status a refusal really has
(v0.30.1-19 answers 400, where gqlgen documents 422).
"""
from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

import pytest
from graphql import OperationDefinitionNode, parse

from hooks.stash_api import StashClient, StashError, StashRejected
from tests.stash.test_stash_schema_conformance import plexsync_documents, stash_versions_of

STASH_SERVER = Path(__file__).resolve().parents[2].parent / "shared" / "stash-server"


@pytest.fixture(scope="module")
def real_stash(tmp_path_factory):
    if not (STASH_SERVER / "start-stash").is_file():
        pytest.skip(f"no real Stash server at {STASH_SERVER} (../shared/stash-server)")
    home, media = tmp_path_factory.mktemp("stash-home"), tmp_path_factory.mktemp("stash-media")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    started = subprocess.run([str(STASH_SERVER / "start-stash"), str(home), str(media), str(port)],
                             capture_output=True, text=True, timeout=120)
    if started.returncode != 0:
        pytest.fail(f"start-stash failed: {started.stderr[-500:]}")
    pid, url = started.stdout.split()
    try:
        yield url
    finally:
        subprocess.run([str(STASH_SERVER / "stop-stash"), str(home)], capture_output=True, timeout=60)
        try:
            os.waitpid(int(pid), 0)
        except ChildProcessError:  # not our child (start-stash started it with nohup)
            pass


def _variables(document: str) -> dict:
    """Harmless values for every variable the document declares, by type."""
    values = {"ID": "1", "[ID!]": ["PlexSync"], "[String!]": ["PlexSync"], "ID!": "1",
              "FindFilterType": {"per_page": 1}, "SceneUpdateInput!": {"id": "1"}, "Int!": 1}
    operation = next(d for d in parse(document).definitions if isinstance(d, OperationDefinitionNode))
    variables = {}
    for definition in operation.variable_definitions or ():
        type_text = _type_text(definition.type)
        if type_text in values:
            variables[definition.variable.name.value] = values[type_text]
    return variables


def _type_text(node) -> str:
    kind = type(node).__name__
    if kind == "NonNullTypeNode":
        return _type_text(node.type) + "!"
    if kind == "ListTypeNode":
        return f"[{_type_text(node.type)}]"
    return node.name.value


DOCUMENTS = plexsync_documents() or {}


@pytest.mark.parametrize("name", sorted(n for n in DOCUMENTS
                                        if stash_versions_of(n) <= (0, 30, 1)))
def test_real_stash_accepts_every_document(real_stash, name):
    client = StashClient(real_stash)
    document = DOCUMENTS[name]
    try:
        client.execute(document, _variables(document))
    except StashRejected as exc:
        pytest.fail(f"the real Stash refused {name}: {exc}")
    except StashError:  # e.g. a mutation on a scene that does not exist: accepted, then failed
        pass


def test_real_stash_refusal_reads_in_stashs_own_words(real_stash):
    client = StashClient(real_stash)
    with pytest.raises(StashRejected) as refused:
        client.execute("query PlexSyncBroken { findScenes { scenes { cover_url } } }")
    assert str(refused.value) == ("Stash rejected PlexSync's request: Cannot query field "
                                  '"cover_url" on type "Scene". (Stash v0.30.1)')
