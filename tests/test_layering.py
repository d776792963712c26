"""The package's boundaries, checked on the source: imports flow ``cli`` → ``rnn_apps.api``
→ ``models`` → the shared machinery, never back up, and the on-device runtime
(``rnn_apps.lite``) imports neither TensorFlow nor Keras."""
from __future__ import annotations

import ast
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FACADE = {"rnn_apps/api.py", "rnn_apps/__init__.py"}  # what the CLI calls: may resolve task names
# The TensorFlow-free side: the on-device runtime and the few modules it may use.
TF_FREE = ("rnn_apps.lite", "rnn_apps.errors", "rnn_apps.options", "rnn_apps.decoding.settings",
           "rnn_apps.data.media", "rnn_apps.metrics", "rnn_apps.plots", "rnn_apps.runs", "rnn_apps.outputs.results")


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, at any depth (lazy imports inside functions too);
    ``from a.b import c`` counts as ``a.b.c`` (``c`` is a module or a name in ``a.b``)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.update(f"{node.module}.{alias.name}" for alias in node.names)  # the module or name taken
    return names


def upward_imports(folder: str, forbidden: tuple[str, ...], allowed: set[str] = frozenset()) -> list[str]:
    found = []
    for path in sorted((ROOT / folder).rglob("*.py")):
        relative = path.relative_to(ROOT).as_posix()
        if relative in allowed:
            continue
        found += [f"{relative} imports {name}" for name in sorted(imported_modules(path))
                  if name.startswith(forbidden)]
    return found


def test_the_checker_finds_lazy_imports(tmp_path):
    (tmp_path / "m.py").write_text("def f():\n    from rnn_apps.models import TASKS\n    import rnn_apps.cli.main\n")
    assert imported_modules(tmp_path / "m.py") == {"rnn_apps.models.TASKS", "rnn_apps.cli.main"}


def test_the_machinery_never_imports_tasks_or_the_cli():
    assert upward_imports("rnn_apps", ("rnn_apps.models", "rnn_apps.cli"), FACADE) == []


def test_tasks_never_import_the_cli_or_the_facade():
    assert upward_imports("models", ("rnn_apps.cli", "rnn_apps.api")) == []


def test_every_tf_free_module_imports_without_tensorflow():
    """Import every module under rnn_apps/lite, and the modules it may use, in a fresh
    interpreter: neither TensorFlow nor Keras may be loaded afterwards (a device or a small
    server runs the runtime alone)."""
    import rnn_apps.lite

    runtime = [f"rnn_apps.lite.{m.name}" for m in pkgutil.iter_modules(rnn_apps.lite.__path__)]
    assert len(runtime) >= 3
    modules = [*TF_FREE, *runtime]
    code = ("import importlib, json, sys\n"
            f"for name in {modules!r}: importlib.import_module(name)\n"
            "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules} & {'tensorflow', 'keras'})))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []




def test_the_runtime_reaches_only_the_tf_free_side():
    """``rnn_apps/lite`` may use the rest of the package only through the TensorFlow-free
    modules named in ``TF_FREE`` (no path back into the façade, the tasks or the exporters)."""
    found = [f"{path.relative_to(ROOT).as_posix()} imports {name}"
             for path in sorted((ROOT / "rnn_apps" / "lite").rglob("*.py"))
             for name in sorted(imported_modules(path))
             if name.startswith("rnn_apps") and not name.startswith(TF_FREE)]
    assert found == []
