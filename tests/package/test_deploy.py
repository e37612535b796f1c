"""Deployment helpers: the rejection trade-off, int8 weights, timing, TorchScript and ONNX export."""

from __future__ import annotations

import importlib.util
import resource
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import oneshot_steel.export as export
from oneshot_steel.augment import to_model_input
from oneshot_steel.classifier import OneShotClassifier
from oneshot_steel.deploy import (
    OnnxEmbeddingNet,
    cheapest_threshold,
    export_onnx,
    export_torchscript,
    load_torchscript,
    model_size_bytes,
    quantize_dynamic_int8,
    rejection_curve,
    time_inference,
)
from oneshot_steel.errors import OneShotSteelError
from oneshot_steel.evaluate import best_threshold, embed
from oneshot_steel.metric import add_coarse_view, fit_centres, fit_whitening
from oneshot_steel.models import CompactEmbeddingNet, PaperEmbeddingNet


def _distances(seed: int = 0, n_known: int = 80, n_unknown: int = 40):
    g = torch.Generator().manual_seed(seed)
    known = (1.0 + 0.4 * torch.randn(n_known, generator=g)).abs()
    unknown = (1.7 + 0.5 * torch.randn(n_unknown, generator=g)).abs()
    return known, unknown


def _brute_force(known: torch.Tensor, unknown: torch.Tensor, t: float) -> tuple[int, int]:
    """(false accepts, false rejects) at threshold t, one part at a time."""
    fa = sum(1 for d in unknown.tolist() if d <= t)
    fr = sum(1 for d in known.tolist() if d > t)
    return fa, fr


@pytest.fixture(scope="module")
def compact() -> nn.Module:
    torch.manual_seed(0)
    return CompactEmbeddingNet(embedding_dim=8, width=4).eval()


@pytest.fixture(scope="module")
def images() -> torch.Tensor:
    g = torch.Generator().manual_seed(1)
    return torch.randint(0, 256, (12, 1, 40, 40), generator=g, dtype=torch.uint8)


# ----------------------------------------------------------------------------- operating point
def test_rejection_curve_counts_every_threshold_like_a_loop() -> None:
    known, unknown = _distances()
    curve = rejection_curve(known, unknown)
    assert curve.n_known == 80 and curve.n_unknown == 40
    assert len(curve.thresholds) == len(torch.unique(torch.cat([known, unknown]))) + 1
    rows = zip(curve.thresholds.tolist(), curve.false_accept, curve.false_reject, strict=True)
    for t, far, frr in rows:
        fa, fr = _brute_force(known, unknown, t)
        assert float(far) == pytest.approx(fa / 40) and float(frr) == pytest.approx(fr / 80)
    assert float(curve.false_accept[0]) == 0 and float(curve.false_reject[0]) == 1
    assert float(curve.false_accept[-1]) == 1 and float(curve.false_reject[-1]) == 0
    assert torch.all(curve.false_accept.diff() >= 0) and torch.all(curve.false_reject.diff() <= 0)


def test_rejection_curve_at_given_thresholds_and_ties() -> None:
    known = torch.tensor([0.5, 1.0, 1.0, 2.0])
    unknown = torch.tensor([1.0, 3.0])
    curve = rejection_curve(known, unknown, thresholds=[2.5, 1.0, 0.0])  # unsorted on purpose
    assert curve.thresholds.tolist() == [0.0, 1.0, 2.5]
    # d <= t is accepted: at t = 1.0 the tied known parts and the tied unknown part are accepted
    assert curve.false_accept.tolist() == [0.0, 0.5, 0.5]
    assert curve.false_reject.tolist() == [1.0, 0.25, 0.0]


@pytest.mark.parametrize("bad", [[], [0.5, float("nan")], [float("inf")]])
def test_rejection_curve_refuses_empty_or_non_finite(bad: list[float]) -> None:
    with pytest.raises(ValueError, match="d_unknown"):
        rejection_curve([1.0, 2.0], bad)


