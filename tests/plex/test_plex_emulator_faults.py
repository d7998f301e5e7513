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
from tests.waiting import wait_until


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


def test_fail_for_a_window_on_the_real_clock(plex):
    plex.fail_for(60, status=502)  # the default clock: a window no test outlasts ...
    assert raw(plex, "/").status_code == 502
    set_at = time.time()
    plex.fail_for(0.3, status=502)  # ... and one that ends (waited for, never slept on)
    wait_until(lambda: raw(plex, "/").status_code == 200, 30, what="the window to end")
    assert time.time() - set_at >= 0.3


def test_latency_delays_every_answer(plex):
    plex.latency(0.3)
    started = time.monotonic()
    assert raw(plex, "/").status_code == 200
    assert time.monotonic() - started >= 0.3
    plex.latency(60)  # far beyond the client's timeout, however slow this machine is
    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.get(plex.url + "/", headers={"X-Plex-Token": plex.token}, timeout=(5, 0.1))
    plex.clear_faults()  # an answer within 30 s: the 60 s latency is gone
    assert requests.get(plex.url + "/", headers={"X-Plex-Token": plex.token},
                        timeout=30).status_code == 200


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
            requests.get(plex.url + "/", headers={"X-Plex-Token": plex.token}, timeout=60)
        except requests.RequestException as exc:
            outcome.append(exc)
    thread = threading.Thread(target=client)
    thread.start()
    wait_until(lambda: [r for r in plex.requests if r.fault == "hang"], 30,
               what="the request to hang")
    plex.stop()  # a wedged stop would wait for the client's 60 s timeout
    thread.join(60)
    # cut by stop(), not ended by the client's timeout (that would be a ReadTimeout)
    assert isinstance(outcome[0], requests.ConnectionError), outcome


def test_held_requests_wait_until_all_have_arrived(plex):
    answered = []
    hold = plex.hold_until_arrived(3)

    def client():
        answered.append(raw(plex, "/identity").status_code)
    first = threading.Thread(target=client)
    first.start()
    wait_until(lambda: hold.held() == 1, 30, what="the first request to be held")
    second = threading.Thread(target=client)
    second.start()
    wait_until(lambda: hold.held() == 2, 30, what="the second request to be held")
    assert answered == []  # two of three arrived: neither is answered
    client()  # the third releases all three
    for thread in (first, second):
        thread.join(30)
    assert answered == [200, 200, 200] and plex.errors == []
    assert raw(plex, "/identity").status_code == 200  # later requests are not held


def test_a_hold_keeps_matching_requests_until_released(plex, plex_api):
    movie = plex_api.fetchItem(plex.find_by_file(PART_I_FILE)[0])
    hold = plex.hold(method="PUT", after=1)
    movie.editTitle("passes")  # the first PUT is let through
    edit = threading.Thread(target=lambda: movie.editTitle("held"))
    edit.start()
    wait_until(lambda: hold.held() == 1, 30, what="the second PUT to be held")
    movie.reload()  # GETs pass
    assert plex.item(movie.ratingKey)["title"] == "passes"
    hold.release()
    edit.join(30)
    assert plex.item(movie.ratingKey)["title"] == "held" and plex.errors == []


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
