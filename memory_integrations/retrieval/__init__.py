"""Retrieval: the in-process search index, BM25 keyword scoring and hybrid fusion.

Storage-free building blocks shared by the engine (a user's memory blocks) and the LangGraph
store (its items): a :class:`SearchIndex` holds vectors, sign bits and BM25 postings of one
collection; :func:`hybrid_rank` fuses dense and keyword scores with neighbouring-turn
smoothing; :class:`IndexCache` keeps indexes within a memory budget.
"""

from ._bm25 import K1, B, KeywordIndex, document_terms, query_terms
from ._cues import PoolCues, QueryCues, author_key
from ._fusion import PLAIN_RANKING, RankingConfig, fuse, hybrid_rank, pool_indexes
from ._index import DenseScorer, IndexCache, IndexEntry, SearchIndex, sign_bits

__all__ = [
    "K1",
    "PLAIN_RANKING",
    "B",
    "DenseScorer",
    "IndexCache",
    "IndexEntry",
    "KeywordIndex",
    "PoolCues",
    "QueryCues",
    "RankingConfig",
    "SearchIndex",
    "author_key",
    "document_terms",
    "fuse",
    "hybrid_rank",
    "pool_indexes",
    "query_terms",
    "sign_bits",
]
