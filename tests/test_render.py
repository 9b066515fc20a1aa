"""The synthetic face renderer: shapes, determinism, and that the pixels and landmarks agree with the FaceState."""
from __future__ import annotations

import itertools
import json

import numpy as np
import pytest

from vasa_lab.geometry import CAMERA, N_LANDMARKS, canonical_landmarks_3d, project, rotation_matrix
from vasa_lab.world.face import landmarks_2d, neutral_mean_landmarks_3d
from vasa_lab.world.person import Identity, sample_identity
from vasa_lab.world.render import iris_centres, render_frame, render_frames
from vasa_lab.world.state import STATE_NAMES, FaceState

IDN = sample_identity(3)


def lm_of(state, size=256, idn=IDN):
    return render_frame(idn, state, size)[1]


@pytest.mark.parametrize("size", [64, 256])
def test_shapes_and_dtypes(size):
    img, lm = render_frame(IDN, FaceState(), size)
    assert img.shape == (size, size, 3) and img.dtype == np.uint8
    assert lm.shape == (N_LANDMARKS, 2) and lm.dtype == np.float32
    frames, marks = render_frames(IDN, np.zeros((3, len(STATE_NAMES)), np.float32) + FaceState().to_array(), size)
    assert frames.shape == (3, size, size, 3) and frames.dtype == np.uint8
    assert marks.shape == (3, N_LANDMARKS, 2) and marks.dtype == np.float32
    np.testing.assert_array_equal(frames[0], img)


def test_render_frames_accepts_a_list_of_states():
    states = [FaceState(), FaceState(jaw_open=0.5), FaceState(yaw=10)]
    frames, marks = render_frames(IDN, states, 64)
    assert frames.shape == (3, 64, 64, 3)
    np.testing.assert_array_equal(frames[1], render_frame(IDN, states[1], 64)[0])


def test_deterministic():
    st = FaceState(yaw=12, pitch=-7, roll=5, jaw_open=0.4, blink=0.3, gaze_yaw=10, smile=0.5)
    a, la = render_frame(sample_identity(11), st, 128)
    b, lb = render_frame(sample_identity(11), st, 128)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(la, lb)


def test_bad_state_shape_is_an_error():
    with pytest.raises(ValueError, match="17"):
        render_frame(IDN, np.zeros(5), 64)
    with pytest.raises(ValueError, match="shape"):
        render_frames(IDN, np.zeros((4, 3)), 64)


# --- landmarks stay in the frame over the documented ranges ---------------------------------------------------
def _extreme_states():
    for yaw, pitch, roll in itertools.product([-35, 0, 35], [-25, 0, 25], [-25, 0, 25]):
        yield FaceState(yaw=yaw, pitch=pitch, roll=roll)                     # all rotations at once, scale 1
    for tx, ty in itertools.product([-0.3, 0.3], [-0.3, 0.3]):
        yield FaceState(tx=tx, ty=ty, scale=1.25)                            # translation corners, scale 1.25
    for name, value in [("yaw", -35), ("yaw", 35), ("pitch", -25), ("pitch", 25), ("roll", -25), ("roll", 25)]:
        yield FaceState(scale=1.25, **{name: value})                         # each rotation alone at scale 1.25
    yield FaceState(yaw=35, pitch=25, roll=25, tx=0.3, ty=0.3, jaw_open=0.5)   # everything at once, scale 1


@pytest.mark.parametrize("seed", [0, 1, 2, 5, 9])
def test_landmarks_inside_frame_at_pose_extremes(seed):
    idn = sample_identity(seed)
    for st in _extreme_states():
        lm = landmarks_2d(idn, st, 64)
        assert lm.min() >= 0 and lm.max() <= 63, st


def test_returned_landmarks_are_the_projected_model_landmarks():
    st = FaceState(yaw=20, pitch=-10, roll=8, jaw_open=0.6, smile=0.4)
    np.testing.assert_allclose(lm_of(st, 128), landmarks_2d(IDN, st, 128), atol=1e-3)
    # and they scale with the image size (same geometry, finer pixels)
    np.testing.assert_allclose((lm_of(st, 256) + 0.5) / 256, (lm_of(st, 64) + 0.5) / 64, atol=1e-4)


# --- pose conventions (state.py) ------------------------------------------------------------------------------
def _nose_offset(st):
    lm = lm_of(st)
    return lm[30] - lm.mean(axis=0)


