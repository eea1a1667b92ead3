"""The import contracts in .importlinter hold, over the package laid out as the wheel installs it.

import-linter (grimp) finds a package's modules by walking its folder, and in a checkout
`yakuba.ingest` lives in ingest/, not yakuba/ingest/ (pyproject.toml maps it). So the check runs over a
folder of symbolic links shaped like the installed package, built from the same mapping.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.helpers import ROOT


def package_dirs() -> dict[str, Path]:
    """`yakuba.<name>` -> folder, as pyproject.toml's package-dir declares them."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return {name: ROOT / folder for name, folder in config["tool"]["setuptools"]["package-dir"].items()}


def installed_layout(target: Path) -> Path:
    """`target/yakuba`, with each mapped folder linked where the wheel would put it."""
    mapping = package_dirs()
    root = target / "yakuba"
    root.mkdir(parents=True)
    for entry in mapping["yakuba"].iterdir():
        if entry.name != "__pycache__":
            (root / entry.name).symlink_to(entry)
    for name, folder in mapping.items():
        if name != "yakuba":
            (root / name.removeprefix("yakuba.")).symlink_to(folder, target_is_directory=True)
    return target


def test_every_package_folder_is_declared() -> None:
    """A new subpackage missing from pyproject.toml's `packages` would be left out of the wheel."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    declared = set(config["tool"]["setuptools"]["packages"])
    found = set()
    for name, folder in package_dirs().items():
        for init in folder.rglob("__init__.py"):
            relative = init.parent.relative_to(folder)
            if name == "yakuba" and relative.parts and f"yakuba.{relative.parts[0]}" in package_dirs():
                continue
            found.add(".".join((name, *relative.parts)))
    assert found == declared


def test_import_contracts_hold(tmp_path: Path) -> None:
    pytest.importorskip("importlinter")
    tree = installed_layout(tmp_path)
    env = {**os.environ, "PYTHONPATH": str(tree)}
    done = subprocess.run(
        [str(Path(sys.executable).with_name("lint-imports")), "--config", str(ROOT / ".importlinter"), "--no-cache"],
        cwd=tree, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    assert "Contracts: 6 kept, 0 broken." in done.stdout, done.stdout[-3000:]


PACKAGES = ("core", "models", "ingest", "retriever", "assistant", "api", "evals", "training", "cli", "ui")
GRAPH_SCRIPT = """
import grimp, json
graph = grimp.build_graph("yakuba", cache_dir=None)
names = {names}
print(json.dumps({{a: [b for b in names if b != a and graph.direct_import_exists(
    importer="yakuba." + a, imported="yakuba." + b, as_packages=True)] for a in names}}))
"""


def package_graph(tree: Path) -> dict[str, list[str]]:
    """Which top-level packages each one imports directly (grimp over the installed layout)."""
    import json

    script = GRAPH_SCRIPT.format(names=list(PACKAGES))
    env = {**os.environ, "PYTHONPATH": str(tree)}
    done = subprocess.run([sys.executable, "-c", script], cwd=tree, env=env, capture_output=True, text=True,
                          timeout=300, check=True)  # fmt: skip
    return json.loads(done.stdout)


def graph_block(graph: dict[str, list[str]]) -> str:
    return "\n".join(f"{a:<10} → {', '.join(graph[a]) or '(nothing of ours)'}" for a in PACKAGES)


def test_architecture_doc_shows_the_real_graph(tmp_path: Path) -> None:
    """docs/architecture.md carries the import graph as it is; regenerate it with
    `.venv/bin/python -m tests.architecture.test_imports` when this fails."""
    pytest.importorskip("grimp")
    block = graph_block(package_graph(installed_layout(tmp_path)))
    doc = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    assert f"```text\n{block}\n```" in doc, f"docs/architecture.md's import graph is out of date:\n{block}"


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as scratch:
        print(graph_block(package_graph(installed_layout(Path(scratch)))))
