"""Run an ``mmff`` command in a child process and SIGKILL it (with its loader / pool workers) at
a chosen point - the kill-and-resume tests of test_resume.py.

The child is forked from the test process (no second torch + Lightning import: ~10 s saved per
run), makes itself a process group leader and runs ``mmff.cli.main(argv)``. A *pause point*
makes it stop at an exact place (e.g. right after the optimiser step ``n`` of stage 1's RGB
run), write ``paused.json`` and wait; the parent then sends SIGKILL to the whole group, so the
state on disk is whatever a kill at that instant leaves. Without a pause point the parent
kills when ``kill_when()`` (polled) turns true.

Every fit also appends ``{"kind", "stage", "global_step", "epoch"}`` at ``on_train_start`` to
``starts.jsonl`` (where a (resumed) run really started) and at each ``on_validation_start`` to
``validations.jsonl`` (which validations ran).
"""
from __future__ import annotations

import json
import multiprocessing as mp
import os
import signal
import sys
import time
import traceback
from pathlib import Path
from typing import Callable, Optional

__all__ = ["run_child", "Killed"]


class Killed(dict):
    """What the child reported when it paused (empty when killed by ``kill_when``)."""


def _write_json(path: Path, obj: dict) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(obj))
    os.replace(tmp, path)


def _install_hooks(pause: Optional[dict], paused: Path, starts: Path) -> None:
    """Pause points on MMFFModule (the module's hooks run after the callbacks' at each point,
    so e.g. a ``batch_end`` pause comes after the step checkpoint of that step)."""
    from mmff.engine.lightning import MMFFModule

    def where(self) -> dict:
        return {"kind": self.cfg.model.kind, "stage": int(self.stage),
                "global_step": int(self.global_step), "epoch": int(self.current_epoch)}

    def stop(self, hook: str) -> None:
        _write_json(paused, {"hook": hook, **where(self)})
        time.sleep(3600)  # the parent kills the whole process group now

    seen = {"n": 0}

    def due(self, hook: str) -> bool:
        """``pause``: {"hook", and any of kind / stage / global_step / epoch, "nth": n (the n-th
        time everything else matches in this process; default 1)}."""
        if not pause or pause["hook"] != hook:
            return False
        w = where(self)
        if not all(w[k] == v for k, v in pause.items() if k not in ("hook", "nth")):
            return False
        seen["n"] += 1
        return seen["n"] == pause.get("nth", 1)

    def wrap(name: str, extra: Callable) -> None:
        orig = getattr(MMFFModule, name)

        def hook(self, *args, **kwargs):
            out = orig(self, *args, **kwargs)
            extra(self)
            return out
        setattr(MMFFModule, name, hook)

    def record(name: str) -> Callable:
        def add(self) -> None:
            with open(starts.parent / name, "a") as f:
                f.write(json.dumps(where(self)) + "\n")
        return add

    wrap("on_train_start", record(starts.name))
    wrap("on_validation_start", record("validations.jsonl"))
    for hook in ("on_fit_start", "on_train_batch_end", "on_train_epoch_start", "on_validation_start"):
        wrap(hook, lambda self, hook=hook: due(self, hook) and stop(self, hook))


def _child(argv: list[str], pause: Optional[dict], folder: str) -> None:
    os.setpgrp()  # a group of its own: the kill takes its DataLoader / pool workers too
    d = Path(folder)
    log = os.open(d / "child.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    os.dup2(log, 1)
    os.dup2(log, 2)
    sys.stdout = os.fdopen(1, "w", buffering=1)
    sys.stderr = os.fdopen(2, "w", buffering=1)
    # a forkserver / resource tracker the test process started belongs to it (outside this
    # group, and its connection is not ours): start our own
    from multiprocessing import forkserver, resource_tracker
    forkserver._forkserver.__init__()
    resource_tracker._resource_tracker.__init__()
    _install_hooks(pause, d / "paused.json", d / "starts.jsonl")
    from mmff.cli import main
    code = 1
    try:
        code = main(argv)
    except BaseException:  # noqa: BLE001 (report it: os._exit below would swallow it)
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def run_child(argv: list[str], folder: Path, pause: Optional[dict] = None,
              kill_when: Optional[Callable[[], bool]] = None, timeout: float = 300) -> Optional[Killed]:
    """Run ``mmff argv`` in a forked child; returns :class:`Killed` if it was killed, ``None``
    if it ran to the end (exit status 0 asserted; the child's output is in ``folder/child.log``)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paused = folder / "paused.json"
    paused.unlink(missing_ok=True)
    p = mp.get_context("fork").Process(target=_child, args=(list(argv), pause, str(folder)))
    p.start()
    deadline = time.monotonic() + timeout
    killed: Optional[Killed] = None
    try:
        while p.is_alive():
            if paused.exists():
                killed = Killed(json.loads(paused.read_text()))
            elif kill_when is not None and kill_when():
                killed = Killed()
            if killed is not None:
                os.killpg(p.pid, signal.SIGKILL)
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"mmff {' '.join(argv)}: still running after {timeout} s")
            time.sleep(0.02)
        p.join(timeout=60)
    finally:
        if p.is_alive() or killed is None and p.exitcode is None:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            p.join(timeout=60)
    if killed is not None:
        assert p.exitcode == -signal.SIGKILL, p.exitcode
        _wait_group_gone(p.pid)
        return killed
    log = (folder / "child.log").read_text() if (folder / "child.log").exists() else ""
    assert p.exitcode == 0, f"mmff {' '.join(argv)} exited with {p.exitcode}:\n{log[-3000:]}"
    return None


def _alive_in_group(pgid: int) -> list[int]:
    """Pids of the group's processes that are not zombies (/proc/<pid>/stat: state, ppid, pgrp)."""
    alive = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] not in "ZX":
            alive.append(int(stat.parent.name))
    return alive


def _wait_group_gone(pgid: int, timeout: float = 30) -> None:
    """The killed group's workers are gone (they would otherwise still write files)."""
    deadline = time.monotonic() + timeout
    while _alive_in_group(pgid):
        if time.monotonic() > deadline:
            raise TimeoutError(f"process group {pgid} still alive after SIGKILL: {_alive_in_group(pgid)}")
        time.sleep(0.02)
