"""The server's scoring fast path: many token sequences scored by one causal LM in batched forward
passes, each shared prefix computed once (a radix tree over the request's sequences) and reused
across requests (an LRU KV prefix cache), as inference servers do it (vLLM's automatic prefix
caching; Kwon et al., "Efficient Memory Management for Large Language Model Serving with
PagedAttention", SOSP 2023, https://arxiv.org/abs/2309.06180; SGLang's RadixAttention, Zheng et
al. 2024, https://arxiv.org/abs/2312.07104).

A prefix's keys and values do not depend on what follows it, so ``KV(s[:k])`` is the first ``k``
positions of ``KV(s)``: a cached entry serves every sequence that shares any prefix with it.
A node's first token's log-probability comes from its parent's last position; instead of keeping
that position's logits, a node re-feeds the last past token (one extra token per node).
Sequences of different past lengths are batched with a left-padded, masked past and explicit
position ids, so the results equal one unbatched forward pass per sequence (to float rounding).
"""

from __future__ import annotations

import math
import os
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Sequence

__all__ = ["PrefixCache", "score_sequences"]

KV = list  # per layer: (keys, values), each (kv_heads, length, head_dim)
_BUCKET = 4  # entries are found by their first tokens
MERGE = 8  # a shared run this short is recomputed per branch (see _groups)
PASS_COST = 64  # a forward pass's fixed cost, in tokens (op launches, threads meeting)


@dataclass
class _Node:
    end: int
    ref: int  # a sequence index that passes through this node
    children: list["_Node"] = field(default_factory=list)
    leaves: list[int] = field(default_factory=list)
    kv: Any = None
    lps: list[float | None] = field(default_factory=list)
    next_lp: Any = None  # log-probabilities of the token after the node (kept for children)


class PrefixCache:
    """LRU store of ``tokens -> (KV, token log-probabilities)``, bounded in cached tokens."""

    def __init__(self, max_tokens: int = 16384) -> None:
        self.max_tokens = int(max_tokens)
        self._entries: OrderedDict[tuple[int, ...], tuple[KV, list[float | None]]] = OrderedDict()
        self._buckets: dict[tuple[int, ...], list[tuple[int, ...]]] = {}
        self.tokens = 0
        self.hits = 0
        self.hit_tokens = 0

    def resize(self, max_tokens: int) -> None:
        self.max_tokens = int(max_tokens)
        self._evict()

    def lookup(self, seq: Sequence[int]) -> tuple[tuple[KV, list[float | None]] | None, int]:
        """The entry sharing the longest prefix with ``seq``, and that prefix's length."""
        if self.max_tokens <= 0 or len(seq) < _BUCKET:
            return None, 0
        best, r = None, 0
        for key in self._buckets.get(tuple(seq[:_BUCKET]), ()):
            m = len(os.path.commonprefix([key, tuple(seq)]))
            if m > r:
                best, r = key, m
        if best is None:
            return None, 0
        self._entries.move_to_end(best)
        return self._entries[best], r

    def put(self, seq: Sequence[int], kv: KV, lps: list[float | None]) -> None:
        key = tuple(seq)
        if self.max_tokens <= 0 or len(key) < _BUCKET or key in self._entries:
            return
        self._entries[key] = ([(k.clone(), v.clone()) for k, v in kv], list(lps))
        bucket = self._buckets.setdefault(key[:_BUCKET], [])
        bucket.append(key)
        self.tokens += len(key)
        if len(bucket) > 64:
            self._drop(bucket[0])
        self._evict()

    def _evict(self) -> None:
        while self._entries and self.tokens > self.max_tokens:
            self._drop(next(iter(self._entries)))

    def _drop(self, key: tuple[int, ...]) -> None:
        self._entries.pop(key, None)
        bucket = self._buckets.get(key[:_BUCKET], [])
        if key in bucket:
            bucket.remove(key)
            self.tokens -= len(key)
        if not bucket:
            self._buckets.pop(key[:_BUCKET], None)

    def clear(self) -> None:
        self._entries.clear()
        self._buckets.clear()
        self.tokens = 0


