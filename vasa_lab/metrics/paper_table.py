"""The paper's table: every metric over a set of clips, and the ``vasa-lab evaluate`` command.

:class:`Evaluator` loads the metric networks once (from the artifact store; trained on first use in ``tiny``) and
measures a list of :class:`~.features.EvalClip`:

* per clip, chapter 02's tracker finds the landmarks (mouth crops for SyncNet) and the head pose (CAPP, dP)
  (:func:`~.pose_intensity.measure_face`); ``crop_source="given"`` / ``pose_source="given"`` use the clip's own
  ``landmarks`` / ``pose`` instead (ground truth, or a generator's z_pose), ``crop_source="fixed"`` a fixed box;
* S_C, S_D (:mod:`.syncnet`), CAPP (:mod:`.capp`), dP (:mod:`.pose_intensity`) and identity
  (:mod:`.id_similarity`) are averaged over clips; FVD_25 (:mod:`.fvd`) compares the whole set with a reference set.

``vasa-lab evaluate --generated DIR --reference DIR [--json OUT]`` does this for two folders of videos (each mp4
with its audio track or a ``.wav`` of the same name beside it) and prints the paper's layout: one row for the
generated videos, one for the reference (real) videos. A file that cannot be read, has no audio or shows no
face is reported and skipped; the exit status is then 1.
"""
from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import numpy as np

from ..config import resolve_profile
from ..media import MediaError
from .features import EvalClip, fixed_mouth_crops, load_eval_clip, log_mel, mouth_crops

VIDEO_SUFFIXES = (".mp4", ".mov", ".m4v", ".avi", ".mkv", ".webm")
CROP_SOURCES = ("tracker", "given", "fixed")
POSE_SOURCES = ("tracker", "given")
TRACKED_CROP_SMOOTHING = 1.0     # frames: the tracked mouth box is smoothed over time before cropping
MIN_FRAMES = 25                  # 1 s: the shortest clip every metric can read (CAPP, FVD_25)

# (key, header, format): the paper's columns, then identity
COLUMNS = (("S_C", "S_C ↑", "{:.3f}"), ("S_D", "S_D ↓", "{:.3f}"), ("CAPP", "CAPP ↑", "{:.3f}"),
           ("dP", "dP", "{:.3f}"), ("FVD_25", "FVD_25 ↓", "{:.1f}"), ("identity", "ID ↑", "{:.3f}"))

# VASA-1's Table 1 (VoxCeleb2 test set) and its one-minute set, for reading our rows beside them
PAPER_TABLE = {
    "MakeItTalk": dict(S_C=4.176, S_D=15.513, CAPP=-0.051, dP=0.210),
    "Audio2Head": dict(S_C=6.172, S_D=8.470, CAPP=0.246, dP=0.260),
    "SadTalker": dict(S_C=5.843, S_D=8.813, CAPP=0.441, dP=0.275),
    "VASA-1": dict(S_C=8.841, S_D=6.312, CAPP=0.468, dP=0.304),
    "real video": dict(S_C=7.640, S_D=7.189, CAPP=0.588, dP=0.505),
    "VASA-1 (1-min set)": dict(S_C=7.957, S_D=6.635, CAPP=0.465, dP=0.316, FVD_25=105.9),
    "real video (1-min set)": dict(S_C=7.192, S_D=7.254, CAPP=0.559, dP=0.405, FVD_25=29.2),
}


def _digest(frames: np.ndarray) -> str:
    return hashlib.blake2b(np.ascontiguousarray(frames).data, digest_size=16).hexdigest()


