"""compare.py from the command line: the report, its JSON and plot, presets, and clear failures."""

import json

import pytest
import torch

import compare


@pytest.fixture
def tiny_data(monkeypatch, synthetic):
    """compare.py on a small synthetic dataset instead of MNIST, so the CLI tests take seconds."""
    monkeypatch.setattr(compare, "load_dataset", lambda name, root, dtype, download: synthetic(dtype=dtype))


def test_list_presets(capsys):
    assert compare.main(["--list-presets"]) == 0
    out = capsys.readouterr().out
    for name in ("paper-512-20", "paper-512-50", "paper-512-256", "paper-512-256-128", "paper-512-256-128-lr0.2",
                 "paper-128-lr1", "paper-128-lr1-75", "paper-512-20-relu"):
        assert name in out


def test_report_json_and_plot(tiny_data, tmp_path, capsys):
    json_path, plot_path = tmp_path / "run.json", tmp_path / "run.png"
    code = compare.main(["--spec", "784-16-10", "--epochs", "2", "--dtype", "float64", "--no-progress",
                         "--json", str(json_path), "--plot", str(plot_path)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "scratch" in out and "torch" in out and "AGREE" in out and "Step check" in out
    run = json.loads(json_path.read_text())
    assert run["config"]["spec"] == "784-16-10" and run["config"]["dtype"] == "float64"
    assert run["status"] == "finished" and run["verdict"]["agree"] is True
    assert [e["epoch"] for e in run["epochs"]] == [1, 2]
    epoch = run["epochs"][0]
    assert set(epoch) == {"epoch", "scratch", "torch", "divergence"}
    assert set(epoch["scratch"]) == {"train_loss", "train_accuracy", "validation_accuracy", "test_accuracy", "seconds"}
    assert {"parameters", "worst_tensor", "worst_scaled_abs", "prediction_agreement", "train_loss_difference",
            "within_tolerance", "step_check_ok", "step_check_ratio"} == set(epoch["divergence"])
    assert plot_path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_diverging_run_exits_3_and_keeps_what_it_has(tiny_data, tmp_path, capsys):
    json_path = tmp_path / "run.json"
    code = compare.main(["--spec", "784-256-128-64-10", "--activation", "relu", "--lr", "0.5", "--epochs", "3",
                         "--no-progress", "--json", str(json_path)])
    assert code == compare.EXIT_DIVERGED
    assert "training diverged" in capsys.readouterr().err
    run = json.loads(json_path.read_text())
    assert run["status"] == "diverged" and "Try a smaller learning rate" in run["error"]


def test_missing_data_is_one_clear_message(tmp_path, capsys):
    code = compare.main(["--data-root", str(tmp_path), "--no-progress"])
    err = capsys.readouterr().err
    assert code == compare.EXIT_BAD_INPUT
    assert "train-images-idx3-ubyte is missing" in err and str(tmp_path / "MNIST" / "raw") in err
    assert "--download" in err and "Traceback" not in err


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_gpu_without_gpu_is_refused(capsys):
    assert compare.main(["--device", "cuda"]) == compare.EXIT_BAD_INPUT
    assert "torch sees no GPU here" in capsys.readouterr().err


def test_bad_option_is_a_usage_error():
    with pytest.raises(SystemExit) as exit_:
        compare.main(["--dtype", "float16"])
    assert exit_.value.code == 2
