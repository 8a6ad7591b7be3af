"""Every asset is named once, in defs/keys.py: the constants are exactly the code location's assets, and no
module of defs/ spells a key of its own (a bare string in `deps`, or an `AssetKey(...)` outside keys.py)."""

import ast
from pathlib import Path

import dagster as dg

from kalshi_assets.definitions import defs
from kalshi_assets.defs import keys

DEFS = Path(keys.__file__).parent


def test_keys_are_exactly_the_code_locations_assets() -> None:
    constants = {value for name, value in vars(keys).items() if name.isupper() and isinstance(value, dg.AssetKey)}
    graph = defs.resolve_asset_graph()
    assert constants and constants == set(graph.get_all_asset_keys())
    for name, value in vars(keys).items():
        if isinstance(value, dg.AssetKey):
            assert name == value.to_user_string().upper(), f"{name} names {value.to_user_string()}"


def _key_spellings(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", None)) == "AssetKey":
            found.append(f"{path.name}:{node.lineno} AssetKey(...)")
        if isinstance(node, ast.keyword) and node.arg in {"deps", "additional_deps"} and isinstance(
            node.value, ast.List | ast.Tuple
        ):
            found += [f"{path.name}:{e.lineno} deps string {e.value!r}" for e in node.value.elts
                      if isinstance(e, ast.Constant) and isinstance(e.value, str)]
    return found


def test_no_defs_module_spells_a_key_of_its_own() -> None:
    modules = [p for p in DEFS.rglob("*.py") if p != Path(keys.__file__)]
    assert len(modules) > 10
    spelled = [s for p in modules for s in _key_spellings(p)]
    assert not spelled, spelled
