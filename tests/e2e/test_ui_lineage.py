"""The UI's lineage, from the real programs: `dagster-webserver` on loopback against workspace.yaml.

1. Its GraphQL endpoint reports every asset with its group and dependencies; they equal the graph the
   code location defines, and hold every box and arrow of DESIGN.md's flow.
2. Headless Chromium (Debian's `chromium`, driven by Playwright) loads the lineage page and saves a
   screenshot. Without a browser this test is skipped (scripts/install_browser.sh installs one).
"""

from __future__ import annotations

import json
import os
import shutil
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from kalshi_assets.definitions import defs
from tests.e2e.conftest import Stage, free_port, make_stage, stop, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

# DESIGN.md's flow: each box's group, and each arrow as a direct dependency (upstream, downstream).
# "event_features -- event_labels" is the pair the walk-forward folds are cut from.
DESIGN_GROUPS = {
    "kalshi_series": "ingest",
    "kalshi_events": "ingest",
    "kalshi_markets": "ingest",
    "kalshi_quotes": "ingest",
    "distribution_snapshots": "distributions",
    "outcomes_first_print": "outcomes",
    "outcomes_revisions": "outcomes",
    "event_labels": "outcomes",
    "event_features": "research",
    "walkforward_folds": "research",
    "walkforward_results": "research",
    "promotion_decisions": "research",
    "paper_orders": "trading",
}
DESIGN_EDGES = [
    ("kalshi_series", "kalshi_events"),
    ("kalshi_events", "kalshi_markets"),
    ("kalshi_markets", "kalshi_quotes"),
    ("kalshi_markets", "distribution_snapshots"),
    ("kalshi_quotes", "distribution_snapshots"),
    ("distribution_snapshots", "event_features"),
    ("outcomes_first_print", "event_labels"),
    ("outcomes_revisions", "event_labels"),
    ("event_features", "walkforward_folds"),
    ("event_labels", "walkforward_folds"),
    ("walkforward_folds", "walkforward_results"),
    ("walkforward_results", "promotion_decisions"),
    ("promotion_decisions", "paper_orders"),
]

ASSET_NODES_QUERY = """
query AssetLineage {
  assetNodes {
    assetKey { path }
    groupName
    dependencyKeys { path }
    isMaterializable
    isPartitioned
  }
}
"""

CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
VIEWPORT = {"width": 1800, "height": 1250}


