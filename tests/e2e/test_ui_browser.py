"""aria_interface's web UI in a real browser (Chromium through Playwright) against the shared
`aria up`: log in, create a character and find it in the list, edit it from two browsers at once
(each sees the other there and the other's edit live; the stale save is refused and the latest
loaded), a character's plan drawn as a tree with its recommendations, a hostile name shown as
text, the dashboard's live charts, storage, queue and error figures and the API budget, a service
killed under the dashboard (its dependent degraded, then both back), the API docs, the layout at a
phone's width. Every page is saved as a screenshot (``ARIA_UI_ARTIFACTS``, else a folder under
pytest's temporary directory).

Needs the Python package ``playwright`` and a Chromium (``/usr/bin/chromium`` from Debian, or
``ARIA_UI_CHROMIUM``); without them the module is skipped. Names carry a run id so a rerun on the
same `aria up` does not meet an earlier run's characters or users.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from aria_actors.runtime.registry import all_specs
from aria_actors.sdk import AriaClient
from tests.fixtures.aria_up import RunningAria
from tests.unit.engine.priced import state as priced_state

sync_api = pytest.importorskip("playwright.sync_api", reason="the browser tests need `pip install playwright`")
expect = sync_api.expect

CHROMIUM = os.environ.get("ARIA_UI_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
if not Path(CHROMIUM).exists():
    pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium, or set ARIA_UI_CHROMIUM)",
                allow_module_level=True)

RUN = uuid.uuid4().hex[:6]
PASSWORD = "e2e web ui passphrase"
USER = f"ui-{RUN}"
HOSTILE = "<img src=x onerror=alert(1)>"
KILLED, DEPENDENT = "aria_monitor", "aria_tune"  # only aria_tune depends on aria_monitor: no other test is disturbed
WAIT_MS = 120_000  # a loaded machine: a character's poll is every 0.5-2 s, a service's start takes seconds
LAPTOP = {"width": 1280, "height": 860}
PHONE = {"width": 375, "height": 740}
expect.set_options(timeout=WAIT_MS)


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = os.environ.get("ARIA_UI_ARTIFACTS")
    path = Path(folder) if folder else tmp_path_factory.mktemp("ui-screens")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="module")
def user(shared_aria: RunningAria) -> str:
    with AriaClient(shared_aria.url, token=shared_aria.token(), timeout=120) as admin:
        admin.auth.create_user(USER, PASSWORD, roles=["editor"])
    return USER


@pytest.fixture(scope="module")
def user_http(shared_aria: RunningAria, user: str) -> Iterator[httpx.Client]:
    """REST as the UI's user (to set up what a test then looks at in the browser)."""
    with httpx.Client(base_url=shared_aria.url, timeout=120) as c:
        tokens = c.post("/v1/auth/login", json={"username": user, "password": PASSWORD}).raise_for_status().json()
        c.headers["Authorization"] = f"Bearer {tokens['access_token']}"
        yield c


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as p:
        # --no-sandbox: Chromium's sandbox needs user namespaces, which a root CI container lacks
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        b.close()


class Tab:
    """One browser context (its own sessionStorage: its own login) and its page, with what went wrong."""

    def __init__(self, browser: Any, url: str, viewport: dict[str, int] = LAPTOP) -> None:
        self.context = browser.new_context(viewport=viewport)
        self.context.set_default_timeout(WAIT_MS)
        self.page = self.context.new_page()
        self.url = url
        self.problems: list[str] = []
        self.dialogs: list[str] = []
        self.page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        self.page.on("console", self._console)
        self.page.on("dialog", self._dialog)

    def _console(self, message: Any) -> None:
        # a 4xx the page asked for and handles (a wrong password, a stale save) is logged by
        # Chromium as "Failed to load resource": not a fault of the page
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            self.problems.append(f"console: {message.text}")

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.accept()

    def login(self, user: str) -> None:
        response = self.page.goto(self.url + "/")
        assert response is not None and response.status == 200
        page = self.page
        page.get_by_label("Username").fill(user)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        expect(page.get_by_role("heading", name="Characters", exact=True)).to_be_visible()
        expect(page.locator("#live-state")).to_have_text("live")

    def nav(self, name: str) -> None:
        self.page.get_by_role("navigation", name="Main").get_by_role("link", name=name, exact=True).click()

    def shot(self, folder: Path, name: str) -> None:
        self.page.screenshot(path=str(folder / f"{name}.png"), full_page=True)

    def unlabelled_fields(self) -> list[str]:
        return self.page.evaluate("""() => [...document.querySelectorAll('input, select, textarea')]
            .filter(e => e.type !== 'hidden' && !e.closest('[hidden]') && e.labels.length === 0)
            .map(e => e.id || e.name)""")

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def tab(browser: Any, shared_aria: RunningAria, user: str) -> Iterator[Tab]:
    t = Tab(browser, shared_aria.url)
    t.login(user)
    yield t
    t.close()
    assert not t.problems, t.problems


