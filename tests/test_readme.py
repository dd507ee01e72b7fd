"""The README stays true: its configuration reference covers every key of the model, its
two commands are the Makefile's, and its `check` sample ends as `check` does."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import BaseModel

from watcher.cli.render import check_text
from watcher.config.model import Config
from watcher.net.http import RequestStats
from watcher.runner.report import RunReport

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def leaf_keys(model: type[BaseModel], prefix: str = "") -> list[str]:
    keys = []
    for name, field in model.model_fields.items():
        annotation = field.annotation
        inner = [a for a in getattr(annotation, "__args__", ()) if isinstance(a, type)]
        nested = next(
            (a for a in (annotation, *inner) if isinstance(a, type) and issubclass(a, BaseModel)),
            None,
        )
        if nested is not None:
            keys += leaf_keys(nested, f"{prefix}{name}.")
        else:
            keys.append(f"{prefix}{name}")
    return keys


def test_configuration_reference_names_every_key() -> None:
    section = README.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    missing = []
    for key in leaf_keys(Config):
        parent, _, leaf = key.rpartition(".")
        rows = [
            line
            for line in section.splitlines()
            if line.startswith("|") and re.search(rf"\b{leaf}\b", line)
        ]
        if not any(parent.split(".")[0] in row for row in rows):
            missing.append(key)
    assert missing == []


def test_top_of_readme_has_the_two_commands() -> None:
    top = README[:1500]
    assert "make run" in top and "make test" in top
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^run: ", makefile, re.M) and re.search(r"^test: ", makefile, re.M)


def test_metrics_reference_names_every_registered_metric() -> None:
    from watcher.service.metrics import Metrics

    section = README.split("## Metrics", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"`([a-z_]+)`", section))
    registered = set()
    for family in Metrics().registry.collect():
        # Counters are exposed (and documented) with their _total suffix.
        registered.add(family.name + "_total" if family.type == "counter" else family.name)
    assert {n for n in registered if n.startswith("watcher_")}, "no watcher_ metric registered"
    assert sorted(registered - documented) == []


def test_the_check_sample_ends_with_the_run_line_check_prints() -> None:
    """The sample's last line is what `check` prints for a run with those figures."""
    sample = README.split("## What `watcher check` tells you", 1)[1].split("```")[1]
    last = sample.strip().splitlines()[-1]
    figures = re.fullmatch(
        r"run (\d+): (\d+) request\(s\), (\d+) answered 304, (\d+) counted against the quota, "
        r"quota left (\d+)",
        last,
    )
    assert figures, last
    run_id, requests, not_modified, used, left = map(int, figures.groups())
    stats = RequestStats(
        requests=requests, not_modified=not_modified, quota_used=used, quota_remaining=left
    )
    assert check_text(RunReport(run_id, (), stats)) == last + "\n"
