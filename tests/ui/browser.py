"""Debian's chromium driven by Playwright, launched with executable_path (no browser download)
behind a dead proxy so no page ever reaches the internet (loopback bypasses the proxy)."""
from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

CHROMIUM = Path(os.environ.get("PLEXSYNC_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--no-sandbox", "--proxy-server=http://127.0.0.1:9", "--disable-gpu",
                 "--disable-dev-shm-usage"]
# Stash renders a page a few seconds after domcontentloaded on 2 busy cores.
RENDER_TIMEOUT_MS = 30_000


def browser_unavailable_reason() -> str | None:
    if not CHROMIUM.exists():
        return (f"chromium is not at {CHROMIUM} (apt-get install -y chromium fonts-liberation; "
                ".ci/run does it): the browser tests need it")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -r requirements-dev.txt)"
    return None


@contextmanager
def launch():
    from playwright.sync_api import sync_playwright
    with sync_playwright() as driver:
        chromium = driver.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def open_page(page, base_url: str, path: str, wait_for: str | None = None):
    """Load a Stash page and wait until `wait_for` (a CSS selector) is shown."""
    page.goto(base_url + path, wait_until="domcontentloaded")
    if wait_for:
        page.wait_for_selector(wait_for, timeout=RENDER_TIMEOUT_MS)
    return page


def open_in_app(page, base_url: str, path: str, wait_for: str | None = None):
    """Go to `path` the way a link inside Stash does (its router, no page load): Stash's
    server answers a full load of /plugin/... itself."""
    open_page(page, base_url, "/scenes", ".scene-card, .no-scenes, .scene-list, .main")
    page.evaluate("(path) => { window.history.pushState({}, '', path); "
                  "window.dispatchEvent(new PopStateEvent('popstate')); }", path)
    if wait_for:
        page.wait_for_selector(wait_for, timeout=RENDER_TIMEOUT_MS)
    return page


def open_scene_panel(page, base_url: str, scene_id: str):
    """A scene's page with its PlexSync tab open; returns the panel's locator."""
    open_page(page, base_url, f"/scenes/{scene_id}", '[data-testid="plexsync-tab"]')
    page.click('[data-testid="plexsync-tab"]')
    panel = page.locator('[data-testid="plexsync-scene-panel"]')
    panel.wait_for(timeout=RENDER_TIMEOUT_MS)
    return panel


def by_testid(name: str) -> str:
    return f'[data-testid="{name}"]'
