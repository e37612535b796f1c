"""The data layer: NEU-CLS (or any image folder) as an :class:`ImageSet`, splits, fetching,
and a synthetic stand-in for offline work.

Entry points: :func:`load_neu` (the real set, or the stand-in when
``ONESHOT_STEEL_DATA=synthetic``), :func:`load_image_folder` (your own defects),
:func:`one_shot_split` and :func:`stratified_split`, :func:`fetch_neu`.

Layers, each importing only those below it: :mod:`.paths` (where the data live) and
:mod:`.imageset`; :mod:`.manifest`, :mod:`.staging`, :mod:`.archive` and :mod:`.download`
(verifying, installing and downloading folders), :mod:`.walk` and :mod:`.decode` (finding
and decoding images); :mod:`.fetch` and :mod:`.synthetic` (writing folders) beside
:mod:`.loading` (reading them) and :mod:`.splits`; :mod:`.sources` (finding the data, getting
them when missing) on top.
"""

from .fetch import MIRRORS, fetch_neu
from .imageset import NEU_CLASS_NAMES, NEU_CLASSES, ImageSet
from .loading import load_image_folder
from .manifest import verify_neu_folder
from .paths import default_data_dir
from .sources import load_neu, resolve_data_root
from .splits import (
    PAPER_TEST_CLASSES,
    PAPER_TRAIN_CLASSES,
    OneShotSplit,
    find_duplicates,
    one_shot_split,
    stratified_split,
)
from .synthetic import ensure_synthetic, make_synthetic

__all__ = [
    "MIRRORS",
    "NEU_CLASSES",
    "NEU_CLASS_NAMES",
    "PAPER_TEST_CLASSES",
    "PAPER_TRAIN_CLASSES",
    "ImageSet",
    "OneShotSplit",
    "default_data_dir",
    "ensure_synthetic",
    "fetch_neu",
    "find_duplicates",
    "load_image_folder",
    "load_neu",
    "make_synthetic",
    "one_shot_split",
    "resolve_data_root",
    "stratified_split",
    "verify_neu_folder",
]
