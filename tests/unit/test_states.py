"""Visited states: masking by length, order, final states; untrained twin; seeds."""
import numpy as np
import pytest
import torch

from rnnscope.analysis.model import RNNClassifier
from rnnscope.analysis.states import collect_states, draw_seeds, untrained_like


def _net(arch="gru", seed=0):
    torch.manual_seed(seed)
    return RNNClassifier(arch, vocab_size=30, embed_dim=5, hidden_size=4).eval()


def _docs():
    rng = np.random.default_rng(0)
    return [rng.integers(2, 30, size=n) for n in (7, 0, 3, 12, 1, 5)]


@pytest.mark.parametrize("arch", ["gru", "lstm", "ugrnn", "vrnn"])
def test_states_are_the_unpadded_trajectories(arch):
    net, docs = _net(arch), _docs()
    labels = np.array([1, 0, 1, 0, 1, 0])
    v = collect_states(net, docs, labels=labels, batch_size=4)
    lengths = np.array([len(d) for d in docs])
    assert v.states.shape == (lengths.sum(), net.state_size) and v.states.dtype == np.float32
    np.testing.assert_array_equal(v.lengths, lengths)
    for j, doc in enumerate(docs):
        sel = v.doc == j
        np.testing.assert_array_equal(v.position[sel], np.arange(len(doc)))
        np.testing.assert_array_equal(v.token[sel], doc)
        assert np.all(v.label[sel] == labels[j])
        if len(doc) == 0:
            np.testing.assert_array_equal(v.final[j], v.initial)
            continue
        alone = net.run(torch.as_tensor(doc)[None]).numpy()[0]  # one document, no padding at all
        np.testing.assert_allclose(v.states[sel], alone, atol=1e-6)
        np.testing.assert_allclose(v.final[j], alone[-1], atol=1e-6)


def test_previous_and_trajectory():
    net, docs = _net(), _docs()
    v = collect_states(net, docs)
    prev = v.previous()
    with torch.no_grad():
        x = net.embedding(torch.as_tensor(v.token))
        again = net.step(torch.as_tensor(prev), x).numpy()
    np.testing.assert_allclose(again, v.states, atol=1e-6)  # state_t = F(state_{t-1}, x_t)
    traj = v.trajectory(3)
    assert traj.shape == (13, net.state_size)
    np.testing.assert_array_equal(traj[0], v.initial)


def test_max_docs_and_max_len_truncate():
    v = collect_states(_net(), _docs(), max_docs=4, max_len=4)
    np.testing.assert_array_equal(v.lengths, [4, 0, 3, 4])
    assert len(v) == 11 and v.n_docs == 4
    assert np.all(v.label == -1)


def test_untrained_like_is_fresh_same_shape_and_seeded():
    net = _net(seed=5)
    before = torch.random.get_rng_state()
    a, b, c = untrained_like(net, 0), untrained_like(net, 0), untrained_like(net, 1)
    assert torch.equal(torch.random.get_rng_state(), before)  # global RNG untouched
    assert a.shape_config() == net.shape_config()
    for (name, pa), pb, pc, pn in zip(a.named_parameters(), b.parameters(), c.parameters(), net.parameters()):
        assert torch.equal(pa, pb), name
        assert not torch.equal(pa, pc), name  # another seed, other weights
        assert pa.shape == pn.shape and not torch.equal(pa, pn), name


def test_draw_seeds_from_pool_with_and_without_noise():
    pool = np.arange(40, dtype=np.float32).reshape(20, 2)
    seeds = draw_seeds(pool, 10, rng=0)
    rows = {tuple(r) for r in pool}
    assert seeds.shape == (10, 2) and all(tuple(s) in rows for s in seeds)
    assert len({tuple(s) for s in seeds}) == 10  # without replacement
    np.testing.assert_array_equal(seeds, draw_seeds(pool, 10, rng=0))
    assert draw_seeds(pool, 50, rng=0).shape == (50, 2)  # with replacement when N < n
    noisy = draw_seeds(np.zeros((5000, 3), np.float32), 5000, rng=1, noise=0.1)
    assert abs(noisy.std() - 0.1) < 0.005
    with pytest.raises(ValueError, match="no visited states"):
        draw_seeds(np.zeros((0, 3), np.float32), 3)
