"""Your own photo at its own resolution (vasa_lab.pipeline.photo): the animated face pasted back into the whole picture."""
from __future__ import annotations

import zlib

import cv2
import numpy as np
import pytest
import torch

from vasa_lab.pipeline.animate import Animator, align_portrait, read_portrait
from vasa_lab.media import read_video
from vasa_lab.pipeline.photo import PhotoCompositor, even_frame, feather_mask


def identity_flow(batch: int, size: int) -> torch.Tensor:
    """A flow that reads every pixel from where it is: (B, size, size, 2) in grid_sample units."""
    axis = (torch.arange(size, dtype=torch.float32) * 2 + 1) / size - 1
    y, x = torch.meshgrid(axis, axis, indexing="ij")
    return torch.stack([x, y], -1)[None].expand(batch, -1, -1, -1)


def photo(h: int = 300, w: int = 400, seed: int = 0) -> np.ndarray:
    """A textured picture (colour ramps and a fine sine pattern, smooth enough that resampling it twice costs only
    a few grey levels): a misplaced pixel shows."""
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.stack([xx * 255 / w, yy * 255 / h, 128 + 60 * np.sin(xx / 7.0 + seed) * np.cos(yy / 5.0)], -1)
    return np.clip(img, 0, 255).astype(np.uint8)


def test_feather_mask_is_one_inside_zero_at_the_edges_and_symmetric():
    m = feather_mask(100)
    assert m[50, 50] == 1.0 and m[0, 50] < 0.05 and m[0, 0] < 0.01
    assert np.allclose(m, m.T) and np.allclose(m, m[::-1])
    assert np.all(np.diff(m[50, :50]) >= 0)          # rises monotonically towards the middle


def test_copying_along_an_identity_flow_gives_the_photo_back():
    img = photo()
    comp = PhotoCompositor.for_portrait(img, np.array([120.0, 60.0, 280.0, 220.0]))
    crops = comp.draw_crops(torch.zeros(2, 3, 64, 64), identity_flow(2, 64), torch.zeros(2, 3, 64, 64))
    frames = comp.paste(crops)
    assert frames.shape == (2, 300, 400, 3)
    err = np.abs(frames.astype(int) - img.astype(int))
    assert err.max() <= 3, err.max()                 # resampling twice costs at most a few levels
    outside = comp.mask[..., 0] == 0
    assert outside.mean() > 0.7 and np.array_equal(frames[0][outside], img[outside])


def test_a_face_at_the_border_neither_wraps_nor_smears():
    img = photo()
    box = np.array([-60.0, -40.0, 100.0, 120.0])     # the crop box leaves the photo on two sides
    comp = PhotoCompositor.for_portrait(img, box)
    frames = comp.paste(comp.draw_crops(torch.zeros(1, 3, 64, 64), identity_flow(1, 64), torch.zeros(1, 3, 64, 64)))
    err = np.abs(frames[0].astype(int) - img.astype(int))
    assert err.max() <= 3                            # the border rows and columns are the photo's own
    assert np.array_equal(frames[0][:, 150:], img[:, 150:])   # the far side untouched (no wrap-around)
    # a face that moves: the drawn crop is shifted; the padding it reads must never reach the photo's border pixels
    shifted = identity_flow(1, 64) + torch.tensor([0.3, 0.2])
    moved = comp.paste(comp.draw_crops(torch.zeros(1, 3, 64, 64), shifted, torch.zeros(1, 3, 64, 64)))[0]
    assert np.array_equal(moved[:, 150:], img[:, 150:])
    assert np.isfinite(moved).all()


def test_a_large_photo_is_capped_and_frames_have_even_sides():
    frame, factor = even_frame(np.zeros((3001, 2001, 3), np.uint8), max_side=1024)
    assert max(frame.shape[:2]) <= 1024 and frame.shape[0] % 2 == 0 and frame.shape[1] % 2 == 0
    assert factor == pytest.approx(1024 / 3001)
    frame, factor = even_frame(np.zeros((301, 201, 3), np.uint8))
    assert frame.shape[:2] == (300, 200) and factor == 1.0


