"""The example notebooks: committed clean, and executed top to bottom offline.

Each notebook runs in a fresh ipykernel started from this interpreter (a kernelspec written to
a temporary directory, so no globally installed kernel is needed), with the offline model,
inside a temporary working directory and ``TMPDIR``. A first cell, added here and not saved,
refuses and records every non-loopback network connection; the test then checks the outputs
of the notebook's tagged cells: the second conversation must have recalled what the first
one stored.
"""

from __future__ import annotations

import os
import re
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

from jupyter_client.kernelspec import KernelSpecManager  # noqa: E402
from jupyter_client.manager import AsyncKernelManager  # noqa: E402

NOTEBOOK_DIR = Path(__file__).resolve().parents[2] / "notebooks"
NOTEBOOKS = {
    "langgraph_travel_assistant.ipynb": ("langgraph.graph", "langchain.chat_models"),
    "crewai_travel_crew.ipynb": ("crewai",),
    "llama_index_travel_rag.ipynb": ("llama_index.core",),
    "langchain_travel_tools.ipynb": ("langchain.chat_models",),
}
KERNEL_NAME = "memory-integrations-test"
CELL_TIMEOUT = 240  # seconds per cell; a whole notebook takes ~10-20 s offline
OFFLINE = "[offline model]"
FACT = "I'm vegetarian and I prefer aisle seats."  # told in conversation 1 of every notebook

# Prepended to each notebook at test time: refuse (and record) any non-loopback connection.
NETWORK_GUARD = """
import socket as _socket

_NETWORK_ATTEMPTS = []
_LOCAL = ("127.0.0.1", "::1", "localhost")


def _guard(real):
    def connect(self, address):
        host = address[0] if isinstance(address, tuple) else address
        if self.family in (_socket.AF_INET, _socket.AF_INET6) and host not in _LOCAL:
            _NETWORK_ATTEMPTS.append(repr(address))
            raise OSError(f"network disabled in the notebook tests: {address!r}")
        return real(self, address)

    return connect


_socket.socket.connect = _guard(_socket.socket.connect)
_socket.socket.connect_ex = _guard(_socket.socket.connect_ex)
"""
NETWORK_REPORT = "print('NETWORK-ATTEMPTS', _NETWORK_ATTEMPTS)"

# Files libraries leave in the system temp directory by themselves: onnxruntime's session id
# file and CrewAI's lock files. Everything else a notebook creates must be cleaned up.
LIBRARY_TEMP_FILES = re.compile(r"^(\.ses|crewai:[0-9a-f]+\.lock)$")

# Environment variables that would make a notebook leave the offline path.
UNSET = (
    "MEMORY_INTEGRATIONS_CHAT_MODEL",
    "MEMORY_INTEGRATIONS_URL",
    "MEMORY_INTEGRATIONS_EMBEDDER",
)
UNSET_PREFIXES = ("OPENAI_", "ANTHROPIC_", "OLLAMA_", "CREWAI_", "OTEL_")


# --- committed notebooks are clean ------------------------------------------------------------


def test_the_four_travel_notebooks_exist() -> None:
    assert sorted(p.name for p in NOTEBOOK_DIR.glob("*.ipynb")) == sorted(NOTEBOOKS)


@pytest.mark.parametrize("name", sorted(NOTEBOOKS))
def test_committed_notebook_is_clean(name: str) -> None:
    nb = nbformat.read(NOTEBOOK_DIR / name, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3"
    assert set(nb.metadata) <= {"kernelspec", "language_info"}, "stray notebook metadata"
    for index, cell in enumerate(nb.cells):
        where = f"{name} cell {index}"
        assert set(cell.metadata) <= {"tags"}, f"{where}: stray metadata {dict(cell.metadata)}"
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{where} has outputs: clear them before committing"
            assert cell.execution_count is None, f"{where} has an execution count"
            # Notebooks teach the public API only.
            assert not re.search(r"memory_integrations(\.\w+)*\._", cell.source), where


@pytest.mark.parametrize("name", sorted(NOTEBOOKS))
def test_notebook_explains_each_step(name: str) -> None:
    nb = nbformat.read(NOTEBOOK_DIR / name, as_version=4)
    markdown = [c for c in nb.cells if c.cell_type == "markdown"]
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert len(markdown) >= len(code) - 2, "most code cells should have an explanation"
    text = "\n".join(c.source for c in markdown)
    assert "search → inject → persist" in text
    assert "MEMORY_INTEGRATIONS_CHAT_MODEL" in text
    sources = "\n".join(c.source for c in code)
    assert "tempfile.mkdtemp" in sources  # a fresh file in a temporary directory
    assert "_from_env()" in sources  # the model is chosen from the environment


# --- executed offline -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def kernel_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A kernelspec running ipykernel on this interpreter (no global kernel needed)."""
    from ipykernel.kernelspec import write_kernel_spec

    root = tmp_path_factory.mktemp("kernels")
    write_kernel_spec(
        path=str(root / KERNEL_NAME),
        overrides={
            "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": "memory-integrations tests",
        },
    )
    return root


def kernel_env(tmp: Path) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in UNSET and not key.startswith(UNSET_PREFIXES)
    }
    env["TMPDIR"] = str(tmp)  # where the notebooks' tempfile.mkdtemp() goes
    return env


