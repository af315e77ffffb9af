"""Ctrl-C and SIGTERM during `gpucluster embed`: the batches written are kept, the
command says so, exits 130 / 143, and the same command resumes."""

import os
import re
import signal
import subprocess
import sys

import pytest

pytest.importorskip("torch")
pytest.importorskip("open_clip")

from gpucluster.cli import main  # noqa: E402
from gpucluster.embed._interrupt import (  # noqa: E402
    EmbeddingInterrupted,
    Terminated,
    exit_status,
    sigterm_as_interrupt,
)

from .imagegen import write_image_set  # noqa: E402

BATCH = 4
# The CLI with the store's write slowed after the second batch: the process waits
# there (having committed 2 batches) until the test's signal arrives. The wait is
# many short sleeps: the kernel may hand the signal to one of torch's or Numba's
# threads, and then only the main thread's next bytecode (not an interrupted
# sleep) raises KeyboardInterrupt; one long sleep made the test time out under load.
SLOW_AFTER_TWO = """
import sys, time
from gpucluster.embed.store import EmbeddingStore
write = EmbeddingStore.write_batch
written = []
def write_then_wait(self, *args, **kwargs):
    write(self, *args, **kwargs)
    written.append(1)
    print("batch written", flush=True)
    if len(written) == 2:
        for _ in range(1200):
            time.sleep(0.1)
EmbeddingStore.write_batch = write_then_wait
from gpucluster.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _default_sigint():
    """In the child, before Python starts: SIGINT back to its default action. A test run
    started in the background (a CI job, `nohup ... &`) inherits SIGINT ignored, and a
    Python started so installs no KeyboardInterrupt handler, so the test's Ctrl-C would
    never arrive."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _embed_args(images, store):
    return ["embed", str(images), "--out", str(store), "--model", "gpucluster-tiny",
            "--pretrained", "none", "--device", "cpu", "--num-workers", "0",
            "--batch-size", str(BATCH), "--quiet"]


@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)],
                         ids=["SIGINT", "SIGTERM"])
def test_interrupted_embed_keeps_its_batches_and_the_rerun_resumes(tmp_path, capsys, signum,
                                                                   code):
    write_image_set(tmp_path / "images", n=24, groups=3, seed=0)
    store = tmp_path / "store"
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen([sys.executable, "-c", SLOW_AFTER_TWO,
                             *_embed_args(tmp_path / "images", store)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            preexec_fn=_default_sigint)
    try:
        for _ in range(2):
            line = proc.stdout.readline()
            assert line == "batch written\n", (line, proc.stderr.read()[-2000:])
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == code, err[-2000:]
    assert re.search(rf"gpucluster embed: interrupted: {2 * BATCH} images embedded and kept in "
                     rf"{re.escape(str(store))}\S*; run the same command again to resume", err), err
    assert "Traceback" not in err

    # The rerun in this process: it only has to read the store the first one left.
    assert main(_embed_args(tmp_path / "images", store)) == 0
    assert f"24 selected, {24 - 2 * BATCH} embedded, {2 * BATCH} reused" in capsys.readouterr().out


def test_sigterm_raises_only_inside_the_block_and_the_old_handler_returns():
    before = signal.getsignal(signal.SIGTERM)
    with sigterm_as_interrupt():
        assert signal.getsignal(signal.SIGTERM) is not before
        with pytest.raises(Terminated) as caught:
            signal.raise_signal(signal.SIGTERM)
    assert signal.getsignal(signal.SIGTERM) is before
    assert isinstance(caught.value, KeyboardInterrupt) and exit_status(caught.value) == 143
    assert exit_status(KeyboardInterrupt()) == 130


def test_interrupted_message_counts_with_thousands_separators():
    exc = EmbeddingInterrupted(1234, 56, "/tmp/store/x", signal.SIGTERM)
    assert str(exc) == ("interrupted: 1,234 images embedded and kept in /tmp/store/x "
                        "(56 were there already); run the same command again to resume")
    assert exit_status(exc) == 143 and isinstance(exc, KeyboardInterrupt)


def test_interrupted_message_counts_one_image_in_the_singular():
    exc = EmbeddingInterrupted(1, 1, "/tmp/store/x")
    assert str(exc) == ("interrupted: 1 image embedded and kept in /tmp/store/x "
                        "(1 was there already); run the same command again to resume")


def test_run_reports_an_interrupted_embedding_and_exits_143(monkeypatch, capsys, tmp_path):
    """`gpucluster run` catches what its embedding step raises, with SIGTERM's handler
    installed only while the command runs."""
    import gpucluster.pipeline

    before = signal.getsignal(signal.SIGTERM)
    seen = []

    def interrupted(*args, **kwargs):
        seen.append(signal.getsignal(signal.SIGTERM))
        raise EmbeddingInterrupted(40, 0, str(tmp_path / "store"), signal.SIGTERM)

    monkeypatch.setattr(gpucluster.pipeline, "run_images", interrupted)
    assert main(["run", str(tmp_path), "--model", "gpucluster-tiny", "--quiet"]) == 143
    err = capsys.readouterr().err
    assert (f"gpucluster run: interrupted: 40 images embedded and kept in {tmp_path / 'store'}; "
            "run the same command again to resume") in err
    assert seen and seen[0] is not before and signal.getsignal(signal.SIGTERM) is before
