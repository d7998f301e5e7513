"""Faults of the Plex emulator, as plexapi / requests experience them.

Down = connection refused (same port after up), fail = HTTP status, latency, hang = the read
never completes (client timeout), drop = connection reset mid-response.
"""
from __future__ import annotations

import threading
import time

import pytest
import requests
from plexapi.exceptions import BadRequest

from tests.emulators.plex_library import PART_I_FILE
from tests.emulators.plex_server import PlexEmulator
from tests.plex.test_plex_emulator import FakeClock, raw


def test_down_refuses_connections_and_up_listens_on_the_same_port(plex, plex_api):
    port, rk = plex.port, plex.find_by_file(PART_I_FILE)[0]
    plex_api.query("/library/sections")            # leaves a keep-alive connection in the pool
    plex.down()
    assert not plex.is_up
    with pytest.raises(requests.ConnectionError):
        plex_api.query("/library/sections")
    with pytest.raises(requests.ConnectionError):
        raw(plex, "/identity")
    plex.up()
    assert plex.is_up and plex.port == port
    assert plex_api.fetchItem(rk).title == "Saga Part I"    # same state, same client object


def test_fail_next_k_requests(plex, plex_api):
    plex.clear_log()
    plex.fail_next(2)
    for _ in range(2):
        with pytest.raises(BadRequest, match=r"\(500\)"):
            plex_api.query("/library/sections")
    assert plex_api.query("/library/sections") is not None
    assert [(r.status, r.fault) for r in plex.requests] == [(500, "fail"), (500, "fail"),
                                                           (200, None)]


def test_fail_next_narrowed_to_a_method(plex, plex_api):
    movie = plex_api.fetchItem(plex.find_by_file(PART_I_FILE)[0])
    plex.fail_next(1, 503, method="PUT")
    movie.reload()                                  # GETs pass
    with pytest.raises(BadRequest, match=r"\(503\)"):
        movie.editTitle("first try")
    movie.editTitle("second try")
    assert plex.item(movie.ratingKey)["title"] == "second try"


def test_fail_for_a_window_on_an_injected_clock():
    clock = FakeClock()
    with PlexEmulator(clock=clock) as plex:
        plex.fail_for(60)
        assert raw(plex, "/").status_code == 503
        clock.advance(59)
        assert raw(plex, "/").status_code == 503
        clock.advance(2)
        assert raw(plex, "/").status_code == 200


def test_fail_for_a_short_real_window(plex):
    plex.fail_for(0.3, status=502)
    assert raw(plex, "/").status_code == 502
    time.sleep(0.35)
    assert raw(plex, "/").status_code == 200


def test_latency_delays_every_answer(plex):
    plex.latency(0.3)
    started = time.monotonic()
    assert raw(plex, "/").status_code == 200
    assert time.monotonic() - started >= 0.3
    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.get(plex.url + "/", headers={"X-Plex-Token": plex.token}, timeout=(1, 0.1))
    plex.clear_faults()
    started = time.monotonic()
    raw(plex, "/")
    assert time.monotonic() - started < 0.2


def test_hang_makes_the_client_time_out_then_serving_continues(plex, plex_api):
    plex.hang_next(1)
    with pytest.raises(requests.exceptions.ReadTimeout):
        plex_api.query("/library/sections", timeout=0.3)
    assert plex_api.query("/library/sections") is not None
    hung = plex.records(path_prefix="/library/sections")[0]
    assert (hung.fault, hung.status) == ("hang", None)


def test_stop_is_not_wedged_by_a_hanging_request():
    plex = PlexEmulator().start()
    plex.hang_next(1)
    outcome = []

    def client():
        try:
            raw(plex, "/")
        except requests.RequestException as exc:
            outcome.append(exc)
    thread = threading.Thread(target=client)
    thread.start()
    time.sleep(0.2)                                  # the request is now hanging
    started = time.monotonic()
    plex.stop()
    assert time.monotonic() - started < 1.0
    thread.join(2)
    assert isinstance(outcome[0], requests.ConnectionError)  # cut, not left to its 5 s timeout


def test_drop_mid_response(plex, plex_api):
    plex.drop_next(1)
    with pytest.raises(requests.ConnectionError):
        plex_api.query("/library/sections")
    plex.drop_next(1, during="body")
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        plex_api.query("/library/sections")
    assert plex_api.query("/library/sections") is not None
    assert [r.fault for r in plex.records(path_prefix="/library/sections")] == ["drop", "drop",
                                                                                None]


def test_faults_apply_before_auth(plex):
    plex.fail_next(1, 503)
    assert raw(plex, "/", token="wrong").status_code == 503
    assert raw(plex, "/", token="wrong").status_code == 401
