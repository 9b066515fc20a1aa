"""The landmark network: soft-argmax, shapes, a few training steps, the tracking backend, the artifact store.

Training uses a micro config (a few thousand parameters, a few dozen frames) so the file runs in seconds; the
backend's accuracy and confidence are measured on the shipped tiny weights (vasa_lab/weights/landmark_net/).
"""
from dataclasses import replace

import numpy as np
import pytest
import torch

from vasa_lab.tracking.landmark_net import (EVAL_TAG, N_POINTS, TRAIN_TAG, LandmarkNet, LandmarkNetConfig,
                                            NetBackend, gaussian_targets, identity_seeds, landmark_loss, landmark_nme,
                                            load_landmark_net, predict, render_examples, soft_argmax,
                                            train_landmark_net)
from vasa_lab.tracking.types import Detection

MICRO = LandmarkNetConfig(widths=(8, 16, 16), level_convs=1, n_train=32, steps=3, batch_size=8, eval_frames=8)


@pytest.fixture(scope="module")
def examples():
    """16 frames at 64 px of training identities with their 68 landmarks + 2 iris centres."""
    return render_examples(TRAIN_TAG, 16, 64)


@pytest.fixture(scope="module")
def micro_net():
    torch.manual_seed(0)
    return LandmarkNet(MICRO).eval()


@pytest.fixture(scope="module")
def shipped_net(tmp_path_factory):
    """The shipped tiny network (an empty cache: it must come from vasa_lab/weights/, never be trained here)."""
    from vasa_lab.artifacts import ArtifactStore

    store = ArtifactStore(tmp_path_factory.mktemp("empty-store"))
    config = LandmarkNetConfig.for_profile("tiny")
    assert store.find("landmark_net", config) is not None, "no shipped tiny landmark_net weights for this config"
    return load_landmark_net(config, store=store)


@pytest.fixture(scope="module")
def held_out():
    """8 frames at 64 px of identities the network never saw in training, with their 68 landmarks + 2 irises."""
    return render_examples(EVAL_TAG, 8, 64, frames_per_identity=1)


def test_soft_argmax_recovers_a_gaussian_peak():
    # logits = log of a Gaussian at a sub-pixel point: softmax gives back the (discretised) Gaussian, whose mean is
    # the point as long as the Gaussian is well inside the map
    h = w = 16
    stride = 4
    truth = torch.tensor([[[23.3, 31.7], [40.0, 28.25]]])                   # (1, 2, 2) pixels
    g = gaussian_targets(truth, h, w, stride=stride, sigma=1.2)             # (1, 2, 16, 16), sums to 1
    assert torch.allclose(g.sum(dim=(2, 3)), torch.ones(1, 2))
    points, log_p = soft_argmax(torch.log(g), stride=stride, beta=1.0)
    assert points.shape == (1, 2, 2) and log_p.shape == (1, 2, h, w)
    assert torch.allclose(log_p.exp(), g, atol=1e-6)
    assert torch.allclose(points, truth, atol=1e-3)
    # a sharper softmax (beta > 1) moves towards the arg max cell but keeps a symmetric peak in place
    centred = gaussian_targets(torch.tensor([[[25.5, 25.5]]]), h, w, stride=stride, sigma=1.0)
    sharp, _ = soft_argmax(torch.log(centred), stride=stride, beta=4.0)
    assert torch.allclose(sharp, torch.tensor([[[25.5, 25.5]]]), atol=1e-3)


