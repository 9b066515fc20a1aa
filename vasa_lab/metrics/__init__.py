"""Chapter 10: the paper's evaluation metrics, each checked on known answers before it judges anything.

VASA-1 reports five numbers; each needs a network trained to look at faces or speech, and each such network is
trained here on the synthetic world's training people (the test people are never seen), through the artifact
store, and kept as a ``torchmetrics.Metric`` that accumulates over clips:

============  =======================================  =======================================================
metric        what it measures                          module
============  =======================================  =======================================================
S_C, S_D      lip sync: SyncNet confidence, distance    :mod:`.syncnet` (:class:`LipSync`)
CAPP          head motion fits the speech (CLIP-style)  :mod:`.capp` (:class:`CAPPScore`)
dP            how much the head moves (deg / frame)     :mod:`.pose_intensity` (:class:`PoseIntensity`)
FVD_25        video realism, as distributions           :mod:`.fvd` (:class:`FVD`)
identity      the face stays the portrait's person      :mod:`.id_similarity` (:class:`IdentitySimilarity`)
============  =======================================  =======================================================

:mod:`.features` turns clips into what the networks read (log-mel rows, mouth crops, pose windows);
:mod:`.paper_table` measures sets of clips and prints the paper's table (``vasa-lab evaluate``); :mod:`.baselines`
makes the table's comparison rows (static image, random motion, re-rendered motion, our generator); ``python -m
vasa_lab.metrics.train`` trains the networks ahead of time. Measuring generated motion against the synthetic
world's truth: :mod:`.motion_codes` (lip sync through a jaw probe on the codes, dP, audio-pose correlation) and
:mod:`.pixel_motion` (the same read off the rendered pixels by the tracker); :mod:`.expression` is that reader.

Every number is in the units of *our* networks, trained on *our* data: the orderings (real video beats a
frozen face, synced beats shifted audio) carry over to the paper; the absolute values do not.
"""
import importlib

# name -> submodule; imported on first use, so `vasa-lab <anything>` does not pay for torch and Lightning
_WHERE = {
    "CAPP": "capp", "CAPPConfig": "capp", "CAPPScore": "capp", "info_nce": "capp", "load_capp": "capp",
    "PAPER_TABLE": "paper_table", "Evaluator": "paper_table", "format_table": "paper_table",
    "EvalClip": "features", "halves_by_person": "features", "load_eval_clip": "features", "log_mel": "features",
    "mouth_crops": "features", "shift_audio": "features", "world_clips": "features",
    "FVD": "fvd", "VideoEncoder": "fvd", "VideoEncoderConfig": "fvd", "frechet_distance": "fvd",
    "load_video_encoder": "fvd",
    "IdentitySimilarity": "id_similarity",
    "PoseIntensity": "pose_intensity", "measure_face": "pose_intensity", "pose_intensity": "pose_intensity",
    "LipSync": "syncnet", "SyncNet": "syncnet", "SyncNetConfig": "syncnet", "load_syncnet": "syncnet",
    "offset_distances": "syncnet", "sync_scores": "syncnet",
}
__all__ = sorted(_WHERE)


def __getattr__(name: str):
    if name in _WHERE:
        return getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
