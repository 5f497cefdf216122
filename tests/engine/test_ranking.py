"""The right memory first in small scopes: the guide's example, a small-memory case set with
paraphrased queries, and the conversational cues, with the default local MiniLM embedder on
both storages."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest

from memory_integrations import AgentMemoryClient, ChatMessage, MessageRole
from memory_integrations.retrieval import (
    KeywordIndex,
    PoolCues,
    QueryCues,
    RankingConfig,
    fuse,
    query_terms,
)
from memory_integrations.retrieval._cues import is_question, named_period, states_time


def test_the_guide_example_ranks_the_paypal_fact_first(db_path: Any) -> None:
    with AgentMemoryClient(db_path) as client:
        user = client.create_user("customer-1", "Customer")
        first = user.create_session("s1")
        first.add_memory(
            facts=["Customer is in the EU timezone.", "Customer prefers email notifications."],
            async_processing=False,
        )
        user.create_session("s2").add_memory(
            facts=["Customer pays by PayPal."], async_processing=False
        )
        found = user.search_memory(
            query="payment preferences", filters={"session_ids": "all", "relevant_k": 2}
        )
        assert found[0].fact == "Customer pays by PayPal."
        assert found[0].rel_score is not None and found[0].rel_score > found[1].rel_score


# Users with 5 to 40 facts; each query paraphrases its fact (few or no shared words).
CASES: dict[str, tuple[list[str], list[tuple[str, int]]]] = {
    "ana": (
        [
            "Ana works night shifts as a nurse at the children's hospital.",
            "Ana is allergic to peanuts.",
            "Ana's cat is called Miso.",
            "Ana moved from Porto to Berlin in 2021.",
            "Ana wants to run the Berlin marathon next autumn.",
        ],
        [
            ("What does Ana do for a living?", 0),
            ("Which foods must Ana avoid?", 1),
            ("What is the name of Ana's pet?", 2),
            ("Where did Ana live before?", 3),
            ("What race is Ana training for?", 4),
        ],
    ),
    "ben": (
        [
            "Ben drives a blue 2015 Toyota Corolla.",
            "Ben's daughter Lily starts primary school in September.",
            "Ben prefers aisle seats on flights.",
            "Ben is learning Japanese on weekday evenings.",
            "Ben's favourite band is Radiohead.",
            "Ben does not drink coffee, only green tea.",
            "Ben's birthday is on 14 March.",
            "Ben plays five-a-side football on Thursdays.",
            "Ben's landlord raised the rent by ten percent.",
            "Ben is saving up for a trip to Iceland.",
            "Ben's laptop is a ThinkPad X1 Carbon.",
            "Ben is a vegetarian since 2019.",
            "Ben's manager is called Priya.",
            "Ben broke his wrist skiing last winter.",
            "Ben wants reminders by text message, never by phone call.",
        ],
        [
            ("What car does Ben have?", 0),
            ("When does Ben's kid begin school?", 1),
            ("Where does Ben like to sit on a plane?", 2),
            ("Which language is Ben studying?", 3),
            ("What music does Ben like?", 4),
            ("What hot drink should I offer Ben?", 5),
            ("What sport does Ben do during the week?", 7),
            ("Where is Ben going on holiday?", 9),
            ("Does Ben eat meat?", 11),
            ("Who is Ben's boss?", 12),
            ("How should we contact Ben?", 14),
        ],
    ),
    "chen": (
        [
            f"Chen's note {n}: the {thing} is kept in the {place}."
            for n, (thing, place) in enumerate(
                [
                    ("spare key", "blue flower pot by the door"),
                    ("passport", "top drawer of the desk"),
                    ("winter coats", "attic"),
                    ("bike pump", "garage shelf"),
                    ("tax papers", "grey folder in the study"),
                    ("first aid kit", "bathroom cabinet"),
                    ("camping tent", "basement"),
                    ("wedding photos", "shoebox under the bed"),
                    ("wifi password", "sticker on the router"),
                    ("car documents", "glove compartment"),
                ]
            )
        ]
        + [
            "Chen is training for a triathlon in July.",
            "Chen's sister Mei lives in Vancouver.",
            "Chen's dentist appointment is every six months.",
            "Chen dislikes horror movies.",
            "Chen pays the electricity bill by direct debit.",
            "Chen speaks Mandarin, Cantonese and English.",
            "Chen's favourite dish is mapo tofu.",
            "Chen has two sons, aged 7 and 10.",
            "Chen works remotely for a bank in Singapore.",
            "Chen is afraid of flying.",
            "Chen grows tomatoes and basil on the balcony.",
            "Chen's phone is an old iPhone 8.",
            "Chen volunteers at the food bank on Saturdays.",
            "Chen reads science fiction before bed.",
            "Chen's gym membership ends in December.",
            "Chen is colour-blind.",
            "Chen commutes by electric scooter.",
            "Chen's mother is recovering from hip surgery.",
            "Chen collects vintage fountain pens.",
            "Chen is planning a kitchen renovation.",
        ],
        [
            ("Where can I find Chen's travel document?", 1),
            ("Where are the heavy jackets stored?", 2),
            ("Where does Chen keep medical supplies?", 5),
            ("Which sibling lives in Canada?", 11),
            ("What films does Chen avoid?", 13),
            ("How is the power bill paid?", 14),
            ("Which languages can Chen speak?", 15),
            ("How many children does Chen have?", 17),
            ("Who does Chen work for?", 18),
            ("What plants does Chen grow?", 20),
            ("What does Chen do on weekend mornings for charity?", 22),
            ("How does Chen get to work?", 26),
            ("What does Chen collect?", 28),
        ],
    ),
}


def test_small_memories_rank_the_paraphrased_fact_first(db_path: Any) -> None:
    hits_at_1 = hits_at_3 = total = 0
    misses = []
    with AgentMemoryClient(db_path) as client:
        for user_id, (facts, queries) in CASES.items():
            user = client.create_user(user_id, user_id)
            user.create_session("facts").add_memory(facts=facts, async_processing=False)
            for query, expected in queries:
                found = [b.fact for b in user.search_memory(query, {"relevant_k": 3})]
                total += 1
                hits_at_1 += found[:1] == [facts[expected]]
                hits_at_3 += facts[expected] in found
                if found[:1] != [facts[expected]]:
                    misses.append((query, found[:1]))
    assert total == 29
    # Measured with MiniLM: 25 of 29 first, 28 in the top 3 (min-max fusion, before the
    # coverage-scaled keyword half: 21 and 25). The misses are listed on failure.
    assert hits_at_1 >= 25, misses
    assert hits_at_3 >= 28, misses


def _top_turn(db_path: Any, turns: list[tuple[str, str]], query: str) -> str | None:
    """The content of the best turn for ``query`` in a chat of (speaker, text) turns."""
    with AgentMemoryClient(db_path) as client:
        session = client.create_user("chat-user", "Chat user").create_session("chat")
        session.add_memory(
            messages=[
                ChatMessage(role=MessageRole.USER, content=text, name=speaker)
                for speaker, text in turns
            ],
            async_processing=False,
        )
        found = session.search_memory(query, {"relevant_k": 1})
        assert found[0].message is not None
        return found[0].message.content


def test_the_answer_outranks_the_question_that_echoes_the_query(db_path: Any) -> None:
    turns = [
        ("Tim", "Congrats on the new contract! Which team did you sign with?"),
        ("John", "The Minnesota Wolves! I can't wait to play with them."),
        ("Tim", "Awesome. My brother plays basketball too, for his school team."),
        ("John", "Nice, tell him to keep practising his free throws."),
    ]
    assert _top_turn(db_path, turns, "Which team did John sign with?") == turns[1][1]


def test_when_queries_lift_the_turn_that_states_a_time() -> None:
    texts = ["Her name is Coco, she is a beagle.", "I adopted a puppy last month!", "Hi!"]
    none = np.full(3, -1, np.int64)
    cosine = np.array([0.6, 0.55, 0.2], np.float32)

    def top(query: str) -> int:
        cues = PoolCues.of(QueryCues.of(query), texts, ["maria"] * 3)
        ranked = fuse(cosine, None, none, none, 1, cues=cues)
        return ranked[0][0]

    assert top("When did Maria get Coco?") == 1
    assert top("Why did Maria get Coco?") == 0


def test_cue_detectors() -> None:
    assert is_question("Which team did you sign with?  ")
    assert not is_question("I signed with the Wolves.")
    assert states_time("I went there yesterday") and states_time("back in 2019")
    assert states_time("every Monday") and not states_time("I like the park")
    query = QueryCues.of("When did Mary Ann visit Lisbon?")
    assert query.asks_when and not QueryCues.of("Why did she go?").asks_when
    assert query.names("mary ann") and not query.names("ann lee") and not query.names("")


def test_keyword_coverage_counts_the_query_words_memory_has() -> None:
    index = KeywordIndex()
    for text in ["Customer prefers email.", "Customer pays by PayPal.", "EU timezone"]:
        index.add(text)
    assert index.coverage(query_terms("customer email")) == 1.0
    partial = index.coverage(query_terms("payment preferences"))
    assert 0 < partial < 0.5  # "prefer" is known, the rarer-weighted "payment" is not
    assert index.coverage(query_terms("unicorn")) == 0.0
    assert index.coverage([]) == 1.0


def test_fuse_scales_the_keyword_half_by_coverage_and_passes_questions_on() -> None:
    cosine = np.array([0.47, 0.29], np.float32)
    keyword = np.array([0.0, 1.0], np.float32)
    none = np.full(2, -1, np.int64)
    full = fuse(cosine, keyword, none, none, 2, coverage=1.0)
    low = fuse(cosine, keyword, none, none, 2, coverage=0.3)
    assert full[0][0] == 1 and low[0][0] == 0  # a one-word match wins only with coverage
    # A question (position 0) followed by its answer (position 1), both weak on their own.
    cues = PoolCues(
        question=np.array([True, False]),
        author_named=np.array([False, False]),
        timely=np.array([False, False]),
    )
    ranked = fuse(
        np.array([0.6, 0.5], np.float32),
        np.array([1.0, 0.8], np.float32),
        np.array([-1, 0]),
        np.array([1, -1]),
        2,
        cues=cues,
    )
    assert [i for i, _, _ in ranked] == [1, 0]
    assert all(0.0 <= score <= 1.0 for _, score, _ in ranked)


@pytest.mark.parametrize("config", [RankingConfig(), RankingConfig(question_penalty=5.0)])
def test_fused_scores_stay_in_the_unit_interval(config: RankingConfig) -> None:
    rng = np.random.default_rng(7)
    for _ in range(50):
        n = int(rng.integers(1, 30))
        prev = np.where(rng.random(n) < 0.5, rng.integers(0, n, n), -1)
        nxt = np.where(rng.random(n) < 0.5, rng.integers(0, n, n), -1)
        cues = PoolCues(
            question=rng.random(n) < 0.3,
            author_named=rng.random(n) < 0.3,
            timely=rng.random(n) < 0.3,
            dated=rng.random(n).astype(np.float32),
            session=rng.integers(0, 4, n),
            opens=(prev < 0) & (rng.random(n) < 0.5),
            closes=(nxt < 0) & (rng.random(n) < 0.5),
        )
        cosine = rng.random(n).astype(np.float32) * 2 - 1
        keyword = rng.random(n).astype(np.float32) * 9
        coverage = float(rng.random())
        ranked = fuse(cosine, keyword, prev, nxt, n, config=config, coverage=coverage, cues=cues)
        assert len(ranked) == n
        assert all(0.0 <= score <= 1.0 for _, score, _ in ranked)
        # Sharing the session's best score reorders below the first result, never it.
        alone = dataclasses.replace(config, session_weight=0.0)
        first = fuse(cosine, keyword, prev, nxt, 1, config=alone, coverage=coverage, cues=cues)
        assert ranked[0][0] == first[0][0]


def test_named_periods_of_queries() -> None:
    def start(query: str) -> datetime | None:
        period = named_period(query)
        assert period is not None and period.month is None
        return datetime.fromtimestamp(period.start / 1e6, UTC)

    day = datetime(2023, 5, 8, tzinfo=UTC)
    assert start("What did Caroline do on 8 May 2023?") == day
    assert start("What did Caroline do on May 8th, 2023?") == day
    assert start("Where was Mel in July 2023?") == datetime(2023, 7, 1, tzinfo=UTC)
    july = named_period("in July 2023")
    assert july is not None and (july.end - july.start) == 31 * 86_400_000_000
    assert start("What happened back in 2019?") == datetime(2019, 1, 1, tzinfo=UTC)
    assert start("Plans for 31 February 2023?") == datetime(2023, 2, 1, tzinfo=UTC)  # no such day
    october = named_period("What did she bake in October?")
    assert october is not None and october.month == 10
    assert named_period("May I ask what you like?") is None  # "may" as a month needs a year
    assert named_period("What is her cat called?") is None


def test_the_date_cue_favours_blocks_created_on_or_just_after_the_date() -> None:
    period = named_period("What happened on 8 May 2023?")
    assert period is not None
    day_us, hour_us = 86_400_000_000, 3_600_000_000
    created = np.array([-day_us, 5 * hour_us, day_us + 3 * day_us, 40 * day_us]) + period.start
    closeness = period.closeness(created, decay_days=3.0)
    assert closeness[0] == 0.0 and closeness[1] == 1.0  # before the day; on it
    assert closeness[2] == pytest.approx(np.exp(-1.0), abs=1e-6)  # three days after
    assert closeness[3] < 1e-4
    months = named_period("in October")
    assert months is not None
    october = datetime(2021, 10, 20, tzinfo=UTC).timestamp() * 1e6
    november = datetime(2021, 11, 2, tzinfo=UTC).timestamp() * 1e6
    assert months.closeness(np.array([october, november], np.int64), 3.0).tolist() == [1.0, 0.0]


def test_a_turn_shares_its_sessions_best_score_and_edges_inherit_a_typical_neighbour() -> None:
    none = np.full(3, -1, np.int64)
    plain = {"question": np.zeros(3, np.bool_), "author_named": np.zeros(3, np.bool_)}
    plain["timely"] = np.zeros(3, np.bool_)
    cosine = np.array([0.9, 0.40, 0.45], np.float32)  # 0 and 1 share a session, 2 is alone
    shared = PoolCues(**plain, session=np.array([0, 0, 1]))
    ranked = [i for i, _, _ in fuse(cosine, None, none, none, 3, cues=shared)]
    assert ranked == [0, 1, 2]
    alone = [i for i, _, _ in fuse(cosine, None, none, none, 3, cues=PoolCues(**plain))]
    assert alone == [0, 2, 1]
    # Equal turns 1 and 2: 2 opens its session, 1 follows an irrelevant turn (0).
    cosine = np.array([0.1, 0.6, 0.6], np.float32)
    prev = np.array([-1, 0, -1])
    opens = np.array([True, False, True])
    edges = PoolCues(**plain, opens=opens, closes=np.ones(3, np.bool_))
    ranked = [i for i, _, _ in fuse(cosine, None, prev, none, 3, cues=edges)]
    assert ranked[0] == 2


def test_a_query_naming_a_date_finds_what_was_said_then(db_path: Any) -> None:
    with AgentMemoryClient(db_path) as client:
        user = client.create_user("cook", "Cook")
        said = {
            "may": ("I cooked a lentil curry tonight.", datetime(2023, 5, 8, 19, tzinfo=UTC)),
            "june": ("I cooked a mushroom risotto tonight.", datetime(2023, 6, 20, 19, tzinfo=UTC)),
        }
        for session_id, (text, when) in said.items():
            turns = ["Hi Mel, how was your week?", text, "Work was busy, I need a holiday."]
            user.create_session(session_id).add_memory(
                messages=[ChatMessage(role=MessageRole.USER, content=t, name="Ana") for t in turns],
                created_at=when,
                async_processing=False,
            )

        def top(query: str) -> str | None:
            found = user.search_memory(query, {"relevant_k": 2})
            assert found[0].message is not None
            return found[0].message.content

        assert top("What did Ana cook on 8 May 2023?") == said["may"][0]
        assert top("What did Ana cook on 20 June, 2023?") == said["june"][0]