def _tree(seqs: Sequence[Sequence[int]]) -> _Node:
    """A radix tree: each node is a prefix shared by all the sequences below it."""
    root = _Node(end=0, ref=0)
    stack = [(root, list(range(len(seqs))))]
    while stack:
        node, idxs = stack.pop()
        groups: dict[int, list[int]] = {}
        for i in idxs:
            if len(seqs[i]) == node.end:
                node.leaves.append(i)
            else:
                groups.setdefault(seqs[i][node.end], []).append(i)
        for g, e in _groups(seqs, list(groups.values()), node.end):
            child = _Node(end=e, ref=g[0])
            node.children.append(child)
            stack.append((child, g))
    return root


def _groups(seqs: Sequence[Sequence[int]], todo: list[list[int]], start: int
            ) -> list[tuple[list[int], int]]:
    """A node's children (ending at ``start``): each group of sequences (grouped by their token
    at ``start``) with its branch point. A group that shares at most ``MERGE`` tokens and then
    branches (none of its sequences ends there) is split again at its branch point: each branch
    recomputes those few tokens rather than waiting a round of forward passes for them."""
    out, stack = [], [(g, start + 1) for g in todo]
    while stack:
        g, e = stack.pop()
        m, s0 = min(len(seqs[i]) for i in g), seqs[g[0]]
        while e < m and all(seqs[i][e] == s0[e] for i in g):
            e += 1
        if len(g) > 1 and e < m and e - start <= MERGE:
            subs: dict[int, list[int]] = {}
            for i in g:
                subs.setdefault(seqs[i][e], []).append(i)
            stack += [(sub, e + 1) for sub in subs.values()]
        else:
            out.append((g, e))
    return out


def _slice(kv: KV, n: int) -> KV:
    return [(k[:, :n], v[:, :n]) for k, v in kv]


def _forward(model: Any, jobs: list[tuple[KV | None, int, list[int]]], keep: list[bool]
             ) -> list[tuple[KV | None, list[float], Any]]:
    """One batched forward pass: each job extends its past (``p`` positions) by ``new`` tokens.

    Returns, per job, the KV of past + new and the next token's log-probabilities (when
    ``keep``), and the log-probabilities of ``new[1:]``."""
    import torch
    from transformers import DynamicCache

    B, P, N = len(jobs), max(j[1] for j in jobs), max(len(j[2]) for j in jobs)
    ids = torch.zeros((B, N), dtype=torch.long)
    mask = torch.zeros((B, P + N), dtype=torch.long)
    pos = torch.zeros((B, N), dtype=torch.long)
    for i, (_, p, new) in enumerate(jobs):
        ids[i, :len(new)] = torch.tensor(new)
        mask[i, P - p:P + len(new)] = 1
        pos[i] = p + torch.arange(N)
    cache = None
    if P:
        ref = next(j[0] for j in jobs if j[0] is not None)
        layers = []
        for li, (k0, v0) in enumerate(ref):
            K = k0.new_zeros((B, k0.shape[0], P, k0.shape[2]))
            V = v0.new_zeros((B, v0.shape[0], P, v0.shape[2]))
            for i, (past, p, _) in enumerate(jobs):
                if p:
                    K[i, :, P - p:] = past[li][0][:, :p]
                    V[i, :, P - p:] = past[li][1][:, :p]
            layers.append((K, V))
        cache = DynamicCache(layers)
    with torch.inference_mode():
        out = model(input_ids=ids, attention_mask=mask, position_ids=pos, cache=cache,
                    use_cache=True)
    lp = torch.log_softmax(out.logits.float(), dim=-1)
    results: list[tuple[KV | None, list[float], Any]] = []
    pkv = out.cache
    for i, (_, p, new) in enumerate(jobs):
        n = len(new)
        got = lp[i, torch.arange(n - 1), ids[i, 1:n]].tolist() if n > 1 else []
        kv, last = None, None
        if keep[i]:
            kv = [(layer.keys[i, :, P - p:P + n], layer.values[i, :, P - p:P + n])
                  for layer in pkv.layers]
            last = lp[i, n - 1].clone()
        results.append((kv, got, last))
    return results