def create_in_ui(tab: Tab, name: str) -> str:
    page = tab.page
    page.get_by_text("New character").click()
    expect(page.locator("#create-template option").first).to_be_attached()
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_role("button", name="Create").click()
    expect(page.locator("#char-name")).to_have_text(name)
    return page.url.rsplit("/", 1)[-1]


# -- the shell ------------------------------------------------------------------------------------
def test_the_page_logs_in_with_a_strict_policy_and_labelled_fields(browser: Any, shared_aria: RunningAria,
                                                                   user: str, artifacts: Path) -> None:
    t = Tab(browser, shared_aria.url)
    try:
        response = t.page.goto(shared_aria.url + "/")
        assert response is not None and response.status == 200
        csp = response.headers["content-security-policy"]
        assert "script-src 'self';" in csp and "unsafe" not in csp and "frame-ancestors 'none'" in csp
        assert response.headers["x-frame-options"] == "DENY"
        assert t.page.evaluate("document.documentElement.lang") == "en"
        assert t.unlabelled_fields() == []
        t.shot(artifacts, "01-login")
        t.page.get_by_label("Username").fill(user)
        t.page.get_by_label("Password").fill("not the password")
        t.page.get_by_role("button", name="Log in").click()
        expect(t.page.locator("#login-error")).to_have_text("Wrong username or password.")
        t.login(user)
        assert t.page.evaluate("sessionStorage.getItem('aria.session') !== null")
        assert t.page.evaluate("document.cookie") == ""  # tokens only in this tab's sessionStorage
        t.page.reload()  # a fresh load: focus starts at the top of the page
        expect(t.page.locator("#live-state")).to_have_text("live")
        t.page.keyboard.press("Tab")  # the first stop is the skip link, and it shows
        assert t.page.evaluate("document.activeElement.id") == "skip"
        t.page.get_by_role("button", name="Log out").click()
        expect(t.page.get_by_role("heading", name="Log in")).to_be_visible()
        assert t.page.evaluate("sessionStorage.getItem('aria.session')") is None
    finally:
        t.close()
    assert not t.problems, t.problems


# -- characters -----------------------------------------------------------------------------------
def test_a_character_is_created_listed_opened_and_compared(tab: Tab, artifacts: Path) -> None:
    name = f"UI hero {RUN}"
    cid = create_in_ui(tab, name)
    page = tab.page
    expect(page.locator("#portrait")).to_be_visible()  # the SVG portrait, drawn from a blob: URL
    assert page.locator("#portrait").get_attribute("src").startswith("blob:")
    page.get_by_label("Description").fill("Edited once in the browser test.")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#char-meta")).to_contain_text("version 2")
    expect(page.locator("#history li")).to_have_count(2)
    page.get_by_role("button", name="Compare").click()
    expect(page.locator("#diff tr.changed").first).to_be_visible()
    assert tab.unlabelled_fields() == []
    tab.shot(artifacts, "03-character")
    tab.nav("Characters")
    row = page.locator(f"tr[data-id='{cid}']")
    while not row.count() and page.locator("#more").is_visible():  # the list pages by id
        page.locator("#more").click()
    expect(row).to_contain_text(name)
    tab.shot(artifacts, "02-characters")
    row.get_by_role("link").click()
    expect(page.locator("#char-name")).to_have_text(name)


