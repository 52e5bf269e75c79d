"""Every component ID of the dashboard, in one place.

Layout and callbacks import these names instead of repeating string literals, so a
renamed component is a one-line change and a typo is an ``AttributeError`` at import.
Groups follow the page: model panel, analysis job, the views, and the ``dcc.Store``s that
hold keys and indices (never arrays).
"""
from __future__ import annotations

# --- model panel --------------------------------------------------------------------
MODEL_SELECT = "model-select"          # dcc.Dropdown; value = checkpoint sha256
DATASET_SELECT = "dataset-select"      # dcc.Dropdown; value = dataset name
POINT_SET_SELECT = "point-set-select"  # dcc.Dropdown; value = a key of services.POINT_SETS
UPLOAD = "checkpoint-upload"           # dcc.Upload
UPLOAD_ALERT = "upload-alert"          # html.Div: result of the last upload
UPLOAD_PAYLOAD = "upload-payload"      # dcc.Store: the upload once the browser checked its size
UPLOAD_LIMIT = "upload-limit"          # dcc.Store: the upload cap in bytes (for that check)
MODEL_CARD = "model-card"              # html.Div: arch, sizes, accuracy, provenance
DATASET_UPLOAD = "dataset-upload"      # dcc.Upload: the user's own labelled CSV/TSV/JSONL
DATASET_UPLOAD_ALERT = "dataset-upload-alert"      # html.Div: result of the last dataset upload
DATASET_UPLOAD_PAYLOAD = "dataset-upload-payload"  # dcc.Store: that upload once its size was checked
OPENED = "opened-analysis-store"       # {"key", "sha", "data", "points"}: a stored analysis opened from Compare
COMPARE_OPEN = "compare-open"          # pattern {"type": COMPARE_OPEN, "key": report key}: html.Button
COMPARE_ALERT = "compare-alert"        # html.Div: why an analysis could not be opened

# --- analysis job -------------------------------------------------------------------
JOB_START = "job-start"                # html.Button
JOB_CANCEL = "job-cancel"              # html.Button
JOB_PROGRESS = "job-progress"          # html.Progress (value 0..100)
JOB_STAGE = "job-stage"                # html.Div: current stage message
JOB_ALERT = "job-alert"                # html.Div: job errors in plain words
JOB_STATUS = "job-status"              # html.Div: "analysed ... (cached)" line

# --- stores (keys and indices, never data) ------------------------------------------
REPORT = "report-store"                # {"key", "sha", "data"} of the analysis on screen
SELECTED_FP = "selected-fp-store"      # {"key": report key, "index": fixed point index}
JOB_REQUEST = "job-request-store"      # {"sha", "data", "at"}: an analysis to run in the background
JOB_RESULT = "job-result-store"        # {"key", "sha", "data"}: what the last job produced
SENTENCE = "sentence-store"            # {"key": report key, "text": the text traced on screen}

# --- state space (Fig 2a, 2b) -------------------------------------------------------
FIG_PCA = "fig-pca-variance"
FIG_STATE_DENSITY = "fig-state-density"

# --- fixed-point manifold (Fig 2c) and the selected point (Fig 3, 4a, 4b) -----------
FIG_MANIFOLD = "fig-manifold"
FP_SUMMARY = "fp-summary"              # html.Div: index, θ, q, stability, τ1
ATTRACTOR_VERDICT = "attractor-verdict"  # html.Div: line attractor / isolated / slow / unstable, in words
FIG_ATTRACTOR = "fig-attractor"        # seeds' q by class, tolerance sweep, extent under F(·, 0)
FIG_EIGVALS = "fig-eigvals"            # Fig 3b
FIG_TAU_ALL = "fig-tau-all"            # Fig 3d
FIG_TAU_THETA = "fig-tau-theta"        # Fig 3c
FIG_INPUT_EFFECTS = "fig-input-effects"  # Fig 4a
FIG_R1_MANIFOLD = "fig-r1-manifold"    # Fig 4b

# --- word projections (Fig 4c, 4d) --------------------------------------------------
FIG_PROJECTION_HIST = "fig-projection-hist"
FIG_R1_OVERLAP = "fig-r1-overlap"
WORD_INPUT = "word-input"              # dcc.Input
WORD_RESULT = "word-result"            # html.Div

# --- sentence explorer --------------------------------------------------------------
SENTENCE_INPUT = "sentence-input"      # dcc.Textarea
SENTENCE_RUN = "sentence-run"          # html.Button
SENTENCE_ALERT = "sentence-alert"      # html.Div
FIG_SENTENCE_TRAJ = "fig-sentence-trajectory"
FIG_SENTENCE_STEPS = "fig-sentence-steps"  # each token's readout change: push + zero-input drift
SENTENCE_ACCOUNT = "sentence-account"  # html.Div: what moved the readout, in words
SENTENCE_TOKENS = "sentence-tokens"    # html.Div: per-token table
TOKEN_SLIDER = "token-slider"          # dcc.Slider over token positions
TOKEN_DETAIL = "token-detail"          # html.Div: the token under the slider

# --- modifier words (ICML 2020) -------------------------------------------------------
MODIFIER_TEXT = "modifier-text"        # html.Div: the modifiers in words, or why they do not apply
MODIFIER_TABLE = "modifier-table"      # html.Div: ranked modifiers (kind, ratios, reach, decay)
MODIFIER_SELECT = "modifier-select"    # dcc.Dropdown; value = index into the report's modifier_top
FIG_MODIFIER_PATH = "fig-modifier-path"  # the selected modifier's deflection and return on the state PCs
FIG_MODIFIER_PROFILE = "fig-modifier-profile"  # its ratio r_k over the following tokens
MODIFIER_DETAIL = "modifier-detail"    # html.Div: its modes, ablation and decay in words

# --- linearization (Fig 5b) and comparison (Fig 6) ----------------------------------
FIG_LINEARIZATION = "fig-linearization"
LINEARIZATION_SUMMARY = "linearization-summary"
FIG_COMPARE = "fig-compare"
COMPARE_TABLE = "compare-table"

# --- classes (geometry of integration, C > 2) ---------------------------------------
CLASS_GEOMETRY_TEXT = "class-geometry-text"  # html.Div: the class geometry in words
FIG_CLASS_POINTS = "fig-class-points"  # the points in their top 3 PCs, by the class read there
FIG_SLOW_COUNTS = "fig-slow-counts"    # slow modes per point, C − 1 marked
FIG_CLASS_WORDS = "fig-class-words"    # each word's readout effect per class difference
FIG_SLOW_PROJECTIONS = "fig-slow-projections"  # each word on each slow left eigenvector

# --- populations (sweeps) -------------------------------------------------------------
SWEEP_SELECT = "sweep-select"          # dcc.Dropdown; value = sweep id (rnnscope sweep)
SWEEP_POLL = "sweep-poll"              # dcc.Interval: refreshes the sweep's progress
SWEEP_TABLE = "sweep-table"            # html.Div: one row per cell (state, accuracy, verdict)
POPULATION_DISTANCE = "population-distance"  # dcc.RadioItems: cka, svcca, topology
FIG_POPULATION = "fig-population"      # MDS map of the sweep's networks by that distance
POPULATION_VERDICT = "population-verdict"    # html.Div: the universality verdict in words
TOPOLOGY_TABLE = "topology-table"      # dash_table.DataTable: topology per network
