import subprocess
import sys

import pytest

from rnn_apps.errors import UserError
from rnn_apps.models import TASKS, get_task


@pytest.mark.parametrize("name", list(TASKS))
def test_every_registered_task_resolves_to_its_record(name):
    task = get_task(name)
    assert task.name == name and task.shape == TASKS[name].shape
    assert "tiny" in task.presets


def test_unknown_task_lists_tasks():
    with pytest.raises(UserError, match="unknown task 'nope'; tasks: sentiment"):
        get_task("nope")


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
