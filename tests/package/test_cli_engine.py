"""The engine subcommands: train -> evaluate round trip, reproduce, readable one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from oneshot_steel.cli import main


@pytest.fixture(scope="module")
def trained_run(tiny_neu_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("cli_train") / "run"
    status = main(
        [
            "train",
            "--preset",
            "smoke",
            "--data",
            str(tiny_neu_dir),
            "--out",
            str(out),
            "--seed",
            "0",
            "--lr",
            "0.002",
            "--image-size",
            "32",
            "--device",
            "cpu",
            "--no-progress",
        ]
    )
    assert status == 0
    return out


def test_train_writes_checkpoint_and_history(trained_run: Path) -> None:
    assert (trained_run / "model.pt").is_file()
    history = json.loads((trained_run / "history.json").read_text())
    assert len(history["train_loss"]) == 2  # the smoke preset's epochs
    config = torch.load(trained_run / "model.pt", weights_only=True)["config"]
    assert config["lr"] == 0.002  # --lr overrides the preset's


@pytest.mark.parametrize("lr", ["0", "-1e-3", "nan", "fast"])
def test_train_refuses_a_learning_rate_that_trains_nothing(
    lr: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["train", "--out", str(tmp_path / "run"), f"--lr={lr}"]) == 2
    assert "argument --lr: expected a" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_evaluate_prints_one_json_object(
    trained_run: Path, tiny_neu_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    status = main(
        [
            "evaluate",
            "--checkpoint",
            str(trained_run / "model.pt"),
            "--data",
            str(tiny_neu_dir),
            "--classes",
            "Cr,PS,Sc",
            "--n-way",
            "3",
            "--k-shot",
            "1",
            "--queries",
            "5",
            "--episodes",
            "200",
            "--seed",
            "0",
            "--json",
        ]
    )
    assert status == 0
    out = capsys.readouterr().out
    assert len(out.strip().splitlines()) == 1
    result = json.loads(out)
    assert result["classes"] == ["Cr", "PS", "Sc"] and result["data"]["image_size"] == 32
    ep = result["episodic"]
    assert 0.0 <= ep["accuracy"] <= 1.0 and ep["ci95"] > 0
    assert (ep["n_way"], ep["k_shot"], ep["n_query"], ep["n_episodes"]) == (3, 1, 5, 200)
    assert ep["chance"] == pytest.approx(1 / 3) and "protocol" in ep
    pv = result["pair_verification"]
    assert pv["chance"] == 0.5 and pv["threshold"] == 2.0 and pv["n_pairs"] == 900
    assert 0.0 <= pv["accuracy"] <= 1.0


def _evaluate_argv(run: Path, data: Path, *extra: str) -> list[str]:
    return ["evaluate", "--checkpoint", str(run), "--data", str(data), "--queries", "2", *extra]


def test_evaluate_json_is_strict_json(
    trained_run: Path, tiny_neu_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    # One episode has no confidence interval: strict JSON says null, not NaN.
    status = main(_evaluate_argv(trained_run, tiny_neu_dir, "--episodes", "1", "--json"))
    assert status == 0
    out = capsys.readouterr().out
    result = json.loads(out, parse_constant=lambda c: pytest.fail(f"{c} is not JSON"))
    assert result["episodic"]["ci95"] is None and result["episodic"]["n_episodes"] == 1


@pytest.mark.parametrize("value", ["nan", "inf", "-1", "two"])
def test_evaluate_refuses_a_threshold_that_is_no_distance(
    value: str, trained_run: Path, tiny_neu_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(_evaluate_argv(trained_run, tiny_neu_dir, "--threshold", value, "--json")) != 0
    captured = capsys.readouterr()
    assert captured.out == "" and value in captured.err and "Traceback" not in captured.err


def test_evaluate_every_class_and_a_generic_folder(
    trained_run: Path, tiny_neu_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A folder-per-class set with names of your own is read by load_image_folder.
    for i, src in enumerate(sorted(tiny_neu_dir.glob("*.bmp"))):
        if src.stem.split("_")[0] in ("Cr", "Sc"):
            dest = tmp_path / ("dents" if src.stem.startswith("Cr") else "marks") / f"{i}.bmp"
            dest.parent.mkdir(exist_ok=True)
            dest.write_bytes(src.read_bytes())
    capsys.readouterr()
    status = main(
        [
            "evaluate",
            "--checkpoint",
            str(trained_run),
            "--data",
            str(tmp_path),
            "--n-way",
            "2",
            "--queries",
            "4",
            "--episodes",
            "20",
            "--json",
        ]
    )
    assert status == 0
    assert json.loads(capsys.readouterr().out)["classes"] == ["dents", "marks"]


def test_a_broken_image_in_a_set_of_your_own_is_named(
    trained_run: Path, tiny_neu_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sources = sorted(tiny_neu_dir.glob("*.bmp"))
    for name, prefix in (("dent", "Cr"), ("bump", "PS"), ("hole", "Sc")):
        (tmp_path / name).mkdir()
        for i, src in enumerate(p for p in sources if p.name.startswith(prefix + "_")):
            (tmp_path / name / f"{i}.bmp").write_bytes(src.read_bytes())
    broken = tmp_path / "dent" / "0.bmp"
    broken.write_bytes(broken.read_bytes()[:500])  # truncated
    capsys.readouterr()
    assert main(_evaluate_argv(trained_run, tmp_path, "--episodes", "5")) != 0
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and str(broken) in lines[0] and "NEU-CLS class" not in lines[0]


def test_synthetic_data_is_named_in_training_and_on_a_mismatch(
    tiny_neu_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["train", "--preset", "smoke", "--data", "synthetic", "--image-size", "32"]
    assert main([*argv, "--out", str(tmp_path / "run"), "--no-progress"]) == 0
    err = capsys.readouterr().err
    assert err.startswith("training on SYNTHETIC stand-in data") and err.count("SYNTHETIC") == 2
    # The same images without the stand-in's marker file pass for real ones: a mismatch.
    (tmp_path / "mill").mkdir()
    for src in tiny_neu_dir.glob("*.bmp"):
        (tmp_path / "mill" / src.name).write_bytes(src.read_bytes())
    argv = _evaluate_argv(tmp_path / "run", tmp_path / "mill", "--episodes", "5", "--pairs", "20")
    assert main([*argv, "--classes", "Cr,PS,Sc", "--json"]) == 0
    captured = capsys.readouterr()
    warning = "trained on the SYNTHETIC stand-in and is evaluated on real images"
    assert warning in captured.err and warning in json.loads(captured.out)["warnings"][0]


def test_bad_path_via_the_real_entry_point(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    argv = ["evaluate", "--checkpoint", "/no/such/run/model.pt", "--data", "synthetic"]
    proc = subprocess.run(
        [sys.executable, "-m", "oneshot_steel", *argv],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and "/no/such/run" in lines[0]


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (["train", "--data", "/no/such/folder", "--out", "OUT"], "/no/such/folder"),
        (["evaluate", "--checkpoint", "OUT", "--data", "synthetic"], "No checkpoint"),
        (["train", "--preset", "huge", "--out", "OUT"], "huge"),
        (["reproduce", "--seeds", "0,zero", "--out", "OUT"], "0,zero"),
        (["reproduce", "--data", "/no/such/folder", "--out", "OUT"], "/no/such/folder"),
        (["reproduce", "--epochs", "0", "--out", "OUT"], "--epochs"),
        (["reproduce", "--cnn-epochs", "two", "--out", "OUT"], "--cnn-epochs"),
        (["reproduce", "--test-classes", "Cr,PS", "--out", "OUT"], "at least 3"),
        (["reproduce", "--train-classes", "RS,Cr", "--out", "OUT"], "share Cr"),
    ],
)
def test_bad_input_is_one_line(
    argv: list[str], fragment: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [str(tmp_path / "out") if a == "OUT" else a for a in argv]
    assert main(argv) != 0
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and fragment in lines[0]


@pytest.mark.parametrize(
    "command",
    [["train", "--preset", "smoke", "--data", "synthetic"], ["reproduce", "--preset", "smoke"]],
)
@pytest.mark.parametrize("out", ["file", "file/run"])
def test_out_that_is_a_file_fails_before_any_work(
    command: list[str], out: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "file").write_text("not a folder")
    assert main([*command, "--out", str(tmp_path / out)]) != 0
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "is a file, not a folder" in lines[0]
    assert (tmp_path / "file").read_text() == "not a folder"  # untouched


def test_train_rejects_unknown_and_exhaustive_classes(
    tiny_neu_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = [
        "train",
        "--preset",
        "smoke",
        "--data",
        str(tiny_neu_dir),
        "--out",
        str(tmp_path),
        "--image-size",
        "32",
        "--no-progress",
    ]
    assert main([*base, "--train-classes", "RS,Xx"]) != 0
    assert "Xx" in capsys.readouterr().err
    assert main([*base, "--train-classes", "Cr,In,Pa,PS,RS,Sc"]) != 0
    assert "unseen" in capsys.readouterr().err


@pytest.mark.parametrize(("loss", "kind"), [("prototypical", "episodic"), ("selfsup", "selfsup")])
def test_train_with_other_losses_and_windows(
    loss: str, kind: str, tiny_neu_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / loss
    args = ["train", "--preset", "smoke", "--data", str(tiny_neu_dir), "--out", str(out)]
    args += ["--image-size", "48", "--loss", loss, "--crop-size", "32", "--val-fraction", "0.5"]
    args += ["--no-progress"]
    assert main(args) == 0
    history = json.loads((out / "history.json").read_text())
    assert history["kind"] == kind and len(history["train_loss"]) == 2


@pytest.mark.parametrize("coarse_view", [False, True])
def test_train_the_best_recipe_then_evaluate_with_a_validation_threshold(
    tiny_neu_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], coarse_view: bool
) -> None:
    from oneshot_steel.checkpoint import load_checkpoint

    out, size = tmp_path / "best", 64 if coarse_view else 48  # the half-size view needs 32 px
    args = ["train", "--recipe", "best", "--preset", "smoke", "--data", str(tiny_neu_dir)]
    args += ["--out", str(out), "--image-size", str(size), "--val-fraction", "0.5", "--no-progress"]
    assert main(args + ["--coarse-view"] * coarse_view) == 0
    history = json.loads((out / "history.json").read_text())
    assert history["kind"] == "selfsup"
    net, config, _ = load_checkpoint(out)
    assert config.coarse_view == net.coarse_view == coarse_view
    capsys.readouterr()
    argv = ["evaluate", "--checkpoint", str(out), "--data", str(tiny_neu_dir), "--episodes", "5"]
    assert main([*argv, "--queries", "5", "--pairs", "20", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["data"]["image_size"] == size  # the checkpoint's input size, not the default
    dim = 2 * config.embedding_dim if coarse_view else config.embedding_dim
    assert result["features"] == {"dim": dim, "coarse_view": coarse_view}
    pairs = result["pair_verification"]
    assert pairs["val_threshold"] is not None and pairs["threshold"] == pairs["val_threshold"]


def test_train_refuses_a_coarse_view_for_a_net_without_simpleshot(
    tiny_neu_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    paper = ["train", "--preset", "smoke", "--data", str(tiny_neu_dir), "--coarse-view"]
    assert main([*paper, "--out", str(tmp_path / "paper"), "--no-progress"]) == 2
    assert "coarse_view" in capsys.readouterr().err  # only the recipe best has the view
