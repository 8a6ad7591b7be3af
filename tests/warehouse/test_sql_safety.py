"""SQL is never formatted with values, and identifiers reach it only through db.compose: every module under
kalshi_assets/warehouse/ is read as Python syntax and held to these rules."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

WAREHOUSE = Path(__file__).resolve().parents[2] / "kalshi_assets" / "warehouse"
MODULES = sorted(WAREHOUSE.glob("*.py"))
SQL_WORDS = re.compile(r"\b(SELECT|INSERT|DELETE|UPDATE|MERGE|FROM|WHERE|ORDER BY|GROUP BY|JOIN|CREATE|ALTER|DROP|"
                       r"ATTACH|COMMENT ON|AND|OR)\b")
# The one function that formats SQL text: it checks every identifier it fills in.
FORMATTERS = {("db.py", "compose")}


def _is_sql(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, str) and bool(SQL_WORDS.search(node.value))


def _operands(node: ast.AST) -> list[ast.AST]:
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _operands(node.left) + _operands(node.right)
    return [node]


def _module_constants(tree: ast.Module) -> set[str]:
    """Module-level names bound once to constant text (string literals, sums of them, compose(...))."""
    names = set()
    for statement in tree.body:
        if isinstance(statement, ast.Assign | ast.AnnAssign) and statement.value is not None:
            targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
            if all(isinstance(t, ast.Name) and t.id.lstrip("_").isupper() for t in targets):
                names.update(t.id for t in targets)
    return names


def violations(source: str, name: str) -> list[str]:
    tree = ast.parse(source)
    constants = _module_constants(tree)
    functions = {}  # node -> the innermost function it sits in
    for function in (f for f in ast.walk(tree) if isinstance(f, ast.FunctionDef)):
        for inner in ast.walk(function):
            functions[id(inner)] = function.name
    found = []
    for node in ast.walk(tree):
        where = f"{name}:{getattr(node, 'lineno', '?')}"
        if isinstance(node, ast.JoinedStr) and any(_is_sql(part) for part in node.values):
            found.append(f"{where}: an f-string builds SQL")
        if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "format":
            if (name, functions.get(id(node))) not in FORMATTERS:
                found.append(f"{where}: str.format outside db.compose")
        if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "join" and _is_sql(node.func.value):
            found.append(f"{where}: SQL joined by str.join (use db.join on composed pieces)")
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod) and _is_sql(node.left):
            found.append(f"{where}: %-format of SQL")
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            parts = _operands(node)
            if any(_is_sql(part) for part in parts):
                spliced = [ast.unparse(p) for p in parts if not (isinstance(p, ast.Constant) or
                                                                 (isinstance(p, ast.Name) and p.id in constants))]
                if spliced:
                    found.append(f"{where}: SQL concatenated with {spliced}")
    return found


@pytest.mark.parametrize("module", MODULES, ids=[m.name for m in MODULES])
def test_no_module_of_the_warehouse_formats_sql(module: Path) -> None:
    assert violations(module.read_text(), module.name) == []


def test_the_warehouse_has_the_modules_this_test_reads() -> None:
    assert {"db.py", "writes.py", "service.py", "outcomes.py", "reports.py", "lake_schema.py"} <= {m.name for m in MODULES}


@pytest.mark.parametrize("source", [
    'def f(con, t):\n    con.execute(f"SELECT * FROM {t}")',
    'def f(con, t):\n    con.execute("SELECT * FROM " + t)',
    'def f(con, t):\n    con.execute("SELECT * FROM {}".format(t))',
    'def f(con, t):\n    con.execute("SELECT * FROM %s" % t)',
    'def f(con, keys):\n    return " AND ".join(keys)',
])
def test_the_rules_catch_each_way_of_splicing(source: str) -> None:
    assert violations(source, "planted.py")


def test_constant_pieces_and_compose_pass() -> None:
    source = ('_CTE = "x AS (SELECT 1)"\n_SQL = "WITH " + _CTE + " SELECT * FROM x"\n'
              'def f(con, t):\n    con.execute(compose("SELECT * FROM {t} WHERE a = ?", t=t), [1])')
    assert violations(source, "fine.py") == []
