"""OneShotClassifier: enrol classes (adding up), classify by nearest prototype, reject."""

from __future__ import annotations

import pytest
import torch
from toys import MeanPixel, flat_images

from oneshot_steel.augment import to_model_input
from oneshot_steel.classifier import OneShotClassifier


def test_one_shot_classifier_enrol_predict_reject() -> None:
    net = MeanPixel()
    clf = OneShotClassifier(net).enroll(flat_images([0, 128, 255]), [7, 8, 9])
    labels, dist = clf.predict(flat_images([10, 120, 250, 64]))
    assert labels.tolist() == [7, 8, 9, 7] and dist.shape == (4,)
    clf.threshold = 0.2  # in embedding units ([-1, 1] pixels)
    labels, _ = clf.predict(flat_images([10, 120, 250, 64]))
    assert labels.tolist() == [7, 8, 9, -1]  # 64 is 0.5 away from both 0 and 128
    named = OneShotClassifier(net, threshold=0.2)
    named.enroll(flat_images([0, 128, 255]), [0, 1, 2], class_names=["dark", "mid", "bright"])
    assert named.predict_names(flat_images([250, 64])) == ["bright", "unknown"]
    # Several images per class: the class mean is enrolled.
    clf = OneShotClassifier(net).enroll(flat_images([0, 100, 255]), [0, 0, 1])
    assert clf.prototypes.shape == (2, 1)
    assert clf.prototypes[0, 0].item() == pytest.approx((50 / 127.5) - 1, abs=1e-6)


def test_second_enroll_adds_classes_and_updates_means() -> None:
    clf = OneShotClassifier(MeanPixel()).enroll(flat_images([0]), [0], class_names=["Cr"])
    clf.enroll(flat_images([255]), [3], class_names={3: "PS"})
    assert clf.labels.tolist() == [0, 3] and clf.class_names == ["Cr", "PS"]
    assert clf.predict_names(flat_images([10, 250])) == ["Cr", "PS"]
    clf.enroll(flat_images([100]), [0])  # one more Cr image: its prototype is the mean of two
    assert clf.prototypes[0, 0].item() == pytest.approx((50 / 127.5) - 1, abs=1e-6)
    assert clf.class_names == ["Cr", "PS"]


def test_enroll_refuses_a_label_under_another_name() -> None:
    clf = OneShotClassifier(MeanPixel()).enroll(flat_images([0]), [0], class_names=["Cr"])
    with pytest.raises(ValueError, match=r"label 0 is already enrolled as 'Cr'.*'PS'"):
        clf.enroll(flat_images([255]), [0], class_names=["PS"])
    assert clf.labels.tolist() == [0]  # nothing half-enrolled


def test_non_contiguous_labels_get_their_names() -> None:
    clf = OneShotClassifier(MeanPixel())
    clf.enroll(flat_images([0, 255]), [3, 7], class_names={3: "dent", 7: "hole"})
    assert clf.predict_names(flat_images([5, 250])) == ["dent", "hole"]
    with pytest.raises(ValueError, match=r"no name for label\(s\) \[3, 7\]"):
        OneShotClassifier(MeanPixel()).enroll(flat_images([0, 255]), [3, 7], ["a", "b"])


def test_negative_labels_and_nan_threshold_are_refused() -> None:
    with pytest.raises(ValueError, match="label -1.*rejected query as -1"):
        OneShotClassifier(MeanPixel()).enroll(flat_images([0, 255]), [-1, 1])
    with pytest.raises(ValueError, match="finite distance"):
        OneShotClassifier(MeanPixel(), threshold=float("nan"))
    clf = OneShotClassifier(MeanPixel())
    with pytest.raises(ValueError, match="finite distance"):
        clf.threshold = float("inf")
    with pytest.raises(ValueError, match="finite distance"):
        clf.threshold = -1.0


def test_choose_rejection_threshold() -> None:
    clf = OneShotClassifier(MeanPixel()).enroll(flat_images([0, 255]), [0, 1])
    known, unknown = flat_images([5, 10, 245, 250]), flat_images([120, 130, 128])
    t = clf.choose_rejection_threshold(known, unknown)
    assert clf.threshold == t
    assert clf.predict(known)[0].tolist() == [0, 0, 1, 1]
    assert clf.predict(unknown)[0].tolist() == [-1, -1, -1]
    t95 = clf.choose_rejection_threshold(known, accept_rate=0.5)
    assert (clf.predict(known)[0] >= 0).float().mean() == 0.5 and t95 < t


def test_embeddings_computed_once_decide_like_the_images() -> None:
    net = MeanPixel()
    clf = OneShotClassifier(net, threshold=0.2)
    clf.enroll(flat_images([0, 128, 255]), [0, 1, 2], class_names=["dark", "mid", "bright"])
    queries = flat_images([10, 120, 250, 64])
    with torch.no_grad():
        emb = net(to_model_input(queries))  # what embed() computes
    seen = net.images_seen
    labels, dist = clf.predict(emb, embedded=True)
    assert clf.predict_names(emb, embedded=True) == ["dark", "mid", "bright", "unknown"]
    assert net.images_seen == seen  # no forward pass
    assert torch.equal(labels, clf.predict(queries)[0]) and dist.shape == (4,)
    with pytest.raises(ValueError, match=r"embedded=True needs embeddings \[M, 1\]"):
        clf.predict(queries, embedded=True)  # images, not embeddings
    with pytest.raises(ValueError, match="NaN"):
        clf.predict(torch.full((1, 1), float("nan")), embedded=True)
