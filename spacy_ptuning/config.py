"""Prompt configuration, kept apart from the mechanics that use it (as PEFT does)."""
from dataclasses import asdict, dataclass
from typing import Any, Dict, Tuple

PROMPT_MODES = ("deep", "shallow", "none", "finetune")
PROMPT_INITS = ("normal", "uniform", "vocab", "activations")
ADAPTER_MODES = ("deep", "shallow", "none")  # modes that can add feed-forward adapters


@dataclass(frozen=True)
class PromptConfig:
    """How the trainable prompts of one component look.

    mode: "deep" (P-tuning v2: prefix keys/values at every layer), "shallow"
        (prompt tuning: prompt vectors at the input embeddings only) or "none"
        (no prompts: the frozen backbone is a feature extractor, a linear probe)
        or "finetune" (no prompts; a private copy of the backbone is trained and
        saved with the component: the full fine-tuning baseline of the benchmark).
    prefix_length: number of prompt positions (ignored when mode is "none").
    prefix_projection: reparameterise the prompts through a two-layer MLP
        (prefix-tuning, Li & Liang 2021); projection_hidden is its width.
    prefix_dropout: dropout applied to the prompt vectors while training.
    init: "normal" (N(0, init_std)), "uniform" (U(-init_std, init_std)),
        "vocab" (keys/values, or embeddings in shallow mode, of random vocabulary
        tokens, as suggested by Lester et al. 2021: each layer's key/value
        projection of the token embeddings) or "activations" (deep mode: the keys
        and values each layer computes when the backbone reads those tokens as a
        text, Li & Liang 2021's real-word activations; shallow mode: as "vocab").
    backbone_dropout: while training, apply the frozen backbone's own dropout
        (hidden and attention dropout at its configured rates), as the reference
        P-tuning v2 implementation does by keeping the backbone in train mode;
        prediction never uses it.
    finetune_lr_scale: mode "finetune" only: the backbone copy learns at the
        optimizer's rate times this, the head at the full rate (full fine-tuning
        wants e.g. 1e-2 for a new head and 1e-4 for the backbone: 0.01).
    prompt_lr_scale: modes "deep" and "shallow" only: the prompts (and the
        projection MLP when prefix_projection is on) learn at the optimizer's
        rate times this, the head at the full rate. Below 1 for an MLP
        (prefix-tuning on CoNLL: MLP at 5e-4 under a head at 5e-2, 0.01, gives
        82.6 F1 where one rate collapsed to no entities); above 1 when the
        prompts want a higher rate than a new head (P-tuning v2 on SST-2:
        prompts at 1e-1 over a head at 1e-2, 10, gives 85.8% accuracy on
        average over three seeds against 84.9 with both at 1e-2).
    adapter_width: width of a parallel feed-forward adapter at every layer (He et al. 2022:
        down-projection, ReLU, up-projection initialised to zero, times adapter_scale,
        added to the frozen feed-forward block's output); 0 (the default): none. With
        mode "deep" this is He et al.'s MAM configuration; with mode "none", adapters
        alone. The backbone stays frozen and shared.
    adapter_scale: the factor on the adapter's output (He et al. use 4).
    adapter_lr_scale: the adapters learn at the optimizer's rate times this.
    layer_mix: the encoder's states are a learned softmax-weighted sum over the
        embeddings and every layer's output instead of the last layer's (for
        sentence-embedding backbones, whose last layer keeps little per-token
        information: CoNLL-03 F1 88.0 against 86.0 on all-MiniLM-L6-v2). The
        weights learn at the head's rate, whatever the mode.
    """

    prefix_length: int = 16
    mode: str = "deep"
    prefix_projection: bool = False
    projection_hidden: int = 512
    prefix_dropout: float = 0.1
    init: str = "normal"
    init_std: float = 0.02
    seed: int = 0
    backbone_dropout: bool = False
    finetune_lr_scale: float = 1.0
    prompt_lr_scale: float = 1.0
    layer_mix: bool = False
    adapter_width: int = 0
    adapter_scale: float = 4.0
    adapter_lr_scale: float = 1.0

    def __post_init__(self) -> None:
        if self.mode not in PROMPT_MODES:
            raise ValueError(
                f"Unknown prompt mode {self.mode!r}: use one of {', '.join(PROMPT_MODES)}."
            )
        if self.mode not in ("none", "finetune") and (
            not isinstance(self.prefix_length, int) or self.prefix_length < 1
        ):
            raise ValueError(
                f"prefix_length must be an integer >= 1, got {self.prefix_length!r}. "
                "Use a value such as 16 (text classification) or 128 (NER, QA); "
                "for no prompts at all set mode = \"none\"."
            )
        if self.prefix_projection and self.projection_hidden < 1:
            raise ValueError(
                f"projection_hidden must be >= 1 when prefix_projection is on, got {self.projection_hidden!r}."
            )
        if not 0.0 <= self.prefix_dropout < 1.0:
            raise ValueError(f"prefix_dropout must be in [0, 1), got {self.prefix_dropout!r}.")
        if self.init not in PROMPT_INITS:
            raise ValueError(
                f"Unknown prompt init {self.init!r}: use one of {', '.join(PROMPT_INITS)}."
            )
        if not isinstance(self.layer_mix, bool):
            raise ValueError(f"layer_mix must be true or false, got {self.layer_mix!r}.")
        if not isinstance(self.backbone_dropout, bool):
            raise ValueError(f"backbone_dropout must be true or false, got {self.backbone_dropout!r}.")
        _check_lr_scale("finetune_lr_scale", self.finetune_lr_scale, self.mode, ("finetune",),
                        "the backbone copy's rate")
        _check_lr_scale("prompt_lr_scale", self.prompt_lr_scale, self.mode, ("deep", "shallow"),
                        "the prompts' rate")
        if self.init_std <= 0:
            raise ValueError(f"init_std must be > 0, got {self.init_std!r}.")
        self._check_adapters()

    def _check_adapters(self) -> None:
        if isinstance(self.adapter_width, bool) or not isinstance(self.adapter_width, int) or self.adapter_width < 0:
            raise ValueError(
                f"adapter_width must be an integer >= 0 (0: no adapters), got {self.adapter_width!r}."
            )
        if self.adapter_width and self.mode not in ADAPTER_MODES:
            raise ValueError(
                f"adapter_width applies to modes {', '.join(ADAPTER_MODES)} (the backbone is frozen); mode is "
                f"{self.mode!r}: set adapter_width = 0."
            )
        _check_positive("adapter_scale", self.adapter_scale)
        _check_positive("adapter_lr_scale", self.adapter_lr_scale)
        if self.adapter_lr_scale != 1.0 and not self.adapter_width:
            raise ValueError(
                f"adapter_lr_scale is {self.adapter_lr_scale!r} but there are no adapters (adapter_width = 0): "
                "leave it at 1.0 or set adapter_width."
            )

    @property
    def init_from_backbone(self) -> bool:
        """Whether the prompts' first values come from the backbone's weights (init "vocab" or
        "activations"), so they are set once the weights are loaded rather than at construction."""
        return self.init in ("vocab", "activations")

    @property
    def n_prompts(self) -> int:
        """Prompt positions actually used (0 when there are no prompts)."""
        return 0 if self.mode in ("none", "finetune") else self.prefix_length

    @property
    def encoder_lr_scale(self) -> float:
        """The share of the optimizer's rate for the encoder's trainable parameters (the
        prompts, or the backbone copy in mode "finetune"); the head learns at the full rate."""
        return self.finetune_lr_scale if self.mode == "finetune" else self.prompt_lr_scale

    def to_dict(self) -> Dict[str, Any]:
        return asdict(self)


def _check_lr_scale(name: str, value: Any, mode: str, modes: Tuple[str, ...], what: str) -> None:
    """A rate share is a number > 0, and other than 1 only in the modes that train what it scales."""
    _check_positive(name, value)
    if value != 1.0 and mode not in modes:
        allowed = " or ".join(f'"{m}"' for m in modes)
        raise ValueError(
            f"{name} applies to mode {allowed} only ({what}); mode is {mode!r}: leave {name} at 1.0."
        )


def _check_positive(name: str, value: Any) -> None:
    """A number > 0 (not a bool)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ValueError(f"{name} must be a number > 0, got {value!r}.")
