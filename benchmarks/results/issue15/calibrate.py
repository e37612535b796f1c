# ruff: noqa
# Exploration script of issue 15 (stop 34), kept as the record of how calibrate.jsonl was
# made; not a maintained benchmark.
"""Issue 15 part 3, stop 34: calibrating the new camera to NEU's before featurising.

Recentring the features on the new line (``recentre.py``) hardly helps the net under
halved contrast or half resolution. This undoes the camera in the pixels instead, from the
statistics of the new line's unlabelled images (the 900 shifted test images; the
semi-supervised protocol, its own rows) against those of NEU's training images:

- ``hist``: the new line's pooled grey-level histogram mapped onto that of the training
  images (one monotone look-up table for the whole line; it undoes a gamma curve exactly);
- ``hist+spectrum``: then each image filtered so that the line's radially averaged power
  spectrum matches the training images' (gain clipped to 0.25-4; it sharpens a blurred
  camera back).

The calibration cannot tell the camera from the content: the new line's classes differ
from the training classes, and the ``none`` rows show what that costs when no camera
changed. The recipe ``best`` (quick preset, seeds 0-2, both splits; as ``recentre.py``)
and LBP + SimpleShot, both centred on NEU's training images; 2,000 3-way episodes (episode
seed 0) on all 900 test images.

Stopped by hand after the first net (reverse split, seed 0): the calibration cost 11.9
points with no camera change, so the other nets were not scored.

usage: calibrate.py RUN_ROOT
"""

import os, sys

import torch

from common import append, score_features, shifted_nets
from oneshot_steel.baselines import lbp_features
from oneshot_steel.embedding import embed
from oneshot_steel.evaluate import simpleshot

OUT = os.environ.get("CALIBRATE_OUT", "/work/scratch/s34/calibrate.jsonl")


def match_histogram(images, ref):
    """uint8 ``images`` mapped so that their pooled histogram matches ``ref``'s."""
    cdf = lambda x: torch.bincount(x.flatten().long(), minlength=256).cumsum(0).double() / x.numel()
    lut = torch.searchsorted(cdf(ref), cdf(images)).clamp(max=255).to(torch.uint8)
    return lut[images.long()]


def radial_power(images):
    x = images.double()
    x = x - x.mean(dim=(-2, -1), keepdim=True)
    power = (torch.fft.fft2(x).abs() ** 2).mean(dim=(0, 1))  # [H, W]
    h, w = power.shape
    fy, fx = torch.fft.fftfreq(h), torch.fft.fftfreq(w)
    r = (torch.sqrt(fy[:, None] ** 2 + fx[None, :] ** 2) * min(h, w)).round().long()
    sums = torch.zeros(int(r.max()) + 1, dtype=torch.float64).index_add_(
        0, r.flatten(), power.flatten()
    )
    counts = torch.bincount(r.flatten()).double()
    return sums / counts, r


def match_spectrum(images, ref):
    p_new, r = radial_power(images)
    p_ref, _ = radial_power(ref)
    gain = (p_ref / p_new.clamp(min=1e-12)).sqrt().clamp(0.25, 4.0)[r]
    gain[0, 0] = 1.0
    x = images.double()
    mean = x.mean(dim=(-2, -1), keepdim=True)
    y = torch.fft.ifft2(torch.fft.fft2(x - mean) * gain).real + mean
    return y.round().clamp(0, 255).to(torch.uint8)


CALIBRATIONS = {  # uncalibrated: recentre.py's "neu" rows
    "hist": match_histogram,
    "hist+spectrum": lambda x, ref: match_spectrum(match_histogram(x, ref), ref),
}

if __name__ == "__main__":
    torch.set_num_threads(2)
    for split_name, seed, sp, net, shifted in shifted_nets(sys.argv[1]):
        lbp_train = lbp_features(sp.train.images)
        for shift, images in shifted.items():
            for cal, fn in CALIBRATIONS.items():
                x = fn(images, sp.train.images)
                feats = {"net": embed(net, x), "lbp": simpleshot(lbp_features(x), lbp_train)}
                for method, f in feats.items():
                    row = {"split": split_name, "seed": seed, "shift": shift}
                    row |= {"method": method, "calibration": cal}
                    append(OUT, row | score_features(f, sp.test))