def test_network_shapes(micro_net):
    x = torch.rand(2, 3, 64, 64)
    points, log_p = micro_net(x)
    c = micro_net.config
    assert points.shape == (2, N_POINTS, 2)
    assert log_p.shape == (2, N_POINTS, 64 // c.stride, 64 // c.stride)
    assert torch.allclose(log_p.exp().sum(dim=(2, 3)), torch.ones(2, N_POINTS), atol=1e-5)
    # in eval mode each image is processed on its own: the batch does not leak into the answer (it would with
    # batch norm left in training mode, or a reshape that mixes the batch and point axes)
    alone, _ = micro_net(x[1:])
    assert torch.allclose(points[1:], alone, atol=1e-5)
    other, _ = micro_net(torch.cat([x[1:], torch.rand(1, 3, 64, 64)]))
    assert torch.allclose(other[:1], alone, atol=1e-5)


def test_bad_configs_are_refused():
    with pytest.raises(ValueError, match="divisible"):
        LandmarkNet(LandmarkNetConfig(image_size=60))
    with pytest.raises(ValueError, match="stride"):
        LandmarkNet(LandmarkNetConfig(stride=3))
    with pytest.raises(ValueError, match="at least 1"):
        render_examples(TRAIN_TAG, 0, 64)


def test_training_and_evaluation_identities_differ():
    train = set(identity_seeds(TRAIN_TAG, 500).tolist())
    held_out = set(identity_seeds("landmark-net-eval", 500).tolist())
    assert not train & held_out
    assert np.array_equal(identity_seeds(TRAIN_TAG, 5), identity_seeds(TRAIN_TAG, 5))   # deterministic


def test_landmark_loss_known_values(examples):
    # every point 1 px right of the truth: the L1 is (1 + 0) / 2 per coordinate, the gaps between facing points
    # are untouched, and heatmaps equal to their Gaussian targets cost exactly the targets' entropy
    _, points = examples
    target = torch.from_numpy(points[:2])
    config = replace(MICRO, image_size=128, gap_weight=2.0, heatmap_weight=0.5)        # unit s = 128 / 64 = 2
    h = w = config.heatmap_size
    g = gaussian_targets(target, h, w, config.stride, config.heatmap_sigma)
    entropy = -(g * g.clamp_min(1e-30).log()).sum(dim=(2, 3)).mean()
    loss, parts = landmark_loss(target + torch.tensor([1.0, 0.0]), g.clamp_min(1e-30).log(), target, config)
    assert float(parts["coord_l1"]) == pytest.approx(0.5 / 2)
    assert float(parts["gap_l1"]) == pytest.approx(0.0, abs=1e-6)
    assert float(parts["heatmap_ce"]) == pytest.approx(float(entropy), rel=1e-5)
    assert float(loss) == pytest.approx(0.25 + 0.5 * float(entropy), rel=1e-5)
    # opening every eye and the mouth by 1 px (the lower point of each gap pair moves down) is a gap error
    moved = target.clone()
    moved[:, [41, 40, 47, 46, 67, 66, 65], 1] += 1.0
    _, parts = landmark_loss(moved, g.clamp_min(1e-30).log(), target, config)
    assert float(parts["gap_l1"]) == pytest.approx(0.5 / 2)


def test_train_landmark_net_lowers_the_loss_and_is_deterministic():
    """The project's training function on 32 frames for 40 steps (about a second each run).

    One torch thread: on a loaded 2-core machine two threads made each run 10-40 times slower."""
    config = replace(MICRO, n_train=32, steps=40, batch_size=16, lr=1e-2, eval_frames=0)
    torch.manual_seed(config.seed)
    init = {k: v.clone() for k, v in LandmarkNet(config).named_parameters()}   # what training starts from
    threads = torch.get_num_threads()
    try:
        net = train_landmark_net(config, threads=1)
        again = train_landmark_net(config, threads=1)
        other = train_landmark_net(replace(config, seed=1), threads=1)
    finally:
        torch.set_num_threads(threads)
    losses = net.history
    assert len(losses) == config.steps and not net.training
    assert np.mean(losses[-5:]) < 0.85 * np.mean(losses[:3]), losses      # measured 0.68
    assert "nme" not in net.metrics                                        # eval_frames=0: no evaluation
    for name, p in net.named_parameters():
        assert not torch.equal(p, init[name]), f"{name} did not change"
    # the same config gives the same weights and losses; another seed does not
    assert again.history == losses
    for (name, a), b in zip(net.state_dict().items(), again.state_dict().values()):
        assert torch.equal(a, b), name
    assert not torch.equal(other.head.weight, net.head.weight)


def _iou(a, b):
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    area = lambda r: (r[2] - r[0]) * (r[3] - r[1])
    return w * h / (area(a) + area(b) - w * h)


def test_shipped_backend_finds_held_out_faces(shipped_net, held_out):
    """On people it never saw: landmarks within NME 0.06 (measured 0.017-0.043), irises within ~1 px, and a box
    that matches the true landmarks' box (padded by 10% like the backend's)."""
    images, truth = held_out
    backend = NetBackend(shipped_net)
    batch = backend.detect_batch(images)
    assert len(batch) == len(images) and all(len(b) == 1 and isinstance(b[0], Detection) for b in batch)
    dets = [b[0] for b in batch]
    lm = np.stack([d.landmarks for d in dets])
    nme = landmark_nme(lm, truth[:, :68])
    assert nme.mean() < 0.04 and nme.max() < 0.06, nme
    iris_err = np.linalg.norm(np.stack([d.iris for d in dets]) - truth[:, 68:], axis=-1)
    assert iris_err.mean() < 1.2, iris_err
    for d, t in zip(dets, truth[:, :68]):
        lo, hi = t.min(axis=0), t.max(axis=0)
        pad = 0.1 * (hi - lo)
        true_box = np.r_[np.maximum(lo - pad, 0), np.minimum(hi + pad, 63)]
        assert _iou(d.box, true_box) > 0.8, (d.box, true_box)
    # one frame at a time gives the same answer as the batch
    [single] = backend.detect(images[3])
    assert np.allclose(single.landmarks, dets[3].landmarks, atol=1e-4) and single.score == pytest.approx(dets[3].score)


def test_shipped_backend_score_separates_faces_from_non_faces(shipped_net, held_out):
    """The confidence is the heatmaps' peakiness: about 0.65-0.8 on a face, 0.15-0.27 on noise or a flat grey
    frame (measured), so a threshold in between tells them apart."""
    faces = predict(shipped_net, held_out[0])[1]
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 256, (4, 64, 64, 3), dtype=np.uint8)
    flat = np.full((2, 64, 64, 3), 128, np.uint8)
    non_faces = np.concatenate([predict(shipped_net, noise)[1], predict(shipped_net, flat)[1]])
    assert faces.min() > 0.55, faces
    assert non_faces.max() < 0.4, non_faces
    # an untrained network is unsure everywhere: the score measures the training, not the architecture
    torch.manual_seed(0)
    untrained = LandmarkNet(shipped_net.config).eval()
    assert predict(untrained, held_out[0])[1].max() < 0.1


