"""The ranking page in headless Chromium: a scripted person reads the candidates and clicks.

Needs Debian's ``chromium`` (``/usr/bin/chromium``) and the ``playwright`` package (the
``browser`` extra); skipped, with the reason, only where either is missing.
"""

from __future__ import annotations

import os
import shutil
import threading

import numpy as np
import pytest

from blackbox import Budget, minimize
from blackbox.spaces import Box
from oracles.human import HumanRanker

pytestmark = pytest.mark.browser

CHROMIUM = os.environ.get("BLACKBOX_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def browser():
    if not (os.path.exists(CHROMIUM) or shutil.which("chromium")):
        pytest.skip(f"chromium is not installed ({CHROMIUM}); apt-get install chromium")
    sync_api = pytest.importorskip("playwright.sync_api", reason="the browser extra (playwright)")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def next_query(pg, prev: str | None, timeout: float = 15_000) -> str:
    """Wait until the page shows a query other than ``prev`` (or "done"); return its id."""
    sel = 'body[data-query="done"], body[data-query^="q"]'
    if prev:
        sel = f'body[data-query="done"], body[data-query^="q"]:not([data-query="{prev}"])'
    pg.wait_for_selector(sel, state="attached", timeout=timeout)
    return str(pg.get_attribute("body", "data-query"))


def shown(pg) -> dict[str, str]:
    """Candidate id -> what the page shows (the text, or the image's data URI)."""
    out = {}
    for card in pg.query_selector_all(".card"):
        img = card.query_selector("img")
        out[card.get_attribute("data-cid")] = (img.get_attribute("src") if img else
                                               card.query_selector(".text").inner_text())
    return out


def help_top(pg) -> int:
    txt = pg.inner_text("#help")
    return 1 if txt.startswith("Click the one") else int(txt.split("your ")[1].split()[0])


def click_order(pg, order: list[str]) -> None:
    for cid in order:
        pg.click(f"#cand-{cid}")
    pg.click("#submit")


def test_a_scripted_person_improves_the_hidden_utility(browser, tmp_path):
    target = np.array([0.6, -0.4, 0.3])
    h = HumanRanker(3, lambda p: " ".join(f"{v:+.4f}" for v in p), budget=14,
                    announce=lambda url: None)
    out: dict = {}
    run = threading.Thread(target=lambda: out.setdefault("res", minimize(
        h, {"name": "zo_ranksgd", "m": 6, "k": 2, "mu": 0.2, "adapt_lr": False},
        np.zeros(3), seed=1, budget=Budget(max_steps=14), space=Box(-1.0, 1.0, 3),
        progress=False)), daemon=True)
    run.start()
    pg = browser.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.goto(h.url)
    qid = None
    for i in range(14):
        qid = next_query(pg, qid)
        assert qid != "done"
        cands = shown(pg)
        util = {c: -np.sum((np.array([float(v) for v in t.split()]) - target) ** 2)
                for c, t in cands.items()}
        click_order(pg, sorted(util, key=util.get, reverse=True)[:help_top(pg)])
        if i == 3:
            pg.screenshot(path=str(tmp_path / "page.png"))
    assert next_query(pg, qid) == "done"
    assert pg.inner_text("#count") == "14 / 14 answers"
    run.join(10)
    x = out["res"].x
    assert np.sum((x - target) ** 2) < 0.3 * np.sum(target ** 2)
    assert not errors and (tmp_path / "page.png").stat().st_size > 1000
    pg.close()


def test_bad_posts_get_400_requests_without_token_403_and_undo_works(browser):
    h = HumanRanker(2, lambda p: f"{p[0]:+.3f} {p[1]:+.3f}", announce=lambda url: None,
                    undo_seconds=1.5)
    out: dict = {}
    t = threading.Thread(target=lambda: out.setdefault("order", h.rank(
        np.eye(2), np.array([[0, 1]]), top=1, key=__import__("blackbox").Key(0))), daemon=True)
    t.start()
    try:
        pg = browser.new_page()
        base = f"http://127.0.0.1:{h.port}"
        assert pg.goto(base + "/").status == 403
        assert pg.goto(base + "/?token=not-the-token-at-all").status == 403
        assert pg.request.get(base + "/api/query").status == 403
        pg.goto(h.url)
        qid = next_query(pg, None)
        auth = {"Authorization": f"Bearer {h.token}"}
        for order in (["c0", "c0"], ["nope"], []):
            r = pg.request.post(base + "/api/answer", data={"id": qid, "order": order}, headers=auth)
            assert r.status == 400
        r = pg.request.post(base + "/api/answer", data={"id": qid, "order": ["c0"]})
        assert r.status == 403  # the page URL's token is not enough: the API wants the header
        assert h.board.answered == 0 and pg.get_attribute("body", "data-query") == qid
        click_order(pg, ["c1"])
        pg.wait_for_selector("#undo:not([disabled])")
        pg.click("#undo")
        pg.wait_for_selector("#status:has-text('Undone')")
        assert pg.get_attribute("body", "data-query") == qid and h.board.answered == 0
        first = shown(pg)["c0"]
        click_order(pg, ["c0"])
        t.join(10)
        assert not t.is_alive() and h.board.answered == 1
        assert out["order"].tolist() == [[0 if first.startswith("+1") else 1]]
        pg.close()
    finally:
        h.close()


def drag(pg, cid: str, onto: str, after: bool, steps: int = 1) -> None:
    """Drag card ``cid`` with the mouse and drop it on the left or right part of card ``onto``."""
    src, dst = pg.locator(f"#cand-{cid}").bounding_box(), pg.locator(f"#cand-{onto}").bounding_box()
    pg.mouse.move(src["x"] + src["width"] / 2, src["y"] + src["height"] / 2)
    pg.mouse.down()
    x = dst["x"] + dst["width"] * (0.85 if after else 0.15)
    pg.mouse.move(x, dst["y"] + dst["height"] / 2, steps=steps)
    pg.mouse.up()


def test_dragging_cards_into_order_records_that_order_and_clicks_and_keys_still_work(browser):
    pts = np.array([[0.1 * i, -0.1 * i] for i in range(6)])
    h = HumanRanker(2, lambda p: f"{p[0]:+.3f} {p[1]:+.3f}", announce=lambda url: None,
                    ties=False)
    out: dict = {}
    t = threading.Thread(target=lambda: out.setdefault("order", h.rank(
        pts, np.arange(6)[None, :], top=3, key=__import__("blackbox").Key(4))), daemon=True)
    t.start()
    try:
        pg = browser.new_page()
        errors: list[str] = []
        pg.on("pageerror", lambda e: errors.append(str(e)))
        pg.goto(h.url)
        next_query(pg, None)
        row = {cid: round(float(txt.split()[0]) * 10) for cid, txt in shown(pg).items()}
        layout = [c.get_attribute("data-cid") for c in pg.query_selector_all(".card")]
        a, b, c = layout[4], layout[2], layout[5]  # wanted: a, c, b (built by drag, click, key)
        pg.drag_and_drop(f"#cand-{a}", f"#cand-{layout[0]}", target_position={"x": 4, "y": 20})
        assert pg.get_attribute("body", "data-picks") == a  # dropped in front: ranked first
        pg.click(f"#cand-{b}")  # a click appends, as before
        assert pg.get_attribute("body", "data-picks") == f"{a} {b}"
        drag(pg, c, onto=b, after=True, steps=8)  # dropped right after the ranked ones: joins
        assert pg.get_attribute("body", "data-picks") == f"{a} {b} {c}"
        assert pg.is_disabled("#submit") is False
        pg.focus(f"#cand-{c}")
        pg.keyboard.press("ArrowLeft")  # the keyboard moves the focused card one place earlier
        assert pg.get_attribute("body", "data-picks") == f"{a} {c} {b}"
        grid = [el.get_attribute("data-cid") for el in pg.query_selector_all(".card")]
        assert grid[:3] == [a, c, b] and sorted(grid) == sorted(layout)  # laid out in that order
        assert [pg.inner_text(f"#cand-{x} .badge") for x in (a, c, b)] == ["1", "2", "3"]
        drag(pg, b, onto=grid[-1], after=True)  # dragged away from the ranked ones: leaves
        assert pg.get_attribute("body", "data-picks") == f"{a} {c}"
        pg.focus(f"#cand-{b}")
        pg.keyboard.press("Enter")  # Enter picks, like a click
        assert pg.get_attribute("body", "data-picks") == f"{a} {c} {b}"
        pg.click("#submit")
        t.join(10)
        assert not t.is_alive() and out["order"].tolist() == [[row[a], row[c], row[b]]]
        assert not errors
        pg.close()
    finally:
        h.close()
