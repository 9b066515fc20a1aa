"""Training data for the motion generator: every clip as motion codes, audio features and condition labels.

The transformer never sees pixels. Each clip of a dataset folder becomes

* ``motion`` (T, M): the motion code ``[z_pose, z_dyn]`` of every frame, made by running the trained face latent
  model's motion encoder over the clip's frames (``vasa_lab.latent.api.encode_motion``). So what the generator
  learns is exactly what the latent model can draw. (``codes="truth"``: a stand-in made from the synthetic world's
  FaceStates, pose + the 11 expression parameters padded with zeros, for tests that must not need a latent model.)
* ``audio`` (T, A): ``vasa_lab.audio.audio_features`` of the clip's speech, one row per frame;
* the clip's condition labels, as a tracker would give them on real video: the **main gaze** g (the densest
  direction of the per-frame gaze, ``vasa_lab.tracking.main_gaze``), the **head distance** d (the median head
  scale) and the **emotion** e (one-hot scores; unknown on real video without an emotion classifier);
* for measuring, the ground truth where the world has it: the FaceStates (jaw opening, head angles);
* ``shut`` (T,): where the eyes are shut, from the world's eyelid (above ``TRUE_BLINK``) or, on real video, the
  tracker's blink flag (chapter 02): the blinks that :class:`MotionWindows` can centre training windows on.

Encoding 500 clips takes a minute or two, so the result is cached once as an ``.npz`` in the artifact store's
folder, keyed by the latent model, the audio settings and the dataset folder (:func:`motion_clips`).
:class:`MotionWindows` then cuts training windows: W frames to generate, the K frames before them as context.
"""
from __future__ import annotations

import hashlib
import json
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch
from torch.utils.data import Dataset

from ..artifacts import ArtifactStore, ExclusiveLock, default_home
from ..data.clips import dataset_folder, is_prepared
from ..data.splits import split_entries
from ..world.behaviour import EMOTIONS
from ..world.state import STATE_NAMES, TRUE_BLINK
from .config import MotionConfig

N_STATES = len(STATE_NAMES)
GAZE_COLUMNS = [STATE_NAMES.index("gaze_yaw"), STATE_NAMES.index("gaze_pitch")]
JAW = STATE_NAMES.index("jaw_open")


@dataclass
class MotionClips:
    """All clips of a folder, concatenated along time; clip i is rows ``offsets[i]:offsets[i + 1]``."""

    motion: np.ndarray      # (sum T, M) float32 motion codes [z_pose, z_dyn]
    audio: np.ndarray       # (sum T, A) float32 audio features
    states: np.ndarray      # (sum T, 17) float32 ground-truth FaceStates (NaN on real video)
    shut: np.ndarray        # (sum T,) bool eyes shut: the world's eyelid > TRUE_BLINK, else the tracker's blink flag
    offsets: np.ndarray     # (N + 1,) int64
    gaze: np.ndarray        # (N, 2) float32 main gaze (yaw, pitch) degrees
    distance: np.ndarray    # (N,) float32 head distance (median scale)
    emotion: np.ndarray     # (N, E) float32 emotion scores; NaN rows where unknown
    identity: np.ndarray    # (N,) int64
    split: np.ndarray       # (N,) str: train / val / test (by identity)
    stem: np.ndarray        # (N,) str: the clip's name in its folder

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def rows(self, i: int) -> slice:
        return slice(int(self.offsets[i]), int(self.offsets[i + 1]))

    def n_frames(self, i: int) -> int:
        return int(self.offsets[i + 1] - self.offsets[i])

    def clip(self, i: int) -> dict:
        """One clip's arrays: motion (T, M), audio (T, A), states (T, 17), shut (T,), and its labels."""
        r = self.rows(i)
        return dict(motion=self.motion[r], audio=self.audio[r], states=self.states[r], shut=self.shut[r],
                    gaze=self.gaze[i],
                    distance=float(self.distance[i]), emotion=self.emotion[i], identity=int(self.identity[i]),
                    stem=str(self.stem[i]), split=str(self.split[i]))

    def indices(self, split: str) -> np.ndarray:
        return np.flatnonzero(self.split == split)

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.stem + ".tmp.npz")
        np.savez(tmp, **asdict(self))
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> "MotionClips":
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in cls.__dataclass_fields__ if k in z.files}
        if "shut" not in arrays:    # a cache written before ``shut`` existed: the world's eyelid, where it is known
            arrays["shut"] = shut_from_states(arrays["states"])
        return cls(**arrays)


