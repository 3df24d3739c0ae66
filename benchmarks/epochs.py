"""One training epoch of each side, written the way reference/training.py trains them, for the
benchmarks: synthetic data of MNIST's shape (the speed does not depend on the pixel values),
784-128-10 sigmoid, softmax cross-entropy, SGD, the examples in a shuffled order.

torch is imported inside the torch side's functions only, so that a process measuring the
scratch side's memory never loads it.
"""

import numpy as np

from scratch_nn import SGD, SoftmaxCrossEntropy, build_network

SPEC = "784-128-10"
LR = 0.1


def synthetic_mnist(examples: int, dtype, seed=0):
    """Images in [0, 1) of shape (examples, 784) and labels 0..9."""
    rng = np.random.default_rng(seed)
    return rng.random((examples, 784), dtype=np.dtype(dtype).type), rng.integers(0, 10, examples)


def epoch_order(examples: int, batch: int, seed=0):
    """The index arrays of one epoch's batches, as the training loop draws them."""
    order = np.random.default_rng(seed).permutation(examples)
    return [order[i:i + batch] for i in range(0, examples, batch)]


def scratch_side(dtype, read_only_batches=True):
    """An epoch function for a fresh scratch network: run(images, labels, batches).

    read_only_batches: mark each batch read-only, so that the first layer keeps it as it is
    rather than a copy it can trust (scratch_nn/layers.py); False measures that copy's cost.
    """
    network = build_network(SPEC, "sigmoid", init="torch", dtype=np.dtype(dtype))
    loss, optimizer = SoftmaxCrossEntropy(), SGD(network, LR)

    def run(images, labels, batches):
        for index in batches:
            x = images[index]
            x.flags.writeable = not read_only_batches
            float(loss.forward(network.forward(x), labels[index]))
            network.backward(loss.backward(), input_grad=False)
            optimizer.step()

    return run


def torch_side(dtype):
    """An epoch function for a fresh torch twin of the same network, on the CPU."""
    import torch

    from reference.twin import configure_determinism, torch_model

    configure_determinism()
    model = torch_model(build_network(SPEC, "sigmoid", init="torch", dtype=np.dtype(dtype)))
    loss, optimizer = torch.nn.CrossEntropyLoss(), torch.optim.SGD(model.parameters(), lr=LR)

    def run(images, labels, batches):
        images_t, labels_t = torch.from_numpy(images), torch.from_numpy(labels)  # shared, not copied
        for index in batches:
            index_t = torch.from_numpy(index)
            optimizer.zero_grad(set_to_none=True)
            value = loss(model(images_t[index_t]), labels_t[index_t])
            value.backward()
            optimizer.step()
            value.item()

    return run


SIDES = {"scratch": scratch_side, "torch": torch_side}
