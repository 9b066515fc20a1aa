"""The landmark network: soft-argmax, shapes, a few training steps, the tracking backend, the artifact store.

Everything here uses a micro config (a few thousand parameters, a few dozen frames) so the file runs in seconds;
the real tiny model is measured by its training run, not here.
"""
from dataclasses import replace

import numpy as np
import pytest
import torch

from vasa_lab.tracking.landmark_net import (N_POINTS, TRAIN_TAG, LandmarkNet, LandmarkNetConfig,
                                            LandmarkNetModule, NetBackend, gaussian_targets, identity_seeds,
                                            landmark_loss, landmark_nme, load_landmark_net, predict,
                                            render_examples, soft_argmax)
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
    assert points.min() >= 0 and points.max() <= 63


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


def test_a_few_training_steps_lower_the_loss(examples):
    import lightning as L

    from vasa_lab.repro import trainer_kwargs

    images, points = examples
    config = replace(MICRO, steps=30, lr=1e-2, augment=False)
    torch.manual_seed(0)
    module = LandmarkNetModule(config)
    data = torch.utils.data.TensorDataset(torch.from_numpy(images), torch.from_numpy(points))
    loader = torch.utils.data.DataLoader(data, batch_size=16)
    L.Trainer(**trainer_kwargs(max_steps=config.steps, accelerator="cpu", enable_progress_bar=False)).fit(module, loader)
    losses = module.history
    assert len(losses) == 30
    assert np.mean(losses[-5:]) < 0.7 * np.mean(losses[:3])
    pred, log_p = module.net.eval()(torch.from_numpy(images[:2]).permute(0, 3, 1, 2).float() / 255)
    _, parts = landmark_loss(pred, log_p, torch.from_numpy(points[:2]), config)
    assert set(parts) == {"coord_l1", "gap_l1", "heatmap_ce"}


def test_backend_returns_one_detection_inside_the_image(micro_net, examples):
    images, _ = examples
    backend = NetBackend(micro_net)
    dets = backend.detect(images[0])
    assert len(dets) == 1 and isinstance(dets[0], Detection)
    d = dets[0]
    assert d.landmarks.shape == (68, 2) and d.iris.shape == (2, 2) and d.box.shape == (4,)
    assert 0.0 <= d.score <= 1.0
    assert (d.landmarks >= -0.5).all() and (d.landmarks <= 63.5).all()
    x0, y0, x1, y1 = d.box
    assert 0 <= x0 < x1 <= 63 and 0 <= y0 < y1 <= 63
    batch = backend.detect_batch(images[:3])
    assert len(batch) == 3 and all(len(b) == 1 for b in batch)
    assert np.allclose(batch[0][0].landmarks, d.landmarks, atol=1e-4)


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
