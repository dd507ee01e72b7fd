"""Benchmark the streaming tarball scan: peak memory growth and throughput.

Generates two gzip tarballs shaped like a headscale release (about 1,400 members, Go
files under ``hscontrol/``, most of the bytes in JSON-ish test data under
``hscontrol/policy/v2/testdata/``, deflating about 9:1 like v0.29.0's 43 MB / 390 MB),
one of 10 MiB and one of about 400 MiB uncompressed, in a temporary directory
(generation is not timed). Each scan runs in a fresh Python process, so that the peak
RSS measured is the scan's own: the child resets the kernel's high-water mark
(``echo 5 > /proc/self/clear_refs``), scans the file in 64 KiB chunks as an HTTP
client would hand them over, and reports how far ``VmHWM`` rose above the ``VmRSS``
it had just before the scan. Throughput is uncompressed bytes per second of a scan
that reads the whole archive (all evidence asked for), best of three runs.

Usage: ``python benchmarks/feature_scan.py [--quick]`` (``--quick``: 10 MiB archive only).
Goals: RSS growth < 20 MiB on both archives; >= 100 MiB/s on the big one.
"""

from __future__ import annotations

import argparse
import functools
import io
import json
import random
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TypedDict

from watcher.config.model import FeatureConfig
from watcher.sources.tarscan import scan_tarball

MiB = 1024 * 1024
TOP = "juanfont-headscale-0a1b2c3"
SHA = "0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d"
MARKER = "tailscale.com/cap/relay"
GO_FILES = 900
OTHER_FILES = 180
TESTDATA_FILES = 300
MARKER_EVERY = 150  # one Go file in 150 carries the marker: 6 hits
CHUNK = 64 * 1024
RUNS = 3
RSS_GOAL_MIB = 20.0
THROUGHPUT_GOAL = 100.0
RULES = {
    # The built-in watch, every hit asked for, so the whole archive is read.
    "default rule": FeatureConfig(marker=MARKER, paths=("hscontrol/**/*.go",), all_evidence=True),
    # Worst case: every byte of every member goes through the marker search.
    "every file": FeatureConfig(marker=MARKER, exclude=(), all_evidence=True),
}


class Measured(TypedDict):
    """What one child process reports about one scan."""

    seconds: float
    rss_growth_mib: float
    rss_method: str
    members: int
    bytes_read: int
    hits: int
    complete: bool