def shut_from_states(states: np.ndarray) -> np.ndarray:
    """(T,) bool: the world's eyelid above ``TRUE_BLINK`` (False where the states are unknown, NaN)."""
    return np.nan_to_num(np.asarray(states, np.float32)[:, STATE_NAMES.index("blink")]) > TRUE_BLINK


# ---------------------------------------------------------------------------------------------------------------
# condition labels
# ---------------------------------------------------------------------------------------------------------------
def main_gaze_of(gaze: np.ndarray) -> np.ndarray:
    """The clip's main gaze direction from per-frame gaze (T, 2) degrees: the tracker's densest-direction rule."""
    from ..tracking.tracker import main_gaze

    return np.asarray(main_gaze(SimpleNamespace(gaze=np.asarray(gaze, np.float64))), np.float32)


def labels_from_states(states: np.ndarray) -> tuple[np.ndarray, float]:
    """(main gaze (2,), head distance) from a clip's FaceStates (T, 17), as a tracker would measure them."""
    return main_gaze_of(states[:, GAZE_COLUMNS]), float(np.median(states[:, STATE_NAMES.index("scale")]))


def one_hot_emotion(emotion_id: int | None) -> np.ndarray:
    scores = np.full(len(EMOTIONS), np.nan, np.float32)
    if emotion_id is not None:
        scores[:] = 0.0
        scores[int(emotion_id)] = 1.0
    return scores


def truth_codes(states: np.ndarray, dyn_dim: int) -> np.ndarray:
    """The stand-in motion code made from FaceStates: [pose (6), expression (11), zeros] -> (T, 6 + dyn_dim)."""
    out = np.zeros((len(states), 6 + dyn_dim), np.float32)
    n = min(N_STATES - 6, dyn_dim)
    out[:, :6 + n] = states[:, :6 + n]
    return out


# ---------------------------------------------------------------------------------------------------------------
# building the cache
# ---------------------------------------------------------------------------------------------------------------
def clip_features(samples: np.ndarray, sample_rate: int, n_frames: int, audio_config) -> np.ndarray:
    """Audio features (n_frames, A) of a clip's speech, cut or edge-padded to the clip's frame count."""
    from ..audio import audio_features, prepare_audio

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # a silent clip is fine here
        feats = audio_features(prepare_audio(np.asarray(samples, np.float32), sample_rate, audio_config), audio_config)
    if len(feats) < n_frames:
        feats = np.concatenate([feats, np.repeat(feats[-1:], n_frames - len(feats), axis=0)])
    return feats[:n_frames].astype(np.float32)


def cache_path(config: MotionConfig, folder: Path, store_root: Path | None = None) -> Path:
    """Where the encoded clips of ``folder`` for ``config``'s codes and audio settings are cached."""
    what = dict(codes=config.codes, latent_key=config.latent_key, dyn_dim=config.dyn_dim,
                audio=asdict(config.audio), folder=str(Path(folder).resolve()))
    if is_prepared(folder):    # real video: caches made before ``shut`` held no tracker blinks, so they are not reused
        what["shut"] = "tracker blink flag"
    key = hashlib.sha256(json.dumps(what, sort_keys=True, default=str).encode()).hexdigest()[:12]
    return (store_root or default_home()) / "motion-data" / f"{key}.npz"