class Webserver:
    def __init__(self, stage: Stage, port: int) -> None:
        self.stage = stage
        self.url = f"http://127.0.0.1:{port}"

    def get(self, path: str) -> bytes | None:
        try:
            with urllib.request.urlopen(self.url + path, timeout=5) as response:  # noqa: S310 - loopback
                return response.read()
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return None

    def graphql(self, query: str) -> dict:
        request = urllib.request.Request(
            self.url + "/graphql",
            data=json.dumps({"query": query}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - loopback
            payload = json.loads(response.read())
        assert "errors" not in payload, payload.get("errors")
        return payload["data"]


@pytest.fixture(scope="module")
def webserver(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("webserver")
    stage = make_stage(root)
    port = free_port()
    log = root / "webserver.log"
    process = stage.start("dagster-webserver", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port), log=log)
    server = Webserver(stage, port)
    try:
        wait_for(lambda: server.get("/server_info"), 90, "dagster-webserver to answer", log=log)
        # The code location loads in its own process: wait until its assets are there.
        wait_for(lambda: server.graphql(ASSET_NODES_QUERY)["assetNodes"], 90, "the code location to load", log=log)
        yield server
    finally:
        stop(process)


def _defined_graph() -> dict[str, tuple[str | None, set[str]]]:
    graph = defs.resolve_asset_graph()
    return {
        key.to_user_string(): (graph.get(key).group_name, {p.to_user_string() for p in graph.get(key).parent_keys})
        for key in graph.get_all_asset_keys()
    }


def test_graphql_lineage_matches_the_definitions_and_design(webserver: Webserver) -> None:
    nodes = webserver.graphql(ASSET_NODES_QUERY)["assetNodes"]
    served = {
        "/".join(n["assetKey"]["path"]): (n["groupName"], {"/".join(d["path"]) for d in n["dependencyKeys"]})
        for n in nodes
    }
    assert len(served) == len(nodes), "an asset is listed twice"
    # Exactly the graph the code location defines: the same assets, groups and dependencies.
    assert served == _defined_graph()

    # Every box of DESIGN.md's flow, in its group, and every arrow.
    missing = sorted(set(DESIGN_GROUPS) - set(served))
    assert not missing, f"assets of DESIGN.md's flow missing from the UI: {missing}"
    wrong_group = {a: served[a][0] for a, g in DESIGN_GROUPS.items() if served[a][0] != g}
    assert not wrong_group, f"assets in the wrong group: {wrong_group}"
    absent = [(u, d) for u, d in DESIGN_EDGES if u not in served[d][1]]
    assert not absent, f"arrows of DESIGN.md's flow missing from the UI: {absent}"

    by_key = {"/".join(n["assetKey"]["path"]): n for n in nodes}
    assert by_key["kalshi_quotes"]["isPartitioned"] and by_key["distribution_snapshots"]["isPartitioned"]
    assert by_key["kalshi_api_breakers"]["isMaterializable"]  # materialized after paper_orders, observed between


@pytest.fixture()
def chromium() -> str:
    """Debian's chromium (or $KALSHI_CHROMIUM); skips, before any server starts, when there is none."""
    path = os.environ.get("KALSHI_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not path or not Path(path).exists():
        pytest.skip("no headless browser: Debian's chromium is not installed (run scripts/install_browser.sh as "
                    "root, or set KALSHI_CHROMIUM to a Chromium binary)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        pytest.skip("the playwright package is not installed (pip install -e '.[dev]')")
    return path


def test_the_lineage_page_renders_in_headless_chromium(chromium: str, webserver: Webserver, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    shot = tmp_path / "asset_graph.png"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport=VIEWPORT)
            # A first-visit newsletter dialog may cover the page at any moment: dismiss it whenever it shows.
            page.add_locator_handler(page.get_by_role("button", name="Skip"), lambda skip: skip.click())
            page.goto(webserver.url + "/asset-groups", wait_until="domcontentloaded")
            page.get_by_text("Global asset lineage").first.wait_for(timeout=60_000)
            for group in ("ingest", "distributions", "outcomes", "research", "trading"):
                page.get_by_text(group, exact=True).first.wait_for(timeout=60_000)
            # Open every group (the UI's Alt+E), keep the choice in the URL, and fit the whole graph.
            page.keyboard.press("Alt+KeyE")
            page.get_by_text("kalshi_quotes", exact=True).first.wait_for(timeout=30_000)
            page.get_by_text("Hide navigation").click()
            page.reload(wait_until="domcontentloaded")
            page.get_by_text("kalshi_quotes", exact=True).first.wait_for(timeout=60_000)
            page.locator("button:has([aria-label=panel_show_right])").click()
            page.locator("button:has([aria-label=zoom_out])").click()
            for name in ("kalshi_series", "kalshi_events", "kalshi_markets", "event_features", "paper_orders"):
                page.get_by_text(name, exact=True).first.wait_for(timeout=30_000)
            time.sleep(1.5)  # let the edges finish their layout animation
            page.screenshot(path=str(shot))
        finally:
            browser.close()

    from PIL import Image

    with Image.open(shot) as image:
        assert image.format == "PNG" and image.size == (VIEWPORT["width"], VIEWPORT["height"])
        colours = image.convert("L").getextrema()
    assert colours[1] - colours[0] > 100, "the screenshot is blank"
    assert shot.stat().st_size > 20_000
    keep = os.environ.get("KALSHI_SCREENSHOT_DIR")  # e.g. docs/, to refresh the README's picture
    if keep:
        save_graph_region(shot, Path(keep) / shot.name)


def save_graph_region(shot: Path, target: Path, margin: int = 24) -> None:
    """The screenshot cropped to the drawn graph (below the toolbar, between the navigation and the zoom
    controls), for the documentation."""
    from PIL import Image, ImageChops

    with Image.open(shot) as image:
        rgb = image.convert("RGB")
        left, top, right, bottom = 80, 110, rgb.width - 90, rgb.height - 10  # inside the nav, toolbar, zoom bar
        canvas = rgb.crop((left, top, right, bottom))
        background = Image.new("RGB", canvas.size, canvas.getpixel((canvas.width - 5, canvas.height - 5)))
        box = ImageChops.difference(canvas, background).convert("L").point(lambda v: 255 if v > 24 else 0).getbbox()
        if box is None:
            raise AssertionError("nothing drawn in the graph area")
        x0, y0, x1, y1 = box
        region = rgb.crop((max(left, left + x0 - margin), max(top, top + y0 - margin),
                           min(right, left + x1 + margin), min(bottom, top + y1 + margin)))
        region.save(target, format="PNG", optimize=True)
