"""SIGINT and SIGTERM held back while a block runs, or raised in it as an exception (reference.stop_signals)."""

import signal

import pytest

from reference.stop_signals import stop_signals_held, stop_signals_raise


class Stopped(BaseException):
    pass


def test_a_held_ctrl_c_takes_effect_when_the_block_ends(capsys):
    finished = []
    with pytest.raises(KeyboardInterrupt):
        with stop_signals_held("held: finishing first"):
            signal.raise_signal(signal.SIGINT)
            finished.append("the block ran to its end")
    assert finished == ["the block ran to its end"]
    assert capsys.readouterr().err == "held: finishing first\n"
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


@pytest.mark.parametrize("number", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_raises_the_callers_error_with_its_number_then_the_handlers_come_back(number):
    before = {n: signal.getsignal(n) for n in (signal.SIGINT, signal.SIGTERM)}
    reached = []
    with pytest.raises(Stopped) as stopped:
        with stop_signals_raise(Stopped):
            signal.raise_signal(number)
            reached.append("after the signal")
    assert stopped.value.args == (number,) and reached == []
    assert {n: signal.getsignal(n) for n in before} == before


def test_only_the_signals_named_are_raised():
    with stop_signals_raise(Stopped, (signal.SIGTERM,)):
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
