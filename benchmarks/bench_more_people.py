"""Do the latent probes fail for lack of people? small's z_dyn CNN fine-tuned on its own world and on a bigger one.

    python benchmarks/bench_more_people.py --profile small                    # shipped, own people, 2000-clip world
    python benchmarks/bench_more_people.py --profile small --arms more --w-adversary 0.05

small trains on 800 clips of 400 people (320 of them in the train split). Chapter 04's probes read the jaw and the
blinks from z_dyn inside a clip but lose them across new people, and each clip's code sits at a level that is largely
the person's (``vasa_lab.latent.probes.within_clips``; README "Where the latent probes fail"). This benchmark asks
whether the encoder learned people rather than motion because it saw too few of them. Each arm starts from the
shipped small model and trains only the motion encoder's z_dyn CNN (``motion_encoder.dyn_net``; the pose CNN, the
appearance encoder, the warps and the decoder stay frozen, so the renderer reads the codes as before) for ``--steps``
steps of 8 pairs, with the last phase's reconstruction terms, colour jitter on the encoder's input, half the
drivers from the person's other clip, 40 % mid-blink, and a fresh linear read-out of the world's expression
(``w_expression`` 2, each value in its spread). Optionally a linear person classifier on z_dyn as an adversary (it
learns to name the person; the encoder is pushed to make every person equally likely). Arms:

* ``shipped``: the shipped model, nothing trained;
* ``own``: the fine-tune on small's own training people;
* ``more``: the same fine-tune on a world of ``--clips`` clips (the first 800 are small's own world, linked, not made
  again; people 400 and up are new, split by identity as always, so chapter 04's validation and test people stay
  unseen). Making 1200 clips takes about 8 minutes on 2 cores and 4.8 GB of disk.

Each arm is read with one protocol on people no arm trained on: chapter 04's probes (40 clips of 20 validation people
fit them, 40 clips of 20 test people score them) across people and within clips, the identity probe on z_dyn (chance
1/20), how often a test clip's mean code lies nearest to the same person's other clip (chance 1/39), and the
re-drawn pixel targets of ``bench_expressive.py`` (a) on the first 16 test clips, read by chapter 02's tracker.
About 3 minutes per read and 9 per fine-tune on 2 cores. Writes ``benchmarks/results/more_people_<profile>.json``
(``..._adversary.json`` with the adversary on).
Asserts nothing; an experiment, not a training phase of the package (the motion transformer reads the shipped codes).
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

RESULTS = Path(__file__).resolve().parent / "results"


def bigger_world(profile: str, clips: int) -> Path:
    """The profile's world grown to ``clips`` clips: the clips it already has are linked, the rest made."""
    from vasa_lab.artifacts import config_key, default_home
    from vasa_lab.world.dataset import default_world, spec_for_profile

    own = default_world(profile)
    folder = default_home() / "data" / f"synthetic-{config_key(spec_for_profile(profile, clips=clips))}"
    folder.mkdir(parents=True, exist_ok=True)
    for f in own.iterdir():
        if f.name != "index.json" and not (folder / f.name).exists():
            (folder / f.name).symlink_to(f)
    return default_world(profile, clips=clips)


