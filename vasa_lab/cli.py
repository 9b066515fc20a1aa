"""The ``vasa-lab`` command.

    vasa-lab info                          versions, profile, device, artifact store contents
    vasa-lab synth --out DIR [--clips N]   make a synthetic talking-head dataset
    vasa-lab animate --image PORTRAIT --audio SPEECH --out OUT.mp4 [--gaze THETA,PHI] [--distance D]
                     [--emotion NAME] [--audio-scale L] [--steps N] [--seed S]   the main job: portrait + speech -> video
    vasa-lab demo [--out FILE]             the main job on the bundled portrait and a synthesized sentence
                                           (what ``make demo`` runs)
    vasa-lab synth-demo [--out FILE]       one synthetic talking-head clip with its ground truth (the world, ch. 01)
    vasa-lab prepare --input DIR --out DIR videos -> tracked, aligned 25 fps clips in tar shards (vasa_lab.data.prepare)
    vasa-lab evaluate --generated DIR --reference DIR [--json OUT]   the paper's metrics table (chapter 10)
    vasa-lab serve [--port 8000] [--host 127.0.0.1] [--image P]   a live avatar in the browser (microphone or text)
    vasa-lab detect VIDEO [VIDEO...] [--json]   our watermark and content credentials in each file (chapter 11);
                                           exit 0: nothing found, 1: something found, 2: a file was unreadable

A bad argument gets one clear line on stderr and exit status 2, never a traceback.
"""
from __future__ import annotations

import argparse
import platform
import os
import sys
import time
from pathlib import Path

from . import __version__


class CliError(Exception):
    """An error the user can fix from the command line; printed as one line."""


def cmd_info(args: argparse.Namespace) -> int:
    import importlib.metadata as md

    import torch

    from .artifacts import ArtifactStore
    from .config import resolve_profile

    print(f"vasa_lab {__version__}")
    print(f"python   {platform.python_version()} ({platform.platform(terse=True)})")
    for pkg in ("torch", "lightning", "numpy", "librosa", "av", "espeakng-loader", "opencv-python-headless",
                "safetensors", "mediapipe"):
        try:
            print(f"{pkg:<9}{' ' if len(pkg) < 9 else ''}{md.version(pkg)}")
        except md.PackageNotFoundError:
            print(f"{pkg:<9} (not installed)")
    print(f"profile  {resolve_profile(args.profile)}  (set with --profile or VASA_LAB_PROFILE)")
    if torch.cuda.is_available():
        print(f"device   cuda: {torch.cuda.get_device_name(0)} ({torch.cuda.device_count()} GPU)")
    else:
        print(f"device   cpu ({torch.get_num_threads()} threads)")
    store = ArtifactStore()
    items = store.list()
    print(f"store    {store.root}  ({len(items)} artifact{'s' if len(items) != 1 else ''})")
    for item in items:
        print(f"  {item.name:<16} {item.key}  {item.size_mb:6.2f} MB  {item.meta.get('created', '')}")
    return 0


def cmd_synth(args: argparse.Namespace) -> int:
    from .world.dataset import WorldSpec, synthesize_dataset

    spec = WorldSpec(clips=args.clips, seconds=args.seconds, size=args.size, seed=args.seed, language=args.language,
                     clips_per_identity=args.clips_per_identity)
    if args.workers is not None and args.workers < 1:
        raise CliError(f"--workers must be at least 1, got {args.workers}")
    try:
        spec.check()
    except ValueError as err:
        raise CliError(str(err)) from None
    started = time.perf_counter()
    try:
        index = synthesize_dataset(args.out, spec, workers=args.workers, progress=not args.quiet)
    except ValueError as err:
        raise CliError(str(err)) from None
    elapsed = time.perf_counter() - started
    n, failed = len(index["clips"]), index["failed"]
    frames = sum(c["n_frames"] for c in index["clips"])
    print(f"{n} clips ({frames} frames, {len(set(c['identity'] for c in index['clips']))} identities) in {args.out}"
          f" [{index['reused']} already there] in {elapsed:.1f} s")
    for f in failed:
        print(f"skipped clip {f['stem']}: {f['error']}", file=sys.stderr)
    return 1 if failed else 0


