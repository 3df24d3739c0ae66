"""Michael Nielsen's network.py ("Neural Networks and Deep Learning", chapter 1), as the book writes
it: one example at a time as a column vector (784, 1), weights[l] stored (out, in), biases[l] a
column (out, 1), sigmoid everywhere including the output, the quadratic cost C = ||a - y||^2 / 2
of one example, backprop(x, y) returning (nabla_b, nabla_w) and update_mini_batch averaging them.
The mutants below are mistakes people make in this code, each a subclass changing one method."""

import random

import numpy as np


class Network:

    def __init__(self, sizes):
        self.num_layers = len(sizes)
        self.sizes = sizes
        self.biases = [np.random.randn(y, 1) for y in sizes[1:]]
        self.weights = [np.random.randn(y, x) for x, y in zip(sizes[:-1], sizes[1:])]

    def feedforward(self, a):
        """Return the output of the network if ``a`` is input."""
        for b, w in zip(self.biases, self.weights):
            a = sigmoid(np.dot(w, a) + b)
        return a

    def SGD(self, training_data, epochs, mini_batch_size, eta, test_data=None):
        for j in range(epochs):
            random.shuffle(training_data)
            mini_batches = [training_data[k:k + mini_batch_size] for k in range(0, len(training_data), mini_batch_size)]
            for mini_batch in mini_batches:
                self.update_mini_batch(mini_batch, eta)

    def update_mini_batch(self, mini_batch, eta):
        nabla_b = [np.zeros(b.shape) for b in self.biases]
        nabla_w = [np.zeros(w.shape) for w in self.weights]
        for x, y in mini_batch:
            delta_nabla_b, delta_nabla_w = self.backprop(x, y)
            nabla_b = [nb + dnb for nb, dnb in zip(nabla_b, delta_nabla_b)]
            nabla_w = [nw + dnw for nw, dnw in zip(nabla_w, delta_nabla_w)]
        self.weights = [w - (eta / len(mini_batch)) * nw for w, nw in zip(self.weights, nabla_w)]
        self.biases = [b - (eta / len(mini_batch)) * nb for b, nb in zip(self.biases, nabla_b)]

    def backprop(self, x, y):
        nabla_b = [np.zeros(b.shape) for b in self.biases]
        nabla_w = [np.zeros(w.shape) for w in self.weights]
        activation = x
        activations = [x]
        zs = []
        for b, w in zip(self.biases, self.weights):
            z = np.dot(w, activation) + b
            zs.append(z)
            activation = sigmoid(z)
            activations.append(activation)
        delta = self.cost_derivative(activations[-1], y) * sigmoid_prime(zs[-1])
        nabla_b[-1] = delta
        nabla_w[-1] = np.dot(delta, activations[-2].transpose())
        for l in range(2, self.num_layers):
            z = zs[-l]
            sp = sigmoid_prime(z)
            delta = np.dot(self.weights[-l + 1].transpose(), delta) * sp
            nabla_b[-l] = delta
            nabla_w[-l] = np.dot(delta, activations[-l - 1].transpose())
        return (nabla_b, nabla_w)

    def evaluate(self, test_data):
        test_results = [(np.argmax(self.feedforward(x)), y) for (x, y) in test_data]
        return sum(int(x == y) for (x, y) in test_results)

    def cost_derivative(self, output_activations, y):
        return (output_activations - y)


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def sigmoid_prime(z):
    return sigmoid(z) * (1 - sigmoid(z))


# Mistakes made in this style -----------------------------------------------------------------

class DerivativeAtActivation(Network):
    """sigmoid_prime applied to the activations a = sigmoid(z) instead of to z, at every layer."""

    def backprop(self, x, y):
        nabla_b, nabla_w = [None] * len(self.biases), [None] * len(self.weights)
        activations, zs = [x], []
        for b, w in zip(self.biases, self.weights):
            zs.append(np.dot(w, activations[-1]) + b)
            activations.append(sigmoid(zs[-1]))
        delta = self.cost_derivative(activations[-1], y) * sigmoid_prime(activations[-1])
        nabla_b[-1], nabla_w[-1] = delta, np.dot(delta, activations[-2].transpose())
        for l in range(2, self.num_layers):
            delta = np.dot(self.weights[-l + 1].transpose(), delta) * sigmoid_prime(activations[-l])
            nabla_b[-l], nabla_w[-l] = delta, np.dot(delta, activations[-l - 1].transpose())
        return (nabla_b, nabla_w)


class OutputDeltaWithoutDerivative(Network):
    """The output delta is a - y, cross-entropy's (network2.py), while the cost is quadratic."""

    def backprop(self, x, y):
        nabla_b, nabla_w = [None] * len(self.biases), [None] * len(self.weights)
        activations, zs = [x], []
        for b, w in zip(self.biases, self.weights):
            zs.append(np.dot(w, activations[-1]) + b)
            activations.append(sigmoid(zs[-1]))
        delta = self.cost_derivative(activations[-1], y)
        nabla_b[-1], nabla_w[-1] = delta, np.dot(delta, activations[-2].transpose())
        for l in range(2, self.num_layers):
            delta = np.dot(self.weights[-l + 1].transpose(), delta) * sigmoid_prime(zs[-l])
            nabla_b[-l], nabla_w[-l] = delta, np.dot(delta, activations[-l - 1].transpose())
        return (nabla_b, nabla_w)


class ActivationIndexOffByOne(Network):
    """Off by one in the backward loop: nabla_w[-l] takes the layer's own activation, activations[-l],
    where its input, activations[-l - 1], belongs."""

    def backprop(self, x, y):
        nabla_b, nabla_w = [None] * len(self.biases), [None] * len(self.weights)
        activations, zs = [x], []
        for b, w in zip(self.biases, self.weights):
            zs.append(np.dot(w, activations[-1]) + b)
            activations.append(sigmoid(zs[-1]))
        delta = self.cost_derivative(activations[-1], y) * sigmoid_prime(zs[-1])
        nabla_b[-1], nabla_w[-1] = delta, np.dot(delta, activations[-2].transpose())
        for l in range(2, self.num_layers):
            delta = np.dot(self.weights[-l + 1].transpose(), delta) * sigmoid_prime(zs[-l])
            nabla_b[-l], nabla_w[-l] = delta, np.dot(delta, activations[-l].transpose())
        return (nabla_b, nabla_w)


class UpdateWithoutAveraging(Network):
    """update_mini_batch steps by eta times the sum of the examples' gradients, not their mean."""

    def update_mini_batch(self, mini_batch, eta):
        nabla_b = [np.zeros(b.shape) for b in self.biases]
        nabla_w = [np.zeros(w.shape) for w in self.weights]
        for x, y in mini_batch:
            delta_nabla_b, delta_nabla_w = self.backprop(x, y)
            nabla_b = [nb + dnb for nb, dnb in zip(nabla_b, delta_nabla_b)]
            nabla_w = [nw + dnw for nw, dnw in zip(nabla_w, delta_nabla_w)]
        self.weights = [w - eta * nw for w, nw in zip(self.weights, nabla_w)]
        self.biases = [b - eta * nb for b, nb in zip(self.biases, nabla_b)]
