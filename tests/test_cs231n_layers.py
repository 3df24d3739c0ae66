"""CS231n's layers.py (tests/implementations/cs231n_layers.py: naive conv and max-pool loops, vectorised
batch norm, inverted dropout) checked by `compare.py check layer FILE.py:FORWARD,BACKWARD`: each pair
agrees with torch and finite differences in float64, each mistake is named at its tensor, and a bad
settings flag stops the check with exit 2 and one line naming it."""

import json
from pathlib import Path

import pytest
from implementations import cs231n_layers

from reference.cli import main as cli
from reference.gradcheck import check

FILE = Path(__file__).parent / "implementations" / "cs231n_layers.py"


def run(capsys, *argv):
    status = cli.main(["check", *map(str, argv)])
    out, err = capsys.readouterr()
    return status, out, err


def layer(forward, backward) -> str:
    return f"{FILE}:{forward},{backward}"


CORRECT = {  # pair, settings flags, what the conventions line says was found
    "conv": (("conv_forward_naive", "conv_backward_naive"), [], "conv2d, from its argument conv_param"),
    "conv strided, other sizes": (("conv_forward_naive", "conv_backward_naive"),
                                  ["--in-shape", 2, 7, 9, "--out", 3, "--kernel", 3, "--stride", 2, "--pad", 1],
                                  "conv_param={'stride': 2, 'pad': 1}"),
    "max pool": (("max_pool_forward_naive", "max_pool_backward_naive"), [], "maxpool2d, from its argument pool_param"),
    "max pool, overlapping windows": (("max_pool_forward_naive", "max_pool_backward_naive"),
                                      ["--in-shape", 2, 5, 4, "--pool", 2, "--stride", 1], "'stride': 1"),
    # The checker's exact zeros (ReLU's kink) are single entries: an image's whole channel of zeros
    # would make all-zero windows, ties this backward (window == max) resolves otherwise than torch.
    "max pool, gradient to every maximum": (("max_pool_forward_naive", "max_pool_backward_every_maximum"), [],
                                            "maxpool2d"),
    "batch norm": (("batchnorm_forward", "batchnorm_backward"), ["--in", 5], "from the biased batch variance"),
    "batch norm, simplified backward": (("batchnorm_forward", "batchnorm_backward_alt"), [],
                                        "momentum 0.9 (torch's 0.1)"),
    "dropout, p kept": (("dropout_forward", "dropout_backward"), ["--dropout-p", 0.6],
                        "p the probability of keeping a unit"),
    "dropout, p dropped": (("dropout_forward_drop_p", "dropout_backward"), [], "p the probability of dropping a unit"),
}


@pytest.mark.parametrize("name", CORRECT)
def test_each_pair_agrees_with_torch_and_finite_differences(name, tmp_path, capsys):
    pair, flags, found = CORRECT[name]
    status, out, err = run(capsys, "layer", layer(*pair), *flags, "--json", tmp_path / "r.json")
    assert status == 0, out + err
    assert found in out and "float64" in out
    report = json.loads((tmp_path / "r.json").read_text())
    part = report["parts"][-1]  # the pair's layer (after an Unflatten for images)
    gradients = {name for name in part["torch"]["tensors"] if name.endswith(("grad_input", ".grad"))}
    assert any(name.endswith("grad_input") for name in gradients)
    assert gradients <= set(part["finite_differences"]["tensors"])  # every gradient also by finite differences


MUTANTS = {  # backward (or forward) swapped in, and the tensors the first disagreement must name
    "conv dw not summed over the batch": (("conv_forward_naive", "conv_backward_dw_last_example"),
                                          ["1.weight.grad"]),
    "conv dx with the padding left on": (("conv_forward_naive", "conv_backward_padding_kept"), ["1.grad_input"]),
    "max pool gradient to the whole window": (("max_pool_forward_naive", "max_pool_backward_whole_window"),
                                              ["1.grad_input"]),
    "batch norm without the dmean term": (("batchnorm_forward", "batchnorm_backward_no_dmean"), ["0.grad_input"]),
    "batch norm normalised by N - 1": (("batchnorm_forward_unbiased", "batchnorm_backward_alt"),
                                       ["0.output", "0.grad_input", "0.weight.grad"]),
    "batch norm running var unbiased (torch's, not CS231n's)": (
        ("batchnorm_forward_torch_running_var", "batchnorm_backward"), ["0.running_var after the batches"]),
    "dropout backward not divided by p": (("dropout_forward", "dropout_backward_unscaled"), ["0.grad_input"]),
}


@pytest.mark.parametrize("name", MUTANTS)
def test_each_mistake_exits_1_named_at_its_tensor(name, tmp_path, capsys):
    pair, failing = MUTANTS[name]
    status, out, err = run(capsys, "layer", layer(*pair), "--json", tmp_path / "r.json")
    assert status == 1, out + err
    first = json.loads((tmp_path / "r.json").read_text())["first_failure"]
    assert first["failing"] == failing
    assert first["index"] == int(failing[0][0]) and first["name"].startswith("Functional")
    assert "FIRST DISAGREEMENT" in out


REFUSED = {  # settings that cannot make the settings dict, and the flag the one line names
    "kernel does not tile at the stride": (("conv_forward_naive", "conv_backward_naive"), ["--stride", 2],
                                           "--stride 2"),
    "a pool size for a conv": (("conv_forward_naive", "conv_backward_naive"), ["--pool", 2], "--pool does not apply"),
    "pool does not tile the image": (("max_pool_forward_naive", "max_pool_backward_naive"), ["--pool", 3], "--pool 3"),
    "images for batch norm": (("batchnorm_forward", "batchnorm_backward"), ["--in-shape", 3, 4, 4],
                              "--in-shape does not apply"),
    "a kernel for an affine pair": (("affine_forward", "affine_backward"), ["--kernel", 3], "--kernel sets up"),
    "a kernel larger than the padded image": (("conv_forward_naive", "conv_backward_naive"), ["--kernel", 11],
                                              "--kernel 11"),
}


@pytest.mark.parametrize("name", REFUSED)
def test_a_bad_setting_exits_2_in_one_line_naming_the_flag(name, capsys):
    pair, flags, words = REFUSED[name]
    where = layer(*pair) if pair[0] != "affine_forward" else f"{FILE.parent / 'functional.py'}:{','.join(pair)}"
    status, out, err = run(capsys, "layer", where, *flags)
    assert status == 2 and words in err, err
    assert len(err.strip().splitlines()) == 1
    assert out == ""


def test_settings_flags_need_a_layer(capsys):
    status, _, err = run(capsys, "network", "--in-shape", 3, 8, 6)
    assert status == 2 and "unrecognized arguments: --in-shape" in err


def test_from_python_with_keywords_the_report_carries_what_was_found():
    report = check((cs231n_layers.conv_forward_naive, cs231n_layers.conv_backward_naive), in_shape=(2, 5, 5),
                   out_features=3, kernel=3, stride=1, pad=0)
    assert report.ok, report.table()
    assert report.conventions["layers"][0] == {"name": "conv_forward_naive", "twin": "conv2d",
                                               "found": "its argument conv_param", "in_shape": [2, 5, 5],
                                               "settings": {"stride": 1, "pad": 0}}


def test_a_settings_dict_of_no_known_kind_asks_for_the_twin():
    def scale_forward(x, scale_param):
        return x * scale_param["k"], None

    with pytest.raises(ValueError, match="give twin= one of"):
        check((scale_forward, lambda dout, cache: dout))
