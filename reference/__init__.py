"""The PyTorch twin of the scratch network and the machinery that compares the two."""