def test_two_browsers_see_each_others_edits_live_and_a_stale_save_is_refused(
        browser: Any, shared_aria: RunningAria, user: str, artifacts: Path) -> None:
    one, two = Tab(browser, shared_aria.url), Tab(browser, shared_aria.url)
    try:
        one.login(user)
        two.login(user)
        cid = create_in_ui(one, f"Shared {RUN}")
        two.page.goto(f"{shared_aria.url}/#/characters/{cid}")
        expect(two.page.locator("#char-name")).to_have_text(f"Shared {RUN}")
        # presence: each page says the other is here, by name, live
        for tab in (one, two):
            expect(tab.page.locator("#char-presence")).to_have_attribute("data-others", "1")
            expect(tab.page.locator("#char-presence")).to_have_text(f"Also here: {user}")
        # one saves; two, which never reloads, shows it
        one.page.get_by_label("Description").fill("Written by the first browser.")
        one.page.get_by_role("button", name="Save").click()
        expect(one.page.locator("#char-meta")).to_contain_text("version 2")
        expect(two.page.locator("#char-description")).to_have_text("Written by the first browser.")
        expect(two.page.get_by_label("Description")).to_have_value("Written by the first browser.")
        expect(two.page.locator("#char-live")).to_contain_text("version 2")
        # two starts an edit on version 2; one saves version 3 meanwhile
        two.page.get_by_label("Name", exact=True).fill(f"Second {RUN}")
        one.page.get_by_label("Name", exact=True).fill(f"First {RUN}")
        one.page.get_by_role("button", name="Save").click()
        expect(two.page.locator("#char-notice")).to_contain_text("saved by someone else")
        expect(two.page.get_by_label("Name", exact=True)).to_have_value(f"Second {RUN}")  # not overwritten
        two.page.get_by_role("button", name="Save").click()
        expect(two.page.locator("#char-notice")).to_contain_text("changed by someone else")
        expect(two.page.locator("#char-notice")).to_contain_text(f"Second {RUN}")  # what was not saved
        expect(two.page.get_by_label("Name", exact=True)).to_have_value(f"First {RUN}")  # the latest
        expect(two.page.locator("#char-meta")).to_contain_text("version 3")
        two.shot(artifacts, "04-conflict")
        one.shot(artifacts, "04-first-browser")
        # one leaves the character: two is told at once that nobody else is here
        one.nav("Characters")
        expect(two.page.locator("#char-presence")).to_have_attribute("data-others", "0")
        expect(two.page.locator("#char-presence")).to_have_text("Nobody else has this character open.")
    finally:
        one.close()
        two.close()
    assert not one.problems and not two.problems, one.problems + two.problems


def test_a_hostile_name_is_shown_as_text(tab: Tab, user_http: httpx.Client, artifacts: Path) -> None:
    made = user_http.post("/v1/shape/characters", json={"template": "fantasy", "name": HOSTILE, "describe": False})
    assert made.status_code == 201, made.text
    cid = made.json()["id"]
    page = tab.page
    page.goto(f"{tab.url}/#/characters/{cid}")
    expect(page.locator("#char-name")).to_have_text(HOSTILE)
    expect(page.locator("#portrait")).to_be_visible()
    tab.nav("Characters")
    row = page.locator(f"tr[data-id='{cid}']")
    while not row.count() and page.locator("#more").is_visible():
        page.locator("#more").click()
    expect(row.get_by_role("link")).to_have_text(HOSTILE)
    assert page.locator("img[src='x']").count() == 0
    assert tab.dialogs == []
    tab.shot(artifacts, "05-hostile-name")


def test_a_characters_plan_is_drawn_as_a_tree_with_its_recommendations(tab: Tab, user_http: httpx.Client,
                                                                        artifacts: Path) -> None:
    made = user_http.post("/v1/shape/characters", json={"template": "fantasy", "name": f"Planner {RUN}",
                                                        "describe": False})
    assert made.status_code == 201, made.text
    cid = made.json()["id"]
    decided = user_http.put(f"/v1/engine/characters/{cid}/decision",
                            json={"domain": "priced", "state": priced_state(), "todo": [["go", "d"]]})
    assert decided.status_code == 200, decided.text
    steps = decided.json()["plan"]
    page = tab.page
    page.goto(f"{tab.url}/#/characters/{cid}")
    expect(page.locator("#plan-tree li.step")).to_have_count(len(steps))
    first = page.locator("#plan-tree li.step").first
    expect(first).to_have_attribute("data-state", "current")
    expect(first).to_contain_text(steps[0][0])
    expect(page.locator("#plan-tree li.goal")).to_contain_text("go(d)")
    expect(page.locator("#plan-history li").first).to_contain_text(f"version {decided.json()['version']}: ")
    # recommendations: aria_interpret's answer or its reason, never the loading text
    expect(page.locator("#recs-status")).not_to_contain_text("Loading")
    tab.shot(artifacts, "05-plan-tree")


