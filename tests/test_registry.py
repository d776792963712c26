import dataclasses
import re
import subprocess
import sys

import pytest

from harness import READERS, UNKNOWN_TASK
from rnn_apps.config import resolve_config
from rnn_apps.errors import UserError
from rnn_apps.models import TASKS, get_task

# The presets every task has: ``tiny`` (the tests' runs of seconds, tests/conftest.py),
# ``small`` (each task's benchmarks and measured results in docs/) and ``default``.
EVERY_TASK_PRESETS = ("tiny", "small", "default")


@pytest.mark.parametrize("name", list(TASKS))
def test_every_registered_task_resolves_to_its_record(name):
    task = get_task(name)
    assert task.name == name and task.shape == TASKS[name].shape


def test_unknown_task_lists_tasks():
    assert UNKNOWN_TASK not in TASKS
    with pytest.raises(UserError, match=re.escape(f"unknown task {UNKNOWN_TASK!r}; tasks: {', '.join(TASKS)}")):
        get_task(UNKNOWN_TASK)


@pytest.mark.parametrize("name", list(TASKS))
def test_every_preset_is_a_partial_config_of_its_task(name):
    """A preset is a named partial config (``Task.presets``): every key a setting of the task,
    every value valid, and resolving it sets exactly those keys, the others keep their defaults;
    ``default`` is the defaults themselves; ``tiny`` trains fewer epochs than the default and
    makes nothing larger (units, examples, image size ...)."""
    task = get_task(name)
    missing = [p for p in EVERY_TASK_PRESETS if p not in task.presets]
    assert not missing, f"{name} lacks the presets {missing}"
    assert task.presets["default"] == {}
    defaults = dataclasses.asdict(task.config_class())
    for preset, values in task.presets.items():
        unknown = set(values) - set(defaults)
        assert not unknown, f"preset {preset!r} of {name} sets {sorted(unknown)}, which are not its settings"
        cfg = resolve_config(task.config_class, presets=task.presets, preset=preset)
        assert dataclasses.asdict(cfg) == {**defaults, **values}, preset
    tiny = task.presets["tiny"]
    assert tiny.get("epochs", defaults["epochs"]) < defaults["epochs"], tiny
    larger = {key: (value, defaults[key]) for key, value in tiny.items()
              if isinstance(value, (int, float)) and not isinstance(value, bool) and value > defaults[key]}
    assert not larger, f"the tiny preset of {name} is larger than the default in {larger}"


def test_the_harness_tables_hold_registered_tasks_only():
    """A task removed or renamed in the registry leaves no row behind in tests/harness.py."""
    assert set(READERS) <= set(TASKS), sorted(set(READERS) - set(TASKS))


def test_no_top_level_models_or_cli_package_is_installed(tmp_path):
    code = "import importlib.util as u; print(u.find_spec('models'), u.find_spec('cli'), u.find_spec('rnn_apps.cli'))"
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True)
    none_models, none_cli, ours = out.stdout.split(" ", 2)
    assert none_models == "None" and none_cli == "None" and "rnn_apps" in ours


def test_cli_help_does_not_import_tensorflow(tmp_path):
    code = "import sys; from rnn_apps.cli.main import cli; print('tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("name", list(TASKS))
def test_every_option_a_task_takes_is_catalogued_for_that_command(name):
    from rnn_apps.options import OPTIONS

    task = get_task(name)
    output = task.output(task.config_class())
    for command in ("predict", "evaluate"):
        for option in getattr(output, f"{command}_options"):
            assert option in OPTIONS and command in OPTIONS[option].commands, (command, option)
