"""Measuring disentanglement: what each code knows, and what survives a motion swap.

**Linear probes.** A code *carries* a factor if a linear map can read the factor out of it. We encode frames of
the training people, fit a ridge regression code -> factor there, and score it on *held-out people* with the
coefficient of determination

    R² = 1 - Σ (y - ŷ)² / Σ (y - ȳ)²       (1: read perfectly, 0: no better than the mean, < 0: worse)

So ``z_pose`` should give high R² for yaw/pitch/roll, ``z_dyn`` for mouth opening, blinks and gaze, and each
should give *low* R² for the other's factors (leakage).

**Within a clip, and between clips.** A factor's variance over a set of clips splits into how it moves inside each
clip and how the clips' means differ (``between_clip_share``). In the synthetic world the jaw and the blinks move
inside a clip; the main gaze, the emotion's smile and brows are nearly constant in a clip and differ between clips.
Across new people a probe must read both, and a clip's level is where a code can mix the factor with who is moving.
:func:`within_clips` takes each clip's mean out of every code and of the truth: a probe on those reads only how a
code follows the face inside a clip (a code held still there reads 0).

**Identity probes.** A motion code should not say who is moving. Held-out people each speak two clips: a linear
classifier (ridge regression onto one-hot labels) learns each person from their first clip and names the frames
of their second. Chance is 1 / number of people. The same probe on ``z_id`` shows the probe can recognise people
when the information is there, and the probe on the *true* motion states shows how much a person's way of moving
gives them away in this world (the floor a motion code cannot go below without losing motion).

**Cross-reenactment.** Person A driven by person B's motion: the pose of the result against B's true pose
(measured by chapter 02's tracker when available, otherwise by a pose probe on the re-encoded frames), its mouth
opening against B's, and its identity similarity to A (cosine of identity embeddings).
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch

from ..geometry import ANGLE_NAMES
from .api import as_frames, encode_motion, render
from ..data.clips import ClipFrames
from .model import FaceLatentModel

POSE_FACTORS = ANGLE_NAMES
DYN_FACTORS = ("jaw_open", "blink", "gaze_yaw", "gaze_pitch", "smile", "brow_raise")


# ---------------------------------------------------------------------------------------------------------------
# encoding a split
# ---------------------------------------------------------------------------------------------------------------
@dataclass
class Codes:
    """Every code of a set of frames, with the truth: one row per frame."""

    z_pose: np.ndarray      # (N, 6)
    z_dyn: np.ndarray       # (N, dyn_dim)
    z_id: np.ndarray        # (N, id_dim)
    states: np.ndarray      # (N, 17) ground truth FaceStates
    identity: np.ndarray    # (N,) person
    clip: np.ndarray        # (N,) clip index within the split

    def get(self, name: str) -> np.ndarray:
        return getattr(self, name)


@torch.no_grad()
def encode_clips(model: FaceLatentModel, clips: ClipFrames, stride: int = 4, batch_size: int = 256) -> Codes:
    """Encode every ``stride``-th frame of every clip (motion and identity codes) with the truth beside them."""
    from ..world.state import STATE_NAMES

    model.eval()
    rows = {k: [] for k in ("z_pose", "z_dyn", "z_id", "states", "identity", "clip")}
    for c in range(len(clips)):
        states = clips.states(c)
        if states is None:
            raise ValueError("probes need ground truth states: use the synthetic world")
        idx = np.arange(0, clips.n_frames[c], stride)
        x = as_frames(np.asarray(clips.frames(c)[idx]), model.config.image_size)
        z_pose, z_dyn = encode_motion(model, x, batch_size)
        z_id = torch.cat([model.appearance_encoder(chunk)[1] for chunk in x.split(batch_size)])
        rows["z_pose"].append(z_pose.numpy())
        rows["z_dyn"].append(z_dyn.numpy())
        rows["z_id"].append(z_id.numpy())
        rows["states"].append(np.asarray(states[idx], np.float32).reshape(len(idx), len(STATE_NAMES)))
        rows["identity"].append(np.full(len(idx), clips.identity[c]))
        rows["clip"].append(np.full(len(idx), c))
    return Codes(**{k: np.concatenate(v) for k, v in rows.items()})


@torch.no_grad()
def clip_codes(model: FaceLatentModel, clips: list) -> Codes:
    """Every frame's motion codes of world clips made on the spot (``vasa_lab.data.clips.heldout_clips``: each has
    ``frames``, ``states`` and ``meta``), with the truth, the person and the clip (0, 1, ... in list order) of every
    row; no identity code (``z_id`` None)."""
    z = [encode_motion(model, c.frames) for c in clips]
    return Codes(z_pose=np.concatenate([p.numpy() for p, _ in z]), z_dyn=np.concatenate([d.numpy() for _, d in z]),
                 z_id=None, states=np.concatenate([c.states for c in clips]),
                 identity=np.concatenate([np.full(c.n_frames, c.meta["identity_index"]) for c in clips]),
                 clip=np.concatenate([np.full(c.n_frames, k) for k, c in enumerate(clips)]))


# ---------------------------------------------------------------------------------------------------------------
# linear probes
# ---------------------------------------------------------------------------------------------------------------
def ridge_fit(x: np.ndarray, y: np.ndarray, alpha: float = 1e-2) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ridge regression on standardised inputs: W = (XᵀX + α n I)⁻¹ Xᵀ(Y - Ȳ). Returns (mean, std, W, bias)."""
    mean, std = x.mean(0), x.std(0) + 1e-6
    xs = (x - mean) / std
    n, d = xs.shape
    w = np.linalg.solve(xs.T @ xs + alpha * n * np.eye(d), xs.T @ (y - y.mean(0)))
    return (mean, std, w, y.mean(0))


