"""Which split a clip is in: by **identity**, never by clip or frame.

A person seen in training never appears in validation or test, so a score on the held-out split says how well a model
does on *new faces*, which is what VASA-1 is for. An identity's split is a pure function of (identity, split seed), so
it does not change when the dataset grows. Every stage that splits clips (the DataModules, the motion codes, the
prepared shards) asks this module, which needs neither torch nor Lightning.
"""
from __future__ import annotations

import numpy as np

SPLITS = ("train", "val", "test")


def identity_split(identity: int, val_fraction: float = 0.1, test_fraction: float = 0.1, seed: int = 0) -> str:
    """Which split a person belongs to: a uniform draw u seeded by (seed, identity); test if u < test_fraction,
    val if u < test_fraction + val_fraction, else train."""
    u = np.random.default_rng([seed, int(identity), 7]).random()
    if u < test_fraction:
        return "test"
    return "val" if u < test_fraction + val_fraction else "train"


def split_entries(entries: list[dict], split: str, val_fraction: float = 0.1, test_fraction: float = 0.1,
                  seed: int = 0) -> list[dict]:
    """The index entries of one split. With very few identities the draw could leave a split empty; then the
    identities are dealt out in order instead (last for test, the one before for val), still by identity."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
    ids = sorted({e["identity"] for e in entries})
    assign = {i: identity_split(i, val_fraction, test_fraction, seed) for i in ids}
    if len(ids) >= 3 and len(set(assign.values())) < 3:
        assign = {i: "train" for i in ids}
        assign[ids[-1]] = "test"
        assign[ids[-2]] = "val"
    return [e for e in entries if assign[e["identity"]] == split]
