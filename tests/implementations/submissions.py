"""Submissions as reference.grading.folder and compare.py --implementation take them: the source of one of
these implementations, followed by a build(sizes, activations, lr, seed) in its own style
(reference.adapters.loader's contract). write(folder, name, style, changes) writes one; changes are
lines of Python put between the implementation and build, e.g. "ReLU = ReLUOpenAtZero" to make the
submission one of the style's MUTANTS, or anything a student might write."""

import importlib
import inspect
from pathlib import Path

BUILDS = {
    "textbook": '''
def build(sizes, activations, lr, seed):
    kinds = {"sigmoid": Sigmoid, "relu": ReLU}
    rng = np.random.default_rng(seed)
    layers = [Linear(sizes[0], sizes[1], lr, rng)]
    for name, fan_in, fan_out in zip(activations, sizes[1:], sizes[2:]):
        layers += [kinds[name](), Linear(fan_in, fan_out, lr, rng)]
    return layers, CrossEntropy()
''',
    "functional": '''
def build(sizes, activations, seed):
    pairs = {"sigmoid": (sigmoid_forward, sigmoid_backward), "relu": (relu_forward, relu_backward)}
    rng = np.random.default_rng(seed)
    layers = []
    for i, (fan_in, fan_out) in enumerate(zip(sizes, sizes[1:])):
        if i:
            layers.append(pairs[activations[i - 1]])
        w, b = 0.1 * rng.standard_normal((fan_in, fan_out)), np.zeros(fan_out)
        layers.append((affine_forward, affine_backward, w, b))
    return layers, softmax_loss
''',
    "columns": '''
def build(sizes, activations, seed):
    kinds = {"sigmoid": Sigmoid}
    rng = np.random.default_rng(seed)
    layers = [FullyConnected(sizes[0], sizes[1], rng)]
    for name, fan_in, fan_out in zip(activations, sizes[1:], sizes[2:]):
        layers += [kinds[name](), FullyConnected(fan_in, fan_out, rng)]
    return layers, SoftmaxCrossEntropy()
''',
}


def source(style: str, changes: str = "") -> str:
    """The implementation's source, the changes, and build."""
    module = importlib.import_module(f"implementations.{style}")
    return f"{inspect.getsource(module)}\n{changes}\n{BUILDS[style]}"


def write(folder: Path, name: str, style: str, changes: str = "") -> Path:
    path = Path(folder) / name
    path.write_text(source(style, changes))
    return path
