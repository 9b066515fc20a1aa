"""How good is the tracker? Errors against the synthetic world's truth, and against known moves of real photos.

Synthetic clips know everything, so we compare number for number (:func:`tracking_errors`):

* head pose: per angle, the median and the 95th percentile of |tracked - true| in degrees (targets: median <= 3,
  95th percentile <= 8), plus tx, ty (head units) and scale;
* landmarks: the normalised mean error NME = mean_k |p_k - p*_k| / |p*_36 - p*_45| (inter-ocular distance of the
  truth, outer eye corners);
* gaze: the angle in degrees between the tracked and the true gaze direction (frames with open eyes only), and the
  error of the clip's main gaze (:func:`~vasa_lab.tracking.tracker.main_gaze`);
* blinks: F1 of the per-frame blink flag against truth blink > 0.5.

:func:`evaluate_on_synthetic` runs a tracker over clips of **held-out identities** (world seed 1000 by default,
used for nothing else) and pools the frames.

Real faces have no ground-truth pose, but we can move a real photo by known amounts:
:func:`real_photo_video` rotates, scales and shifts it with a known affine warp per frame, and
:func:`evaluate_real_video` checks that the recovered roll and scale change by the same amounts (relative to frame
0) and that the landmarks move with the face.
"""
from __future__ import annotations

import time

import cv2
import numpy as np

from vasa_lab.world.state import STATE_NAMES

from .gaze import angular_error
from .types import POSE_NAMES, FaceTrack

_COL = {n: i for i, n in enumerate(STATE_NAMES)}


# ---------------------------------------------------------------------------------------------------------------
# synthetic truth
# ---------------------------------------------------------------------------------------------------------------
def frame_errors(track: FaceTrack, truth_states: np.ndarray, truth_landmarks: np.ndarray) -> dict:
    """Per-frame errors (arrays of length T, NaN where not measured) and the blink flags, for pooling."""
    states = np.asarray(truth_states, np.float64)
    marks = np.asarray(truth_landmarks, np.float64)
    if states.shape != (len(track), len(STATE_NAMES)) or marks.shape != (len(track), 68, 2):
        raise ValueError(f"truth must be ({len(track)}, {len(STATE_NAMES)}) states and ({len(track)}, 68, 2) "
                         f"landmarks, got {states.shape} and {marks.shape}")
    out = {name: np.abs(track.pose[:, i].astype(np.float64) - states[:, _COL[name]])
           for i, name in enumerate(POSE_NAMES)}
    out["signed_" + "yaw"] = track.pose[:, 0] - states[:, _COL["yaw"]]
    out["signed_pitch"] = track.pose[:, 1] - states[:, _COL["pitch"]]
    iod = np.linalg.norm(marks[:, 45] - marks[:, 36], axis=1)
    out["nme"] = np.linalg.norm(track.landmarks.astype(np.float64) - marks, axis=2).mean(axis=1) / iod
    open_eyes = states[:, _COL["blink"]] < 0.3
    g = angular_error(track.gaze[:, 0], track.gaze[:, 1], states[:, _COL["gaze_yaw"]], states[:, _COL["gaze_pitch"]])
    out["gaze"] = np.where(open_eyes, g, np.nan)
    out["gaze_forward"] = np.where(open_eyes, angular_error(0.0, 0.0, states[:, _COL["gaze_yaw"]],
                                                            states[:, _COL["gaze_pitch"]]), np.nan)
    out["blink_pred"] = np.asarray(track.blink, bool)
    out["blink_true"] = states[:, _COL["blink"]] > 0.5
    out["detected"] = np.asarray(track.detected, bool)
    out["mouth_open"] = track.mouth_open.astype(np.float64)
    out["jaw_open"] = states[:, _COL["jaw_open"]]
    return out


def _f1(pred: np.ndarray, true: np.ndarray) -> float:
    tp = float(np.sum(pred & true))
    fp, fn = float(np.sum(pred & ~true)), float(np.sum(~pred & true))
    return 2 * tp / (2 * tp + fp + fn) if (2 * tp + fp + fn) > 0 else float("nan")