def run_notebook(name: str, kernel_dir: Path, tmp_path: Path) -> tuple[Any, float]:
    """Execute a notebook (plus the network guard) and return it with its outputs."""
    for module in NOTEBOOKS[name]:
        pytest.importorskip(module)
    nb = nbformat.read(NOTEBOOK_DIR / name, as_version=4)
    nb.cells.insert(0, nbformat.v4.new_code_cell(NETWORK_GUARD))
    nb.cells.append(nbformat.v4.new_code_cell(NETWORK_REPORT))
    cwd, tmp = tmp_path / "cwd", tmp_path / "tmp"
    cwd.mkdir()
    tmp.mkdir()
    manager = AsyncKernelManager(
        kernel_name=KERNEL_NAME,
        kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(kernel_dir)]),
    )
    client = nbclient.NotebookClient(
        nb,
        km=manager,
        timeout=CELL_TIMEOUT,
        allow_errors=False,
        resources={"metadata": {"path": str(cwd)}},
    )
    started = time.perf_counter()
    client.execute(env=kernel_env(tmp))
    elapsed = time.perf_counter() - started
    print(f"{name}: executed in {elapsed:.1f} s")
    assert list(cwd.iterdir()) == [], "a notebook wrote into its working directory"
    leftovers = [p.name for p in tmp.iterdir() if not LIBRARY_TEMP_FILES.match(p.name)]
    assert leftovers == [], "a notebook left files in its temporary directory"
    return nb, elapsed


def text_of(cell: Any) -> str:
    parts = []
    for output in cell.get("outputs", []):
        if output.output_type == "stream" and output.name == "stdout":
            parts.append(output.text)
        elif output.output_type in ("execute_result", "display_data"):
            parts.append(output.data.get("text/plain", ""))
    return "".join(parts)


def tagged(nb: Any, tag: str) -> str:
    cells = [c for c in nb.cells if tag in c.metadata.get("tags", [])]
    assert cells, f"no cell tagged {tag!r}"
    return "\n".join(text_of(c) for c in cells)


def lines_starting(text: str, prefix: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip().startswith(prefix)]


def check_common(nb: Any) -> None:
    network = lines_starting(text_of(nb.cells[-1]), "NETWORK-ATTEMPTS")
    assert network == ["NETWORK-ATTEMPTS []"], f"the notebook tried the network: {network}"
    assert OFFLINE in tagged(nb, "setup"), "the setup cell should show the offline model"
    listing = tagged(nb, "list-memories")
    assert re.search(r"^\d+ blocks", listing, re.M), listing
    search = tagged(nb, "search-memories")
    assert re.search(r"score=\d\.\d{3}", search), search


@pytest.fixture
def executed(request: pytest.FixtureRequest, kernel_dir: Path, tmp_path: Path) -> Iterator[Any]:
    nb, _ = run_notebook(request.param, kernel_dir, tmp_path)
    check_common(nb)
    yield nb


pytestmark = pytest.mark.slow