def test_a_huge_image_header_is_refused_before_decoding(tmp_path):
    from PIL import Image

    path = tmp_path / "huge.png"
    Image.new("L", (1, 1)).save(path)
    data = bytearray(path.read_bytes())       # patch the IHDR width/height to 20000 x 20000 (no pixels behind it)
    data[16:24] = (20000).to_bytes(4, "big") + (20000).to_bytes(4, "big")
    data[29:33] = zlib.crc32(bytes(data[12:29])).to_bytes(4, "big")     # the chunk's CRC, made valid again
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="megapixels"):
        read_portrait(path)


# ---------------------------------------------------------------------------------------------------------------
# the whole job on real photos (the tiny profile's shipped weights)
# ---------------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def animator():
    torch.manual_seed(0)
    return Animator("tiny", device="cpu")


@pytest.fixture(scope="module")
def hopper():
    import matplotlib.cbook as cbook
    from PIL import Image

    with Image.open(cbook.get_sample_data("grace_hopper.jpg")) as im:
        return np.asarray(im.convert("RGB"))


@pytest.fixture(scope="module")
def sentence():
    from vasa_lab.pipeline.animate import demo_speech

    return demo_speech()[: 16_000 * 2]


def sharpness(image: np.ndarray) -> float:
    """Variance of the Laplacian of the grey image: higher = more fine detail."""
    return float(cv2.Laplacian(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY), cv2.CV_64F).var())


def test_a_photo_comes_back_at_its_own_size_sharper_with_the_outside_untouched(tmp_path, animator, hopper, sentence):
    result = animator.animate(hopper, sentence, tmp_path / "hopper.mp4", progress=False)
    frames, _ = read_video(result.path)
    assert frames.shape[1:] == (600, 512, 3)
    comp = PhotoCompositor.for_portrait(hopper, result.portrait.box)
    outside = comp.mask[..., 0] == 0
    # H.264 (crf 18) changes pixels a little everywhere; outside the face they must match the photo as well as a
    # still frame of the photo itself survives the same encoding
    err_outside = np.abs(frames[:, outside].astype(int) - hopper[outside].astype(int)).mean()
    assert err_outside < 2.5, err_outside
    x0, y0, x1, y1 = np.round(result.portrait.box).astype(int)
    face = frames[:, max(y0, 0):y1, max(x0, 0):x1]
    assert np.abs(np.diff(face.astype(float), axis=0)).mean() > 0.3          # the face moves
    crop_path = animator.animate(hopper, sentence, tmp_path / "crop.mp4", progress=False, frame="crop")
    small, _ = read_video(crop_path.path)
    upscaled = cv2.resize(small[10], (face.shape[2], face.shape[1]), interpolation=cv2.INTER_CUBIC)
    assert sharpness(face[10]) > 2 * sharpness(upscaled)


@pytest.mark.parametrize("kind", ["gray", "rgba", "tilted"])
def test_grayscale_rgba_and_tilted_photos_at_full_resolution(tmp_path, animator, hopper, sentence, kind):
    if kind == "gray":
        img = cv2.cvtColor(hopper, cv2.COLOR_RGB2GRAY)
    elif kind == "rgba":
        img = np.concatenate([hopper, np.full(hopper.shape[:2] + (1,), 255, np.uint8)], -1)
    else:                                          # the whole photo turned by 30 degrees
        h, w = hopper.shape[:2]
        img = cv2.warpAffine(hopper, cv2.getRotationMatrix2D((w / 2, h / 2), 30, 1.0), (w, h),
                             borderMode=cv2.BORDER_REFLECT)
    result = animator.animate(img, sentence[:16_000], tmp_path / f"{kind}.mp4", progress=False)
    frames, _ = read_video(result.path)
    assert frames.shape[1:] == (600, 512, 3) and result.n_frames == 25


def test_with_two_faces_the_larger_one_is_animated_and_we_say_so(hopper):
    small = cv2.resize(hopper, (256, 300), interpolation=cv2.INTER_AREA)
    canvas = np.full((600, 512 + 256, 3), 90, np.uint8)
    canvas[:, :512] = hopper
    canvas[150:450, 512:] = small
    portrait = align_portrait(canvas, 64)
    assert portrait.faces == 2
    centre_x = 0.5 * (portrait.box[0] + portrait.box[2])
    assert centre_x < 512                           # the big face on the left


