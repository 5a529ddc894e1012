"""The import rules of the house (ARCHITECTURE.md), computed from the code with ast: nothing is imported."""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "cnnviz"

#: Lower layers first; a module may import its own layer and the layers below it.
LAYERS = {
    "version": 0, "errors": 0, "formatting": 0, "limits": 1, "colormaps": 1, "ops": 2, "io": 2, "stages": 3,
    "config": 4, "pipeline": 5, "importers": 5, "rendering": 6, "app": 7, "cli": 8, "notebook": 8,
}
MAX_LINES = 600


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(root: Path) -> dict[str, list[tuple[str, str, int]]]:
    """module -> [(imported module, imported name, line)] for every import of the package, anywhere in the file."""
    files = {module_name(root, p): p for p in root.rglob("*.py")}
    out: dict[str, list[tuple[str, str, int]]] = {}
    for mod, path in files.items():
        is_pkg = path.name == "__init__.py"
        found = []
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found += [(a.name, "", node.lineno) for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = mod.split(".") if is_pkg else mod.split(".")[:-1]
                    base = base[: len(base) - (node.level - 1)]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                for a in node.names:
                    sub = f"{target}.{a.name}"
                    found.append((sub if sub in files else target, a.name, node.lineno))
        out[mod] = found
    return out


def own(name: str, pkg: str) -> bool:
    return name == pkg or name.startswith(pkg + ".")


def layer(mod: str, pkg: str) -> int | None:
    parts = mod.split(".")
    return LAYERS.get(parts[1]) if len(parts) > 1 and parts[0] == pkg else None


def problems(root: Path) -> list[str]:
    """Every broken rule, one line each."""
    pkg = root.name
    graph = imports(root)
    out = []
    edges: dict[str, set[str]] = {m: set() for m in graph}
    for mod, found in graph.items():
        for target, name, line in found:
            if target.split(".")[0] == "click" and mod != f"{pkg}.cli":
                out.append(f"{mod}:{line} imports click (only {pkg}.cli may)")
            if not own(target, pkg):
                if own(mod, f"{pkg}.ops") and target.split(".")[0] not in (
                        "numpy", "__future__", "typing", "collections", "math", "dataclasses", "functools",
                        "itertools", "os"):
                    out.append(f"{mod}:{line} imports {target} (ops/ is pure NumPy)")
                continue
            if name.startswith("_") and not name.startswith("__") and target != mod:
                out.append(f"{mod}:{line} imports the private name {name} from {target}")
            if own(mod, f"{pkg}.ops") and not any(own(target, f"{pkg}.{k}") for k in ("ops", "errors", "limits")):
                out.append(f"{mod}:{line} imports {target} (ops/ may use only errors and limits)")
            if own(mod, f"{pkg}.io") and own(target, f"{pkg}.config"):
                out.append(f"{mod}:{line} imports {target} (io/ knows no Config)")
            lm, lt = layer(mod, pkg), layer(target, pkg)
            if lm is not None and lt is not None and lt > lm:
                out.append(f"{mod}:{line} imports {target}, a higher layer")
            if target != mod and target in edges:
                edges[mod].add(target)
    # circles: any module that reaches itself
    for start in edges:
        seen, todo = set(), list(edges[start])
        while todo:
            m = todo.pop()
            if m == start:
                out.append(f"{start} imports itself through others (a circle)")
                break
            if m not in seen:
                seen.add(m)
                todo += edges.get(m, ())
    for p in root.rglob("*.py"):
        n = p.read_text(encoding="utf-8").count("\n")
        doc = ast.get_docstring(ast.parse(p.read_text(encoding="utf-8"))) or ""
        if n > MAX_LINES and "longer than" not in doc:
            out.append(f"{module_name(root, p)} has {n} lines (more than {MAX_LINES} with no reason at its top)")
    return out


def test_the_package_keeps_the_import_rules():
    found = problems(PACKAGE)
    assert found == [], "\n".join(found)


def test_every_layer_is_named():
    """A new top-level module or package must be placed in a layer before it can be checked."""
    names = {p.stem if p.is_file() else p.name for p in PACKAGE.iterdir()
             if (p.suffix == ".py" or (p.is_dir() and (p / "__init__.py").exists())) and p.name != "__init__.py"}
    assert names <= set(LAYERS), sorted(names - set(LAYERS))


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        p = root / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(textwrap.dedent(text))
    return root


def test_each_rule_can_fail(tmp_path):
    pkg = write(tmp_path / "cnnviz", {
        "__init__.py": "",
        "errors.py": "",
        "limits.py": "def helper():\n    from .config import x\n",  # upward, inside a function
        "cli.py": "import click\n",
        "config/__init__.py": "from .schema import x\n",
        "config/schema.py": "import click\nfrom ..limits import helper\nx = 1\n",  # click; a circle with limits
        "ops/__init__.py": "",
        "ops/conv.py": "import scipy\nfrom ..config import x\nfrom ..limits import _secret\n",
        "io/__init__.py": "",
        "io/images.py": "from ..config.schema import x\n",
        "app/__init__.py": "",
        "app/big.py": "x = 1\n" * 601,
    })
    text = "\n".join(problems(pkg))
    assert "cnnviz.config.schema:1 imports click" in text
    assert "cnnviz.ops.conv:1 imports scipy (ops/ is pure NumPy)" in text
    assert "cnnviz.ops.conv:2 imports cnnviz.config (ops/ may use only errors and limits)" in text
    assert "private name _secret" in text
    assert "cnnviz.io.images:1 imports cnnviz.config.schema (io/ knows no Config)" in text
    assert "cnnviz.limits:2 imports cnnviz.config, a higher layer" in text
    assert "cnnviz.limits imports itself through others (a circle)" in text
    assert "cnnviz.app.big has 601 lines" in text


@pytest.mark.parametrize("module", ["cli.py", "app/session.py", "stages/base.py", "config/schema.py"])
def test_key_modules_exist(module):
    """The places the README's layout section names."""
    assert (PACKAGE / module).is_file()