def _animate_summary(result, audio_note: str = "") -> None:
    t = result.timings
    fps = result.frames_per_second
    print(f"made a {result.seconds:.1f} s talking-face video ({result.n_frames} frames at 25 fps) in "
          f"{t.get('total', 0):.1f} s{audio_note}")
    print(f"  motion {fps.get('motion', 0):.0f} frames/s, rendering {fps.get('render', 0):.0f} frames/s "
          f"(models loaded in {t.get('models', 0):.1f} s)")
    if result.frame_size:
        print(f"  frames {result.frame_size[1]}x{result.frame_size[0]} px"
              + (" (the whole photo, the face animated in place)" if result.whole_photo else " (the face crop)"))
    if result.portrait is not None and result.portrait.faces > 1:
        x0, y0, x1, y1 = (int(round(v)) for v in result.portrait.box)
        print(f"  note: {result.portrait.faces} faces in the photo; animated the largest, in the box "
              f"({x0}, {y0})-({x1}, {y1})")
    if result.silent:
        print("  note: the audio is silent, so the face stays calm with its mouth closed")
    print(f"  video with sound: {result.path}")
    print(_provenance_line(result.watermark, result.signed))


def _provenance_line(payload: str | None, signed: bool) -> str:
    """The one line that says a video is marked as generated (chapter 11)."""
    marked = f"every frame carries an invisible watermark ('{payload}')" if payload else "NOT watermarked"
    return (f"  provenance:       {marked}; {'signed with content credentials (C2PA)' if signed else 'NOT signed'}"
            "; check with: vasa-lab detect VIDEO")


def cmd_animate(args: argparse.Namespace) -> int:
    from .pipeline.animate import animate, parse_gaze

    gaze = parse_gaze(args.gaze) if args.gaze is not None else None
    result = animate(args.image, args.audio, args.out, gaze=gaze, distance=args.distance, emotion=args.emotion,
                     audio_scale=args.audio_scale, steps=args.steps, seed=args.seed, progress=not args.quiet,
                     profile=args.profile, size=args.size, frame=args.frame, max_side=args.max_side,
                     key=args.sign_key, source_expression=args.source_expression)
    _animate_summary(result)
    return 0


