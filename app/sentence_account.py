"""The sentence explorer's account in words of what moved the readout of one text.

Every number comes from the trace (``rnnscope.analysis.sentence.SentenceTrace``: the split of
``rnnscope.analysis.sentence``), in logit units with two decimals, so what the page says can be
checked against the bars and the table beside it.
"""
from __future__ import annotations

from dash import html

from rnnscope.analysis.sentence import SentenceTrace


def _q(token: str) -> str:
    return f"“{token}”"


def _listed(trace: SentenceTrace, indices, values) -> str:
    """'“bad” (token 2) −0.49, ...' for the given token indices."""
    return ", ".join(f"{_q(trace.tokens[t])} (token {t + 1}) {values[t]:+.2f}" for t in indices)


def verdict(trace: SentenceTrace) -> str:
    """The final reading in one line: sign, readout, P(positive), start readout."""
    final = float(trace.logit[-1])
    side = "positive" if final > 0 else "negative" if final < 0 else "undecided (readout exactly 0)"
    return (f"Ends {side}: readout {final:+.2f} after the last token (P(positive) = "
            f"{trace.probability[-1]:.2f}), from {trace.start_logit:+.2f} at the initial state.")


def readout_account(trace: SentenceTrace | None) -> list:
    """Paragraphs saying what moved the readout: the tokens that pushed most, the zero-input
    drift (what decayed or relaxed between tokens) and which of the two decided the ending."""
    if trace is None or not len(trace):
        return [html.Span("Run a sentence to see what moved its readout.", className="hint")]
    acc = trace.account(top=3)
    n = len(trace)
    largest = acc["largest"]
    pushes = (f"The tokens' own pushes (each token against zero input): "
              f"{_listed(trace, acc['top_push'], trace.push)}; all {n} together "
              f"{acc['total_push']:+.2f}.")
    drift = (f"The dynamics without input (zero-input drift between tokens) moved it by "
             f"{acc['total_drift']:+.2f} in all, most at {_listed(trace, acc['top_drift'][:2], trace.drift)}. "
             f"After the largest push, {_q(trace.tokens[largest])} {trace.push[largest]:+.2f}, the drift "
             f"moved the readout by {acc['drift_after_largest']:+.2f} up to the end.")
    if abs(acc["total_drift"]) > abs(acc["total_push"]):
        decided = (f"So the drift ({acc['total_drift']:+.2f}) outweighs the tokens' pushes "
                   f"({acc['total_push']:+.2f}): the ending comes from where the dynamics carry the "
                   "state, more than from what the words pushed.")
    else:
        decided = (f"So the tokens' pushes ({acc['total_push']:+.2f}) outweigh the drift "
                   f"({acc['total_drift']:+.2f}): the words decide the ending.")
    paragraphs = [html.P(html.B(verdict(trace))), html.P(pushes), html.P(drift), html.P(decided)]
    if trace.end_point >= 0:
        paragraphs.append(html.P(
            f"The final state is {trace.end_point_distance:.3g} state units from point "
            f"#{trace.end_point}, whose readout is {trace.end_point_logit:+.2f}.", className="hint"))
    return paragraphs
