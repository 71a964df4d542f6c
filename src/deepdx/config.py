"""The configuration: every tunable value, its type and its default, said once.

The dataclasses below are Hydra structured configs, registered in Hydra's ConfigStore as
``deepdx_schema``.  ``conf/config.yaml`` starts from that schema, and the YAML files in
``conf/`` hold only what differs from it (``conf/model/seed.yaml``: the seed's choices;
``conf/experiment/smoke.yaml``: a short run; ``conf/categorize/default.yaml``: the name
rules).  Composition rejects a key the schema does not know and a value of the wrong
type; :func:`load` also checks the choices (``ingest.policy`` in strict | mask | clamp...).

DVC composes ``conf/`` into ``params.yaml`` (``dvc exp run``; DVC finds the schema through
the Hydra plugin in ``src/hydra_plugins``, see ``.dvc/config``).  A plain ``dvc repro``
reads ``params.yaml``:  ``python -m deepdx.config sync`` rewrites it after an edit of
``conf/``, ``python -m deepdx.config check`` exits non-zero when it is stale.

This module imports nothing heavy: DVC loads it to compose, and every stage to validate.
"""

from __future__ import annotations

import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

from .config_reads import Section
from .config_reads import key as key_sections
from .errors import DeepDXError

MISSING = "???"  # omegaconf.MISSING (a required value), without importing omegaconf where configs are not composed

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = "deepdx_schema"


