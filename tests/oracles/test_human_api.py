"""The ranking page's JSON API: token, validation, shuffle, undo, answer log, resume."""

from __future__ import annotations

import json
import threading
import time

import httpx
import numpy as np
import pytest

from blackbox import Budget, minimize
from blackbox.errors import ConfigError
from blackbox.keys import Key
from blackbox.spaces import Box
from oracles.human import HumanRanker, candidate_payload


def text(p):
    return " ".join(f"{v:+.4f}" for v in p)


def make(tmp_path=None, **kw):
    kw.setdefault("announce", lambda url: None)
    if tmp_path is not None:
        kw.setdefault("log", tmp_path / "answers.jsonl")
    return HumanRanker(kw.pop("dim", 2), kw.pop("render", text), **kw)


class Asker:
    """Calls ``rank`` in a thread, like the runner does, and keeps its answer."""

    def __init__(self, h, pts, top=2, key=Key(1)):
        self.out = None
        self.t = threading.Thread(target=self._run, args=(h, pts, top, key), daemon=True)
        self.t.start()

    def _run(self, h, pts, top, key):
        self.out = h.rank(pts, np.arange(len(pts))[None], top=top, key=key)

    def join(self):
        self.t.join(10)
        assert not self.t.is_alive()
        return self.out


def api(h):
    return httpx.Client(base_url=f"http://127.0.0.1:{h.port}",
                        headers={"Authorization": f"Bearer {h.token}"}, timeout=5)


def wait_open(c):
    for _ in range(100):
        q = c.get("/api/query").json()
        if q["id"]:
            return q
        time.sleep(0.02)
    raise AssertionError("no query was opened")


PTS = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])


def test_token_is_required_on_every_request_and_the_api_takes_it_from_the_header():
    h = make()
    try:
        base = f"http://127.0.0.1:{h.port}"
        assert httpx.get(base + "/").status_code == 403
        assert httpx.get(base + "/?token=wrong-token-0123456789").status_code == 403
        assert httpx.get(base + f"/?token={h.token}").status_code == 200
        assert httpx.get(base + f"/api/query?token={h.token}").status_code == 403  # URL: no
        assert httpx.post(base + "/api/answer", json={"id": "x", "order": []}).status_code == 403
        assert httpx.post(base + f"/api/answer?token={h.token}",
                          json={"id": "x", "order": []}).status_code == 403
        page = httpx.get(base + f"/?token={h.token}")
        assert "default-src 'none'" in page.headers["content-security-policy"]
        assert page.headers["server"] == "ranking-page"
        assert page.headers["cache-control"] == "no-store"
        with api(h) as c:
            assert c.get("/api/query").status_code == 200
            assert c.get("/api/query", headers={"Host": "attacker.example"}).status_code == 403
            assert c.post("/api/undo", json={"id": None},
                          headers={"Origin": "http://attacker.example"}).status_code == 403
            assert c.get("/etc/passwd").status_code == 403
            assert c.get(f"/etc/passwd?token={h.token}").status_code == 404
    finally:
        h.close()


def test_query_shows_shuffled_candidates_and_maps_the_order_back_to_rows():
    h = make(budget=7)
    try:
        a = Asker(h, PTS, top=2)
        with api(h) as c:
            q = wait_open(c)
            assert q["top"] == 2 and q["answered"] == 0 and q["budget"] == 7
            shown = {cd["id"]: cd["text"] for cd in q["candidates"]}
            assert sorted(shown.values()) == sorted(text(p) for p in PTS)
            rows = {text(p): i for i, p in enumerate(PTS)}
            display = [rows[cd["text"]] for cd in q["candidates"]]
            assert display != [0, 1, 2, 3]  # this key's shuffle moves the first row
            by_text = {t: cid for cid, t in shown.items()}
            order = [by_text[text(PTS[3])], by_text[text(PTS[1])]]
            r = c.post("/api/answer", json={"id": q["id"], "order": order})
            assert r.status_code == 200 and r.json()["answered"] == 1
        assert a.join().tolist() == [[3, 1]]
    finally:
        h.close()


@pytest.mark.parametrize("order", [
    ["c0"] * 2, ["c0", "c9"], "c0", [0, 1], ["c0", "c1", "c2"], [],
])
def test_bad_answers_get_400_and_record_nothing(tmp_path, order):
    h = make(tmp_path, ties=False)
    try:
        a = Asker(h, PTS, top=2)
        with api(h) as c:
            q = wait_open(c)
            r = c.post("/api/answer", json={"id": q["id"], "order": order})
            assert r.status_code == 400 and "order must" in r.json()["error"]
            after = c.get("/api/query").json()
            assert after["id"] == q["id"] and after["answered"] == 0
            assert not (tmp_path / "answers.jsonl").exists()
            for body in (b"not json", b"[1, 2]"):
                r = c.post("/api/answer", content=body,
                           headers={"Content-Type": "application/json"})
                assert r.status_code == 400
            ok = c.post("/api/answer", json={"id": q["id"], "order": ["c0", "c1"]})
            assert ok.status_code == 200
        assert a.join().shape == (1, 2)
    finally:
        h.close()


def test_stale_or_repeated_query_ids_get_409():
    h = make()
    try:
        a = Asker(h, PTS, top=1)
        with api(h) as c:
            q = wait_open(c)
            assert c.post("/api/answer", json={"id": "q0-old", "order": ["c0"]}).status_code == 409
            assert c.post("/api/answer", json={"id": q["id"], "order": ["c0"]}).status_code == 200
            assert c.post("/api/answer", json={"id": q["id"], "order": ["c1"]}).status_code == 409
        a.join()
    finally:
        h.close()


