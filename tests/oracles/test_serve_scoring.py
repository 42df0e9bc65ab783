"""The server's batched, prefix-cached scoring path equals one plain forward pass per sequence
(a tiny Llama with weights drawn from a Key, so the test needs no model file)."""

from __future__ import annotations

import numpy as np
import pytest

from blackbox.keys import Key
from oracles._serve_scoring import MERGE, PrefixCache, _chunks, _tree, score_sequences

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def tiny():
    cfg = transformers.LlamaConfig(vocab_size=50, hidden_size=32, intermediate_size=64,
                                   num_hidden_layers=2, num_attention_heads=4,
                                   num_key_value_heads=2, max_position_embeddings=128)
    model = transformers.LlamaForCausalLM(cfg).eval()
    gen = Key(7).numpy()
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.as_tensor(gen.standard_normal(tuple(p.shape)) * 0.3, dtype=p.dtype))
    return model


def plain(model, seq, soft=None):
    """Unbatched reference: one forward pass over the whole sequence."""
    with torch.inference_mode():
        emb = model.get_input_embeddings()(torch.tensor([seq]))
        n = 0
        if soft is not None:
            emb = torch.cat([soft[None], emb], dim=1)
            n = soft.shape[0]
        lp = torch.log_softmax(model(inputs_embeds=emb).logits[0].float(), -1)
    return [None] + [float(lp[n + j - 1, seq[j]]) for j in range(1, len(seq))]


def seqs_with_shared_prefixes():
    gen = Key(1).numpy()
    tweets = [list(gen.integers(1, 50, size=int(gen.integers(3, 12)))) for _ in range(5)]
    instr = [list(gen.integers(1, 50, size=k)) for k in (2, 5)]
    labels = [[7], [9, 11]]  # a two-token verbalizer too
    seqs = [[3, 4] + t + i + [5] + lab for t in tweets for i in instr for lab in labels]
    return seqs + [[8], [3]]


def check(got, want):
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert len(g) == len(w) and g[0] is None and w[0] is None
        np.testing.assert_allclose(g[1:], w[1:], rtol=1e-4, atol=1e-4)


def test_batched_tree_scoring_equals_plain_forward_passes(tiny):
    seqs = seqs_with_shared_prefixes()
    check(score_sequences(tiny, seqs, max_tokens=64), [plain(tiny, s) for s in seqs])


def test_prefix_cache_reuses_prefixes_across_calls_with_equal_results(tiny):
    seqs = seqs_with_shared_prefixes()
    cache = PrefixCache(max_tokens=10_000)
    first = score_sequences(tiny, seqs[:10], cache=cache)
    assert cache.tokens > 0 and cache.hits == 0
    again = score_sequences(tiny, seqs, cache=cache)  # overlaps the first call's prefixes
    assert cache.hits > 0
    check(first, [plain(tiny, s) for s in seqs[:10]])
    check(again, [plain(tiny, s) for s in seqs])


def test_cache_stays_within_its_token_budget(tiny):
    cache = PrefixCache(max_tokens=30)
    score_sequences(tiny, seqs_with_shared_prefixes(), cache=cache)
    assert 0 < cache.tokens <= 30
    cache.resize(0)
    assert cache.tokens == 0


def test_soft_prefix_scoring_equals_plain_forward(tiny):
    soft = torch.as_tensor(Key(3).numpy().standard_normal((2, 32)) * 0.3, dtype=torch.float32)
    with torch.inference_mode():
        root = tiny(inputs_embeds=soft[None], use_cache=True).cache
    root_kv = [(layer.keys[0], layer.values[0]) for layer in root.layers]
    seqs = seqs_with_shared_prefixes()[:8]
    got = score_sequences(tiny, seqs, root_kv=root_kv, root_len=2)
    check(got, [plain(tiny, s, soft) for s in seqs])


def test_passes_hold_every_job_once_within_the_caps_with_little_padding():
    sizes = [(n, p) for n, p in zip([3, 40, 41, 39, 5, 4, 80, 42, 3, 38] * 4, range(40))]
    passes = _chunks(sizes, max_tokens=256, per_pass=16)
    assert sorted(i for ch in passes for i in ch) == list(range(len(sizes)))
    for ch in passes:
        longest = max(sizes[i][0] for i in ch)
        assert len(ch) == 1 or (len(ch) * longest <= 256
                                and len(ch) * max(sizes[i][1] for i in ch) <= 16 * 256)
    padded = sum(len(ch) * max(sizes[i][0] for i in ch) for ch in passes)
    assert padded <= 1.15 * sum(n for n, _ in sizes)  # short and long jobs in separate passes
    assert len(_chunks(sizes, max_tokens=10_000, per_pass=10_000)) == 1  # passes cost most


def test_short_shared_runs_are_recomputed_per_branch_not_given_a_round():
    seqs = [[3, 4, 10, 11, 12, 13, 14, 15, 16, 17, 18], [3, 4, 20, 21], [3, 4, 30, 31]]
    root = _tree(seqs)
    assert sorted(c.end for c in root.children) == [4, 4, 11]  # no node for the shared [3, 4]
    long_run = [[1] * (MERGE + 2) + [5, 6], [1] * (MERGE + 2) + [7, 8]]
    (shared,) = _tree(long_run).children
    assert shared.end == MERGE + 2 and len(shared.children) == 2
