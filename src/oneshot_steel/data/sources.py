"""Where the images come from: a folder, a download, or the synthetic stand-in.

The top layer of the data package: :func:`resolve_data_root` finds the data root and downloads
NEU-CLS (:mod:`.fetch`) when the default folder is missing; :func:`load_neu` loads the set,
building the stand-in (:mod:`.synthetic`) when ``"synthetic"`` is asked for. The layers below
never import this module: :mod:`.paths` (where the data live), :mod:`.manifest` and
:mod:`.staging` (verifying and installing folders), :mod:`.fetch` and :mod:`.synthetic` (which
write folders), :mod:`.loading` (which reads them).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from ..errors import DataNotFoundError, FetchError
from .fetch import fetch_neu
from .imageset import ImageSet
from .loading import load_neu_folder
from .paths import default_data_dir, find_data_root
from .synthetic import ensure_synthetic

__all__ = ["load_neu", "resolve_data_root"]

_OFFICIAL_PAGE = "http://faculty.neu.edu.cn/yunhyan/NEU_surface_defect_database.html"
_KAGGLE = "fantacher/neu-metal-surface-defects-data"


def resolve_data_root(root: str | os.PathLike | None = None) -> Path | Literal["synthetic"]:
    """Find the NEU-CLS folder: ``root``, else ``$ONESHOT_STEEL_DATA``, else the default folder,
    else download it there. The value ``"synthetic"`` selects the stand-in.

    An explicit path is never replaced by a download: a typo should fail loudly, not fetch.
    """
    found = find_data_root(root)
    if found is not None:
        return found
    default = default_data_dir()
    try:
        return Path(fetch_neu(default))
    except (FetchError, OSError) as err:
        raise DataNotFoundError(
            f"The NEU-CLS images are not in {str(default)!r} and downloading them failed: {err}\n"
            "Get them by hand, then install them:\n"
            f"  1. the official page {_OFFICIAL_PAGE} (ships NEU-CLS.rar), or\n"
            f"  2. the Kaggle dataset {_KAGGLE}\n"
            "     (`kaggle datasets download -d fantacher/neu-metal-surface-defects-data`);\n"
            "  3. run `python -m oneshot_steel fetch-data --from PATH` (a folder or an archive),\n"
            "     or set ONESHOT_STEEL_DATA=PATH to use a folder where it is.\n"
            "To work offline, set ONESHOT_STEEL_DATA=synthetic for the procedural stand-in "
            "(its results say nothing about real steel)."
        ) from err


def load_neu(
    root: str | os.PathLike | None = None, size: int = 100, cache: bool = True
) -> ImageSet:
    """Load NEU-CLS as an :class:`ImageSet` of ``size`` x ``size`` grayscale images.

    ``root`` is resolved by :func:`resolve_data_root` (``"synthetic"`` gives the stand-in). The
    folder may be flat (``Cr_1.bmp``) or hold one folder per class under any name public copies
    use (``Crazing``, ``pitted_surface``, ``Rolled``...), possibly inside ``train/``,
    ``valid/``, ``test/`` (merged). Classes are always in the order Cr, In, Pa, PS, RS, Sc and
    images sorted by their number, so indices are the same for every copy of the set.

    Flat file names are read leniently: any case, and spaces, hyphens or underscores around or
    between the class and the number (``Cr_1.bmp``, ``Cr_ 1.bmp``, ``crazing-1.png``). Every
    image passed over (a name that is no NEU name, a format not read, a broken link, a file or
    folder reached again through a symbolic link, loops included) is named in a warning; each
    real file is loaded once. Hidden entries (names starting with ``.`` or ``__``, such as
    ``.git``, ``__MACOSX`` and ``._Cr_1.bmp``) are tool files and skipped without one.

    Decoding uses Pillow; non-grayscale images are converted to 8-bit grayscale ``L``; 16-bit
    images are scaled by the bit depth of the set (``255 / (2**b - 1)``, ``b`` the fewest bits,
    at least 8, that hold every such pixel of the set: see :mod:`oneshot_steel.data.decode`
    for why). Images are resized once with ``torch.nn.functional.interpolate(mode="bilinear", antialias=True)``
    (torchvision's ``resize`` computes the same; calling torch directly avoids depending on a
    torchvision build that matches torch). Non-square images are stretched to a square.
    ``digests`` hold the SHA-256 of each original (unresized) grayscale image, for duplicates.

    With ``cache=True`` the resized array is stored under :func:`~oneshot_steel.files.cache_dir`,
    keyed by the files' bytes, names and ``size``; a changed file can never hit a stale cache.
    A cache that cannot be written (read-only, disk full) is skipped with one warning; a cache
    file that does not check out (its pixels carry their SHA-256) is rebuilt with a warning.
    ``synthetic`` is True for the stand-in (``"synthetic"``, or a folder bearing its marker).
    """
    resolved = resolve_data_root(root)
    # The stand-in's folder bears its marker, so load_neu_folder flags it as synthetic, and so
    # it does for a stand-in folder given by its path.
    folder = ensure_synthetic() if resolved == "synthetic" else resolved
    return load_neu_folder(folder, size=size, cache=cache)
