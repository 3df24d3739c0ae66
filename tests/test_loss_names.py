"""A loss's name becomes a loss in one place (reference.loss_names.loss_class), refused alike everywhere."""

import pytest

import scratch_nn
from reference.adapters.loss import TWIN_LOSSES
from reference.loss_names import as_loss, loss_class


def test_every_name_is_its_scratch_loss():
    for name, cls in scratch_nn.LOSSES.items():
        assert loss_class(name) is cls
        assert type(as_loss(name)) is cls


@pytest.mark.parametrize("name", ["hinge", "", None, "Cross_Entropy"])
def test_an_unknown_name_is_one_line_listing_the_names(name):
    with pytest.raises(ValueError, match=rf"^unknown loss {name!r}; choose from cross_entropy, mse, ") as raised:
        loss_class(name)
    assert "\n" not in str(raised.value) and all(known in str(raised.value) for known in scratch_nn.LOSSES)


def test_a_narrower_choice_refuses_the_names_outside_it():
    """An adapted loss's twin is one of TWIN_LOSSES: the binary cross-entropy is no twin of one."""
    assert "binary_cross_entropy" in scratch_nn.LOSSES and "binary_cross_entropy" not in TWIN_LOSSES
    with pytest.raises(ValueError, match="unknown loss 'binary_cross_entropy'; choose from cross_entropy, mse, "
                                         "probability_cross_entropy$"):
        loss_class("binary_cross_entropy", TWIN_LOSSES)
