"""Why does the generated head follow the speech less than real video does? (issue 16, part 3)

    python benchmarks/bench_head_audio.py [--profile tiny] [--out benchmarks/results/head_audio_tiny.json]
    python benchmarks/bench_head_audio.py --profile small --part sampler     # part 3 only, a few minutes
    python benchmarks/bench_head_audio.py --part pixels                      # part 2 only, about 10 minutes
    python benchmarks/bench_head_audio.py --part capp                        # part 4 only, about 1 minute
    python benchmarks/bench_head_audio.py --part streaming [--stream-seeds 3] # part 5 only, about 4 minutes

Five measurements, held-out people of the profile's world:

1. on the motion codes (chapter 06's measure): the audio-pose correlation (head speed against loudness, best lag
   0-10 frames) of generated motion under variants of generation: the default (audio guidance 1, gaze 1, 10 DDIM
   steps, drift control), drift control off, audio guidance 0 / 0.5 / 2, 50 DDIM steps;
2. on pixels, as chapter 10's table does (the tracker reads the pose, then our CAPP): real video, re-rendered real
   motion, and our generator (as the pipeline runs it) at audio guidance 0.5 (VASA-1's default) / 0.75 / 1 (ours) /
   1.25 / 1.5 / 2 and with 25 and 50 DDIM steps (12 clips x 3 seeds each; each seed's CAPP printed: how much of a
   difference between rows the seeds alone make); then audio guidance 0.5 / 1 / 1.5 on the next 12 clips of half B;
3. what the sampler keeps, on the codes themselves (no renderer, no tracker): our CAPP on the true pose, on the
   true pose smoothed over ~2 frames (how much of CAPP lives in frame-scale detail), on the pose the latent model
   encodes from the real frames and on generated z_pose under DDIM 10 / 25 / 50 and DDPM 50 / 200 steps; the head
   speed and how it varies with the frame's position in the generator's 25-frame windows (real motion: flat); and
   blinks per second and how deep each closes, read from z_dyn by a ridge probe (where z_dyn carries blinks:
   small), truth vs generated (and generated with the drift control's bound off; and the clips' own codes through
   that bound: what it takes from real blinks and the jaw); one denoising step at each noise level on windows
   with a blink, and the whole DDIM sampler from that noise (where the sampler loses it); and the same motion drawn on `make demo`'s portrait, the eyes read by the tracker.
4. what CAPP reads: the true pose taken apart (smoothed, its frame-scale residual shuffled or replaced by white
   noise that does or does not follow the speaker's head activity, a random walk alone) and how big the true,
   encoded and generated pose's frame-scale residual is and how closely its size follows that activity.
5. whether a stream stays home at each audio guidance scale: chapter 08's streamed minute (lookahead 2, stride 4)
   at 0.5, 1 and 1.5 with 3 seeds, without drift control and with the default mean reversion, started with no context
   or from the demo portrait's code (as the pipeline starts), and the same minute offline: the largest 10-s mean of
   any pose number, in data std (``metrics.motion_codes.largest_lean``, chapter 08's reading of a runaway).
"""
from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np


def code_level(profile: str) -> dict:
    from vasa_lab.metrics.motion_codes import JawProbe, evaluate_clips
    from vasa_lab.motion import load_motion_model
    from vasa_lab.motion.data import motion_clips

    model = load_motion_model(profile)
    clips = motion_clips(model.config)
    probe = JawProbe.fit(clips, "train", pose_dim=model.config.pose_dim)
    variants = {"default (audio 1, gaze 1, 10 DDIM, drift control)": {},
                "drift control off": dict(bound=None, revert_seconds=None),
                "audio guidance 0": dict(audio_scale=0.0), "audio guidance 0.5": dict(audio_scale=0.5),
                "audio guidance 2": dict(audio_scale=2.0), "50 DDIM steps": dict(steps=50)}
    out = {}
    for name, kw in variants.items():
        steps = kw.pop("steps", 10)
        r = evaluate_clips(model, clips, "test", steps=steps, probe=probe, **kw)
        out[name] = {k: round(r[k], 3) for k in ("audio_pose", "audio_pose_real", "dP", "dP_real", "lip_corr")}
        out[name]["n_clips"] = r["n_clips"]
        print(f"  {name:<52} audio-pose r {r['audio_pose']:.3f} (real codes {r['audio_pose_real']:.3f})  "
              f"dP {r['dP']:.3f} (real {r['dP_real']:.3f})  lip r {r['lip_corr']:.3f}", flush=True)
    return out


