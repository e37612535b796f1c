"""Bad inputs on the training and checkpoint side (issue 13): a blown-up run is never saved as
good, a checkpoint that cannot be used says which file and why in one line, and a failed
write leaves the previous checkpoint as it was."""

from __future__ import annotations

import os
import re
import resource
import signal
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from torch import nn
from toys import synthetic_imageset

import oneshot_steel
from oneshot_steel.checkpoint import read_checkpoint, read_history
from oneshot_steel.classifier import OneShotClassifier
from oneshot_steel.cli import main
from oneshot_steel.config import CNNConfig
from oneshot_steel.data.imageset import ImageSet
from oneshot_steel.divergence import COLLAPSE_TOLERANCE, embedding_spread
from oneshot_steel.errors import CheckpointError, TrainingDivergedError
from oneshot_steel.evaluate import embed, episodic_accuracy, pair_verification
from oneshot_steel.models import build_model
from oneshot_steel.supervised import train_cnn
from oneshot_steel.torch_io import write_companion_json
from oneshot_steel.train import (
    TrainConfig,
    load_checkpoint,
    train_classifier,
    train_episodic,
    train_siamese,
)

SMOKE = TrainConfig.preset("smoke", epochs=1)
RUN_FILES = ("model.pt", "best.pt", "history.json")


@pytest.fixture(scope="module")
def split() -> tuple[ImageSet, ImageSet]:
    """(train, val): 30 + 10 images of RS, Pa and In, 32x32 (as tests/package/test_train.py)."""
    seen = synthetic_imageset(32, 40).subset(["RS", "Pa", "In"])
    held_out = torch.arange(len(seen)) % 40 < 10
    return seen.select(torch.nonzero(~held_out).flatten()), seen.select(
        torch.nonzero(held_out).flatten()
    )