@pytest.mark.parametrize(("cost_fa", "cost_fr"), [(1.0, 1.0), (10.0, 1.0), (1.0, 10.0), (0.0, 1.0)])
def test_cheapest_threshold_is_the_minimum_over_all_thresholds(cost_fa: float, cost_fr: float):
    known, unknown = _distances(seed=3)
    t, cost = cheapest_threshold(known, unknown, cost_fa, cost_fr)
    fa, fr = _brute_force(known, unknown, t)
    assert cost == pytest.approx(cost_fa * fa + cost_fr * fr)
    grid = np.linspace(-1.0, 5.0, 3001)  # no threshold anywhere does better
    best = min(
        cost_fa * a + cost_fr * r for a, r in (_brute_force(known, unknown, g) for g in grid)
    )
    assert cost <= best + 1e-9


def test_costs_move_the_threshold_the_right_way() -> None:
    known, unknown = _distances(seed=4)
    t_equal = cheapest_threshold(known, unknown)[0]
    assert cheapest_threshold(known, unknown, 10.0, 1.0)[0] <= t_equal  # fear false accepts
    assert cheapest_threshold(known, unknown, 1.0, 10.0)[0] >= t_equal  # fear false rejects


def test_equal_costs_match_the_accuracy_rule_of_evaluate() -> None:
    known, unknown = _distances(seed=5)
    t, cost = cheapest_threshold(known, unknown)
    d = torch.cat([known, unknown])
    accept = torch.cat([torch.ones(len(known)), torch.zeros(len(unknown))])
    _, accuracy = best_threshold(d, accept)
    assert 1 - cost / len(d) == pytest.approx(accuracy)


def test_separable_distances_cost_nothing() -> None:
    t, cost = cheapest_threshold([0.1, 0.2, 0.3], [1.0, 2.0])
    assert cost == 0 and 0.3 <= t < 1.0


def test_cheapest_threshold_refuses_negative_costs() -> None:
    with pytest.raises(ValueError, match="cost_false_accept=-1"):
        cheapest_threshold([1.0], [2.0], -1.0, 1.0)


# ----------------------------------------------------------------------------- int8 and size
def test_quantize_dynamic_int8_converts_linear_layers_of_a_copy() -> None:
    torch.manual_seed(0)
    net = PaperEmbeddingNet(image_size=32, embedding_dim=5).eval()
    before = net.net.fc1.weight.detach().clone()
    q = quantize_dynamic_int8(net)
    assert isinstance(net.net.fc1, nn.Linear) and torch.equal(net.net.fc1.weight, before)
    assert type(q.net.fc1).__module__.startswith("torch.ao.nn.quantized.dynamic")
    assert q.net.fc1.weight().dtype == torch.qint8
    assert isinstance(q.net.conv1, nn.Conv2d)  # convolutions stay float32
    x = torch.rand(6, 1, 32, 32) * 2 - 1
    with torch.no_grad():
        ref, got = net(x), q(x)
    assert torch.linalg.vector_norm(got - ref) <= 0.05 * torch.linalg.vector_norm(ref)
    # fc1 holds nearly all weights: int8 makes the file close to 4x smaller
    assert model_size_bytes(net) / model_size_bytes(q) > 3.5


def test_model_size_bytes_grows_with_the_weights() -> None:
    small, large = nn.Linear(10, 10), nn.Linear(100, 100)
    assert model_size_bytes(large) > 4 * 100 * 100 > model_size_bytes(small) > 4 * 110


# ----------------------------------------------------------------------------- timing
def test_time_inference_times_every_repeat_and_restores_the_mode(compact: nn.Module) -> None:
    compact.train()
    t = time_inference(compact, batch_size=3, image_size=40, repeats=4, warmup=1)
    assert compact.training
    compact.eval()
    assert t.seconds.shape == (4,) and np.all(t.seconds > 0)
    assert t.batch_size == 3 and t.device == "cpu"
    assert t.ms_per_image == pytest.approx(1e3 * np.median(t.seconds) / 3)
    assert t.images_per_second == pytest.approx(3 / np.median(t.seconds))
    lo, hi = t.ms_per_image_quartiles()
    assert lo <= t.ms_per_image <= hi
    lo, hi = t.images_per_second_quartiles()
    assert lo <= t.images_per_second <= hi