# ---------------------------------------------------------------------------------------------------------------
# the portrait's own expression, read by the tracker (vasa_lab.pipeline.source_expression)
# ---------------------------------------------------------------------------------------------------------------
def test_the_tracked_expression_reads_a_world_face_at_rest_with_its_jaw_open_and_its_eyes_shut(animator):
    from vasa_lab.pipeline.source_expression import TrackedExpression
    from vasa_lab.world.clip import person
    from vasa_lab.world.render import render_frame
    from vasa_lab.world.state import FaceState

    expr = animator.tracked_expression()
    assert isinstance(expr, TrackedExpression) and animator.tracked_expression() is expr      # calibrated once
    assert expr.mouth_jaw > expr.mouth_rest + 0.05 and expr.eyes_shut < expr.eyes_rest - 0.1
    who = person(0, 1050).identity                               # not a calibration face (1100 ..)
    def shares(**state):
        image, _ = render_frame(who, FaceState(**state), 256)
        return expr.shares(animator.tracker.detect(image)[0].landmarks)
    jaw, lid = shares()
    assert jaw < 0.25 and lid < 0.25                              # at rest
    jaw, lid = shares(jaw_open=0.6)
    assert 0.6 < jaw < 1.4 and lid < 0.25                         # the calibration's opening
    jaw, lid = shares(blink=1.0)
    assert jaw < 0.25 and lid > 0.7
    rest_landmarks = animator.tracker.detect(render_frame(who, FaceState(), 256)[0])[0].landmarks
    wide = rest_landmarks.copy()
    wide[62:65, 1] -= 40                                          # an absurdly open mouth is clipped
    assert expr.shares(wide)[0] == pytest.approx(1.5)
    assert expr.shares(np.full((68, 2), np.nan)) is None and expr.code(np.full((68, 2), np.nan)) is None
    shut_landmarks = animator.tracker.detect(render_frame(who, FaceState(blink=1.0), 256)[0])[0].landmarks
    # a shut-eyed face's code sits nearer the shut code than a face at rest does
    assert (torch.norm(expr.code(shut_landmarks) - expr.shut) < torch.norm(expr.code(rest_landmarks) - expr.shut))


def test_a_source_code_changes_the_appearance_and_a_wrong_one_is_refused(animator, hopper):
    from vasa_lab.latent.api import encode_appearance

    portrait = animator.portrait(hopper)
    latent = animator.latent
    own = encode_appearance(latent, portrait.crop)
    rest = encode_appearance(latent, portrait.crop, source_dyn=animator.tracked_expression().rest)
    assert torch.equal(own.image, rest.image) and not torch.allclose(own.volume, rest.volume)
    dyn = latent.config.dyn_dim
    with pytest.raises(ValueError, match=f"source_dyn must be \\(1, {dyn}\\)"):
        encode_appearance(latent, portrait.crop, source_dyn=torch.zeros(1, dyn + 1))
    with pytest.raises(ValueError, match="for 1 portrait"):
        encode_appearance(latent, portrait.crop, source_dyn=torch.zeros(3, dyn))


def test_without_landmarks_the_encoders_reading_is_kept_and_nothing_is_calibrated(tmp_path, animator, hopper,
                                                                                     sentence):
    """A detector-only tracker (OpenCV's Haar boxes) gives no landmarks to read: the portrait is un-expressed from
    the motion encoder's reading, as with source_expression="encoded", and the video is still made."""
    from vasa_lab.pipeline import Avatar
    from vasa_lab.tracking import FaceTracker

    haar = Animator("tiny", latent=animator.latent, motion=animator.motion, device="cpu")
    haar._tracker = FaceTracker("haar", smoothing=None)
    portrait = haar.portrait(hopper)
    assert not np.isfinite(portrait.landmarks).any()
    encoded = Animator("tiny", latent=animator.latent, motion=animator.motion, device="cpu",
                       source_expression="encoded")
    assert torch.equal(haar.appearance(portrait).volume, encoded.appearance(portrait).volume)
    assert haar._expression is None                                       # no calibration was run
    avatar = Avatar(animator.latent, animator.motion, portrait, watermark=False)
    assert torch.equal(avatar.appearance.volume, encoded.appearance(portrait).volume)
    result = haar.animate(hopper, sentence[:16_000], tmp_path / "haar.mp4", progress=False, watermark=False,
                          sign=False)
    assert result.n_frames == 25


