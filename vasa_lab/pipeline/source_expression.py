"""The portrait's own expression, read by the tracker instead of the motion encoder.

To animate a portrait, the face latent model first *un-expresses* it: the warp W_s->c moves the portrait's face
from its own expression (its z_dyn) to a canonical one, and every generated frame's z_dyn moves it out again
(chapter 03). So the portrait's z_dyn decides where "a closed mouth" starts. For the world's faces the motion
encoder reads it well. For a photograph it may not: the encoder has only seen the synthetic world, and it can read
a closed mouth as half open. Then the un-expressed face has its mouth pressed shut further, and the generated
openings only bring it back to closed. Chapter 07 ("A real photograph") shows it on Grace Hopper's portrait: the
tracker reads her mouth as closed as a world face at rest, her code lies about half way from a world face at rest
to one with the jaw open, and her mouth does not move.

The tracker's landmarks generalise to photographs (chapter 02 measured them on real faces), so we let the tracker
read the portrait and write what it reads in the model's own codes:

1. **calibrate** once per model: draw 16 world faces that tiny and small never trained on at rest, with the jaw open and with the
   eyes shut; encode each with the motion encoder (the codes of faces whose expression is known) and read each with
   the tracker (mouth opening, eye openness);
2. for a portrait, the tracker's mouth opening and eye openness give how far it is from rest towards "jaw open"
   and towards "eyes shut" (``jaw_share``, ``lid_share``, clipped to the calibrated range), and its source code is

       z_src = z_rest + jaw_share (z_jaw - z_rest) + lid_share (z_shut - z_rest).

A world portrait at rest gets nearly the code its own encoding gives; a photograph gets a code the model
understands. Landmarks that are missing (a detector-only tracker backend) give no reading: the encoder's own
code is kept. Smile, brows and gaze are not read this way (chapter 04: the codes do not carry them for new people).

The portrait's own code is also where the generated motion starts (:func:`portrait_motion`). Three of its head
numbers are not the person's motion but our crop's framing: tx, ty and scale (:data:`FRAMING`), where the aligned
square put the head. Our crops put it larger than the training clips do (about 0.7 of the data's standard
deviation in scale and in tx on chapter 10's clips), and the motion generator, trained on the clips' framing, pulls
the head back there within its first frame: the face shrinks and slides inside the photo it is pasted into.
:func:`framing_origin` takes that framing out: the generator starts from the data's average framing and every
frame is moved back to the portrait's (``benchmarks/bench_identity.py`` measures what it changes).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

CALIBRATION_PEOPLE = 16          # world faces per calibration pose
CALIBRATION_WORLD = (0, 1100)    # (world seed, first person): tiny and small train on people 0-249 / 0-399 (full's
                                 # 10,000 clips reach person 4999: calibration only, no score is measured on them)
CALIBRATION_JAW = 0.6            # the jaw opening of the "jaw open" faces (FaceState.jaw_open: 0 closed, 1 wide)
READ_SIZE = 256                  # the calibration faces are read by the tracker at this size (ratios do not depend on it)
MAX_JAW_SHARE = 1.5              # a portrait's mouth may read up to 1.5x the calibration opening


@dataclass(frozen=True)
class TrackedExpression:
    """A portrait's source z_dyn from what the tracker reads of its mouth and eyes (see the module docstring)."""

    rest: torch.Tensor           # (1, dyn_dim) mean code of the world's faces at rest
    jaw: torch.Tensor            # (1, dyn_dim) ... with the jaw open CALIBRATION_JAW
    shut: torch.Tensor           # (1, dyn_dim) ... with the eyes shut
    mouth_rest: float            # the tracker's mouth opening on those faces at rest
    mouth_jaw: float             # ... with the jaw open
    eyes_rest: float             # the tracker's eye openness at rest
    eyes_shut: float             # ... with the eyes shut

    @classmethod
    @torch.no_grad()
    def calibrate(cls, latent, tracker=None, people: int = CALIBRATION_PEOPLE) -> "TrackedExpression":
        """Draw, encode and track the calibration faces (a few seconds on a CPU for 16 people). Calibrate again after
        changing the model's weights: the codes are the model's."""
        from ..latent.api import encode_motion
        from ..tracking import FaceTracker
        from ..tracking.gaze import eye_openness, mouth_opening
        from ..world.clip import person
        from ..world.render import render_frame
        from ..world.state import FaceState

        tracker = tracker or FaceTracker("auto", smoothing=None)
        size = int(latent.config.image_size)
        codes, mouth, eyes = {}, {}, {}
        for name, state in (("rest", FaceState()), ("jaw", FaceState(jaw_open=CALIBRATION_JAW)),
                            ("shut", FaceState(blink=1.0))):
            seed, first = CALIBRATION_WORLD
            identities = [person(seed, first + i).identity for i in range(people)]
            faces = np.stack([render_frame(idn, state, size)[0] for idn in identities])
            _, z_dyn = encode_motion(latent, faces)
            codes[name] = z_dyn.float().mean(0, keepdim=True).cpu()
            readings = []
            for idn in identities:
                found = tracker.detect(render_frame(idn, state, READ_SIZE)[0])
                if found and found[0].landmarks is not None and np.isfinite(found[0].landmarks).all():
                    readings.append((mouth_opening(found[0].landmarks), eye_openness(found[0].landmarks)))
            if not readings:
                raise RuntimeError("the tracker found no calibration face: it cannot read a portrait's expression")
            mouth[name], eyes[name] = (float(v) for v in np.mean(readings, axis=0))
        if not (mouth["jaw"] > mouth["rest"] and eyes["shut"] < eyes["rest"]):
            raise RuntimeError(f"the tracker does not tell the calibration faces apart (mouth {mouth}, eyes {eyes})")
        return cls(codes["rest"], codes["jaw"], codes["shut"], mouth["rest"], mouth["jaw"], eyes["rest"],
                   eyes["shut"])

    def shares(self, landmarks: np.ndarray) -> tuple[float, float] | None:
        """(jaw_share, lid_share) of a face's (68, 2) landmarks; None when they are missing."""
        from ..tracking.gaze import eye_openness, mouth_opening

        lm = np.asarray(landmarks, np.float64)
        if lm.shape != (68, 2) or not np.isfinite(lm).all():
            return None
        jaw = (float(mouth_opening(lm)) - self.mouth_rest) / (self.mouth_jaw - self.mouth_rest)
        lid = (self.eyes_rest - float(eye_openness(lm))) / (self.eyes_rest - self.eyes_shut)
        return float(np.clip(jaw, 0.0, MAX_JAW_SHARE)), float(np.clip(lid, 0.0, 1.0))

    def code(self, landmarks: np.ndarray) -> torch.Tensor | None:
        """(1, dyn_dim) the source z_dyn for a face with these landmarks; None when they are missing."""
        shares = self.shares(landmarks)
        if shares is None:
            return None
        jaw, lid = shares
        return self.rest + jaw * (self.jaw - self.rest) + lid * (self.shut - self.rest)