def ridge_predict(model, x: np.ndarray) -> np.ndarray:
    mean, std, w, bias = model
    return ((x - mean) / std) @ w + bias


def r2_score(y: np.ndarray, y_hat: np.ndarray) -> np.ndarray:
    """R² = 1 - Σ(y - ŷ)² / Σ(y - ȳ)², per column."""
    y, y_hat = np.atleast_2d(y.T).T, np.atleast_2d(y_hat.T).T
    return 1 - ((y - y_hat) ** 2).sum(0) / np.maximum(((y - y.mean(0)) ** 2).sum(0), 1e-12)


def probe_r2(train: Codes, test: Codes, code: str, factors: tuple[str, ...], alpha: float = 1e-2) -> dict[str, float]:
    """R² on held-out people of a ridge probe code -> each factor (fitted on ``train``)."""
    from ..world.state import STATE_NAMES

    cols = [STATE_NAMES.index(f) for f in factors]
    fit = ridge_fit(train.get(code), train.states[:, cols], alpha)
    r2 = r2_score(test.states[:, cols], ridge_predict(fit, test.get(code)))
    return {f: float(v) for f, v in zip(factors, r2)}


def _centred(x: np.ndarray, clip: np.ndarray) -> np.ndarray:
    """(N, d) rows minus the mean of their clip's rows."""
    x = np.asarray(x, np.float64).copy()
    for c in np.unique(clip):
        x[clip == c] -= x[clip == c].mean(0)
    return x


def within_clips(codes: Codes) -> Codes:
    """``codes`` with each clip's mean taken out of every code and of the truth (rows of one clip share ``clip``).
    :func:`probe_r2` on the result reads how a code follows a factor inside a clip, whoever the clip's person is."""
    return replace(codes, **{name: _centred(codes.get(name), codes.clip).astype(np.float32)
                             for name in ("z_pose", "z_dyn", "z_id", "states") if codes.get(name) is not None})


def between_clip_share(codes: Codes, factors: tuple[str, ...]) -> dict[str, float]:
    """The share of each true factor's variance that lies between the clips' means (0: it moves only inside clips,
    1: it is constant in each clip)."""
    from ..world.state import STATE_NAMES

    y = np.asarray(codes.states, np.float64)[:, [STATE_NAMES.index(f) for f in factors]]
    total = np.maximum(((y - y.mean(0)) ** 2).sum(0), 1e-12)
    inside = (_centred(y, codes.clip) ** 2).sum(0)
    return {f: float(v) for f, v in zip(factors, 1 - inside / total)}


