"""One training epoch of each side, written the way reference/training/run.py trains them, for the
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

    run.network = network
    return run


def bare_numpy_side(dtype):
    """An epoch function for the same network written as bare NumPy calls, with no layers, checks or
    optimizer objects: the same formulas as scratch_nn's (one-exp sigmoid, log-softmax cross-entropy,
    SGD), from the same weights, so that it trains to the same bits (tests/test_benchmarks.py).
    Not a second implementation to use: the floor below which no NumPy network trains, against
    which scratch_nn's own cost is read."""
    network = build_network(SPEC, "sigmoid", init="torch", dtype=np.dtype(dtype))
    (w1, b1), (w2, b2) = (tuple(layer.params.values()) for layer in network.layers[::2])

    def run(images, labels, batches):
        for index in batches:
            x, n = images[index], len(index)
            h = x @ w1.T
            h += b1
            e = np.exp(-np.abs(h))
            s = np.maximum(e, h >= 0) / (e + 1)
            z = s @ w2.T
            z += b2
            log_p = z - z.max(axis=1, keepdims=True)
            log_p -= np.log(np.exp(log_p).sum(axis=1, keepdims=True))
            rows = np.arange(n)
            float(-log_p[rows, labels[index]].sum() / n)
            dz = np.exp(log_p)
            dz[rows, labels[index]] -= 1
            dz /= n
            dh = dz @ w2
            dh *= 1 - s
            dh *= s
            grads = ((w1, dh.T @ x), (b1, dh.sum(axis=0)), (w2, dz.T @ s), (b2, dz.sum(axis=0)))
            for param, grad in grads:
                param -= LR * grad

    run.network = network  # whose parameters w1, b1, w2, b2 are
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


SIDES = {"scratch": scratch_side, "torch": torch_side}  # bare_numpy_side is a yardstick, not a side