def generator_rows(ev, latent, clips, reference, variants: dict, seeds: int = 3) -> dict:
    """Chapter 10's table on ``clips`` (``reference``: its FVD reference): real video, re-rendered real motion and,
    for each variant (name -> (animator, ``generator_clip`` keywords)), the pipeline's videos at ``seeds`` seeds
    averaged; printed with each seed's CAPP, returned rounded to 3 decimals. ``bench_capp_training.py --pixels``
    reads its motion models with it."""
    from vasa_lab.metrics import format_table
    from vasa_lab.metrics.baselines import generator_clip, rerendered_clip
    from vasa_lab.metrics.paper_table import table_notes

    def average(results):
        keys = [k for k, v in results[0].items() if isinstance(v, float)]
        return {k: float(np.mean([r[k] for r in results])) for k in keys}

    rows = {"real video": ev.measure(clips, reference),
            "re-rendered real motion": ev.measure([rerendered_clip(latent, c) for c in clips], reference)}
    capp_per_seed = {}
    for name, (animator, kw) in variants.items():
        per_seed = [ev.measure([generator_clip(animator, c, seed=s, **kw) for c in clips], reference)
                    for s in range(seeds)]
        rows[name] = average(per_seed)
        capp_per_seed[name] = [round(r["CAPP"], 3) for r in per_seed]
    print(format_table(rows, table_notes(ev.networks()), width=max(34, 1 + max(map(len, rows)))))
    print(f"CAPP of each seed ({len(clips)} clips each):")
    for name, values in capp_per_seed.items():
        print(f"  {name:36s} {values}")
        rows[name]["CAPP per seed"] = values
    return {name: {k: round(v, 3) if isinstance(v, float) else v for k, v in row.items()}
            for name, row in rows.items()}


def pixel_level(profile: str) -> dict:
    from vasa_lab import course
    from vasa_lab.latent.api import load_latent_model
    from vasa_lab.metrics import Evaluator, halves_by_person, world_clips
    from vasa_lab.motion.config import default_audio_guidance
    from vasa_lab.pipeline.animate import Animator

    reference, others = halves_by_person(world_clips(course.world(profile), "test"))
    ev = Evaluator(profile)
    ev.load_all()
    latent = load_latent_model(profile)
    animator = Animator(profile, latent=latent)

    def label(scale):
        return f"generator, audio g. {scale:g}" + (" (default)" if scale == default_audio_guidance(profile) else "")

    variants = {label(scale): (animator, dict(audio_scale=scale)) for scale in (0.5, 0.75, 1.0, 1.25, 1.5, 2.0)}
    variants.update({f"generator, {steps} DDIM steps": (animator, dict(steps=steps)) for steps in (25, 50)})
    print("chapter 10's table clips (the first 12 of half B):")
    out = dict(table=generator_rows(ev, latent, others[:12], reference, variants))
    print("\nthe next 12 clips of half B (a second look at the guidance scale):")
    out["next_12"] = generator_rows(ev, latent, others[12:24], reference,
                                    {label(scale): (animator, dict(audio_scale=scale)) for scale in (0.5, 1.0, 1.5)})
    return out


