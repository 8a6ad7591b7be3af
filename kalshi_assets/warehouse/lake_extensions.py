"""Make DuckDB's `ducklake` and `postgres` extensions loadable on a connection, offline when possible.

The PyPI packages `duckdb-extension-ducklake` and `duckdb-extension-postgres` (the `lake` extra) carry
DuckDB's own signed extension binaries, one per DuckDB release, at
`<package>/extensions/v<duckdb version>/<name>.duckdb_extension`. Installing from that path copies the
binary into the connection's `extension_directory` (by default ~/.duckdb/extensions) exactly as a download
would, and DuckDB checks its signature as usual: no unsigned mode. Without the packages, DuckDB's ordinary
`INSTALL <name>` downloads the extension (users with internet).

Two details learned the hard way:
- `LOAD '<path>'` alone does not work for postgres: DuckDB takes the extension's name from the file name
  (`postgres`), while the binary's entry point is `postgres_scanner_...`. `INSTALL '<path>'` knows the
  alias, so install first, then load by name.
- In the Python client `LOAD <name>` of an extension that is not installed silently tries to download it
  (autoinstall), so a missing package shows up as "Failed to download extension".
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import duckdb

# Extension name (as LOAD knows it) -> the pip package that ships its signed binary.
LAKE_EXTENSIONS: dict[str, str] = {
    "ducklake": "duckdb-extension-ducklake",
    "postgres": "duckdb-extension-postgres",
}


class LakeExtensionError(RuntimeError):
    """A lake extension could neither be loaded from its pip package nor installed from DuckDB's repository."""


def bundled_extension_path(name: str, duckdb_version: str = duckdb.__version__) -> Path | None:
    """The `.duckdb_extension` file the pip package for `name` installed for this DuckDB, or None."""
    module = LAKE_EXTENSIONS[name].replace("-", "_")
    try:
        root = resources.files(module)
    except ModuleNotFoundError:
        return None
    path = Path(str(root)) / "extensions" / f"v{duckdb_version}" / f"{name}.duckdb_extension"
    return path if path.is_file() else None


def _shipped_versions(name: str) -> list[str]:
    module = LAKE_EXTENSIONS[name].replace("-", "_")
    try:
        folder = Path(str(resources.files(module))) / "extensions"
    except ModuleNotFoundError:
        return []
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def load_lake_extensions(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """Load `ducklake` and `postgres` on `con`; return where each came from (a file path, or "repository").

    The pip packages come first (offline, pinned with duckdb); otherwise DuckDB's own repository. Raises
    LakeExtensionError naming the pip packages when neither works.
    """
    sources: dict[str, str] = {}
    for name, package in LAKE_EXTENSIONS.items():
        path = bundled_extension_path(name)
        try:
            if path is not None:
                con.install_extension(str(path))
                sources[name] = str(path)
            else:
                con.install_extension(name)  # a no-op when already installed; otherwise a download
                sources[name] = "repository"
            con.load_extension(name)
        except duckdb.Error as error:
            raise LakeExtensionError(_explain(name, package, path, error)) from error
    return sources


def _explain(name: str, package: str, path: Path | None, error: duckdb.Error) -> str:
    version = duckdb.__version__
    pip_hint = (f"install it offline with `pip install {package}=={version}` (or the project's extra: "
                f"`pip install 'kalshi_assets[lake]'`)")
    if path is not None:
        return f"DuckDB extension {name!r} from {path} could not be installed or loaded: {error}"
    shipped = _shipped_versions(name)
    if shipped:
        return (f"DuckDB extension {name!r}: the installed {package} ships {', '.join(shipped)}, not v{version} "
                f"(the pinned duckdb), and DuckDB's repository could not provide it either ({error}); {pip_hint}")
    return (f"DuckDB extension {name!r} is not installed and DuckDB's repository could not provide it "
            f"({error}); {pip_hint}")