def test_an_unknown_source_expression_is_one_clear_sentence():
    with pytest.raises(ValueError, match="'tracked'.*'encoded'"):
        Animator("tiny", source_expression="smiling")


def test_grace_hoppers_mouth_moves_when_the_tracker_reads_her_expression(tmp_path, hopper):
    """small's motion encoder reads her closed mouth as half open, so un-expressed from its reading her mouth stays
    shut; read by the tracker it follows the speech (the frozen, encoded case must fail what the tracked one passes).

    Both the spread and the frames where the mouth is open past a fifth of the way from a world face at rest to the
    jaw open: one loud syllable can set a spread. Over seeds 0-3 the encoded mouth opened on 1-2 of these 75 frames and
    the tracked one on 17-33; the tracked spread was 3.3x to 5.1x the encoded one's."""
    from vasa_lab.metrics.expression import read_pixels
    from vasa_lab.pipeline.animate import demo_speech

    speech = demo_speech()[: 16_000 * 3]
    mouths = {}
    for source in ("tracked", "encoded"):
        result = Animator("small", device="cpu", source_expression=source).animate(
            hopper, speech, tmp_path / f"{source}.mp4", progress=False, watermark=False, sign=False)
        mouths[source] = read_pixels(read_video(result.path)[0]).mouth
    expression = Animator("small", device="cpu").tracked_expression()
    open_past = expression.mouth_rest + 0.2 * (expression.mouth_jaw - expression.mouth_rest)
    spread = {source: float(np.nanstd(m)) for source, m in mouths.items()}
    opened = {source: int(np.sum(m > open_past)) for source, m in mouths.items()}
    assert spread["tracked"] > 0.025 and spread["tracked"] > 3 * spread["encoded"], spread
    assert opened["tracked"] >= 3 * max(opened["encoded"], 1), opened


def test_the_generated_motion_starts_where_the_portrait_is(animator):
    """The pipeline starts the motion generator from the portrait's own code (its pose as encoded, its expression as
    tracked): the first frames keep the portrait's encoded pose, where a generator with no context starts wherever
    its training clips put it; the avatar's streams start from the same code."""
    from vasa_lab.world.clip import person
    from vasa_lab.world.render import render_frame
    from vasa_lab.world.state import FaceState
    from vasa_lab.motion import MotionConditions

    image, _ = render_frame(person(0, 1050).identity, FaceState(yaw=12.0, jaw_open=0.3), 256)
    portrait = animator.portrait(image)
    own = animator.portrait_motion(portrait)
    assert own.shape == (1, animator.motion.config.motion_dim) and np.isfinite(own).all()
    expr = animator.tracked_expression()
    torch.testing.assert_close(torch.from_numpy(own[0, 6:]), expr.code(portrait.crop_landmarks()).reshape(-1))
    speech = np.sin(np.linspace(0, 300, 16_000)).astype(np.float32) * 0.3
    def first_yaw(start):
        chunks = animator.feature_chunks(speech, 16_000)
        return np.concatenate(list(animator.motion_chunks(chunks, MotionConditions(), seed=0, first_motion=start)))[:5, 0]
    anchored, free = first_yaw(own), first_yaw(None)
    assert np.abs(anchored - own[0, 0]).mean() < 4.0, (anchored, own[0, 0])
    assert np.abs(anchored - own[0, 0]).mean() < np.abs(free - own[0, 0]).mean()
    avatar = animator.avatar(image)
    np.testing.assert_allclose(avatar.portrait_motion, own, atol=1e-5)
