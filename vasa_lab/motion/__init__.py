"""Chapter 06: the motion diffusion transformer of VASA-1 (audio + conditions -> [z_pose, z_dyn] per frame).

* ``config``    - :class:`MotionConfig` (sizes per profile, window W and context K, dropout rates, training);
* ``model``     - :class:`MotionDiT`, the transformer H(X_t, t, C) -> X_0, and :class:`Conditioning`;
* ``diffusion`` - diffusers schedulers, the DDPM/DDIM steps by hand, condition dropout, multi-condition guidance;
* ``data``      - clips encoded to motion codes + audio features + condition labels (cached), training windows;
* ``module``    - the LightningModule and :func:`train_motion`; ``train`` - the command line;
* ``generate``  - :class:`MotionConditions`, :func:`load_motion_model` (and :func:`load_motion_model_for_codes`),
  :func:`generate_motion` (sliding windows);
* ``evaluate``  - lip sync through a jaw probe, head motion dP, audio-pose correlation, join jumps.

Typical use::

    model = load_motion_model("tiny")
    motion = generate_motion(model, audio_features(audio, model.config.audio), MotionConditions(emotion="happy"))
    z_pose, z_dyn = motion[:, :6], motion[:, 6:]
"""
from .config import CONDITIONS, SAMPLERS, MotionConfig
from .generate import (MotionConditions, generate_motion, join_jumps, load_motion_model,
                       load_motion_model_for_codes)
from .model import Conditioning, MotionDiT

__all__ = ["CONDITIONS", "Conditioning", "MotionConditions", "MotionConfig", "MotionDiT", "SAMPLERS",
           "generate_motion", "join_jumps", "load_motion_model", "load_motion_model_for_codes"]