def test_positive_yaw_moves_the_nose_right():
    base = _nose_offset(FaceState())[0]
    assert _nose_offset(FaceState(yaw=20))[0] > base + 5
    assert _nose_offset(FaceState(yaw=-20))[0] < base - 5
    assert _nose_offset(FaceState(yaw=20))[0] > 0 > _nose_offset(FaceState(yaw=-20))[0]


def test_positive_pitch_moves_the_nose_down():
    base = _nose_offset(FaceState())[1]
    assert _nose_offset(FaceState(pitch=15))[1] > base + 3
    assert _nose_offset(FaceState(pitch=-15))[1] < base - 3


@pytest.mark.parametrize("roll", [-20, -8, 8, 20])
def test_roll_rotates_the_eye_line_clockwise(roll):
    lm = lm_of(FaceState(roll=roll))
    d = lm[45] - lm[36]
    angle = np.degrees(np.arctan2(d[1], d[0]))       # image y points down: positive = clockwise
    assert abs(angle - roll) < 2.0


def test_scale_grows_the_face():
    iod = lambda st: np.linalg.norm(lm_of(st)[45] - lm_of(st)[36])
    ratio = iod(FaceState(scale=1.2)) / iod(FaceState())
    assert 1.15 < ratio < 1.28


def test_translation_moves_the_face():
    a, b = lm_of(FaceState()), lm_of(FaceState(tx=0.2, ty=-0.1))
    shift = (b - a).mean(axis=0)
    assert shift[0] > 3 and shift[1] < -1.5


def test_rotation_matrix_convention():
    r = rotation_matrix(30, 20, 10)
    np.testing.assert_allclose(r @ r.T, np.eye(3), atol=1e-12)
    assert np.isclose(np.linalg.det(r), 1.0)
    nose = np.array([0.0, 0.0, -1.0])
    assert (rotation_matrix(20, 0, 0) @ nose)[0] > 0        # yaw: nose right
    assert (rotation_matrix(0, 20, 0) @ nose)[1] > 0        # pitch: nose down
    assert (rotation_matrix(0, 0, 20) @ np.array([1.0, 0, 0]))[1] > 0   # roll: +x turns towards +y (clockwise)
    np.testing.assert_allclose(rotation_matrix(30, 20, 10),
                               rotation_matrix(0, 0, 10) @ rotation_matrix(0, 20, 0) @ rotation_matrix(30, 0, 0))


# --- expressions ----------------------------------------------------------------------------------------------
def test_jaw_open_parts_the_inner_lips_and_drops_the_chin():
    closed, open_ = lm_of(FaceState()), lm_of(FaceState(jaw_open=1.0))
    assert closed[66, 1] - closed[62, 1] < 0.5
    assert open_[66, 1] - open_[62, 1] > 10
    assert open_[8, 1] > closed[8, 1] + 10


def test_blink_closes_the_eyes():
    lid = lambda lm: (lm[41, 1] - lm[37, 1] + lm[46, 1] - lm[44, 1]) / 2
    assert lid(lm_of(FaceState())) > 4
    assert lid(lm_of(FaceState(blink=1.0))) < 0.5
    assert lid(lm_of(FaceState(eye_wide=1.0))) > lid(lm_of(FaceState()))


def test_gaze_moves_the_irises():
    base = iris_centres(IDN, FaceState(), 256)
    right = iris_centres(IDN, FaceState(gaze_yaw=25), 256)
    down = iris_centres(IDN, FaceState(gaze_pitch=20), 256)
    assert base.shape == (2, 2)
    assert np.all(right[:, 0] > base[:, 0] + 3)
    assert np.all(down[:, 1] > base[:, 1] + 2)
    # the irises sit inside the eyes
    lm = lm_of(FaceState())
    for centre, eye in zip(base, (lm[36:42], lm[42:48])):
        assert eye[:, 0].min() < centre[0] < eye[:, 0].max()


def test_smile_lifts_the_mouth_corners_and_brow_raise_lifts_the_brows():
    base, smile = lm_of(FaceState()), lm_of(FaceState(smile=1.0))
    corners = lambda lm: (lm[48, 1] + lm[54, 1]) / 2 - lm[51, 1]
    assert corners(smile) < corners(base) - 2
    raised = lm_of(FaceState(brow_raise=1.0))
    assert np.all(raised[17:27, 1] < base[17:27, 1] - 2)


