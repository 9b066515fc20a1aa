"""Real photos through the whole pipeline: output size, face sharpness vs the model's crop, and whether the mouth moves.

    python benchmarks/bench_photos.py

For the two real photos that ship inside packages (matplotlib's grace_hopper.jpg, skimage's astronaut) and each of
the tiny and small profiles: animate with the demo sentence in photo mode (the whole photo, the face pasted back)
and in crop mode; print the video's size, the tracked mouth opening's std and range and its correlation with the
speech's loudness (chapter 02's tracker on the output frames), and the sharpness (variance of the Laplacian) of the
face region against the model's crop upscaled to the same size. Photo mode runs twice: with the portrait's own
expression read by the tracker (``source_expression="tracked"``, the default) and by the motion encoder
("encoded"). Asserts nothing.

    python benchmarks/bench_photos.py --profile small --seeds 3 --w-lips 30   # another emotion phase, 3 seeds

``--seeds N`` draws each photo's motion with seeds 0..N-1 (one seed's mouth moves the loudness correlation by a
tenth or more) and prints each seed's line and their mean; the emotion-phase options (``--emotion-steps``,
``--w-lips``, ...) and ``--people-steps`` read small with another face latent model (trained first if not in the
store) and the motion transformer trained on its codes.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

import cv2
import numpy as np
import torch


def sharpness(image: np.ndarray) -> float:
    """Variance of the Laplacian of the grey image: higher = more fine detail."""
    return float(cv2.Laplacian(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY), cv2.CV_64F).var())


def main(argv=None) -> None:
    import argparse

    import matplotlib.cbook as cbook
    from PIL import Image
    from skimage import data as skimage_data

    from vasa_lab.artifacts import config_key
    from vasa_lab.latent.api import load_latent_model
    from vasa_lab.latent.config import LatentConfig
    from vasa_lab.latent.train import add_emotion_phase_options, emotion_phase_from_args
    from vasa_lab.motion import load_motion_model_for_codes
    from vasa_lab.pipeline.animate import Animator, demo_speech
    from vasa_lab.media import read_video
    from vasa_lab.metrics.expression import correlation, read_pixels
    from vasa_lab.world.behaviour import frame_rms

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--profile", action="append", choices=("tiny", "small"),
                   help="a profile to measure (repeat for more; default: tiny and small)")
    p.add_argument("--seeds", type=int, default=1, help="motion seeds per photo (default 1: seed 0)")
    add_emotion_phase_options(p)
    args = p.parse_args(argv)
    small_config = LatentConfig.for_profile("small")
    other_phase = emotion_phase_from_args(small_config, args) != small_config
    if other_phase and (args.profile or ["tiny"]) != ["small"]:
        p.error("the emotion-phase options read small's face latent model: use them with --profile small alone")
    torch.set_num_threads(2)
    speech = demo_speech()
    out = Path(tempfile.mkdtemp())
    with Image.open(cbook.get_sample_data("grace_hopper.jpg")) as im:
        photos = {"grace_hopper": np.asarray(im.convert("RGB")), "astronaut": skimage_data.astronaut()}
    for profile in args.profile or ("tiny", "small"):
        latent = (load_latent_model(config=emotion_phase_from_args(LatentConfig.for_profile(profile), args)).eval()
                  if other_phase else None)
        motion = (load_motion_model_for_codes(profile, config_key(latent.config.codes_config())).eval()   # its codes'
                  if other_phase else None)
        for source in ("tracked", "encoded"):
            animator = Animator(profile, latent=latent, motion=motion, device="cpu", source_expression=source)
            for name, image in photos.items():
                stds, corrs = [], []
                for seed in range(args.seeds):
                    result = animator.animate(image, speech, out / f"{name}_{profile}.mp4", progress=False, seed=seed)
                    frames, _ = read_video(result.path)
                    mouth = read_pixels(frames).mouth
                    loudness = frame_rms(speech, 16_000, len(frames))
                    stds.append(np.nanstd(mouth))
                    corrs.append(correlation(mouth, loudness))
                    line = (f"{profile:5s} {name:12s} {source:7s} seed {seed} video {frames.shape[2]}x{frames.shape[1]}: "
                            f"mouth opening std {stds[-1]:.3f} (range {np.nanmin(mouth):.3f}-{np.nanmax(mouth):.3f}), "
                            f"correlation with the loudness {corrs[-1]:.2f}")
                    if source == "tracked" and seed == 0:
                        crop = animator.animate(image, speech, out / f"{name}_{profile}_crop.mp4", progress=False,
                                                frame="crop")
                        small, _ = read_video(crop.path)
                        x0, y0, x1, y1 = np.round(result.portrait.box).astype(int)
                        face = frames[10, max(y0, 0):y1, max(x0, 0):x1]
                        upscaled = cv2.resize(small[10], (face.shape[1], face.shape[0]),
                                              interpolation=cv2.INTER_CUBIC)
                        line += f"; face sharpness {sharpness(face):.0f} vs the crop upscaled {sharpness(upscaled):.0f}"
                    print(line, flush=True)
                if args.seeds > 1:
                    print(f"{profile:5s} {name:12s} {source:7s} mean of {args.seeds} seeds: mouth opening std "
                          f"{np.mean(stds):.3f}, correlation with the loudness {np.mean(corrs):.2f}", flush=True)


if __name__ == "__main__":
    main()