def cmd_stream(args: argparse.Namespace) -> int:
    import json

    from .pipeline.animate import Animator, parse_gaze
    from .media import check_output_path
    from .motion import MotionConditions
    from .pipeline import file_chunks
    from .pipeline.avatar import stream_to_mp4

    import torch

    out = check_output_path(args.out)
    gaze = parse_gaze(args.gaze) if args.gaze is not None else None
    cond = MotionConditions(gaze=gaze, distance=args.distance, emotion=args.emotion)
    # one thread: a stream's operations are small, and a second PyTorch thread that must wait for a busy core
    # made a motion window 40 times slower here (benchmarks/bench_stream.py)
    torch.set_num_threads(1)
    if not 0 <= args.lookahead_ms <= 2000:
        raise CliError(f"--lookahead-ms must be between 0 and 2000, got {args.lookahead_ms}")
    lookahead = int(round(args.lookahead_ms / 40.0))
    from .motion import MotionConfig

    window = MotionConfig.for_profile(args.profile).window
    if not 1 <= args.stride <= window:
        raise CliError(f"--stride must be between 1 and the motion window ({window} frames), got {args.stride}")
    if lookahead + args.stride > window:
        raise CliError(f"--lookahead-ms {args.lookahead_ms:g} (= {lookahead} frames) plus --stride {args.stride} must "
                       f"fit in one motion window of {window} frames ({window * 40} ms)")
    try:                                             # unreadable or empty audio: one line, before any model loads
        first = next(file_chunks(args.audio, chunk_ms=args.chunk_ms))
    except StopIteration:
        raise CliError(f"{args.audio}: the file holds no audio samples") from None
    rate = int(first.rate)
    avatar = Animator(args.profile).avatar(args.image, frame=args.frame).warm_up()
    # the file is read again from the start, now that everything is loaded: with --realtime its clock (a
    # microphone's) starts at the first chunk the stream asks for, not while the models were loading
    chunks = file_chunks(args.audio, chunk_ms=args.chunk_ms, realtime=args.realtime)
    report = stream_to_mp4(avatar, chunks, out, sample_rate=rate, lookahead=lookahead, stride=args.stride,
                           cond=cond, steps=args.steps, seed=args.seed, realtime=args.realtime, key=args.sign_key)
    print(f"streamed {report.frames} frames ({report.seconds:.1f} s) "
          f"{'at the audio' + chr(39) + 's own pace' if args.realtime else 'as fast as it goes'}, "
          f"lookahead {lookahead * 40} ms, {args.chunk_ms:g} ms chunks")
    print(f"  first frame {report.first_frame_ms:.0f} ms after the first audio; latency p50 "
          f"{report.latency_p50_ms:.0f} ms, p95 {report.latency_p95_ms:.0f} ms; {report.fps:.1f} frames/s; "
          f"{report.late} late, {report.dropped} dropped")
    print(f"  video with sound: {out}")
    print(_provenance_line(str(avatar.watermark.payload), report.signed))
    if args.report:
        Path(args.report).write_text(json.dumps(report.as_dict(), indent=1))
        print(f"  latency report:   {args.report}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from .pipeline.animate import DEMO_PORTRAIT, DEMO_PROFILE, DEMO_TEXT, animate, check_output_path, demo_speech
    from .media import write_wav

    out = check_output_path(args.out)
    text = DEMO_TEXT.get(args.language, "")
    speech = out.with_suffix(".wav")
    audio = demo_speech(args.language)
    if args.seconds is not None:
        if not 0.1 <= args.seconds <= 600:
            raise CliError(f"--seconds must be between 0.1 and 600, got {args.seconds}")
        audio = audio[: int(args.seconds * 16_000)]
    write_wav(speech, audio, 16_000)
    result = animate(DEMO_PORTRAIT, speech, out, emotion=args.emotion, steps=args.steps, seed=args.seed,
                     progress=not args.quiet, size=args.size, profile=args.profile or DEMO_PROFILE,
                     key=args.sign_key)
    _animate_summary(result)
    print(f"  the portrait:     {DEMO_PORTRAIT} (a synthetic person no model was trained on)")
    print(f"  the speech:       {speech} (espeak-ng, just now): {text!r}")
    print("  your own: vasa-lab animate --image PHOTO --audio SPEECH --out OUT.mp4")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from .serve import ServeConfig, serve

    if not 1 <= args.port <= 65535:
        raise CliError(f"--port must be between 1 and 65535, got {args.port}")
    if args.image is not None:
        from .media import read_portrait

        read_portrait(args.image)                           # unreadable: one line, before any model loads
    config = ServeConfig(profile=args.profile, host=args.host, port=args.port, token=args.token, image=args.image,
                         max_streams=args.max_streams)
    serve(config)
    return 0


def cmd_synth_demo(args: argparse.Namespace) -> int:
    from .world.clip import make_clip, save_clip

    out = Path(args.out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise CliError(f"cannot create {out.parent}: {err.strerror}") from None
    if out.suffix.lower() != ".mp4":
        raise CliError(f"--out must end in .mp4, got {out.name}")
    started = time.perf_counter()
    clip = make_clip(args.seed, args.index, seconds=args.seconds, size=args.size, language=args.language)
    try:
        paths = save_clip(clip, out.parent, out.stem)
    except OSError as err:
        raise CliError(f"cannot write {out}: {err}") from None
    m = clip.meta
    print(f"made a {m['seconds']:.1f} s talking-head clip ({clip.n_frames} frames at {args.size} px, 25 fps) "
          f"in {time.perf_counter() - started:.1f} s")
    print(f"  person #{m['identity_index']}, voice {m['voice']['variant']}, emotion {m['emotion']}, "
          f"language {m['language']}")
    print(f"  says: {' '.join(m['sentences'])}")
    print(f"  video with sound: {paths['mp4']}")
    print(f"  16 kHz audio:     {paths['wav']}")
    print(f"  ground truth:     {paths['npz']}  (pose, mouth, gaze, blinks, landmarks, phonemes per frame)")
    return 0


def cmd_prepare(args: argparse.Namespace) -> int:
    from vasa_lab.data.prepare import run_from_args

    try:
        return run_from_args(args)   # 0: every clip kept, 1: some skipped (the table says which and why)
    except ValueError as err:
        raise CliError(str(err)) from None


def cmd_evaluate(args: argparse.Namespace) -> int:
    from .metrics.paper_table import run_from_args

    try:
        return run_from_args(args)   # 0: every video measured, 1: some skipped (each reported on stderr)
    except ValueError as err:
        raise CliError(str(err)) from None


def cmd_detect(args: argparse.Namespace) -> int:
    """One line per file (or one JSON object per line); the exit status sums them up for scripts."""
    import json

    from .provenance import detect_video

    codes = []
    for path in args.videos:
        r = detect_video(path)
        codes.append(r.exit_code)
        if args.json:
            print(json.dumps(dict(path=r.path, found=r.found, p_value=r.p_value, statistic=round(r.statistic, 3),
                                  payload=r.payload, credentials=r.credentials.state,
                                  credentials_summary=r.credentials.summary(), error=r.error, notes=r.notes)))
        else:
            line = r.summary()
            print(line.encode("utf-8", "backslashreplace").decode("utf-8"), file=sys.stderr if r.error else sys.stdout)
    return 2 if 2 in codes else (1 if 1 in codes else 0)


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a bad argument is one line on stderr (exit status 2), pointing at --help for the usage."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="vasa-lab", description="vasa_lab: a teachable reproduction of VASA-1")
    parser.add_argument("--version", action="version", version=f"vasa_lab {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("info", help="versions, profile, device and the artifact store")
    p.add_argument("--profile", default=None, help="tiny, small or full (default: $VASA_LAB_PROFILE or tiny)")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("synth", help="make a synthetic talking-head dataset")
    p.add_argument("--out", required=True, help="folder to write the clips and index.json into")
    p.add_argument("--clips", type=int, default=16)
    p.add_argument("--seconds", type=float, default=4.0)
    p.add_argument("--size", type=int, default=64, help="frame size in pixels, 64 to 512")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--language", default="en", help="en, fr or zh")
    p.add_argument("--clips-per-identity", type=int, default=2)
    p.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_synth)

    p = sub.add_parser("animate", help="the main job: one portrait + one speech clip -> a talking-face video")
    p.add_argument("--image", required=True, help="the portrait: any image file with one face")
    p.add_argument("--audio", required=True, help="the speech: wav, flac, mp3, m4a, ... (any length)")
    p.add_argument("--out", required=True, help="the video to write (.mp4)")
    p.add_argument("--gaze", default=None, metavar="THETA,PHI",
                   help="main eye-gaze direction in degrees, yaw,pitch (write --gaze=-10,5 for a negative yaw)")
    p.add_argument("--distance", type=float, default=None, help="head-to-camera distance, 1 = average, 1.2 = closer")
    p.add_argument("--emotion", default=None, help="neutral, happy, angry, surprised or sad")
    p.add_argument("--audio-scale", type=float, default=None,
                   help="audio guidance scale (default: the profile's, tiny 1.5, small 1; VASA-1 uses 0.5)")
    p.add_argument("--steps", type=int, default=None,
                   help="DDIM steps per window (default: the profile's, tiny 10, small 25)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--frame", choices=("photo", "crop"), default="photo",
                   help="photo: the whole photo at its resolution with the face animated (default); crop: the face "
                        "square the model draws")
    p.add_argument("--max-side", type=int, default=None,
                   help="with --frame photo: the video's longest side at most (default 1024; larger photos shrink)")
    p.add_argument("--size", type=int, default=None, help="with --frame crop: video size in pixels (default: the "
                                                          "model's own)")
    p.add_argument("--source-expression", choices=("tracked", "encoded"), default="tracked",
                   help="the portrait's own expression, which the face is animated from: tracked (default: read by "
                        "the face tracker, right for photographs) or encoded (the face model's own reading)")
    p.add_argument("--profile", default=None, help="tiny, small or full (default: $VASA_LAB_PROFILE or tiny)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--sign-key", default=None, metavar="PEM",
                   help="sign the video's content credentials with this private key + certificate chain (default: "
                        "a local TEST certificate, labelled as such)")
    p.set_defaults(func=cmd_animate)

    p = sub.add_parser("stream", help="the streaming path: a speech file played as if from a microphone -> video")
    p.add_argument("--image", required=True, help="the portrait: any image file with one face")
    p.add_argument("--audio", required=True, help="the speech: wav, flac, mp3, m4a, ... (any length)")
    p.add_argument("--out", required=True, help="the video to write (.mp4)")
    p.add_argument("--realtime", action="store_true",
                   help="feed the audio at its natural pace (as a microphone would) and drop frames that come late")
    p.add_argument("--lookahead-ms", type=float, default=80.0,
                   help="audio after a frame that must have arrived before it is drawn (default 80 ms)")
    p.add_argument("--stride", type=int, default=4, help="frames kept per motion window, at least (default 4)")
    p.add_argument("--chunk-ms", type=float, default=20.0, help="audio per chunk (default 20 ms)")
    p.add_argument("--gaze", default=None, metavar="THETA,PHI", help="main eye-gaze direction in degrees, yaw,pitch")
    p.add_argument("--distance", type=float, default=None, help="head-to-camera distance, 1 = average")
    p.add_argument("--emotion", default=None, help="neutral, happy, angry, surprised or sad")
    p.add_argument("--steps", type=int, default=10, help="DDIM steps per window (default 10: each step is latency)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--frame", choices=("photo", "crop"), default="crop",
                   help="crop: the face square (default, fastest); photo: the whole photo")
    p.add_argument("--report", default=None, help="also write the latency report here (.json)")
    p.add_argument("--profile", default=None, help="tiny, small or full (default: $VASA_LAB_PROFILE or tiny)")
    p.add_argument("--sign-key", default=None, metavar="PEM",
                   help="sign the video's content credentials with this private key + certificate chain (default: "
                        "a local TEST certificate, labelled as such)")
    p.set_defaults(func=cmd_stream)

    p = sub.add_parser("demo", help="the main job on the bundled portrait and a synthesized sentence")
    p.add_argument("--out", default="outputs/demo.mp4")
    p.add_argument("--language", default="en", help="en, fr or zh")
    p.add_argument("--emotion", default=None, help="neutral, happy, angry, surprised or sad")
    p.add_argument("--steps", type=int, default=None,
                   help="DDIM steps per window (default: the profile's, small 25)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--size", type=int, default=None,
                   help="the face crop at this size (default: the whole 256 px portrait, the face animated in place)")
    p.add_argument("--profile", default=None, help="tiny or small (default: small, whose weights ship)")
    p.add_argument("--seconds", type=float, default=None, help="cut the sentence to this many seconds")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--sign-key", default=None, metavar="PEM",
                   help="sign the video's content credentials with this private key + certificate chain (default: "
                        "a local TEST certificate, labelled as such)")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("synth-demo", help="one synthetic talking-head clip with its ground truth (chapter 01)")
    p.add_argument("--out", default="outputs/synth_demo.mp4")
    p.add_argument("--seconds", type=float, default=6.0)
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--index", type=int, default=0)
    p.add_argument("--language", default="en")
    p.set_defaults(func=cmd_synth_demo)

    from vasa_lab.data.prepare import add_arguments

    p = sub.add_parser("prepare", help="prepare a folder of talking-head videos (or a synthetic world) for training")
    add_arguments(p)
    p.set_defaults(func=cmd_prepare)

    from .metrics.paper_table import add_arguments as add_evaluate_arguments

    p = sub.add_parser("evaluate", help="S_C, S_D, CAPP, dP, FVD_25 and identity of generated vs real videos")
    add_evaluate_arguments(p)
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("serve", help="a live avatar in your browser: speak or type, the portrait talks back")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--host", default="127.0.0.1",
                   help="127.0.0.1 (default: this computer only); another address needs a token (made if not given)")
    p.add_argument("--token", default=None, help="a secret every request must carry (?token=...)")
    p.add_argument("--image", default=None, help="a portrait to offer first (the page offers three more)")
    p.add_argument("--profile", default=None, help="tiny, small or full (default: $VASA_LAB_PROFILE or tiny)")
    p.add_argument("--max-streams", type=int, default=1,
                   help="streams at once; one more is told busy (a 2-core CPU keeps 1 in real time: benchmarks/bench_serve.py)")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("detect", help="is a video ours? its watermark and content credentials (exit 0 none, 1 found, "
                                      "2 unreadable)")
    p.add_argument("videos", nargs="+", metavar="VIDEO", help="video or image files")
    p.add_argument("--json", action="store_true", help="one JSON object per file")
    p.set_defaults(func=cmd_detect)
    return parser


