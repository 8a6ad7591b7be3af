"""The UI after `kalshi-assets demo`, from the real programs: the demo, then `dagster dev` (what `make ui`
runs: webserver and daemon) on loopback against workspace.yaml.

1. Its GraphQL endpoint reports every asset with its group and dependencies; they equal the graph the
   code location defines, and hold every box and arrow of docs/ARCHITECTURE.md's flow.
2. What it says after the demo is true: every daily partition materialized (none "Missing"), the demo's
   runs are runs of the location's jobs (found, and re-executed through the UI's own mutation), the
   health and breaker assets materialized after what writes them, freshness evaluated, each partition's
   own row count, column descriptions, rounded floats, long text in full.
3. Headless Chromium (Debian's `chromium`, driven by Playwright) renders the lineage, an asset page, the
   `promotion_decisions` page and a run page; KALSHI_SCREENSHOT_DIR=docs keeps the screenshots. Without a
   browser that part is skipped (scripts/install_browser.sh installs one).

The demo (tests/e2e/conftest.py's `demo_run`, shared with test_demo_runs.py) covers the partitions from
KALSHI_UI_HISTORY_START (default 2026-10-25: a week) to the end of the demo history; the screenshots in
docs/ were taken with 2024-10-01 (all of it).
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
from kalshi_assets.defs.runner import STAGE_JOBS
from tests.e2e.conftest import DemoRun, Stage, free_port, stop, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

# docs/ARCHITECTURE.md's flow: each box's group, and each arrow as a direct dependency (upstream, downstream).
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

    def graphql(self, query: str, timeout_s: float = 30) -> dict:
        request = urllib.request.Request(
            self.url + "/graphql",
            data=json.dumps({"query": query}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=timeout_s) as response:  # noqa: S310 - loopback
            payload = json.loads(response.read())
        assert "errors" not in payload, payload.get("errors")
        return payload["data"]


@pytest.fixture(scope="module")
def webserver(demo_run: DemoRun, tmp_path_factory: pytest.TempPathFactory):
    """`dagster dev` on the DAGSTER_HOME `kalshi-assets demo` just filled, as `make ui` starts it."""
    stage = demo_run.stage
    port = free_port()
    log = tmp_path_factory.mktemp("ui") / "dagster_dev.log"
    process = stage.start("dagster", "dev", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port), log=log)
    server = Webserver(stage, port)
    try:
        wait_for(lambda: server.get("/server_info"), 120, "dagster dev's webserver to answer", log=log)
        # The code location loads in its own process: wait until its assets are there.
        wait_for(lambda: server.graphql(ASSET_NODES_QUERY)["assetNodes"], 120, "the code location to load", log=log)
        yield server
    finally:
        stop(process, grace_s=5)  # dagster dev's children take their time over SIGINT; then SIGKILL


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

    # Every box of docs/ARCHITECTURE.md's flow, in its group, and every arrow.
    missing = sorted(set(DESIGN_GROUPS) - set(served))
    assert not missing, f"assets of the flow missing from the UI: {missing}"
    wrong_group = {a: served[a][0] for a, g in DESIGN_GROUPS.items() if served[a][0] != g}
    assert not wrong_group, f"assets in the wrong group: {wrong_group}"
    absent = [(u, d) for u, d in DESIGN_EDGES if u not in served[d][1]]
    assert not absent, f"arrows of the flow missing from the UI: {absent}"

    by_key = {"/".join(n["assetKey"]["path"]): n for n in nodes}
    assert by_key["kalshi_quotes"]["isPartitioned"] and by_key["distribution_snapshots"]["isPartitioned"]
    assert by_key["kalshi_api_breakers"]["isMaterializable"]  # materialized after paper_orders, observed between


TRUTH_QUERY = """
query Truth {
  assetNodes {
    assetKey { path }
    isPartitioned
    partitionStats { numMaterialized numPartitions numFailed }
    freshnessStatusInfo { freshnessStatus }
  }
  runsOrError { ... on Runs { results { runId pipelineName status repositoryOrigin { repositoryLocationName repositoryName } } } }
}
"""


def _instance(server: Webserver):
    import dagster as dg

    return dg.DagsterInstance.from_config(str(server.stage.home))


def _latest(instance, asset: str):
    import dagster as dg

    records = instance.fetch_materializations(dg.AssetKey(asset), limit=1).records
    assert records, f"{asset} was never materialized"
    return records[0]


def _freshness_evaluated(server: Webserver) -> bool:
    nodes = server.graphql(TRUTH_QUERY)["assetNodes"]
    statuses = [n["freshnessStatusInfo"]["freshnessStatus"] for n in nodes if n["freshnessStatusInfo"]]
    return bool(statuses) and all(status == "HEALTHY" for status in statuses)


def test_the_ui_tells_the_truth_after_the_demo(webserver: Webserver, demo_run: DemoRun) -> None:
    import duckdb

    from kalshi_assets import service

    # Freshness policies are evaluated (by the daemon of `dagster dev`), and every one passes.
    wait_for(lambda: _freshness_evaluated(webserver), 120, "the freshness policies to be evaluated")
    data = webserver.graphql(TRUTH_QUERY)
    partitioned = [n for n in data["assetNodes"] if n["isPartitioned"]]
    assert len(partitioned) >= 3
    for node in partitioned:  # nothing "Missing": the partitions end where the demo history ends
        stats = node["partitionStats"]
        assert stats["numMaterialized"] == stats["numPartitions"] > 0 and not stats["numFailed"], node
    runs = [r for r in data["runsOrError"]["results"] if r["runId"] in demo_run.run_ids]
    assert sorted(r["pipelineName"] for r in runs) == sorted(STAGE_JOBS.values())
    for run in runs:  # runs of jobs the location defines: no "Pipeline not found"
        origin = run["repositoryOrigin"]
        assert origin == {"repositoryLocationName": "kalshi_assets", "repositoryName": "__repository__"}
        found = webserver.graphql(
            '{ pipelineOrError(params: {repositoryLocationName: "kalshi_assets", repositoryName: "__repository__", '
            f'pipelineName: "{run["pipelineName"]}"}}) {{ __typename }} }}'
        )
        assert found["pipelineOrError"]["__typename"] == "Pipeline"

    with _instance(webserver) as instance:
        # The health and breaker assets come after what writes the audit log, and agree with `status`.
        orders = _latest(instance, "paper_orders").timestamp
        health, breakers = _latest(instance, "audit_log_health"), _latest(instance, "kalshi_api_breakers")
        assert health.timestamp > orders and breakers.timestamp > orders
        audit = service.audit_status(webserver.stage.audit)
        assert health.asset_materialization.metadata["total_entries"].value == audit["total_entries"]

        # Each daily partition reports its own rows; together they are the table.
        import dagster as dg

        quotes = instance.fetch_materializations(dg.AssetKey("kalshi_quotes"), limit=1000).records
        per_day = {r.partition_key: r.asset_materialization.metadata["dagster/row_count"].value for r in quotes}
        with duckdb.connect(str(webserver.stage.warehouse), read_only=True) as con:
            table_rows = con.execute("SELECT count(*) FROM kalshi_quotes").fetchone()[0]
            reasons = [r for (r,) in con.execute("SELECT reasons FROM promotion_decisions").fetchall()]
        assert sum(per_day.values()) == table_rows and len(set(per_day.values())) > 1

        # Column descriptions from schema.sql, floats rounded, long text in full.
        for asset in ("kalshi_quotes", "distribution_snapshots", "promotion_decisions", "event_features"):
            metadata = _latest(instance, asset).asset_materialization.metadata
            columns = metadata["dagster/column_schema"].schema.columns
            assert columns and all(c.description for c in columns), asset
            for key, value in metadata.items():
                if isinstance(value, dg.FloatMetadataValue) and value.value is not None:
                    assert float(f"{value.value:.4g}") == value.value, (asset, key, value.value)
        decisions = _latest(instance, "promotion_decisions").asset_materialization.metadata
        assert reasons and all(reason in decisions["preview"].value for reason in reasons)
        assert "showing" not in decisions["preview"].value  # every decision in the preview


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


def _dismiss_dialogs(page) -> None:
    # A first-visit newsletter dialog may cover the page at any moment: dismiss it whenever it shows.
    page.add_locator_handler(page.get_by_role("button", name="Skip"), lambda skip: skip.click())


def _check_shot(shot: Path) -> None:
    from PIL import Image

    with Image.open(shot) as image:
        assert image.format == "PNG" and image.size == (VIEWPORT["width"], VIEWPORT["height"])
        colours = image.convert("L").getextrema()
    assert colours[1] - colours[0] > 100, f"{shot.name} is blank"


def _settle(page, *texts: str) -> None:
    for text in texts:
        page.get_by_text(text, exact=False).first.wait_for(timeout=60_000)
    skip = page.get_by_role("button", name="Skip")
    if skip.count():
        skip.first.click()
    time.sleep(2.0)  # let the page finish its layout


def test_the_pages_render_in_headless_chromium(chromium: str, webserver: Webserver, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    wait_for(lambda: _freshness_evaluated(webserver), 120, "the freshness policies to be evaluated")
    run_id = next(r["runId"] for r in webserver.graphql(TRUTH_QUERY)["runsOrError"]["results"]
                  if r["pipelineName"] == STAGE_JOBS["partitioned"])
    shots: dict[str, Path] = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport=VIEWPORT)
            _dismiss_dialogs(page)
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
            shots["asset_graph"] = tmp_path / "asset_graph.png"
            page.screenshot(path=str(shots["asset_graph"]))

            page.goto(webserver.url + "/assets/kalshi_quotes", wait_until="domcontentloaded")
            _settle(page, "Freshness policy", "Columns", "dollars per contract")
            text = page.inner_text("body")
            assert "Passing" in text and "Not evaluated" not in text and "Missing" not in text
            shots["ui_asset_page"] = tmp_path / "ui_asset_page.png"
            page.screenshot(path=str(shots["ui_asset_page"]))

            page.goto(webserver.url + "/assets/promotion_decisions", wait_until="domcontentloaded")
            _settle(page, "Metadata", "reasons")
            # The metadata first: the preview of every decision with its reasons in full below it.
            page.get_by_text("Metadata", exact=True).first.evaluate("e => e.scrollIntoView({block: 'start'})")
            time.sleep(1.0)
            shots["ui_promotion_decisions"] = tmp_path / "ui_promotion_decisions.png"
            page.screenshot(path=str(shots["ui_promotion_decisions"]))

            page.goto(f"{webserver.url}/runs/{run_id}", wait_until="domcontentloaded")
            _settle(page, STAGE_JOBS["partitioned"], "RUN_SUCCESS")
            text = page.inner_text("body")
            assert "not found" not in text.lower() and "Success" in text
            reexecute = page.get_by_role("button", name="Re-execute all").first
            assert reexecute.is_visible() and reexecute.is_enabled()
            shots["ui_run_page"] = tmp_path / "ui_run_page.png"
            page.screenshot(path=str(shots["ui_run_page"]))
        finally:
            browser.close()

    for shot in shots.values():
        _check_shot(shot)
    keep = os.environ.get("KALSHI_SCREENSHOT_DIR")  # e.g. docs/, to refresh the documentation's pictures
    if keep:
        save_graph_region(shots.pop("asset_graph"), Path(keep) / "asset_graph.png")
        for name, shot in shots.items():
            shutil.copyfile(shot, Path(keep) / f"{name}.png")


def test_a_demo_run_re_executes_from_the_ui(webserver: Webserver) -> None:
    """The UI's "Re-execute all" mutation on a demo run (the upstream one: the shortest): launched, run by
    the daemon, done."""
    run_id = next(r["runId"] for r in webserver.graphql(TRUTH_QUERY)["runsOrError"]["results"]
                  if r["pipelineName"] == STAGE_JOBS["upstream"])
    launched = webserver.graphql(
        f'mutation {{ launchPipelineReexecution(reexecutionParams: {{parentRunId: "{run_id}", strategy: ALL_STEPS}}) '
        "{ __typename ... on LaunchRunSuccess { run { runId } } ... on PythonError { message } } }"
    )["launchPipelineReexecution"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    child = launched["run"]["runId"]

    def finished():
        status = webserver.graphql(f'{{ runOrError(runId: "{child}") {{ ... on Run {{ status }} }} }}')["runOrError"]
        return status["status"] if status["status"] in ("SUCCESS", "FAILURE", "CANCELED") else None

    assert wait_for(finished, 300, "the re-executed run to finish") == "SUCCESS"


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
