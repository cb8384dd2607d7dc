"""scim_pg benchmarks: see bench/bench.py."""
