"""kalshi_assets: a Dagster asset pipeline for research and paper trading on Kalshi event markets."""