SOURCE_EXPRESSIONS = ("tracked", "encoded")


def has_landmarks(portrait) -> bool:
    """Whether the tracker gave this :class:`~vasa_lab.tracking.align.Portrait` landmarks to read (a detector-only
    backend gives none: then the encoder's own reading is the only one)."""
    return bool(np.isfinite(portrait.landmarks).all())


def portrait_appearance(latent, portrait, expression: TrackedExpression | None = None):
    """Encode an aligned portrait once (:func:`vasa_lab.latent.api.encode_appearance`, with its landmarks for the copy
    gate), un-expressed from ``expression``'s reading of it; None (or no landmarks): from the encoder's own."""
    from ..latent.api import encode_appearance

    landmarks = portrait.crop_landmarks()
    source_dyn = expression.code(landmarks) if expression is not None else None
    return encode_appearance(latent, portrait.crop, landmarks, source_dyn)


def portrait_motion(latent, portrait, expression: TrackedExpression | None = None) -> np.ndarray:
    """The portrait's own motion code (1, 6 + dyn_dim): its head pose as the motion encoder reads it, and the
    expression its appearance is un-expressed from (``expression``'s reading; the encoder's without one or without
    landmarks). The pipeline starts the motion generator from it (``first_motion``): the face begins where the
    portrait is, instead of at a pose drawn from the training clips (chapter 10 measures what that costs)."""
    from ..latent.api import encode_motion

    z_pose, z_dyn = encode_motion(latent, np.array(portrait.crop)[None])   # a writable copy of the crop
    own = expression.code(portrait.crop_landmarks()) if expression is not None and has_landmarks(portrait) else None
    if own is not None:
        z_dyn = torch.as_tensor(own, dtype=z_dyn.dtype).reshape(1, -1)
    return np.concatenate([z_pose.numpy(), z_dyn.numpy()], axis=1).astype(np.float32)


FRAMING = slice(3, 6)    # tx, ty, scale of z_pose: where the crop put the head, not how the head moves


def framing_origin(motion_model, start: np.ndarray) -> np.ndarray:
    """(M,) zero but for the :data:`FRAMING` numbers: how far the framing of ``start`` (a portrait's code from
    :func:`portrait_motion`, (1, M) or (M,)) is from the motion model's training clips' average. The pipeline's
    :class:`~vasa_lab.motion.stream.MotionStream` draws the motion from it (``origin=``): the model continues from
    an average framing, and every frame comes out in the portrait's."""
    start = np.asarray(start, np.float32).reshape(-1, int(motion_model.config.motion_dim))[-1]
    origin = np.zeros_like(start)
    origin[FRAMING] = start[FRAMING] - motion_model.motion_mean.cpu().numpy()[FRAMING]
    return origin


def check_source_expression(name: str) -> str:
    if name not in SOURCE_EXPRESSIONS:
        raise ValueError(f"source_expression must be 'tracked' (the tracker reads the portrait's mouth and eyes) or "
                         f"'encoded' (the motion encoder's own reading), not {name!r}")
    return name
