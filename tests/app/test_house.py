"""The house's layers: imports run downward only, no recipe imports another, no import cycle.

Layers, lowest first (a module may import its own layer and those below):
utilities (bounds, deadline, files) < nn < data < decode < train (the engine) <
objectives, metrics < families, export < recipes < analysis, serve, bench < cli (and cli_train) <
entry (the command's entry point, which sets process options before importing the rest).
"""

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "rnnkit"
LEVEL = {
    "bounds": 0,
    "deadline": 0,
    "files": 0,
    "nn": 1,
    "data": 2,
    "decode": 3,
    "train": 4,
    "objectives": 5,
    "metrics": 5,
    "families": 6,
    "export": 6,
    "recipes": 7,
    "analysis": 8,
    "serve": 8,
    "bench": 8,
    "cli": 9,
    "cli_train": 9,
    "entry": 10,
    "__main__": 10,
    "__init__": 9,
}


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, module: str = "") -> set[str]:
    """Every rnnkit module ``path`` (the module ``module``) imports, at module level or inside a
    function, relative imports resolved."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([node.module] if node.module else []))
            if not base.startswith("rnnkit"):
                continue
            for alias in node.names:
                if alias.name == "__version__":
                    continue  # a constant, not the package's code
                full = f"{base}.{alias.name}"
                is_module = (SRC.parent / (full.replace(".", "/") + ".py")).exists() or (
                    SRC.parent / full.replace(".", "/")
                ).is_dir()
                found.add(full if is_module else base)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("rnnkit")}
    return found


def graph() -> dict[str, set[str]]:
    return {module_name(p): imports(p, module_name(p)) for p in SRC.rglob("*.py")}


def layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def test_every_top_level_part_has_a_layer():
    assert {
        p.stem if p.is_file() else p.name
        for p in SRC.iterdir()
        if p.suffix == ".py" or (p.is_dir() and (p / "__init__.py").exists())
    } <= set(LEVEL)


def test_imports_run_downward_only():
    upward = sorted(
        f"{m} imports {o}" for m, found in graph().items() for o in found if LEVEL[layer(o)] > LEVEL[layer(m)]
    )
    assert not upward, "\n".join(upward)


def test_no_recipe_imports_another_recipe():
    crossing = []
    for m, found in graph().items():
        parts = m.split(".")
        if layer(m) != "recipes" or len(parts) < 3:
            continue
        crossing += [
            f"{m} imports {o}"
            for o in found
            if layer(o) == "recipes" and len(o.split(".")) > 2 and o.split(".")[2] != parts[2]
        ]
    assert not crossing, "\n".join(crossing)


def test_no_import_cycle_between_modules():
    edges = graph()
    modules = set(edges)
    state: dict[str, int] = {}
    cycles = []

    def visit(m, path):
        state[m] = 1
        for o in sorted(edges.get(m, ())):
            if o not in modules or o == m:
                continue
            if state.get(o) == 1:
                cycles.append(" -> ".join(path[path.index(o) :] + [o]) if o in path else f"{m} -> {o}")
            elif o not in state:
                visit(o, path + [o])
        state[m] = 2

    for m in sorted(modules):
        if m not in state:
            visit(m, [m])
    assert not cycles, "\n".join(cycles)


def test_the_checker_sees_an_upward_import(tmp_path):
    """A mutation check: the layer test would catch train importing a recipe."""
    assert LEVEL[layer("rnnkit.recipes.charlm")] > LEVEL[layer("rnnkit.train.trainer")]
    probe = tmp_path / "probe.py"
    probe.write_text("from rnnkit.recipes import charlm\nfrom rnnkit import bounds\nfrom .corpus import data_dir\n")
    assert imports(probe, "rnnkit.data.probe") == {"rnnkit.recipes.charlm", "rnnkit.bounds", "rnnkit.data.corpus"}


#: the modules that import by name at run time (importlib): the registry loads the recipe a run
#: names, ``rnnkit analyze`` its tools, the server checks that the serve extra is installed;
#: anywhere else such an import would hide an arrow from the layer and cycle checks above
DYNAMIC = {"rnnkit.recipes", "rnnkit.analysis", "rnnkit.serve.server"}


def test_only_the_registry_imports_by_name():
    found = set()
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call):
                name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
                if name in ("import_module", "__import__"):
                    found.add(module_name(path))
    assert found <= DYNAMIC, found - DYNAMIC
