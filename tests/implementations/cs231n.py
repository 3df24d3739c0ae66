"""CS231n's TwoLayerNet (assignment 1, neural_net.py), as students complete it: self.params holds
W1 (D, H), b1 (H,), W2 (H, C), b2 (C,), stored (in, out) and used as X @ W + b; loss(X) returns the
scores, loss(X, y, reg) the softmax cross-entropy averaged over the batch (plus reg * sum W^2) and a
dict of gradients keyed like params; train_step(X, y, learning_rate) takes one SGD step. The
mutants below are mistakes people make in this code, each a subclass changing loss()."""

import numpy as np


class TwoLayerNet:

    def __init__(self, input_size, hidden_size, output_size, std=1e-4):
        self.params = {}
        self.params['W1'] = std * np.random.randn(input_size, hidden_size)
        self.params['b1'] = np.zeros(hidden_size)
        self.params['W2'] = std * np.random.randn(hidden_size, output_size)
        self.params['b2'] = np.zeros(output_size)

    def loss(self, X, y=None, reg=0.0):
        W1, b1 = self.params['W1'], self.params['b1']
        W2, b2 = self.params['W2'], self.params['b2']
        N, D = X.shape

        hidden = np.maximum(0, X.dot(W1) + b1)
        scores = hidden.dot(W2) + b2
        if y is None:
            return scores

        shifted = scores - np.max(scores, axis=1, keepdims=True)
        probs = np.exp(shifted) / np.sum(np.exp(shifted), axis=1, keepdims=True)
        loss = -np.sum(np.log(probs[np.arange(N), y])) / N
        loss += reg * (np.sum(W1 * W1) + np.sum(W2 * W2))

        grads = {}
        dscores = probs.copy()
        dscores[np.arange(N), y] -= 1
        dscores /= N
        grads['W2'] = hidden.T.dot(dscores) + 2 * reg * W2
        grads['b2'] = np.sum(dscores, axis=0)
        dhidden = dscores.dot(W2.T)
        dhidden[hidden <= 0] = 0
        grads['W1'] = X.T.dot(dhidden) + 2 * reg * W1
        grads['b1'] = np.sum(dhidden, axis=0)
        return loss, grads

    def train_step(self, X, y, learning_rate=1e-3, reg=0.0):
        loss, grads = self.loss(X, y=y, reg=reg)
        for name in self.params:
            self.params[name] -= learning_rate * grads[name]
        return loss

    def predict(self, X):
        return np.argmax(self.loss(X), axis=1)


# Mistakes made in this style -----------------------------------------------------------------

class _Mutant(TwoLayerNet):
    """loss() with one line changed: each subclass's gradients(hidden, probs, X, y) computes grads."""

    def loss(self, X, y=None, reg=0.0):
        W1, b1, W2, b2 = (self.params[name] for name in ('W1', 'b1', 'W2', 'b2'))
        N = X.shape[0]
        hidden = np.maximum(0, X.dot(W1) + b1)
        scores = hidden.dot(W2) + b2
        if y is None:
            return scores
        shifted = scores - np.max(scores, axis=1, keepdims=True)
        probs = np.exp(shifted) / np.sum(np.exp(shifted), axis=1, keepdims=True)
        loss = -np.sum(np.log(probs[np.arange(N), y])) / N
        return loss, self.gradients(X, y, hidden, probs)


class ReLUMaskForgotten(_Mutant):
    def gradients(self, X, y, hidden, probs):
        dscores = probs.copy()
        dscores[np.arange(len(X)), y] -= 1
        dscores /= len(X)
        dhidden = dscores.dot(self.params['W2'].T)            # no dhidden[hidden <= 0] = 0
        return {'W2': hidden.T.dot(dscores), 'b2': dscores.sum(axis=0),
                'W1': X.T.dot(dhidden), 'b1': dhidden.sum(axis=0)}


class GradientsSummed(_Mutant):
    def gradients(self, X, y, hidden, probs):
        dscores = probs.copy()
        dscores[np.arange(len(X)), y] -= 1                     # no dscores /= N: the loss is a mean
        dhidden = dscores.dot(self.params['W2'].T)
        dhidden[hidden <= 0] = 0
        return {'W2': hidden.T.dot(dscores), 'b2': dscores.sum(axis=0),
                'W1': X.T.dot(dhidden), 'b1': dhidden.sum(axis=0)}


class SecondWeightTransposed(_Mutant):
    def gradients(self, X, y, hidden, probs):
        dscores = probs.copy()
        dscores[np.arange(len(X)), y] -= 1
        dscores /= len(X)
        dhidden = dscores.dot(self.params['W2'].T)
        dhidden[hidden <= 0] = 0
        return {'W2': dscores.T.dot(hidden), 'b2': dscores.sum(axis=0),   # (C, H): W2 is (H, C)
                'W1': X.T.dot(dhidden), 'b1': dhidden.sum(axis=0)}


class BiasGradientAveraged(_Mutant):
    def gradients(self, X, y, hidden, probs):
        dscores = probs.copy()
        dscores[np.arange(len(X)), y] -= 1
        dscores /= len(X)
        dhidden = dscores.dot(self.params['W2'].T)
        dhidden[hidden <= 0] = 0
        return {'W2': hidden.T.dot(dscores), 'b2': dscores.mean(axis=0),  # not summed over the batch
                'W1': X.T.dot(dhidden), 'b1': dhidden.sum(axis=0)}
