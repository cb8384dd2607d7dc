#!/usr/bin/env python3
"""scim_pg benchmarks (driven by scripts/bench, which builds, installs and
starts the private cluster; this file loads the data, measures, and writes
bench/results.md and bench/results.json).

Every figure is a ratio of two measurements taken side by side in the same
run, samples interleaved (ours, baseline, baseline, ours, ...), through the
same client path (psycopg 3, prepared statements; wrk for HTTP).

Sections: filter, patch, memory, http, sync, policy, limits, operations,
and the multi-tenant ones (mt_filter, mt_walk, mt_layers, mt_write,
mt_http). The code is the package bench/scimbench/: common (scale, data
helpers), harness (cluster, data, processes, the run), one module per
section in sections/, report (results.md / results.json). Exit status is non-zero
only on real errors (a failed query, a wrong result, a server that does not
start); a missed target is reported with its verdict.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from scimbench.main import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
