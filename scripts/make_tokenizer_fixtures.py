#!/usr/bin/env python3
"""Write tokenizer / chat-template reference fixtures from Hugging Face transformers.

Usage (from the repository root):
    .venv/bin/python scripts/make_tokenizer_fixtures.py \
        [--models smollm2-135m-instruct,gemma3-270m,qwen2.5-coder-0.5b-instruct]
        [--out tests/fixtures/tokenizer]

Tokenizers are built by transformers from the GGUF metadata
(AutoTokenizer.from_pretrained(dir, gguf_file=...)). Writes per model:

  {model}.json       list of {"text", "ids", "ids_no_special", "tokens", "decoded",
                     "decoded_skip_special"}
                       ids            = tok(text).input_ids (default special-token rule:
                                        Gemma prepends <bos>=2, SmolLM2 and Qwen2.5
                                        add nothing)
                       ids_no_special = tok(text, add_special_tokens=False).input_ids
                       tokens         = tok.convert_ids_to_tokens(ids)
                       decoded        = tok.decode(ids)   (skip_special_tokens=False)
                       decoded_skip_special = tok.decode(ids, skip_special_tokens=True)
                     Special tokens written in the text (e.g. "<|im_start|>") are
                     matched as special tokens in both ids and ids_no_special.
  {model}.chat.json  list of {"name", "messages", "add_generation_prompt", "rendered",
                     "ids"}; rendered with the GGUF's chat template (SmolLM2, Qwen2.5:
                     ChatML, Qwen's inserts a default system prompt) or with
                     Gemma 3's published template (tests/fixtures/reference/
                     gemma3-chat-template.jinja, passed explicitly as chat_template=);
                     ids = tok(rendered, add_special_tokens=False).input_ids.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import reference_common as rc

COMMON_TEXTS = [
    "Hello world",
    "The quick brown fox jumps over the lazy dog.",
    " leading space",
    "trailing space ",
    "  two leading, two trailing  ",
    "double  spaces  between  words",
    "runs     of spaces\n\n\nand newlines\n",
    "tab\tseparated\tvalues\n\tindented line",
    "12345 3.14159 2026-11-23",
    "1234567890123456789 and 1,000,000",
    "Hello, world! (yes) [no] {maybe}; a:b \"quoted\" 'single' -- ... ?!",
    "don't I'll we've they're it's",
    "café naïve résumé Zürich",
    "日本語のテキスト 中文",
    "emoji 🚀🔥 👩‍💻 flag 🇫🇷",
    "مرحبا بالعالم",
    "non\u00a0breaking space and zero\u200bwidth",
    "def f(x):\n    if x > 0:\n        return x * 10\n    return -x\n",
    "",
    " ",
    "\n",
    "Pneumonoultramicroscopicsilicovolcanoconiosis",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
]

SPECIAL_TEXTS = {
    "smollm2-135m-instruct": [
        "<|im_start|>user\nhi<|im_end|>",
        "<|endoftext|>text after endoftext",
    ],
    "gemma3-270m": [
        "<start_of_turn>user\nhi<end_of_turn>",
        "<bos>text that already starts with bos",
    ],
}
# Qwen2.5-Coder (both sizes share the tokenizer): ChatML tokens, <|endoftext|> (bos/pad id,
# never added) and the fill-in-the-middle tokens of the Coder models.
SPECIAL_TEXTS["qwen2.5-coder-0.5b-instruct"] = SPECIAL_TEXTS["qwen2.5-coder-1.5b-instruct"] = [
    "<|im_start|>user\nhi<|im_end|>",
    "<|endoftext|>text after endoftext",
    "<|fim_prefix|>def f(x):\n    <|fim_suffix|>\n    return y<|fim_middle|>",
]

CHATS = [
    ("user_only", [{"role": "user", "content": "Hello!"}]),
    (
        "system_user",
        [
            {"role": "system", "content": "You are a terse assistant."},
            {"role": "user", "content": "What is 2+2?"},
        ],
    ),
    (
        "multi_turn",
        [
            {"role": "user", "content": "Hi there."},
            {"role": "assistant", "content": "Hello! How can I help?"},
            {"role": "user", "content": "Tell me a joke."},
        ],
    ),
    (
        "system_multi_turn",
        [
            {"role": "system", "content": "Answer in French."},
            {"role": "user", "content": "Good morning"},
            {"role": "assistant", "content": "Bonjour"},
            {"role": "user", "content": "Thank you"},
        ],
    ),
    ("whitespace_content", [{"role": "user", "content": "  padded content \n"}]),
]


def run_model(name: str, out: Path) -> None:
    t0 = time.time()
    tok = rc.load_tokenizer(name)
    t_load = time.time() - t0
    items = []
    for text in COMMON_TEXTS + SPECIAL_TEXTS[name]:
        ids = tok(text).input_ids
        ids_ns = tok(text, add_special_tokens=False).input_ids
        items.append(
            {
                "text": text,
                "ids": list(map(int, ids)),
                "ids_no_special": list(map(int, ids_ns)),
                "tokens": tok.convert_ids_to_tokens(ids),
                "decoded": tok.decode(ids),
                "decoded_skip_special": tok.decode(ids, skip_special_tokens=True),
            }
        )
    rc.write_json(out / f"{name}.json", items)

    chats = []
    for cname, messages in CHATS:
        for agp in (True,) if cname != "multi_turn" else (True, False):
            rendered = rc.render_chat(name, tok, messages, add_generation_prompt=agp)
            ids = tok(rendered, add_special_tokens=False).input_ids
            chats.append(
                {
                    "name": cname if agp else f"{cname}_no_generation_prompt",
                    "messages": messages,
                    "add_generation_prompt": agp,
                    "rendered": rendered,
                    "ids": list(map(int, ids)),
                }
            )
    rc.write_json(out / f"{name}.chat.json", chats)
    n_rt = sum(1 for it in items if it["decoded_skip_special"] == it["text"])
    print(
        f"  [{name}] {len(items)} strings ({n_rt} round-trip exactly with skip_special_tokens), "
        f"{len(chats)} chats; tokenizer load {t_load:.1f}s, total {time.time() - t0:.1f}s"
    )


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default=",".join(rc.DEFAULT_MODELS), help=f"known: {', '.join(rc.MODELS)}")
    ap.add_argument("--out", default=str(rc.REPO / "tests/fixtures/tokenizer"))
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name in [m.strip() for m in args.models.split(",") if m.strip()]:
        print(f"== {name}")
        run_model(name, out)


if __name__ == "__main__":
    main()
