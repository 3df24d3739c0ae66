"""The style of the "Neural Networks from Scratch" book: Layer_Dense(n_inputs, n_neurons) holds
weights (in, out) and biases (1, out); every forward(inputs) leaves self.output and returns
nothing, every backward(dvalues) leaves self.dinputs (and dweights, dbiases) and returns nothing.
The loss's forward(y_pred, y_true) returns one value per example and calculate(output, y) their
mean; the fused Activation_Softmax_Loss_CategoricalCrossentropy applies the softmax in forward
(leaving the probabilities in self.output) and its backward(dvalues, y_true) is handed those
probabilities, not the logits, leaving dL/dlogits in self.dinputs."""

import numpy as np


class Layer_Dense:
    def __init__(self, n_inputs, n_neurons, rng=None):
        rng = rng or np.random.default_rng(0)
        self.weights = 0.01 * rng.standard_normal((n_inputs, n_neurons))
        self.biases = np.zeros((1, n_neurons))

    def forward(self, inputs):
        self.inputs = inputs
        self.output = np.dot(inputs, self.weights) + self.biases

    def backward(self, dvalues):
        self.dweights = np.dot(self.inputs.T, dvalues)
        self.dbiases = np.sum(dvalues, axis=0, keepdims=True)
        self.dinputs = np.dot(dvalues, self.weights.T)


class Activation_ReLU:
    def forward(self, inputs):
        self.inputs = inputs
        self.output = np.maximum(0, inputs)

    def backward(self, dvalues):
        self.dinputs = dvalues.copy()
        self.dinputs[self.inputs <= 0] = 0


class Activation_Softmax:
    def forward(self, inputs):
        exp_values = np.exp(inputs - np.max(inputs, axis=1, keepdims=True))
        self.output = exp_values / np.sum(exp_values, axis=1, keepdims=True)

    def backward(self, dvalues):
        self.dinputs = np.empty_like(dvalues)
        for index, (single_output, single_dvalues) in enumerate(zip(self.output, dvalues)):
            single_output = single_output.reshape(-1, 1)
            jacobian_matrix = np.diagflat(single_output) - np.dot(single_output, single_output.T)
            self.dinputs[index] = np.dot(jacobian_matrix, single_dvalues)


class Loss:
    def calculate(self, output, y):
        sample_losses = self.forward(output, y)
        return np.mean(sample_losses)


class Loss_CategoricalCrossentropy(Loss):
    def forward(self, y_pred, y_true):
        samples = len(y_pred)
        y_pred_clipped = np.clip(y_pred, 1e-7, 1 - 1e-7)
        if len(y_true.shape) == 1:
            correct_confidences = y_pred_clipped[range(samples), y_true]
        else:
            correct_confidences = np.sum(y_pred_clipped * y_true, axis=1)
        return -np.log(correct_confidences)

    def backward(self, dvalues, y_true):
        samples, labels = len(dvalues), len(dvalues[0])
        if len(y_true.shape) == 1:
            y_true = np.eye(labels)[y_true]
        self.dinputs = -y_true / dvalues
        self.dinputs = self.dinputs / samples


class Activation_Softmax_Loss_CategoricalCrossentropy:
    def __init__(self):
        self.activation = Activation_Softmax()
        self.loss = Loss_CategoricalCrossentropy()

    def forward(self, inputs, y_true):
        self.activation.forward(inputs)
        self.output = self.activation.output
        return self.loss.calculate(self.output, y_true)

    def backward(self, dvalues, y_true):
        samples = len(dvalues)
        if len(y_true.shape) == 2:
            y_true = np.argmax(y_true, axis=1)
        self.dinputs = dvalues.copy()
        self.dinputs[range(samples), y_true] -= 1
        self.dinputs = self.dinputs / samples


def network(sizes=(784, 32, 10), seed=0, dense=Layer_Dense, activation=Activation_ReLU,
            loss=Activation_Softmax_Loss_CategoricalCrossentropy):
    rng = np.random.default_rng(seed)
    layers = []
    for fan_in, fan_out in zip(sizes, sizes[1:]):
        layers += [dense(fan_in, fan_out, rng), activation()]
    return layers[:-1], loss()


# Mistakes made in this style -----------------------------------------------------------------

class Layer_DenseBiasesNotSummed(Layer_Dense):
    def backward(self, dvalues):
        super().backward(dvalues)
        self.dbiases = np.mean(dvalues, axis=0, keepdims=True)


class Activation_ReLUOpenAtZero(Activation_ReLU):
    def backward(self, dvalues):
        self.dinputs = dvalues.copy()
        self.dinputs[self.inputs < 0] = 0


class Activation_Softmax_Loss_CategoricalCrossentropyNotNormalized(Activation_Softmax_Loss_CategoricalCrossentropy):
    def backward(self, dvalues, y_true):
        samples = len(dvalues)
        if len(y_true.shape) == 2:
            y_true = np.argmax(y_true, axis=1)
        self.dinputs = dvalues.copy()
        self.dinputs[range(samples), y_true] -= 1


class Activation_Softmax_Loss_CategoricalCrossentropySignFlipped(Activation_Softmax_Loss_CategoricalCrossentropy):
    def backward(self, dvalues, y_true):
        super().backward(dvalues, y_true)
        self.dinputs = -self.dinputs


MUTANTS = {
    "biases' gradient averaged": ("dense", Layer_DenseBiasesNotSummed, 0, "bias gradient averaged"),
    "relu open at zero": ("activation", Activation_ReLUOpenAtZero, 1, "derivative at exactly 0"),
    "loss gradient without the 1/n": ("loss", Activation_Softmax_Loss_CategoricalCrossentropyNotNormalized, "loss",
                                      "batch size too big"),
    "loss gradient's sign flipped": ("loss", Activation_Softmax_Loss_CategoricalCrossentropySignFlipped, "loss",
                                     "sign flipped"),
}
