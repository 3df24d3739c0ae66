"""The deep-learning course style: the batch as columns X (features, m), W (n_l, n_{l-1}), b (n_l, 1),
a network as module functions over a parameters dict, ReLU hidden layers and a sigmoid output unit,
binary cross-entropy averaged over the m examples (the 1/m is in linear_backward, not in dAL)."""

import numpy as np


def initialize_parameters_deep(layer_dims):
    rng = np.random.default_rng(1)
    parameters = {}
    for l in range(1, len(layer_dims)):
        parameters["W" + str(l)] = rng.standard_normal((layer_dims[l], layer_dims[l - 1])) * 0.01
        parameters["b" + str(l)] = np.zeros((layer_dims[l], 1))
    return parameters


def sigmoid(Z):
    return 1 / (1 + np.exp(-Z)), Z


def relu(Z):
    return np.maximum(0, Z), Z


def sigmoid_backward(dA, cache):
    s = 1 / (1 + np.exp(-cache))
    return dA * s * (1 - s)


def relu_backward(dA, cache):
    dZ = np.array(dA, copy=True)
    dZ[cache <= 0] = 0
    return dZ


def linear_forward(A, W, b):
    return W @ A + b, (A, W, b)


def linear_activation_forward(A_prev, W, b, activation):
    Z, linear_cache = linear_forward(A_prev, W, b)
    A, activation_cache = sigmoid(Z) if activation == "sigmoid" else relu(Z)
    return A, (linear_cache, activation_cache)


def L_model_forward(X, parameters):
    caches, A = [], X
    L = len(parameters) // 2
    for l in range(1, L):
        A, cache = linear_activation_forward(A, parameters["W" + str(l)], parameters["b" + str(l)], "relu")
        caches.append(cache)
    AL, cache = linear_activation_forward(A, parameters["W" + str(L)], parameters["b" + str(L)], "sigmoid")
    caches.append(cache)
    return AL, caches


def compute_cost(AL, Y):
    m = Y.shape[1]
    cost = -np.sum(Y * np.log(AL) + (1 - Y) * np.log(1 - AL)) / m
    return np.squeeze(cost)


def linear_backward(dZ, cache):
    A_prev, W, b = cache
    m = A_prev.shape[1]
    dW = dZ @ A_prev.T / m
    db = np.sum(dZ, axis=1, keepdims=True) / m
    dA_prev = W.T @ dZ
    return dA_prev, dW, db


def linear_activation_backward(dA, cache, activation):
    linear_cache, activation_cache = cache
    dZ = sigmoid_backward(dA, activation_cache) if activation == "sigmoid" else relu_backward(dA, activation_cache)
    return linear_backward(dZ, linear_cache)


def L_model_backward(AL, Y, caches):
    grads = {}
    L = len(caches)
    Y = Y.reshape(AL.shape)
    dAL = -(np.divide(Y, AL) - np.divide(1 - Y, 1 - AL))
    grads["dA" + str(L - 1)], grads["dW" + str(L)], grads["db" + str(L)] = \
        linear_activation_backward(dAL, caches[L - 1], "sigmoid")
    for l in reversed(range(L - 1)):
        dA_prev, dW, db = linear_activation_backward(grads["dA" + str(l + 1)], caches[l], "relu")
        grads["dA" + str(l)], grads["dW" + str(l + 1)], grads["db" + str(l + 1)] = dA_prev, dW, db
    return grads


def update_parameters(parameters, grads, learning_rate):
    parameters = {key: value.copy() for key, value in parameters.items()}
    for l in range(1, len(parameters) // 2 + 1):
        parameters["W" + str(l)] -= learning_rate * grads["dW" + str(l)]
        parameters["b" + str(l)] -= learning_rate * grads["db" + str(l)]
    return parameters


# Mistakes made in this style: each replaces one function of the module -------------------------

def linear_backward_without_m(dZ, cache):
    A_prev, W, b = cache
    return W.T @ dZ, dZ @ A_prev.T, np.sum(dZ, axis=1, keepdims=True)


def linear_backward_transposed(dZ, cache):
    A_prev, W, b = cache
    m = A_prev.shape[1]
    return W.T @ dZ, A_prev @ dZ.T / m, np.sum(dZ, axis=1, keepdims=True) / m


def linear_backward_bias_unsummed_mean(dZ, cache):
    dA_prev, dW, _ = linear_backward(dZ, cache)
    return dA_prev, dW, np.mean(dZ, axis=1, keepdims=True) / dZ.shape[1]


def update_parameters_ascent(parameters, grads, learning_rate):
    parameters = {key: value.copy() for key, value in parameters.items()}
    for l in range(1, len(parameters) // 2 + 1):
        parameters["W" + str(l)] += learning_rate * grads["dW" + str(l)]
        parameters["b" + str(l)] += learning_rate * grads["db" + str(l)]
    return parameters


# name: (the function replaced, its replacement, the first part that fails, the signature named there)
MUTANTS = {
    "missing 1/m": ("linear_backward", linear_backward_without_m, "layer 2", "batch size too big"),
    "transposed dW": ("linear_backward", linear_backward_transposed, "layer 2", "transposed weight gradient"),
    "db divided by m twice": ("linear_backward", linear_backward_bias_unsummed_mean, "layer 2",
                              "bias gradient averaged"),
    "update climbs": ("update_parameters", update_parameters_ascent, "optimizer", "update climbs the gradient"),
}
