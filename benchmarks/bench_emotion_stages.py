"""Where is the asked emotion lost? Stage by stage, from the small profile's codes to its pixels (issue 16).

    python benchmarks/bench_emotion_stages.py [--pairs 5]          # the shipped small model (its emotion phase)
    python benchmarks/bench_emotion_stages.py --emotion-steps 0    # the gate phase's model, shipped before it
    python benchmarks/bench_emotion_stages.py --emotion-steps 3000 --w-lips 8    # another emotion phase (trained first)

Before small's emotion phase the smile read from pixels did not follow the asked emotion (bench_expressive: happy
+0.00); this benchmark found where it was lost. Four stages:

1. **the codes of the training people**: a ridge probe reads the true smile (and brow, jaw) from z_dyn, fitted on
   the training clips, R^2 on training and on validation people; and, within one person, whether the difference
   between their two clips' mean smiles shows in the probe (training people / validation people);
2. **the generator**: the mean probe smile of motion generated for the demo sentence with each emotion asked;
3. **the renderer, within one person**: a person's smiling clip's own codes drawn from the first frame of their
   other, less smiling clip, read by chapter 02's tracker, against the same person's real frames (``--pairs``
   people whose two clips differ by more than 0.5 in smile, training and test people);
4. **the renderer, the pipeline's way**: the generated happy and neutral motion drawn from a training person's
   frame and from the demo portrait, the smile read off the pixels.

Needs the small world's clips and motion codes (built and cached on first use). Asserts nothing.
"""
from __future__ import annotations

import argparse

import numpy as np
import torch

