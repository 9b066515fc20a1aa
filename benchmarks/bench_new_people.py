"""Do the motion encoders read new faces better after seeing thousands of new people? Exploratory continuations of
small's pose phase's model, one CNN at a time, one of which became small's faces phase (``LatentConfig.new_faces``),
and the shipped model that has it, read the same way.

    python benchmarks/bench_new_people.py --profile small --train dyn     # one arm's training (its minutes are kept)
    python benchmarks/bench_new_people.py --profile small                 # every arm (training what is missing), reads

small's probes read gaze, smile and brows from z_dyn, and the pitch from z_pose, on people it trained on, but not on
new ones (README, "Where the latent probes fail" and "The head's angles"; this benchmark prints both). More people
helped the jaw and the blinks (the people phase, 816 training people of small's world grown to 2000 clips). The world
can draw any person in any state (:mod:`vasa_lab.world.samples`), so this benchmark draws states of random frames of
small's own training clips on ``--faces`` people never seen before, one frame each, and shows them to one encoder.
Every arm continues the pose phase's model (``before``, shipped until the faces phase) on small's own 800-clip
world (fewer people than the 2000-clip world its people and pose phases saw); the dyn arms run ``--dyn-steps`` steps,
the pose arms ``--pose-steps``:

* ``dyn``: z_dyn's CNN alone, the people phase's losses
  (:meth:`vasa_lab.latent.module.LatentModule.people_losses`, with its own linear expression read-out on the pairs'
  frames) plus the same read-out on 16 new people's frames a step (weight ``--w-new``);
* ``dyn-own``: the same extra read-out, on 16 frames of small's own training clips instead of new people;
* ``dyn-control``: the people phase's losses alone;
* ``pose``: z_pose's CNN alone on the pose loss, half of each batch from small's own world, half new people;
* ``pose-control``: the same with the whole batch from small's own world.

So ``dyn`` against ``dyn-own`` is the new faces alone, ``dyn-own`` against ``dyn-control`` the extra read-out. Each
arm is one run of one seed, a plain loop (Adam at a constant rate for the dyn arms). ``shipped`` is small's model
with the faces phase, trained by ``python -m vasa_lab.latent.train --profile small``: the ``pose`` arm's recipe as a
training phase. The ``dyn`` arm's recipe built the same way did not repeat its gains in two runs
(``results/new_people_small_dyn_phase.txt``), so no shipped phase has it. Each is read with chapter 04's protocol
(40 clips of 20 validation people fit the probes, 40 clips of 20 test people score them), across people and within
clips, and z_dyn's identity leak. Beside them, chapter 02's tracker reading the same real frames (its gaze, smile and
brow readings as the features of the same probe): what a reader we did not train gets from the frames. Trained
weights are kept (safetensors, named by the pose phase's model's key and the arm's settings) in the artifact store's
``bench-new-people`` folder, so arms can train in parallel processes (``--train ARM``) and a later run only reads.
Writes ``benchmarks/results/new_people_<profile>.json``
(``--out`` for another file). The arms are not shipped; it asserts nothing.
"""
from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from bench_more_people import code_probes
from bench_motion_loss import write_results

RESULTS = Path(__file__).resolve().parent / "results"
ARMS = ("dyn", "dyn-own", "dyn-control", "pose", "pose-control")
EXTRA_FRAMES = ("dyn", "dyn-own", "pose")      # the arms that read frames beside the phase's own batches
TRACKED = ("gaze_yaw", "gaze_pitch", "smile", "brow_raise")


def own_frames(cfg, clips, n: int, tag: str) -> tuple[torch.Tensor, np.ndarray]:
    """``n`` random frames of ``clips`` themselves (the people the model trained on) and their states: the same
    extra read-out as the new faces (:func:`vasa_lab.latent.data.new_face_frames`), without new faces."""
    from vasa_lab.world.samples import tagged_rng

    rng = tagged_rng(tag)
    picks = [(int(c), int(rng.integers(clips.n_frames[c]))) for c in rng.integers(len(clips), size=n)]
    images = np.stack([clips.frames(c)[t] for c, t in picks])
    states = np.stack([clips.states(c)[t] for c, t in picks])
    return torch.from_numpy(images).permute(0, 3, 1, 2).contiguous(), states