def test_time_inference_refuses_bad_arguments(compact: nn.Module) -> None:
    with pytest.raises(ValueError, match="batch_size >= 1"):
        time_inference(compact, batch_size=0)
    with pytest.raises(ValueError, match="num_threads >= 1"):
        time_inference(compact, num_threads=0)


def test_time_inference_sets_threads_for_the_measurement_only(compact: nn.Module) -> None:
    before = torch.get_num_threads()
    seen = []
    probe = nn.Sequential(nn.Flatten(), nn.Linear(40 * 40, 2))
    probe.register_forward_hook(lambda *_: seen.append(torch.get_num_threads()))
    time_inference(probe, image_size=40, repeats=2, warmup=1, num_threads=1)
    assert seen == [1, 1, 1] and torch.get_num_threads() == before


# ----------------------------------------------------------------------------- export
def test_torchscript_round_trip_gives_the_same_embeddings(
    compact: nn.Module, images: torch.Tensor, tmp_path: Path
) -> None:
    path = export_torchscript(compact, tmp_path / "net.pt", image_size=40)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net.pt"]  # no temporary file left
    scripted = load_torchscript(path)
    torch.testing.assert_close(embed(scripted, images), embed(compact, images))
    # traced on a batch of 2 at 40x40; other batch sizes and image sizes run the same graph
    bigger = torch.randint(0, 256, (5, 1, 64, 64), dtype=torch.uint8)
    torch.testing.assert_close(embed(scripted, bigger), embed(compact, bigger))
    clf = OneShotClassifier(scripted).enroll(images[:3], labels=[0, 1, 2])
    ref = OneShotClassifier(compact).enroll(images[:3], labels=[0, 1, 2])
    assert torch.equal(clf.predict(images)[0], ref.predict(images)[0])


