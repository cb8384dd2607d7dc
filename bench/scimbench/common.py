"""Shared constants and helpers: scale, seeded names, statistics, logging."""

from __future__ import annotations

import hashlib
import http.client
import json
import statistics
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
BENCH = ROOT / "bench"
SEED = "scim-bench-v1"
DEFAULT_TENANT = uuid.UUID("00000000-0000-0000-0000-000000000000")
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
BULK_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
DB = "scim_bench"

SCALES = {
    "quick": dict(
        users=20_000, groups=200, patch_sizes=[10, 1_000, 10_000],
        list_iters=400, list_cap_s=4.0, patch_iters=150, patch_cap_s=4.0,
        bulk_reps=4, mem_members=5_000, http_s=3, http_rounds=1, http_seed_users=300,
        sync_users=5_000, sync_groups=50, policy_users=20_000, policy_duration=2,
        policy_inquery=20_000, policy_timeout_s=240,
        mt_tenants=1_000, mt_largest=20_000, mt_write_rows=2_000,
    ),
    "full": dict(
        users=1_000_000, groups=10_000, patch_sizes=[10, 10_000, 100_000],
        list_iters=3_000, list_cap_s=25.0, patch_iters=1_000, patch_cap_s=20.0,
        bulk_reps=15, mem_members=50_000, http_s=10, http_rounds=2, http_seed_users=2_000,
        sync_users=100_000, sync_groups=1_000, policy_users=1_000_000, policy_duration=10,
        policy_inquery=200_000, policy_timeout_s=1_500,
        mt_tenants=1_000, mt_largest=1_000_000, mt_write_rows=20_000,
    ),
}

FIRST_NAMES = """Aaron Abigail Adam Adrian Aisha Alan Albert Alex Alice Amanda Amber Amy Andrea Andrew Angela
Anna Anthony Arthur Ava Barbara Benjamin Beth Brandon Brian Bruce Carl Carlos Carol Catherine Charles
Chloe Chris Claire Craig Daniel David Deborah Dennis Diana Donald Dorothy Dylan Edward Elena Elijah
Elizabeth Emily Emma Eric Ethan Eva Frank Gabriel Gary George Grace Gregory Hannah Harold Helen Henry
Isabel Jack Jacob James Janet Jason Jeffrey Jennifer Jessica Joan John Jonathan Jose Joseph Joshua
Joyce Julia Justin Karen Kate Kelly Kenneth Kevin Kyle Laura Lauren Linda Lisa Logan Louis Lucas
Madison Margaret Maria Mark Martha Mary Matthew Megan Melissa""".split()[:97]
LAST_NAMES = """Adams Allen Alvarez Anderson Bailey Baker Barnes Bell Bennett Brooks Brown Butler Campbell
Carter Castillo Chavez Clark Collins Cook Cooper Cox Cruz Davis Diaz Edwards Evans Fisher Flores Foster
Garcia Gomez Gonzalez Gray Green Gutierrez Hall Harris Hernandez Hill Howard Hughes Jackson James
Jenkins Johnson Jones Kelly Kim King Lee Lewis Long Lopez Martin Martinez Miller Mitchell Moore Morales
Morgan Morris Murphy Myers Nelson Nguyen Ortiz Parker Patel Perez Perry Peterson Phillips Powell Price
Ramirez Reed Reyes Richardson Rivera Roberts Robinson Rodriguez Rogers Ross Russell Sanchez Sanders
Scott Smith Stewart Sullivan Taylor Thomas Thompson Torres Turner Walker Ward Watson White Williams
Wilson Wood Wright Young""".split()[:101]


def det_uuid(kind: str, i: int) -> uuid.UUID:
    """The id the SQL generator gives object i of a kind (md5(seed-kind-i))."""
    return uuid.UUID(hashlib.md5(f"{SEED}-{kind}-{i}".encode()).hexdigest())


def display_name(i: int) -> str:
    return f"{FIRST_NAMES[(i * 7919) % 97]} {LAST_NAMES[(i * 104729) % 101]}"


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)


class BenchError(Exception):
    """A real error: the run is reported as failed."""


def pct(samples: list[float], p: float) -> float:
    s = sorted(samples)
    if not s:
        return float("nan")
    k = min(len(s) - 1, max(0, int(round(p / 100.0 * (len(s) - 1)))))
    return s[k]


def stats_us(ns: list[int]) -> dict:
    us = [x / 1000.0 for x in ns]
    return {
        "n": len(us),
        "p50_us": round(pct(us, 50), 1),
        "p95_us": round(pct(us, 95), 1),
        "mean_us": round(statistics.fmean(us), 1) if us else None,
    }


def pkg_version(name: str) -> str:
    try:
        from importlib.metadata import version
        return version(name)
    except Exception:
        return "?"


class Client:
    """Minimal keep-alive SCIM client (http.client), JSON in and out."""

    def __init__(self, host: str, port: int, base: str, token: str):
        self.host, self.port, self.base, self.token = host, port, base, token
        self.c = None

    def call(self, method: str, path: str, body=None):
        data = None if body is None else json.dumps(body).encode()
        headers = {"Authorization": f"Bearer {self.token}", "Accept": "application/scim+json"}
        if data is not None:
            headers["Content-Type"] = "application/scim+json"
        for attempt in range(3):
            try:
                if self.c is None:
                    self.c = http.client.HTTPConnection(self.host, self.port, timeout=120)
                self.c.request(method, self.base + path, body=data, headers=headers)
                r = self.c.getresponse()
                raw = r.read()
                if r.getheader("Connection", "").lower() == "close" or r.version == 10:
                    self.c.close()
                    self.c = None
                return r.status, (json.loads(raw) if raw else {})
            except (http.client.HTTPException, ConnectionError, OSError):
                if self.c:
                    self.c.close()
                self.c = None
                if attempt == 2:
                    raise
                time.sleep(0.2)