def weights_path(profile: str, arm: str, steps: int, faces: int, w_new: float) -> Path:
    """Where an arm's weights are kept: named by the model it continues and every setting the arm uses."""
    from vasa_lab.artifacts import config_key, default_home
    from vasa_lab.latent.config import LatentConfig

    name = f"{profile}-{config_key(LatentConfig.for_profile(profile).without_faces())}-{arm}-{steps}"
    name += f"-{faces}" if arm in EXTRA_FRAMES else ""
    name += f"-w{w_new:g}" if arm in ("dyn", "dyn-own") else ""
    return default_home() / "bench-new-people" / f"{name}.safetensors"


def train_arm(profile: str, arm: str, steps: int, faces: int, w_new: float) -> dict:
    """Continue the pose phase's model for ``steps`` steps of one arm; its weights saved, and the training's
    numbers."""
    from safetensors.torch import save_file
    from torch.utils.data import DataLoader

    from vasa_lab.data.clips import ClipFrames, dataset_folder
    from vasa_lab.latent.api import load_latent_model
    from vasa_lab.latent.config import EXPRESSION_NAMES, EXPRESSION_UNIT, LatentConfig
    from vasa_lab.latent.data import FramePairDataset, FramePoseDataset, new_face_frames
    from vasa_lab.latent.losses import pose_loss
    from vasa_lab.latent.module import LatentModule, expression_spread
    from vasa_lab.world.state import STATE_NAMES

    torch.manual_seed(0)
    cfg = LatentConfig.for_profile(profile).without_faces()
    model = load_latent_model(config=cfg)
    clips = ClipFrames(dataset_folder(cfg), "train")
    # the module for its losses, colour jitter and a fresh expression read-out; the people phase's losses need no
    # identity network, so it is built from a config without the losses that would
    bare = replace(cfg, w_cross_id=0.0, w_perceptual=0.0)
    object.__setattr__(model, "config", bare)
    module = LatentModule(model, None, expression_spread(clips))
    object.__setattr__(model, "config", cfg)
    module.cfg = cfg
    trained = "motion_encoder.dyn_net." if arm.startswith("dyn") else "motion_encoder.pose_net."
    for name, p in model.named_parameters():
        p.requires_grad_(name.startswith(trained))
    params = [p for p in model.parameters() if p.requires_grad]
    new = arm in EXTRA_FRAMES
    if new:
        t = time.perf_counter()
        tag = f"bench-new-people-{arm}"
        images, states = (own_frames(cfg, clips, faces, tag) if arm == "dyn-own"
                          else new_face_frames(clips, faces, cfg.image_size, tag))
        print(f"{arm}: {faces} extra frames in {time.perf_counter() - t:.0f} s", flush=True)
    draw = torch.Generator().manual_seed(1)
    if arm.startswith("dyn"):
        params += list(module.expression_head.parameters())
        opt = torch.optim.Adam(params, lr=cfg.people_lr)
        sched = None
        items = FramePairDataset(clips, steps * cfg.batch_size, cfg.min_pair_gap, cfg.other_clip_share, cfg.seed + 4,
                                 cfg.focus_eye_weight or cfg.eye_weight, cfg.blink_share)
        batch_size = cfg.batch_size
        if new:
            cols = [STATE_NAMES.index(n) for n in EXPRESSION_NAMES]
            target = torch.from_numpy(states[:, cols] / np.asarray(EXPRESSION_UNIT, np.float32))
    else:
        opt = torch.optim.Adam(params, lr=cfg.pose_lr)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, cfg.pose_lr, total_steps=steps, pct_start=0.1)
        batch_size = cfg.pose_batch // 2 if new else cfg.pose_batch
        items = FramePoseDataset(clips, steps * batch_size, cfg.seed + 7)
        if new:
            target = torch.from_numpy(states[:, :6].copy())
    model.train()
    started, last = time.perf_counter(), {}
    for step, batch in enumerate(DataLoader(items, batch_size=batch_size, drop_last=True)):
        if arm.startswith("dyn"):
            total, logs, _ = module.people_losses(batch)
            if new:
                idx = torch.randint(len(images), (16,), generator=draw)
                read = module.expression_head(model.encode_motion(module.jitter(images[idx].float() / 255))[1])
                logs["extra_read_out"] = (((read - target[idx]) / module.expression_scale) ** 2).mean()
                total = total + w_new * logs["extra_read_out"]
        else:
            x, y = batch["image"], batch["pose"]
            if new:
                idx = torch.randint(len(images), (batch_size,), generator=draw)
                x, y = torch.cat([x, images[idx].float() / 255]), torch.cat([y, target[idx]])
            total = pose_loss(model.motion_encoder.pose(module.jitter(x)), y)
            logs = dict(pose=total)
        opt.zero_grad(set_to_none=True)
        total.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        if sched is not None:
            sched.step()
        last = {k: float(v.detach()) for k, v in logs.items()}
        if step % 500 == 0:
            print(f"{arm} step {step}: " + ", ".join(f"{k} {v:.4f}" for k, v in last.items()), flush=True)
    model.eval()
    path = weights_path(profile, arm, steps, faces, w_new)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(tmp))
    tmp.replace(path)
    seconds = time.perf_counter() - started
    print(f"{arm}: {steps} steps in {seconds / 60:.1f} min -> {path}", flush=True)
    training = dict(minutes=round(seconds / 60, 1), threads=torch.get_num_threads(), last_losses=last)
    write_results(path.with_suffix(".json"), training)
    return training