def test_frames_of_another_size_map_back(micro_net, examples):
    # a frame upsampled x2 by pixel repetition shrinks back exactly (INTER_AREA), so the points must be the 64 px
    # points mapped to the bigger frame: x_128 = (x_64 + 0.5) * 2 - 0.5
    small = examples[0][:2]
    big = small.repeat(2, axis=1).repeat(2, axis=2)
    p_small, s_small = predict(micro_net, small)
    p_big, s_big = predict(micro_net, big)
    assert np.allclose(p_big, (p_small + 0.5) * 2 - 0.5, atol=1e-3)
    assert np.allclose(s_big, s_small, atol=1e-5)


def test_bad_input_is_a_clear_error(micro_net):
    backend = NetBackend(micro_net)
    with pytest.raises(ValueError, match="uint8"):
        backend.detect(np.zeros((64, 64, 3), np.float32))
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        backend.detect(np.zeros((64, 64), np.uint8))
    with pytest.raises(ValueError, match="at least"):
        backend.detect_batch(np.zeros((1, 4, 4, 3), np.uint8))
    assert backend.detect_batch(np.zeros((0, 64, 64, 3), np.uint8)) == []


def test_nme_is_zero_for_the_truth_and_scales_with_the_error(examples):
    _, points = examples
    lm = points[:, :68]
    assert np.allclose(landmark_nme(lm, lm), 0.0)
    iod = np.linalg.norm(lm[:, 36] - lm[:, 45], axis=-1)
    shifted = lm + np.array([3.0, 4.0])                     # every point 5 px off
    assert np.allclose(landmark_nme(shifted, lm), 5.0 / iod, rtol=1e-5)


def test_store_trains_once_then_loads(tmp_path):
    from vasa_lab.artifacts import ArtifactStore

    store = ArtifactStore(tmp_path, packaged=None)
    first = load_landmark_net(MICRO, store=store)
    assert store.has("landmark_net", MICRO)
    assert "nme" in store.meta("landmark_net", MICRO)["metrics"]
    second = load_landmark_net(MICRO, store=store)
    for (k, a), (_, b) in zip(first.state_dict().items(), second.state_dict().items()):
        assert torch.equal(a, b), k
