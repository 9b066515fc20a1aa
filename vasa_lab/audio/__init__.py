"""Chapter 05: speech -> one feature vector per 25 fps video frame, for the motion generator.

* ``config``    - :class:`AudioConfig`: mel (default) or Wav2Vec2, sizes per profile, the normalisation constants;
* ``waveform``  - any file or array -> mono 16 kHz float32 at a fixed speech loudness (:func:`load_speech`,
  :func:`prepare_audio`, :func:`is_silent`, streamed decoding for long files);
* ``features``  - :func:`audio_features` (T, D) aligned to video frames, :func:`iter_audio_features` for audio of
  any length, :func:`n_video_frames`.

Typical use::

    cfg = AudioConfig.for_profile("tiny")          # D = cfg.feature_dim = 160
    audio, sr = load_speech("speech.m4a", cfg)     # (N,) float32 at 16 kHz
    feats = audio_features(audio, cfg)             # (round(N / 16000 * 25), 160)
"""
from .config import KINDS, AudioConfig
from .features import (audio_features, feature_source, iter_audio_features, load_wav2vec2, log_mel, mel_filterbank,
                       n_video_frames)
from .waveform import (LoudnessMeter, SilentAudioWarning, is_silent, load_speech, measure_file, prepare_audio,
                       stream_audio)

__all__ = [
    "AudioConfig", "KINDS", "LoudnessMeter", "SilentAudioWarning", "audio_features", "feature_source", "is_silent",
    "iter_audio_features", "load_speech", "load_wav2vec2", "log_mel", "mel_filterbank", "measure_file",
    "n_video_frames", "prepare_audio", "stream_audio",
]