@pytest.mark.parametrize("executed", ["langgraph_travel_assistant.ipynb"], indirect=True)
def test_langgraph_notebook(executed: Any) -> None:
    first = tagged(executed, "conversation-1")
    assert "(I can see 1 earlier turn of this conversation.)" in first  # the checkpointer
    assert "messages in thread trip-planning-1: 4" in first

    second = tagged(executed, "conversation-2")
    context = second.split("memory_context injected for this turn:")[1]
    assert f"- user said: Hi! I'm planning a trip to Lisbon in May. {FACT}" in context
    (answer,) = lines_starting(second, "assistant:")
    assert answer.startswith(f"assistant: {OFFLINE} From memory:")
    assert FACT in answer  # recalled from the first thread, not told in this one

    profile = tagged(executed, "conversation-2b")
    assert "- Home airport: Porto (OPO)." in profile  # AgentMemoryStore semantic search
    assert "Porto (OPO)" in lines_starting(profile, "assistant:")[0]

    checkpoints = tagged(executed, "checkpoints")
    assert "thread trip-planning-1: 4 messages" in checkpoints  # survived the restart

    search = tagged(executed, "search-memories")
    first_hit = lines_starting(search, "rel_score=")[0]
    assert "[trip-planning-1]" in first_hit and "vegetarian" in first_hit
    assert re.search(r"store score=0\.\d+ home_airport:", search)


@pytest.mark.parametrize("executed", ["crewai_travel_crew.ipynb"], indirect=True)
def test_crewai_notebook(executed: Any) -> None:
    first = tagged(executed, "kickoff-1")
    planner = first.split("Flight planner:")[1].strip().splitlines()[0]
    assert planner.startswith(f"{OFFLINE} From memory:")
    assert FACT in planner  # the intake agent's record, shared within the kickoff

    recall = tagged(executed, "recall-2")
    assert len(lines_starting(recall, "score=")) == 3
    assert FACT in recall

    second = tagged(executed, "kickoff-2")
    for agent in ("Restaurant scout:", "Itinerary writer:"):
        answer = second.split(agent)[1].strip().splitlines()[0]
        assert answer.startswith(f"{OFFLINE} From memory:"), answer
        assert FACT in answer and "Porto (OPO)" in answer  # recalled from kickoff 1

    listing = tagged(executed, "list-memories")
    assert "/crew/travel-crew/agent/traveller-intake-agent" in listing
    assert "kickoff-2" in listing
    first_hit = lines_starting(tagged(executed, "search-memories"), "rel_score=")[0]
    assert "Alice's home airport is Porto (OPO)." in first_hit


@pytest.mark.parametrize("executed", ["llama_index_travel_rag.ipynb"], indirect=True)
def test_llama_index_notebook(executed: Any) -> None:
    first = tagged(executed, "conversation-1")
    assert "tool search_travel_memory" not in first  # statements: nothing to retrieve
    assert len(lines_starting(first, f"assistant: {OFFLINE} Noted:")) == 2

    second = tagged(executed, "conversation-2")
    assert "messages in the new conversation before it starts: 0" in second
    retrieved = [line for line in lines_starting(second, "score=") if "[trip-planning-1]" in line]
    assert any(FACT in line for line in retrieved), second
    answers = lines_starting(second, "assistant:")
    assert len(answers) == 2
    for answer in answers:
        assert answer.startswith(f"assistant: {OFFLINE} From memory:")
        assert FACT in answer

    recalled = tagged(executed, "agent-memory")
    assert "Relevant memories about this user" in recalled
    assert "- user: I'd also like a hotel within walking distance of the river." in recalled
    assert "river" in lines_starting(recalled, "assistant:")[0]

    first_hit = lines_starting(tagged(executed, "search-memories"), "rel_score=")[0]
    assert "[trip-planning-1]" in first_hit and "vegetarian" in first_hit


@pytest.mark.parametrize("executed", ["langchain_travel_tools.ipynb"], indirect=True)
def test_langchain_notebook(executed: Any) -> None:
    first = tagged(executed, "conversation-1")
    saves = lines_starting(first, "tool save_memory(")
    assert len(saves) == 2 and FACT in saves[1]

    second = tagged(executed, "conversation-2")
    assert "messages in the new conversation before it starts: 0" in second
    assert len(lines_starting(second, "tool search_memory(")) == 2
    assert "(fact, " in second and f"The user said: {FACT}" in second  # the tool result
    answers = lines_starting(second, "assistant:")
    assert len(answers) == 2
    for answer in answers:
        assert answer.startswith(f"assistant: {OFFLINE} From memory:")
        assert f"The user said: {FACT}" in answer  # saved in conversation 1

    resumed = tagged(executed, "resume")
    assert re.search(r"conversation 1 after the restart: \d+ messages", resumed)
    assert "(I can see 2 earlier turns of this conversation.)" in resumed

    first_hit = lines_starting(tagged(executed, "search-memories"), "rel_score=")[0]
    assert f"[trip-planning-1] The user said: {FACT}" in first_hit