class Evaluator:
    """All metrics with their networks, loaded lazily and kept.

    ``measure(clips, reference=None)`` -> dict(S_C, S_D, CAPP, dP, identity, FVD_25 (with a reference), n, per_clip,
    skipped, networks). Tracking results are cached per clip content, so measuring the same frames with other
    audio (the validation curves) tracks them once.
    """

    def __init__(self, profile: str | None = None, crop_source: str = "tracker", pose_source: str = "tracker",
                 syncnet_weights: str = "", i3d_path: str = "", arcface_path: str = "", fvd_stride: int = 5,
                 store=None):
        if crop_source not in CROP_SOURCES:
            raise ValueError(f"unknown crop source {crop_source!r}; choose one of {', '.join(CROP_SOURCES)}")
        if pose_source not in POSE_SOURCES:
            raise ValueError(f"unknown pose source {pose_source!r}; choose one of {', '.join(POSE_SOURCES)}")
        self.profile = resolve_profile(profile)
        self.crop_source, self.pose_source = crop_source, pose_source
        self.syncnet_weights, self.i3d_path, self.arcface_path = syncnet_weights, i3d_path, arcface_path
        self.fvd_stride, self.store = fvd_stride, store
        self._nets: dict = {}
        self._faces: dict[str, dict] = {}
        self._trackers: dict[int, object] = {}

    # -- networks ------------------------------------------------------------------------------------------------
    @property
    def syncnet(self):
        if "syncnet" not in self._nets:
            from .syncnet import SyncNetConfig, load_syncnet

            cfg = SyncNetConfig.for_profile(self.profile, weights_path=self.syncnet_weights)
            self._nets["syncnet"] = load_syncnet(config=cfg, store=self.store)
        return self._nets["syncnet"]

    @property
    def capp(self):
        if "capp" not in self._nets:
            from .capp import load_capp

            self._nets["capp"] = load_capp(self.profile, store=self.store)
        return self._nets["capp"]

    @property
    def video_encoder(self):
        if "video" not in self._nets:
            from .fvd import load_video_encoder

            self._nets["video"] = load_video_encoder(self.profile, store=self.store, i3d_path=self.i3d_path)
        return self._nets["video"]

    @property
    def identity_net(self):
        if "identity" not in self._nets:
            from .id_similarity import load_identity_metric_net

            self._nets["identity"] = load_identity_metric_net(self.profile, self.arcface_path, store=self.store)
        return self._nets["identity"]

    def variant(self, **options) -> "Evaluator":
        """The same evaluator with other options (e.g. ``crop_source="fixed"``), sharing its networks and tracks."""
        settings = dict(profile=self.profile, crop_source=self.crop_source, pose_source=self.pose_source,
                        syncnet_weights=self.syncnet_weights, i3d_path=self.i3d_path, arcface_path=self.arcface_path,
                        fvd_stride=self.fvd_stride, store=self.store)
        other = Evaluator(**{**settings, **options})
        other._faces, other._trackers = self._faces, self._trackers
        if not set(options) & {"profile", "syncnet_weights", "i3d_path", "arcface_path", "store"}:
            other._nets = self._nets                    # same networks
        return other

    def load_all(self) -> "Evaluator":
        """Load (or train, in tiny) every metric network now."""
        _ = self.syncnet, self.capp, self.video_encoder, self.identity_net
        return self

    def networks(self) -> dict[str, str]:
        """Which network each metric uses (numbers compare only within the same networks)."""
        from .fvd import FVD

        enc = self.video_encoder
        return dict(
            syncnet=f"SyncNet weights {Path(self.syncnet_weights).name}" if self.syncnet_weights
            else f"ours (SyncNet {self.profile})",
            capp=f"ours (CAPP {self.profile})", fvd=FVD(enc).encoder_name, identity=self.identity_net[1],
            crops=self.crop_source, pose=self.pose_source)

    # -- per clip ------------------------------------------------------------------------------------------------
    def face(self, clip: EvalClip) -> dict:
        """The tracker's landmarks and pose of a clip (cached by the frames' content)."""
        from .pose_intensity import make_tracker, measure_face

        key = _digest(clip.frames)
        if key not in self._faces:
            size = int(min(clip.frames.shape[1:3]))
            if size not in self._trackers:
                self._trackers[size] = make_tracker(size)
            self._faces[key] = measure_face(clip.frames, self._trackers[size], clip.name)
        return self._faces[key]

    def crops(self, clip: EvalClip) -> np.ndarray:
        size = self.syncnet.config.crop_size
        if self.crop_source == "fixed":
            return fixed_mouth_crops(clip.frames, size)
        if self.crop_source == "given":
            if clip.landmarks is None:
                raise ValueError(f"{clip.name}: crop_source='given' but the clip carries no landmarks")
            return mouth_crops(clip.frames, clip.landmarks, size)
        return mouth_crops(clip.frames, self.face(clip)["landmarks"], size, smooth=TRACKED_CROP_SMOOTHING)

    def pose(self, clip: EvalClip) -> np.ndarray:
        if self.pose_source == "given":
            if clip.pose is None:
                raise ValueError(f"{clip.name}: pose_source='given' but the clip carries no pose")
            return np.asarray(clip.pose, np.float32)
        return self.face(clip)["pose"]

    # -- a set of clips ------------------------------------------------------------------------------------------
    def measure(self, clips: list[EvalClip], reference: list[EvalClip] | None = None, fvd: bool = True) -> dict:
        """Every metric over ``clips`` (FVD_25 against ``reference`` when given and ``fvd``)."""
        from .capp import CAPPScore
        from .fvd import FVD
        from .id_similarity import IdentitySimilarity
        from .pose_intensity import PoseIntensity
        from .syncnet import LipSync

        identity_net, identity_name = self.identity_net
        sync, capp = LipSync(self.syncnet), CAPPScore(self.capp)
        dp, ident = PoseIntensity(), IdentitySimilarity(identity_net, identity_name)
        per_clip, skipped, kept = [], [], []
        n_sync, n_capp = self.syncnet.config.n_mels, self.capp.config.n_mels
        for clip in clips:
            try:                                   # everything that can fail for one clip, before any update
                if clip.n_frames < MIN_FRAMES:
                    raise ValueError(f"{clip.name}: {clip.n_frames} frames; the metrics need at least {MIN_FRAMES} (1 s)")
                pose, crops = self.pose(clip), self.crops(clip)
                mel = log_mel(clip.audio, clip.n_frames, n_mels=n_sync)
                mel_capp = mel if n_capp == n_sync else log_mel(clip.audio, clip.n_frames, n_mels=n_capp)
            except ValueError as err:
                skipped.append(dict(name=clip.name, error=str(err)))
                continue
            sync.update(crops, mel)
            capp.update(mel_capp, pose)
            dp.update(pose)
            ident.update(clip.reference_image(), clip.frames)
            kept.append(clip)
            s = sync.per_clip[-1]
            per_clip.append(dict(name=clip.name, S_C=s.confidence, S_D=s.distance, offset=s.offset,
                                 CAPP=capp.per_clip[-1], dP=dp.per_clip[-1], identity=ident.per_clip[-1]))
        if not kept:
            raise ValueError("no clip could be measured: " + "; ".join(f"{s['name']}: {s['error']}" for s in skipped))
        out = {}
        for m in (sync, capp, dp, ident):
            out.update({k: v for k, v in m.compute().items() if k != "n"})
        out["n"] = len(kept)
        if fvd and reference:
            metric = FVD(self.video_encoder, stride=self.fvd_stride)
            for clip in reference:
                metric.update(clip.frames, real=True)
            for clip in kept:
                metric.update(clip.frames, real=False)
            r = metric.compute()
            out.update(FVD_25=r["FVD"], fvd_encoder=r["encoder"])
        out.update(per_clip=per_clip, skipped=skipped)
        return out


