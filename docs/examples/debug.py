"""Check a network made of my_layers.py's layers, naming each layer's PyTorch twin."""

import numpy as np
from my_layers import MyLinear, MySigmoid

from reference.gradcheck import check_network
from scratch_nn import Sequential

rng = np.random.default_rng(0)
network = Sequential(MyLinear(rng.uniform(-0.03, 0.03, (32, 784)), np.zeros(32)), MySigmoid(),
                     MyLinear(rng.uniform(-0.2, 0.2, (10, 32)), np.zeros(10)))
report = check_network(network, twins=["linear", "sigmoid", "linear"], loss="cross_entropy")
print(report.table())
