"""Semantic extraction in the engine, with LangChain's fake chat models: summaries and
contexts stored, shown and searched; prompts from the registry; failed tries, retries,
rate limits, restarts; and nothing at all without a model. Both storages."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel

from memory_integrations import AgentMemoryClient, Settings
from memory_integrations.embedders import HashingEmbedder
from memory_integrations.errors import (
    ConflictError,
    ExtractionError,
    NotFoundError,
    RateLimitError,
    ValidationError,
)
from memory_integrations.extraction import (
    ANSWER_FORMAT,
    BASE_PROMPT,
    ChatModelExtractor,
    Extraction,
    parse_extraction,
    resolve_extractor,
)

FAST = Settings(lease_seconds=1.0)


def answer(summary: str, *contexts: str) -> str:
    return json.dumps({"summary": summary, "contexts": list(contexts)})


class RecordingExtractor:
    """An Extractor that answers from the text and records every prompt it was given."""

    name = "recording"

    def __init__(self, fail_first: int = 0, rate_limit_first: int = 0) -> None:
        self.prompts: list[str] = []
        self.texts: list[str] = []
        self.fail_first = fail_first
        self.rate_limit_first = rate_limit_first
        self._lock = threading.Lock()

    def answer(self, prompt: str, text: str) -> str:
        with self._lock:
            self.prompts.append(prompt)
            self.texts.append(text)
            if self.rate_limit_first:
                self.rate_limit_first -= 1
                raise RateLimitError("slow down", retry_after=0.2)
            if self.fail_first:
                self.fail_first -= 1
                raise ExtractionError("the model timed out")
        return answer(f"About: {text}", "recorded")


def _session(client: AgentMemoryClient) -> Any:
    return client.create_user("u", "U").create_session("s")


def test_without_a_model_nothing_is_extracted(db_path: Any) -> None:
    with AgentMemoryClient(db_path, embedder=HashingEmbedder()) as client:
        assert client.backend.extractor is None  # type: ignore[attr-defined]
        session = _session(client)
        session.add_memory(facts=["Ana flies to Lisbon in May."], async_processing=False)
        block = session.list_memories().memory_blocks[0]
        assert (block.summary, block.contexts, block.prompt_id) == (None, None, None)


def test_a_fake_chat_model_gives_summaries_and_contexts_that_search_finds(db_path: Any) -> None:
    model = FakeListChatModel(
        responses=[
            answer("Ana is travelling to Lisbon in May.", "travel", "portugal"),
            answer("Ana does not eat meat.", "dietary preference"),
        ]
    )
    with AgentMemoryClient(db_path, embedder=HashingEmbedder(), extractor=model) as client:
        session = _session(client)
        session.add_memory(facts=["Ana flies to Lisbon in May."], async_processing=False)
        session.add_memory(facts=["Ana is vegetarian."])  # extracted by the worker
        assert client.wait_until_processed(30)
        blocks = {b.fact: b for b in session.list_memories().memory_blocks}
        lisbon, food = blocks["Ana flies to Lisbon in May."], blocks["Ana is vegetarian."]
        assert lisbon.summary == "Ana is travelling to Lisbon in May."
        assert lisbon.contexts == ["travel", "portugal"]
        assert food.contexts == ["dietary preference"] and food.status.value == "ready"
        # The contexts and summary feed the keyword half: words the facts do not contain.
        assert session.search_memory(query="portugal")[0].fact == lisbon.fact
        assert session.search_memory(query="dietary")[0].fact == food.fact


def test_each_block_uses_its_prompt_from_the_registry(db_path: Any) -> None:
    extractor = RecordingExtractor()
    with AgentMemoryClient(db_path, embedder=HashingEmbedder(), extractor=extractor) as client:
        engine: Any = client.backend
        engine.prompts.create("travel", "Tag the trip.", "trips")
        engine.prompts.update("travel", prompt="Tag the trip and its dates.")  # version 1
        session = _session(client)
        session.add_memory(facts=["a"], async_processing=False)
        engine.add_memory("u", "s", facts=["b"], async_processing=False, prompt_id="travel")
        engine.add_memory(
            "u", "s", facts=["c"], async_processing=False, prompt_id="travel", prompt_vid=0
        )
        assert extractor.prompts == [
            f"{BASE_PROMPT}\n\n{ANSWER_FORMAT}",
            f"Tag the trip and its dates.\n\n{ANSWER_FORMAT}",
            f"Tag the trip.\n\n{ANSWER_FORMAT}",
        ]
        blocks = {b.fact: b for b in session.list_memories().memory_blocks}
        assert (blocks["b"].prompt_id, blocks["b"].prompt_vid) == ("travel", 1)
        assert (blocks["c"].prompt_id, blocks["c"].prompt_vid) == ("travel", 0)

        # A new prompt extracts again; "default" goes back to the base prompt.
        session.update_memory(blocks["a"].block_id, prompt_id="travel", async_processing=False)
        assert extractor.prompts[-1].startswith("Tag the trip and its dates.")
        session.update_memory(blocks["b"].block_id, prompt_id="default", async_processing=False)
        assert extractor.prompts[-1].startswith(BASE_PROMPT)
        assert session.get_memory_block(blocks["b"].block_id).prompt_id is None
        # An update that changes nothing about extraction does not call the model.
        calls = len(extractor.prompts)
        session.update_memory(blocks["c"].block_id, annotations={"k": "v"})
        assert len(extractor.prompts) == calls

        with pytest.raises(NotFoundError):
            engine.add_memory("u", "s", facts=["d"], prompt_id="missing")
        with pytest.raises(ValidationError, match="context_required=False"):
            engine.add_memory("u", "s", facts=["d"], prompt_id="travel", context_required=False)
        with pytest.raises(ValidationError, match="prompt_vid needs prompt_id"):
            engine.add_memory("u", "s", facts=["d"], prompt_vid=0)
        engine.prompts.archive("travel", None)
        with pytest.raises(ConflictError):
            engine.add_memory("u", "s", facts=["d"], prompt_id="travel")
        assert session.count_memories() == 3  # nothing written by the refused calls


def test_a_purged_prompt_falls_back_to_the_base_prompt(db_path: Any) -> None:
    extractor = RecordingExtractor()
    with AgentMemoryClient(db_path, embedder=HashingEmbedder(), extractor=extractor) as client:
        engine: Any = client.backend
        engine.prompts.create("gone", "Old prompt.", "d")
        session = _session(client)
        (block_id,) = engine.add_memory(
            "u", "s", facts=["x"], async_processing=False, prompt_id="gone"
        ).block_ids
        engine.prompts.purge("gone", None)
        session.update_memory(block_id, fact="y", async_processing=False)
        assert extractor.prompts[-1].startswith(BASE_PROMPT)


def test_opting_out_keeps_blocks_away_from_the_model(db_path: Any) -> None:
    extractor = RecordingExtractor()
    with AgentMemoryClient(db_path, embedder=HashingEmbedder(), extractor=extractor) as client:
        engine: Any = client.backend
        _session(client)
        engine.add_memory(
            "u", "s", facts=["secret"], async_processing=False, context_required=False
        )
        engine.add_memory(
            "u", "s", facts=["private"], annotations={"extraction": "off"}, async_processing=False
        )
        engine.add_memory("u", "s", facts=["shared"], async_processing=False)
        assert extractor.texts == ["shared"]


def test_failed_tries_end_in_extraction_failed_and_update_retries(db_path: Any) -> None:
    extractor = RecordingExtractor(fail_first=3)
    with AgentMemoryClient(
        db_path, embedder=HashingEmbedder(), extractor=extractor, settings=FAST
    ) as client:
        session = _session(client)
        (block_id,) = session.add_memory(facts=["Ana is vegetarian."]).block_ids
        assert client.wait_until_processed(30)
        failed = session.get_memory_block(block_id)
        assert (failed.status.value, failed.fail_count) == ("extraction_failed", 3)
        assert session.search_memory(query="vegetarian").memory_blocks == []  # excluded
        figures = client.metrics()
        assert figures["agentmemory_async_batch_permanent_failures_total"] == 1
        assert figures["agentmemory_processing_retries_total"] == 2
        session.update_memory(block_id, fact="Ana is vegetarian.", async_processing=True)
        assert client.wait_until_processed(30)
        ready = session.get_memory_block(block_id)
        assert (ready.status.value, ready.summary) == ("ready", "About: Ana is vegetarian.")
        assert session.search_memory(query="vegetarian")[0].block_id == block_id


def test_a_malformed_answer_is_a_failed_try(db_path: Any) -> None:
    model = FakeListChatModel(responses=["Sure! Here is a summary.", answer("Fine now.", "ok")])
    with AgentMemoryClient(
        db_path, embedder=HashingEmbedder(), extractor=model, settings=FAST
    ) as client:
        session = _session(client)
        (block_id,) = session.add_memory(facts=["x"]).block_ids
        assert client.wait_until_processed(30)
        block = session.get_memory_block(block_id)
        assert (block.status.value, block.fail_count, block.summary) == ("ready", 1, "Fine now.")


def test_a_rate_limited_model_delays_without_losing_a_try(db_path: Any) -> None:
    extractor = RecordingExtractor(rate_limit_first=3)
    with AgentMemoryClient(
        db_path, embedder=HashingEmbedder(), extractor=extractor, settings=FAST
    ) as client:
        session = _session(client)
        (block_id,) = session.add_memory(facts=["x"]).block_ids
        assert client.wait_until_processed(30)
        block = session.get_memory_block(block_id)
        assert (block.status.value, block.fail_count) == ("ready", 0)
        assert len(extractor.texts) == 4
        assert client.metrics()["agentmemory_processing_rate_limited_total"] == 3
        with pytest.raises(RateLimitError) as limited:  # a call that waits is told to retry
            extractor.rate_limit_first = 1
            session.add_memory(facts=["y"], async_processing=False)
        assert limited.value.retry_after == pytest.approx(0.2)
        assert session.count_memories() == 1


def test_a_failure_of_a_call_that_waits_writes_nothing(db_path: Any) -> None:
    model = FakeListChatModel(responses=["no json here"])
    with AgentMemoryClient(db_path, embedder=HashingEmbedder(), extractor=model) as client:
        session = _session(client)
        with pytest.raises(ExtractionError, match="without a JSON object"):
            session.add_memory(facts=["x"], async_processing=False)
        assert session.count_memories() == 0


def test_blocks_left_by_a_stopped_process_are_extracted_after_a_restart(db_path: Any) -> None:
    class Slow(RecordingExtractor):
        def answer(self, prompt: str, text: str) -> str:
            time.sleep(3)
            return super().answer(prompt, text)

    client = AgentMemoryClient(db_path, embedder=HashingEmbedder(), extractor=Slow(), settings=FAST)
    session = _session(client)
    (block_id,) = session.add_memory(facts=["Ana is vegetarian."]).block_ids
    time.sleep(0.3)  # the worker has claimed it and waits for the model
    client.close(drain=False, timeout=0.1)
    with AgentMemoryClient(
        db_path, embedder=HashingEmbedder(), extractor=RecordingExtractor(), settings=FAST
    ) as again:
        assert again.wait_until_processed(30)
        block = again.get_user("u").get_session("s").get_memory_block(block_id)
        assert (block.status.value, block.summary) == ("ready", "About: Ana is vegetarian.")


def test_model_answers_are_parsed_strictly() -> None:
    fenced = '```json\n{"summary": "A.", "contexts": ["x", "y"]}\n```'
    assert parse_extraction(fenced, "m") == Extraction(summary="A.", contexts=["x", "y"])
    assert parse_extraction('Here: {"summary": "B."}', "m").contexts == []
    for bad, reason in (
        ("plain words", "without a JSON object"),
        ('{"summary": ""}', "not a valid Extraction"),
        ('{"summary": "A.", "contexts": "x"}', "not a valid Extraction"),
        ('{"summary": "A.", "contexts": ["' + "x" * 65 + '"]}', "not a valid Extraction"),
        (
            '{"summary": "A.", "contexts": [' + ",".join(['"t"'] * 11) + "]}",
            "not a valid Extraction",
        ),
        ("{not json}", "not a valid Extraction"),
    ):
        with pytest.raises(ExtractionError, match=reason):
            parse_extraction(bad, "m")


def test_a_chat_models_rate_limit_error_becomes_a_rate_limit() -> None:
    class Response:
        status_code = 429
        headers = {"retry-after": "7"}

    class ProviderRateLimitError(Exception):
        response = Response()

    class Limited(FakeListChatModel):
        def invoke(self, *args: Any, **kwargs: Any) -> Any:
            raise ProviderRateLimitError("429 Too Many Requests")

    with pytest.raises(RateLimitError) as limited:
        ChatModelExtractor(Limited(responses=["x"])).extract("t", BASE_PROMPT)
    assert limited.value.retry_after == 7.0


def test_extractor_specs() -> None:
    assert resolve_extractor(None) is None and resolve_extractor("") is None
    http = resolve_extractor("openai-compatible:tiny-model")
    assert http is not None and http.name == "openai-compatible:tiny-model"
    model = FakeListChatModel(responses=["x"])
    assert isinstance(resolve_extractor(model), ChatModelExtractor)
    recording = RecordingExtractor()
    assert resolve_extractor(recording) is recording
    with pytest.raises(Exception, match="is not one of"):
        resolve_extractor("gpt-4o")
    with pytest.raises(Exception, match="must be one of"):
        resolve_extractor(42)


def test_export_and_import_keep_what_extraction_and_fact_management_wrote(
    db_path: Any, tmp_path: Any
) -> None:
    extractor = RecordingExtractor()
    with AgentMemoryClient(db_path, embedder=HashingEmbedder(), extractor=extractor) as client:
        client.create_prompt("trips", "Tag trips.", "travel")
        session = _session(client)
        session.add_memory(facts=["x"], prompt_id="trips", async_processing=False)
        session.add_memory(facts=["y"], manage_facts=True, context_required=False)
        records = json.loads(json.dumps(list(client.backend.export_records())))  # type: ignore[attr-defined]
        before = {b.fact: b for b in session.list_memories().memory_blocks}
    with AgentMemoryClient(tmp_path / "copy.sqlite3", embedder=HashingEmbedder()) as copy:
        copy.backend.import_records(records)  # type: ignore[attr-defined]
        after = {b.fact: b for b in copy.get_user("u").get_session("s").list_memories()}
    keep = ("summary", "contexts", "prompt_id", "prompt_vid")
    assert {f: [getattr(b, k) for k in keep] for f, b in after.items()} == {
        f: [getattr(b, k) for k in keep] for f, b in before.items()
    }
    assert after["x"].summary == "About: x" and after["x"].prompt_id == "trips"
    bad = [dict(r) for r in records]
    next(r for r in bad if r["type"] == "block")["contexts"] = '{"not": "a list"}'
    with (
        AgentMemoryClient(tmp_path / "bad.sqlite3", embedder=HashingEmbedder()) as target,
        pytest.raises(ValidationError, match="contexts"),
    ):
        target.backend.import_records(bad)  # type: ignore[attr-defined]


def test_model_calls_run_at_most_extraction_concurrency_at_once(db_path: Any) -> None:
    class Counting(RecordingExtractor):
        def __init__(self) -> None:
            super().__init__()
            self.now = self.most = 0

        def answer(self, prompt: str, text: str) -> str:
            with self._lock:
                self.now += 1
                self.most = max(self.most, self.now)
            time.sleep(0.05)
            with self._lock:
                self.now -= 1
            return super().answer(prompt, text)

    counting = Counting()
    settings = Settings(extraction_concurrency=2, processing_batch_size=8)
    with AgentMemoryClient(
        db_path, embedder=HashingEmbedder(), extractor=counting, settings=settings
    ) as client:
        session = _session(client)
        session.add_memory(facts=[f"fact {i}" for i in range(8)])
        assert client.wait_until_processed(30)
        assert len(counting.texts) == 8 and counting.most == 2
        assert all(b.summary for b in session.list_memories().memory_blocks)