def summarize(errors: dict) -> dict:
    """Pooled statistics of :func:`frame_errors` output (one clip, or several concatenated)."""
    def finite(x):
        x = np.asarray(x, np.float64)
        return x[np.isfinite(x)]

    out = {"n_frames": int(len(errors["detected"])), "detection_rate": float(np.mean(errors["detected"]))}
    for name in ("yaw", "pitch", "roll"):
        e = finite(errors[name])
        out[f"{name}_median"] = float(np.median(e)) if e.size else float("nan")
        out[f"{name}_p95"] = float(np.percentile(e, 95)) if e.size else float("nan")
    for name in ("yaw", "pitch"):
        e = finite(errors["signed_" + name])
        out[f"{name}_bias"] = float(np.mean(e)) if e.size else float("nan")
    for name in ("tx", "ty", "scale"):
        e = finite(errors[name])
        out[f"{name}_median"] = float(np.median(e)) if e.size else float("nan")
    nme = finite(errors["nme"])
    out["nme"] = float(np.mean(nme)) if nme.size else float("nan")
    g, g0 = finite(errors["gaze"]), finite(errors["gaze_forward"])
    out["gaze_median"] = float(np.median(g)) if g.size else float("nan")
    out["gaze_mean"] = float(np.mean(g)) if g.size else float("nan")
    out["gaze_forward_median"] = float(np.median(g0)) if g0.size else float("nan")   # "always looks ahead"
    ok = errors["detected"]
    out["blink_f1"] = _f1(errors["blink_pred"][ok], errors["blink_true"][ok])
    m, j = errors["mouth_open"], errors["jaw_open"]
    sel = np.isfinite(m) & np.isfinite(j)
    out["mouth_corr"] = float(np.corrcoef(m[sel], j[sel])[0, 1]) if sel.sum() > 2 and m[sel].std() > 0 else float("nan")
    return out


def tracking_errors(track: FaceTrack, truth_states: np.ndarray, truth_landmarks: np.ndarray) -> dict:
    """Errors of one tracked clip against its truth (see the module docstring for the measures): a dict with
    ``{yaw,pitch,roll}_{median,p95}`` (degrees), ``{tx,ty,scale}_median``, ``nme``, ``gaze_median``,
    ``gaze_mean`` (degrees), ``blink_f1``, ``mouth_corr``, ``detection_rate``, ``n_frames``."""
    return summarize(frame_errors(track, truth_states, truth_landmarks))


def evaluate_on_synthetic(tracker, n_clips: int = 8, seconds: float = 4.0, size: int = 256, seed: int = 1000,
                          progress: bool = False) -> dict:
    """Track ``n_clips`` synthetic clips of held-out identities (world ``seed``, one clip per identity) and pool
    their errors (:func:`summarize`); also the clip-level main-gaze and head-distance errors and the frames/s of
    tracking alone."""
    from vasa_lab.world.clip import make_clip

    from .tracker import head_distance, main_gaze

    pooled: dict[str, list] = {}
    main_err, dist_err, seconds_spent, n_frames = [], [], 0.0, 0
    for i in range(n_clips):
        clip = make_clip(seed, 2 * i, seconds=seconds, size=size)          # 2 clips per identity: index 2i = person i
        t0 = time.perf_counter()
        track = tracker.track(clip.frames, fps=clip.fps)
        seconds_spent += time.perf_counter() - t0
        n_frames += len(track)
        for k, v in frame_errors(track, clip.states, clip.landmarks).items():
            pooled.setdefault(k, []).append(np.asarray(v))
        true_main = np.array([clip.meta["conditions"]["gaze_yaw"], clip.meta["conditions"]["gaze_pitch"]])
        g = main_gaze(track)
        main_err.append(float(angular_error(g[0], g[1], true_main[0], true_main[1])))
        dist_err.append(abs(head_distance(track) - float(np.median(clip.track("scale")))))
        if progress:
            print(f"clip {i + 1}/{n_clips} tracked")
    out = summarize({k: np.concatenate(v) for k, v in pooled.items()})
    out.update(main_gaze_median=float(np.nanmedian(main_err)), head_distance_median=float(np.nanmedian(dist_err)),
               frames_per_second=n_frames / max(seconds_spent, 1e-9), size=size, n_clips=n_clips, seed=seed,
               backend=getattr(tracker, "name", type(tracker).__name__))
    return out


def pose_subset_study(landmarks: np.ndarray, states: np.ndarray, image_size, subsets: dict) -> dict:
    """Which landmarks to fit? For each named subset (None = all 68), the median and 95th-percentile absolute
    yaw/pitch/roll errors of :func:`~vasa_lab.tracking.pose.fit_head_pose` over frames (N, 68, 2) with truth
    states (N, 17)."""
    from .pose import fit_head_pose

    out = {}
    for name, subset in subsets.items():
        fits = np.array([fit_head_pose(lm, image_size, subset=subset) for lm in landmarks])
        err = np.abs(fits[:, :3] - np.asarray(states)[:, :3])
        out[name] = dict(median=np.nanmedian(err, axis=0), p95=np.nanpercentile(err, 95, axis=0))
    return out


