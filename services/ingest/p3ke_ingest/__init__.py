"""Party 1 publishes Data P3KE dataset versions: validated, immutable Parquet snapshots announced by dataset-updated."""