# -- dashboard ------------------------------------------------------------------------------------
def test_the_dashboard_charts_traffic_live_and_shows_storage_queues_errors_and_the_budget(
        tab: Tab, user_http: httpx.Client, artifacts: Path) -> None:
    page = tab.page
    expect(page.locator("#budget")).to_contain_text("API budget: ")
    assert user_http.get("/v1/shape/characters/not-a-character").status_code >= 400  # an error to show
    tab.nav("Dashboard")
    chart = page.locator("#chart-rps")
    expect(chart).to_have_attribute("data-points", re.compile("^[2-9]|^[1-9][0-9]"))  # two polls or more
    expect(chart.locator("svg polyline")).to_have_count(1)
    expect(page.locator("#chart-errors svg polyline")).to_have_count(2)
    expect(page.locator("#storage-stats dt").first).to_be_visible()
    expect(page.locator("#queue-status")).to_contain_text("operator or admin")  # an editor sees no queue figures
    expect(page.locator("#error-rows tr").first).to_be_visible()
    before = int(page.locator("#budget").get_attribute("data-remaining") or 0)
    assert 0 < before <= 600
    tab.shot(artifacts, "06-dashboard-charts")



def test_the_dashboard_shows_a_service_go_degraded_when_its_dependency_dies_and_come_back_live(
        tab: Tab, shared_aria: RunningAria, artifacts: Path) -> None:
    """The test kills KILLED's actor (SIGKILL, as a crash would); the boot actor restarts it. Its
    dependent DEPENDENT reads ``degraded`` meanwhile, and both return to what they were, on a
    page that is never reloaded."""
    page = tab.page
    tab.nav("Dashboard")
    rows = page.locator("tr[data-service]")
    expect(rows).to_have_count(len(all_specs()))
    killed, dependent = page.locator(f"tr[data-service='{KILLED}']"), page.locator(f"tr[data-service='{DEPENDENT}']")
    settled = re.compile("^(ready|not_implemented)$")
    expect(killed).to_have_attribute("data-status", settled)
    expect(dependent).to_have_attribute("data-status", settled)
    status, dependent_status = killed.get_attribute("data-status"), dependent.get_attribute("data-status")
    before = int(killed.get_attribute("data-restarts") or 0)
    tab.shot(artifacts, "06-dashboard")
    os.kill(shared_aria.service_pid(KILLED), signal.SIGKILL)
    expect(dependent).to_have_attribute("data-status", "degraded")
    tab.shot(artifacts, "07-dashboard-degraded")
    expect(killed).to_have_attribute("data-restarts", str(before + 1))
    expect(killed).to_have_attribute("data-status", status)
    expect(dependent).to_have_attribute("data-status", dependent_status)
    changes = page.locator("#changes li").all_text_contents()
    shown = (dependent_status or "").replace("_", " ")
    mine = [c for c in changes if f"{DEPENDENT}:" in c]
    assert any(f"{shown} → degraded" in c for c in mine), changes
    assert any(f"degraded → {shown}" in c for c in mine), changes
    tab.shot(artifacts, "08-dashboard-after-restart")


# -- docs and the phone layout --------------------------------------------------------------------
def test_the_api_docs_page_lists_every_service(tab: Tab, artifacts: Path) -> None:
    page = tab.page
    tab.nav("API docs")
    page.get_by_role("button", name="aria_shape", exact=True).click()
    expect(page.locator("#doc-rows")).to_contain_text("/v1/shape/characters")
    assert page.locator("#doc-download").get_attribute("href").startswith("blob:")
    tab.shot(artifacts, "09-docs")


def test_the_views_fit_a_phone(browser: Any, shared_aria: RunningAria, user: str, artifacts: Path) -> None:
    t = Tab(browser, shared_aria.url, viewport=PHONE)
    try:
        t.login(user)
        for view, ready in (("Characters", "#chars-title"), ("Dashboard", "tr[data-service]"),
                            ("API docs", "#docs-services li")):
            t.nav(view)
            expect(t.page.locator(ready).first).to_be_visible()
            assert t.page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], view
            t.shot(artifacts, f"09-phone-{view.split()[0].lower()}")
        t.nav("Characters")
        t.page.locator(".char-link").first.click()
        expect(t.page.locator("#char-name")).to_be_visible()
        assert t.page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        t.shot(artifacts, "09-phone-character")
    finally:
        t.close()
    assert not t.problems, t.problems
