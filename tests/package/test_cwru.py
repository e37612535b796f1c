"""The CWRU reader: names, the bearing's defect frequencies, loading, and its errors."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from vibration_toys import write_record

from oneshot_steel.errors import DataError, DataNotFoundError, EmptyClassError, UnknownClassError
from oneshot_steel.vibration.cwru import (
    CWRU_CLASSES,
    DRIVE_END_BEARING,
    load_cwru,
    parse_record_name,
)

#: The real recordings: $ONESHOT_STEEL_VIBRATION_DATA, else the shared copy beside the checkout
#: (where .ci/run finds it).
REAL = Path(
    os.environ.get("ONESHOT_STEEL_VIBRATION_DATA", "").strip()
    or Path(__file__).resolve().parents[3] / "shared" / "data" / "cwru-bearings"
)


def test_names_give_class_load_and_number() -> None:
    assert parse_record_name("12k_Drive_End_OR014@6_2_199.mat") == ("OR014", 2, 199)
    assert parse_record_name("12k_Drive_End_B007_0_118.mat") == ("B007", 0, 118)
    assert parse_record_name("normal_0_97.mat") == ("Normal", 0, 97)
    with pytest.raises(UnknownClassError, match="not a CWRU 12 kHz drive-end file name"):
        parse_record_name("12k_Fan_End_B007_0_282.mat")


def test_defect_frequencies_are_the_data_centers_multiples_of_the_shaft_rate() -> None:
    f = DRIVE_END_BEARING.frequencies(1797)
    assert f["shaft"] == pytest.approx(29.95)
    assert f["BPFI"] / f["shaft"] == pytest.approx(5.4152, abs=1e-3)
    assert f["BPFO"] / f["shaft"] == pytest.approx(3.5848, abs=1e-3)
    assert f["FTF"] / f["shaft"] == pytest.approx(0.39828, abs=1e-4)
    assert f["BSF"] / f["shaft"] == pytest.approx(2.357, abs=1e-3)


def test_loads_files_sorted_by_class_then_load(tmp_path: Path) -> None:
    write_record(tmp_path, "12k_Drive_End_IR007_1_106.mat", seed=1)
    write_record(tmp_path, "12k_Drive_End_IR007_0_105.mat", seed=2)
    write_record(tmp_path, "normal_0_97.mat", n=8000)
    (tmp_path / "notes.txt").write_text("not a recording")
    records = load_cwru(tmp_path, classes=("Normal", "IR007"))
    assert [(r.cls, r.load, r.number) for r in records] == [
        ("Normal", 0, 97), ("IR007", 0, 105), ("IR007", 1, 106),
    ]  # fmt: skip
    assert records[0].signal.shape == (8000,) and records[1].rpm == 1797.0
    assert records[1].diameter == 0.007 and records[1].fault == "inner race"


def test_errors_name_the_file_and_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(DataNotFoundError, match="does not exist.*fetch-vibration-data"):
        load_cwru(tmp_path / "missing")
    with pytest.raises(DataNotFoundError, match="holds no .mat files"):
        load_cwru(tmp_path)
    write_record(tmp_path, "12k_Drive_End_IR007_0_105.mat")
    with pytest.raises(EmptyClassError, match="no recording of \\['B007'\\]"):
        load_cwru(tmp_path, classes=("IR007", "B007"))
    with pytest.raises(UnknownClassError, match="Unknown class 'XX'"):
        load_cwru(tmp_path, classes=("XX",))
    bad = tmp_path / "bad"
    write_record(bad, "12k_Drive_End_B007_0_118.mat")
    (bad / "12k_Drive_End_B014_0_185.mat").write_bytes(b"not matlab at all")
    with pytest.raises(DataError, match="12k_Drive_End_B014_0_185.mat as a MATLAB file"):
        load_cwru(bad)
    wrong = tmp_path / "wrong"
    write_record(wrong, "12k_Drive_End_B007_0_118.mat")
    (wrong / "12k_Drive_End_B007_0_118.mat").rename(wrong / "12k_Drive_End_B007_1_119.mat")
    with pytest.raises(DataError, match="no variable X119_DE_time"):
        load_cwru(wrong)
    odd = tmp_path / "odd"
    write_record(odd, "12k_Drive_End_B007_0_118.mat")
    write_record(odd, "B007_0.mat")
    with pytest.raises(UnknownClassError, match="'B007_0.mat' is not a CWRU"):
        load_cwru(odd)


@pytest.mark.skipif(not (REAL / "SHA256SUMS").is_file(), reason="no CWRU recordings here")
def test_real_recordings_have_the_documented_layout() -> None:
    records = load_cwru(REAL)
    assert len(records) == 37 and {r.cls for r in records} == set(CWRU_CLASSES)
    assert all(abs(r.rpm - 1797 + 24 * r.load) < 12 for r in records)
    assert len(records[0].signal) == 243_938  # the normal baseline, record 97
