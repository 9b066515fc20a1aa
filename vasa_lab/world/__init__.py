"""The synthetic talking-head world: the course's embedded default data.

Procedurally generated people speak real sentences synthesized offline with espeak-ng. Every frame comes with its
ground truth (pose, mouth, gaze, blink, emotion, landmarks, phonemes), so every chapter can measure what it built.

Modules, in the order a clip is made:
``sentences`` (what is said) -> ``speech`` (audio + phoneme timings) -> ``visemes`` (mouth shapes) ->
``behaviour`` (head, eyes, brows, emotion) -> ``person``/``face``/``render`` (pixels) -> ``clip`` (one clip on
disk) -> ``dataset`` (a folder of clips with an index). ``samples`` renders random people in random states with
their truth, for the networks that train on world renders. Camera and rotation conventions are
:mod:`vasa_lab.geometry`'s.
"""
