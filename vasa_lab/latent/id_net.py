"""An identity network: who is this, whatever their pose and expression?

VASA-1's cross-identity loss asks an identity network whether a face drawn with *someone else's* motion still
shows the source person, and chapter 04 measures identity similarity the same way. VASA-1 (like most face work)
uses a pretrained ArcFace. This project ships none, so:

* :class:`FaceIdentityNet` is our own small network, trained here on the synthetic people of the training split
  with ArcFace's loss (additive angular margin, Deng et al. 2019): embeddings e on the unit sphere, class
  centres W_k on the unit sphere, and the logit of the true class k is s cos(θ_k + m) instead of s cos θ_k, so
  that every person's frames must sit at least an angle m closer to their own centre than to any other. It
  looks only at a fixed crop around the face (the synthetic background also belongs to a person, and a network
  that recognised people by their wallpaper would say nothing about faces). Its intermediate feature maps double
  as our stand-in for a perceptual loss network (``perceptual_net="ours"``).
* :class:`ArcFaceIdentity` loads a real ArcFace (the IResNet-50/100 of insightface's ``arcface_torch``, weights
  from a local file the user provides) when ``arcface_path`` is set.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..config import resolve_profile
from ..training import OneLossModule, fit_for_steps, seed_everything

FACE_CROP = (0.22, 0.14, 0.78, 0.86)   # x0, y0, x1, y1 as fractions of the frame: the face, little background


@dataclass(frozen=True)
class IdentityNetConfig:
    profile: str = "tiny"
    input_size: int = 32                            # the face crop is resized to this
    channels: tuple[int, ...] = (16, 32, 64, 64)    # the first at input_size, then each halves it
    embed_dim: int = 64
    margin: float = 0.3                             # m, radians
    scale: float = 16.0                             # s
    steps: int = 300
    batch_size: int = 64
    lr: float = 3e-3
    seed: int = 0
    data: str = ""                                  # a dataset folder; "" = the profile's synthetic world

    @classmethod
    def for_profile(cls, profile: str | None = None, **overrides) -> "IdentityNetConfig":
        name = resolve_profile(profile)
        if name == "tiny":
            cfg = cls()
        elif name == "small":
            cfg = cls(profile="small", input_size=48, channels=(32, 64, 128, 128), embed_dim=128, steps=1500)
        else:
            cfg = cls(profile="full", input_size=112, channels=(64, 64, 128, 256, 512), embed_dim=512,
                      steps=60_000, batch_size=128, lr=1e-3)
        return replace(cfg, **overrides) if overrides else cfg


def face_crop(x: torch.Tensor, size: int, box: tuple[float, float, float, float] = FACE_CROP) -> torch.Tensor:
    """The fixed face crop of frames (B, 3, H, W), resized to (B, 3, size, size)."""
    h, w = x.shape[-2:]
    x0, y0, x1, y1 = round(box[0] * w), round(box[1] * h), round(box[2] * w), round(box[3] * h)
    return F.interpolate(x[..., y0:y1, x0:x1], size=(size, size), mode="bilinear", antialias=True,
                         align_corners=False)


class FaceIdentityNet(nn.Module):
    """Frames (B, 3, H, W) in [0, 1] -> unit-length identity embeddings (B, embed_dim).

    A small CNN on the face crop (one strided convolution per stage); the last feature map is flattened (it keeps where the eyes, nose and mouth are)
    and mapped to the embedding by Linear + BatchNorm, ArcFace's output layer.
    """

    def __init__(self, config: IdentityNetConfig | None = None):
        super().__init__()
        cfg = config or IdentityNetConfig()
        self.config = cfg
        c = cfg.channels
        stages = [nn.Sequential(nn.Conv2d(3, c[0], 3, 1, 1, bias=False), nn.BatchNorm2d(c[0]), nn.ReLU(inplace=True))]
        for a, b in zip(c[:-1], c[1:]):
            stages.append(nn.Sequential(nn.Conv2d(a, b, 3, 2, 1, bias=False), nn.BatchNorm2d(b), nn.ReLU(inplace=True)))
        self.stages = nn.ModuleList(stages)
        side = cfg.input_size // 2 ** (len(c) - 1)
        self.embed = nn.Sequential(nn.Flatten(), nn.Dropout(0.1), nn.Linear(c[-1] * side * side, cfg.embed_dim),
                                   nn.BatchNorm1d(cfg.embed_dim))

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The feature map after every stage, for frames (B, 3, H, W): the perceptual loss's φ_l."""
        h, out = face_crop(x, self.config.input_size) * 2 - 1, []
        for stage in self.stages:
            h = stage(h)
            out.append(h)
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.embed(self.features(x)[-1]), dim=1)