def check_choice(section: str, key: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise DeepDXError(f"{section}.{key} must be one of {', '.join(choices)}; got {value!r}")


def check_share(section: str, key: str, value: float, meaning: str) -> None:
    """A share, 0 to 1; ``meaning`` says of what (and what 0 does)."""
    if not 0 <= value <= 1:
        raise DeepDXError(f"{section}.{key} is a share of {meaning}, 0 to 1; got {value}")


LEVEL_MARGIN_MEANING = "the levels' range (0: none)"


def check_tokens(width: int, heads: int) -> None:
    """model.token_width and model.attention_heads (arch operators): a width its heads divide."""
    if not (1 <= heads <= 64 and 1 <= width <= 4096 and width % heads == 0):
        raise DeepDXError(
            f"model.token_width must be 1-4096 and a multiple of model.attention_heads (1-64); got {width} and {heads}"
        )


KNOB_MAX = 10.0  # the largest sampling temperature or truncation anything accepts


def knob_ok(value: float, above_zero: bool = False) -> bool:
    """Whether ``value`` is a sampling temperature or truncation: 0 (or, ``above_zero``, more)
    to KNOB_MAX.  Every reader of one (config, CLI, generator files) asks here."""
    return (value > 0 if above_zero else value >= 0) and value <= KNOB_MAX


@dataclass
class DataPaths(Section):
    """Where each stage reads and writes (relative to the repository root)."""

    raw: str = "data/raw"  # the collection to learn from: a folder or a file
    voices: str = "data/ingest/voices.parquet"  # accepted voices
    # rejected voices with their reason (a row per voice, or per reason and file beyond ingest.listed_rejections)
    rejected: str = "data/ingest/rejected.csv"
    files: str = "data/ingest/files.csv"  # one row per file found under the sources
    unique: str = "data/dedupe/unique.parquet"  # one representative per sound
    merged: str = "data/dedupe/merged.csv"  # every voice merged into a representative
    families: str = "data/families/voices.parquet"  # unique voices + family, split (train | validation | held_out)
    categorized: str = "data/categorize/voices.parquet"  # unique voices + category, confidence, how
    classifier: str = "data/categorize/classifier.skops"  # the parameter classifier (skops, not pickle)
    split: str = "data/split"  # <split>/group<g>.parquet per split and algorithm group, routing.json
    plots: str = "data/plots"  # PNG pictures and CSV for `dvc plots show`
    models: str = "data/models"  # group<g>/generator.pt, summary.json, ckpt/
    sound: str = "data/sound"  # group<g>.npz: a sample of the training voices and their audio features
    critic: str = "data/critic"  # group<g>.npz: the critic sampling keeps its draws by
    generated: str = "data/generate"  # banks/<category>_<n>.syx, manifest.csv, previews/
    evaluation: str = "data/evaluate"  # report.md and plots
    browse: str = "data/browse"  # index.html: the bank browser, opened from disk
    metrics: str = "metrics"  # JSON metrics, in git, for `dvc metrics show/diff` and `dvc exp show`


INGEST_POLICIES = ("strict", "mask", "clamp")  # see deepdx.dx7.validate
EIGHT_BIT = ("reject", "mask")
CHECKSUM = ("reject", "accept")


@dataclass
class IngestConfig(Section):
    extensions: List[str] = field(default_factory=lambda: [".syx", ".bin"])  # others are listed as skipped
    policy: str = "mask"  # strict | mask | clamp (deepdx.dx7.validate)
    eight_bit: str = "reject"  # reject | mask: bytes above 127 (corrupt)
    checksum: str = "reject"  # reject | accept a message whose checksum is wrong
    max_file_mb: float = 64  # larger files are listed as not read, with the reason
    listed_rejections: int = 10000  # per file, rejections listed one per voice; the rest counted per reason

    def __post_init__(self):
        check_choice("ingest", "policy", self.policy, INGEST_POLICIES)
        check_choice("ingest", "eight_bit", self.eight_bit, EIGHT_BIT)
        check_choice("ingest", "checksum", self.checksum, CHECKSUM)


@dataclass
class DedupeConfig(Section):
    near: bool = True  # also merge near-duplicates
    max_params: int = 2  # near: at most this many parameters differ ...
    max_delta: int = 3  # ... each by at most this many steps


@dataclass
class FamiliesConfig(Section):
    """Near-variants of one patch form a family; each family goes whole to one split."""

    distance: float = 0.5  # voices this close (normalised parameters) are linked; families = linked components
    validation: float = 0.1  # share of voices (whole families) for selection: probes, early stopping, sweeps
    held_out: float = 0.1  # share for the evaluate stage alone


@dataclass
class CategorizeConfig(Section):
    """The classes and name rules live in conf/categorize/default.yaml (patterns are data)."""

    categories: List[str] = MISSING  # the sound classes, in index order
    max_iter: int = 200  # most boosting rounds of the classifier (the count is chosen on validation voices)
    strong: Dict[str, List[str]] = field(default_factory=dict)  # category -> regular expressions, in order
    weak: Dict[str, List[str]] = field(default_factory=dict)  # decide only when no strong rule matched


LAYOUTS = ("operator_blocks", "row_major")  # see deepdx.corpus.encoding


@dataclass
class EncodingConfig(Section):
    layout: str = "operator_blocks"  # operator_blocks | row_major (the seed's)

    def __post_init__(self):
        check_choice("encoding", "layout", self.layout, LAYOUTS)


@dataclass
class SplitConfig(Section):
    grouping: str = "structural"  # structural (derived, see deepdx.corpus.groups) | explicit
    n_groups: int = 6
    groups: Optional[List[List[int]]] = None  # explicit: a list of algorithm lists covering 1-32 once

    def __post_init__(self):
        check_choice("split", "grouping", self.grouping, ("structural", "explicit"))


LOSSES = ("bce", "hinge", "wgan")  # see deepdx.models.losses
ARCHS = ("conv", "mlp", "operators")  # see deepdx.models.nets
G_NORMS = ("none", "batch")
D_NORMS = ("none", "spectral")
CONDITIONING = ("none", "projection")  # the seed's unconditional D | projection
SELECTIONS = ("last", "coverage", "balanced")  # see deepdx.models.cgan
PRECISIONS = ("32", "bf16")  # see deepdx.models.precision
FAMILIES = ("cgan", "flow")  # see deepdx.models.cgan, deepdx.models.flow
SAMPLERS = ("euler", "heun")  # the flow's ODE solvers (deepdx.models.flow)
COUPLINGS = ("independent", "ot")  # how a flow's training batch pairs noise with voices (deepdx.models.flow_matching)


@dataclass
class ModelConfig(Section):
    """The default CGAN, chosen by measurement on validation voices against the seed's design
    (conf/model/seed.yaml) and the alternatives in docs/decisions.md.

    ``arch: conv`` works on the seed's 16x16 grid; its scalar knobs (``layers``,
    ``kernel_size``, ``channels``) set every layer and are what sweeps turn, and the
    per-layer lists, when given, override them.  ``arch: mlp`` works on the parameter vector
    with a head per parameter (``hidden`` units, ``layers`` residual blocks; see
    deepdx.models.nets and deepdx.models.codec).  ``arch: operators`` has the mlp's heads and
    discriminator, and a generator that makes a token for each operator and one for the voice's
    globals, ``layers`` transformer blocks over them, each token then writing its own
    parameters' heads."""

    # cgan: the conditional GAN of the keys below | flow: conditional flow matching (deepdx.models.flow;
    # conf/model/flow.yaml), which reads arch (mlp only), hidden, layers, embed, algorithm_embed, max_choices,
    # choices, dequantize, ema and the flow_* keys, and ignores the GAN's own
    family: str = "cgan"
    # conv (the seed's grid) | mlp (parameter vector, a head per parameter) | operators (the mlp's heads and
    # discriminator; a generator of operator tokens)
    arch: str = "mlp"
    latent: int = 100  # noise size
    embed: int = 50  # category embedding size (the seed's 50)
    algorithm_embed: int = 16  # the generator is told the algorithm (embedding size); 0: not (the seed)
    layers: int = 3  # transposed convolutions in G, convolutions in D (conv); residual blocks (mlp)
    hidden: int = 512  # mlp: units per layer (operators: the discriminator's)
    token_width: int = 128  # operators: units per token (six operators and the voice's globals)
    attention_heads: int = 4  # operators: the tokens' attention heads (token_width divisible by it)
    max_choices: int = 8  # mlp: parameters with at most this many values get a softmax head
    choices: List[str] = field(
        default_factory=lambda: ["transpose"]
    )  # mlp: these get one too, whatever their count (a name, or an operator's without opN_: freq_coarse)
    tau: float = 1.0  # mlp: Gumbel-softmax temperature of the choices while training
    kernel_size: int = 2  # conv: every G layer, and every D layer after the first
    d_first_kernel: int = 4
    channels: int = 128
    g_kernels: Optional[List[int]] = None
    g_channels: Optional[List[int]] = None  # input channels of each G layer (the last outputs 1)
    d_kernels: Optional[List[int]] = None
    d_channels: Optional[List[int]] = None  # output channels of each D layer
    stride: int = 2
    features: int = 100  # the discriminator's feature vector (the seed's 100 values in [-1, 1])
    slope: float = 0.2  # LeakyReLU
    g_norm: str = "none"  # none | batch
    d_norm: str = "spectral"  # none | spectral
    # spectral norm's power iteration once per discriminator step (as SN-GAN), not at each of D's three calls a
    # step (PyTorch's way)
    spectral_once: bool = True
    conditional: str = "projection"  # none (the seed's unconditional D) | projection
    minibatch_std: bool = True  # D sees the batch's spread (against collapse)
    loss: str = "hinge"  # bce (the seed's) | hinge | wgan (with gradient penalty)
    gp_weight: float = 10.0  # wgan only
    r1: float = 1.0  # R1 penalty on real voices (Mescheder et al. 2018); 0: off
    r1_every: int = 2  # the penalty on every this many batches, weighted by it (lazy, as StyleGAN2's)
    mode_seeking: float = 0.5  # weight of the mode-seeking term (Mao et al. 2019): other noise, other voice; 0: off
    mode_seeking_warmup: int = (
        0  # generator steps over which that weight rises from 0 (docs/decisions.md: recall up, audio worse); 0: none
    )
    dequantize: bool = True  # spread real levels over their rounding bins (deepdx.models.cgan)
    # the generator kept as an exponential moving average of its weights; 0: off.  The cap of its decay, which
    # rises as (1 + s) / (10 + s) after s generator steps (0.9984 after 5,800, 0.9989 after the largest group's
    # 8,249: the cap is not reached, so 0.9995 trains the same bits)
    ema: float = 0.999
    sound_features: bool = True  # D also sees operator amplitudes and frequency ratios (mlp, max_choices < 32)
    sound_roles: bool = True  # ... each amplitude as a carrier's and as a modulator's, by the voice's algorithm
    # weight of D's auxiliary category classifier (AC-GAN, Odena et al. 2017): D learns real voices' categories,
    # G is asked for voices it classifies as requested; 0: none
    aux_class: float = 0.2
    # mlp: each level's tanh stretched by this share beyond its range and clipped, so that its end values (0, 99)
    # are not only in tanh's flat tails; 0: none (arch conv: not applied)
    level_margin: float = 0.1
    # mlp: a level whose most common value is held by this share of the group's training voices gets a gate to it
    # (codec.Heads); 0: none
    spike_share: float = 0.5
    # flow: ODE solver steps from noise to voice when sampling (heun: two network calls a step)
    flow_steps: int = 32
    flow_sampler: str = "heun"  # flow: euler | heun
    # flow: share of training voices shown without their category, so that the same network also learns the
    # unconditional path that classifier-free guidance extrapolates from (0: no guidance possible)
    flow_drop_category: float = 0.1
    # flow: independent (each voice its own fresh noise) | ot (the batch's noise assigned to its voices by least
    # total squared distance: minibatch optimal transport, straighter paths)
    flow_coupling: str = "independent"
    # flow: training times drawn as u ** this, u uniform in [0, 1]: 1 uniform, below 1 more of them near the voice
    # (t = 1: fine detail), above 1 more near the noise (t = 0: which kind of voice)
    flow_time_power: float = 1.0

    def __post_init__(self):
        check_choice("model", "family", self.family, FAMILIES)
        check_choice("model", "flow_sampler", self.flow_sampler, SAMPLERS)
        check_choice("model", "flow_coupling", self.flow_coupling, COUPLINGS)
        check_share("model", "flow_drop_category", self.flow_drop_category, "training voices (0: no guidance)")
        if not 0.1 <= self.flow_time_power <= 10:
            raise DeepDXError(f"model.flow_time_power must be between 0.1 and 10; got {self.flow_time_power}")
        if not 1 <= self.flow_steps <= 1000:
            raise DeepDXError(f"model.flow_steps is a number of solver steps, 1-1000; got {self.flow_steps}")
        if self.family == "flow" and self.arch != "mlp":
            raise DeepDXError(f"model.family flow has a residual MLP only: model.arch mlp; got {self.arch!r}")
        check_choice("model", "arch", self.arch, ARCHS)
        check_choice("model", "g_norm", self.g_norm, G_NORMS)
        check_choice("model", "d_norm", self.d_norm, D_NORMS)
        check_choice("model", "conditional", self.conditional, CONDITIONING)
        check_choice("model", "loss", self.loss, LOSSES)
        if self.aux_class < 0:
            raise DeepDXError(f"model.aux_class is a loss weight, 0 or more (0: no classifier); got {self.aux_class}")
        if self.r1_every < 1:
            raise DeepDXError(f"model.r1_every is a number of batches, at least 1; got {self.r1_every}")
        if self.mode_seeking_warmup < 0:
            raise DeepDXError(
                f"model.mode_seeking_warmup is a number of steps (0: none); got {self.mode_seeking_warmup}"
            )
        check_share("model", "spike_share", self.spike_share, "voices (0: no gates)")
        check_tokens(self.token_width, self.attention_heads)
        check_share("model", "level_margin", self.level_margin, LEVEL_MARGIN_MEANING)


@dataclass
class CalibrateConfig(Section):
    """After training, each group's sampling knobs chosen on its validation voices
    (deepdx.models.calibrate): the pair with the best validation ``balanced`` score.  One
    value in each list: no choice (the seed's design keeps 1 and 1)."""

    temperatures: List[float] = field(default_factory=lambda: [1.0, 1.25, 1.5, 2.0])  # of the choices (mlp)
    # of the noise (above 1 it cost audio: docs/decisions.md)
    truncations: List[float] = field(default_factory=lambda: [1.0])
    # flow: classifier-free guidance weights (the flow's grid is temperatures x truncations x guidances)
    guidances: List[float] = field(default_factory=lambda: [1.0])
    draws: int = 3  # noise draws averaged per pair

    def __post_init__(self):
        knobs = [*self.temperatures, *self.truncations]
        lists = (self.temperatures, self.truncations, self.guidances)
        if not all(lists) or not all(knob_ok(k, True) for k in knobs) or self.draws < 1:
            raise DeepDXError(
                "train.calibrate: temperatures, truncations and guidances need at least one value each, "
                f"knobs in (0, {KNOB_MAX:g}], and draws at least 1; got {knobs}, draws {self.draws}"
            )
        if not all(knob_ok(g) for g in self.guidances):
            raise DeepDXError(f"train.calibrate.guidances must be between 0 and {KNOB_MAX:g}; got {self.guidances}")


@dataclass
class TrainConfig(Section):
    steps: Optional[int] = 5800  # batches per group, rounded up to whole epochs (5,800-5,809); null: train.epochs
    # a group of more training voices than this trains steps x voices / this batches; null: steps for
    # every group.  The three large groups (4,400-4,700 voices) still rose at 5,800: 8,000 lifted their
    # mean validation balanced by 0.019 at seeds 42 and 2; 3,300 gives them 7,684-8,249 (docs/decisions.md)
    scale_steps_above: Optional[int] = 3300
    epochs: int = 100  # when steps is null
    # 5,800 of 64 cost what 4,000 of 128 did on 2 threads, and sounded nearer real voices (docs/decisions.md)
    batch_size: int = 64
    lr_g: float = 0.0003
    lr_d: float = 0.0003
    # Adam without momentum (beta1 0, beta2 0.99, as StyleGAN2): validation balanced 0.802 -> 0.831
    # through the critic, higher in all six groups at seed 42 (at seed 2 lower in group 0), against DCGAN's
    # [0.5, 0.999] (docs/decisions.md)
    betas: List[float] = field(default_factory=lambda: [0.0, 0.99])
    # the share of the steps, at the end, over which both rates fall linearly to 0 (as pix2pix's
    # schedule); 0: constant rates.  0.5 lost on validation at both seeds (docs/decisions.md)
    lr_decay: float = 0.0
    n_critic: int = 1  # discriminator steps per generator step
    select: str = "balanced"  # which epoch's generator is kept: last | coverage | balanced (on validation voices)
    calibrate: CalibrateConfig = field(default_factory=CalibrateConfig)  # then how it is sampled
    patience: int = 0  # stop after this many epochs without a better validation score; 0: never
    # the probe (and so the selection) after every this many epochs, and after the last; a flow's probe samples
    # through its ODE solver, which costs more than an epoch of a small group's training
    probe_every: int = 1
    limit: Optional[int] = None  # train on a seeded subset of this many voices per group (smoke runs)
    # CPU threads for each group's training. The weights depend on it (the order of floating-point
    # sums in backward passes), so it is fixed rather than taken from the machine: same value, same bits.
    threads: int = 1
    # the training step's number format: 32 (float32) | bf16 (bfloat16 matrix products, where the hardware
    # has them natively; float32 elsewhere).  See deepdx.models.precision and docs/decisions.md
    precision: str = "bf16"
    # groups trained at once, each in a process of its own with `threads` threads; the weights do
    # not depend on it. On the 2-core machine two 1-thread jobs train the six groups in 22.7 min,
    # one 2-thread job in about 32.5 (bench/train_parallel.py): the small matrices of a step keep
    # a second thread of one process half idle
    jobs: int = 2
    groups: List[int] = field(default_factory=lambda: [0, 1, 2, 3, 4, 5])  # = range(split.n_groups)
    progress_bar: bool = True
    checkpoint_every: float = 60.0  # seconds of training an interruption may lose at most; 0: a checkpoint every epoch

    def __post_init__(self):
        check_choice("train", "select", self.select, SELECTIONS)
        check_choice("train", "precision", self.precision, PRECISIONS)
        if self.probe_every < 1:
            raise DeepDXError(f"train.probe_every is a number of epochs, at least 1; got {self.probe_every}")
        if self.threads < 1 or self.jobs < 1:
            raise DeepDXError(f"train.threads and train.jobs must be at least 1, got {self.threads} and {self.jobs}")
        if not self.checkpoint_every >= 0:
            raise DeepDXError(f"train.checkpoint_every is seconds, at least 0; got {self.checkpoint_every}")
        if self.scale_steps_above is not None and self.scale_steps_above < 1:
            raise DeepDXError(
                f"train.scale_steps_above is a number of training voices (null: no scaling); "
                f"got {self.scale_steps_above}"
            )
        check_share(
            "train",
            "lr_decay",
            self.lr_decay,
            "the training steps, at the end, over which the rates fall to 0 (0: none)",
        )


@dataclass
class MLflowConfig(Section):
    experiment: str = "deepdx"
    tracking_uri: Optional[str] = None  # else MLFLOW_TRACKING_URI, else sqlite:///<repo root>/mlflow.db


@dataclass
class RepairConfig(Section):
    """The generate stage's audio check and fixed/ratio repair (deepdx.audio.repair).

    Defaults from 2,000 real corpus voices rendered at C4: 0.35 % of them have an RMS below
    0.001, 1 % a spectral centroid above 11 kHz, about 0.2 % more than 95 % of their energy
    below 20 Hz."""

    enabled: bool = True  # flip fixed/ratio on voices that render silent or shrill
    silence_rms: float = 0.001  # below: silent
    max_centroid_hz: float = 11000.0  # above: shrieking
    max_subaudio_share: float = 0.95  # above: the energy is below hearing (operators at a few Hz)


@dataclass
class CriticConfig(Section):
    """Sampling through the critic (deepdx.generate.critic): each requested voice is drawn
    ``candidates`` times (same category and algorithm) and one draw kept with probability in
    proportion to exp(``strength`` * the critic's logit), the critic being a logistic regression
    of each group's training voices against its generator's, on parameters and sound (the
    critic stage fits it).  The generate and evaluate stages sample the same way."""

    candidates: int = 4  # draws per voice; 1: no critic (the first draw)
    strength: float = 1.0  # 1: importance weights as estimated; 0: uniform over the right draws
    # the draws' temperature above the sampling one (calibrated, or generate.temperature): more varied draws, the
    # critic taking back what sounds unlike real voices
    warmer: float = 0.25
    # at most this many of a group's training voices rendered (the sound stage), and as many generated to fit against
    voices: int = 4000
    regularisation: float = 0.05  # inverse L2 weight of the logistic regression (scikit-learn's C)
    # a draw the repair pass calls wrong (silent, shrill, inaudible: generate.repair's thresholds) is never kept
    # while a right one is left
    screen: bool = True
    # weight of each draw's realism score (deepdx.generate.critic.Realism: 0 inside a training voice's
    # 5-nearest-neighbour ball, -log of how many radii away outside), added to the critic's logit; 0: none
    realism: float = 10.0
    # weight of the critic's category ratio (Critic.category_logratio: log p_train(c | x) - log p_generator(c | x),
    # c the category asked for) added to its logit; 0: none.  1 raised validation category fidelity by 0.011-0.014
    # at three seeds and lowered pooled recall by 0.000-0.012 (docs/decisions.md)
    category: float = 0.0
    # the critic stage's report on validation voices (metrics/critic.json), the mean of this many draws; each
    # renders every validation voice 6 times (about a minute); 0: none
    report_draws: int = 0

    def __post_init__(self):
        if self.candidates < 1 or self.voices < 100 or self.report_draws < 0:
            raise DeepDXError(
                f"generate.critic: candidates at least 1, voices at least 100, report_draws at least 0; "
                f"got {self.candidates}, {self.voices} and {self.report_draws}"
            )
        if not (
            self.strength >= 0
            and self.warmer >= 0
            and self.realism >= 0
            and self.category >= 0
            and self.regularisation > 0
        ):
            raise DeepDXError(
                f"generate.critic: strength, warmer, realism and category at least 0, regularisation above 0; "
                f"got {self.strength}, {self.warmer}, {self.realism}, {self.category} and {self.regularisation}"
            )


ROUTINGS = ("sample", "argmax")  # see deepdx.generate.sample


@dataclass
class GenerateConfig(Section):
    categories: Optional[List[str]] = None  # null: every category
    banks_per_category: int = 1  # 32 voices each
    routing: str = "sample"  # sample | argmax: how routing statistics choose group and algorithm
    # null: each group's value from train.calibrate (in its generator.pt); a number: that, for every group
    temperature: Optional[float] = None  # choices drawn from softmax(logits / temperature); 0: the most likely (mlp)
    truncation: Optional[float] = None  # noise scaled by this; < 1 trades variety for typical voices
    # flow models: classifier-free guidance weight, the dial between category fidelity (> 1) and diversity (< 1);
    # 0: the unconditional path, 1: the conditional one; null: each group's value from train.calibrate
    guidance: Optional[float] = None
    previews: bool = True  # a WAV per voice and a mix per bank (dexed-py)
    repair: RepairConfig = field(default_factory=RepairConfig)
    critic: CriticConfig = field(default_factory=CriticConfig)

    def __post_init__(self):
        check_choice("generate", "routing", self.routing, ROUTINGS)
        for key in ("temperature", "truncation", "guidance"):
            value = getattr(self, key)
            if value is not None and not knob_ok(value):
                raise DeepDXError(
                    f"generate.{key} must be null (calibrated) or between 0 and {KNOB_MAX:g}; got {value}"
                )


@dataclass
class EvaluateConfig(Section):
    audio: bool = True  # render every evaluated voice with dexed-py
    max_voices: Optional[int] = None  # per group, evaluate at most this many held-out voices (smoke runs)


@dataclass
class BrowseConfig(Section):
    """The bank browser (deepdx.browse): one static page of every generated bank."""

    nearest: bool = True  # each generated voice beside its nearest training voice (name, distance, preview)
    mlflow_ui: str = "http://127.0.0.1:5000"  # `mlflow ui` address the links to the training runs use


@dataclass
class Config(Section):
    seed: int = 42
    data: DataPaths = field(default_factory=DataPaths)
    ingest: IngestConfig = field(default_factory=IngestConfig)
    dedupe: DedupeConfig = field(default_factory=DedupeConfig)
    families: FamiliesConfig = field(default_factory=FamiliesConfig)
    categorize: CategorizeConfig = field(default_factory=CategorizeConfig)
    encoding: EncodingConfig = field(default_factory=EncodingConfig)
    split: SplitConfig = field(default_factory=SplitConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    mlflow: MLflowConfig = field(default_factory=MLflowConfig)
    generate: GenerateConfig = field(default_factory=GenerateConfig)
    evaluate: EvaluateConfig = field(default_factory=EvaluateConfig)
    browse: BrowseConfig = field(default_factory=BrowseConfig)


def register() -> None:
    """Make the schema known to Hydra (idempotent)."""
    from hydra.core.config_store import ConfigStore

    ConfigStore.instance().store(name=SCHEMA, node=Config)


def load(cfg) -> Config:
    """A composed config (Hydra's DictConfig, or params.yaml read back) as typed objects.

    Unknown keys, wrong types and invalid choices raise DeepDXError naming the key.  Its
    sections note which keys are read (deepdx.config_reads)."""
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    try:
        return key_sections(OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(Config), cfg)))
    except OmegaConfBaseException as exc:
        raise DeepDXError(f"bad configuration: {str(exc).splitlines()[0]}") from None


