"""The dependency rule, beyond import-linter's lists: the core imports only the standard library."""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

import grimp
import pytest


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph("backend", include_external_packages=True)


def outside_imports(graph: grimp.ImportGraph, package: str, allowed: tuple[str, ...]) -> set[str]:
    found = set()
    for module in graph.find_descendants(package) | {package}:
        for imported in graph.find_modules_directly_imported_by(module):
            top = imported.split(".")[0]
            if top not in sys.stdlib_module_names and not imported.startswith(allowed):
                found.add(f"{module} -> {imported}")
    return found


def test_the_domain_imports_only_the_standard_library(graph: grimp.ImportGraph) -> None:
    assert outside_imports(graph, "backend.domain", ("backend.domain",)) == set()


def test_the_application_imports_only_the_domain_and_the_standard_library(
    graph: grimp.ImportGraph,
) -> None:
    allowed = ("backend.domain", "backend.application")
    assert outside_imports(graph, "backend.application", allowed) == set()


def test_no_adapter_imports_the_app_the_container_or_an_entry_point(
    graph: grimp.ImportGraph,
) -> None:
    upper = ("backend.app", "backend.container", "backend.entrypoints")
    found = {
        f"{module} -> {imported}"
        for module in graph.find_descendants("backend.adapters")
        for imported in graph.find_modules_directly_imported_by(module)
        if imported in upper or imported.startswith(tuple(f"{m}." for m in upper))
    }
    assert found == set()


def test_the_import_contracts_make_no_exceptions() -> None:
    with (Path(__file__).parents[2] / "pyproject.toml").open("rb") as file:
        contracts = tomllib.load(file)["tool"]["importlinter"]["contracts"]
    assert [c["name"] for c in contracts if c.get("ignore_imports")] == []