def build_motion_clips(folder: str | Path, config: MotionConfig, latent_model=None,
                       progress: bool = False) -> MotionClips:
    """Encode every clip of ``folder`` (all splits) into a :class:`MotionClips` (see the module docstring)."""
    from ..data.clips import ClipFrames

    folder = Path(folder)
    clips = ClipFrames(folder, split=None)
    entries = clips.entries
    from ..config import DataConfig

    dc = DataConfig()
    split_of = {}
    for split in ("train", "val", "test"):
        for e in split_entries(entries, split, dc.val_fraction, dc.test_fraction, dc.split_seed):
            split_of[id(e)] = split
    if config.codes == "latent":
        if latent_model is None:
            raise ValueError("build_motion_clips with codes='latent' needs the face latent model")
        from ..artifacts import config_key
        from ..latent.api import encode_motion

        if config_key(latent_model.config.codes_config()) != config.latent_key:
            raise ValueError(f"the face latent model's codes have key {config_key(latent_model.config.codes_config())}, "
                             f"but this motion config "
                             f"was made for latent_key={config.latent_key}")

    rows = dict(motion=[], audio=[], states=[], shut=[])
    labels = dict(gaze=[], distance=[], emotion=[], identity=[], split=[], stem=[])
    order = range(len(clips))
    if progress:
        from tqdm.auto import tqdm

        order = tqdm(order, desc="encoding clips", unit="clip")
    for c in order:
        entry = entries[c]
        T = clips.n_frames[c]
        states = clips.states(c)
        if clips.prepared:
            tracks = clips.source.tracks_of(c)
            gaze = np.asarray(tracks["gaze_main"], np.float32)
            distance = float(tracks["head_distance"])
            truth_meta = tracks.get("meta", {}).get("truth", {}) if isinstance(tracks.get("meta"), dict) else {}
            emotion = one_hot_emotion(truth_meta.get("emotion_id"))
            states = tracks.get("true_states", states)
        else:
            gaze, distance = labels_from_states(states)
            emotion = one_hot_emotion(clips.source.truth_of(c).meta["emotion_id"])
        if config.codes == "latent":
            z_pose, z_dyn = encode_motion(latent_model, np.asarray(clips.frames(c)))
            motion = torch.cat([z_pose, z_dyn], 1).numpy()
        else:
            if states is None:
                raise ValueError(f"{folder} has no ground-truth states; codes='truth' works on the synthetic world "
                                 f"only")
            motion = truth_codes(states, config.dyn_dim)
        sr = int(clips.source.spec["sample_rate"]) if not clips.prepared else 16_000
        audio = clip_features(clips.source.audio_of(c), sr, T, config.audio)
        rows["motion"].append(np.asarray(motion, np.float32)[:T])
        rows["audio"].append(audio)
        rows["states"].append(np.asarray(states, np.float32)[:T] if states is not None
                              else np.full((T, N_STATES), np.nan, np.float32))
        flag = tracks.get("blink") if clips.prepared else None
        rows["shut"].append(shut_from_states(rows["states"][-1]) if states is not None or flag is None
                            else np.asarray(flag, bool)[:T])
        if len(rows["shut"][-1]) != T:
            raise ValueError(f"clip {c} of {folder} has {T} frames but {len(rows['shut'][-1])} blink flags")
        labels["gaze"].append(gaze)
        labels["distance"].append(distance)
        labels["emotion"].append(emotion)
        labels["identity"].append(int(entry["identity"]))
        labels["split"].append(split_of[id(entry)])
        labels["stem"].append(str(entry.get("stem", entry.get("key", c))))
    lengths = [len(m) for m in rows["motion"]]
    return MotionClips(
        motion=np.concatenate(rows["motion"]), audio=np.concatenate(rows["audio"]),
        states=np.concatenate(rows["states"]), shut=np.concatenate(rows["shut"]),
        offsets=np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
        gaze=np.stack(labels["gaze"]).astype(np.float32), distance=np.array(labels["distance"], np.float32),
        emotion=np.stack(labels["emotion"]).astype(np.float32), identity=np.array(labels["identity"], np.int64),
        split=np.array(labels["split"]), stem=np.array(labels["stem"]))


def motion_clips(config: MotionConfig, folder: str | Path | None = None, store_root: Path | None = None,
                 progress: bool = False, latent_model=None) -> MotionClips:
    """The encoded clips of ``folder`` (default: the config's dataset), from the cache or built and cached now.

    With ``codes="latent"`` the face latent model comes from ``vasa_lab.latent.api.load_latent_model`` (the
    profile's; shipped weights in tiny) unless ``latent_model`` is given.
    """
    folder = Path(folder) if folder is not None else dataset_folder(config, progress=True)
    path = cache_path(config, folder, store_root)
    if path.is_file():
        return MotionClips.load(path)
    with ExclusiveLock(path.with_suffix(".lock")):        # two processes at once: one encodes, the other waits
        if path.is_file():
            return MotionClips.load(path)
        if config.codes == "latent" and latent_model is None:
            from ..latent.api import load_latent_model

            latent_model = load_latent_model(config.profile, store=ArtifactStore(store_root) if store_root else None)
        clips = build_motion_clips(folder, config, latent_model, progress=progress)
        clips.save(path)
    return clips