def clip_levels(codes: Codes, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Each clip's level: the mean of ``name`` (a code, or ``states`` for the truth) over the clip's rows, (n_clips,
    d), and each clip's person, (n_clips,), in the order of ``codes.clip``'s values."""
    order = np.unique(codes.clip)
    levels = np.stack([np.asarray(codes.get(name), np.float64)[codes.clip == c].mean(0) for c in order])
    return levels, np.array([codes.identity[codes.clip == c][0] for c in order])


def clip_offsets(fit_x: np.ndarray, fit_states: np.ndarray, x: np.ndarray, states: np.ndarray,
                 clip: np.ndarray, n_clips: int) -> np.ndarray:
    """How far a reading of the head's angles sits off the truth over a whole clip: a ridge probe fitted on ``fit_x``
    reads yaw, pitch and roll from ``x``; its error averaged over each of clips 0 .. n_clips - 1 (n_clips, 3), in
    degrees (NaN for a clip with no row: a reader that found no face in it). A person's offset shows here, not in the
    frame-to-frame error."""
    err = ridge_predict(ridge_fit(fit_x, fit_states[:, :3]), x) - states[:, :3]
    return np.stack([err[clip == c].mean(0) if (clip == c).any() else np.full(3, np.nan) for c in range(n_clips)])


def nearest_level_same_person(levels: np.ndarray, person: np.ndarray) -> tuple[float, float]:
    """How often the clip whose level lies nearest (each dimension in its spread over the clips) is the same
    person's, and chance (1 / (n_clips - 1), for people with two clips). A code whose levels say who is moving
    scores high; one whose levels say only how the person moves scores near the true motion's levels."""
    z = (levels - levels.mean(0)) / (levels.std(0) + 1e-6)
    d = ((z[:, None] - z[None]) ** 2).sum(-1)
    np.fill_diagonal(d, np.inf)
    return float((person[d.argmin(1)] == person).mean()), 1 / (len(levels) - 1)


def identity_probe(codes: Codes, features: np.ndarray, alpha: float = 1e-2) -> tuple[float, float]:
    """Accuracy of naming people from ``features`` (N, d): learn each person on their first clip, test on the
    others; ridge regression onto one-hot labels, then argmax. Returns (accuracy, chance)."""
    people = np.unique(codes.identity)
    first = {p: codes.clip[codes.identity == p].min() for p in people}
    train = np.array([codes.clip[i] == first[codes.identity[i]] for i in range(len(codes.clip))])
    two_clips = np.array([len(np.unique(codes.clip[codes.identity == p])) > 1 for p in codes.identity])
    if not two_clips.any():
        raise ValueError("the identity probe needs people with at least two clips")
    labels = np.searchsorted(people, codes.identity)
    onehot = np.eye(len(people))[labels]
    fit = ridge_fit(features[train], onehot[train], alpha)
    test = ~train & two_clips
    pred = ridge_predict(fit, features[test]).argmax(1)
    return float((pred == labels[test]).mean()), 1.0 / len(people)


def probe_table(train: Codes, test: Codes) -> list[dict]:
    """The disentanglement table: one row per (code, factor), R² on held-out people, and the identity rows."""
    rows = []
    for code, factors, kind in (("z_pose", POSE_FACTORS, "carries"), ("z_dyn", DYN_FACTORS, "carries"),
                                ("z_dyn", POSE_FACTORS, "leaks"), ("z_pose", DYN_FACTORS, "leaks")):
        for factor, r2 in probe_r2(train, test, code, factors).items():
            rows.append(dict(code=code, target=factor, kind=kind, metric="R2", value=round(r2, 3)))
    for code in ("z_pose", "z_dyn", "z_id"):
        acc, chance = identity_probe(test, test.get(code))
        rows.append(dict(code=code, target="identity", kind="leaks" if code != "z_id" else "carries",
                         metric="accuracy", value=round(acc, 3), chance=round(chance, 3)))
    motion_truth = np.delete(test.states, [5], axis=1)     # every true motion factor (head distance aside)
    acc, chance = identity_probe(test, motion_truth)
    rows.append(dict(code="true motion", target="identity", kind="floor", metric="accuracy", value=round(acc, 3),
                     chance=round(chance, 3)))
    return rows


# ---------------------------------------------------------------------------------------------------------------
# cross-reenactment
# ---------------------------------------------------------------------------------------------------------------
def cross_pairs(clips: ClipFrames, n_pairs: int, seed: int = 0) -> list[tuple[int, int]]:
    """(clip of A, clip of B) with A != B as people, drawn reproducibly."""
    rng = np.random.default_rng([seed, 4])
    pairs = []
    while len(pairs) < n_pairs:
        a, b = (int(v) for v in rng.integers(len(clips), size=2))
        if clips.identity[a] != clips.identity[b]:
            pairs.append((a, b))
    return pairs


class TrackerPose:
    """Pose and mouth opening measured by chapter 02's tracker (landmark-network backend on small frames)."""

    name = "chapter 02's tracker (FaceTracker, backend 'net')"

    def __init__(self):
        from ..tracking import FaceTracker

        self.tracker = FaceTracker(backend="net")

    @staticmethod
    def cached() -> bool:
        """True if the tracker's landmark network is in the artifact store (so using it costs no training)."""
        from ..artifacts import ArtifactStore
        from ..tracking.landmark_net import LandmarkNetConfig

        return ArtifactStore().has("landmark_net", LandmarkNetConfig.for_profile())

    def __call__(self, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        track = self.tracker.track(frames, fps=25.0)
        return track.pose[:, :3], track.mouth_open


class ProbePose:
    """Fallback measurement when the tracker is not at hand: re-encode the frames with ``reference``'s motion encoder
    and read the angles and the jaw opening with ridge probes fitted on ``train_codes`` (ground truth). Weaker than
    the tracker: a generator could please its own encoder without looking right."""

    name = "ridge probes on the re-encoded frames' z_pose (angles) and z_dyn (jaw opening)"

    def __init__(self, reference: FaceLatentModel, train_codes: Codes):
        from ..world.state import STATE_NAMES

        self.reference = reference
        self.pose_fit = ridge_fit(train_codes.z_pose, train_codes.states[:, :3])
        self.mouth_fit = ridge_fit(train_codes.z_dyn, train_codes.states[:, [STATE_NAMES.index("jaw_open")]])

    def __call__(self, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        z_pose, z_dyn = encode_motion(self.reference, frames)
        return ridge_predict(self.pose_fit, z_pose.numpy()), ridge_predict(self.mouth_fit, z_dyn.numpy())[:, 0]


def pose_measure(reference: FaceLatentModel, train_codes: Codes):
    """The tracker if its landmark network is cached (chapter 02 ran), else the probe fallback; ``.name`` says which."""
    try:
        if TrackerPose.cached():
            return TrackerPose()
    except Exception:   # the tracking package is missing or broken: fall back, the name says so
        pass
    return ProbePose(reference, train_codes)


@torch.no_grad()
def cross_reenactment(model: FaceLatentModel, clips: ClipFrames, identity_net: torch.nn.Module, measure,
                      n_pairs: int = 12, frames: int = 25, seed: int = 0) -> dict[str, float]:
    """A (first frame of A's clip) driven by ``frames`` frames of B's clip, for ``n_pairs`` pairs of people.

    Returns mean errors and their baselines:

    * ``pose_err``: |measured pose of A-driven-by-B - B's true pose| in degrees (yaw, pitch, roll averaged);
      ``pose_err_real``: the same measurement on B's real frames (the measuring instrument's own error);
      ``pose_err_static``: A's unchanged portrait against B's pose (no motion transfer at all);
    * ``mouth_err``: |mouth opening of A-driven-by-B - that of B's real frames| (both measured the same way),
      ``mouth_err_static`` its static-portrait baseline, ``mouth_corr`` the correlation over time;
    * ``id_sim``: cos(ψ(A-driven-by-B), ψ(A)); ``id_sim_same``: another frame of A vs A (the ceiling);
      ``id_sim_other``: B's real frame vs A (a different person: the floor).
    """
    model.eval()
    out = {k: [] for k in ("pose_err", "pose_err_real", "pose_err_static", "mouth_err", "mouth_err_static",
                           "mouth_corr", "id_sim", "id_sim_same", "id_sim_other")}
    size = model.config.image_size
    for a, b in cross_pairs(clips, n_pairs, seed):
        portrait = np.asarray(clips.frames(a)[0])
        idx = np.linspace(0, clips.n_frames[b] - 1, frames).round().astype(int)
        driving = np.asarray(clips.frames(b)[idx])
        truth_b = clips.states(b)[idx]
        z_pose, z_dyn = encode_motion(model, driving)
        app = model.encode_appearance(as_frames(portrait, size))
        fake = render(model, app, z_pose, z_dyn)                                # (T, 3, H, W)
        fake_u8 = (fake.clamp(0, 1) * 255).round().byte().permute(0, 2, 3, 1).numpy()
        static_u8 = np.repeat(portrait[None], len(idx), axis=0)
        pose_fake, mouth_fake = measure(fake_u8)
        pose_real, mouth_real = measure(driving)
        pose_static, mouth_static = measure(static_u8)
        out["pose_err"].append(np.nanmean(np.abs(pose_fake - truth_b[:, :3])))
        out["pose_err_real"].append(np.nanmean(np.abs(pose_real - truth_b[:, :3])))
        out["pose_err_static"].append(np.nanmean(np.abs(pose_static - truth_b[:, :3])))
        out["mouth_err"].append(np.nanmean(np.abs(mouth_fake - mouth_real)))
        out["mouth_err_static"].append(np.nanmean(np.abs(mouth_static - mouth_real)))
        if np.nanstd(mouth_fake) > 1e-6 and np.nanstd(mouth_real) > 1e-6:
            ok = np.isfinite(mouth_fake) & np.isfinite(mouth_real)
            out["mouth_corr"].append(np.corrcoef(mouth_fake[ok], mouth_real[ok])[0, 1])
        x_a = as_frames(portrait, size)
        x_a2 = as_frames(np.asarray(clips.frames(a)[clips.n_frames[a] // 2]), size)
        e_a = identity_net(x_a)
        out["id_sim"].append(float((identity_net(fake) @ e_a.T).mean()))
        out["id_sim_same"].append(float((identity_net(x_a2) @ e_a.T).mean()))
        out["id_sim_other"].append(float((identity_net(as_frames(driving, size)) @ e_a.T).mean()))
    return {k: float(np.mean(v)) if v else float("nan") for k, v in out.items()}


# ---------------------------------------------------------------------------------------------------------------
# self-reenactment
# ---------------------------------------------------------------------------------------------------------------
@torch.no_grad()
def self_reenactment(model: FaceLatentModel, clips: ClipFrames, n_pairs: int = 256, min_gap: int = 10,
                     seed: int = 0, batch_size: int = 64) -> dict[str, float]:
    """Draw driver frames from source frames of the same clip (held-out people): PSNR / SSIM of the model and of
    the copy-the-source baseline (show the source frame unchanged), averaged over ``n_pairs`` pairs."""
    from .data import FramePairDataset
    from .losses import psnr, ssim

    model.eval()
    pairs = FramePairDataset(clips, n_pairs, min_gap=min_gap, other_clip_share=0.0, seed=seed + 1000)
    sums = dict(psnr=0.0, ssim=0.0, psnr_copy=0.0, ssim_copy=0.0)
    for start in range(0, n_pairs, batch_size):
        items = [pairs[i] for i in range(start, min(start + batch_size, n_pairs))]
        xs = torch.stack([it["source"] for it in items])
        xd = torch.stack([it["driver"] for it in items])
        fake = model(xs, xd)
        sums["psnr"] += float(psnr(fake, xd).sum())
        sums["ssim"] += float(ssim(fake, xd).sum())
        sums["psnr_copy"] += float(psnr(xs, xd).sum())
        sums["ssim_copy"] += float(ssim(xs, xd).sum())
    return {k: v / n_pairs for k, v in sums.items()}
