"""Scripts that turn data into the course's training format.

* ``python -m data_prep.synthetic [--out DIR]`` — the synthetic world (the embedded default), the same as
  ``vasa-lab synth``; without ``--out`` it goes where every chapter looks for it.
* ``python -m data_prep.prepare --input VIDEOS --out DIR`` (or ``vasa-lab prepare``; the code is
  :mod:`vasa_lab.data.prepare`) — any folder of talking-head
  videos (VoxCeleb2, HDTF, CelebV-HQ layouts or a plain folder; the synthetic world too) -> tracked, cropped,
  25 fps clips with 16 kHz audio, tracks and condition labels, written as WebDataset-style tar shards + index.
"""
