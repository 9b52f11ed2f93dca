"""The one settings object, and the offline environment.

Layers, later wins: defaults < config file (TOML) < `LANTERN_*` environment < CLI flags.
Settings are read once at the edge (CLI, UI, `Lantern.open`) and passed down; no other
module reads the environment. `offline_environment()` sets every switch that keeps the
libraries from reaching the network, in one place, before they are imported.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, get_type_hints

from .errors import SettingsError

EMBED_BACKENDS = ("auto", "onnx-int8", "onnx", "torch", "openai", "hash")
ANSWER_MODES = ("auto", "extractive", "llm")
CROSSLINGUAL_MODES = ("auto", "all", "off")
DENSE_MODELS = ("minilm", "e5")


TOPICS = ("store", "embed", "chunk", "search", "answer", "llm", "chat", "ui", "serve")
"""What a setting is about; each command lists only the topics it uses in its --help."""


def _setting(default: Any, help: str, choices: tuple[str, ...] | None = None, *, topic: str) -> Any:
    assert topic in TOPICS, topic
    return field(default=default, metadata={"help": help, "choices": choices, "topic": topic})


@dataclass(frozen=True)
class Settings:
    """Every knob Lantern has; the CLI's help text is generated from these fields."""

    store: Path = _setting(Path(".lantern"), "store folder (Chroma data, keyword index, ledger, file copies)", topic="store")
    chroma: str = _setting("", "Chroma server as host:port; empty means embedded in the store folder", topic="store")
    collection: str = _setting("lantern", "Chroma collection name", topic="store")
    embed_backend: str = _setting(
        "auto", "embedding backend: auto = local MiniLM on a CUDA GPU when one is present (onnxruntime-gpu, "
        "else torch fp16), else ONNX int8 on the CPU; or local MiniLM via ONNX int8/fp32 or torch on the CPU, "
        "an OpenAI-compatible endpoint, or hash (word hashing, no model: for tests only)", EMBED_BACKENDS, topic="embed",
    )
    dense_model: str = _setting(
        "minilm", "the local dense model: minilm = all-MiniLM-L6-v2 (English); e5 = multilingual-e5-small "
        "(about 100 languages, ONNX int8 on the CPU, ~2x the ingest time); a store keeps the model it was "
        "built with: changing it means a new ingest", DENSE_MODELS, topic="embed",
    )
    embed_model: str = _setting("", "embedding model: empty = bundled all-MiniLM-L6-v2; a model name for openai", topic="embed")
    embed_base_url: str = _setting("", "OpenAI-compatible embeddings endpoint (for embed_backend=openai)", topic="embed")
    embed_api_key: str = _setting("", "API key for the embeddings endpoint", topic="embed")
    embed_batch: int = _setting(8, "passages per embedding batch", topic="embed")
    chunk_size: int = _setting(200, "chunk size in embedding-model tokens (MiniLM reads 256)", topic="chunk")
    chunk_overlap: int = _setting(0, "tokens shared by neighbouring chunks", topic="chunk")
    pdf_tables: bool = _setting(
        False, "add each row of a table found on a PDF page as a line with its column headers (pdfplumber; "
        "slower ingest; applies to files ingested after it is set)", topic="chunk",
    )
    ocr: bool = _setting(
        True, "read PDF pages that have no text layer (scans) with tesseract; pages with text are never OCR'd "
        "(applies to files ingested after it is set)", topic="chunk",
    )
    top_k: int = _setting(5, "number of sources an answer draws on", topic="search")
    fusion: str = _setting("rrf", "how dense and keyword results are combined", ("rrf", "weighted", "dense", "keyword"), topic="search")
    crosslingual: str = _setting(
        "auto", "multilingual e5 re-scores the best candidates: auto = questions not in English, or whose "
        "candidates are in another language; all = every question; off", CROSSLINGUAL_MODES, topic="search",
    )
    answer_mode: str = _setting("auto", "auto: LLM when an endpoint is configured, else extractive", ANSWER_MODES, topic="answer")
    answer_sentences: int = _setting(4, "most sentences in an extractive answer", topic="answer")
    abstain_threshold: float = _setting(0.0, "abstain when the evidence score is below this (0 = calibrated default)", topic="answer")
    llm_base_url: str = _setting("", "OpenAI-compatible chat endpoint (OpenAI, vLLM, Ollama, llama.cpp server)", topic="llm")
    llm_model: str = _setting("", "model name at that endpoint", topic="llm")
    llm_api_key: str = _setting("", "API key for that endpoint ('not-needed' for local servers)", topic="llm")
    llm_timeout: float = _setting(60.0, "seconds before an LLM request is abandoned", topic="llm")
    llm_check_citations: bool = _setting(False, "ask the LLM to confirm each cited sentence (after the lexical check)", topic="llm")
    chat_memory_turns: int = _setting(6, "turns a conversation remembers", topic="chat")
    max_upload_mb: int = _setting(50, "largest file the UI accepts, in MB", topic="ui")
    ui_debug: bool = _setting(False, "show Gradio's developer links (Use via API, settings) in the UI footer", topic="ui")
    ui_users: str = _setting(
        "", "TOML file of the UI's users ([users.NAME] role = reader|editor, password = hash from "
        "`python -m app.ui_auth`); everyone signs in once it is set; required when the UI listens beyond 127.0.0.1",
        topic="ui",
    )
    serve_host: str = _setting("127.0.0.1", "address `lantern serve` and `lantern mcp --http` listen on", topic="serve")
    serve_port: int = _setting(8000, "port `lantern serve` and `lantern mcp --http` listen on", topic="serve")
    api_keys: str = _setting("", "comma-separated API keys the HTTP servers accept as Bearer tokens "
                             "(required when serve_host is not a loopback address)", topic="serve")

    # --- derived -----------------------------------------------------------------------
    @property
    def llm_configured(self) -> bool:
        return bool(self.llm_base_url or self.llm_api_key) and bool(self.llm_model)

    @property
    def api_key_list(self) -> list[str]:
        """The configured API keys (`api_keys` split on commas, blanks dropped)."""
        return [k.strip() for k in self.api_keys.split(",") if k.strip()]

    @property
    def use_llm(self) -> bool:
        if self.answer_mode == "llm":
            return True
        return self.answer_mode == "auto" and self.llm_configured

    def with_overrides(self, **values: Any) -> Settings:
        """A copy with some values replaced (None values are ignored), each validated."""
        clean = {k: _coerce(k, v) for k, v in values.items() if v is not None}
        return _validated(replace(self, **clean))

    @classmethod
    def help_rows(cls) -> list[tuple[str, str, Any, str]]:
        """(name, env var, default, help) for each setting: the source of all help text."""
        return [
            (f.name, f"LANTERN_{f.name.upper()}", f.default, f.metadata["help"]) for f in fields(cls)
        ]

    @classmethod
    def load(
        cls,
        config: str | Path | None = None,
        environ: dict[str, str] | None = None,
        **flags: Any,
    ) -> Settings:
        """Build settings from defaults, a TOML file, the environment and flags, in that order.

        The config file is `config`, else `$LANTERN_CONFIG`, else `./lantern.toml` if present.
        Lantern is offline unless its own settings (file, `LANTERN_LLM_*`, flags) name an LLM
        endpoint or model: OpenAI's variables (OPENAI_API_KEY, OPENAI_BASE_URL, OPENAI_MODEL)
        never switch remote calls on by themselves, they only fill what is left blank then
        (and OPENAI_API_KEY is sent only to OpenAI or to OPENAI_BASE_URL).
        """
        env = dict(os.environ if environ is None else environ)
        values: dict[str, Any] = {}
        path = config or env.get("LANTERN_CONFIG") or (Path("lantern.toml") if Path("lantern.toml").exists() else None)
        if path:
            values.update(_read_toml(Path(path)))
        names = {f.name for f in fields(cls)}
        for name in names:
            key = f"LANTERN_{name.upper()}"
            if key in env:
                values[name] = _coerce(name, env[key], origin=key)
        values.update({k: _coerce(k, v, origin=f"--{k.replace('_', '-')}") for k, v in flags.items() if v is not None})
        if any(values.get(n) for n in ("llm_base_url", "llm_model", "llm_api_key")):
            _fill_from_openai_env(values, env)
        return _validated(cls(**values))


