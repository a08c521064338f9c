"""The optional hidden layer of a head: a GELU layer between the encoder's vectors and the
head's output layer, so that a frozen backbone is read by more than a linear probe."""
from typing import Optional

from thinc.api import Gelu, Model
from thinc.types import Floats2d


def hidden_layer(width: int, hidden_width: int) -> Optional[Model[Floats2d, Floats2d]]:
    """A GELU layer from width to hidden_width, or None for hidden_width 0 (the output layer
    then reads the vectors directly, as a head without the option always did)."""
    if hidden_width < 0:
        raise ValueError(f"hidden_width must be 0 (no hidden layer) or a positive width, got {hidden_width}.")
    return Gelu(nO=hidden_width, nI=width) if hidden_width else None
