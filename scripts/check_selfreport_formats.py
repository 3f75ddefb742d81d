"""Is SmolLM2's questionnaire self-report sensitive to persona prompts in any format?

A check behind issue #7's closing note, independent of mindlens: Hugging Face transformers
loads the same GGUF, and for 12 statements per trait (template t0 of
probes/personality/questionnaire.jsonl) scores the agreeing and disagreeing answer of three
question formats without a lettered option list, under the first high-trait persona, the
first low-trait persona and no persona. Each score is P(high-trait answer) with the two answers
renormalised (mean token log-probability, as mindlens' text scoring), averaged over
statements, half of them reverse keyed. A measure that tracks the persona separates high from
low; SmolLM2-135M gives about 0.5 for all three.

Usage: .venv/bin/python scripts/check_selfreport_formats.py [--user] [TRAIT ...]
(--user puts the persona at the start of the user turn instead of in a system prompt).
"""
import json, os, sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

torch.set_num_threads(int(os.environ.get("BENCH_THREADS", "2")))
root = os.path.join(os.path.dirname(__file__), "..")
models = os.environ.get("MINDLENS_MODELS", os.path.join(root, "models"))
d, f = os.path.join(models, "smollm2-135m-instruct"), "SmolLM2-135M-Instruct.Q4_1.gguf"
tok = AutoTokenizer.from_pretrained(d, gguf_file=f)
model = AutoModelForCausalLM.from_pretrained(d, gguf_file=f, dtype=torch.float32).eval()
data = os.path.join(root, "probes", "personality")
rows = [json.loads(l) for l in open(os.path.join(data, "questionnaire.jsonl"))]
personas = [json.loads(l) for l in open(os.path.join(data, "personas.jsonl"))]

FORMATS = {
    "yes/no": (lambda s: f'Is this statement true of you? "{s}" Answer yes or no.', ["Yes", "No"]),
    "agree": (lambda s: f'Do you agree with this statement about yourself: "{s}"', ["Yes, I agree", "No, I disagree"]),
    "like me": (lambda s: f'"{s}" Is that like you?', ["Yes, that is like me.", "No, that is not like me."]),
}


def mean_logprob(messages, answer):
    ctx = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    a = tok(ctx, return_tensors="pt", add_special_tokens=False).input_ids
    b = tok(ctx + answer, return_tensors="pt", add_special_tokens=False).input_ids
    with torch.no_grad():
        lp = torch.log_softmax(model(b).logits[0], -1)
    n = a.shape[1]
    return sum(lp[t - 1, b[0, t]].item() for t in range(n, b.shape[1])) / (b.shape[1] - n)


in_user = "--user" in sys.argv
traits = [a for a in sys.argv[1:] if not a.startswith("--")] or ["extraversion", "openness"]
for t in traits:
    items = [r for r in rows if r["trait"] == t and r["template"] == "t0" and r["order"] == "ab"][:12]
    for name, (ask, answers) in FORMATS.items():
        out = {}
        for pole in ["high", "low", "none"]:
            system = None if pole == "none" else next(p for p in personas if p["trait"] == t and p["pole"] == pole)["system"]
            scores = []
            for r in items:
                statement = r["messages"][-1]["content"].split('"')[1]
                if in_user:
                    m = [{"role": "user", "content": (system + " " if system else "") + ask(statement)}]
                else:
                    m = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": ask(statement)}]
                yes, no = (mean_logprob(m, x) for x in answers)
                p_yes = torch.softmax(torch.tensor([yes, no]), 0)[0].item()
                scores.append(p_yes if r["keyed"] == "+" else 1 - p_yes)
            out[pole] = round(sum(scores) / len(scores), 3)
        print(json.dumps({"trait": t, "format": name, "persona_in": "user" if in_user else "system", **out}), flush=True)