def main() -> None:
    """Generate the archives, scan each in child processes, print a table."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="the 10 MiB archive only")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)  # one measurement
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(Path(args.child[0]), args.child[1])))
        return
    sizes = [10 * MiB] if args.quick else [10 * MiB, 400 * MiB]
    rows: list[list[str]] = []
    method = ""
    ok = True
    with tempfile.TemporaryDirectory(prefix="watcher-bench-") as tmp:
        for size in sizes:
            path = Path(tmp) / f"release-{size // MiB}MiB.tar.gz"
            started = time.perf_counter()
            members = write_release_like(path, size)
            print(f"generated {path.name} in {time.perf_counter() - started:.0f} s", flush=True)
            for rule_name in RULES:
                runs = [_in_child(path, rule_name) for _ in range(RUNS)]
                method = runs[0]["rss_method"]
                if any(r["members"] != members or not r["complete"] for r in runs):
                    raise SystemExit(f"scan of {path.name} did not read every member: {runs}")
                seconds = min(r["seconds"] for r in runs)
                rss = max(r["rss_growth_mib"] for r in runs)
                tar_mib = runs[0]["bytes_read"] / MiB
                speed = tar_mib / seconds
                goal = rss < RSS_GOAL_MIB and (size < 400 * MiB or speed >= THROUGHPUT_GOAL)
                ok = ok and (goal or rule_name != "default rule")
                rows.append(
                    [
                        f"{size // MiB} MiB",
                        rule_name,
                        str(members),
                        f"{tar_mib:.1f}",
                        f"{path.stat().st_size / MiB:.1f}",
                        str(runs[0]["hits"]),
                        f"{seconds:.2f}",
                        f"{speed:.0f}",
                        f"{rss:.1f}",
                        "yes" if goal else "NO",
                    ]
                )
    _print_table(
        [
            "archive",
            "rule",
            "members",
            "tar MiB",
            "gz MiB",
            "hits",
            "s",
            "MiB/s",
            "RSS+ MiB",
            "goal",
        ],
        rows,
    )
    print(
        f"RSS method: {method}; goals: RSS+ < {RSS_GOAL_MIB:.0f} MiB, "
        f">= {THROUGHPUT_GOAL:.0f} MiB/s on 400 MiB (default rule)"
    )
    if not ok:
        raise SystemExit(1)


def measure(path: Path, rule_name: str) -> Measured:
    """Scan ``path`` in this process; report time and the rise of peak RSS during the scan."""
    method = _reset_peak_rss()
    before = _status_kib("VmRSS" if method == "clear_refs" else "VmHWM")
    with path.open("rb") as body:
        chunks = iter(functools.partial(body.read, CHUNK), b"")
        started = time.perf_counter()
        scan = scan_tarball(chunks, RULES[rule_name], source=str(path))
        seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "rss_growth_mib": (_status_kib("VmHWM") - before) / 1024,
        "rss_method": method,
        "members": scan.members_seen,
        "bytes_read": scan.bytes_read,
        "hits": len(scan.hits),
        "complete": scan.complete,
    }


def _reset_peak_rss() -> str:
    # Since Linux 4.0 writing 5 resets VmHWM to the current RSS, so the later VmHWM is
    # the peak of the scan alone. Without it, the peak so far is the baseline, which
    # can only hide growth below an earlier peak (a fresh process has none to speak of).
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return "VmHWM before/after (clear_refs unavailable)"
    return "clear_refs"


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise SystemExit(f"no {field} in /proc/self/status (Linux only)")


def _in_child(path: Path, rule_name: str) -> Measured:
    done = subprocess.run(
        [sys.executable, __file__, "--child", str(path), rule_name],
        capture_output=True,
        text=True,
        check=True,
    )
    result: Measured = json.loads(done.stdout.splitlines()[-1])
    return result


def _print_table(header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(cell) for cell in column) for column in zip(header, *rows, strict=True)]
    for line in [header, ["-" * w for w in widths], *rows]:
        print("  ".join(cell.rjust(w) for cell, w in zip(line, widths, strict=True)))


def write_release_like(path: Path, total: int) -> int:
    """Write a release-shaped .tar.gz of about ``total`` uncompressed bytes; return its members."""
    rng = random.Random(total)
    files = list(_release_files(rng, total))
    dirs = {TOP} | {f"{TOP}/{name.rsplit('/', 1)[0]}" for name, _ in files}
    # git archive's layout: pax global header with the SHA, directories, then files.
    with tarfile.open(
        path, "w:gz", format=tarfile.PAX_FORMAT, pax_headers={"comment": SHA}, compresslevel=6
    ) as tar:
        for directory in sorted(dirs):
            info = tarfile.TarInfo(directory + "/")
            info.type = tarfile.DIRTYPE
            tar.addfile(info)
        for name, data in files:
            info = tarfile.TarInfo(f"{TOP}/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return len(dirs) + len(files)


def _release_files(rng: random.Random, total: int) -> Iterator[tuple[str, bytes]]:
    """Go code (at most 10 MiB), docs and CI files, and test data making up the rest."""
    pool = _json_pool(rng, 8 * MiB)
    code_budget = min(total * 35 // 100, 10 * MiB)
    other_budget = min(total // 10, 2 * MiB)
    packages = ["hscontrol", "hscontrol/db", "hscontrol/mapper", "hscontrol/policy/v2"]
    packages += [f"hscontrol/pkg{n}" for n in range(36)]
    used = 0
    for n in range(GO_FILES):
        test = "_test" if n % 3 == 0 else ""
        data = _go_source(rng, n, code_budget // GO_FILES, marker=n % MARKER_EVERY == 7)
        used += len(data)
        yield f"{packages[n % len(packages)]}/file{n}{test}.go", data
    for n in range(OTHER_FILES):
        data = _slice(rng, pool, other_budget // OTHER_FILES)
        used += len(data)
        yield f"{('docs', 'cmd/headscale', 'integration', '.github')[n % 4]}/f{n}.md", data
    for n in range(TESTDATA_FILES):
        data = _slice(rng, pool, (total - used) // TESTDATA_FILES)
        yield f"hscontrol/policy/v2/testdata/grants_{n:04}.json", data


def _go_source(rng: random.Random, n: int, size: int, *, marker: bool) -> bytes:
    lines = [f"package pkg{n % 40}", "", 'import "fmt"', ""]
    if marker:
        lines.append(f'const CapRelay tailcfg.NodeCapability = "{MARKER}"')
    while sum(len(line) + 1 for line in lines) < size:
        f = len(lines)
        lines += [
            f"func f{f}(x int) (int, error) {{",
            f'\tif x > {rng.randrange(1000)} {{\n\t\treturn 0, fmt.Errorf("bad %d", x)\n\t}}',
            f"\treturn x * {rng.randrange(1000)}, nil",
            "}",
        ]
    return ("\n".join(lines) + "\n").encode()


def _json_pool(rng: random.Random, size: int) -> bytes:
    """JSON-ish policy test data that deflates roughly 9:1, like headscale's testdata."""
    out = io.StringIO()
    while out.tell() < size:
        node = rng.randrange(10_000)
        out.write(
            f'{{"id": {node}, "name": "node-{node}", "user": "user{rng.randrange(50)}", '
            f'"ip": "100.64.{rng.randrange(256)}.{rng.randrange(256)}", '
            f'"tags": ["tag:{rng.choice(("relay", "server", "client", "ci"))}"], '
            f'"key": "nodekey:{rng.getrandbits(24):06x}", '
            f'"grants": [{{"src": ["group:admins"], "dst": ["tag:relay"], "ip": ["*"]}}]}},\n'
        )
    return out.getvalue().encode()


def _slice(rng: random.Random, pool: bytes, size: int) -> bytes:
    # Pieces are long compared with deflate's 32 KiB window, so reusing the pool does
    # not make the archive compress better than the pool itself.
    parts = []
    while size > 0:
        length = min(size, rng.randrange(256 * 1024, 2 * MiB))
        start = rng.randrange(0, len(pool) - length)
        parts.append(pool[start : start + length])
        size -= length
    return b"".join(parts)


if __name__ == "__main__":
    main()
