"""Every command against bad input: one clear line on stderr, a non-zero exit, never a traceback, nothing lost.

The cases are listed (with their count) in the README's reliability section; each runs the real command line
(``vasa_lab.cli.main``) in this process.
"""
from __future__ import annotations

import os
import zlib
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from vasa_lab.cli import main


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    import cv2

    from vasa_lab.pipeline.animate import demo_portrait_image
    from vasa_lab.media import write_mp4

    d = tmp_path_factory.mktemp("bad")
    f = {}
    f["portrait"] = d / "portrait.png"
    cv2.imwrite(str(f["portrait"]), demo_portrait_image(128)[..., ::-1])
    f["speech"] = d / "speech.wav"
    sf.write(f["speech"], (0.1 * np.sin(np.arange(16000) / 10)).astype(np.float32), 16000)
    f["empty"] = d / "empty.png"
    f["empty"].write_bytes(b"")
    f["empty_wav"] = d / "empty.wav"
    f["empty_wav"].write_bytes(b"")
    f["truncated_png"] = d / "truncated.png"
    f["truncated_png"].write_bytes(f["portrait"].read_bytes()[:200])
    f["text_png"] = d / "notes.png"
    f["text_png"].write_text("this is not a picture")
    f["text_wav"] = d / "notes.wav"
    f["text_wav"].write_text("this is not a sound")
    f["tiny_png"] = d / "one_pixel.png"
    cv2.imwrite(str(f["tiny_png"]), np.zeros((1, 1, 3), np.uint8))
    f["no_face"] = d / "grey.png"
    cv2.imwrite(str(f["no_face"]), np.full((256, 256, 3), 128, np.uint8))
    huge = bytearray(f["tiny_png"].read_bytes())               # a PNG header claiming 20000 x 20000 pixels
    huge[16:24] = (20000).to_bytes(4, "big") * 2
    huge[29:33] = zlib.crc32(bytes(huge[12:29])).to_bytes(4, "big")
    f["huge_png"] = d / "huge.png"
    f["huge_png"].write_bytes(bytes(huge))
    f["zero_wav"] = d / "zero.wav"
    sf.write(f["zero_wav"], np.zeros(0, np.float32), 16000)
    f["video_only"] = d / "video_only.mp4"
    write_mp4(f["video_only"], np.zeros((10, 32, 32, 3), np.uint8), 25.0)
    f["corrupt_mp4"] = d / "broken" / "clip.mp4"
    f["corrupt_mp4"].parent.mkdir()
    f["corrupt_mp4"].write_bytes(b"\x00\x00\x00\x18ftypmp42" + os.urandom(500))
    f["a_file"] = d / "a_file.txt"
    f["a_file"].write_text("a file, not a folder")
    f["empty_dir"] = d / "empty_dir"
    f["empty_dir"].mkdir()
    f["loop"] = d / "loop.png"
    os.symlink(d / "loop.png", f["loop"])                      # a symlink to itself
    f["spaced"] = d / "my photos" / "no such photo.png"
    f["not_utf8"] = Path(os.fsdecode(bytes(d / "caf") + b"\xe9.png"))   # a Latin-1 name: not valid UTF-8
    f["out_dir"] = d / "out_dir.mp4"
    f["out_dir"].mkdir()
    f["d"] = d
    return f


def animate_args(files, **over) -> list[str]:
    args = dict(image=files["portrait"], audio=files["speech"], out=files["d"] / "out.mp4")
    args.update(over)
    extra = args.pop("extra", [])
    return ["animate"] + [x for k, v in args.items() for x in (f"--{k}", str(v))] + extra


