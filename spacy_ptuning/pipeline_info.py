"""What a trained pipeline holds: backbone, prompts, adapters, trainable share and artifact sizes."""
from pathlib import Path
from typing import Any, Dict, Optional

from spacy.language import Language

from .layers.encoder import get_torch_module
from .report import parameter_report


def pipeline_info(nlp: Language, path: Optional[Path] = None) -> Dict[str, Any]:
    """Per prompt-tuned component: prefix settings, trainable parameters and artifact size.

    Sizes are of `adapter.safetensors` under `path` when given (a pipeline
    directory), else of the bytes the component would write.
    """
    components: Dict[str, Any] = {}
    backbones: Dict[str, Any] = {}
    for name, pipe in nlp.pipeline:
        model = getattr(pipe, "model", None)
        try:
            module = get_torch_module(model)
        except (ValueError, AttributeError):
            continue
        backbone = module.backbone
        report = parameter_report(model)
        adapter = path / name / "adapter.safetensors" if path is not None else None
        if adapter is not None and adapter.exists():
            size = adapter.stat().st_size
        elif hasattr(pipe, "_adapter_bytes"):
            size = len(pipe._adapter_bytes())
        else:
            size = len(pipe.to_bytes())
        components[name] = {
            "factory": nlp.get_pipe_meta(name).factory,
            "backbone": str(backbone.path),
            "prefix_length": module.cfg.prefix_length,
            "mode": module.cfg.mode,
            "prefix_projection": module.cfg.prefix_projection,
            "adapter_width": module.cfg.adapter_width,
            "adapter_parameters": sum(p.numel() for p in module.adapters.parameters())
            if module.adapters is not None else 0,
            "trainable_parameters": report.trainable,
            "share_of_backbone": report.share,
            "artifact_bytes": size,
        }
        weights = sum(p.stat().st_size for p in backbone.path.iterdir() if p.suffix in (".safetensors", ".bin"))
        backbones[str(backbone.path)] = {
            "fingerprint": backbone.fingerprint,
            "model_type": backbone.model_type,
            "layers": backbone.n_layers,
            "hidden_size": backbone.hidden_size,
            "parameters": backbone.n_parameters,
            "weights_bytes": weights,
        }
    return {"lang": nlp.lang, "pipeline": nlp.pipe_names, "backbones": backbones, "components": components}