# ---------------------------------------------------------------------------------------------------------------
# training windows
# ---------------------------------------------------------------------------------------------------------------
class MotionWindows(Dataset):
    """Random training windows from the clips of one split; ``length`` items, each a pure function of (seed, index).

    An item: ``x0`` (W, M) the motion to generate, ``audio`` (W, A); ``context`` (K, M) and ``context_audio`` (K, A)
    the K frames before it, ``context_ok`` () bool (False when the window starts before frame K: no context);
    ``gaze`` (2,), ``distance`` (), ``emotion`` (E,), ``emotion_ok`` () bool. Motion is *not* normalised here
    (the model holds the statistics).

    ``blink_windows`` (the config's unless given): this share of the windows is drawn around a blink, the rest
    uniformly. A blink is a run of frames with the eyes shut (``MotionClips.shut``: the world's eyelid above
    ``TRUE_BLINK``, or on real video the tracker's blink flag); where no clip has one, every window is drawn
    uniformly, with a warning. Drawn
    uniformly, 0.37 of small's 25-frame training windows hold a blink, and a generator trained on them drew about half
    the blinks the data holds (``python benchmarks/bench_blink_training.py --windows-only`` prints the shares).
    """

    def __init__(self, clips: MotionClips, config: MotionConfig, split: str = "train", length: int = 10_000,
                 seed: int = 0, blink_windows: float | None = None):
        self.clips, self.length, self.seed = clips, length, seed
        self.W, self.K = config.window, config.context
        self.index = np.array([i for i in clips.indices(split) if clips.n_frames(i) >= self.W], np.int64)
        if self.index.size == 0:
            raise ValueError(f"no {split!r} clip has the {self.W} frames a window needs")
        self.blink_windows = float(config.blink_windows if blink_windows is None else blink_windows)
        if not 0.0 <= self.blink_windows <= 1.0:
            raise ValueError(f"blink_windows is a share of the windows, between 0 and 1, not {self.blink_windows}")
        self.blinks = self.blink_frames() if self.blink_windows > 0 else np.zeros((0, 2), np.int64)
        if self.blink_windows > 0 and not len(self.blinks):
            warnings.warn(f"no blink found in the {split!r} clips (neither the world's eyelid nor the tracker's "
                          f"blink flag): every window is drawn uniformly")
            self.blink_windows = 0.0

    def blink_frames(self) -> np.ndarray:
        """(n, 2) rows (clip, frame): the middle frame of every blink of the split's clips."""
        out = []
        for c in self.index:
            shut = self.clips.shut[self.clips.rows(int(c))]
            edges = np.flatnonzero(np.diff(np.concatenate([[0], shut.astype(np.int8), [0]])))
            out += [(int(c), (a + b - 1) // 2) for a, b in zip(edges[::2], edges[1::2])]
        return np.array(out, np.int64).reshape(-1, 2)

    def __len__(self) -> int:
        return self.length

    def place(self, i: int) -> tuple[int, int]:
        """(clip, first frame) of item ``i``: a pure function of (seed, i). Around a blink, the window starts so that
        the blink's middle frame lies in it, anywhere from its first frame to its last."""
        rng = np.random.default_rng([self.seed, i])
        if self.blink_windows > 0 and rng.random() < self.blink_windows:     # no extra draw at 0: windows as before
            c, frame = (int(v) for v in self.blinks[rng.integers(len(self.blinks))])
            lo, hi = max(0, frame - self.W + 1), min(frame, self.clips.n_frames(c) - self.W)
            return c, int(rng.integers(lo, hi + 1))
        c = int(self.index[rng.integers(self.index.size)])
        return c, int(rng.integers(0, self.clips.n_frames(c) - self.W + 1))

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return self.window(*self.place(i))

    def window(self, c: int, start: int) -> dict[str, torch.Tensor]:
        """The item for clip ``c``'s window that begins at frame ``start`` (what a random index draws)."""
        r0 = int(self.clips.offsets[c])
        a, b = r0 + start, r0 + start + self.W
        context_ok = start >= self.K
        k0 = a - self.K if context_ok else a

        def take(x: np.ndarray, lo: int, hi: int) -> torch.Tensor:
            return torch.from_numpy(np.ascontiguousarray(x[lo:hi], np.float32))

        emotion = self.clips.emotion[c]
        ok = bool(np.isfinite(emotion).all())
        M, A = self.clips.motion.shape[1], self.clips.audio.shape[1]
        ctx = take(self.clips.motion, k0, k0 + self.K) if context_ok else torch.zeros(self.K, M)
        ctx_audio = take(self.clips.audio, k0, k0 + self.K) if context_ok else torch.zeros(self.K, A)
        return dict(x0=take(self.clips.motion, a, b), audio=take(self.clips.audio, a, b), context=ctx,
                    context_audio=ctx_audio, context_ok=torch.tensor(context_ok),
                    gaze=torch.from_numpy(self.clips.gaze[c].copy()),
                    distance=torch.tensor(float(self.clips.distance[c])),
                    emotion=torch.from_numpy(np.nan_to_num(emotion).astype(np.float32)), emotion_ok=torch.tensor(ok))
