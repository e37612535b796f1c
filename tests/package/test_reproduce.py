"""The Tables 2/3 runner: every protocol row, chance levels, paper figures, cheap re-runs."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path

import pytest

from oneshot_steel.baselines import CNNConfig
from oneshot_steel.data import load_neu
from oneshot_steel.data.imageset import ImageSet
from oneshot_steel.data.synthetic import make_synthetic
from oneshot_steel.errors import UnknownClassError
from oneshot_steel.reproduce import ROWS, reproduce
from oneshot_steel.train import TrainConfig

CHANCE = {
    "pair_margin": 0.5,
    "pair_val_threshold": 0.5,
    "knn_paper": 1 / 6,
    "cnn_6way": 1 / 6,
    "siamese_6way": 1 / 6,
}
PAPER = {"pair_margin": 0.8322, "knn_paper": 0.2822, "cnn_6way": 0.9324, "siamese_6way": 0.9255}


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> ImageSet:
    """180 synthetic NEU-named images (30 per class) at 32x32: 5-shot + 15 queries fit."""
    root = make_synthetic(tmp_path_factory.mktemp("synth30") / "neu", seed=0, n_per_class=30)
    return load_neu(root, size=32)


@pytest.fixture(scope="module")
def smoke_run(
    synth: ImageSet, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, dict, float]:
    out = tmp_path_factory.mktemp("reproduce")
    t0 = time.perf_counter()
    results = reproduce("smoke", synth, out, seeds=(0, 1), device="cpu", progress=False)
    return out, results, time.perf_counter() - t0


def test_writes_every_protocol_row(smoke_run: tuple[Path, dict, float]) -> None:
    out, results, _ = smoke_run
    on_disk = json.loads((out / "results.json").read_text())
    assert on_disk == json.loads(json.dumps(results))  # the file is what was returned
    rows = {r["id"]: r for r in on_disk["rows"]}
    assert set(rows) == set(ROWS)
    for key, row in rows.items():
        assert row["chance"] == pytest.approx(CHANCE.get(key, 1 / 3))
        assert row["paper"] == PAPER.get(key)
        assert 0.0 <= row["min"] <= row["mean"] <= row["max"] <= 1.0
        assert row["ci_over"] in {"episodes", "pairs", "images"} and row["ci95"] > 0
        expected_runs = 1 if key == "knn_paper" else 2  # the KNN protocol has no randomness
        assert row["n_seeds"] == len(row["per_seed"]) == expected_runs
    assert rows["pair_margin"]["classes"] == ["Cr", "PS", "Sc"]
    assert rows["cnn_6way"]["classes"] == ["Cr", "In", "Pa", "PS", "RS", "Sc"]
    assert on_disk["data"]["synthetic"] is True and on_disk["seeds"] == [0, 1]


def test_markdown_report(smoke_run: tuple[Path, dict, float]) -> None:
    out, results, _ = smoke_run
    md = (out / "results.md").read_text()
    assert "SYNTHETIC" in md
    for row in results["rows"]:
        assert row["protocol"] in md
    for figure in ("83.2", "28.2", "93.2", "92.5"):
        assert figure in md
    assert md.count("\n| ") == len(results["rows"]) + 1  # header + one line per protocol


def test_rerun_reuses_models_and_agrees(
    smoke_run: tuple[Path, dict, float], synth: ImageSet, capsys: pytest.CaptureFixture[str]
) -> None:
    out, first, first_s = smoke_run
    again = reproduce("smoke", synth, out, seeds=(0, 1), device="cpu", progress=False)
    assert "Loaded the trained model" in capsys.readouterr().out
    means = {r["id"]: r["mean"] for r in first["rows"]}
    assert {r["id"]: r["mean"] for r in again["rows"]} == means  # seeded end to end


def test_rejects_bad_arguments(synth: ImageSet, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="preset"):
        reproduce("full", synth, tmp_path)
    with pytest.raises(ValueError, match="seeds"):
        reproduce("smoke", synth, tmp_path, seeds=(1, 1))
    with pytest.raises(ValueError, match="disjoint"):
        reproduce("smoke", synth, tmp_path, train_classes=("RS", "Cr"))
    with pytest.raises(ValueError, match="at least 3"):
        reproduce("smoke", synth, tmp_path, test_classes=("Cr", "PS"))
    with pytest.raises(UnknownClassError):
        reproduce("smoke", synth, tmp_path, train_classes=("RS", "Zz"))
    with pytest.raises(TypeError, match="cnn_config"):
        reproduce("smoke", synth, tmp_path, cnn_config=TrainConfig.preset("smoke"))
    assert not (tmp_path / "results.json").exists()  # refused before any work


def test_records_the_settings_used(smoke_run: tuple[Path, dict, float]) -> None:
    out, results, _ = smoke_run
    assert results["train_classes"] == ["RS", "Pa", "In"]
    assert results["test_classes"] == ["Cr", "PS", "Sc"]
    cfg = results["config"]
    assert cfg["siamese"] == cfg["table3_siamese"] == TrainConfig.preset("smoke").to_dict()
    assert cfg["cnn"] == CNNConfig.preset("smoke").to_dict()
    md = (out / "results.md").read_text()
    assert "train RS/Pa/In, test Cr/PS/Sc" in md and "CNN: paper model" in md


def test_overrides_train_with_other_settings(synth: ImageSet, tmp_path: Path) -> None:
    siamese = TrainConfig.preset("smoke", epochs=1, pairs_per_epoch=64, val_pairs=32)
    t3 = replace(siamese, pairs_per_epoch=32)
    cnn = CNNConfig.preset("smoke", epochs=1, samples_per_epoch=64)
    classes = {"train_classes": ("Cr", "Pa"), "test_classes": ("In", "PS", "RS", "Sc")}
    results = reproduce(
        "smoke", synth, tmp_path, seeds=(0,), device="cpu", progress=False,
        siamese_config=siamese, table3_siamese_config=t3, cnn_config=cnn, **classes,
    )  # fmt: skip
    assert results["config"] == {
        "siamese": siamese.to_dict(), "table3_siamese": t3.to_dict(), "cnn": cnn.to_dict()
    }  # fmt: skip
    rows = {r["id"]: r for r in results["rows"]}
    assert rows["pair_margin"]["classes"] == ["In", "PS", "RS", "Sc"]
    assert (tmp_path / "oneshot-Cr-Pa" / "seed0" / "model.pt").is_file()
    assert not (tmp_path / "oneshot").exists()  # the paper split's runs are kept apart
    assert len(rows["cnn_6way"]["per_seed"][0]["confusion"]) == 6
