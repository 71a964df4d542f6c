"""The LightningDataModule: one algorithm group's training voices in the networks'
representation (:mod:`.codec`) with their categories and algorithms, and its validation
voices for the probe.  It never opens the held-out split (only the
evaluate stage does: see deepdx.corpus.split)."""

from __future__ import annotations

import lightning.pytorch as pl
import numpy as np
import torch
from torch.utils.data import DataLoader, Sampler, TensorDataset

from ..corpus.split import group_path
from ..corpus.table import read_table, take
from ..dx7.params import INDEX


def load_group(split_dir: str, split: str, group: int, limit: int | None = None, seed: int = 0) -> dict:
    """A group's voices of one split (train | validation), optionally a seeded subset."""
    table = read_table(group_path(split_dir, split, group))
    if limit is not None and limit < len(table["params"]):
        rows = np.sort(np.random.default_rng(seed).choice(len(table["params"]), limit, replace=False))
        table = take(table, rows)
    return table


class EpochShuffle(Sampler):
    """A shuffle that depends on (seed, epoch) only, so a resumed run sees the order it would
    have seen; Lightning calls ``set_epoch`` before every epoch."""

    def __init__(self, n: int, seed: int):
        self.n, self.seed, self.epoch = n, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.n

    def __iter__(self):
        g = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        return iter(torch.randperm(self.n, generator=g).tolist())


class GroupDataModule(pl.LightningDataModule):
    def __init__(self, split_dir: str, group: int, codec, batch_size: int, limit: int | None = None, seed: int = 0):
        super().__init__()
        self.split_dir, self.group, self.codec, self.batch_size = split_dir, group, codec, batch_size
        self.limit, self.seed = limit, seed
        self.train: dict | None = None
        self.validation: dict | None = None

    def setup(self, stage: str | None = None) -> None:
        if self.train is None:
            self.train = load_group(self.split_dir, "train", self.group, self.limit, self.seed)
            self.validation = load_group(self.split_dir, "validation", self.group)

    def train_dataloader(self) -> DataLoader:
        params = self.train["params"]
        voices = torch.from_numpy(self.codec.encode(params))
        category = torch.from_numpy(self.train["category"].astype(np.int64))
        algorithms = torch.from_numpy(params[:, INDEX["algorithm"]].astype(np.int64))
        return DataLoader(
            TensorDataset(voices, category, algorithms),
            batch_size=self.batch_size,
            drop_last=True,
            sampler=EpochShuffle(len(voices), self.seed),
        )