def compose(*overrides: str, config_dir: Path = ROOT / "conf") -> Config:
    """conf/ composed with Hydra overrides, as a stage run by hand sees it (tests, benchmarks)."""
    from hydra import compose as hydra_compose, initialize_config_dir

    register()
    with initialize_config_dir(str(config_dir), version_base="1.3"):
        return load(hydra_compose("config", overrides=list(overrides)))


def as_dict(config) -> dict:
    """A config section as plain nested dicts and lists (for logging, fingerprints, checkpoints)."""
    from dataclasses import asdict

    return asdict(config)


# --------------------------------------------------------------------------- conf/ -> params.yaml


def compose_params(out: Path, overrides: list[str] | None = None, repo: Path = ROOT) -> None:
    # DVC's own composition, so that this file and `dvc exp run` can never disagree.
    from dvc.utils.hydra import compose_and_dump

    compose_and_dump(out, str(repo / "conf"), None, "config", str(repo / "src"), overrides or [])


def _differences(params: Path, fresh: Path, shown: int = 5) -> str:
    """`` at key (params.yaml value, conf/ value), ...`` for the keys that differ."""
    import yaml

    def flat(d, prefix=""):
        return {
            k: v
            for key, value in (d or {}).items()
            for k, v in (
                flat(value, f"{prefix}{key}.").items() if isinstance(value, dict) else {f"{prefix}{key}": value}.items()
            )
        }

    old = flat(yaml.safe_load(params.read_text())) if params.exists() else {}
    new = flat(yaml.safe_load(fresh.read_text()))
    keys = sorted(k for k in old.keys() | new.keys() if old.get(k, "(none)") != new.get(k, "(none)"))
    listed = ", ".join(f"{k} ({old.get(k, '(none)')!r}, conf/ {new.get(k, '(none)')!r})" for k in keys[:shown])
    return f" at {listed}{f' and {len(keys) - shown} more keys' if len(keys) > shown else ''}" if keys else ""


def main(argv: list[str], repo: Path | None = None) -> int:
    """``repo``: the checkout whose params.yaml to write or check (default: the current directory,
    as for dvc, not wherever the installed package lives)."""
    register()
    repo = (repo or Path.cwd()).resolve()
    if not (repo / "conf" / "config.yaml").is_file():
        print(f"error: {repo} has no conf/config.yaml: run this from the repository root", file=sys.stderr)
        return 2
    cmd = argv[0] if argv else "check"
    params = repo / "params.yaml"
    if cmd == "sync":
        compose_params(params, argv[1:], repo)
        print(f"wrote {params}")
        return 0
    if cmd == "check":
        with tempfile.TemporaryDirectory() as tmp:
            fresh = Path(tmp) / "params.yaml"
            compose_params(fresh, repo=repo)
            if not params.exists() or fresh.read_text() != params.read_text():
                print(
                    f"params.yaml is out of step with conf/{_differences(params, fresh)}: run "
                    "`python -m deepdx.config sync` (a run synced with overrides, such as experiment=smoke, "
                    "leaves it so)",
                    file=sys.stderr,
                )
                return 1
        print("params.yaml matches conf/")
        return 0
    print("usage: python -m deepdx.config [sync [OVERRIDES...] | check]", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
