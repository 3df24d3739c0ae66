"""A checkpoint is checked whole before any data loads (reference.training.checkpoint_check): each
damage below is one line naming the field, exit 2, and the data is never asked for."""

import json

import numpy as np
import pytest

from reference.cli import main as cli
from reference.cli import train as train_cli
from reference.training import checkpoint
from reference.training.data import Dataset, Split

RUN = ["--spec", "784-8-10", "--no-progress", "--concurrency", "sequential", "--optimizer", "momentum",
       "--dtype", "float64"]


@pytest.fixture(scope="module")
def saved(tmp_path_factory, synthetic_module):
    """A run of 2 epochs saved; its members, to damage one at a time."""
    path = tmp_path_factory.mktemp("saved") / "run.npz"
    patch = pytest.MonkeyPatch()
    patch.setattr(train_cli, "load_dataset", lambda name, root, dtype, download: synthetic_module(dtype=dtype))
    try:
        assert cli.main([*RUN, "--epochs", "2", "--save", str(path)]) == train_cli.EXIT_AGREE
    finally:
        patch.undo()
    with np.load(path, allow_pickle=False) as archive:
        return {name: archive[name] for name in archive.files}


@pytest.fixture(scope="module")
def synthetic_module():
    """Tiny random data, at module scope (the conftest's `synthetic` is per test)."""
    def make(dtype):
        rng = np.random.default_rng(0)
        return Dataset("synthetic", *(Split(rng.random((n, 784)).astype(dtype), rng.integers(0, 10, n))
                                      for n in (64, 32, 32)))
    return make


def text(value) -> np.ndarray:
    return np.array(json.dumps(value))


def edited(members, **changes) -> dict:
    """The members with some replaced (None: removed) and the checksum made again, so that the check
    of the field itself is what must refuse them."""
    members = {**members}
    for name, value in changes.items():
        name = name.replace("__", "/")
        if value is None:
            members.pop(name)
        else:
            members[name] = value
    members["checksum"] = np.array(checkpoint.checksum(members))
    return members


def loaded(members, key):
    return json.loads(str(members[key]))


DAMAGE = {
    "missing config": (lambda m: edited(m, config=None), "config: missing"),
    "config not JSON": (lambda m: edited(m, config=np.array("{spec: 784")), "config: not valid JSON"),
    "config a number": (lambda m: edited(m, config=np.array(3.0)), "config: is float64(), expected JSON text"),
    "bad setting": (lambda m: edited(m, config=text({**loaded(m, "config"), "lr": -1})), "config: --lr -1"),
    "epoch a string": (lambda m: edited(m, epoch=text("2")), "epoch: '2', expected a whole number"),
    "negative epoch": (lambda m: edited(m, epoch=text(-5)), "epoch: -5, expected a whole number"),
    "epoch beyond records": (lambda m: edited(m, epoch=text(3)), "records: 2 epoch record(s), but epoch says 3"),
    "record missing a field": (lambda m: edited(m, records=text([{k: v for k, v in r.items() if k != "divergence"}
                                                                 for r in loaded(m, "records")])),
                               "records[0]: missing ['divergence']"),
    "record of wrong type": (lambda m: edited(m, records=text([{**r, "torch": {**r["torch"], "train_loss": "low"}}
                                                               for r in loaded(m, "records")])),
                             "records[0].torch.train_loss: 'low', expected float"),
    "records out of order": (lambda m: edited(m, records=text(loaded(m, "records")[::-1])), "records[0].epoch: 2"),
    "object array": (lambda m: edited(m, **{"torch__0.bias": np.array([None, 1], dtype=object)}),
                     "cannot be read"),
    "NaN on one side": (lambda m: edited(m, **{"torch__0.weight": np.full_like(m["torch/0.weight"], np.nan)}),
                        "torch/0.weight: holds NaN or Inf"),
    "one side scaled": (lambda m: edited(m, **{"torch__0.weight": m["torch/0.weight"] * 1.5}),
                        "torch/0.weight: differs from the scratch side's by up to"),
    "wrong dtype": (lambda m: edited(m, **{"scratch__0.weight": m["scratch/0.weight"].astype(np.float32)}),
                    "scratch/0.weight: is float32, the run's --dtype is float64"),
    "wrong shape": (lambda m: edited(m, **{"torch__0.bias": m["torch/0.bias"][:4]}), "torch/0.bias: has shape (4,)"),
    "bad param_groups": (lambda m: edited(m, optimizers=text({**loaded(m, "optimizers"), "scratch": {
        **loaded(m, "optimizers")["scratch"], "param_groups": [{"lr": "fast"}]}})), "optimizers.scratch:"),
    "other momentum": (lambda m: edited(m, optimizers=text({**loaded(m, "optimizers"), "torch": {
        **loaded(m, "optimizers")["torch"], "param_groups": [{**loaded(m, "optimizers")["torch"]["param_groups"][0],
                                                             "momentum": 0.5}]}})), "optimizers.torch.param_groups"),
    "bad shuffler": (lambda m: edited(m, shuffler=text({"bit_generator": "MT19937"})), "shuffler:"),
    "changed after saving": (lambda m: {**m, "scratch/0.bias": m["scratch/0.bias"] + 1e-3},
                             "checksum: does not match the contents"),
    "no checksum": (lambda m: {name: value for name, value in m.items() if name != "checksum"}, "checksum: missing"),
}


@pytest.mark.parametrize("damage", DAMAGE)
def test_a_damaged_checkpoint_is_refused_naming_the_field(damage, saved, tmp_path, monkeypatch, capsys):
    make, expected = DAMAGE[damage]
    path = tmp_path / "damaged.npz"
    np.savez(path, **make(saved))  # np.savez pickles object arrays: what a hostile file could hold

    def no_data(*args):
        raise AssertionError("the data was loaded for a checkpoint that cannot be continued")

    monkeypatch.setattr(train_cli, "load_dataset", no_data)
    assert cli.main([*RUN, "--epochs", "4", "--resume", str(path)]) == train_cli.EXIT_BAD_INPUT
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and error.startswith(f"compare.py train: error: --resume '{path}': "), error
    assert expected in error


def test_a_truncated_checkpoint_is_refused(saved, tmp_path, monkeypatch, capsys):
    path = tmp_path / "whole.npz"
    np.savez(path, **saved)
    path.write_bytes(path.read_bytes()[:len(path.read_bytes()) // 2])
    assert cli.main([*RUN, "--epochs", "4", "--resume", str(path)]) == train_cli.EXIT_BAD_INPUT
    assert "cannot be read" in capsys.readouterr().err


def test_a_checkpoint_written_before_the_checksum_is_continued(saved, tmp_path, monkeypatch, synthetic_module, capsys):
    path = tmp_path / "old.npz"
    old = {name: value for name, value in saved.items() if name != "checksum"}
    np.savez(path, **{**old, "format": text("scratch-nn checkpoint 2")})
    monkeypatch.setattr(train_cli, "load_dataset", lambda name, root, dtype, download: synthetic_module(dtype=dtype))
    assert cli.main([*RUN, "--epochs", "3", "--resume", str(path)]) == train_cli.EXIT_AGREE
