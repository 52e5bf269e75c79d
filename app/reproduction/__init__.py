"""``rnnscope reproduce``: the paper's Table 1 and line-attractor findings on real data.

- :mod:`rnnscope.app.reproduction.run`: find or train each (dataset, architecture) checkpoint, analyse
  it in the artifact store, export its figure; returns a ``Reproduction`` record;
- :mod:`rnnscope.app.reproduction.markdown`: ``docs/REPRODUCTION.md`` as a pure function of that record;
- the grades of each finding are ``rnnscope.analysis.claims`` (pure functions of a typed summary).
"""
