"""Faults survived with nothing lost: workers killed mid-run, whole runs interrupted and run again, no network.

Each test runs the real command line in a child process (``python -m vasa_lab.cli``) and does to it what the OOM
killer, a Ctrl-C or a power cut would do.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import psutil
import pytest

CLI = [sys.executable, "-m", "vasa_lab.cli"]
ENV = dict(os.environ, VASA_LAB_PROFILE="tiny", PYTHONFAULTHANDLER="1")


def sigint_as_at_a_terminal() -> None:
    """A shell's background job (``cmd &`` without job control) starts with SIGINT ignored, and so would every run
    these tests start: Ctrl-C at a terminal is what they stand for, so the child gets the default back."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start(args: list[str], **kwargs) -> subprocess.Popen:
    return subprocess.Popen(CLI + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV,
                            start_new_session=True, preexec_fn=sigint_as_at_a_terminal, **kwargs)


def wait_for(condition, timeout: float = 120.0, what: str = "") -> None:
    t0 = time.time()
    while not condition():
        if time.time() - t0 > timeout:
            raise TimeoutError(f"waited {timeout:.0f} s for {what}")
        time.sleep(0.05)


def workers_of(proc: subprocess.Popen) -> list[psutil.Process]:
    """The pool's worker processes (spawned children running multiprocessing's spawn_main)."""
    try:
        children = psutil.Process(proc.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []
    out = []
    for c in children:
        try:
            cmd = " ".join(c.cmdline())
        except psutil.Error:
            continue
        if "spawn_main" in cmd:
            out.append(c)
    return out


def finish(proc: subprocess.Popen, timeout: float = 240.0) -> tuple[int, str, str]:
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        raise AssertionError(f"the run hung for {timeout:.0f} s")
    return proc.returncode, out, err


def synth_args(out: Path, clips: int = 4) -> list[str]:
    return ["synth", "--out", str(out), "--clips", str(clips), "--seconds", "2", "--size", "64", "--seed", "7",
            "--workers", "2", "--quiet"]


def test_a_worker_killed_mid_synth_is_retried_and_the_run_finishes(tmp_path):
    out = tmp_path / "world"
    proc = start(synth_args(out))
    wait_for(lambda: len(workers_of(proc)) == 2 and list(out.glob("*.npz")), what="the first clip")
    victim = workers_of(proc)[0]
    victim.kill()                                            # SIGKILL, as the OOM killer does
    code, _, err = finish(proc)
    assert code == 0, err
    index = json.loads((out / "index.json").read_text())
    assert len(index["clips"]) == 4 and not index["failed"]
    assert not list(out.glob("*.tmp.npz"))


@pytest.fixture(scope="module")
def clean_world(tmp_path_factory) -> Path:
    """The world of ``synth_args`` made in one go, in this process."""
    from vasa_lab.world.dataset import WorldSpec, synthesize_dataset

    out = tmp_path_factory.mktemp("clean")
    synthesize_dataset(out, WorldSpec(clips=4, seconds=2.0, size=64, seed=7), workers=1, progress=False)
    return out


@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGKILL])
def test_an_interrupted_synth_resumes_and_matches_an_uninterrupted_one(tmp_path, how, clean_world):
    out, clean = tmp_path / "world", clean_world
    proc = start(synth_args(out))
    wait_for(lambda: list(out.glob("*.npz")), what="the first clip")
    os.killpg(proc.pid, how)
    code, _, _ = finish(proc)
    assert code != 0
    assert not (out / "index.json").exists() or json.loads((out / "index.json").read_text())  # never half-written
    code, stdout, err = finish(start(synth_args(out)))
    assert code == 0, err
    assert "already there" in stdout
    for i in range(4):
        for ext in ("wav", "npz"):
            assert (out / f"{i:06d}.{ext}").read_bytes() == (clean / f"{i:06d}.{ext}").read_bytes(), (i, ext)


@pytest.fixture(scope="module")
def small_world(tmp_path_factory) -> Path:
    from vasa_lab.world.dataset import WorldSpec, synthesize_dataset

    out = tmp_path_factory.mktemp("videos")
    synthesize_dataset(out, WorldSpec(clips=4, seconds=2.0, size=128, seed=3), workers=1, progress=False)
    return out


def prepare_args(src: Path, out: Path) -> list[str]:
    return ["prepare", "--input", str(src), "--out", str(out), "--size", "64", "--workers", "2", "--quiet",
            "--min-seconds", "1"]


