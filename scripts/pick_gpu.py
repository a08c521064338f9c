"""Print the GPU id for `spacy project run` (0 when torch sees a CUDA GPU and cupy is installed, else -1)."""
import importlib.util

try:
    import torch

    usable = torch.cuda.is_available() and importlib.util.find_spec("cupy") is not None
except ImportError:
    usable = False
print(0 if usable else -1)