@torch.no_grad()
def read_arm(model, fit_clips, test_clips) -> dict:
    """Chapter 04's probes on one model: both codes across people and within clips, and z_dyn's identity leak."""
    from vasa_lab.latent import probes

    fit, test = probes.clip_codes(model, fit_clips), probes.clip_codes(model, test_clips)
    out = code_probes(fit, test)
    out["identity from z_dyn"], out["identity chance"] = probes.identity_probe(test, test.z_dyn)
    return out


@torch.no_grad()
def seen_people_reading(model, profile: str, n_fit: int = 160, n_score: int = 80) -> dict:
    """The same probes fitted on ``n_fit`` clips of the training people and scored on ``n_score`` clips of other
    training people: people the encoder saw, but the probe did not."""
    from vasa_lab.data.clips import heldout_clips
    from vasa_lab.latent import probes

    clips = heldout_clips(profile, "train", n=n_fit + n_score)
    fit, test = probes.clip_codes(model, clips[:n_fit]), probes.clip_codes(model, clips[n_fit:])
    return {f"{code} across people": probes.probe_r2(fit, test, code, factors)
            for code, factors in (("z_dyn", probes.DYN_FACTORS), ("z_pose", probes.POSE_FACTORS))}


def pixel_sizes(size: int, n: int = 50) -> dict:
    """How far the face's pixels move for the factors a probe misses, at ``size`` px, averaged over ``n`` people in a
    neutral frontal state: the irises for 10 degrees of gaze yaw and of gaze pitch, the mouth's corners (landmarks 48
    and 54) for the smile of happy (0 -> 0.8, ``vasa_lab.world.behaviour``)."""
    from vasa_lab.world.face import landmarks_2d
    from vasa_lab.world.person import sample_identity
    from vasa_lab.world.render import iris_centres
    from vasa_lab.world.samples import identity_seeds
    from vasa_lab.world.state import FaceState

    moves = {"iris, gaze yaw +10 deg": [], "iris, gaze pitch +10 deg": [], "mouth corners, smile 0 -> 0.8": []}
    for seed in identity_seeds("bench-new-people-sizes", n):
        who, still = sample_identity(int(seed)), FaceState()
        iris = iris_centres(who, still, size)
        for name, turned in (("iris, gaze yaw +10 deg", FaceState(gaze_yaw=10.0)),
                             ("iris, gaze pitch +10 deg", FaceState(gaze_pitch=10.0))):
            moves[name].append(np.linalg.norm(iris_centres(who, turned, size) - iris, axis=1).mean())
        corners = [landmarks_2d(who, st, size)[[48, 54]] for st in (still, FaceState(smile=0.8))]
        moves["mouth corners, smile 0 -> 0.8"].append(np.linalg.norm(corners[1] - corners[0], axis=1).mean())
    return {f"{name} (px)": float(np.mean(v)) for name, v in moves.items()}


