"""Chapter 02: face tracking. Frames in; per frame a face box, 68 landmarks, head pose, gaze, blinks, mouth opening.

The pieces, in the order a frame goes through them:

* ``backends``  - who finds the face: mediapipe's face mesh (478 points, mapped to the 68 iBUG points by a table
  derived on the synthetic world), OpenCV's Haar cascade (a box only), and optionally a small landmark network
  (``landmark_net``, backend "net") for tiny synthetic frames;
* ``pose``      - head pose by fitting a 3D face to the landmarks (cv2.solvePnP), in the world's conventions;
* ``calibration`` - what we fit on training identities of the synthetic world: the mesh's 3D model, a yaw/pitch
  correction, the gaze gain;
* ``gaze``      - gaze from the iris against the eye corners, eye openness and blinks, mouth opening;
* ``smoothing`` - One Euro and Kalman filters, and how to measure jitter against lag;
* ``align``     - steady square face crops at any size;
* ``tracker``   - :class:`FaceTracker`, which runs all of it over a clip or a photo, and VASA-1's clip conditions
  (:func:`main_gaze`, :func:`head_distance`);
* ``evaluate``  - errors against the synthetic world's truth and against known moves of real photos.

Everything returns a :class:`FaceTrack` (``types``), in the units and sign conventions of the synthetic world.
"""
from .align import crop_align, crop_boxes, crop_image, crop_matrix, transform_points
from .backends import MEDIAPIPE_TO_IBUG68, HaarBackend, MediaPipeBackend, derive_mediapipe_to_ibug68, make_backend
from .accuracy import (evaluate_on_synthetic, evaluate_real_video, real_photo_video, real_photos,
                       tracking_errors)
from .gaze import detect_blinks, eye_openness, gaze_from_iris, mouth_opening
from .pose import MeshPoseModel, fit_head_pose, rotation_to_angles
from .smoothing import ConstantVelocityKalman, OneEuroFilter, jitter_and_lag, smooth_signal, smooth_track
from .tracker import FaceTracker, NoFaceError, head_distance, main_gaze
from .types import POSE_NAMES, Detection, FaceTrack

__all__ = [
    "ConstantVelocityKalman", "Detection", "FaceTrack", "FaceTracker", "HaarBackend", "MEDIAPIPE_TO_IBUG68",
    "MediaPipeBackend", "MeshPoseModel", "NoFaceError", "OneEuroFilter", "POSE_NAMES", "crop_align", "crop_boxes",
    "crop_image", "crop_matrix", "derive_mediapipe_to_ibug68", "detect_blinks", "evaluate_on_synthetic",
    "evaluate_real_video", "eye_openness", "fit_head_pose", "gaze_from_iris", "head_distance", "jitter_and_lag",
    "main_gaze", "make_backend", "mouth_opening", "real_photo_video", "real_photos", "rotation_to_angles",
    "smooth_signal", "smooth_track", "tracking_errors", "transform_points",
]