def _plan(node: _Node, parent: _Node, seqs: Sequence[Sequence[int]], cache: PrefixCache | None,
          off: int) -> tuple[KV | None, int, list[int], list[float | None]] | None:
    """The cheapest job for ``node``: from its parent or from a longer cached prefix; ``None``
    when the cache already holds the whole node. ``off``: root positions before the text."""
    s = seqs[node.ref]
    kv, b, lps = parent.kv, parent.end, parent.lps
    nxt = parent.next_lp
    if nxt is not None and not node.children and node.end == b + 1:  # a one-token leaf: free
        node.lps = list(lps) + [float(nxt[s[b]])]
        return None
    if cache is not None:
        hit, r = cache.lookup(s[:node.end])
        if hit is not None and r > b:
            cache.hits, cache.hit_tokens = cache.hits + 1, cache.hit_tokens + r - b
            kv, b, lps, nxt = hit[0], r, hit[1], None
    if b == node.end:
        node.kv, node.lps = (_slice(kv, off + b) if node.children else None), list(lps[:b])
        return None
    if b == 0:  # nothing before: the first token has no log-probability
        return None, 0, list(s[:node.end]), [None]
    if nxt is not None:  # the parent's last position predicts the first token
        return kv, off + b, list(s[b:node.end]), list(lps[:b]) + [float(nxt[s[b]])]
    return _slice(kv, off + b - 1), off + b - 1, list(s[b - 1:node.end]), list(lps[:b])


def _chunks(sizes: Sequence[tuple[int, int]], max_tokens: int, per_pass: int = PASS_COST
            ) -> list[list[int]]:
    """Jobs (``(new tokens, past length)``) split into forward passes with the least padding:
    sorted by new length, then cut (dynamic programming over the sorted order) where padded new
    tokens plus ``per_pass`` token-equivalents per pass are least; a pass holds at most
    ``max_tokens`` padded new tokens and ``16 * max_tokens`` padded past positions."""
    order = sorted(range(len(sizes)), key=lambda i: sizes[i])
    n = [sizes[i][0] for i in order]
    p = [sizes[i][1] for i in order]
    best, cut = [0.0] + [math.inf] * len(order), [0] * (len(order) + 1)
    for j in range(1, len(order) + 1):
        p_max = 0
        for i in range(j - 1, -1, -1):  # the pass order[i:j]; its longest job is the last
            p_max, b = max(p_max, p[i]), j - i
            if b > 1 and (b * n[j - 1] > max_tokens or b * p_max > 16 * max_tokens):
                break
            cost = best[i] + per_pass + b * n[j - 1]
            if cost < best[j]:
                best[j], cut[j] = cost, i
    out, j = [], len(order)
    while j:
        out.append(order[cut[j]:j])
        j = cut[j]
    return out[::-1]


def score_sequences(model: Any, seqs: Sequence[Sequence[int]], *, cache: PrefixCache | None = None,
                    root_kv: KV | None = None, root_len: int = 0, max_tokens: int = 1024
                    ) -> list[list[float | None]]:
    """Log-probability of every token of every sequence given the tokens before it (the first
    token: ``None``). ``root_kv`` (``root_len`` positions, e.g. soft-prompt vectors) precedes
    every sequence; the cache is used only without one."""
    root = _tree(seqs)
    root.kv, root.lps = root_kv, []
    out: list[list[float | None]] = [[] for _ in seqs]
    level = [(root, c) for c in root.children]
    use_cache = cache if root_kv is None else None
    while level:
        jobs, nodes = [], []
        for parent, node in level:
            if root_kv is not None and parent is root:
                job = (root_kv, root_len, list(seqs[node.ref][:node.end]), [None])
            else:
                job = _plan(node, parent, seqs, use_cache, root_len if root_kv is not None else 0)
            if job is not None:
                jobs.append(job)
                nodes.append(node)
        for chunk in _chunks([(len(j[2]), j[1]) for j in jobs], max_tokens):
            keep = [bool(nodes[i].children) for i in chunk]
            res = _forward(model, [jobs[i][:3] for i in chunk], keep)
            for i, (kv, got, last) in zip(chunk, res):
                node, known = nodes[i], jobs[i][3]
                node.lps = known + got
                node.kv, node.next_lp = kv, last
                if kv is not None and use_cache is not None:
                    use_cache.put(seqs[node.ref][:node.end], kv, node.lps)
        nxt = []
        for parent, node in level:
            parent.kv = parent.next_lp = None  # all its children are done
            for i in node.leaves:
                out[i] = list(node.lps)
            nxt += [(node, c) for c in node.children]
            if not node.children:
                node.kv = None
        level = nxt
    for i in root.leaves:
        out[i] = []
    return out
