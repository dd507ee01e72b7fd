"""The import contracts of pyproject.toml can fail: each one, broken on purpose, is caught.

``make lint`` runs ``lint-imports`` on watcher/ (docs/architecture.md, «Invariants»). A
contract that cannot fail proves nothing, so each test here copies the watcher package
into a temporary directory, adds one forbidden import to the copy and runs the real
``lint-imports`` with the project's own configuration against it: the run must fail
and name the contract that was broken. The unmodified copy must pass, so the failures
come from the added import and not from the copy.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "pyproject.toml"
LINTER = tomllib.loads(CONFIG.read_text(encoding="utf-8"))["tool"]["importlinter"]
CONTRACTS: dict[str, dict[str, Any]] = {c["id"]: c for c in LINTER["contracts"]}
FORBIDDEN = sorted(i for i, c in CONTRACTS.items() if c["type"] == "forbidden")
STATUS = re.compile(r"^(?P<name>.+) (?P<status>KEPT|BROKEN)(?: \(.*\))?$")


def copy_of_watcher(into: Path) -> Path:
    """A copy of the watcher package under ``into`` (which lint-imports then analyses)."""
    shutil.copytree(
        ROOT / "watcher", into / "watcher", ignore=shutil.ignore_patterns("__pycache__")
    )
    return into


def add_line(tree: Path, module: str, line: str) -> None:
    """Append ``line`` to the source of ``module`` (dotted, e.g. ``watcher.core.models``)."""
    path = tree.joinpath(*module.split("."))
    source = path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
    with source.open("a", encoding="utf-8") as file:
        file.write(f"\n{line}\n")


def lint_imports(tree: Path) -> tuple[int, dict[str, str], str]:
    """Run lint-imports on the watcher package in ``tree``: exit code, status by id, output.

    The copy is found first because lint-imports puts its working directory at the
    front of the module path; the configuration is the project's own file.
    """
    command = [str(Path(sys.executable).parent / "lint-imports"), "--no-cache", "--no-logo"]
    done = subprocess.run(
        [*command, str(CONFIG)],
        cwd=tree,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    by_name = {c["name"]: i for i, c in CONTRACTS.items()}
    statuses = {
        by_name[m["name"]]: m["status"]
        for m in map(STATUS.match, done.stdout.splitlines())
        if m and m["name"] in by_name
    }
    return done.returncode, statuses, done.stdout + done.stderr


def broken(statuses: dict[str, str]) -> set[str]:
    return {i for i, status in statuses.items() if status == "BROKEN"}


def test_the_unmodified_copy_keeps_every_contract(tmp_path: Path) -> None:
    code, statuses, output = lint_imports(copy_of_watcher(tmp_path))
    assert code == 0, output
    assert statuses == dict.fromkeys(CONTRACTS, "KEPT"), output


@pytest.mark.parametrize(
    ("module", "line", "contracts"),
    [
        # the core does no I/O
        ("watcher.core.models", "import httpx", {"core-pure"}),
        ("watcher.core.evaluate", "import sqlalchemy", {"core-pure"}),
        ("watcher.core.errors", "import os", {"core-pure"}),
        # ...and needs nothing of ours outside it (which also breaks the layers)
        ("watcher.core.evaluate", "from watcher.config import model", {"core-pure", "layers"}),
        # sources only read (an action is above them: the layers break too)
        (
            "watcher.sources.release",
            "from watcher.actions import pull_request",
            {"sources-read-only", "layers"},
        ),
        ("watcher.sources.image", "import github", {"sources-read-only"}),
        # net is below sources, so only the sources contract sees this one
        ("watcher.sources.issue", "from watcher.net import github_write", {"sources-read-only"}),
        # the backtest sits above notify and net in the layers: only its own contract
        # forbids it what writes
        ("watcher.backtest.replay", "from watcher.notify import outbox", {"backtest-no-writes"}),
        ("watcher.backtest.gather", "import watcher.net.github_write", {"backtest-no-writes"}),
        # state never reaches the network, not even through a package we do not own
        ("watcher.state.codec", "import httpx", {"state-offline"}),
        # (state sits above net in the layers: only its own contract forbids it this)
        ("watcher.state.tables", "from watcher.net import http", {"state-offline"}),
        # sources, actions and the chart model never touch the database
        ("watcher.sources.chart", "from watcher.state import store", {"no-database", "layers"}),
        ("watcher.actions.planning", "import sqlalchemy", {"no-database"}),
        # the layers: nothing imports upwards, and independent siblings not each other
        ("watcher.chart.bump", "from watcher.state import codec", {"layers"}),
        ("watcher.config.rules", "from watcher.chart import bump", {"layers"}),
        ("watcher.runner.cycle", "from watcher.service import metrics", {"layers"}),
        ("watcher.notify.targets", "from watcher.actions import proposal", {"layers"}),
        # no circle: state.store imports state.leases (the circle lease/leases once was)
        ("watcher.state.leases", "from watcher.state import store", {"acyclic"}),
    ],
)
def test_an_added_forbidden_import_breaks_its_contracts(
    tmp_path: Path, module: str, line: str, contracts: set[str]
) -> None:
    tree = copy_of_watcher(tmp_path)
    add_line(tree, module, line)
    code, statuses, output = lint_imports(tree)
    assert code != 0, output
    # Others may break too: a module that imports this one reaches the import as well
    # (indirect imports count), e.g. state reaches httpx added to the core.
    assert contracts <= broken(statuses), output
    for contract in contracts:
        assert f"{CONTRACTS[contract]['name']} BROKEN" in output


def test_a_new_folder_must_be_placed_in_the_layers(tmp_path: Path) -> None:
    tree = copy_of_watcher(tmp_path)
    (tree / "watcher" / "extras").mkdir()
    (tree / "watcher" / "extras" / "__init__.py").write_text('"""Not in any layer."""\n')
    code, statuses, output = lint_imports(tree)
    assert code != 0 and "layers" in broken(statuses), output
    assert "extras" in output


def modules_of(package: str) -> list[str]:
    """The dotted names of every module of ``package`` in the project's source tree."""
    folder = ROOT.joinpath(*package.split("."))
    return sorted(
        ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for path in folder.rglob("*.py")
    )


