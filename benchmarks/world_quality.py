"""Quality numbers of the synthetic world over many clips (prints; asserts nothing).

    python benchmarks/world_quality.py --clips 100

* lip closure: the share of p/b/m intervals during which some frame has the lips closed
  (jaw_open < 0.1 and lip_press > 0.5); target at least 95%;
* mouth vs loudness: correlation between per-frame jaw opening and the audio's RMS envelope at 25 fps;
* pose vs prosody: correlation between the (smoothed) loudness in dB and the head's angular speed;
* dP: mean absolute frame-to-frame change of yaw/pitch/roll in degrees (VASA-1 reports 0.505 for real video).
"""
from __future__ import annotations

import argparse

import numpy as np
from scipy.ndimage import uniform_filter1d

from vasa_lab.world.clip import make_clip
from vasa_lab.world.behaviour import frame_rms, prosody
from vasa_lab.world.visemes import bilabial_intervals


def lip_closure(clip) -> tuple[int, int]:
    centres = (np.arange(clip.n_frames) + 0.5) / clip.fps
    jaw, press = clip.track("jaw_open"), clip.track("lip_press")
    closed = 0
    intervals = bilabial_intervals(clip.phonemes, clip.meta["language"])
    for a, b in intervals:
        frames = np.flatnonzero((centres >= a) & (centres < b))
        if frames.size == 0:
            frames = np.array([int(np.argmin(np.abs(centres - (a + b) / 2)))])
        closed += bool(np.any((jaw[frames] < 0.1) & (press[frames] > 0.5)))
    return closed, len(intervals)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--language", default="en")
    args = parser.parse_args()
    closed = total = 0
    mouth_corr, pose_corr, dps = [], [], []
    jaws, rmss = [], []
    for i in range(args.clips):
        clip = make_clip(seed=0, index=i, seconds=args.seconds, size=64, language=args.language)
        c, n = lip_closure(clip)
        closed, total = closed + c, total + n
        rms = frame_rms(clip.audio, clip.sample_rate, clip.n_frames, clip.fps)
        jaw = clip.track("jaw_open")
        mouth_corr.append(np.corrcoef(jaw, rms)[0, 1])
        jaws.append(jaw); rmss.append(rms)
        angles = np.stack([clip.track(k) for k in ("yaw", "pitch", "roll")], axis=1)
        speed = np.linalg.norm(np.diff(angles, axis=0, prepend=angles[:1]), axis=1)
        energy = prosody(clip.audio, clip.sample_rate, clip.n_frames, clip.fps).energy
        pose_corr.append(np.corrcoef(uniform_filter1d(energy, 10), uniform_filter1d(speed, 10))[0, 1])
        dps.append(np.abs(np.diff(angles, axis=0)).mean())
    pooled = np.corrcoef(np.concatenate(jaws), np.concatenate(rmss))[0, 1]
    print(f"clips: {args.clips} x {args.seconds:.0f} s ({args.language})")
    print(f"lip closure on p/b/m: {closed}/{total} = {100 * closed / max(total, 1):.1f}% (target >= 95%)")
    print(f"jaw opening vs RMS loudness: mean per clip r = {np.mean(mouth_corr):.2f}, pooled r = {pooled:.2f}")
    print(f"head angular speed vs loudness (0.4 s smoothing): mean r = {np.nanmean(pose_corr):.2f}")
    print(f"dP (mean |frame-to-frame change| of yaw/pitch/roll): {np.mean(dps):.3f} degrees")


if __name__ == "__main__":
    main()
