"""The paper's baselines: KNN protocol, raw-pixel and LBP episodes, the CNN, Table 3."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from oneshot_steel.baselines import (
    CNNConfig,
    knn_paper_protocol,
    lbp_episodic,
    lbp_features,
    raw_pixel_episodic,
    raw_pixels,
    table3,
    train_cnn,
)
from oneshot_steel.data import load_neu
from oneshot_steel.data.imageset import ImageSet
from oneshot_steel.data.splits import stratified_split
from oneshot_steel.data.synthetic import make_synthetic
from oneshot_steel.errors import DataError
from oneshot_steel.train import TrainConfig


@pytest.fixture(scope="module")
def synth32(tmp_path_factory: pytest.TempPathFactory) -> ImageSet:
    """240 synthetic NEU-named images (40 per class) at 32x32: enough for real training."""
    root = make_synthetic(tmp_path_factory.mktemp("synth40") / "neu", seed=0, n_per_class=40)
    return load_neu(root, size=32)


def _constant_classes(n_per_class: int = 10, size: int = 16) -> ImageSet:
    """Class c = images of constant gray 40 * c (plus tiny noise): trivially separable."""
    labels = torch.arange(6).repeat_interleave(n_per_class)
    noise = torch.randint(0, 3, (len(labels), 1, size, size))
    images = (labels[:, None, None, None] * 40 + noise).to(torch.uint8)
    names = ["Cr", "In", "Pa", "PS", "RS", "Sc"]
    paths = [f"/x/{names[c]}_{i % n_per_class + 1}.bmp" for i, c in enumerate(labels.tolist())]
    return ImageSet(images, labels, names, paths, synthetic=True)


def test_raw_pixels_halving_is_2x2_average() -> None:
    # Bilinear resizing by exactly 1/2 with half-pixel centres (what cv2.resize does) samples
    # midway between pixel pairs: each output pixel is the mean of a 2x2 block, rounded.
    images = torch.randint(0, 256, (5, 1, 64, 64), dtype=torch.uint8)
    expected = torch.nn.functional.avg_pool2d(images.double(), 2).flatten(1)
    got = raw_pixels(images, 32)
    assert got.shape == (5, 32 * 32) and got.dtype == torch.float32
    assert torch.allclose(got.double(), expected.round(), atol=1.0)  # half-way rounding only
    assert (got.double() - expected).abs().max() <= 0.5 + 1e-9


def test_knn_paper_protocol_on_synthetic(tiny_set: ImageSet) -> None:
    result = knn_paper_protocol(tiny_set)
    assert [Path(p).stem for p in result.supports] == [
        "Cr_1",
        "In_1",
        "Pa_1",
        "PS_1",
        "RS_1",
        "Sc_1",
    ]
    assert result.n_total == len(tiny_set)  # scored on every image, supports included
    assert 0.0 <= result.accuracy <= 1.0 and result.chance == pytest.approx(1 / 6)
    assert sum(map(sum, result.confusion)) == len(tiny_set)
    # Independent check: nearest support by Euclidean distance on the same pixel vectors.
    x = raw_pixels(tiny_set.images, 32)
    sup = [tiny_set.paths.index(p) for p in result.supports]
    pred = tiny_set.labels[sup][torch.cdist(x, x[sup]).argmin(1)]
    assert result.n_correct == int((pred == tiny_set.labels).sum())
    assert all(result.correct[i] for i in sup)  # each support is its own nearest neighbour


def test_knn_paper_protocol_separable_classes() -> None:
    result = knn_paper_protocol(_constant_classes())
    assert result.accuracy == 1.0


def test_knn_paper_protocol_names_the_missing_support(tiny_set: ImageSet) -> None:
    without = tiny_set.select([i for i, p in enumerate(tiny_set.paths) if Path(p).stem != "PS_1"])
    with pytest.raises(DataError, match="PS_1"):
        knn_paper_protocol(without)


@pytest.mark.neu
def test_knn_paper_protocol_reproduces_the_paper(real_neu_dir: Path) -> None:
    # The paper reports 28.22 %; of all k/1800 only k = 508 rounds to 28.22 %, so matching it
    # to two decimals is an exact reproduction. The authors resized the 200x200 files directly.
    native = knn_paper_protocol(load_neu(real_neu_dir, size=200))
    assert native.n_total == 1800
    assert round(100 * native.accuracy, 2) == 28.22
    # From the book's 100x100 set (one extra anti-aliased resize) it moves by under a point.
    assert abs(knn_paper_protocol(load_neu(real_neu_dir, size=100)).accuracy - 0.2822) < 0.01


def test_raw_pixel_episodic_perfect_on_separable_classes() -> None:
    data = _constant_classes().subset(["Cr", "PS", "Sc"])
    result = raw_pixel_episodic(data, n_way=3, k_shot=1, n_query=5, n_episodes=50, seed=0, size=8)
    assert result.mean == 1.0 and result.chance == pytest.approx(1 / 3)
    assert result.n_episodes == 50 and result.classes == ["Cr", "PS", "Sc"]


def test_raw_pixel_episodic_is_seeded(tiny_set: ImageSet) -> None:
    a = raw_pixel_episodic(tiny_set, 3, 1, 5, 40, seed=3)
    b = raw_pixel_episodic(tiny_set, 3, 1, 5, 40, seed=3)
    assert torch.equal(a.per_episode, b.per_episode)
    assert 0.0 <= a.mean <= 1.0


def test_lbp_features_are_hellinger_ready_and_rotation_robust(tiny_set: ImageSet) -> None:
    feats = lbp_features(tiny_set.images)
    assert feats.shape == (len(tiny_set), 3 * 10)
    blocks = feats.view(len(tiny_set), 3, 10)
    assert torch.allclose((blocks**2).sum(-1), torch.ones(len(tiny_set), 3), atol=1e-5)
    rotated = lbp_features(torch.rot90(tiny_set.images, 1, dims=(2, 3)).contiguous())
    assert (feats - rotated).abs().max() < 0.05  # uniform LBP is (nearly) rotation invariant


def test_lbp_episodic_beats_chance_on_textures(synth32: ImageSet) -> None:
    result = lbp_episodic(synth32.subset(["Cr", "PS", "Sc"]), 3, 1, 10, 200, seed=0)
    assert result.mean - result.ci95 > result.chance


def test_cnn_learns_above_chance(
    synth32: ImageSet, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    train, test = stratified_split(synth32, test_fraction=0.25, seed=0)
    config = CNNConfig.preset("smoke", epochs=10, samples_per_epoch=None)
    result = train_cnn(train, test, config, device="cpu", out_dir=tmp_path, progress=False)
    assert result.chance == pytest.approx(1 / 6) and result.n_total == len(test)
    assert result.history["train_loss"][-1] < result.history["train_loss"][0]
    assert result.accuracy > result.chance + 0.1
    assert len(result.confusion) == 6 and sum(map(sum, result.confusion)) == len(test)
    # A second call with the same config and data reuses the stored run.
    assert "Loaded the CNN result" not in capsys.readouterr().out
    again = train_cnn(train, test, config, device="cpu", out_dir=tmp_path, progress=False)
    assert f"Loaded the CNN result from {tmp_path / 'cnn.pt'}" in capsys.readouterr().out
    assert again.accuracy == result.accuracy and again.history == result.history
    assert (tmp_path / "cnn.pt").is_file() and (tmp_path / "cnn.json").is_file()


def test_table3_scores_both_models_on_the_same_split(synth32: ImageSet, tmp_path: Path) -> None:
    out = table3(
        synth32,
        TrainConfig.preset("smoke"),
        CNNConfig.preset("smoke"),
        tmp_path,
        seed=1,
        device="cpu",
        progress=False,
    )
    siamese, cnn = out["siamese"], out["cnn"]
    assert siamese.n_total == cnn.n_total == 48  # 20 % of 40 per class, six classes
    assert siamese.chance == cnn.chance == pytest.approx(1 / 6)
    assert 0.0 <= siamese.accuracy <= 1.0 and 0.0 <= cnn.accuracy <= 1.0
    assert (tmp_path / "siamese" / "model.pt").is_file()