@st.composite
def forbidden_import(draw: st.DrawFn) -> tuple[str, str, str]:
    """A forbidden contract, one of its source modules, one module it forbids."""
    contract = draw(st.sampled_from(FORBIDDEN))
    sources = [m for s in CONTRACTS[contract]["source_modules"] for m in modules_of(s)]
    return (
        contract,
        draw(st.sampled_from(sources)),
        draw(st.sampled_from(CONTRACTS[contract]["forbidden_modules"])),
    )


@settings(max_examples=8, deadline=None)
@given(forbidden_import())
def test_any_forbidden_import_from_any_source_module_is_caught(
    case: tuple[str, str, str],
) -> None:
    contract, module, forbidden = case
    with tempfile.TemporaryDirectory() as scratch:
        tree = copy_of_watcher(Path(scratch))
        add_line(tree, module, f"import {forbidden}")
        code, statuses, output = lint_imports(tree)
    assert code != 0, output
    assert statuses[contract] == "BROKEN", output
    source = next(s for s in CONTRACTS[contract]["source_modules"] if module.startswith(s))
    assert f"{source} is not allowed to import {forbidden}:" in output
    assert f"{module} -> {forbidden} (l." in output


def sibling_imports() -> list[tuple[str, str]]:
    """Every direct import between two modules of one package of watcher (grimp's graph)."""
    import grimp

    graph = grimp.build_graph("watcher")
    return sorted(
        (importer, imported)
        for importer in graph.modules
        for imported in graph.find_modules_directly_imported_by(importer)
        if importer.rpartition(".")[0] == imported.rpartition(".")[0]
        and not graph.is_module_squashed(importer)
    )


@settings(max_examples=4, deadline=None)
@given(st.sampled_from(sibling_imports()))
def test_an_import_back_closing_any_circle_is_caught(edge: tuple[str, str]) -> None:
    importer, imported = edge
    with tempfile.TemporaryDirectory() as scratch:
        tree = copy_of_watcher(Path(scratch))
        add_line(tree, imported, f"import {importer}")
        code, statuses, output = lint_imports(tree)
    assert code != 0, output
    assert statuses["acyclic"] == "BROKEN", output


# The map (docs/architecture.md) must stay true to the code it describes.
ARCHITECTURE = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
CODE_SPANS = re.findall(r"`([^`\n]+)`", ARCHITECTURE)
IDENTIFIER = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*")


def test_the_map_states_the_layers_that_are_checked() -> None:
    (layers,) = (c["layers"] for c in CONTRACTS.values() if c["type"] == "layers")
    stated = " > ".join(" | ".join(f"`{m.strip()}`" for m in layer.split("|")) for layer in layers)
    assert stated.removeprefix("`__main__` > ") in " ".join(ARCHITECTURE.split())


def test_the_map_names_every_folder_of_watcher() -> None:
    folders = {p.parent.name for p in (ROOT / "watcher").glob("*/__init__.py")}
    assert folders, "no package found"
    for folder in folders:
        assert f"`watcher/{folder}/`" in ARCHITECTURE


def test_every_file_the_map_cites_exists() -> None:
    files = [span for span in CODE_SPANS if re.fullmatch(r"[\w./]+\.py", span)]
    assert files
    everything = [
        p.relative_to(ROOT).as_posix() for p in ROOT.rglob("*.py") if ".venv" not in p.parts
    ]
    for name in files:
        assert any(f"/{path}".endswith(f"/{name}") for path in everything), name


def test_every_name_the_map_cites_occurs_in_the_code() -> None:
    # Names: dotted, snake_case or CamelCase spans (file names are checked above).
    names = [
        span
        for span in CODE_SPANS
        if IDENTIFIER.fullmatch(span)
        and not re.search(r"\.(py|md|toml|txt|yaml)$", span)
        and ("_" in span or "." in span or span[0].isupper())
    ]
    assert names
    corpus = " ".join(
        p.read_text(encoding="utf-8")
        for folder in ("watcher", "tests", "migrations")
        for p in (ROOT / folder).rglob("*.py")
    ) + (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    for name in names:
        for part in name.split("."):
            assert re.search(rf"\b{re.escape(part)}\b", corpus), name
