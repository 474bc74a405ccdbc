"""Marts and the monthly safety and efficacy report (issue 3).

Modules, one job each: sources (what data a build sees: current or as of a load, up to a cutoff),
marts (run the SQL models in warehouse/sql/marts), stats (intervals and survival from scipy /
statsmodels / lifelines), suppression (small-cell rules), figures (the numbers of the report),
charts (inline SVG), render (HTML and PDF), command (the CLI).
"""
