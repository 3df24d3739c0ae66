"""The course's first network, one hidden layer: initialize_parameters(n_x, n_h, n_y), forward_propagation(X,
parameters) -> (A2, cache) with a cache dict, compute_cost(A2, Y), backward_propagation(parameters, cache, X, Y)
-> grads (its own argument order), update_parameters(parameters, grads, learning_rate=1.2); tanh hidden, a
sigmoid output unit, the batch as columns, and the 1/m in every dW and db."""

import numpy as np


def initialize_parameters(n_x, n_h, n_y):
    rng = np.random.default_rng(2)
    return {"W1": rng.standard_normal((n_h, n_x)) * 0.01, "b1": np.zeros((n_h, 1)),
            "W2": rng.standard_normal((n_y, n_h)) * 0.01, "b2": np.zeros((n_y, 1))}


def forward_propagation(X, parameters):
    Z1 = parameters["W1"] @ X + parameters["b1"]
    A1 = np.tanh(Z1)
    Z2 = parameters["W2"] @ A1 + parameters["b2"]
    A2 = 1 / (1 + np.exp(-Z2))
    return A2, {"Z1": Z1, "A1": A1, "Z2": Z2, "A2": A2}


def compute_cost(A2, Y):
    m = Y.shape[1]
    return float(-np.sum(Y * np.log(A2) + (1 - Y) * np.log(1 - A2)) / m)


def backward_propagation(parameters, cache, X, Y):
    m = X.shape[1]
    dZ2 = cache["A2"] - Y
    dW2 = dZ2 @ cache["A1"].T / m
    db2 = np.sum(dZ2, axis=1, keepdims=True) / m
    dZ1 = parameters["W2"].T @ dZ2 * tanh_derivative(cache["A1"])
    dW1 = dZ1 @ X.T / m
    db1 = np.sum(dZ1, axis=1, keepdims=True) / m
    return {"dW1": dW1, "db1": db1, "dW2": dW2, "db2": db2}


def tanh_derivative(A1):
    return 1 - np.power(A1, 2)


def update_parameters(parameters, grads, learning_rate=1.2):
    return {key: parameters[key] - learning_rate * grads["d" + key] for key in parameters}


# Mistakes made in this style: each replaces one function of the module ---------------------------

def backward_propagation_without_m(parameters, cache, X, Y):
    dZ2 = cache["A2"] - Y
    dZ1 = parameters["W2"].T @ dZ2 * tanh_derivative(cache["A1"])
    return {"dW1": dZ1 @ X.T, "db1": np.sum(dZ1, axis=1, keepdims=True),
            "dW2": dZ2 @ cache["A1"].T, "db2": np.sum(dZ2, axis=1, keepdims=True)}


def tanh_derivative_unsquared(A1):
    return 1 - A1


def backward_propagation_db_unsummed(parameters, cache, X, Y):
    grads = backward_propagation(parameters, cache, X, Y)
    grads["db2"] = np.mean(cache["A2"] - Y, axis=1, keepdims=True) / X.shape[1]
    return grads


# name: (the function replaced, its replacement, the first part that fails, the signature named there)
MUTANTS = {
    "missing 1/m": ("backward_propagation", backward_propagation_without_m, "layer 1", "batch size too big"),
    "tanh derivative unsquared": ("tanh_derivative", tanh_derivative_unsquared, "layer 0", None),
    "db2 divided by m twice": ("backward_propagation", backward_propagation_db_unsummed, "layer 1",
                               "bias gradient averaged"),
}