def streaming_part(profile: str, scales=(0.5, 1.0, 1.5), seeds=(0, 1, 2)) -> dict:
    """Chapter 08's streamed minute (lookahead 2, stride 4) at each audio guidance scale and seed, without drift
    control and with the default (mean reversion), both starting with no context as chapter 08's do; with the
    default control started from the demo portrait's own code, as the pipeline's streams start (its framing as
    encoded: the pipeline's ``framing_origin`` is left out, so the lean is read on the model's own codes); and
    offline (whole windows, the default control, no context): the largest 10-second mean of any of the six pose
    numbers, in the training data's standard deviations (``largest_lean``, as chapter 08 reads its wild starts; past
    2 is a runaway), and the yaw's spread."""
    from dataclasses import replace

    from vasa_lab.audio import audio_features, prepare_audio
    from vasa_lab.metrics.motion_codes import largest_lean, streamed_motion
    from vasa_lab.pipeline.animate import DEMO_PORTRAIT, Animator
    from vasa_lab.motion import generate_motion
    from vasa_lab.world.speech import long_speech

    animator = Animator(profile, device="cpu")
    model = animator.motion
    cfg = model.config
    portrait_start = animator.portrait_motion(animator.portrait(DEMO_PORTRAIT))
    long_cfg = replace(cfg.audio, max_seconds=1e9)
    feats = audio_features(prepare_audio(long_speech(60, seed=7), 16_000, long_cfg), long_cfg)
    out = {}
    for scale in scales:
        for seed in seeds:
            for control, kw in (("no control", dict(revert_seconds=None, bound=None)), ("default", {}),
                                ("portrait start", dict(first_motion=portrait_start)), ("offline", None)):
                if kw is None:
                    m = generate_motion(model, feats, None, seed=seed, audio_scale=scale)
                else:
                    m, _ = streamed_motion(model, feats, None, lookahead=2, stride=4, seed=seed, audio_scale=scale,
                                           **kw)
                row = dict(largest_10s_pose_mean_in_std=round(largest_lean(model, m, seconds=10), 2),
                           yaw_std_deg=round(float(m[:, 0].std()), 2))
                out[f"audio {scale:g}, seed {seed}, {control}"] = row
                print(f"  audio guidance {scale:g}, seed {seed}, {control:14s}  largest 10-s mean of a pose number "
                      f"{row['largest_10s_pose_mean_in_std']:8.2f} std, yaw spread {row['yaw_std_deg']:.2f} deg",
                      flush=True)
    return out

SAMPLERS = {"DDIM 10 (default)": dict(steps=10), "DDIM 25": dict(steps=25), "DDIM 50": dict(steps=50),
            "DDPM 50": dict(steps=50, sampler="ddpm"), "DDPM 200": dict(steps=200, sampler="ddpm")}


def sampler_level(profile: str, n_clips: int = 24) -> dict:
    """What the sampler keeps of the fast, unpredictable motion: CAPP on the codes themselves (no renderer, no
    tracker), head speed and its profile over the window's frames, and blinks per second read from z_dyn."""
    from vasa_lab.artifacts import ArtifactStore
    from vasa_lab.metrics.capp import CAPPConfig

    if profile != "tiny" and not ArtifactStore().has("metric-capp", CAPPConfig.for_profile(profile)):
        print(f"  no {profile} CAPP network here (python -m vasa_lab.metrics.train --profile {profile}; "
              f"tiny's is trained in a minute): the pose part is skipped")
        out = None
    else:
        out = pose_part(profile, n_clips)
    return dict(pose=out, blinks=blink_part(profile, n_clips))


def pose_part(profile: str, n_clips: int, samplers: dict | None = None) -> dict:
    """CAPP, head speed and its window-position profile of the true, encoded and generated pose; ``samplers``: name
    -> the animator's sampler keywords for the generated rows (default :data:`SAMPLERS`;
    ``bench_ddim_eta.py`` reads DDIM's eta with it)."""
    from scipy.ndimage import gaussian_filter1d

    from vasa_lab import course
    from vasa_lab.latent.api import encode_motion, load_latent_model
    from vasa_lab.metrics import world_clips
    from vasa_lab.metrics.capp import capp_windows, load_capp
    from vasa_lab.metrics.features import log_mel
    from vasa_lab.metrics.motion_codes import head_dp, speed_by_window_position
    from vasa_lab.motion import MotionConditions
    from vasa_lab.pipeline.animate import Animator

    capp, latent = load_capp(profile), load_latent_model(profile)
    animator = Animator(profile, latent=latent)
    window = animator.motion.config.window
    samplers = SAMPLERS if samplers is None else samplers
    rows = {name: dict(capp=[], speed=[], profile=[]) for name in
            ["true pose", "true pose smoothed (2 frames)", "encoded z_pose", *samplers]}
    for k, c in enumerate(world_clips(course.world(profile), "test")[:n_clips]):
        mel = log_mel(c.audio, c.n_frames, n_mels=capp.config.n_mels)
        chunks = list(animator.feature_chunks(c.audio, 16_000))
        poses = {"true pose": np.asarray(c.pose, np.float32),
                 "true pose smoothed (2 frames)": gaussian_filter1d(np.asarray(c.pose, np.float32), 2.0, axis=0),
                 "encoded z_pose": encode_motion(latent, c.frames)[0].numpy()}
        for name, kw in samplers.items():
            motion = np.concatenate(list(animator.motion_chunks(chunks, MotionConditions(), seed=k, **kw)))
            poses[name] = motion[: c.n_frames, :6]
        for name, pose in poses.items():
            rows[name]["capp"].append(float(capp_windows(capp, mel, pose).mean()))
            rows[name]["speed"].append(head_dp(pose))
            rows[name]["profile"].append(speed_by_window_position(pose, window))
    out = {}
    print(f"  {'':32s} CAPP on the pose  head speed  window-position speed max/min")
    for name, r in rows.items():
        prof = np.nanmean(r["profile"], axis=0)
        out[name] = dict(capp=round(float(np.mean(r["capp"])), 3), dP=round(float(np.mean(r["speed"])), 3),
                         position_max_over_min=round(float(np.nanmax(prof) / np.nanmin(prof)), 2))
        print(f"  {name:32s} {out[name]['capp']:16.3f}  {out[name]['dP']:9.3f}  "
              f"{out[name]['position_max_over_min']:10.2f}")
    return out