CASES = {
    # synth
    "synth: zero clips": lambda f: ["synth", "--out", str(f["d"] / "w1"), "--clips", "0"],
    "synth: negative clips": lambda f: ["synth", "--out", str(f["d"] / "w2"), "--clips", "-3"],
    "synth: zero seconds": lambda f: ["synth", "--out", str(f["d"] / "w3"), "--seconds", "0"],
    "synth: 10 px frames": lambda f: ["synth", "--out", str(f["d"] / "w4"), "--size", "10"],
    "synth: unknown language": lambda f: ["synth", "--out", str(f["d"] / "w5"), "--language", "xx"],
    "synth: --out is a file": lambda f: ["synth", "--out", str(f["a_file"]), "--clips", "1"],
    "synth: --out under a file": lambda f: ["synth", "--out", str(f["a_file"] / "w"), "--clips", "1"],
    "synth: unknown flag": lambda f: ["synth", "--out", str(f["d"] / "w6"), "--bogus"],
    "synth: not a number": lambda f: ["synth", "--out", str(f["d"] / "w7"), "--clips", "many"],
    # prepare
    "prepare: missing input": lambda f: ["prepare", "--input", str(f["d"] / "nowhere"), "--out", str(f["d"] / "p1")],
    "prepare: no videos in input": lambda f: ["prepare", "--input", str(f["empty_dir"]), "--out", str(f["d"] / "p2")],
    "prepare: input is a file": lambda f: ["prepare", "--input", str(f["a_file"]), "--out", str(f["d"] / "p3")],
    "prepare: --out is a file": lambda f: ["prepare", "--input", str(f["corrupt_mp4"].parent), "--out",
                                           str(f["a_file"])],
    "prepare: zero workers": lambda f: ["prepare", "--input", str(f["corrupt_mp4"].parent), "--out",
                                        str(f["d"] / "p4"), "--workers", "0"],
    # animate: the image
    "animate: missing image": lambda f: animate_args(f, image=f["d"] / "nope.png"),
    "animate: empty image file": lambda f: animate_args(f, image=f["empty"]),
    "animate: truncated png": lambda f: animate_args(f, image=f["truncated_png"]),
    "animate: text file named .png": lambda f: animate_args(f, image=f["text_png"]),
    "animate: 1x1 image": lambda f: animate_args(f, image=f["tiny_png"]),
    "animate: 20000x20000 header": lambda f: animate_args(f, image=f["huge_png"]),
    "animate: no face": lambda f: animate_args(f, image=f["no_face"]),
    "animate: symlink loop": lambda f: animate_args(f, image=f["loop"]),
    "animate: path with spaces": lambda f: animate_args(f, image=f["spaced"]),
    "animate: non-UTF-8 path": lambda f: animate_args(f, image=f["not_utf8"]),
    "animate: a folder as image": lambda f: animate_args(f, image=f["empty_dir"]),
    # animate: the audio
    "animate: missing audio": lambda f: animate_args(f, audio=f["d"] / "nope.wav"),
    "animate: empty audio file": lambda f: animate_args(f, audio=f["empty_wav"]),
    "animate: zero-length wav": lambda f: animate_args(f, audio=f["zero_wav"]),
    "animate: text file named .wav": lambda f: animate_args(f, audio=f["text_wav"]),
    "animate: video without audio": lambda f: animate_args(f, audio=f["video_only"]),
    "animate: an image as audio": lambda f: animate_args(f, audio=f["portrait"]),
    # animate: the rest
    "animate: --out not .mp4": lambda f: animate_args(f, out=f["d"] / "out.avi"),
    "animate: --out is a folder": lambda f: animate_args(f, out=f["out_dir"]),
    "animate: --out under a file": lambda f: animate_args(f, out=f["a_file"] / "out.mp4"),
    "animate: unknown emotion": lambda f: animate_args(f, extra=["--emotion", "bored"]),
    "animate: bad gaze": lambda f: animate_args(f, extra=["--gaze", "left"]),
    "animate: zero steps": lambda f: animate_args(f, extra=["--steps", "0"]),
    "animate: bad --frame": lambda f: animate_args(f, extra=["--frame", "poster"]),
    "animate: tiny --max-side": lambda f: animate_args(f, extra=["--max-side", "8"]),
    "animate: bad --source-expression": lambda f: animate_args(f, extra=["--source-expression", "smiling"]),
    # evaluate
    "evaluate: missing folder": lambda f: ["evaluate", "--generated", str(f["d"] / "nope"), "--reference",
                                           str(f["empty_dir"])],
    "evaluate: empty folder": lambda f: ["evaluate", "--generated", str(f["empty_dir"]), "--reference",
                                         str(f["empty_dir"])],
    "evaluate: a file as folder": lambda f: ["evaluate", "--generated", str(f["a_file"]), "--reference",
                                             str(f["empty_dir"])],
    "evaluate: only a corrupt video": lambda f: ["evaluate", "--generated", str(f["corrupt_mp4"].parent),
                                                 "--reference", str(f["corrupt_mp4"].parent)],
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_gets_one_clear_line(case, files, capsys):
    argv = CASES[case](files)
    code = None
    try:
        code = main(argv)
    except SystemExit as exit_:          # argparse's own errors
        code = exit_.code
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip() and not line.startswith("Warning")]
    assert code not in (0, None), f"{case}: exit status {code}"
    assert "Traceback" not in err, f"{case}: {err}"
    assert len(lines) == 1, f"{case}: expected one line, got {lines}"
    assert "error" in lines[0]
    assert len(lines[0]) < 400


def test_the_readme_lists_exactly_these_cases():
    """The README's reliability section shows the sweep as a table with its count: it must not drift from CASES."""
    import re

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    intro = re.search(r"tests/test_bad_input_sweep\.py`,\s*(\d+) cases:", readme)
    assert intro, "the README no longer introduces the sweep as '`tests/test_bad_input_sweep.py`, N cases:'"
    rows = []
    for line in readme[intro.end():].lstrip("\n").splitlines():
        if not line.startswith("|"):
            break
        rows.append(line[1:].split("|")[0].strip())
    assert rows[:2] == ["case", "---"]
    assert rows[2:] == list(CASES)
    assert int(intro.group(1)) == len(CASES)


def test_a_failed_animate_keeps_an_existing_video(files, capsys):
    out = files["d"] / "keep.mp4"
    out.write_bytes(b"yesterday's video")
    assert main(animate_args(files, out=out, audio=files["text_wav"])) == 2
    assert out.read_bytes() == b"yesterday's video"
