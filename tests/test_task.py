"""The task contracts in rnn_apps/task.py are what the kinds implement: every registered
task's input and output kinds have every member their protocol names (sequence inputs the
sequence members too), so a newcomer can write a kind from the protocol alone."""
import inspect

import pytest

from rnn_apps.models import TASKS, get_task
from rnn_apps.task import Input, Output

SEQUENCE_ONLY = {"static_length", "lengths", "step_mask"}


def members(protocol) -> set[str]:
    names = {name for name, _ in inspect.getmembers(protocol) if not name.startswith("_")}
    return names | set(getattr(protocol, "__annotations__", {}))


@pytest.mark.parametrize("task", list(TASKS))
def test_every_kind_has_what_its_protocol_names(task):
    record = get_task(task)
    cfg = record.config_class()
    for name, kind in record.inputs(cfg).items():
        wanted = members(Input) - (set() if getattr(kind, "sequence", False) else SEQUENCE_ONLY)
        missing = sorted(m for m in wanted if not hasattr(kind, m))
        assert not missing, f"{task}: input {name} ({type(kind).__name__}) lacks {missing}"
    output = record.output(cfg)
    missing = sorted(m for m in members(Output) if not hasattr(output, m))
    assert not missing, f"{task}: output {type(output).__name__} lacks {missing}"


def test_the_protocols_name_what_the_machinery_calls():
    assert {"step_mask", "raw_specs", "tensor_specs", "from_raw", "batch", "prepare"} <= members(Input)
    assert {"dataset", "signatures", "signature_inputs", "settings", "predict_options"} <= members(Output)