class ArcMarginHead(nn.Module):
    """ArcFace's classifier: logits s cos θ_j, with the true class's s cos θ_k replaced by s cos(θ_k + m)."""

    def __init__(self, embed_dim: int, n_classes: int, margin: float = 0.3, scale: float = 16.0):
        super().__init__()
        self.centres = nn.Parameter(torch.randn(n_classes, embed_dim) * 0.01)
        self.margin, self.scale = margin, scale

    def forward(self, emb: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        cos = emb @ F.normalize(self.centres, dim=1).T                         # (B, n_classes) = cos θ
        theta = torch.acos(cos.clamp(-1 + 1e-6, 1 - 1e-6))
        target = torch.cos(theta.gather(1, labels[:, None]) + self.margin)      # cos(θ_k + m)
        logits = cos.scatter(1, labels[:, None], target)
        return self.scale * logits


def identity_similarity(net: nn.Module, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """cos(ψ(a), ψ(b)) per pair of frames (B, 3, H, W) x 2 -> (B,)."""
    return (net(a) * net(b)).sum(1)


# ---------------------------------------------------------------------------------------------------------------
# training
# ---------------------------------------------------------------------------------------------------------------
def augment(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Small shifts (+-2 px) and, for half the batch, a 3x3 blur: the faces the latent model draws are softer than
    real frames, and the identity network must still know them."""
    b = x.shape[0]
    dx, dy = (int(v) for v in torch.randint(-2, 3, (2,), generator=generator))
    x = torch.roll(x, shifts=(dy, dx), dims=(2, 3))
    blur = torch.rand(b, generator=generator) < 0.5
    soft = F.avg_pool2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), 3, 1)
    return torch.where(blur[:, None, None, None], soft, x)


class IdentityModule(OneLossModule):
    def __init__(self, net: FaceIdentityNet, n_classes: int, cfg: IdentityNetConfig):
        super().__init__(net, cfg)
        self.head = ArcMarginHead(cfg.embed_dim, n_classes, cfg.margin, cfg.scale)
        self.generator = torch.Generator().manual_seed(cfg.seed)

    def loss(self, batch):
        x = augment(batch["image"], self.generator)
        return F.cross_entropy(self.head(self.net(x), batch["label"]), batch["label"])


def train_identity_net(net: FaceIdentityNet, cfg: IdentityNetConfig | None = None) -> dict:
    """Train ``net`` in place on the training split's people; returns metrics (incl. held-out identification)."""
    from ..data.clips import ClipFrames, dataset_folder
    from .data import IdentityFrameDataset

    cfg = cfg or net.config
    seed_everything(cfg.seed)
    folder = dataset_folder(cfg)
    clips = ClipFrames(folder, "train")
    data = IdentityFrameDataset(clips, cfg.steps * cfg.batch_size, seed=cfg.seed)
    module = IdentityModule(net, len(clips.people), cfg)
    metrics = fit_for_steps(module, data, cfg.steps, cfg.batch_size)
    metrics["train_people"] = len(clips.people)
    try:
        metrics.update(held_out_identification(net, ClipFrames(folder, "val")))
    except ValueError:
        pass
    return metrics


@torch.no_grad()
def held_out_identification(net: nn.Module, clips, frames_per_clip: int = 10) -> dict:
    """Rank-1 identification among people the network never saw: each person's first clip is the gallery (mean
    embedding), frames of their other clips are the probes. Also the mean cosine of same / different people."""
    from .data import to_tensor

    net.eval()
    gallery, probes, probe_people = {}, [], []
    for person in clips.people:
        cs = clips.clips_of[person]
        if len(cs) < 2:
            continue
        for k, c in enumerate(cs):
            idx = torch.linspace(0, clips.n_frames[c] - 1, frames_per_clip).long()
            x = torch.stack([to_tensor(clips.frames(c)[int(i)]) for i in idx])
            e = net(x)
            if k == 0:
                gallery[person] = F.normalize(e.mean(0), dim=0)
            else:
                probes.append(e)
                probe_people += [person] * len(e)
    if len(gallery) < 2:
        raise ValueError("held-out identification needs at least two people with two clips each")
    people = list(gallery)
    g = torch.stack([gallery[p] for p in people])                  # (P, E)
    e = torch.cat(probes)                                          # (N, E)
    truth = torch.tensor([people.index(p) for p in probe_people])
    sims = e @ g.T
    same = sims.gather(1, truth[:, None]).mean()
    other = (sims.sum() - sims.gather(1, truth[:, None]).sum()) / (sims.numel() - len(truth))
    return dict(heldout_rank1=round(float((sims.argmax(1) == truth).float().mean()), 4),
                heldout_people=len(people), cos_same=round(float(same), 4), cos_other=round(float(other), 4))


def load_identity_net(profile: str | None = None, config: IdentityNetConfig | None = None, store=None
                      ) -> FaceIdentityNet:
    """Our identity network for a profile: from the artifact store, or trained now (~half a minute in tiny)."""
    from ..artifacts import ArtifactStore

    cfg = config or IdentityNetConfig.for_profile(profile)
    store = store or ArtifactStore()
    net = store.get_or_train("latent-identity", cfg, build=lambda: FaceIdentityNet(cfg),
                             train=lambda n: train_identity_net(n, cfg), expensive=cfg.profile != "tiny",
                             how_to_make=f"python -m vasa_lab.latent.train --profile {cfg.profile}")
    return net.requires_grad_(False).eval()


# ---------------------------------------------------------------------------------------------------------------
# a real ArcFace from a local file
# ---------------------------------------------------------------------------------------------------------------
class IBasicBlock(nn.Module):
    """IResNet's block: BN -> conv3x3 -> BN -> PReLU -> conv3x3 (stride) -> BN, plus the (downsampled) input."""

    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(c_in, eps=1e-5)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out, eps=1e-5)
        self.prelu = nn.PReLU(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, stride, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(c_out, eps=1e-5)
        self.downsample = None
        if stride != 1 or c_in != c_out:
            self.downsample = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False),
                                            nn.BatchNorm2d(c_out, eps=1e-5))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn3(self.conv2(self.prelu(self.bn2(self.conv1(self.bn1(x))))))
        return out + (x if self.downsample is None else self.downsample(x))


class IResNet(nn.Module):
    """ArcFace's backbone (Deng et al. 2019): 112x112 faces -> 512-d embeddings. ``layers`` (3, 4, 14, 3) is
    IResNet-50, (3, 13, 30, 3) IResNet-100."""

    def __init__(self, layers: tuple[int, ...] = (3, 4, 14, 3), embed_dim: int = 512):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(64, eps=1e-5)
        self.prelu = nn.PReLU(64)
        c_in = 64
        for i, (n, c) in enumerate(zip(layers, (64, 128, 256, 512))):
            blocks = [IBasicBlock(c_in, c, 2)] + [IBasicBlock(c, c, 1) for _ in range(n - 1)]
            setattr(self, f"layer{i + 1}", nn.Sequential(*blocks))
            c_in = c
        self.bn2 = nn.BatchNorm2d(512, eps=1e-5)
        self.dropout = nn.Dropout(0.0)
        self.fc = nn.Linear(512 * 7 * 7, embed_dim)
        self.features = nn.BatchNorm1d(embed_dim, eps=1e-5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.prelu(self.bn1(self.conv1(x)))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.features(self.fc(self.dropout(torch.flatten(self.bn2(x), 1))))


class ArcFaceIdentity(nn.Module):
    """A pretrained ArcFace from a local state dict, used like :class:`FaceIdentityNet`: frames (B, 3, H, W) in
    [0, 1] -> unit embeddings. The depth (IResNet-50/100/...) is read from the file's keys."""

    def __init__(self, path: str | Path):
        super().__init__()
        from ..artifacts import load_state_dict

        state = load_state_dict(path)
        layers = tuple(len({k.split(".")[1] for k in state if k.startswith(f"layer{i}.")}) for i in range(1, 5))
        if 0 in layers:
            raise ValueError(f"{path} does not look like an ArcFace IResNet state dict (no layer1..layer4 keys)")
        self.net = IResNet(layers, embed_dim=state["features.weight"].shape[0])
        self.net.load_state_dict(state)
        self.requires_grad_(False).eval()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        face = face_crop(x, 112) * 2 - 1          # ArcFace's input: 112 x 112, (x - 0.5) / 0.5
        return F.normalize(self.net(face), dim=1)


def identity_network(arcface_path: str = "", profile: str | None = None, store=None) -> tuple[nn.Module, str]:
    """The identity network for the cross-identity loss and the measurements, and which one it is."""
    if arcface_path:
        return ArcFaceIdentity(arcface_path), f"ArcFace from {Path(arcface_path).name}"
    return load_identity_net(profile, store=store), "ours (FaceIdentityNet trained on the synthetic people)"
