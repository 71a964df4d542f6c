"""What both model families share in training: the probe after every epoch, the selection of
the kept epoch on validation voices, the moving average of the weights, and exact resumption.

A family's LightningModule subclasses :class:`Probed` and provides ``kept`` (the network that
is probed and exported), ``voice_generator`` (that network behind the generator interface:
``sample(category, algorithm, generator)`` gives valid voices), ``net_cfg`` (its
architecture, with ``to_dict``), ``losses`` (this epoch's, by name) and ``COUNTERS`` (the step
counters a checkpoint must keep).  The probe runs every ``probe_every`` epochs and after the
last; ``select`` keeps the epoch with the best ``coverage`` or
``balanced`` probe score, or the ``last``; ``patience`` > 0 stops a run that many epochs after
its best.
"""

from __future__ import annotations

import lightning.pytorch as pl
import numpy as np
import torch

from .diagnostics import CollapseProbe


class Probed(pl.LightningModule):
    COUNTERS: tuple[str, ...] = ()

    def _start_probed(self, losses: tuple[str, ...]) -> None:
        """In a subclass's ``__init__``, after ``save_hyperparameters`` (select, patience, seed)."""
        self.probe: CollapseProbe | None = None
        self.probe_every = 1  # epochs between probes (train.probe_every), and always the last
        self.best: dict = {"score": -np.inf, "epoch": -1, "generator": None}
        self.history: list[dict] = []  # the probe's figures, epoch by epoch
        self.losses: dict[str, list[torch.Tensor]] = {name: [] for name in losses}  # this epoch's, step by step
        for name in self.COUNTERS:
            setattr(self, name, 0)

    @staticmethod
    @torch.no_grad()
    def update_average(average: torch.nn.Module, net: torch.nn.Module, cap: float, steps: int) -> None:
        """Move ``average``'s weights towards ``net``'s: the decay (1 + s) / (10 + s) after ``steps``
        steps, at most ``cap``, so that the average follows quickly at first and early weights do
        not linger in it."""
        decay = min(cap, (1 + steps) / (10 + steps))
        for kept, new in zip(average.state_dict().values(), net.state_dict().values()):
            if kept.is_floating_point():
                kept.lerp_(new, 1 - decay)
            else:  # batch norm's counters
                kept.copy_(new)

    def decay_rates(self, steps: int, rates: list[tuple[torch.optim.Optimizer, float]]) -> None:
        """Each optimiser at its base rate until the last ``lr_decay`` share of the run's steps,
        then falling linearly to 0 at its end (a function of the step count, which a checkpoint
        keeps, so a resumed run decays as an uninterrupted one)."""
        total = self.trainer.max_epochs * self.trainer.num_training_batches
        factor = min(1.0, max(0.0, (1 - steps / total) / self.hparams.lr_decay))
        for opt, base in rates:
            for group in opt.param_groups:
                group["lr"] = base * factor

    def on_train_epoch_end(self) -> None:
        for name, values in self.losses.items():  # once an epoch: self.log on every step cost about 0.8 ms (2 %)
            if values:
                self.log(name, torch.stack(values).mean(), prog_bar=True)
            values.clear()
        last = self.current_epoch + 1 >= self.trainer.max_epochs
        if self.probe is None or not (last or (self.current_epoch + 1) % self.probe_every == 0):
            return
        generator = self.voice_generator()  # batch norm, if any, in eval mode: no batch statistics
        samples = generator.sample(
            torch.from_numpy(self.probe.category),
            torch.from_numpy(self.probe.algorithm),
            torch.Generator().manual_seed(self.hparams.seed),
        )
        metrics = self.probe(samples, self.probe.category)
        self.history.append({"epoch": self.current_epoch, **metrics})
        for key, value in metrics.items():
            self.log(f"probe/{key}", value, prog_bar=key in ("coverage", "balanced"))
        select = self.hparams.select
        if select != "last" and metrics[select] > self.best["score"]:
            self.best = {
                "score": metrics[select],
                "epoch": self.current_epoch,
                "metrics": metrics,
                "generator": {k: v.detach().cpu().clone() for k, v in self.kept.state_dict().items()},
            }
        if select != "last":
            self.log("probe/best_epoch", float(self.best["epoch"]))
            patience = self.hparams.patience
            if patience and self.current_epoch - self.best["epoch"] >= patience:
                self.trainer.should_stop = True

    # An interrupted run resumes exactly: the noise stream continues where it stopped (the
    # data order is a function of seed and epoch, see GroupDataModule), and the best epoch
    # so far is remembered.  On a GPU the CUDA generators' states are kept too, so the noise
    # continues there as well; a GPU run promises figures within the seed spread of a CPU run,
    # not its bits (docs: reproducibility).
    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["torch_rng_state"] = torch.get_rng_state()
        if torch.cuda.is_available():
            checkpoint["cuda_rng_states"] = torch.cuda.get_rng_state_all()
        checkpoint["best"] = self.best
        for name in self.COUNTERS:
            checkpoint[name] = getattr(self, name)
        checkpoint["history"] = self.history

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        if "torch_rng_state" in checkpoint:
            torch.set_rng_state(checkpoint["torch_rng_state"])
        if "cuda_rng_states" in checkpoint and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(checkpoint["cuda_rng_states"])
        self.best = checkpoint.get("best", self.best)
        for name in self.COUNTERS:
            setattr(self, name, checkpoint.get(name, getattr(self, name)))
        self.history = checkpoint.get("history", self.history)

    def export(self) -> dict:
        """What generation needs, as plain tensors and values (loadable with weights_only=True):
        the selected epoch's network (or the last one's)."""
        chosen = self.best["generator"] if self.best["generator"] is not None else self.kept.state_dict()
        return {
            "generator": {k: v.cpu() for k, v in chosen.items()},
            "net": self.net_cfg.to_dict(),
            "epoch": int(self.best["epoch"] if self.best["generator"] is not None else self.current_epoch),
        }


def without_lightning(module: Probed) -> Probed:
    """The module's own training step, callable from a plain loop (benchmarks, tests): its
    optimisers and backward passes handed over directly, no Trainer."""
    opts = module.configure_optimizers()
    module.optimizers = lambda: opts
    module.manual_backward = lambda loss: loss.backward()
    return module