from vasa_lab.latent.train import add_emotion_phase_options, emotion_phase_from_args


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--pairs", type=int, default=5, help="people per split for stage 3 (default 5)")
    add_emotion_phase_options(p)   # read a model of another emotion phase (trained first if not in the store)
    args = p.parse_args(argv)
    torch.set_num_threads(2)

    from vasa_lab.artifacts import config_key
    from vasa_lab.audio import audio_features, prepare_audio
    from vasa_lab.data.clips import dataset_folder
    from vasa_lab.metrics.expression import read_pixels
    from vasa_lab.metrics.motion_codes import StateProbe
    from vasa_lab.metrics.pixel_motion import clip_frames, render_codes
    from vasa_lab.motion import MotionConditions, load_motion_model_for_codes
    from vasa_lab.motion.data import motion_clips
    from vasa_lab.motion.generate import generate_motion
    from vasa_lab.pipeline.animate import align_portrait, demo_portrait_image, demo_speech
    from vasa_lab.latent.api import load_latent_model
    from vasa_lab.world.state import STATE_NAMES

    from vasa_lab.latent.config import LatentConfig
    config = LatentConfig.for_profile("small")
    latent = load_latent_model(config=emotion_phase_from_args(config, args)).eval()
    print(f"the face latent model: {latent.config.profile}, config {config_key(latent.config)}")
    motion = load_motion_model_for_codes("small", config_key(latent.config.codes_config())).eval()   # its codes'
    clips = motion_clips(motion.config)
    folder = dataset_folder(motion.config)
    smile_at = STATE_NAMES.index("smile")

    def rows(split):
        return np.concatenate([np.arange(clips.offsets[i], clips.offsets[i + 1]) for i in clips.indices(split)])

    print("1. the codes: a ridge probe from z_dyn, fitted on the training clips (R^2)")
    probes = {}
    for state in ("smile", "brow_raise", "jaw_open"):
        probes[state] = probe = StateProbe.fit(clips, state=state)
        r2 = {}
        for split in ("train", "val"):
            r = rows(split)
            y = clips.states[r, STATE_NAMES.index(state)]
            r2[split] = 1 - np.mean((y - probe(clips.motion[r])) ** 2) / np.var(y)
        print(f"   {state:10s} training people {r2['train']:.3f}, validation people {r2['val']:.3f}")

    def by_person(split):
        people = {}
        for i in clips.indices(split):
            c = clips.clip(int(i))
            people.setdefault(c["identity"], []).append(c)
        return [v[:2] for v in people.values() if len(v) >= 2]

    for split, name in (("train", "training"), ("val", "validation")):
        pairs = by_person(split)
        true = np.array([a["states"][:, smile_at].mean() - b["states"][:, smile_at].mean() for a, b in pairs])
        read = np.array([probes["smile"](a["motion"]).mean() - probes["smile"](b["motion"]).mean() for a, b in pairs])
        print(f"   within one person ({name}, {len(pairs)} people): the smile difference between their two clips "
              f"vs the probe's, r = {np.corrcoef(true, read)[0, 1]:.2f}")
    within = np.mean([clips.states[clips.offsets[i]:clips.offsets[i + 1], smile_at].std()
                      for i in clips.indices("train")])
    differ = np.mean([abs(a["states"][:, smile_at].mean() - b["states"][:, smile_at].mean()) > 0.3
                      for a, b in by_person("train")])
    print(f"   the smile within a training clip: std {within:.3f}; a person's two clips differ by more than 0.3 for "
          f"{differ:.0%} of the training people (latent config other_clip_share: "
          f"{latent.config.other_clip_share} of the pairs take the driver from the other clip"
          + (f"; in its emotion phase {latent.config.blink_share} of the drivers are mid-blink and "
             f"{latent.config.emotion_other_clip_share} of the others from the other clip"
             if latent.config.has_emotion_phase else "") + ")")

    print("2. the generator: mean probe smile / brow of motion generated for the demo sentence")
    cfg = motion.config.audio
    feats = audio_features(prepare_audio(demo_speech(), 16_000, cfg), cfg)
    generated = {}
    for emotion in ("neutral", "happy", "sad", "surprised"):
        generated[emotion] = generate_motion(motion, feats, MotionConditions(emotion=emotion), seed=0)
        print(f"   {emotion:9s} smile {probes['smile'](generated[emotion]).mean():+.3f}, "
              f"brow {probes['brow_raise'](generated[emotion]).mean():+.3f}")

    print("3. the renderer within one person: the smiling clip's codes drawn from the other clip's first frame")
    for split in ("train", "test"):
        changes = []
        for a, b in by_person(split):
            hi, lo = (a, b) if a["states"][:, smile_at].mean() > b["states"][:, smile_at].mean() else (b, a)
            if hi["states"][:, smile_at].mean() - lo["states"][:, smile_at].mean() <= 0.5:
                continue
            f_lo, f_hi = clip_frames(folder, lo["stem"])[:50], clip_frames(folder, hi["stem"])[:50]
            own = np.nanmean(read_pixels(render_codes(latent, f_lo[0], lo["motion"][:50])).smile)
            other = np.nanmean(read_pixels(render_codes(latent, f_lo[0], hi["motion"][:50])).smile)
            real = np.nanmean(read_pixels(f_hi).smile) - np.nanmean(read_pixels(f_lo).smile)
            changes.append((other - own, real))
            if len(changes) == args.pairs:
                break
        drawn, real = np.array(changes).T
        print(f"   {split:5s} people: drawn smile change {np.round(drawn, 3)}, real frames' {np.round(real, 3)}")

    print("4. the renderer, the pipeline's way: generated happy minus neutral, smile read off the pixels")
    first = clips.clip(int(clips.indices("train")[0]))
    portraits = {"a training person": clip_frames(folder, first["stem"])[0],
                 "the demo portrait": align_portrait(demo_portrait_image(256), 128).crop}
    for name, portrait in portraits.items():
        smile = {e: np.nanmean(read_pixels(render_codes(latent, portrait, generated[e])).smile)
                 for e in ("neutral", "happy")}
        print(f"   {name}: {smile['happy'] - smile['neutral']:+.4f}")


if __name__ == "__main__":
    with torch.no_grad():
        main()
