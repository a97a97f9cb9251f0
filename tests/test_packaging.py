"""caregraph as it is installed: one name in site-packages, imports written as installed, and
the layers' direction (issue 22).

The four parts keep their folders (api/, graph/, loaders/, ontology/) and install as
caregraph.api, caregraph.graph, caregraph.loaders and caregraph.ontology (pyproject.toml's
package-dir mapping), so caregraph puts no generic name such as ``api`` or ``graph`` into a
site-packages that other packages share.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PARTS = ("api", "graph", "loaders", "ontology")
# what each part may import of the others: the API reads the graph through graph/ and
# loads through loaders/; loaders write through graph/; graph/ and ontology/ stand alone
# below them (graph/ reads the ontology's vocabulary)
MAY_IMPORT = {
    "api": {"api", "graph", "loaders", "ontology"},
    "loaders": {"loaders", "graph", "ontology"},
    "graph": {"graph", "ontology"},
    "ontology": {"ontology"},
}


def _python_files(*folders: str) -> list[Path]:
    return sorted(p for folder in folders for p in (REPO / folder).rglob("*.py"))


def _imported(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every absolute import in a file."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
    return found


def test_every_import_of_caregraph_names_it_as_installed() -> None:
    bare = [
        f"{path.relative_to(REPO)}:{line} imports {module}"
        for path in _python_files(*PARTS, "tests", "bench")
        for line, module in _imported(path)
        if module.split(".")[0] in PARTS
    ]
    assert not bare, "write these as caregraph.<part>...:\n" + "\n".join(bare)


def test_no_part_imports_a_part_above_it() -> None:
    upward = []
    for part, allowed in MAY_IMPORT.items():
        for path in _python_files(part):
            for line, module in _imported(path):
                names = module.split(".")
                if names[0] == "caregraph" and len(names) > 1 and names[1] not in allowed:
                    upward.append(f"{path.relative_to(REPO)}:{line} imports {module}")
    assert not upward, "\n".join(upward)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """caregraph built into a wheel from a copy of its files and installed into a folder of
    its own, as pip installs it into a site-packages (dependencies aside)."""
    work = tmp_path_factory.mktemp("packaging")
    source = work / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    for part in PARTS:
        shutil.copytree(REPO / part, source / part, ignore=shutil.ignore_patterns("__pycache__"))
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input"]
    subprocess.run(
        [*pip, "wheel", "--no-deps", "--no-build-isolation", "--wheel-dir", work / "dist", source],
        check=True,
        capture_output=True,
    )
    (wheel,) = (work / "dist").glob("caregraph-*.whl")
    target = work / "site-packages"
    subprocess.run(
        [*pip, "install", "--no-deps", "--no-index", "--target", target, wheel],
        check=True,
        capture_output=True,
    )
    return target


def test_installing_adds_only_caregraph_and_its_command(installed: Path) -> None:
    top = {p.name for p in installed.iterdir()}
    dist_info = {name for name in top if name.endswith(".dist-info")}
    assert top - dist_info == {"caregraph", "bin"}
    assert [p.name for p in (installed / "bin").iterdir()] == ["caregraph"]
    assert {p.name for p in (installed / "caregraph").iterdir()} == set(PARTS)
    assert "caregraph = caregraph.api.cli.main:app" in next(
        (installed / name / "entry_points.txt").read_text() for name in dist_info
    )


def test_the_wheel_holds_every_file_of_the_four_parts(installed: Path) -> None:
    tracked = subprocess.run(
        ["git", "ls-files", *PARTS], cwd=REPO, check=True, capture_output=True, text=True
    ).stdout.split()
    missing = [name for name in tracked if not (installed / "caregraph" / name).is_file()]
    assert not missing, f"not in the wheel: {missing}"


def test_the_installed_package_imports_and_answers_from_where_it_is_installed(
    installed: Path, tmp_path: Path
) -> None:
    env = {**os.environ, "PYTHONPATH": str(installed)}
    probe = (
        "import caregraph.api.app, caregraph.ontology.model as m, caregraph.api.sdl as s;"
        "print(caregraph.api.app.__file__); print(len(m.load_ontology().classes));"
        "print(len(s.sdl()))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=tmp_path,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    assert Path(out[0]).is_relative_to(installed)
    assert int(out[1]) > 10 and int(out[2]) > 1000
