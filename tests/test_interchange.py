"""state_dict, load_state_dict and grad_dict speak PyTorch's language exactly.

These tests drive torch the way an outside harness would: a torch.nn.Sequential built by hand,
weights loaded with torch's own load_state_dict(strict=True), results checked with
torch.testing. None of the project's comparison machinery is used here.
"""

import numpy as np
import pytest
import torch
from torch import nn

from reference.twin import assert_same_weights, torch_dtype
from scratch_nn import SGD, SoftmaxCrossEntropy, build_network


def hand_built(dtype):
    return nn.Sequential(nn.Linear(784, 48), nn.ReLU(), nn.Linear(48, 24), nn.Sigmoid(), nn.Linear(24, 10)).to(dtype)


def loaded_pair(dtype):
    network = build_network("784-48-24-10", "relu,sigmoid", init="torch", seed=5, dtype=dtype)
    model = hand_built(torch_dtype(dtype))
    model.load_state_dict({k: torch.from_numpy(v) for k, v in network.state_dict().items()}, strict=True)
    return network, model


def test_state_dict_has_torchs_keys_shapes_dtypes_and_order(dtype):
    network = build_network("784-48-24-10", "relu,sigmoid", dtype=dtype)
    ours, theirs = network.state_dict(), hand_built(torch_dtype(dtype)).state_dict()
    assert list(ours) == list(theirs) == ["0.weight", "0.bias", "2.weight", "2.bias", "4.weight", "4.bias"]
    for key in ours:
        assert ours[key].shape == tuple(theirs[key].shape), key
        assert torch.from_numpy(ours[key]).dtype == theirs[key].dtype
        assert ours[key].flags.c_contiguous


def test_weights_cross_bit_for_bit_both_ways(dtype):
    network, model = loaded_pair(dtype)
    assert_same_weights(network, model)
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(0.5)
    network.load_state_dict(model.state_dict())  # torch tensors straight in
    assert_same_weights(network, model)


def test_bit_for_bit_check_sees_one_ulp():
    network, model = loaded_pair(np.float64)
    with torch.no_grad():
        model[2].bias[0] = np.nextafter(model[2].bias[0].item(), np.inf)
    with pytest.raises(AssertionError, match="2.bias: the weights on the two sides are not bit-for-bit equal"):
        assert_same_weights(network, model)


def test_forward_and_grad_dict_match_a_hand_driven_torch_model(dtype):
    network, model = loaded_pair(dtype)
    rng = np.random.default_rng(0)
    x, y = rng.random((32, 784)).astype(dtype), rng.integers(0, 10, 32)
    loss = SoftmaxCrossEntropy()
    out = network.forward(x)
    loss.forward(out, y)
    network.backward(loss.backward())
    torch_out = model(torch.from_numpy(x))
    nn.functional.cross_entropy(torch_out, torch.from_numpy(y)).backward()
    # torch.testing's defaults for the dtype, on the raw numbers; the logits here are O(1)
    torch.testing.assert_close(torch.from_numpy(out), torch_out)
    grads = network.grad_dict()
    assert list(grads) == [name for name, _ in model.named_parameters()]
    for name, p in model.named_parameters():
        torch.testing.assert_close(torch.from_numpy(grads[name]), p.grad, msg=lambda m, name=name: f"{name}: {m}")


def test_50_sgd_steps_match_torch_optim_sgd(dtype):
    network, model = loaded_pair(dtype)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    sgd, loss = SGD(network, lr=0.1), SoftmaxCrossEntropy()
    rng = np.random.default_rng(1)
    for step in range(50):
        x, y = rng.random((16, 784)).astype(dtype), rng.integers(0, 10, 16)
        loss.forward(network.forward(x), y)
        network.backward(loss.backward())
        sgd.step()
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(torch.from_numpy(x)), torch.from_numpy(y)).backward()
        optimizer.step()
        for name, value in model.state_dict().items():
            torch.testing.assert_close(torch.from_numpy(network.state_dict()[name]), value,
                                       msg=lambda m, name=name, step=step: f"step {step}, {name}: {m}")


@pytest.mark.parametrize("change,words", [
    (lambda s: s.pop("2.bias"), "missing key '2.bias'"),
    (lambda s: s.update({"5.weight": np.ones(3)}), "unexpected key '5.weight'"),
    (lambda s: s.update({"0.weight": s["0.weight"].T.copy()}),
     r"'0.weight' has shape \(784, 48\), expected \(48, 784\) \(transposed"),
    (lambda s: s.update({"2.weight": s["2.weight"].astype(np.float32)}), "'2.weight' is float32, expected float64"),
    (lambda s: s["4.bias"].__setitem__(0, np.nan), "'4.bias' contains NaN or Inf"),
])
def test_load_state_dict_says_what_does_not_fit_and_loads_nothing(change, words):
    network = build_network("784-48-24-10", "relu,sigmoid")
    before = network.state_dict()
    state = network.state_dict()
    state["0.bias"] += 1  # a valid change that must not be applied when anything else is wrong
    change(state)
    with pytest.raises(ValueError, match=words):
        network.load_state_dict(state)
    for key, value in network.state_dict().items():
        np.testing.assert_array_equal(value, before[key])


def test_grad_dict_before_backward_says_what_to_do():
    with pytest.raises(RuntimeError, match="run forward, the loss and backward first"):
        build_network("4-3-2").grad_dict()


def test_state_dict_returns_copies():
    network = build_network("4-3-2")
    network.state_dict()["0.weight"][...] = 0
    assert network.state_dict()["0.weight"].any()
