"""Chapter 05 (audio features): Wav2Vec2's 50 Hz output at 25 fps; log-mel rows aligned to video frames."""
from __future__ import annotations

import warnings

import numpy as np

from .core import Case, Exercise, register


def _speech(seconds_extra: float = 0.0, text: str = "Please bring me the map of the old harbour."):
    from vasa_lab.world.speech import synthesize

    x = synthesize(text, variant="m3", rate=160).audio.astype(np.float32)
    if seconds_extra:
        x = np.concatenate([x, np.zeros(int(16000 * seconds_extra), np.float32)])
    return x


def _w2v_cases():
    import torch

    from vasa_lab.audio.config import AudioConfig
    from vasa_lab.audio.features import audio_features, load_wav2vec2, n_video_frames

    cfg = AudioConfig.for_profile("tiny", kind="wav2vec2")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model, _ = load_wav2vec2(cfg)
    out = []
    for label, x in (("a sentence", _speech()), ("a shorter sentence", _speech(text="Good morning."))):
        T, spf, pad = n_video_frames(x.size), cfg.samples_per_frame, 40
        raw = np.zeros(T * spf + 2 * pad, np.float32)                 # centres at (i + 0.5) * 20 ms
        n = min(x.size, T * spf + pad)
        raw[pad:pad + n] = x[:n]
        with torch.inference_mode():
            h50 = model(torch.from_numpy(raw / 10 ** (cfg.target_loudness_db / 20))[None]).last_hidden_state[0].numpy()
        out.append(Case(f"{label}: {h50.shape[0]} vectors at 50 Hz", (h50,), audio_features(x, cfg)))
    return out


register(Exercise(
    key="05.1", title="Wav2Vec2's 50 Hz vectors as 25 fps rows", answer="to_25fps",
    reference="vasa_lab.audio.features.audio_features(kind='wav2vec2')", cases=_w2v_cases,
    wrong=lambda h50: np.asarray(h50)[::2],
    hint="row t is the mean of the two 50 Hz vectors 2t and 2t + 1 (their centres straddle the frame's centre): "
         "reshape (2T, H) to (T, 2, H) and average over the middle axis", rtol=1e-4, atol=1e-4))


def _mel_cases():
    from vasa_lab.audio.config import AudioConfig
    from vasa_lab.audio.features import audio_features

    rng = np.random.default_rng(6)
    noise = (rng.standard_normal(16000 + 333) * 0.05).astype(np.float32)      # not a whole number of frames
    out = []
    for label, x, cfg in (("a sentence, tiny profile (40 mels)", _speech(), AudioConfig.for_profile("tiny")),
                          ("1.02 s of noise", noise, AudioConfig.for_profile("tiny")),
                          ("a sentence, 80 mels", _speech(), AudioConfig.for_profile("tiny", n_mels=80))):
        out.append(Case(label, (x, cfg), audio_features(x, cfg)))
    return out


def _wrong_mel(x, cfg):
    from vasa_lab.audio.features import log_mel, n_video_frames

    T = n_video_frames(x.size, cfg.sample_rate, cfg.fps)
    seg = np.zeros(T * cfg.samples_per_frame + cfg.n_fft - cfg.hop_length, np.float32)
    n = min(x.size, seg.size)
    seg[:n] = x[:n]                                                     # no margin: every hop 176 samples late
    return log_mel(seg, cfg).T.reshape(T, cfg.hops_per_frame * cfg.n_mels)


register(Exercise(
    key="05.2", title="log-mel rows, one per video frame", answer="my_mel_rows",
    reference="vasa_lab.audio.features.audio_features(kind='mel')", cases=_mel_cases, wrong=_wrong_mel,
    hint="pad the audio with m = (n_fft - hop_length) / 2 zeros in front (and enough zeros behind) so that the "
         "STFT's hops are centred on the hops of each frame, call log_mel(segment, cfg), then put the "
         "hops_per_frame columns of each frame side by side: (n_mels, 4T) -> (T, 4 n_mels) with .T.reshape",
    rtol=1e-4, atol=1e-4))
