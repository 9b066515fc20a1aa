"""A small landmark network for the synthetic world: heatmaps, a soft-argmax, and an integral loss.

MediaPipe's face mesh is made for real photographs at a few hundred pixels; in a 64 px synthetic frame (the tiny
profile) its face detector often finds nothing. So chapter 02 trains its own landmark network on the world, which
knows every landmark of every frame it renders. It is also a compact, honest example of how modern landmark
detectors work.

**Heatmap regression.** Instead of regressing 2 numbers per point from a global feature vector, a fully
convolutional encoder-decoder (a U-Net-like "hourglass-lite") outputs one map per point, K = 70 maps (68 iBUG
landmarks + 2 iris centres) at 1/``stride`` of the input resolution. Each map H_k is a score for "point k is
here"; the convolutions only have to recognise local appearance in context, which is far easier to learn than a
global regression.

**Soft-argmax (integral regression, Sun et al. 2018).** A plain argmax of H_k is not differentiable and is
quantised to the heatmap grid. Turn the map into a probability distribution over its cells with a spatial softmax
and take the expected position::

    p_k,i = softmax(beta * H_k)_i = exp(beta H_k,i) / sum_j exp(beta H_k,j)        (i runs over the h*w cells)
    x_k   = sum_i p_k,i * x_i,      y_k = sum_i p_k,i * y_i                     (x_i, y_i: the cell centre in pixels)

This is differentiable, and sub-pixel: a distribution spread over two neighbouring cells puts the point between
them. ``beta`` is an inverse temperature; the network can scale its own logits, so beta = 1 works.

**Loss.** Three terms, in units of s = image_size / 64 pixels so they have the same scale at every resolution::

    L = mean_k |x_k - x_k*|_1 / s                                    the integral loss (L1 on the soft-argmax)
      + mu * mean_(a,b) |(x_a - x_b) - (x_a* - x_b*)|_1 / s           the gaps between facing lid and lip points
      + lambda * mean_k CE(G_k, p_k)                                  a Gaussian target for each heatmap

* The integral loss alone trains the points well (measured at the tiny budget: NME 0.028 with it alone, 0.030
  with a heatmap weight of 3), but leaves the *shape* of p_k free.
* The tracker reads blinks and mouth opening from the gap between the upper and lower lid (1-2 px at 64 px) and
  between the inner lips. Half a pixel of error on each point hardly moves the first term but ruins the gap; with
  the second term the predicted eye openness follows the truth far better (correlation with the true openness on
  held-out faces 0.53 -> 0.76, at the same point error).
* The cross-entropy against a normalised Gaussian G_k (sigma ``heatmap_sigma`` cells) centred on the true point,
  CE(G, p) = -sum_i G_i log p_i, keeps each p_k one peak. A small weight costs no accuracy and makes the peak's
  sharpness a meaningful **confidence**: a detection's score is the mean share of each map's probability mass
  within ``score_radius`` cells of its soft-argmax.

**Data.** Random identities (seeds drawn from a generator keyed by the text "landmark-net-train"; evaluation
uses "landmark-net-eval", so its people were never seen) in random states over the world's ranges: pose,
translation, distance, mouth, blink, gaze, brows, expression. The frames are rendered once into a uint8 array
(6000 frames at 64 px take ~25 s) and seen about five times each, with mild photometric augmentation
(brightness, contrast, colour, noise, blur) so the network copes with H.264 artefacts.

Use::

    net = load_landmark_net()                  # cached in the artifact store, or trained once (~2 min on a CPU)
    backend = NetBackend(net)
    [det] = backend.detect(frame)              # frame (H, W, 3) uint8 RGB -> a Detection with 68 landmarks + iris

The package, one file per concern: :mod:`.config` (settings), :mod:`.model` (network, soft-argmax), :mod:`.loss`,
:mod:`.data` (world renders with their truth, augmentation), :mod:`.training` (the module, training, the artifact
store; imports Lightning, so it loads when first asked for), :mod:`.backend` (inference, the tracking backend),
:mod:`.measure` (held-out error).
"""
from ...world.samples import identity_seeds, tagged_rng  # noqa: F401  (the tags' people, for tests and chapter 02)
from .backend import NetBackend, predict
from .config import EVAL_TAG, GAP_PAIRS, N_POINTS, TRAIN_TAG, LandmarkNetConfig
from .data import augment, render_examples
from .loss import gaussian_targets, landmark_loss
from .measure import evaluate_landmark_net, landmark_nme
from .model import LandmarkNet, cell_centres, conv_bn_relu, peak_mass, soft_argmax, to_tensor

_TRAINING = ("LandmarkNetModule", "count_parameters", "load_landmark_net", "train_landmark_net")


def __getattr__(name: str):          # the training half needs Lightning: imported when first asked for
    if name in _TRAINING:
        from . import training

        return getattr(training, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["EVAL_TAG", "GAP_PAIRS", "N_POINTS", "TRAIN_TAG", "LandmarkNet", "LandmarkNetConfig", "LandmarkNetModule",
           "NetBackend", "augment", "cell_centres", "conv_bn_relu", "count_parameters", "evaluate_landmark_net",
           "gaussian_targets", "identity_seeds", "landmark_loss", "landmark_nme", "load_landmark_net", "peak_mass",
           "predict", "render_examples", "soft_argmax", "tagged_rng", "to_tensor", "train_landmark_net"]