@pytest.fixture(scope="module")
def run(split, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A healthy one-epoch smoke run; read-only (copy its files before changing them)."""
    out = tmp_path_factory.mktemp("healthy")
    train_siamese(SMOKE, *split, out, device="cpu", progress=False)
    return out


def _contents(folder: Path) -> dict[str, bytes]:
    return {name: (folder / name).read_bytes() for name in RUN_FILES if (folder / name).exists()}


def _copy_run(run: Path, to: Path) -> Path:
    to.mkdir(parents=True, exist_ok=True)
    for name, data in _contents(run).items():
        (to / name).write_bytes(data)
    return to


def _one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "Traceback" not in err, err
    return err


# ------------------------------------------------------------------ 1. a blown-up run
def test_a_blown_up_run_is_never_saved_as_the_best(split, run: Path, tmp_path: Path) -> None:
    """The reproduction of issue 13: lr=1e10 makes BatchNorm's running variances infinite and
    every image gets one embedding, while the loss stays finite."""
    blown_up = TrainConfig.preset("smoke", lr=1e10, model="compact")
    with pytest.raises(TrainingDivergedError, match=r"epoch 1\b.*lower learning rate") as err:
        train_siamese(blown_up, *split, tmp_path / "fresh", device="cpu", progress=False)
    assert "No checkpoint was written" in str(err.value)
    assert not (tmp_path / "fresh" / "best.pt").exists()
    # Over a good run (resume=False): the last good checkpoint stays, byte for byte.
    folder = _copy_run(run, tmp_path / "kept")
    before = _contents(folder)
    with pytest.raises(TrainingDivergedError, match="kept unchanged"):
        train_siamese(blown_up, *split, folder, device="cpu", resume=False, progress=False)
    assert _contents(folder) == before
    net = load_checkpoint(folder)[0]
    assert embedding_spread(embed(net, split[1])) > 100 * COLLAPSE_TOLERANCE


class _IgnoresItsInput(nn.Module):
    """Finite weights, finite loss, and the same output for every image: a collapsed net."""

    def __init__(self, n_out: int = 3) -> None:
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(n_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bias.expand(x.shape[0], -1) + 0 * x.mean()


@pytest.mark.parametrize("with_val", [True, False])
def test_a_collapsed_net_is_caught_with_or_without_validation(split, with_val: bool) -> None:
    train, val = split
    config = CNNConfig.preset("smoke", epochs=1, batch_size=16, samples_per_epoch=32)
    with pytest.raises(TrainingDivergedError, match=r"epoch 1.*same (embedding|output)"):
        train_classifier(config, _IgnoresItsInput, train, val if with_val else None, progress=False)


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [
        ("compact", {"embedding_dim": 16, "width": 8}),
        ("compact", {"embedding_dim": 5, "width": 32}),
        ("paper", {"image_size": 32, "embedding_dim": 5}),
    ],
)
def test_an_untrained_net_is_far_from_collapsed(split, name: str, kwargs: dict) -> None:
    """The collapse criterion never trips on a healthy net, even before its first step."""
    for seed in range(3):
        torch.manual_seed(seed)
        spread = embedding_spread(embed(build_model(name, **kwargs), split[1]))
        assert spread > 100 * COLLAPSE_TOLERANCE, (name, seed, spread)


def test_embedding_spread_of_one_point_is_zero() -> None:
    one = torch.full((20, 5), 3.0e37)
    assert embedding_spread(one) == 0.0
    assert embedding_spread(torch.zeros(20, 5)) == 0.0
    assert embedding_spread(torch.randn(20, 5)) > 0.5


# ------------------------------------------------------------------ 2a. a write that fails
def _limit_file_size(limit: int) -> None:
    """In the child: files may not grow past ``limit`` bytes. SIGXFSZ would kill the process
    at the limit; ignored (as CPython also does at startup) the write fails with EFBIG."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


def test_a_checkpoint_that_cannot_be_written_is_one_line_and_keeps_the_last(
    tiny_neu_dir: Path, tmp_path: Path
) -> None:
    """``ulimit -f``: torch.save fails mid-file; the run says which file, removes its temporary
    file and leaves the previous epoch's checkpoint as it was."""
    from oneshot_steel.cli_args import _load_data
    from oneshot_steel.data.splits import PAPER_TRAIN_CLASSES, one_shot_split

    out = tmp_path / "run"
    data = _load_data(str(tiny_neu_dir), 32)  # as `train --image-size 32` will, seed 0
    test_classes = [c for c in data.classes if c not in PAPER_TRAIN_CLASSES]
    split = one_shot_split(data, list(PAPER_TRAIN_CLASSES), test_classes, 0.2, 0)
    config = TrainConfig.preset("smoke", seed=0, crop_size=0, epochs=1)
    train_siamese(config, split.train, split.val, out, device="cpu", progress=False)
    before = _contents(out)
    limit = len(before["model.pt"]) // 2
    src = str(Path(oneshot_steel.__file__).parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    argv = ["train", "--preset", "smoke", "--data", str(tiny_neu_dir), "--out", str(out)]
    argv += ["--image-size", "32", "--device", "cpu", "--no-progress"]
    done = subprocess.run(
        [sys.executable, "-m", "oneshot_steel", *argv],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        preexec_fn=lambda: _limit_file_size(limit),
    )
    err = done.stderr.strip().splitlines()
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and err[-1].startswith("error: "), done.stderr
    assert f"could not write {out / 'model.pt'}" in err[-1] and "--out" in err[-1], err[-1]
    assert sorted(p.name for p in out.iterdir()) == sorted(before)  # no temporary file left
    assert _contents(out) == before


# ------------------------------------------------------------------ 2b-d. unusable checkpoints
def _edited(run: Path, to: Path, edit, files: tuple[str, ...] = ("model.pt", "best.pt")) -> Path:
    folder = _copy_run(run, to)
    for name in files:
        payload = torch.load(folder / name, weights_only=True)
        edit(payload)
        torch.save(payload, folder / name)
    return folder / "model.pt"


def _evaluate(path: Path, tiny_neu_dir: Path) -> int:
    argv = ["evaluate", "--checkpoint", str(path), "--data", str(tiny_neu_dir)]
    return main([*argv, "--episodes", "20", "--queries", "3", "--device", "cpu"])


def test_unknown_model_setting_names_file_and_keyword(
    run: Path, tmp_path: Path, tiny_neu_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _edited(run, tmp_path, lambda p: p["model"]["kwargs"].update(bogus=1))
    for weights in ("best", "last"):
        with pytest.raises(CheckpointError, match=r"model\.pt.*'bogus'"):
            load_checkpoint(path, weights=weights)
    assert _evaluate(path, tiny_neu_dir) == 2
    err = _one_line_error(capsys)
    assert str(path) in err and "bogus" in err


def test_unknown_model_name_or_broken_model_entry(run: Path, tmp_path: Path) -> None:
    path = _edited(run, tmp_path / "a", lambda p: p["model"].update(name="vgg"))
    with pytest.raises(CheckpointError, match=r"model\.pt.*'vgg'"):
        load_checkpoint(path)
    path = _edited(run, tmp_path / "b", lambda p: p["model"].pop("kwargs"))
    with pytest.raises(CheckpointError, match=r"model\.pt"):
        load_checkpoint(path)


class Evil:
    """Stands for any pickled object: loading it would run code."""


def test_a_pickle_is_refused_without_suggesting_to_run_it(tmp_path: Path) -> None:
    path = tmp_path / "model.pt"
    torch.save({"weights": Evil()}, path)
    with pytest.raises(CheckpointError) as err:
        read_checkpoint(path)
    message = str(err.value)
    assert str(path) in message and "not a checkpoint this package wrote" in message
    assert "Evil" in message  # PyTorch's reason, without its advice
    assert "weights_only" not in message and "trust" not in message
    assert "\n" not in message and "\x1b" not in message


def test_a_truncated_checkpoint_keeps_the_first_line_of_the_reason(
    run: Path, tmp_path: Path
) -> None:
    path = tmp_path / "model.pt"
    path.write_bytes((run / "model.pt").read_bytes()[:1000])
    with pytest.raises(CheckpointError, match=r"model\.pt .*failed reading zip archive") as err:
        read_checkpoint(path)
    assert "\n" not in str(err.value) and "internal miniz error" not in str(err.value)


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_non_finite_weights_are_refused_on_load_naming_file_and_tensor(
    run: Path, tmp_path: Path, tiny_neu_dir: Path, capsys: pytest.CaptureFixture[str], value
) -> None:
    def poison(payload: dict) -> None:
        name = next(k for k in payload["state_dict"] if k.endswith("weight"))
        payload["state_dict"][name].view(-1)[0] = value

    path = _edited(run, tmp_path / "best", poison, files=("best.pt",))
    with pytest.raises(CheckpointError, match=r"best\.pt.*features\.\S+weight"):
        load_checkpoint(path)  # the file that holds the weights is named
    load_checkpoint(path, weights="last")
    path = _edited(run, tmp_path / "both", poison)
    with pytest.raises(CheckpointError, match=r"model\.pt.*features\.\S+weight"):
        load_checkpoint(path, weights="last")
    assert _evaluate(path, tiny_neu_dir) == 2
    err = _one_line_error(capsys)
    assert str(path.parent) in err and ("NaN" in err or "infinite" in err), err


def test_non_finite_embeddings_are_named_in_evaluation(split) -> None:
    """A net (not loaded from a checkpoint) whose embeddings are NaN: a clear error, not
    scikit-learn's "Input contains NaN" nor chance-level numbers."""
    net = build_model("compact", embedding_dim=4, width=8)
    with torch.no_grad():
        next(net.parameters()).fill_(float("nan"))
    with pytest.raises(ValueError, match=r"CompactEmbeddingNet hold NaN or infinite"):
        pair_verification(net, split[1], n_pairs=20)
    with pytest.raises(ValueError, match=r"CompactEmbeddingNet hold NaN or infinite"):
        OneShotClassifier(net).enroll(split[1])
    with pytest.raises(ValueError, match="NaN or infinite"):
        episodic_accuracy(torch.full((len(split[1]), 4), float("nan")), split[1], 3, 1, 2, 5)


# ------------------------------------------------------------------ 3. a class too small
def _with_one_cr() -> ImageSet:
    """The training images of RS and Pa, and a single image of Cr (label 2)."""
    data = synthetic_imageset(32, 30).subset(["RS", "Pa", "Cr"])
    first_cr = torch.nonzero(data.labels == 2).flatten()[:1]
    return data.select(torch.cat([torch.nonzero(data.labels < 2).flatten(), first_cr]))


def test_a_class_too_small_for_training_is_named(split, tmp_path: Path) -> None:
    small = _with_one_cr()
    with pytest.raises(ValueError, match=r"'Cr': 1") as err:
        train_siamese(SMOKE, small, None, tmp_path / "a", device="cpu", progress=False)
    assert "2: 1" not in str(err.value)
    with pytest.raises(ValueError, match=r"'Cr' \(1\)"):
        train_episodic(SMOKE, small, None, tmp_path / "b", device="cpu", progress=False)
    assert not list(tmp_path.iterdir())  # nothing written


# ------------------------------------------------------------------ 4. the same, elsewhere
def test_a_corrupt_history_is_named(run: Path, tmp_path: Path) -> None:
    folder = _copy_run(run, tmp_path)
    (folder / "history.json").write_text('{"epoch": [1', encoding="utf-8")
    with pytest.raises(CheckpointError, match=r"history\.json.*delete"):
        read_history(folder)


def test_a_json_twin_that_cannot_be_written_is_removed(tmp_path: Path) -> None:
    """history.json (cnn.json) an epoch behind its checkpoint would be trusted by plots and
    reports: when the new one cannot be written, the old one goes too."""
    path = tmp_path / "history.json"
    write_companion_json(path, {"epoch": [1]})
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (64, hard))  # soft limit only: lifted below
    try:
        with pytest.raises(CheckpointError, match=r"could not write \S+history\.json: file too"):
            write_companion_json(path, {"epoch": list(range(100))})
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    assert not list(tmp_path.iterdir())  # neither the stale file nor a temporary one


def test_divergence_in_a_cnn_keeps_nothing(split) -> None:
    train, val = split
    config = CNNConfig.preset("smoke", model="compact", epochs=1, lr=1e10, samples_per_epoch=64)
    build = lambda: build_model("compact", embedding_dim=3, width=8)  # noqa: E731
    with pytest.raises(TrainingDivergedError, match="epoch 1"):
        train_classifier(config, build, train, val, device="cpu", progress=False)


def test_resume_from_a_blown_up_checkpoint_is_refused(run: Path, split, tmp_path: Path) -> None:
    """A model.pt from before these checks, with infinite BatchNorm variances, is not resumed."""

    def blow_up(payload: dict) -> None:
        name = next(k for k in payload["state_dict"] if k.endswith("running_var"))
        payload["state_dict"][name].fill_(float("inf"))

    path = _edited(run, tmp_path, blow_up)
    with pytest.raises(
        CheckpointError, match=r"model\.pt holds NaN or infinite values in \S+running_var"
    ):
        train_siamese(replace(SMOKE, epochs=2), *split, path.parent, progress=False)


def test_evaluating_a_collapsed_checkpoint_warns(
    run: Path, tmp_path: Path, tiny_neu_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Finite but absurd BatchNorm variances (a run that blew up before these checks): every
    image gets one embedding, and the numbers are chance. Evaluation says so."""

    def flatten(payload: dict) -> None:
        for name, t in payload["state_dict"].items():
            if name.endswith("running_var"):
                t.fill_(1e30)

    path = _edited(run, tmp_path, flatten)
    capsys.readouterr()
    assert _evaluate(path, tiny_neu_dir) == 0
    err = capsys.readouterr().err
    assert "warning: every image gets the same embedding" in err and str(path) in err
    assert _evaluate(run, tiny_neu_dir) == 0
    assert "same embedding" not in capsys.readouterr().err


@pytest.mark.parametrize("damage", ["nan", "result", "pickle"])
def test_a_cnn_checkpoint_that_cannot_be_used_is_named(split, tmp_path: Path, damage: str):
    train, val = split
    config = CNNConfig.preset("smoke", epochs=1, batch_size=16, samples_per_epoch=32)
    train_cnn(train, val, config, device="cpu", out_dir=tmp_path, progress=False)
    path = tmp_path / "cnn.pt"
    blob = torch.load(path, weights_only=True)
    if damage == "nan":
        next(iter(blob["state_dict"].values())).view(-1)[0] = float("nan")
    elif damage == "result":
        blob["result"]["bogus"] = 1
    else:
        blob = {"model": Evil()}
    torch.save(blob, path)
    match = {"nan": "NaN or infinite values in", "result": "bogus", "pickle": "not a checkpoint"}
    with pytest.raises(CheckpointError, match=rf"cnn\.pt.*{match[damage]}"):
        train_cnn(train, val, config, device="cpu", out_dir=tmp_path, progress=False)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("epochs", 0),
        ("checkpoint_every", 0),
        ("batch_size", 0),
        ("pairs_per_epoch", -1),
        ("embedding_dim", 0),
        ("lr", float("nan")),
        ("lr", -1e-3),
        ("margin", 0.0),
        ("p_same", 1.5),
        ("crop_size", -1),
        ("temperature", 0.0),
        ("ssl_batch", 1),
        ("betas", (0.9, 1.0)),
        ("model", "vgg"),
    ],
)
def test_a_setting_no_run_can_use_is_refused_at_once(field: str, value) -> None:
    """epochs=0 trained nothing and wrote nothing; checkpoint_every=0 divided by zero after
    the first epoch; batch_size=0 failed deep in torch. Now: a ValueError naming the field."""
    with pytest.raises(
        ValueError, match=rf"TrainConfig\.{field} must be .*got {re.escape(repr(value))}"
    ):
        TrainConfig.preset("smoke", **{field: value})


@pytest.mark.parametrize(
    ("field", "value"),
    [("epochs", 0), ("batch_size", 0), ("samples_per_epoch", 0), ("lr", float("inf"))],
)
def test_a_cnn_setting_no_run_can_use_is_refused_at_once(field: str, value) -> None:
    with pytest.raises(
        ValueError, match=rf"CNNConfig\.{field} must be .*got {re.escape(repr(value))}"
    ):
        CNNConfig.preset("smoke", **{field: value})


@pytest.mark.parametrize(("crop", "match"), [(64, "larger than the 32x32"), (8, "at least 32")])
def test_a_crop_the_net_cannot_use_is_refused(split, tmp_path: Path, crop: int, match: str):
    """A crop larger than the images silently trained on whole images; a crop smaller than
    the net takes failed in the first step with a message about the net, not the crop."""
    config = replace(SMOKE, crop_size=crop)
    with pytest.raises(ValueError, match=rf"crop_size={crop}.*{match}"):
        train_siamese(config, *split, tmp_path, device="cpu", progress=False)


def test_an_empty_or_too_small_validation_set_is_named(split, tmp_path: Path) -> None:
    train, val = split
    with pytest.raises(ValueError, match="val_set holds no images"):
        train_siamese(SMOKE, train, val.select([]), tmp_path, device="cpu", progress=False)
    first_rs = torch.nonzero(val.labels == 0).flatten()[:1]
    one_rs = val.select(torch.cat([torch.nonzero(val.labels != 0).flatten(), first_rs]))
    with pytest.raises(ValueError, match=r"validation set \(21 images\).*'RS': 1"):
        train_siamese(SMOKE, train, one_rs, tmp_path, device="cpu", progress=False)


def test_train_without_validation_from_the_cli(
    tiny_neu_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["train", "--preset", "smoke", "--data", str(tiny_neu_dir), "--out", str(tmp_path)]
    argv += ["--image-size", "32", "--device", "cpu", "--no-progress", "--val-fraction", "0"]
    assert main(argv) == 0, capsys.readouterr().err
    history = read_history(tmp_path)
    assert history["val_loss"] == [None, None] and history["best_epoch"] == 2
