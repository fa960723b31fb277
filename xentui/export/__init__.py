"""``xentui export``: the model's samples as OpenMetrics families (families.py) for a scrape that never waits
past its deadline (collector.py)."""