def blink_part(profile: str, n_clips: int) -> dict:
    """Blinks per second: a ridge probe z_dyn -> eyelid fitted on training codes, read on the clips' own codes and
    on motion generated from their audio (each sampler), against the true eyelid."""
    from vasa_lab.latent.probes import r2_score
    from vasa_lab.metrics.motion_codes import StateProbe, blink_depths, blinks_per_second
    from vasa_lab.metrics.pixel_motion import conditions_of
    from vasa_lab.motion import generate_motion, load_motion_model
    from vasa_lab.motion.data import motion_clips
    from vasa_lab.world.state import STATE_NAMES

    model = load_motion_model(profile)
    clips = motion_clips(model.config)
    probe = StateProbe.fit(clips, "train", state="blink")
    test = [clips.clip(int(i)) for i in clips.indices("test")[:n_clips]]
    eyelid = STATE_NAMES.index("blink")
    r2 = float(r2_score(np.concatenate([c["states"][:, eyelid] for c in test])[:, None],
                        np.concatenate([probe(c["motion"]) for c in test])[:, None])[0])
    blinks = dict(probe_r2=round(r2, 3))
    if r2 < 0.5:
        print(f"  blinks: z_dyn of {profile} carries no blink (probe R2 {r2:.2f} on test codes); not counted")
        return blinks
    tracks = {"truth": [c["states"][:, eyelid] for c in test], "encoded codes": [probe(c["motion"]) for c in test]}
    # what the drift control's bound (chapter 08) takes from real motion: the clips' own codes through it, and
    # through it on the head only (the face as encoded)
    import torch

    from vasa_lab.metrics.motion_codes import JawProbe
    from vasa_lab.motion.stream import BOUND, soft_bound

    def bent(motion, where):
        z = model.normalize_motion(torch.from_numpy(motion))
        P = model.config.pose_dim if where == "head" else 0
        z = torch.cat([soft_bound(z[:, :P], BOUND), z[:, P:]] if P else [soft_bound(z, BOUND)], dim=1)
        return model.denormalize_motion(z).numpy()

    tracks["encoded codes, through the bound"] = [probe(bent(c["motion"], "all")) for c in test]
    tracks["encoded codes, bound on the head only"] = [probe(bent(c["motion"], "head")) for c in test]
    jaw = JawProbe.fit(clips, "train")
    spread = {w: round(float(np.mean([jaw(c["motion"] if w == "none" else bent(c["motion"], w)).std()
                                      for c in test])), 4) for w in ("none", "all", "head")}
    blinks["jaw_spread_of_encoded_codes"] = {"as encoded": spread["none"], "through the bound": spread["all"],
                                             "bound on the head only": spread["head"]}
    print(f"  the jaw probe's spread on the clips' own codes: {spread['none']:.4f} as encoded, {spread['all']:.4f} "
          f"through the drift control's bound, {spread['head']:.4f} with the bound on the head only")
    for name, kw in SAMPLERS.items():
        tracks[name] = [probe(generate_motion(model, c["audio"], conditions_of(c), seed=k, **kw)[:len(c["motion"])])
                        for k, c in enumerate(test)]
    tracks["DDIM 10, bound off"] = [   # generated without the bound (the mean reversion stays)
        probe(generate_motion(model, c["audio"], conditions_of(c), seed=k, bound=None)[:len(c["motion"])])
        for k, c in enumerate(test)]
    # the same on clips the model was trained on: is the shallow blink the model's, or the unseen speech's?
    train = [clips.clip(int(i)) for i in clips.indices("train")[:n_clips]]
    tracks["truth, training clips"] = [c["states"][:, eyelid] for c in train]
    tracks["DDIM 25, training clips"] = [
        probe(generate_motion(model, c["audio"], conditions_of(c), seed=k, steps=25)[:len(c["motion"])])
        for k, c in enumerate(train)]
    print(f"  blinks read from z_dyn by a probe (R2 {r2:.2f} on test codes); depth = how far a closing goes "
          f"(the peak of each excursion above 0.3; 1 = shut):")
    print(f"  {'':24s} blinks/s  median depth  closings  of them deeper than 0.7")
    for name, eyelids in tracks.items():
        depths = np.concatenate([blink_depths(e) for e in eyelids])
        blinks[name] = dict(per_second=round(float(np.mean([blinks_per_second(e) for e in eyelids])), 3),
                            median_depth=round(float(np.median(depths)), 3) if depths.size else None,
                            closings=int(depths.size), deeper_than_07=int((depths > 0.7).sum()))
        b = blinks[name]
        print(f"  {name:24s} {b['per_second']:8.3f}  {b['median_depth'] or 0:12.2f}  {b['closings']:8d}  "
              f"{b['deeper_than_07']:8d}")
    blinks["denoiser"] = blink_denoiser(model, clips, probe)
    blinks["on pixels"] = blink_pixels(profile, model, test)
    return blinks


