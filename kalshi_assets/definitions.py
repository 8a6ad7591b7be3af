"""The one Definitions object of the code location: assets, checks, resources, jobs, schedules, sensors."""


import os

import dagster as dg

from kalshi_assets.catalog import load_catalog
from kalshi_assets.defs import audit as audit_stage
from kalshi_assets.defs import automation, ingest, ingest_percentiles, monitoring, pictures
from kalshi_assets.defs import distributions as distributions_stage
from kalshi_assets.defs import outcomes as outcomes_stage
from kalshi_assets.defs import research as research_stage
from kalshi_assets.defs import trading as trading_stage
from kalshi_assets.defs.executors import executor_from_environment
from kalshi_assets.defs.resources import (
    AuditLogResource,
    MarketDataResource,
    SettingsResource,
    TradingResource,
    WarehouseResource,
    macro_from_environment,
)
from kalshi_assets.kalshi.client import CREDENTIAL_VARIABLES

# Each stage module exposes its own `defs`; they are merged here with the shared resources.
_STAGES = [ingest.defs, ingest_percentiles.defs, outcomes_stage.defs, distributions_stage.defs, pictures.defs, monitoring.defs, automation.defs,
           trading_stage.defs, research_stage.defs, audit_stage.defs]



def market_data_from_environment() -> MarketDataResource:
    """The demo exchange unless KALSHI_SOURCE=api; API credentials only ever travel through EnvVar.

    Market data is public: with no key in the environment the API source reads unsigned (orders and other
    signed calls then fail before sending, naming the variables to set). Every series the pipeline will
    ingest must be in the series catalog: a missing one is an error here, when the code location loads.
    """
    if os.environ.get("KALSHI_SOURCE", "demo") != "api":
        resource = MarketDataResource()
    else:
        secrets = {
            field: dg.EnvVar(variable)
            for field, variable in zip(
                ("api_key_id", "private_key_path", "private_key_pem", "passphrase"), CREDENTIAL_VARIABLES, strict=True
            )
            if os.environ.get(variable)
        }
        resource = MarketDataResource(
            source="api", base_url=os.environ.get("KALSHI_BASE_URL", MarketDataResource().base_url), **secrets
        )
    load_catalog().require_all(resource.tracked_series() or [])
    return resource


# automation.automate: schedules' downstream follows its inputs (AutomationCondition), freshness policies.
defs = automation.automate(dg.Definitions.merge(
    *_STAGES,
    dg.Definitions(
        resources={
            "warehouse": WarehouseResource(),
            "market_data": market_data_from_environment(),
            "settings": SettingsResource(),
            "macro": macro_from_environment(),
            "audit_log": AuditLogResource(),
            "trading": TradingResource(),
        },
        # In process by default; Celery workers with KALSHI_EXECUTOR=celery (defs/executors.py).
        executor=executor_from_environment(),
    ),
))
