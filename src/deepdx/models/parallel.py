"""Train several algorithm groups at once, each in a process of its own (``train.jobs``).

A training step multiplies small matrices (batches of 64 through 512 units), which keep a
second CPU thread half idle: on the 2-core machine two groups trained side by side on one
thread each finish sooner than the same two trained in turn on two threads
(``bench/train_parallel.py``).  A group's weights depend on its seed and ``train.threads``
alone, never on which other group shares the machine, so ``train.jobs`` changes how long
training takes and not what it gives (tested).
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import FIRST_EXCEPTION, ProcessPoolExecutor, wait
from dataclasses import replace
from pathlib import Path

from lightning.pytorch.callbacks import Callback
from tqdm import tqdm

from .. import config_reads
from ..config import Config
from .train import train_group


class EpochReport(Callback):
    """After every epoch, tells the parent process how far its group is: (group, share done)."""

    def __init__(self, queue, group: int):
        self.queue, self.group = queue, group

    def on_train_epoch_end(self, trainer, module) -> None:
        self.queue.put((self.group, (trainer.current_epoch + 1) / max(1, trainer.max_epochs)))


def _train_reporting(queue, group: int, *args, **kwargs) -> tuple[dict, set[str]]:
    """In a worker: the group's summary, and the config keys its training read."""
    summary = train_group(group, *args, callbacks=[EpochReport(queue, group)], **kwargs)
    queue.put((group, 1.0))
    return summary, config_reads.read()


def train_groups(
    groups: list[int],
    split_dir: str,
    models_dir,
    cfg: Config,
    routing: dict,
    jobs: int | None = None,
    run_name: str | None = None,
    **kwargs,
) -> list[dict]:
    """:func:`deepdx.models.train.train_group` for each of ``groups``, ``jobs`` (default
    ``cfg.train.jobs``) at a time, into ``models_dir/group<g>``, with the split stage's
    ``routing`` (categories, each group's algorithms); ``run_name``: the MLflow runs' name
    before the group's (default ``group<g>``); ``kwargs`` go to every call.  Returns the
    summaries in the order of ``groups``.  With one job (or one group) the groups train here,
    in turn, each with Lightning's progress bar; with more, in spawned processes, under one
    bar of groups done.  The first group to fail cancels those not yet started, and its error
    is raised once the running ones end (an interrupted group resumes from its checkpoint)."""
    jobs = min(cfg.train.jobs if jobs is None else jobs, len(groups))
    calls = {g: (split_dir, str(Path(models_dir) / f"group{g}")) for g in groups}
    more = lambda g: {**kwargs, "run_name": None if run_name is None else f"g{g} {run_name}"}
    if jobs <= 1:
        return [train_group(g, *calls[g], cfg, routing["categories"], routing["groups"][g], **more(g)) for g in groups]
    quiet = config_reads.key(
        replace(cfg, train=replace(cfg.train, progress_bar=False))
    )  # one bar here, not one a process
    context = multiprocessing.get_context("spawn")  # a fork would copy torch's thread pools mid-state
    with context.Manager() as manager, ProcessPoolExecutor(jobs, mp_context=context) as pool:
        queue = manager.Queue()
        futures = {
            pool.submit(
                _train_reporting, queue, g, *calls[g], quiet, routing["categories"], routing["groups"][g], **more(g)
            ): g
            for g in groups
        }
        done = {g: 0.0 for g in groups}
        bar = tqdm(
            total=len(groups),
            desc=f"train {jobs} groups at a time",
            unit="group",
            bar_format="{desc}: {n:.2f}/{total} groups |{bar}| {elapsed}<{remaining}",
            disable=not cfg.train.progress_bar,
        )
        pending = set(futures)
        while pending:
            finished, pending = wait(pending, timeout=2, return_when=FIRST_EXCEPTION)
            while not queue.empty():
                g, share = queue.get()
                done[g] = share
                bar.n = min(len(groups), sum(done.values()))
                bar.refresh()
            if any(f.exception() for f in finished):
                for f in pending:
                    f.cancel()
                wait(pending)
                break
        bar.close()
        failed = [f for f in futures if not f.cancelled() and f.exception()]
        if failed:
            raise failed[0].exception()
        for f in futures:
            config_reads.note(f.result()[1])
        return [f.result()[0] for f in sorted(futures, key=lambda f: groups.index(futures[f]))]