def _one_line_warnings() -> None:
    """A video that could not be signed is said in one line, not with a source line from the library."""
    import warnings

    default = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):
        if category.__name__ == "CredentialsWarning":          # by name: no import of the provenance package here
            print(f"vasa-lab: warning: {message}", file=sys.stderr)
        else:
            default(message, category, filename, lineno, file, line)

    warnings.showwarning = show


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _one_line_warnings()
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as err:   # bad input and known faults: one line (VASA_LAB_DEBUG=1 shows the traceback)
        if os.environ.get("VASA_LAB_DEBUG"):
            raise
        from .artifacts import ArtifactCorrupt, ArtifactMissing, ArtifactUnwritable
        from .media import MediaError
        from .tracking.tracker import NoFaceError

        from .provenance import CredentialsError

        known = (CliError, ValueError, FileNotFoundError, MediaError, NoFaceError, ArtifactCorrupt, ArtifactMissing,
                 ArtifactUnwritable, FloatingPointError, OSError, CredentialsError)
        text = " ".join(str(err).split()) or type(err).__name__
        if not isinstance(err, known):
            text = f"unexpected {type(err).__name__}: {text} (set VASA_LAB_DEBUG=1 to see where)"
        line = f"vasa-lab {args.command}: error: {text}"      # a non-UTF-8 file name prints with \x escapes
        print(line.encode("utf-8", "backslashreplace").decode("utf-8"), file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
