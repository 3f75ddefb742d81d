"""Shared helpers for the Python reference-fixture scripts.

Imported by make_reference.py and make_tokenizer_fixtures.py (run them from the
repository root with the reference venv, see scripts/README.md). Nothing here is
used by the Rust build or by CI: CI only reads the committed fixtures.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

# No hub access here: everything is loaded from local GGUF files.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parent.parent
MODELS_DIR = Path(os.environ.get("MINDLENS_MODELS", REPO / "models"))

# name -> (directory under models/, gguf file name)
MODELS = {
    "smollm2-135m-instruct": ("smollm2-135m-instruct", "SmolLM2-135M-Instruct.Q4_1.gguf"),
    "gemma3-270m": ("gemma3-270m", "gemma-3-270m-q4_k_m.gguf"),
    # qwen2 arch; both GGUFs carry their ChatML chat template (used as is) and a separate
    # output.weight (transformers loads them with tie_word_embeddings = false).
    "qwen2.5-coder-0.5b-instruct": ("qwen2.5-coder-0.5b-instruct", "Qwen2.5-Coder-0.5B-Instruct.gguf"),
    "qwen2.5-coder-1.5b-instruct": ("qwen2.5-coder-1.5b-instruct", "Qwen2.5-Coder-1.5B-Instruct.Q4_K_M.gguf"),
}

# The models whose fixtures are committed and that the scripts do by default; the
# 1.5B's reference arrays are too large to commit (see make_reference.py).
DEFAULT_MODELS = ["smollm2-135m-instruct", "gemma3-270m", "qwen2.5-coder-0.5b-instruct"]

# Gemma 3's published chat template, as shipped in the tokenizer_config.json of the
# google/gemma-3-*-it checkpoints. The gemma-3-270m base GGUF carries no
# tokenizer.chat_template, so we pass this one explicitly (chat_template=...).
# A system message is folded into the first user turn (content + "\n\n"), contents
# are trimmed, the assistant role is renamed "model".
GEMMA3_CHAT_TEMPLATE = (
    "{{ bos_token }}\n"
    "{%- if messages[0]['role'] == 'system' -%}\n"
    "    {%- if messages[0]['content'] is string -%}\n"
    "        {%- set first_user_prefix = messages[0]['content'] + '\\n\\n' -%}\n"
    "    {%- else -%}\n"
    "        {%- set first_user_prefix = messages[0]['content'][0]['text'] + '\\n\\n' -%}\n"
    "    {%- endif -%}\n"
    "    {%- set loop_messages = messages[1:] -%}\n"
    "{%- else -%}\n"
    "    {%- set first_user_prefix = \"\" -%}\n"
    "    {%- set loop_messages = messages -%}\n"
    "{%- endif -%}\n"
    "{%- for message in loop_messages -%}\n"
    "    {%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) -%}\n"
    "        {{ raise_exception(\"Conversation roles must alternate user/assistant/user/assistant/...\") }}\n"
    "    {%- endif -%}\n"
    "    {%- if (message['role'] == 'assistant') -%}\n"
    "        {%- set role = \"model\" -%}\n"
    "    {%- else -%}\n"
    "        {%- set role = message['role'] -%}\n"
    "    {%- endif -%}\n"
    "    {{ '<start_of_turn>' + role + '\\n' + (first_user_prefix if loop.first else \"\") }}\n"
    "    {%- if message['content'] is string -%}\n"
    "        {{ message['content'] | trim }}\n"
    "    {%- elif message['content'] is iterable -%}\n"
    "        {%- for item in message['content'] -%}\n"
    "            {%- if item['type'] == 'image' -%}\n"
    "                {{ '<start_of_image>' }}\n"
    "            {%- elif item['type'] == 'text' -%}\n"
    "                {{ item['text'] | trim }}\n"
    "            {%- endif -%}\n"
    "        {%- endfor -%}\n"
    "    {%- else -%}\n"
    "        {{ raise_exception(\"Invalid content type\") }}\n"
    "    {%- endif -%}\n"
    "    {{ '<end_of_turn>\\n' }}\n"
    "{%- endfor -%}\n"
    "{%- if add_generation_prompt -%}\n"
    "    {{'<start_of_turn>model\\n'}}\n"
    "{%- endif -%}\n"
)

GEMMA3_TEMPLATE_FILE = "gemma3-chat-template.jinja"


def die(msg: str) -> None:
    print(f"error: {msg}", file=sys.stderr)
    sys.exit(1)


def model_path(name: str) -> tuple[Path, str]:
    if name not in MODELS:
        die(f"unknown model {name!r} (known: {', '.join(MODELS)})")
    sub, gguf = MODELS[name]
    d = MODELS_DIR / sub
    if not (d / gguf).is_file():
        die(f"{d / gguf} not found; fetch it with models/fetch.sh {name}")
    return d, gguf


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def chat_template_for(name: str, tok) -> str | None:
    """The template to pass explicitly to apply_chat_template (None = the GGUF's own)."""
    if name == "gemma3-270m":
        return GEMMA3_CHAT_TEMPLATE
    if tok.chat_template is None:
        die(f"{name}: tokenizer has no chat template")
    return None


def render_chat(name: str, tok, messages, add_generation_prompt: bool = True) -> str:
    return tok.apply_chat_template(
        messages,
        chat_template=chat_template_for(name, tok),
        add_generation_prompt=add_generation_prompt,
        tokenize=False,
    )


def load_tokenizer(name: str):
    from transformers import AutoTokenizer

    d, gguf = model_path(name)
    return AutoTokenizer.from_pretrained(str(d), gguf_file=gguf)


def load_model(name: str):
    import torch
    from transformers import AutoModelForCausalLM

    d, gguf = model_path(name)
    model = AutoModelForCausalLM.from_pretrained(
        str(d), gguf_file=gguf, dtype=torch.float32, attn_implementation="eager"
    )
    model.eval()
    return model


def write_json(path: Path, obj) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False, indent=1)
        f.write("\n")
