"""Fax: T.30 sessions over the analog lines (spandsp through dsp_ext.fax), test charts, the line check.

Public face:
- `charts.chart`, `charts.document`: generated test pages;
- `loopback.run_loopback`, `loopback.LoopbackResult`: a document over a simulated line, in simulated time;
- `commands`: the `fax.*` engine commands (registered when the engine starts).
"""
