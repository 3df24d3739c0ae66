"""A Keras-like library: Dense(units) layers built on their first call (kernel (in, out), bias
(units,)), used as kernel; layers called as functions, layer(x), each backward(grad) returning
dL/dx and leaving kernel_grad and bias_grad; a Model holding its layers in a list with its loss,
with predict(x), train_on_batch(x, y) and fit(x, y, epochs, batch_size); the loss Keras's way,
loss(y_true, y_pred), labels first, averaged over the batch, with gradient(y_true, y_pred)."""

import numpy as np


class Dense:
    def __init__(self, units, input_dim=None, seed=None):
        self.units, self.rng = units, np.random.default_rng(seed)
        self.kernel = None
        if input_dim is not None:
            self.build(input_dim)

    def build(self, input_dim):
        limit = np.sqrt(6 / (input_dim + self.units))  # glorot_uniform
        self.kernel = self.rng.uniform(-limit, limit, (input_dim, self.units))
        self.bias = np.zeros(self.units)

    def __call__(self, inputs):
        if self.kernel is None:
            self.build(inputs.shape[-1])
        self.inputs = inputs
        return inputs @ self.kernel + self.bias

    def backward(self, grad):
        self.kernel_grad = self.inputs.T @ grad
        self.bias_grad = grad.sum(axis=0)
        return grad @ self.kernel.T


class ReLU:
    def __call__(self, inputs):
        self.mask = inputs > 0
        return inputs * self.mask

    def backward(self, grad):
        return grad * self.mask


class SparseCategoricalCrossentropy:
    """from_logits=True: the model ends with a linear layer."""

    def __call__(self, y_true, y_pred):
        shifted = y_pred - y_pred.max(axis=-1, keepdims=True)
        log_probs = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
        return -np.mean(log_probs[np.arange(len(y_true)), y_true])

    def gradient(self, y_true, y_pred):
        probs = np.exp(y_pred - y_pred.max(axis=-1, keepdims=True))
        probs /= probs.sum(axis=-1, keepdims=True)
        probs[np.arange(len(y_true)), y_true] -= 1
        return probs / len(y_true)


class Model:
    def __init__(self, layers, loss, learning_rate=0.01):
        self.layers, self.loss, self.learning_rate = list(layers), loss, learning_rate

    def predict(self, x):
        for layer in self.layers:
            x = layer(x)
        return x

    def train_on_batch(self, x, y):
        y_pred = self.predict(x)
        value = self.loss(y, y_pred)
        grad = self.loss.gradient(y, y_pred)
        for layer in reversed(self.layers):
            grad = layer.backward(grad)
        for layer in self.layers:
            if isinstance(layer, Dense):
                layer.kernel -= self.learning_rate * layer.kernel_grad
                layer.bias -= self.learning_rate * layer.bias_grad
        return value

    def fit(self, x, y, epochs=1, batch_size=32):
        history = []
        for _ in range(epochs):
            losses = [self.train_on_batch(x[i:i + batch_size], y[i:i + batch_size])
                      for i in range(0, len(x), batch_size)]
            history.append(float(np.mean(losses)))
        return history


def network(sizes=(784, 32, 10), seed=0, dense=Dense, activation=ReLU, loss=SparseCategoricalCrossentropy):
    layers = []
    for i, (fan_in, fan_out) in enumerate(zip(sizes, sizes[1:])):
        layers += [dense(fan_out, input_dim=fan_in, seed=seed + i), activation()]
    return layers[:-1], loss()


def model(sizes=(784, 32, 10), seed=0, learning_rate=0.01, **parts):
    """The Model as a user builds it: Model([...], loss=...)."""
    layers, loss = network(sizes, seed, **parts)
    return Model(layers, loss, learning_rate)


# Mistakes made in this style -----------------------------------------------------------------

class DenseKernelGradDoubled(Dense):
    def backward(self, grad):
        dx = super().backward(grad)
        self.kernel_grad = 2 * self.inputs.T @ grad  # a 2 kept from a squared error's derivative
        return dx


class ReLUUnmasked(ReLU):
    def backward(self, grad):
        return grad  # the mask forgotten


class SparseCategoricalCrossentropySummed(SparseCategoricalCrossentropy):
    def gradient(self, y_true, y_pred):
        return super().gradient(y_true, y_pred) * len(y_true)  # the 1/n of the mean left out


MUTANTS = {
    "kernel gradient doubled": ("dense", DenseKernelGradDoubled, 0, "factor 2 too big"),
    "relu not masked": ("activation", ReLUUnmasked, 1, "gradient passed through unmasked"),
    "loss gradient without the 1/n": ("loss", SparseCategoricalCrossentropySummed, "loss", "batch size too big"),
}
