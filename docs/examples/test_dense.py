"""A learner's own test of the layer in dense.ipynb (docs/notebooks.md): the notebook's code cells
are loaded as a module, and the layer is checked against torch in one line."""

from pathlib import Path

from reference.adapters.loader import load_module
from reference.asserts import assert_layer_matches_torch

notebook = load_module(Path(__file__).with_name("dense.ipynb"))


def test_dense():
    assert_layer_matches_torch(notebook.DenseBuggy, "linear", in_features=32, out_features=10)