# ---------------------------------------------------------------------------------------------------------------
# the table
# ---------------------------------------------------------------------------------------------------------------
def format_table(rows: dict[str, dict], notes: list[str] | None = None, width: int = 26) -> str:
    """Rows {method: {S_C, S_D, CAPP, dP, FVD_25, identity}} -> the paper's layout as text ('-' where missing)."""
    lines = ["method".ljust(width) + "".join(h.rjust(10) for _, h, _ in COLUMNS)]
    lines.append("-" * len(lines[0]))
    for name, row in rows.items():
        cells = []
        for key, _, fmt in COLUMNS:
            v = row.get(key)
            cells.append((fmt.format(v) if isinstance(v, (int, float)) and np.isfinite(v) else "-").rjust(10))
        lines.append(name[:width - 1].ljust(width) + "".join(cells))
    return "\n".join(lines + [f"  {n}" for n in notes or []])


def table_notes(networks: dict) -> list[str]:
    return [f"S_C/S_D: {networks['syncnet']}, mouth crops from {networks['crops']}; CAPP: {networks['capp']}, "
            f"pose from {networks['pose']}",
            f"FVD_25 encoder: {networks['fvd']}; identity: {networks['identity']}",
            "units are those of these networks: compare rows with each other, not with the paper's numbers"]