def blink_denoiser(model, clips, probe, n_windows: int = 32) -> dict:
    """Where the sampler loses the blink: one denoising step, X_0 predicted from X_t at several noise levels, on
    training windows that hold a true blink at their middle frame (full conditioning, the true context). The depth
    of the blink in the prediction against the clean window's: a denoiser that keeps a blink it can see, but does
    not commit to one at high noise, leaves the sampler with half blinks."""
    import torch

    from vasa_lab.motion.data import MotionWindows
    from vasa_lab.motion.diffusion import make_scheduler
    from vasa_lab.motion.module import batch_conditioning
    from vasa_lab.world.state import STATE_NAMES

    cfg = model.config
    K, W, eyelid = cfg.context, cfg.window, STATE_NAMES.index("blink")
    dataset = MotionWindows(clips, cfg, "train")
    windows = []
    for i in clips.indices("train"):
        shut = np.flatnonzero(clips.clip(int(i))["states"][:, eyelid] > 0.9)
        a = int(shut[0]) - W // 2 if shut.size else -1
        if K <= a <= clips.n_frames(int(i)) - W:
            windows.append(dataset.window(int(i), a))
        if len(windows) == n_windows:
            break
    batch = {k: torch.stack([w[k] for w in windows]) for k in windows[0]}
    cond = batch_conditioning(model, batch)
    x0 = model.normalize_motion(batch["x0"])
    abar = make_scheduler(cfg, "ddpm").alphas_cumprod
    middle = slice(W // 2 - 4, W // 2 + 5)

    def depth(x):
        return float(np.median([probe(m)[middle].max() for m in model.denormalize_motion(x).numpy()]))

    out = dict(windows=len(windows), clean=round(depth(x0), 3))
    generator = torch.Generator().manual_seed(0)
    for t in (100, 300, 500, 600, 700, 800, 900):
        x_t = abar[t].sqrt() * x0 + (1 - abar[t]).sqrt() * torch.randn(x0.shape, generator=generator)
        with torch.no_grad():
            out[f"t={t}"] = round(depth(model(x_t, torch.full((len(x0),), t), cond)), 3)
    print(f"  the denoiser on {len(windows)} training windows with a blink at the middle: depth of the predicted "
          f"X_0 (clean {out['clean']:.2f}): " + ", ".join(f"{k} {v:.2f}" for k, v in out.items() if k.startswith("t=")))
    # the whole sampler from there: the window noised to t, then DDIM (the 50-step grid) down to a clean sample
    ddim = make_scheduler(cfg, "ddim")
    ddim.set_timesteps(50)
    for start in (500, 700, 800):
        steps = [int(t) for t in ddim.timesteps if int(t) <= start]
        x = abar[steps[0]].sqrt() * x0 + (1 - abar[steps[0]]).sqrt() * torch.randn(x0.shape, generator=generator)
        with torch.no_grad():
            for t in steps:
                x = ddim.step(model(x, torch.full((len(x0),), t), cond), t, x).prev_sample
        out[f"DDIM from t={steps[0]}"] = round(depth(x), 3)
    print("  ... and DDIM from that noise down to a clean sample: " + ", ".join(
        f"{k[10:]} {v:.2f}" for k, v in out.items() if k.startswith("DDIM from")))
    return out


def blink_pixels(profile: str, model, test: list[dict], n_clips: int = 6) -> dict:
    """The same motion drawn on ``make demo``'s portrait and read by chapter 02's tracker: how far the drawn eyes
    close (the lowest eye openness over the clip, over its 75th percentile) and whether the tracker's own blink
    flag fires anywhere in the clip, on the first ``n_clips`` test clips that hold a true blink."""
    from vasa_lab.latent.api import load_latent_model
    from vasa_lab.metrics.expression import TRUE_BLINK, read_pixels
    from vasa_lab.metrics.pixel_motion import conditions_of, render_codes
    from vasa_lab.motion import generate_motion
    from vasa_lab.pipeline.animate import Animator, demo_portrait_image
    from vasa_lab.world.state import STATE_NAMES

    latent = load_latent_model(profile)
    crop = Animator(profile, latent=latent).portrait(demo_portrait_image()).crop
    eyelid = STATE_NAMES.index("blink")
    chosen = [k for k, c in enumerate(test) if (c["states"][:, eyelid] > TRUE_BLINK).any()][:n_clips]
    sources = {"encoded codes": lambda k: test[k]["motion"]}
    for name in ("DDIM 10 (default)", "DDIM 25", "DDPM 200"):
        kw = SAMPLERS[name]
        sources[name] = lambda k, kw=kw: generate_motion(model, test[k]["audio"], conditions_of(test[k]), seed=k,
                                                          **kw)[:len(test[k]["motion"])]
    out = {}
    print(f"  on pixels ({len(chosen)} clips with a true blink, drawn on make demo's portrait, read by the tracker):")
    for name, motion_of in sources.items():
        lowest, read = [], 0
        for k in chosen:
            reading = read_pixels(render_codes(latent, crop, motion_of(k)))
            lowest.append(float(np.nanmin(reading.eyes) / np.nanpercentile(reading.eyes, 75)))
            read += int(reading.blink.any())
        out[name] = dict(lowest_eye_openness=round(float(np.median(lowest)), 3), clips_with_a_blink_read=read,
                         clips=len(chosen))
        print(f"  {name:20s} lowest eye openness (median over clips) {out[name]['lowest_eye_openness']:.2f}; "
              f"a blink read in {read} of {len(chosen)} clips")
    return out


def capp_part(profile: str, n_clips: int = 24, model_file: str | None = None) -> dict:
    """What CAPP reads, and what the generator misses (part 4, on the codes: no renderer, no tracker).

    CAPP scores the true pose and the true pose taken apart (:func:`vasa_lab.metrics.capp.taken_apart`: smoothed,
    its frame-scale jitter shuffled, another clip's, white noise that does or does not follow the world's head
    activity, a random walk alone, 5 frames late). Then the true, encoded and generated pose: CAPP, the size of
    the frame-scale jitter and how closely it follows the activity (:func:`~vasa_lab.metrics.capp.frame_scale_motion`).
    ``model_file``: a motion model's safetensors (same config as the profile's) to read instead of the shipped one.
    """
    from vasa_lab import course
    from vasa_lab.latent.api import encode_motion
    from vasa_lab.metrics import world_clips
    from vasa_lab.metrics.baselines import generator_motion
    from vasa_lab.metrics.capp import capp_windows, frame_scale_motion, load_capp, taken_apart
    from vasa_lab.metrics.features import log_mel
    from vasa_lab.pipeline.animate import Animator
    from vasa_lab.world.behaviour import head_activity, loudness_db

    capp = load_capp(profile)
    animator = Animator(profile)
    if model_file:
        from vasa_lab.artifacts import load_state_dict
        animator.motion.load_state_dict(load_state_dict(model_file))
    clips = world_clips(course.world(profile), "test")[:n_clips]
    rng = np.random.default_rng(0)
    apart: dict[str, list[float]] = {}
    rows: dict[str, dict[str, list[float]]] = {}
    for i, c in enumerate(clips):
        mel = log_mel(c.audio, c.n_frames, n_mels=capp.config.n_mels)
        activity = head_activity(loudness_db(c.audio, 16_000, c.n_frames))
        pose = np.asarray(c.pose, np.float32)
        for name, p in taken_apart(pose, activity, clips[(i + 1) % len(clips)].pose, rng).items():
            apart.setdefault(name, []).append(float(capp_windows(capp, mel, p).mean()))
        generated = generator_motion(animator, c, seed=i)[: c.n_frames, :6]
        for name, p in {"true pose": pose, "encoded z_pose": encode_motion(animator.latent, c.frames)[0].numpy(),
                        "generated (default sampler)": generated}.items():
            size, follows = frame_scale_motion(p, activity)
            row = rows.setdefault(name, dict(capp=[], jitter=[], follows_activity=[]))
            row["capp"].append(float(capp_windows(capp, mel, np.asarray(p, np.float32)).mean()))
            row["jitter"].append(size)
            row["follows_activity"].append(follows)
    out = dict(taken_apart={k: round(float(np.mean(v)), 3) for k, v in apart.items()},
               poses={k: {m: round(float(np.mean(v)), 3) for m, v in row.items()} for k, row in rows.items()},
               n_clips=len(clips))
    print(f"  CAPP of the true pose, taken apart ({len(clips)} held-out clips):")
    for name, v in out["taken_apart"].items():
        print(f"    {name:45s} {v:.3f}")
    print(f"  {'':30s} CAPP  frame-scale jitter (deg)  its size follows the activity (r)")
    for name, row in out["poses"].items():
        print(f"  {name:30s} {row['capp']:.3f}  {row['jitter']:25.3f}  {row['follows_activity']:.3f}")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--profile", default="tiny")
    ap.add_argument("--out", default=None)
    ap.add_argument("--part", choices=("all", "pixels", "sampler", "capp", "streaming"), default="all",
                    help="pixels: only part 2, sampler: only part 3, capp: only part 4, streaming: only part 5 (a few "
                         "minutes each), merged into an existing results file")
    ap.add_argument("--motion-file", default=None,
                    help="with --part capp and --out only: a motion model's weights (same config as the profile's) "
                         "to read instead of the shipped one")
    ap.add_argument("--stream-seeds", type=int, default=3, help="seeds per guidance scale in part 5 (default 3)")
    ap.add_argument("--stream-scales", default="0.5,1,1.5", help="audio guidance scales of part 5 (default 0.5,1,1.5)")
    args = ap.parse_args()
    if args.motion_file and (args.part != "capp" or not args.out):
        ap.error("--motion-file needs --part capp and its own --out (the results file holds the shipped model's)")
    warnings.filterwarnings("ignore")
    from bench_motion_loss import write_results
    from vasa_lab.repro import setup

    setup(seed=0)
    started = time.time()
    out = Path(args.out or f"benchmarks/results/head_audio_{args.profile}.json")
    result = json.loads(out.read_text()) if args.part != "all" and out.exists() else dict(profile=args.profile)
    if args.part == "all":
        print("1. on the motion codes (held-out clips):")
        result["codes"] = code_level(args.profile)
    if args.part in ("all", "pixels"):
        print("\n2. on pixels, chapter 10's measurement (2 x 12 held-out clips x 3 seeds):")
        result["pixels"] = pixel_level(args.profile)
    if args.part in ("all", "sampler"):
        print("\n3. what the sampler keeps, on the codes (24 held-out clips):")
        result["sampler"] = sampler_level(args.profile)
    if args.part in ("all", "capp"):
        print("\n4. what CAPP reads, and what the generator misses (24 held-out clips, on the codes):")
        result["capp"] = capp_part(args.profile, model_file=args.motion_file)
        result["capp"]["motion_file"] = args.motion_file      # None: the shipped model
    if args.part in ("all", "streaming"):
        print(f"\n5. a streamed minute at audio guidance {args.stream_scales} (chapter 08's stream, "
              f"{args.stream_seeds} seeds):")
        result["streaming"] = streaming_part(args.profile, seeds=range(args.stream_seeds),
                                             scales=[float(x) for x in args.stream_scales.split(",")])
    seconds = round(time.time() - started, 1)
    key = {"all": "seconds", "pixels": "seconds_part_2", "sampler": "seconds_part_3", "capp": "seconds_part_4",
           "streaming": "seconds_part_5"}[args.part]
    result[key] = seconds                                                  # a part's rerun keeps the full time
    write_results(out, result)                        # atomically: a kill never leaves half a results file
    print(f"\n({seconds:.0f} s) -> {out}")


if __name__ == "__main__":
    main()
