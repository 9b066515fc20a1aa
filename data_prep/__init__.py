"""Scripts that turn data into the course's training format.

* ``python -m data_prep.synthetic --out DIR`` — the synthetic world (the embedded default), the same as
  ``vasa-lab synth``.
* Real video (a folder of talking-head mp4s -> tracked, cropped, 25 fps clips) arrives with the face-tracking
  chapter (02).
"""
