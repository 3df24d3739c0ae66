"""From-scratch MLPs written in other people's conventions, to prove that reference.adapters finds
those conventions and that the checker then judges them right. Each module is written the way its
style is usually written (not the way scratch_nn is), with a network(sizes, seed, **parts)
builder that returns (layers, loss), and MUTANTS: realistic mistakes in that style, each
{name: (role, replacement, expected part, expected signature)}; role is the part of network()
that the replacement takes the place of.
"""