def test_torchscript_file_loads_without_the_package(compact: nn.Module, tmp_path: Path) -> None:
    path = export_torchscript(compact, tmp_path / "net.pt", image_size=40)
    code = (
        "import sys, torch; assert 'oneshot_steel' not in sys.modules; "
        f"m = torch.jit.load({str(path)!r}); print(tuple(m(torch.zeros(2, 1, 40, 40)).shape))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().endswith("(2, 8)")


def test_load_torchscript_names_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(OneShotSteelError, match="nothing.pt"):
        load_torchscript(tmp_path / "nothing.pt")


@contextmanager
def _file_size_limit(limit: int) -> Iterator[None]:
    """Files this process writes may not grow past ``limit`` bytes (the soft limit only, so
    it can be lifted again). CPython ignores SIGXFSZ, so such a write fails with EFBIG."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))


def test_an_export_that_cannot_be_written_names_the_file_and_keeps_the_old(
    compact: nn.Module, tmp_path: Path
) -> None:
    path = export_torchscript(compact, tmp_path / "net.pt", image_size=40)
    before = path.read_bytes()
    with _file_size_limit(len(before) // 2), pytest.raises(OneShotSteelError) as err:
        export_torchscript(PaperEmbeddingNet(image_size=40), path, image_size=40)
    assert str(err.value).startswith(f"could not write {path}:")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net.pt"] and path.read_bytes() == before


def test_a_file_that_is_no_export_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "net.pt"
    bad.write_bytes(b"not a model" * 100)
    with pytest.raises(OneShotSteelError, match=r"net\.pt is not a TorchScript file"):
        load_torchscript(bad)
    pytest.importorskip("onnx")
    with pytest.raises(OneShotSteelError, match=r"net\.pt is not an ONNX model"):
        OnnxEmbeddingNet(bad)


def test_onnx_export_without_onnx_says_what_to_install(
    compact: nn.Module, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(export, "onnx_available", lambda: False)
    with pytest.raises(OneShotSteelError, match="pip install onnx"):
        export_onnx(compact, tmp_path / "net.onnx")
    assert not (tmp_path / "net.onnx").exists()


def test_onnx_round_trip_gives_the_same_embeddings(
    compact: nn.Module, images: torch.Tensor, tmp_path: Path
) -> None:
    pytest.importorskip("onnx")
    path = export_onnx(compact, tmp_path / "net.onnx", image_size=40)
    net = OnnxEmbeddingNet(path)
    if importlib.util.find_spec("onnxruntime") is not None:  # the `onnx` extra installs it
        assert net.runtime == "onnxruntime"
    torch.testing.assert_close(embed(net, images), embed(compact, images), atol=1e-5, rtol=1e-5)
    assert net(torch.zeros(1, 1, 40, 40)).shape == (1, 8)  # free batch dimension


@pytest.mark.parametrize("fmt", ["torchscript", "onnx"])
def test_a_net_with_a_coarse_view_exports_both_views(fmt: str, tmp_path: Path) -> None:
    """Chapter 10 ships a coarse-view net like any other: its second view's statistics are
    buffers, so the exported file returns the same joined, whitened features."""
    if fmt == "onnx":
        pytest.importorskip("onnx")
    torch.manual_seed(0)
    net = CompactEmbeddingNet(8, 4, centre=True, within_class=True).eval()
    grid = torch.randint(0, 256, (40, 1, 5, 5)).float()  # smooth textures, like images
    images = nn.functional.interpolate(grid, size=64, mode="bilinear").round().to(torch.uint8)
    with torch.no_grad():  # statistics of four made-up training classes, as training fits them
        views = net.raw_views(to_model_input(images[:32]))
        fit_centres(net, views)
        fit_whitening(net, views, torch.arange(32) % 4, 1.0)
    net = add_coarse_view(net, images[:32], torch.arange(32) % 4, 1.0)
    assert not torch.allclose(net.coarse_metric, torch.eye(8))  # the view's own statistics
    if fmt == "torchscript":
        shipped = load_torchscript(export_torchscript(net, tmp_path / "net.pt", image_size=64))
    else:
        shipped = OnnxEmbeddingNet(export_onnx(net, tmp_path / "net.onnx", image_size=64))
    queries = images[32:]
    torch.testing.assert_close(embed(shipped, queries), embed(net, queries), atol=1e-5, rtol=1e-5)
    assert embed(shipped, queries).shape == (8, 16)  # both views, joined


def test_onnx_net_names_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(OneShotSteelError, match="missing.onnx"):
        OnnxEmbeddingNet(tmp_path / "missing.onnx")


# ------------------------------------------------------------------ the ch09 and ch10 checks
def test_ch09_check_passes_a_right_answer_and_explains_a_wrong_one(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from oneshot_steel.checks import CheckFailed, check

    def right(d_known, d_unknown, cost_fa, cost_fr):
        return cheapest_threshold(d_known, d_unknown, cost_fa, cost_fr)[0]

    def ignores_costs(d_known, d_unknown, cost_fa, cost_fr):
        return cheapest_threshold(d_known, d_unknown)[0]

    assert check("ch09.cheapest_threshold", right)
    assert "pass" in capsys.readouterr().out
    with pytest.raises(CheckFailed, match=r"(?s)costs 10 per false accept.*Hint"):
        check("ch09.cheapest_threshold", ignores_costs)
    assert not check("ch09.cheapest_threshold", ...)
    assert "not answered yet" in capsys.readouterr().out


def test_ch10_check_passes_per_row_scales_and_explains_the_usual_mistakes(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from oneshot_steel.checks import CheckFailed, check

    def per_row(
        weights, scale=lambda w: w.abs().amax(dim=1, keepdim=True), clamp=True, rounding=torch.round
    ):
        s = scale(weights).expand(weights.shape[0], 1) / 127.5
        q = rounding(weights / s)
        return (torch.clamp(q, -128, 127) if clamp else q), s.flatten()

    assert check("ch10.int8_per_row", per_row)
    assert "pass" in capsys.readouterr().out
    assert check("ch10.int8_per_row", lambda w: (per_row(w)[0].to(torch.int8), per_row(w)[1]))
    with pytest.raises(CheckFailed, match=r"(?s)one scale for the whole matrix would be.*Hint"):
        check(
            "ch10.int8_per_row", lambda w: per_row(w, scale=lambda x: x.abs().max().reshape(1, 1))
        )
    with pytest.raises(CheckFailed, match=r"outside int8's \[-128, 127\] \(did you clamp\?\)"):
        check("ch10.int8_per_row", lambda w: per_row(w, clamp=False))
    with pytest.raises(CheckFailed, match="steps away"):
        check("ch10.int8_per_row", lambda w: per_row(w, rounding=torch.floor))
    with pytest.raises(CheckFailed, match="expected a pair"):
        check("ch10.int8_per_row", lambda w: per_row(w)[0])
    assert not check("ch10.int8_per_row", ...)
    assert "not answered yet" in capsys.readouterr().out


def test_optimise_for_cpu_keeps_the_embeddings_of_a_centred_compact_net() -> None:
    from oneshot_steel.deploy import optimise_for_cpu
    from oneshot_steel.models import CompactEmbeddingNet

    torch.manual_seed(0)
    net = CompactEmbeddingNet(embedding_dim=8, width=4, centre=True)
    net.base_mean.normal_()
    for m in net.modules():  # BatchNorm statistics that are not the identity
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.normal_()
            m.running_var.uniform_(0.5, 2)
    x = torch.rand(3, 1, 40, 40) * 2 - 1
    fast = optimise_for_cpu(net, 40)
    with torch.no_grad():
        torch.testing.assert_close(fast(x), net.eval()(x), rtol=1e-4, atol=1e-5)
    assert net.features.block1[1].__class__ is nn.BatchNorm2d  # the original is untouched


@pytest.mark.parametrize("within_class, coarse", [(False, False), (True, False), (True, True)])
def test_quantize_static_int8_keeps_what_a_compact_net_sees_and_rejects_what_it_cannot(
    within_class: bool, coarse: bool
) -> None:
    from oneshot_steel.deploy import quantize_static_int8
    from oneshot_steel.errors import ModelInputError

    torch.manual_seed(0)
    net = CompactEmbeddingNet(8, 4, centre=True, within_class=within_class).eval()
    grid = torch.randint(0, 256, (48, 1, 5, 5)).float()  # smooth textures, like images
    size = 64 if coarse else 40  # a coarse view needs 64 px
    images = nn.functional.interpolate(grid, size=size, mode="bilinear").round().to(torch.uint8)
    calibration, queries = images[:32], to_model_input(images[32:])
    if coarse:  # the half-size view's statistics, fitted as add_coarse_view does
        net = add_coarse_view(net, calibration, torch.arange(32) % 4, 1.0)
    with torch.no_grad():  # SimpleShot's mean, as training stores it: the embeddings then differ
        views = net.raw_views(to_model_input(calibration))
        fit_centres(net, views)
        if within_class:  # and the metric, from four made-up training classes
            fit_whitening(net, views, torch.arange(32) % 4, 1.0)
            assert not torch.allclose(net.metric, torch.eye(8))  # the metric does something
    engine = torch.backends.quantized.engine
    fast = quantize_static_int8(net, calibration)
    assert torch.backends.quantized.engine == engine  # the process-wide setting is restored
    with torch.no_grad():
        exact, int8 = net(queries), fast(queries)
    assert int8.shape == exact.shape == (16, 16 if coarse else 8)
    torch.testing.assert_close(int8.norm(dim=1), torch.ones(16))  # SimpleShot still applied
    assert (exact @ exact.T).min() < 0.5  # distinct directions, so the check below means something
    # 8-bit rounding moves each embedding (here by cosine 0.95-0.99, a tiny random net), but
    # each stays nearer its own fp32 embedding than any other image's: nearest neighbours hold
    similarity = int8 @ exact.T
    assert torch.equal(similarity.argmax(1), torch.arange(16)), similarity
    assert net.features.block1[1].__class__ is nn.BatchNorm2d  # the original is untouched
    with pytest.raises(ModelInputError, match="uint8 batch"):
        quantize_static_int8(net, queries)
    with pytest.raises(OneShotSteelError, match="compact net.*PaperEmbeddingNet"):
        quantize_static_int8(PaperEmbeddingNet(image_size=40), calibration)
    with pytest.raises(OneShotSteelError, match="engine 'tpu'"):
        quantize_static_int8(net, calibration, engine="tpu")
