"""No resource shows a credential in its repr or str, whether built from literal values or resolved from
EnvVars the way a run resolves them; the definitions only ever carry credentials as EnvVars, so Dagster's
config display shows variable names. (The run's event log is scanned in tests/e2e/test_demo_api.py.)"""

from __future__ import annotations

import importlib
import re

import dagster as dg
import pytest

import kalshi_assets.definitions as definitions_module
from kalshi_assets.definitions import defs

# Field names that hold a credential (a path to a key file, or a public key, is not one).
SECRET_FIELD = re.compile(r"(pem|passphrase|password|secret|token|api_key|hmac|private_key(?!_path))", re.I)
CREDENTIAL_ENV = {
    "KALSHI_API_KEY_ID": "key-id-SENTINEL-1",
    "KALSHI_PRIVATE_KEY_PEM": "-----BEGIN PRIVATE KEY-----\nPEM-SENTINEL-2\n-----END PRIVATE KEY-----",
    "KALSHI_PRIVATE_KEY_PASSPHRASE": "passphrase-SENTINEL-3",
    "FRED_API_KEY": "fred-SENTINEL-4",
}


def _secret_fields(resource: dg.ConfigurableResource) -> list[str]:
    return [name for name, field in type(resource).model_fields.items()
            if SECRET_FIELD.search(name) and "str" in str(field.annotation)]


def test_the_secret_fields_of_every_resource_stay_out_of_repr_and_str() -> None:
    checked = {}
    for key, resource in defs.resources.items():
        fields = _secret_fields(resource)
        if not fields:
            continue
        values = {name: f"SENTINEL-{key}-{name}" for name in fields}
        loaded = type(resource)(**values)
        for text in (repr(loaded), str(loaded)):
            leaked = [value for value in values.values() if value in text]
            assert not leaked, f"{key} shows {leaked} in {text!r}"
        checked[key] = fields
    # The resources that hold credentials were all checked (a vacuous pass is impossible).
    assert {"market_data", "trading", "macro"} <= set(checked), checked
    assert {"api_key_id", "private_key_pem", "passphrase"} <= set(checked["market_data"])


@pytest.fixture()
def api_definitions(monkeypatch: pytest.MonkeyPatch):
    """The code location loaded as a user with API credentials and ALFRED in the environment loads it."""
    monkeypatch.setenv("KALSHI_SOURCE", "api")
    monkeypatch.setenv("KALSHI_MACRO_SOURCE", "alfred")
    for name, value in CREDENTIAL_ENV.items():
        monkeypatch.setenv(name, value)
    yield importlib.reload(definitions_module).defs
    monkeypatch.undo()
    importlib.reload(definitions_module)


def test_credentials_travel_as_env_vars_and_resolved_resources_hide_them(api_definitions) -> None:
    secrets = list(CREDENTIAL_ENV.values())
    shown = " ".join(repr(r) for r in api_definitions.resources.values())
    assert not [s for s in secrets if s in shown]
    # What Dagster displays as the resources' config: EnvVar names, never values.
    market_data = api_definitions.resources["market_data"]
    assert isinstance(market_data.private_key_pem, dg.EnvVar) and market_data.passphrase == "KALSHI_PRIVATE_KEY_PASSPHRASE"
    assert isinstance(api_definitions.resources["macro"].fred_api_key, dg.EnvVar)
    with dg.build_resources({"market_data": market_data, "macro": api_definitions.resources["macro"]}) as resolved:
        assert resolved.market_data.private_key_pem == CREDENTIAL_ENV["KALSHI_PRIVATE_KEY_PEM"]  # resolved ...
        for resource in (resolved.market_data, resolved.macro):
            text = repr(resource) + str(resource)
            assert not [s for s in secrets if s in text], text  # ... and still hidden
