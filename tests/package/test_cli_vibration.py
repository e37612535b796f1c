"""``train-vibration`` and ``evaluate-vibration`` on the stand-in, end to end."""

from __future__ import annotations

import json
from pathlib import Path

from oneshot_steel.cli import main


def test_train_then_evaluate_with_baselines(tmp_path: Path, capsys) -> None:
    out = tmp_path / "run"
    argv = ["train-vibration", "--preset", "smoke", "--data", "synthetic", "--out", str(out),
            "--protocol", "unseen-size", "--model", "gru", "--no-progress"]  # fmt: skip
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert captured.out.strip().endswith("model.pt") and "SYNTHETIC" in captured.err
    assert json.loads((out / "protocol.json").read_text())["protocol"] == "unseen-size"
    argv = ["evaluate-vibration", "--checkpoint", str(out), "--data", "synthetic",
            "--episodes", "20", "--queries", "3", "--baselines", "--json"]  # fmt: skip
    assert main(argv) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["protocol"] == "unseen-size" and result["synthetic"] is True
    assert result["classes"] == ["IR014", "B014", "OR014"]
    scores = result["episodic"]
    assert set(scores) == {"siamese", "raw signal nearest neighbour", "spectrum nearest neighbour",
                           "log-spectrum nearest neighbour", "statistics nearest neighbour"}  # fmt: skip
    assert all(s["n_way"] == 3 and s["n_episodes"] == 20 for s in scores.values())


def test_bad_data_path_is_one_line(tmp_path: Path, capsys) -> None:
    argv = ["train-vibration", "--data", str(tmp_path / "nowhere"), "--out", str(tmp_path / "r")]
    assert main(argv) == 2
    assert capsys.readouterr().err.startswith("error: The vibration data folder")
