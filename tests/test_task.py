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


def test_run_inference_is_the_eager_model_follows_new_weights_and_lets_the_model_go():
    """The graph kept per model (from its second call) answers what the eager call answers, on
    new shapes too; after the weights change it answers with the new ones; it does not keep a
    dropped model alive."""
    import gc
    import weakref

    import keras
    import numpy as np

    from rnn_apps.task import model_graph, run_inference

    inputs = keras.Input((None,), dtype="int32", name="tokens")
    hidden = keras.layers.GRU(8)(keras.layers.Embedding(20, 4, mask_zero=True)(inputs))
    model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(hidden))
    rng = np.random.default_rng(0)
    for shape in [(2, 5), (7, 3), (1, 9)]:
        tokens = rng.integers(0, 20, shape).astype("int32")
        np.testing.assert_allclose(run_inference(model, {"tokens": tokens}).numpy(),
                                   model(tokens, training=False).numpy(), rtol=1e-5, atol=1e-6)
    assert model_graph(model, "inference", None).graph is not None  # the later calls ran in the graph
    before = run_inference(model, {"tokens": tokens}).numpy()
    model.set_weights([w * 2 + 0.1 for w in model.get_weights()])
    after = run_inference(model, {"tokens": tokens}).numpy()
    assert np.abs(after - before).max() > 1e-3
    np.testing.assert_allclose(after, model(tokens, training=False).numpy(), rtol=1e-5, atol=1e-6)
    held = weakref.ref(model)
    del model
    gc.collect()
    assert held() is None