# ---------------------------------------------------------------------------------------------------------------
# the command
# ---------------------------------------------------------------------------------------------------------------
def add_arguments(p) -> None:
    p.add_argument("--generated", required=True, help="folder of generated videos (mp4 with audio, or + .wav)")
    p.add_argument("--reference", required=True, help="folder of real videos (the FVD reference)")
    p.add_argument("--json", default=None, help="also write every number (and the per-clip values) here")
    p.add_argument("--profile", default=None,
                   help="tiny, small or full: which metric networks (default: $VASA_LAB_PROFILE or tiny)")
    p.add_argument("--crop-source", default="tracker", choices=("tracker", "fixed"),
                   help="mouth crops from the tracker's landmarks (default) or a fixed box")
    p.add_argument("--syncnet", default="", help="SyncNet weights (safetensors) instead of ours")
    p.add_argument("--i3d", default="", help="a TorchScript I3D for FVD instead of our video encoder")
    p.add_argument("--arcface", default="", help="ArcFace weights for identity similarity instead of ours")


def read_folder(folder: str | Path, what: str) -> tuple[list[EvalClip], list[dict]]:
    """Every readable video in a folder -> (clips, skipped [{name, error}]); ValueError if there is nothing."""
    folder = Path(folder)
    if not folder.exists():
        raise ValueError(f"--{what} {folder} does not exist")
    if not folder.is_dir():
        raise ValueError(f"--{what} {folder} is not a folder")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES and p.is_file())
    if not files:
        raise ValueError(f"--{what} {folder} holds no videos ({', '.join(VIDEO_SUFFIXES)})")
    clips, skipped = [], []
    for path in files:
        try:
            clips.append(load_eval_clip(path))
        except MediaError as err:
            skipped.append(dict(name=path.name, error=str(err)))
    if not clips:
        raise ValueError(f"--{what} {folder}: none of its {len(files)} videos could be read "
                         f"(first problem: {skipped[0]['error']})")
    return clips, skipped


def run_from_args(args) -> int:
    """``vasa-lab evaluate``: 0 when every file was measured, 1 when some were skipped (each reported)."""
    generated, skipped_g = read_folder(args.generated, "generated")
    reference, skipped_r = read_folder(args.reference, "reference")
    by_name = {c.name: c for c in reference}
    for clip in generated:                  # the portrait for identity: the reference clip of the same name
        if clip.name in by_name:
            clip.portrait = by_name[clip.name].frames[0]
    print(f"measuring {len(generated)} generated and {len(reference)} reference videos "
          f"(metric networks load from the store, or train on first use)", file=sys.stderr)
    from ..artifacts import ArtifactMissing

    ev = Evaluator(args.profile, crop_source=args.crop_source, syncnet_weights=args.syncnet, i3d_path=args.i3d,
                   arcface_path=args.arcface)
    try:
        ev.load_all()
    except ArtifactMissing as err:          # e.g. the full profile's networks under CI: say how to make them
        raise ValueError(str(err)) from None
    gen = ev.measure(generated, reference)
    ref = ev.measure(reference, fvd=False)
    networks = ev.networks()
    print(format_table({"generated": gen, "reference (real)": ref}, table_notes(networks)))
    skipped = [dict(s, folder="generated") for s in skipped_g + gen["skipped"]] + \
        [dict(s, folder="reference") for s in skipped_r + ref["skipped"]]
    for s in skipped:
        print(f"skipped {s['folder']}/{s['name']}: {s['error']}", file=sys.stderr)
    if args.json:
        out = dict(generated=gen, reference=ref, networks=networks, profile=ev.profile, skipped=skipped)
        try:
            Path(args.json).write_text(json.dumps(out, indent=1, default=float))
        except OSError as err:
            raise ValueError(f"cannot write {args.json}: {err.strerror or err}") from None
    return 1 if skipped else 0
