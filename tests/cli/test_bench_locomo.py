"""``bench locomo`` on a small LoCoMo-shaped file of our own: both scopes, the session scope's
plain baselines, and the figures the command prints."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from memory_integrations.bench import bench_locomo

from .conftest import cli


def _turn(dia_id: str, speaker: str, text: str) -> dict[str, str]:
    return {"dia_id": dia_id, "speaker": speaker, "text": text}


@pytest.fixture
def locomo_file(tmp_path: Path) -> Path:
    sample = {
        "sample_id": "conv-a",
        "conversation": {
            "speaker_a": "Rosa",
            "speaker_b": "Ivo",
            "session_1_date_time": "1:56 pm on 8 May, 2023",
            "session_1": [
                _turn("D1:1", "Rosa", "Hi Ivo, how was your week?"),
                _turn("D1:2", "Ivo", "I repaired the old sailboat with my uncle."),
                _turn("D1:3", "Rosa", "Which colour did you paint the sailboat?"),
                _turn("D1:4", "Ivo", "Bright yellow, so everyone on the lake sees it."),
            ],
            "session_2_date_time": "10:12 am on 2 June, 2023",
            "session_2": [
                _turn("D2:1", "Rosa", "I started pottery classes on Tuesdays."),
                _turn("D2:2", "Ivo", "Pottery sounds relaxing. What do you make?"),
                _turn("D2:3", "Rosa", "Mostly mugs and a teapot for my grandmother."),
            ],
        },
        "qa": [
            {
                "question": "What did Ivo repair with his uncle?",
                "evidence": ["D1:2"],
                "category": 4,
            },
            {"question": "When does Rosa have pottery?", "evidence": ["D2:1"], "category": 2},
            {
                "question": "What does Rosa make in class and for whom?",
                "evidence": ["D2:3; D2:1"],  # several ids in one string, as LoCoMo has
                "category": 1,
            },
            {
                "question": "What hobbies do Rosa and Ivo have?",
                "evidence": ["D1:2", "D2:1"],  # two sessions: left out of the session scope
                "category": 3,
            },
            {"question": "Adversarial, skipped", "evidence": ["D1:1"], "category": 5},
        ],
    }
    path = tmp_path / "locomo.json"
    path.write_text(json.dumps([sample]))
    return path


def test_all_sessions_scope_asks_every_question_of_categories_1_to_4(locomo_file: Path) -> None:
    figures = bench_locomo(locomo_file, embedder="hashing")
    assert figures["scope"] == "all" and figures["questions"] == 4 and figures["turns"] == 7
    assert set(figures) >= {"recall_at_1", "recall_at_5", "recall_at_10"}
    assert figures["recall_at_10"] == 1.0  # seven turns: every evidence is in the top 10
    assert figures["recall_at_1"] >= 0.5  # two questions share their answer's rare words
    assert "baselines" not in figures


def test_session_scope_searches_the_evidence_session_beside_plain_baselines(
    locomo_file: Path,
) -> None:
    figures = bench_locomo(locomo_file, embedder="hashing", scope="session")
    assert figures["scope"] == "session" and figures["questions"] == 3
    assert set(figures["baselines"]) == {"dense", "bm25"}
    for row in (figures, *figures["baselines"].values()):
        assert 0.0 <= row["recall_at_1"] <= row["recall_at_3"] <= 1.0
    assert "recall_at_10" not in figures
    # Every session has at most four turns; the answer is always within the top 3 of BM25
    # here because each question shares a rare word with its evidence turn.
    assert figures["baselines"]["bm25"]["recall_at_3"] == 1.0


def test_the_command_prints_the_session_table(locomo_file: Path) -> None:
    result = cli(
        "bench", "locomo", "--data", locomo_file, "--embedder", "hashing", "--scope", "session"
    )
    assert result.exit_code == 0, result.output
    assert "scope: session  questions: 3" in result.output
    assert "plain dense" in result.output and "plain bm25" in result.output
    assert "R@3" in result.output and "R@10" not in result.output


def test_an_unknown_scope_is_refused() -> None:
    with pytest.raises(ValueError, match="scope must be one of all, session, documents"):
        bench_locomo(Path("unused.json"), scope="user")


def test_documents_scope_finds_a_long_sessions_tail_with_windows(tmp_path: Path) -> None:
    filler = [
        _turn(f"D1:{i}", "Rosa", f"In week {i} we planted wheat and barley in long rows.")
        for i in range(1, 41)
    ]
    tail = _turn("D1:41", "Ivo", "My sister Aiko adopted a golden retriever puppy named Biscuit.")
    sample = {
        "sample_id": "conv-long",
        "conversation": {
            "session_1": [*filler, tail],
            "session_2": [
                _turn("D2:1", "Rosa", "I started pottery classes on Tuesdays."),
                _turn("D2:2", "Ivo", "Pottery sounds relaxing. What do you make?"),
            ],
        },
        "qa": [{"question": "Which dog did his sibling bring home?", "evidence": ["D1:41"]}],
    }
    sample["qa"][0]["category"] = 4
    path = tmp_path / "long.json"
    path.write_text(json.dumps([sample]))
    figures = bench_locomo(path, scope="documents")
    assert figures["scope"] == "documents" and figures["blocks"] == 2
    assert figures["questions"] == 1 and figures["recall_at_1"] == 1.0
    start_only = figures["baselines"]["start_only"]
    assert 0.0 <= start_only["recall_at_1"] <= start_only["recall_at_3"] == 1.0
    result = cli("bench", "locomo", "--data", path, "--scope", "documents")
    assert result.exit_code == 0, result.output
    assert "scope: documents  questions: 1  blocks: 2" in result.output
    assert "start only" in result.output