# ---------------------------------------------------------------------------------------------------------------
# real photos moved by known amounts
# ---------------------------------------------------------------------------------------------------------------
def real_photos() -> dict[str, np.ndarray]:
    """The real face photos that ship inside packages (RGB uint8): matplotlib's Grace Hopper and, when
    scikit-image is installed, its astronaut (Eileen Collins)."""
    from matplotlib import cbook

    photos = {}
    bgr = cv2.imread(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))
    if bgr is not None:
        photos["grace_hopper"] = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    try:
        from skimage import data as skdata
        photos["astronaut"] = np.ascontiguousarray(skdata.astronaut())
    except ImportError:
        pass
    return photos


def real_photo_video(image: np.ndarray, n_frames: int = 25, roll_deg_range=(-20.0, 20.0), scale_range=(0.85, 1.15),
                     shift: float = 0.05, centre=None) -> tuple[np.ndarray, dict]:
    """A short test video of a photo turning, zooming and moving by known amounts.

    Frame t is the photo warped by a similarity transform about ``centre`` (default: the image centre): rotated by
    roll(t) degrees clockwise, scaled by scale(t), shifted by shift(t) (a fraction of the image size). The three
    follow smooth sweeps over the clip (roll and scale go from one end of their range to the other and back,
    the shift goes round a circle). Returns (frames (T, H, W, 3) uint8, truth dict with roll (T,), scale (T,),
    shift (T, 2) pixels and matrices (T, 2, 3)).
    """
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[-1] != 3 or image.dtype != np.uint8:
        raise ValueError(f"image must be an (H, W, 3) uint8 RGB array, got {image.shape} {image.dtype}")
    if n_frames < 1:
        raise ValueError(f"n_frames must be at least 1, got {n_frames}")
    h, w = image.shape[:2]
    c = np.array([(w - 1) / 2, (h - 1) / 2]) if centre is None else np.asarray(centre, np.float64)
    phase = np.linspace(0.0, 1.0, n_frames) if n_frames > 1 else np.zeros(1)
    sweep = 0.5 - 0.5 * np.cos(2 * np.pi * phase)                 # 0 -> 1 -> 0
    roll = roll_deg_range[0] + (roll_deg_range[1] - roll_deg_range[0]) * sweep
    scale = scale_range[0] + (scale_range[1] - scale_range[0]) * (0.5 - 0.5 * np.cos(np.pi * phase))   # lo -> hi
    offs = shift * min(h, w) * np.stack([np.sin(2 * np.pi * phase), 1 - np.cos(2 * np.pi * phase)], axis=1)
    frames = np.zeros((n_frames, h, w, 3), np.uint8)
    mats = np.zeros((n_frames, 2, 3))
    for t in range(n_frames):
        # cv2's angle is counter-clockwise on screen; our roll is clockwise, hence the minus sign
        m = cv2.getRotationMatrix2D((float(c[0]), float(c[1])), -float(roll[t]), float(scale[t]))
        m[:, 2] += offs[t]
        mats[t] = m
        frames[t] = cv2.warpAffine(image, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return frames, dict(roll=roll, scale=scale, shift=offs, matrices=mats)


def evaluate_real_video(tracker, image: np.ndarray, **video_kwargs) -> dict:
    """Track :func:`real_photo_video` of a photo and compare with the known moves, relative to frame 0:
    roll error = |(roll_t - roll_0) - (true_t - true_0)| in degrees, scale error = |s_t / s_0 - k_t / k_0| (as a
    fraction), and the landmark drift: frame 0's landmarks moved by the known warp against the tracked ones, over
    the inter-ocular distance."""
    from .align import transform_points

    frames, truth = real_photo_video(image, **video_kwargs)
    track = tracker.track(frames)
    ok = track.detected & np.isfinite(track.pose[:, 2])
    if not ok[0]:
        raise ValueError("the face was not found in the first frame of the test video")
    d_roll = (track.pose[:, 2] - track.pose[0, 2]) - (truth["roll"] - truth["roll"][0])
    d_scale = track.pose[:, 5] / track.pose[0, 5] - truth["scale"] / truth["scale"][0]
    # where frame 0's landmarks should be in frame t: undo warp 0, apply warp t
    m0 = np.vstack([truth["matrices"][0], [0, 0, 1]])
    base = transform_points(track.landmarks[0], np.linalg.inv(m0)[:2])
    drift = []
    for t in np.where(ok)[0]:
        expected = transform_points(base, truth["matrices"][t])
        iod = np.linalg.norm(expected[45] - expected[36])
        drift.append(np.linalg.norm(track.landmarks[t] - expected, axis=1).mean() / iod)
    return dict(detection_rate=float(ok.mean()), roll_error_median=float(np.nanmedian(np.abs(d_roll[ok]))),
                roll_error_max=float(np.nanmax(np.abs(d_roll[ok]))),
                scale_error_median=float(np.nanmedian(np.abs(d_scale[ok]))),
                scale_error_max=float(np.nanmax(np.abs(d_scale[ok]))),
                landmark_drift_nme=float(np.mean(drift)), n_frames=len(track))
