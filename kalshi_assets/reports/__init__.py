"""Pictures of the pipeline's outputs (matplotlib, Agg backend): written as PNG files. No dagster."""