def fine_tune(model, world: Path, steps: int, w_adversary: float, seed: int = 7) -> list[dict]:
    """Train ``model.motion_encoder.dyn_net`` in place (see the module docstring); returns the loss history."""
    from torch.utils.data import DataLoader

    from vasa_lab.data.clips import ClipFrames
    from vasa_lab.latent.config import EXPRESSION_NAMES
    from vasa_lab.latent.data import FramePairDataset
    from vasa_lab.latent.id_net import load_identity_net
    from vasa_lab.latent.losses import l1, masked_l1, ms_ssim
    from vasa_lab.latent.module import LatentModule, expression_spread
    from vasa_lab.repro import setup

    setup(seed=seed)
    cfg = model.config
    clips = ClipFrames(world, "train")
    print(f"  {len(clips)} training clips of {len(clips.people)} people, {steps} steps", flush=True)
    label = {p: k for k, p in enumerate(clips.people)}
    pairs = FramePairDataset(clips, steps * cfg.batch_size, cfg.min_pair_gap, 0.5, seed,
                             cfg.focus_eye_weight or cfg.eye_weight, cfg.blink_share)
    module = LatentModule(model, load_identity_net(cfg.profile), expression_spread(clips))
    for name, p in model.named_parameters():
        p.requires_grad_(name.startswith("motion_encoder.dyn_net."))
    trained = [p for p in model.parameters() if p.requires_grad]
    readout = nn.Linear(cfg.dyn_dim, len(EXPRESSION_NAMES))
    adversary = nn.Linear(cfg.dyn_dim, len(label))
    opt = torch.optim.Adam(trained + list(readout.parameters()), lr=3e-4, betas=(0.5, 0.999))
    opt_adversary = torch.optim.Adam(adversary.parameters(), lr=3e-3)
    model.train()
    history, started = [], time.perf_counter()
    for step, batch in enumerate(DataLoader(pairs, batch_size=cfg.batch_size, drop_last=True)):
        xs, xd = batch["source"], batch["driver"]
        with torch.no_grad():
            pose_s, _ = model.encode_motion(xs)
            pose_d, _ = model.encode_motion(xd)
        dyn_s, dyn_d = model.encode_motion(module.jitter(xs))[1], model.encode_motion(module.jitter(xd))[1]
        pose_s, pose_d = module.warp_poses(batch, pose_s, pose_d)
        x_hat = model.render_parts(model.encode_appearance(xs, (pose_s, dyn_s)), pose_d, dyn_d).image
        logs = dict(l1=l1(x_hat, xd), ssim=1 - ms_ssim(x_hat, xd).mean(),
                    parts=masked_l1(x_hat, xd, batch["driver_parts"]),
                    mouth_inside=masked_l1(x_hat, xd, batch["driver_mouth"]),
                    eyes_inside=masked_l1(x_hat, xd, batch["driver_eyes"]))
        total = (cfg.w_l1 * logs["l1"] + cfg.w_face_parts * logs["parts"] + cfg.w_ssim * logs["ssim"]
                 + cfg.w_mouth_inside * logs["mouth_inside"] + cfg.focus_eye_inside * logs["eyes_inside"])
        ok = batch["expression_ok"].float()
        guess = torch.stack([readout(dyn_s), readout(dyn_d)], 1)
        truth = torch.stack([batch["source_expression"], batch["driver_expression"]], 1)
        logs["expression"] = (ok * ((guess - truth) / module.expression_scale) ** 2).sum() / ok.sum().clamp(min=1)
        total = total + 2.0 * logs["expression"]
        z = torch.cat([dyn_s, dyn_d])
        who = torch.tensor([label[int(i)] for i in batch["identity"]] * 2)
        logs["confusion"] = -F.log_softmax(adversary(z), 1).mean()     # lowest when every person is as likely
        if w_adversary > 0:
            total = total + w_adversary * logs["confusion"]
        opt.zero_grad(set_to_none=True)
        total.backward()
        torch.nn.utils.clip_grad_norm_(trained, 1.0)
        opt.step()
        logits = adversary(z.detach())                                 # the adversary learns on the codes as they are
        logs["adversary_ce"] = F.cross_entropy(logits, who)
        opt_adversary.zero_grad(set_to_none=True)
        logs["adversary_ce"].backward()
        opt_adversary.step()
        logs["adversary_accuracy"] = (logits.argmax(1) == who).float().mean()
        history.append({k: float(v.detach()) for k, v in logs.items()})
        if step % 500 == 0 or step == steps - 1:
            tail = history[-100:]
            print(f"  step {step} ({time.perf_counter() - started:.0f} s): "
                  + ", ".join(f"{k} {np.mean([h[k] for h in tail]):.4f}" for k in tail[-1]), flush=True)
    model.eval()
    return history