def test_expressions_change_the_pixels():
    base = render_frame(IDN, FaceState(), 64)[0].astype(int)
    for change in [dict(jaw_open=1.0), dict(blink=1.0), dict(smile=1.0), dict(gaze_yaw=25), dict(yaw=20)]:
        img = render_frame(IDN, FaceState(**change), 64)[0].astype(int)
        assert np.abs(img - base).sum() > 500, change


# --- identities -----------------------------------------------------------------------------------------------
def test_identities_differ():
    idns = [sample_identity(s) for s in range(20)]
    assert len(set(idns)) == 20
    imgs = np.stack([render_frame(i, FaceState(), 64)[0] for i in idns]).astype(np.float32)
    diff = np.abs(imgs[:, None] - imgs[None]).mean(axis=(2, 3, 4))
    off_diagonal = diff[~np.eye(20, dtype=bool)]
    assert off_diagonal.min() > 3.0


def test_sample_identity_is_deterministic_and_round_trips_through_json():
    a = sample_identity(1234)
    assert a == sample_identity(1234) and a != sample_identity(1235)
    d = json.loads(json.dumps(a.to_dict()))
    assert Identity.from_dict(d) == a
    with pytest.raises(ValueError, match="unknown"):
        Identity.from_dict({**d, "wings": 2})
    with pytest.raises(ValueError, match="hair_style"):
        Identity(hair_style="mohawk")


def test_canonical_landmarks():
    lm = canonical_landmarks_3d()
    # the shared geometry's table is what the world's face model computes for its mean person, to the last bits a
    # float64 keeps, not bit for bit: CI once saw 4 of 204 numbers one unit in the last place apart (8.7e-19; the
    # last bit is not promised across CPUs and processes, e.g. by numpy's vectorised sin/cos)
    np.testing.assert_allclose(lm, neutral_mean_landmarks_3d(), rtol=1e-14, atol=1e-15)
    mirror = [16 - i for i in range(17)] + [26 - i for i in range(10)] + list(range(27, 31)) + \
        [35 - i for i in range(5)] + [45, 44, 43, 42, 47, 46, 39, 38, 37, 36, 41, 40] + \
        [54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55, 64, 63, 62, 61, 60, 67, 66, 65]
    np.testing.assert_allclose(lm[mirror] * [-1, 1, 1], lm, atol=1e-9)   # left-right symmetric, iBUG order
    assert lm[30, 2] < lm[27, 2] < lm[0, 2]        # the nose tip is nearest the camera
    assert lm[8, 1] > lm[57, 1] > lm[33, 1] > lm[27, 1] > lm[19, 1]   # chin, lip, nose, bridge, brow: top to bottom
    # projected with the default camera, the face is about half the image tall and centred
    px = project(lm, FaceState(), 1000, CAMERA)
    assert 0.4 < (px[8, 1] - px[17:27, 1].min()) / 1000 < 0.6
    assert abs(px[:, 0].mean() - 499.5) < 1


def test_render_faces_returns_each_frame_with_its_truth():
    """The one helper every network that trains on world renders uses: each image with its own landmarks, irises
    and state, the same as rendering the frames one by one; a length mismatch is one clear error."""
    from vasa_lab.world.samples import random_state, render_faces, tagged_rng

    rng = tagged_rng("test-render-faces")
    people = [sample_identity(s) for s in (3, 4, 5)]
    states = [random_state(rng) for _ in people]
    faces = render_faces(people, states, 48)
    assert faces["images"].shape == (3, 48, 48, 3) and faces["images"].dtype == np.uint8
    for i, (person, state) in enumerate(zip(people, states)):
        image, marks, extras = render_frame(person, state, 48, return_extras=True)
        np.testing.assert_array_equal(faces["images"][i], image)
        np.testing.assert_array_equal(faces["landmarks"][i], marks)
        np.testing.assert_array_equal(faces["iris"][i], extras["iris_centres"])
        np.testing.assert_array_equal(faces["states"][i], state.to_array())
    assert not np.array_equal(faces["images"][0], faces["images"][1])
    with pytest.raises(ValueError, match="one state per person"):
        render_faces(people, states[:2], 48)
