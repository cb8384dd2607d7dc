"""The benchmark as one class made of its sections (each a mixin in
sections/), and the command line scripts/bench calls."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


from .harness import Harness
from .report import Report
from .sections.filter import FilterSection
from .sections.http import HttpSection
from .sections.limits import LimitsSection
from .sections.memory import MemorySection
from .sections.operations import OperationsSection
from .sections.patch import PatchSection
from .sections.policy import PolicySection
from .sections.sync import SyncSection


class Bench(FilterSection, PatchSection, MemorySection, HttpSection, SyncSection, PolicySection,
            LimitsSection, OperationsSection, Report, Harness):
    """Every section's bench_* method on one harness."""


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mode", choices=["quick", "full"], default="quick")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--http-port", type=int, default=18480)
    ap.add_argument("--data", required=True)
    ap.add_argument("--run-dir", required=True)
    ap.add_argument("--pids", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--only", default="")
    ap.add_argument("--reuse", default="0")
    ap.add_argument("--mt-largest", type=int, default=0,
                    help="users in the largest tenant of the multi-tenant sections (default: the mode's)")
    ap.add_argument("--render-only", action="store_true", help="rebuild results.md from results.json")
    a = ap.parse_args()
    if a.render_only:
        d = json.loads((Path(a.out) / "results.json").read_text())
        b = Bench(a)
        b.mode, b.s = d["meta"]["mode"], d["meta"]["scale"]
        b.rows, b.details, b.errors = d["rows"], d["details"], d["meta"]["errors"]
        b.pinned_so = d["meta"]["pinned_library"]
        (Path(a.out) / "results.md").write_text(b.markdown(d["meta"]))
        return 0
    b = Bench(a)
    try:
        return b.run()
    finally:
        b.stop_procs()