def _fill_from_openai_env(values: dict[str, Any], env: dict[str, str]) -> None:
    """Blanks of a Lantern-configured LLM filled from OpenAI's variables; a Lantern API key
    with no endpoint means OpenAI itself (model OPENAI_MODEL, else gpt-4o-mini)."""
    openai_url = env.get("OPENAI_BASE_URL", "")
    if not values.get("llm_base_url") and openai_url:
        values["llm_base_url"] = openai_url
    if not values.get("llm_model") and (env.get("OPENAI_MODEL") or not values.get("llm_base_url")):
        values["llm_model"] = env.get("OPENAI_MODEL", "gpt-4o-mini")
    url = values.get("llm_base_url", "")
    if not values.get("llm_api_key") and env.get("OPENAI_API_KEY") and (url in ("", openai_url) or "api.openai.com" in url):
        values["llm_api_key"] = env["OPENAI_API_KEY"]


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SettingsError(f"{path}: config file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{path}: not valid TOML ({exc})") from None
    data = data.get("lantern", data)
    known = {f.name for f in fields(Settings)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise SettingsError(f"{path}: unknown setting(s) {', '.join(unknown)}")
    return {k: _coerce(k, v, origin=str(path)) for k, v in data.items()}


def _coerce(name: str, value: Any, origin: str = "") -> Any:
    hints = get_type_hints(Settings)
    if name not in hints:
        raise SettingsError(f"unknown setting {name!r}")
    kind = hints[name]
    where = f" (from {origin})" if origin else ""
    try:
        if kind is bool and isinstance(value, str):
            if value.lower() not in {"1", "0", "true", "false", "yes", "no", "on", "off"}:
                raise ValueError(value)
            return value.lower() in {"1", "true", "yes", "on"}
        if kind is Path:
            return Path(value).expanduser()
        return kind(value)
    except (TypeError, ValueError):
        raise SettingsError(f"setting {name}{where}: {value!r} is not a valid {kind.__name__}") from None


def _validated(settings: Settings) -> Settings:
    for f in fields(settings):
        choices = f.metadata.get("choices")
        value = getattr(settings, f.name)
        if choices and value not in choices:
            raise SettingsError(f"setting {f.name}: {value!r} is not one of {', '.join(choices)}")
    if not 32 <= settings.chunk_size <= 8192:
        raise SettingsError(f"setting chunk_size: {settings.chunk_size} is outside 32..8192")
    if not 0 <= settings.chunk_overlap < settings.chunk_size // 2:
        raise SettingsError("setting chunk_overlap: must be at least 0 and under half of chunk_size")
    if settings.top_k < 1:
        raise SettingsError("setting top_k: must be at least 1")
    if settings.chroma and ":" not in settings.chroma:
        raise SettingsError(f"setting chroma: {settings.chroma!r} should be host:port")
    if not 0 < settings.serve_port < 65536:
        raise SettingsError(f"setting serve_port: {settings.serve_port} is outside 1..65535")
    if settings.dense_model == "e5" and settings.embed_backend in ("openai", "hash"):
        raise SettingsError(f"dense_model=e5 runs locally: it cannot go with embed_backend={settings.embed_backend}")
    if settings.answer_mode == "llm" and not settings.llm_configured:
        raise SettingsError("answer_mode=llm needs llm_model and llm_base_url or llm_api_key")
    return settings


_OFFLINE_DONE = False


def offline_environment() -> None:
    """Switch off every network lookup the stack would make, before those libraries load.

    Hub downloads and telemetry off; tiktoken pointed at the encodings llama-index ships
    (found without importing llama-index, which is slow to import).
    """
    global _OFFLINE_DONE
    if _OFFLINE_DONE:
        return
    defaults = {
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "HF_DATASETS_OFFLINE": "1",
        "GRADIO_ANALYTICS_ENABLED": "False",
        "ANONYMIZED_TELEMETRY": "False",
        "CHROMA_TELEMETRY": "False",
        "DO_NOT_TRACK": "1",
        "TOKENIZERS_PARALLELISM": "false",
        # onnxruntime (1.32 on Linux) uploads usage events to Microsoft in a background thread
        # seconds after a session starts; disable_telemetry_events() does not stop it. Newer
        # releases read ORT_TELEMETRY_DISABLED (or ORT_DISABLE_TELEMETRY); 1.32 honours only its
        # own test-harness switch, which does nothing else.
        "ORT_TELEMETRY_DISABLED": "1",
        "ORT_DISABLE_TELEMETRY": "1",
        "ORT_RUNNING_UNIT_TESTS": "1",
        "PYTHONWARNINGS": os.environ.get("PYTHONWARNINGS", ""),
    }
    for key, value in defaults.items():
        os.environ.setdefault(key, value)
    if "TIKTOKEN_CACHE_DIR" not in os.environ:
        import importlib.util

        spec = importlib.util.find_spec("llama_index")
        if spec and spec.submodule_search_locations:
            for base in spec.submodule_search_locations:
                cache = Path(base) / "core" / "_static" / "tiktoken_cache"
                if cache.is_dir():
                    os.environ["TIKTOKEN_CACHE_DIR"] = str(cache)
                    break
    _OFFLINE_DONE = True
