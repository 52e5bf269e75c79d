"""Figures as pure functions: arrays (and options) in, ``plotly.graph_objects.Figure`` out.

No I/O, no global state, deterministic. The arrays are those of an analysis report
(``analysis/report.py`` lists every key). Each panel also has a ``*_traces`` builder
used to assemble the multi-panel figures.

Paper panels (Maheswaranathan et al. 2019):

========  ===========================================================
Fig. 2a   ``explained_variance``
Fig. 2b   ``state_density``
Fig. 2c   ``fixed_point_manifold``
Fig. 3b   ``eigenvalue_plane``
Fig. 3c   ``top_time_constants``
Fig. 3d   ``time_constants``
Fig. 4a   ``input_effects``
Fig. 4b   ``right_eigenvector_on_manifold``
Fig. 4c   ``input_projection_histograms``
Fig. 4d   ``overlap_vs_null``
Fig. 5b   ``linearization_error_hist``
Fig. 7    ``summary_figure`` (one model), Fig. 6 ``compare_models`` (several)
explorer  ``sentence_trajectory``, ``sentence_readout_steps``
========  ===========================================================
"""
from .linearization import linearization_error_hist, log_histogram
from .manifold import fixed_point_manifold, right_eigenvector_on_manifold
from .projections import input_effects, input_projection_histograms, overlap_vs_null
from .sentence import sentence_readout_steps, sentence_trajectory
from .spectra import eigenvalue_plane, tau_from_eigvals, time_constants, top_time_constants
from .state_space import explained_variance, readout_zero_offset, state_density
from .summary import (
    compare_models,
    example_point,
    example_points,
    mean_projections,
    model_label,
    project_directions,
    summary_figure,
)

__all__ = [
    "compare_models", "eigenvalue_plane", "example_point", "example_points",
    "explained_variance", "fixed_point_manifold", "input_effects",
    "input_projection_histograms", "linearization_error_hist", "log_histogram",
    "mean_projections", "model_label", "overlap_vs_null", "project_directions",
    "readout_zero_offset", "right_eigenvector_on_manifold", "sentence_readout_steps", "sentence_trajectory",
    "state_density", "summary_figure", "tau_from_eigvals", "time_constants",
    "top_time_constants",
]