def tracker_reading(fit_clips, test_clips) -> dict:
    """The same probe on chapter 02's tracker: its gaze (2), smile and brow readings of the real frames as features."""
    from vasa_lab.latent import probes
    from vasa_lab.metrics.expression import read_pixels
    from vasa_lab.world.state import STATE_NAMES

    def read(clips):
        rows = []
        for c in clips:
            r = read_pixels(c.frames)
            rows.append((np.column_stack([r.gaze, r.smile, r.brow]),
                         c.states[:, [STATE_NAMES.index(f) for f in TRACKED]]))
        x, y = (np.concatenate(v) for v in zip(*rows))
        found = np.isfinite(x).all(1)
        return x[found], y[found], float(found.mean())

    (fx, fy, _), (tx, ty, found) = read(fit_clips), read(test_clips)
    r2 = probes.r2_score(ty, probes.ridge_predict(probes.ridge_fit(fx, fy), tx))
    return {"across people": dict(zip(TRACKED, map(float, r2))), "frames found": found}


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--profile", default="small")
    p.add_argument("--train", choices=ARMS, help="only train this arm (its weights kept), then stop")
    p.add_argument("--arms", default=",".join(ARMS))
    p.add_argument("--dyn-steps", type=int, default=1500)
    p.add_argument("--pose-steps", type=int, default=5000)
    p.add_argument("--faces", type=int, default=12000, help="new people drawn, one frame each")
    p.add_argument("--w-new", type=float, default=2.0, help="weight of the new people's expression read-out (dyn)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)

    def setting(arm):
        return (args.dyn_steps if arm.startswith("dyn") else args.pose_steps), args.faces, args.w_new

    if args.train:
        train_arm(args.profile, args.train, *setting(args.train))
        return
    from safetensors.torch import load_file

    from vasa_lab.data.clips import heldout_clips
    from vasa_lab.latent.api import load_latent_model
    from vasa_lab.latent.config import LatentConfig

    fit_clips = heldout_clips(args.profile, "val", n=40)
    test_clips = heldout_clips(args.profile, "test", n=40)
    shipped = LatentConfig.for_profile(args.profile)
    before = shipped.without_faces()                    # the pose phase's model: what every arm continues
    result = dict(profile=args.profile, faces=args.faces, w_new=args.w_new, dyn_steps=args.dyn_steps,
                  pose_steps=args.pose_steps, arms={})
    for arm in ("before", *args.arms.split(","), "shipped"):
        model = load_latent_model(config=shipped if arm == "shipped" else before)
        if arm not in ("before", "shipped"):
            path = weights_path(args.profile, arm, *setting(arm))
            if not path.exists():
                train_arm(args.profile, arm, *setting(arm))
            model.load_state_dict(load_file(str(path)))
        model.eval()
        result["arms"][arm] = r = read_arm(model, fit_clips, test_clips)
        if arm not in ("before", "shipped") and path.with_suffix(".json").exists():   # its training's minutes, losses
            r["training"] = json.loads(path.with_suffix(".json").read_text())
        print(f"\n{arm}: " + "; ".join(f"{k}: " + ", ".join(f"{f} {v:.3f}" for f, v in r[k].items())
                                      for k in ("z_dyn across people", "z_pose across people")))
        print(f"  identity from z_dyn {r['identity from z_dyn']:.3f} (chance {r['identity chance']:.3f})")
    result["before, on people it trained on"] = seen = seen_people_reading(load_latent_model(config=before),
                                                                         args.profile)
    print("\nbefore, probes fitted and scored on two sets of its training people: "
          + "; ".join(f"{k}: " + ", ".join(f"{f} {v:.3f}" for f, v in seen[k].items()) for k in seen))
    result["tracker"] = t = tracker_reading(fit_clips, test_clips)
    print("\nchapter 02's tracker on the real frames, across people: "
          + ", ".join(f"{f} {v:.3f}" for f, v in t["across people"].items()))
    result["pixels moved at the profile's size"] = moved = pixel_sizes(shipped.image_size)
    print(f"at {shipped.image_size} px: " + ", ".join(f"{k} {v:.2f}" for k, v in moved.items()))
    out = args.out or RESULTS / f"new_people_{args.profile}.json"
    write_results(out, result)
    print(f"written to {out}")


if __name__ == "__main__":
    main()
