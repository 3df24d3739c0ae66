"""The user's own terms for a hint: a signature's "the fix" line written in the layout, the names and
the batching that the conventions block reports, so that an (in, out) user reads dW = X.T @ G, a
column-batch user dW = dZ @ A_prev.T / m, and nobody reads torch's (out, in) line as the fix.

Terms.fix(signature name) is the correct line (or lines) for the gradients a signature names;
None where the signature has no single line (a stale cache, an overflow: their words say what to do).
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Terms:
    """layout: "out_in" or "in_out" (how W is stored). batching: "rows" (X (n, in)), "columns"
    (A_prev (in, m)) or "example" (one column at a time). averaged: the layer's own backward divides
    dW and db by the batch size (the course's linear_backward); False: the 1/m is in the gradient it is
    given; None: not known (a whole network's gradients are the same either way), so the line says both."""

    layout: str = "out_in"
    batching: str = "rows"
    averaged: bool | None = False

    @property
    def names(self) -> tuple[str, str, str]:
        """(the layer's input, the gradient at its output, the batch size), as code in this style names them."""
        names = {"rows": ("X", "G", "n"), "columns": ("A_prev", "dZ", "m"), "example": ("x", "delta", "n")}
        return names[self.batching]

    def weight_gradient(self) -> str:
        return f"dW = {self._product()}" + self._mean()

    def _product(self) -> str:
        x, g, _ = self.names
        return {("rows", "out_in"): f"{g}.T @ {x}", ("rows", "in_out"): f"{x}.T @ {g}",
                ("columns", "out_in"): f"{g} @ {x}.T", ("columns", "in_out"): f"{x} @ {g}.T",
                ("example", "out_in"): f"{g} @ {x}.T", ("example", "in_out"): f"{x} @ {g}.T"}[
            self.batching, self.layout]

    def bias_gradient(self) -> str:
        _, g, m = self.names
        summed = {"rows": f"{g}.sum(axis=0)", "columns": f"np.sum({g}, axis=1, keepdims=True)", "example": g}[
            self.batching]
        return f"db = {summed}" + self._mean()

    def _mean(self) -> str:
        _, g, m = self.names
        return {True: f" / {m}", False: "", None: f" / {m} (without / {m} where {g} already carries the 1/{m})"}[
            self.averaged]

    def fix(self, signature: str) -> str | None:
        x, g, m = self.names
        both = f"{self.weight_gradient()}, {self.bias_gradient()}"
        where = {True: f"once: in the layer ({both})",
                 False: f"once, in the loss's gradient {g} at the output (so that {both} hold as they are)",
                 None: f"once: in the output's {g}, or in every layer's dW and db (dW = {self._product()} / {m}), "
                       f"not both and not neither"}[
            self.averaged]
        if self.batching == "example":
            where = "once, where the examples' gradients are summed: the update's eta / len(mini_batch)"
        lines = {"transposed weight gradient": self.weight_gradient(),
                 "forward with the weight untransposed": {"rows": f"{x} @ W.T + b", "columns": f"W @ {x} + b",
                                                          "example": f"W @ {x} + b"}[self.batching]
                 if self.layout == "out_in" else None,
                 "bias gradient averaged": self.bias_gradient(),
                 "batch size too big": f"divide by the batch size {m} {where}",
                 "batch size too small": f"divide by the batch size {m} {where}, not twice"}
        return lines.get(signature)
