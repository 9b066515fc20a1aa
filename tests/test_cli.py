"""The vasa-lab command: bad arguments get one clear line and exit status 2, never a traceback."""
import os
import stat
import subprocess
import sys

import pytest

from vasa_lab.cli import main


def run(*args):
    return subprocess.run([sys.executable, "-m", "vasa_lab.cli", *args], capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("args, message", [
    (["--clips", "-3"], "--clips must be at least 1"),
    (["--seconds", "0"], "--seconds must be between"),
    (["--size", "20"], "--size must be between 64 and 512"),
    (["--language", "klingon"], "unknown language 'klingon'; choose one of en, fr, zh"),
    (["--seed", "-1"], "--seed must be non-negative"),
])
def test_synth_bad_arguments(tmp_path, capsys, args, message):
    code = main(["synth", "--out", str(tmp_path / "w"), *args])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_synth_unwritable_folder_nonroot(tmp_path, capsys):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(stat.S_IRUSR | stat.S_IXUSR)
    assert main(["synth", "--out", str(locked / "w"), "--clips", "1"]) == 2
    assert "cannot write" in capsys.readouterr().err


def test_synth_unwritable_folder(tmp_path, capsys):
    a_file = tmp_path / "not_a_folder"
    a_file.write_text("x")
    assert main(["synth", "--out", str(a_file / "w"), "--clips", "1", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "cannot write to" in err and "Traceback" not in err


def test_synth_makes_a_dataset_in_a_subprocess(tmp_path):
    result = run("synth", "--out", str(tmp_path / "w"), "--clips", "2", "--seconds", "1", "--quiet", "--workers", "1")
    assert result.returncode == 0, result.stderr
    assert "2 clips" in result.stdout
    assert (tmp_path / "w" / "index.json").exists()


def test_info_prints_versions_and_store(tmp_path):
    env = dict(os.environ, VASA_LAB_HOME=str(tmp_path))
    result = subprocess.run([sys.executable, "-m", "vasa_lab.cli", "info"], capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr
    for word in ("vasa_lab", "torch", "profile  tiny", "device", "store"):
        assert word in result.stdout


def test_demo_writes_the_video(tmp_path, capsys):
    out = tmp_path / "demo.mp4"
    assert main(["demo", "--out", str(out), "--seconds", "1", "--size", "64"]) == 0
    assert out.exists() and out.stat().st_size > 1000
    assert "video with sound" in capsys.readouterr().out


def test_demo_rejects_a_non_mp4_name(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path / "demo.avi")]) == 2
    assert "must end in .mp4" in capsys.readouterr().err


def test_the_command_and_the_preparing_workers_start_without_torch_or_lightning():
    """Importing Lightning takes ~10 s on a 2-core machine; the command's parser, `vasa-lab prepare`'s worker
    processes and the modules the inference chapters use must not pay it (torch only where a model runs)."""
    code = ("import sys, vasa_lab.cli, vasa_lab.data.prepare; vasa_lab.cli.build_parser(); "
            "heavy = {m for m in ('torch', 'lightning') if m in sys.modules}; "
            "import vasa_lab.metrics.motion_codes, vasa_lab.motion.stream, vasa_lab.pipeline.animate; "
            "print(sorted(heavy), 'lightning' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["[]", "False"], out.stdout
