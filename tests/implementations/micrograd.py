"""A scalar autograd engine and its neural network, as Karpathy's micrograd writes them (engine.py and
nn.py in one file) with the lecture's additions ("The spelled-out intro to neural networks and
backpropagation"): tanh, exp, and division and subtraction by the reflected operators. Each
operation makes its output Value and a _backward closure that adds (+=) its share of out.grad to
its inputs' grads; backward() sorts the graph topologically and calls them in reverse.

MUTANTS are mistakes people make in this code, each as a replacement of the source text
(tests/test_engine.py writes the mutated file and checks it): name -> (old text, new text, the row
of `compare.py check engine` that must fail first, the mistake it must be named as)."""

import math
import random


class Value:
    """ stores a single scalar value and its gradient """

    def __init__(self, data, _children=(), _op=''):
        self.data = data
        self.grad = 0
        # internal variables used for autograd graph construction
        self._backward = lambda: None
        self._prev = set(_children)
        self._op = _op  # the op that produced this node, for graphviz / debugging / etc

    def __add__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data + other.data, (self, other), '+')

        def _backward():
            self.grad += out.grad
            other.grad += out.grad
        out._backward = _backward

        return out

    def __mul__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data * other.data, (self, other), '*')

        def _backward():
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad
        out._backward = _backward

        return out

    def __pow__(self, other):
        assert isinstance(other, (int, float)), "only supporting int/float powers for now"
        out = Value(self.data**other, (self,), f'**{other}')

        def _backward():
            self.grad += (other * self.data**(other - 1)) * out.grad
        out._backward = _backward

        return out

    def relu(self):
        out = Value(0 if self.data < 0 else self.data, (self,), 'ReLU')

        def _backward():
            self.grad += (out.data > 0) * out.grad
        out._backward = _backward

        return out

    def tanh(self):
        x = self.data
        t = (math.exp(2*x) - 1)/(math.exp(2*x) + 1)
        out = Value(t, (self, ), 'tanh')

        def _backward():
            self.grad += (1 - t**2) * out.grad
        out._backward = _backward

        return out

    def exp(self):
        x = self.data
        out = Value(math.exp(x), (self, ), 'exp')

        def _backward():
            self.grad += out.data * out.grad
        out._backward = _backward

        return out

    def backward(self):

        # topological order all of the children in the graph
        topo = []
        visited = set()
        def build_topo(v):
            if v not in visited:
                visited.add(v)
                for child in v._prev:
                    build_topo(child)
                topo.append(v)
        build_topo(self)

        # go one variable at a time and apply the chain rule to get its gradient
        self.grad = 1
        for v in reversed(topo):
            v._backward()

    def __neg__(self): # -self
        return self * -1

    def __radd__(self, other): # other + self
        return self + other

    def __sub__(self, other): # self - other
        return self + (-other)

    def __rsub__(self, other): # other - self
        return other + (-self)

    def __rmul__(self, other): # other * self
        return self * other

    def __truediv__(self, other): # self / other
        return self * other**-1

    def __rtruediv__(self, other): # other / self
        return other * self**-1

    def __repr__(self):
        return f"Value(data={self.data}, grad={self.grad})"


class Module:

    def zero_grad(self):
        for p in self.parameters():
            p.grad = 0

    def parameters(self):
        return []


class Neuron(Module):

    def __init__(self, nin, nonlin=True):
        self.w = [Value(random.uniform(-1,1)) for _ in range(nin)]
        self.b = Value(0)
        self.nonlin = nonlin

    def __call__(self, x):
        act = sum((wi*xi for wi,xi in zip(self.w, x)), self.b)
        return act.relu() if self.nonlin else act

    def parameters(self):
        return self.w + [self.b]

    def __repr__(self):
        return f"{'ReLU' if self.nonlin else 'Linear'}Neuron({len(self.w)})"


class Layer(Module):

    def __init__(self, nin, nout, **kwargs):
        self.neurons = [Neuron(nin, **kwargs) for _ in range(nout)]

    def __call__(self, x):
        out = [n(x) for n in self.neurons]
        return out[0] if len(out) == 1 else out

    def parameters(self):
        return [p for n in self.neurons for p in n.parameters()]

    def __repr__(self):
        return f"Layer of [{', '.join(str(n) for n in self.neurons)}]"


class MLP(Module):

    def __init__(self, nin, nouts):
        sz = [nin] + nouts
        self.layers = [Layer(sz[i], sz[i+1], nonlin=i!=len(nouts)-1) for i in range(len(nouts))]

    def __call__(self, x):
        for layer in self.layers:
            x = layer(x)
        return x

    def parameters(self):
        return [p for layer in self.layers for p in layer.parameters()]

    def __repr__(self):
        return f"MLP of [{', '.join(str(layer) for layer in self.layers)}]"


NO_TOPOLOGICAL_ORDER = '''        self.grad = 1
        visited = set()
        def visit(v):  # each node's _backward as soon as it is reached: before all its parents have added theirs
            if v not in visited:
                visited.add(v)
                v._backward()
                for child in v._prev:
                    visit(child)
        visit(self)
'''

DIVISION_WITHOUT_THE_DIVISOR = """        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data / other.data, (self, other), '/')

        def _backward():  # d(a/b)/da only; d(a/b)/db = -a/b**2 is missing
            self.grad += out.grad / other.data
        out._backward = _backward

        return out
"""

MUTANTS = {
    "grad set, not accumulated": (".grad += ", ".grad = ", "__add__", "gradient overwritten, not accumulated"),
    "tanh derivative t": ("self.grad += (1 - t**2) * out.grad", "self.grad += t * out.grad", "tanh()",
                          "tanh derivative as t"),
    "pow without the exponent": ("self.grad += (other * self.data**(other - 1)) * out.grad",
                                 "self.grad += (self.data**(other - 1)) * out.grad", "__pow__", "exponent left out"),
    "exp derivative at the input": ("self.grad += out.data * out.grad", "self.grad += x * out.grad", "exp()",
                                    "exp derivative at the input"),
    "relu open at zero": ("self.grad += (out.data > 0) * out.grad", "self.grad += (self.data >= 0) * out.grad",
                          "relu()", "relu derivative 1 at 0"),
    "relu open below zero": ("self.grad += (out.data > 0) * out.grad", "self.grad += out.grad", "relu()",
                             "relu gradient not masked"),
    "division without the divisor's term": ("        return self * other**-1\n", DIVISION_WITHOUT_THE_DIVISOR,
                                            "__truediv__", "divisor gradient missing"),
    "no topological order": ('''        self.grad = 1
        for v in reversed(topo):
            v._backward()
''', NO_TOPOLOGICAL_ORDER, "backward()", "backward not in topological order"),
}
