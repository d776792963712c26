import numpy as np
import tensorflow as tf

from rnn_apps.data.pipeline import batch_dataset, bucket_boundaries, vectorized_dataset


def make_ds(lengths):
    seqs = [list(range(1, n + 1)) for n in lengths]
    ragged = tf.ragged.constant(seqs, dtype=tf.int32)
    return vectorized_dataset((ragged, list(range(len(lengths)))), lambda x, y: (x, y))


def padded_fraction(ds):
    pad = total = 0
    for x, _ in ds:
        pad += int(tf.reduce_sum(tf.cast(x == 0, tf.int32)))
        total += int(tf.size(x))
    return pad / total


def test_bucket_boundaries_split_lengths_into_equal_groups():
    lengths = list(range(1, 101))
    bounds = bucket_boundaries(lengths, buckets=4)
    assert bounds == [26, 51, 76]  # bucket i holds lengths < bounds[i]: 25 each
    counts = np.histogram(lengths, bins=[0] + [b - 0.5 for b in bounds] + [1000])[0]
    assert max(counts) - min(counts) <= 2


def test_bucketing_pads_much_less_than_padding_to_max():
    rng = np.random.default_rng(0)
    lengths = list(rng.integers(1, 80, size=2000))
    ds = make_ds(lengths)
    common = dict(batch_size=32, max_length=80, training=True, seed=0, size=len(lengths))
    bucketed = batch_dataset(ds, batching="bucket", boundaries=bucket_boundaries(lengths), **common)
    to_max = batch_dataset(ds, batching="max", **common)
    longest = batch_dataset(ds, batching="longest", **common)
    assert padded_fraction(bucketed) < 0.15 < padded_fraction(longest) < padded_fraction(to_max)
    assert {x.shape[1] for x, _ in to_max} == {80}
    # every example is seen exactly once per pass
    assert sorted(int(v) for _, y in bucketed for v in y) == list(range(2000))


def test_evaluation_batches_keep_example_order():
    ds = batch_dataset(make_ds([5, 1, 9, 2, 7]), batch_size=2, batching="longest", max_length=10,
                       training=False, seed=0, size=5)
    assert [int(v) for _, y in ds for v in y] == [0, 1, 2, 3, 4]
    assert int(ds.cardinality()) == 3


def test_evaluation_batches_of_examples_the_output_leaves_out_have_the_right_count():
    """A label outside ``max_classes`` drops its example; the exact batch count of a
    validation set must count the examples kept (it once counted all, and fit failed)."""
    import dataclasses

    from rnn_apps.data.examples import Examples
    from rnn_apps.data.inputs import text_input
    from rnn_apps.outputs.classification import ClassLabel
    from rnn_apps.task import Features

    @dataclasses.dataclass
    class Cfg:
        batch_size: int = 4
        batching: str = "bucket"
        cache: bool = True
        seed: int = 0

    labels = ["a"] * 6 + ["b"] * 5 + ["c"] * 2  # max_classes 2: the two "c" examples are left out
    examples = Examples({"text": [f"word {i}" for i in range(13)], "label": labels}, [f"f:{i}" for i in range(13)])
    text = text_input("text", "vocab.json", "words", vectorize=True, max_tokens=50, max_length=5).fit(examples["text"])
    features = Features(Cfg(), {"text": text}, ClassLabel(max_classes=2))
    features.output.fit(features, examples)
    batches = list(features.dataset(examples, training=False))
    assert [len(y) for _, y in batches] == [4, 4, 3]


def test_pictures_shared_by_many_examples_are_decoded_and_kept_once(tmp_path):
    """VQA asks many questions about one image: the training pipeline keeps a table of the
    distinct pictures (one row each) and gathers each batch's, so memory grows with the
    pictures; every example still gets its own picture, as decoding it alone gives."""
    import dataclasses

    from PIL import Image

    from rnn_apps.data.examples import Examples
    from rnn_apps.data.vision import ImageInput
    from rnn_apps.outputs.classification import ClassLabel
    from rnn_apps.task import Features

    @dataclasses.dataclass
    class Cfg:
        batch_size: int = 4
        batching: str = "bucket"
        cache: bool = True
        seed: int = 0

    rng = np.random.default_rng(0)
    files = []
    for k in range(3):  # 12 x 10 pictures resized to 8 x 8, and one already 8 x 8 (kept exact)
        files.append(tmp_path / f"{k}.png")
        Image.fromarray(rng.integers(0, 256, (8, 8, 3) if k == 2 else (12, 10, 3), dtype=np.uint8)).save(files[-1])
    order = [k % 3 for k in range(30)]  # 30 examples, 10 per picture
    examples = Examples({"image": [str(files[k]) for k in order], "label": [str(k) for k in order]},
                        [f"qa:{i}" for i in range(30)])
    image = ImageInput("image", size=8)
    indices, table = image.table(examples["image"])
    assert table.shape == (3, 8, 8, 3) and table.dtype == tf.uint8 and list(indices) == order
    alone = [image.encode(tf.constant(str(f))).numpy() for f in files]  # decoded one by one, float
    assert np.abs(table.numpy() / 255 - np.stack(alone)).max() <= 0.5 / 255 + 1e-6  # rounded to uint8
    assert np.abs(table.numpy()[2] / 255 - alone[2]).max() < 1e-6  # no resize: exact
    same = [np.asarray(Image.open(files[2]))] * 4  # arrays: one row per distinct array object
    assert image.table(same + [same[0].copy()])[1].shape[0] == 2

    output = ClassLabel()
    features = Features(Cfg(), {"image": image}, output)
    output.fit(features, examples)
    for training in (True, False):
        seen = []
        for x, y in features.dataset(examples, training=training):
            for picture, label in zip(x["image"].numpy(), y.numpy()):
                k = int(output.labels.labels[label])
                assert np.abs(picture - alone[k]).max() <= 0.5 / 255 + 1e-6
                seen.append(k)
        assert sorted(seen) == sorted(order)


def test_padding_to_max_pads_what_shares_the_steps_and_keeps_picture_shapes(tiny_run):
    """``batching: max`` pads a sequence to ``max_length``: its companions (a clip's mask) and
    per-step targets and weights must be padded the same, and a clip's frame height, width
    and channels stay static (both used to fail: shapes [32, 19] vs [32, 40]; a frame CNN
    on [None, None, None] frames)."""
    import dataclasses

    import rnn_apps
    from rnn_apps.data.splits import load_splits

    for task in ("tag", "video"):
        run = rnn_apps.load_run(tiny_run(task))
        cfg = dataclasses.replace(run.cfg, batching="max", batch_size=8)
        features = dataclasses.replace(run.features, cfg=cfg)
        train = load_splits(run.task, run.cfg, run.meta["data"])["train"]
        key = next(name for name, kind in features.inputs.items() if kind.sequence)
        length = features.inputs[key].static_length
        for inputs, targets, weights in features.dataset(train.take(range(20)), training=True).take(2):
            steps = {name: tensor.shape[1] for name, tensor in inputs.items()}
            assert set(steps.values()) == {length}, (task, steps)
            assert targets.shape[1] == weights.shape[1] == length, task
            if task == "video":
                assert None not in inputs[key].shape[2:] and inputs[key].shape[2:] == run.model.inputs[0].shape[2:]
        run.model(inputs, training=False)  # the model takes such a batch