def test_cant_decide_lists_fewer_where_ties_are_allowed():
    h = make(ties=True)
    try:
        a = Asker(h, PTS, top=3)
        with api(h) as c:
            q = wait_open(c)
            assert q["ties"] is True
            assert c.post("/api/answer", json={"id": q["id"], "order": ["c2"]}).status_code == 200
        assert a.join().shape == (1, 1)
    finally:
        h.close()


def test_undo_takes_an_answer_back_until_it_is_told(tmp_path):
    h = make(tmp_path, undo_seconds=0.6)
    try:
        a = Asker(h, PTS, top=1)
        with api(h) as c:
            q = wait_open(c)
            first = q["candidates"][0]["text"]
            assert c.post("/api/answer", json={"id": q["id"], "order": ["c0"]}).status_code == 200
            assert c.get("/api/query").json()["state"] == "staged"
            assert c.post("/api/undo", json={"id": q["id"]}).status_code == 200
            again = c.get("/api/query").json()
            assert again["id"] == q["id"] and again["answered"] == 0
            assert c.post("/api/answer", json={"id": q["id"], "order": ["c1"]}).status_code == 200
            out = a.join()
            assert c.post("/api/undo", json={"id": q["id"]}).status_code == 409  # told already
        rows = {text(p): i for i, p in enumerate(PTS)}
        assert out[0, 0] == rows[q["candidates"][1]["text"]] != rows[first]
        assert len((tmp_path / "answers.jsonl").read_text().splitlines()) == 1
    finally:
        h.close()


def test_the_answer_log_answers_again_without_showing(tmp_path):
    h = make(tmp_path)
    try:
        a = Asker(h, PTS, top=2)
        with api(h) as c:
            q = wait_open(c)
            ok = c.post("/api/answer", json={"id": q["id"], "order": ["c1", "c0"]})
            assert ok.status_code == 200
        first = a.join()
    finally:
        h.close()
    rec = json.loads((tmp_path / "answers.jsonl").read_text())
    assert set(rec) == {"digest", "order", "t"}  # no points, no environment
    h2 = make(tmp_path)
    try:
        assert h2.board.answered == 1
        assert np.array_equal(h2.rank(PTS, np.arange(4)[None], top=2, key=Key(1)), first)
        assert h2.replayed == 1
    finally:
        h2.close()


class Person:
    """Answers every query through the API by a hidden utility; records what it was shown."""

    def __init__(self, h, target):
        self.h, self.target, self.seen, self.stop = h, np.asarray(target), [], False
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self):
        with api(self.h) as c:
            while not self.stop:
                q = c.get("/api/query").json()
                if not q["id"]:
                    time.sleep(0.01)
                    continue
                pts = {cd["id"]: np.array([float(v) for v in cd["text"].split()])
                       for cd in q["candidates"]}
                self.seen.append(sorted(cd["text"] for cd in q["candidates"]))
                best = sorted(pts, key=lambda i: np.sum((pts[i] - self.target) ** 2))
                c.post("/api/answer", json={"id": q["id"], "order": best[:q["top"]]})


def test_a_resumed_run_replays_answers_and_asks_nothing_twice(tmp_path):
    strategy = {"name": "zo_ranksgd", "m": 4, "k": 2, "mu": 0.2, "adapt_lr": False}
    target = np.array([0.5, -0.3])
    runs = []
    for steps in (4, 7):
        h = make(tmp_path)
        p = Person(h, target)
        res = minimize(h, strategy, np.zeros(2), seed=3, budget=Budget(max_steps=steps),
                       space=Box(-1.0, 1.0, 2), journal=str(tmp_path / "j"), progress=False)
        p.stop = True
        runs.append((res, p.seen))
    (r1, seen1), (r2, seen2) = runs
    assert len(seen1) == 4 and len(seen2) == 3 and r2.nit == 7
    assert not any(s in seen1 for s in seen2)


def test_render_payloads():
    svg = candidate_payload("<svg xmlns='http://www.w3.org/2000/svg'/>")
    assert svg["kind"] == "image" and svg["src"].startswith("data:image/svg+xml;base64,")
    png = candidate_payload(b"\x89PNG\r\n\x1a\n" + b"\0" * 8)
    assert png["src"].startswith("data:image/png;base64,")
    assert candidate_payload("<b>bold</b>") == {"kind": "text", "text": "<b>bold</b>"}
    with pytest.raises(ConfigError, match="not a PNG"):
        candidate_payload(b"GIF89a")
    with pytest.raises(ConfigError, match="must return PNG bytes or a string"):
        candidate_payload(3.0)


@pytest.mark.parametrize("kw,msg", [
    ({"host": "0.0.0.0"}, "loopback address"),
    ({"port": 70000}, r"port must be an int in \[0, 65535\]"),
    ({"token": "short"}, "at least 16 characters"),
    ({"budget": 0}, "budget must be an int >= 1"),
    ({"undo_seconds": -1}, "undo_seconds"),
    ({"render": None}, "render must be a callable"),
])
def test_bad_settings_are_one_line_errors(kw, msg):
    with pytest.raises(ConfigError, match=msg):
        make(**kw)
