"""Geometry every stage shares: head pose, the camera, the 68 landmarks. Imports nothing from the package.

The world draws faces with it (:mod:`vasa_lab.world.face`), the tracker solves head pose with it
(:mod:`vasa_lab.tracking.pose`), the face latent model turns its pose code into a rigid warp with it
(:mod:`vasa_lab.latent.config`). Keeping it here means the tracker does not import the synthetic world.

Frames and units (the head frame): x to the image right, y down, z away from the camera, origin at the centre of
the head, 1 unit = half the width of the mean head. A head-frame point ``p`` goes to the camera frame by

    p_cam = R @ p + C,        R = Rz(roll) @ Rx(pitch) @ Ry(yaw)        (:func:`rotation_matrix`)

and to pixels by a pinhole camera (:class:`Camera`):

    u = f * size * X / Z + (size - 1) / 2,      v = f * size * Y / Z + (size - 1) / 2.

A "pose" is anything with ``yaw, pitch, roll`` (degrees), ``tx, ty`` (head units) and ``scale`` attributes, such as
the world's ``FaceState``; :data:`POSE_NAMES` is their order wherever poses are stored as arrays.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

POSE_NAMES = ("yaw", "pitch", "roll", "tx", "ty", "scale")    # a pose as an array: this column order everywhere
ANGLE_NAMES = POSE_NAMES[:3]

# the 68 landmarks, iBUG 300-W order ("right" = the person's right = image left); see vasa_lab.world.face
N_LANDMARKS = 68
JAW = list(range(0, 17))
RIGHT_BROW = list(range(17, 22))
LEFT_BROW = list(range(22, 27))
NOSE_BRIDGE = list(range(27, 31))
NOSE_BASE = list(range(31, 36))
RIGHT_EYE = list(range(36, 42))
LEFT_EYE = list(range(42, 48))
OUTER_LIPS = list(range(48, 60))
INNER_LIPS = list(range(60, 68))
OUTER_EYE_CORNERS = (36, 45)          # the inter-ocular distance that normalises landmark errors


def rotation_matrix(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """R = Rz(roll) @ Rx(pitch) @ Ry(yaw) for angles in degrees; (3, 3).

    With x right, y down, z away from the camera, and the nose pointing at the camera (-z):

        Ry(yaw)   = [[cos, 0, -sin], [0, 1, 0], [sin, 0, cos]]     nose (0,0,-1) -> (sin yaw, 0, -cos yaw): right
        Rx(pitch) = [[1, 0, 0], [0, cos, -sin], [0, sin, cos]]     nose (0,0,-1) -> (0, sin pitch, ...): down
        Rz(roll)  = [[cos, -sin, 0], [sin, cos, 0], [0, 0, 1]]     x axis (1,0,0) -> (cos, sin): clockwise on screen
    """
    y, p, r = np.radians([yaw, pitch, roll])
    cy, sy, cp, sp, cr, sr = np.cos(y), np.sin(y), np.cos(p), np.sin(p), np.cos(r), np.sin(r)
    ry = np.array([[cy, 0.0, -sy], [0.0, 1.0, 0.0], [sy, 0.0, cy]])
    rx = np.array([[1.0, 0.0, 0.0], [0.0, cp, -sp], [0.0, sp, cp]])
    rz = np.array([[cr, -sr, 0.0], [sr, cr, 0.0], [0.0, 0.0, 1.0]])
    return rz @ rx @ ry


@dataclass(frozen=True)
class Camera:
    """A pinhole camera looking down +z.

    ``focal`` is the focal length in units of the image size (f_px = focal * size), ``base_distance`` the distance
    of the head centre at scale 1 (head units), ``face_centre_y`` the head-frame height put on the optical axis
    (a little above the middle of the face, so the hair fits too). With the defaults the mean face (brow top to
    chin) is about 48% of the image height at scale 1 (15 degrees vertical field of view), which leaves room for
    the 68 landmarks to stay in the frame at scale 1.25 with |tx|, |ty| <= 0.3, or at |yaw| <= 35, |pitch| <= 25,
    |roll| <= 25 all at once.
    """

    focal: float = 2.7
    base_distance: float = 10.0
    face_centre_y: float = 0.5

    def head_centre(self, pose) -> np.ndarray:
        """C: the head-frame origin in camera coordinates, (3,)."""
        return np.array([pose.tx, pose.ty - self.face_centre_y, self.base_distance / max(pose.scale, 1e-3)])

    def to_camera(self, points: np.ndarray, pose) -> np.ndarray:
        """p_cam = R p + C for head-frame points (N, 3)."""
        r = rotation_matrix(pose.yaw, pose.pitch, pose.roll)
        return points @ r.T + self.head_centre(pose)

    def normalized(self, points_cam: np.ndarray) -> np.ndarray:
        """Image coordinates in units of the image size, centred: (N, 3) camera frame -> (N, 2)."""
        z = np.maximum(points_cam[:, 2:3], 1e-6)
        return self.focal * points_cam[:, :2] / z

    def to_pixels(self, norm: np.ndarray, size: int) -> np.ndarray:
        """Centred normalized coordinates -> pixel coordinates (pixel centres at integers)."""
        return norm * size + (size - 1) / 2.0


CAMERA = Camera()


def project(points3d: np.ndarray, pose, size: int, camera: Camera = CAMERA) -> np.ndarray:
    """Head-frame points (N, 3) -> pixel coordinates (N, 2) for a square image of ``size`` pixels."""
    cam = camera.to_camera(np.asarray(points3d, dtype=float).reshape(-1, 3), pose)
    return camera.to_pixels(camera.normalized(cam), size)


# The 68 landmarks of the world's mean person with a neutral face, in the head frame, jaw points at their fixed
# spots on the surface (no silhouette marching): the 3D model a tracker fits to recover head pose. The world
# computes the same numbers from its face model; tests/test_geometry.py checks the two agree exactly.
_CANONICAL = (
    (-0.9863996099756183, 0.08787377187586663, -0.18763632257427706),
    (-0.966357498429244, 0.3186577666547133, -0.20824184040402288),
    (-0.9159042164044613, 0.5443580119218853, -0.28434845214386595),
    (-0.8377547921808978, 0.7595977709199778, -0.38273123601667275),
    (-0.73232669871377, 0.9587210431705429, -0.4723460033618625),
    (-0.595757757486925, 1.135304903145566, -0.5310846528458153),
    (-0.4267900337946528, 1.2754546889817053, -0.5475474768187016),
    (-0.22456940454785332, 1.3649881769326973, -0.5653992285435975),
    (0.0, 1.3897924237372754, -0.6173315645920935),
    (0.22456940454785332, 1.3649881769326973, -0.5653992285435975),
    (0.4267900337946523, 1.2754546889817056, -0.5475474768187016),
    (0.5957577574869247, 1.1353049031455664, -0.5310846528458153),
    (0.7323266987137698, 0.9587210431705433, -0.47234600336186267),
    (0.8377547921808975, 0.7595977709199783, -0.3827312360166728),
    (0.9159042164044612, 0.5443580119218858, -0.2843484521438662),
    (0.9663574984292438, 0.3186577666547138, -0.20824184040402297),
    (0.9863996099756183, 0.08787377187586662, -0.18763632257427706),
    (-0.69, -0.175, -0.8695282143591295),
    (-0.5774999999999999, -0.2186605448701177, -0.9751943941009532),
    (-0.46499999999999997, -0.2455851417248466, -1.0547028542886614),
    (-0.3525, -0.24485430492238702, -1.1166806388933115),
    (-0.24, -0.21, -1.1648745825330498),
    (0.24, -0.21, -1.1648745825330498),
    (0.3525, -0.24485430492238702, -1.1166806388933115),
    (0.46499999999999997, -0.2455851417248466, -1.0547028542886614),
    (0.5774999999999999, -0.2186605448701177, -0.9751943941009532),
    (0.69, -0.175, -0.8695282143591295),
    (0.0, -0.03, -1.2497036671148793),
    (0.0, 0.12999999999999998, -1.3054845776291293),
    (0.0, 0.2899999999999999, -1.3730530178997786),
    (0.0, 0.44999999999999996, -1.448890762708411),
    (-0.17, 0.485, -1.2287815177178796),
    (-0.085, 0.525, -1.2792089444119545),
    (0.0, 0.532, -1.3030908727307726),
    (0.085, 0.525, -1.2792089444119545),
    (0.17, 0.485, -1.2287815177178796),
    (-0.63, -0.004978739031888915, -0.9439036508911841),
    (-0.5033333333333334, -0.08066022628244209, -1.0464290211605207),
    (-0.3766666666666667, -0.07734106692784946, -1.1214907685174098),
    (-0.25, 0.00497873903178647, -1.1738899097849083),
    (-0.3766666666666667, 0.04496084986651824, -1.1231841004061145),
    (-0.5033333333333334, 0.04164169051192563, -1.0485112240261913),
    (0.25, 0.004978739031888915, -1.173889909784908),
    (0.37666666666666665, -0.07734106692784946, -1.1214907685174098),
    (0.5033333333333333, -0.08066022628244209, -1.0464290211605207),
    (0.63, -0.00497873903199136, -0.9439036508911836),
    (0.5033333333333333, 0.041641690511925636, -1.0485112240261916),
    (0.37666666666666665, 0.044960849866518236, -1.1231841004061145),
    (-0.31, 0.8, -1.0959056816397266),
    (-0.2066666666666667, 0.7627322003995856, -1.175925840197863),
    (-0.10333333333333335, 0.7529440115317251, -1.2080032605047952),
    (0.0, 0.7625000000000001, -1.2160105660027973),
    (0.1033333333333333, 0.7529440115317251, -1.2080032605047952),
    (0.2066666666666666, 0.7627322003995856, -1.1759258401978632),
    (0.31, 0.8, -1.0959056816397266),
    (0.2066666666666666, 0.8521749194749951, -1.1575012393012778),
    (0.1033333333333333, 0.8659966329107445, -1.185172591959413),
    (0.0, 0.8700000000000001, -1.1940024497776573),
    (-0.10333333333333335, 0.8659966329107445, -1.185172591959413),
    (-0.2066666666666667, 0.8521749194749951, -1.1575012393012776),
    (-0.279, 0.8, -1.0933151166409163),
    (-0.1395, 0.8, -1.1750957087627252),
    (0.0, 0.8, -1.1942445985338626),
    (0.1395, 0.8, -1.1750957087627252),
    (0.279, 0.8, -1.0933151166409163),
    (0.1395, 0.8, -1.1750957087627252),
    (0.0, 0.8, -1.1942445985338626),
    (-0.1395, 0.8, -1.1750957087627252),
)


def canonical_landmarks_3d() -> np.ndarray:
    """The 68 landmarks of the mean identity with a neutral face, head frame, jaw points fixed; (68, 3).

    This is the 3D model a tracker fits (e.g. with cv2.solvePnP) to recover head pose; its rotation is the head
    rotation R of :func:`rotation_matrix`.
    """
    return np.array(_CANONICAL, dtype=np.float64)