def prepared_keys(out: Path) -> set[str]:
    index = json.loads((out / "index.json").read_text())
    return {c["key"] for c in index["clips"]}


def test_a_worker_killed_mid_prepare_is_retried_or_reported(tmp_path, small_world):
    out = tmp_path / "prepared"
    proc = start(prepare_args(small_world, out))
    wait_for(lambda: len(workers_of(proc)) == 2, what="the workers")
    time.sleep(1.0)
    workers_of(proc)[0].kill()
    code, stdout, err = finish(proc)
    assert code in (0, 1), err                   # 1: some video skipped, and the report says which and why
    done = [json.loads(p.read_text()) for p in (out / "done").glob("*.json")]
    assert len(done) == 4                        # every video has its record: kept, or skipped with a reason
    assert len(prepared_keys(out)) == sum(d["status"] == "kept" for d in done)


def test_an_interrupted_prepare_resumes(tmp_path, small_world):
    out = tmp_path / "prepared"
    proc = start(prepare_args(small_world, out))
    wait_for(lambda: (out / "done").is_dir() and list((out / "done").glob("*.json")), what="the first video")
    os.killpg(proc.pid, signal.SIGKILL)
    finish(proc)
    code, stdout, err = finish(start(prepare_args(small_world, out)))
    assert code == 0, err
    assert len(prepared_keys(out)) == 4
    for shard in (out / "shards").glob("*.tar"):
        assert shard.with_suffix(".json").exists()


def test_animate_killed_midway_leaves_no_video_that_looks_finished(tmp_path):
    import soundfile as sf

    from vasa_lab.pipeline.animate import DEMO_PORTRAIT, demo_speech

    wav = tmp_path / "long.wav"
    sf.write(wav, np.tile(demo_speech(), 2), 16000)          # ~14 s of speech: killed as its first frames are written
    out = tmp_path / "talk.mp4"
    args = ["animate", "--image", str(DEMO_PORTRAIT), "--audio", str(wav), "--out", str(out), "--quiet"]
    proc = start(args)
    partial = tmp_path / ".talk.partial.mp4"
    wait_for(lambda: partial.exists() and partial.stat().st_size > 0, what="the video to start")
    os.killpg(proc.pid, signal.SIGKILL)
    finish(proc)
    assert not out.exists()
    code, _, err = finish(start(args))
    assert code == 0, err
    from vasa_lab.media import video_info

    assert video_info(out)["seconds"] > 13


def test_the_demo_opens_no_network_connection(tmp_path):
    """The whole main job with every socket refused: nothing is downloaded at run time."""
    guard = tmp_path / "sitecustomize.py"
    guard.write_text(
        "import socket\n"
        "def _refuse(*a, **k):\n"
        "    raise RuntimeError('network access attempted')\n"
        "class _NoSocket(socket.socket):\n"
        "    def connect(self, *a, **k): _refuse()\n"
        "    def connect_ex(self, *a, **k): _refuse()\n"
        "socket.socket = _NoSocket\n"
        "socket.create_connection = _refuse\n"
        "socket.getaddrinfo = _refuse\n")
    env = dict(ENV, PYTHONPATH=f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
               HF_HUB_OFFLINE="0", TRANSFORMERS_OFFLINE="0")
    proc = subprocess.run(CLI + ["demo", "--out", str(tmp_path / "demo.mp4"), "--quiet", "--seconds", "2"],
                          capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "network access attempted" not in proc.stderr
    assert (tmp_path / "demo.mp4").stat().st_size > 0


def test_nan_motion_stops_with_a_clear_error_and_no_video(tmp_path):
    """A damaged motion model (NaN in its weights) must not write a black or frozen video."""
    import torch

    from vasa_lab.pipeline.animate import DEMO_PORTRAIT, Animator, demo_speech
    from vasa_lab.motion import load_motion_model

    broken = load_motion_model("tiny")
    with torch.no_grad():      # the output layer: on every window's path (a null token is not, once the motion
        broken.head.weight.fill_(float("nan"))      # starts from the portrait's own code)
    out = tmp_path / "nan.mp4"
    with pytest.raises(FloatingPointError, match="NaN"):
        Animator("tiny", motion=broken, device="cpu").animate(DEMO_PORTRAIT, demo_speech()[:16000], out,
                                                             progress=False)
    assert not out.exists() and not list(tmp_path.glob("*.mp4"))