@torch.no_grad()
def read(model, fit_clips, test_clips, pixel_clips: int = 16) -> dict:
    """Chapter 04's probes, the identity leak and the re-drawn pixel targets of one model."""
    from vasa_lab.latent import probes
    from vasa_lab.latent.api import encode_motion
    from vasa_lab.metrics.expression import compare, read_pixels, summarise
    from vasa_lab.metrics.pixel_motion import render_codes
    from vasa_lab.world.state import STATE_NAMES

    def codes(clips):
        z = [encode_motion(model, c.frames) for c in clips]
        return probes.Codes(z_pose=np.concatenate([p.numpy() for p, _ in z]),
                            z_dyn=np.concatenate([d.numpy() for _, d in z]), z_id=None,
                            states=np.concatenate([c.states for c in clips]),
                            identity=np.concatenate([np.full(c.n_frames, c.meta["identity_index"]) for c in clips]),
                            clip=np.concatenate([np.full(c.n_frames, k) for k, c in enumerate(clips)]))

    fit, test = codes(fit_clips), codes(test_clips)
    out = {}
    for code, factors in (("z_dyn", probes.DYN_FACTORS), ("z_pose", probes.POSE_FACTORS)):
        share = probes.between_clip_share(test, factors)
        out[f"{code} across people"] = probes.probe_r2(fit, test, code, factors)
        out[f"{code} within clips"] = probes.probe_r2(probes.within_clips(fit), probes.within_clips(test), code,
                                                      tuple(f for f in factors if share[f] < 0.99))
    out["identity from z_dyn"], out["identity chance"] = probes.identity_probe(test, test.z_dyn)
    person = np.array([c.meta["identity_index"] for c in test_clips])
    levels = np.stack([test.z_dyn[test.clip == k].mean(0) for k in range(len(test_clips))])
    z = (levels - levels.mean(0)) / (levels.std(0) + 1e-6)
    d = ((z[:, None] - z[None]) ** 2).sum(-1)
    np.fill_diagonal(d, np.inf)
    out["nearest clip level same person"] = float((person[d.argmin(1)] == person).mean())
    out["nearest level chance"] = 1 / (len(test_clips) - 1)
    truth_names = ("jaw_open", "blink", "gaze_yaw", "gaze_pitch")
    rows = []
    for clip in test_clips[:pixel_clips]:
        z_pose, z_dyn = encode_motion(model, clip.frames)
        drawn = render_codes(model, clip.frames[0], np.concatenate([z_pose.numpy(), z_dyn.numpy()], 1))
        rows.append(compare(read_pixels(clip.frames), read_pixels(drawn),
                            {n: clip.states[:, STATE_NAMES.index(n)] for n in truth_names}))
    s = summarise(rows)
    out["pixels (a)"] = {k: float(s[k]) for k in ("mouth_range", "mouth_jaw_ratio", "blink_f1_shown",
                                                  "gaze_error_ratio", "mouth_closed_shown", "mouth_closed_real")}
    return out


def show(name: str, r: dict) -> None:
    print(f"\n{name}:")
    for k in ("z_dyn across people", "z_dyn within clips", "z_pose across people", "z_pose within clips"):
        target = 0.8 if k.startswith("z_dyn") else 0.9
        print(f"  {k:22s} " + ", ".join(f"{f} {v:.3f}" + (" (met)" if "across" in k and v >= target else "")
                                        for f, v in r[k].items()))
    print(f"  identity from z_dyn {r['identity from z_dyn']:.3f} (chance {r['identity chance']:.3f}); nearest clip "
          f"level the same person's {r['nearest clip level same person']:.3f} "
          f"(chance {r['nearest level chance']:.3f})")
    p = r["pixels (a)"]
    print(f"  pixels, re-drawn (a): mouth range / real's {p['mouth_range']:.3f} (>= 0.8), mouth-jaw r / real's "
          f"{p['mouth_jaw_ratio']:.3f} (>= 0.9), blink F1 {p['blink_f1_shown']:.3f} (>= 0.8), gaze error / the "
          f"reader's {p['gaze_error_ratio']:.3f} (<= 1.5), mouth at its most closed {p['mouth_closed_shown']:.3f} "
          f"(real {p['mouth_closed_real']:.3f})")


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--profile", default="small")
    p.add_argument("--clips", type=int, default=2000, help="clips of the bigger world (default 2000: 1000 people)")
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--w-adversary", type=float, default=0.0, help="weight of the identity adversary (default off)")
    p.add_argument("--arms", default="shipped,own,more")
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)

    from vasa_lab.data.clips import heldout_clips
    from vasa_lab.latent.api import load_latent_model
    from vasa_lab.world.dataset import default_world

    fit_clips = heldout_clips(args.profile, "val", n=40)
    test_clips = heldout_clips(args.profile, "test", n=40)
    results = dict(profile=args.profile, steps=args.steps, clips=args.clips, w_adversary=args.w_adversary, arms={})
    for arm in args.arms.split(","):
        model = load_latent_model(args.profile)
        if arm in ("own", "more"):
            world = default_world(args.profile) if arm == "own" else bigger_world(args.profile, args.clips)
            print(f"{arm}: fine-tuning z_dyn's CNN on {world}", flush=True)
            history = fine_tune(model, world, args.steps, args.w_adversary)
            results["arms"][arm] = dict(final={k: round(float(np.mean([h[k] for h in history[-100:]])), 4)
                                               for k in history[-1]})
        elif arm != "shipped":
            raise SystemExit(f"unknown arm {arm!r}: choose from shipped, own, more")
        r = read(model, fit_clips, test_clips)
        results["arms"].setdefault(arm, {}).update(r)
        show(arm, r)
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"more_people_{args.profile}{'_adversary' if args.w_adversary > 0 else ''}.json"
    out.write_text(json.dumps(results, indent=1))
    print(f"\nwritten to {out}")


if __name__ == "__main__":
    main()
