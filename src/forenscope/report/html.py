"""``report.html``: a page a person reads without tools. A sortable table (thumbnail, file,
verdict, each detector's score), a panel per image (overlays, masks, ELA, noise, file facts,
EXIF, JPEG quantisation) and summary plots. Self-contained apart from the pictures in
``assets/``; no script from elsewhere."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Iterable

from forenscope.provenance.evidence import evidence_lines

VERDICT_COLOURS = {"authentic": "#2e7d32", "generated": "#6a1b9a", "tampered": "#c62828",
                   "uncertain": "#ef6c00", "duplicate": "#607d8b", "error": "#455a64"}

STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse;width:100%}th,td{border-bottom:1px solid #ddd;padding:4px 6px;text-align:left;vertical-align:middle}
th{cursor:pointer;background:#f3f3f3;position:sticky;top:0}th:hover{background:#e4e4e4}
td.num{text-align:right;font-variant-numeric:tabular-nums}.v{color:#fff;border-radius:3px;padding:1px 6px;font-weight:600}
img.t{max-height:64px;max-width:96px}details{margin:.2em 0}.views{display:flex;flex-wrap:wrap;gap:8px}
.views figure{margin:0}.views img{max-width:320px;max-height:320px;border:1px solid #ccc}figcaption{font-size:12px;color:#555}
.facts{font:12px monospace;white-space:pre-wrap;background:#fafafa;border:1px solid #eee;padding:6px;max-width:60em}
.provenance{font-size:13px;margin:6px 0;max-width:60em}
.summary img{max-width:100%;border:1px solid #ddd}
"""

SCRIPT = """
document.querySelectorAll('th[data-k]').forEach(function(th, col){th.addEventListener('click',function(){
 var tb=document.querySelector('#results tbody'),rows=[].slice.call(tb.querySelectorAll('tr.r')),asc=th.dataset.asc!=='1';
 th.dataset.asc=asc?'1':'0';rows.sort(function(a,b){var x=a.children[col].dataset.s,y=b.children[col].dataset.s;
 var nx=parseFloat(x),ny=parseFloat(y),c=(isNaN(nx)||isNaN(ny))?String(x).localeCompare(String(y)):nx-ny;return asc?c:-c;});
 rows.forEach(function(r){tb.appendChild(r);var d=document.getElementById('d-'+r.id);if(d)tb.appendChild(d);});});});
"""


def write_report(out: Path, rows: list[dict], cfg) -> Path:
    detectors = list(dict.fromkeys(e["detector"] for r in rows for e in r.get("evidence", [])))
    summary = write_summary_plot(out / "summary.png", rows, detectors)
    counts = verdict_counts(rows)
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>forenscope scan report</title>"
             f"<style>{STYLE}</style></head><body>",
             f"<h1>forenscope scan report</h1><p>{len(rows)} inputs: "
             + ", ".join(f"{_badge(k)} {n}" for k, n in sorted(counts.items()))
             + f". Detectors: {', '.join(map(html.escape, cfg.detectors))}; verdict band {cfg.band} logit around each "
             "threshold (within it: uncertain). Click a column to sort, a row to open its views.</p>"]
    if summary:
        parts.append(f"<div class='summary'><img src='{summary}' alt='score histograms and verdict counts'></div>")
    head = "".join(f"<th data-k='{k}'>{html.escape(k)}</th>" for k in ["", "file", "verdict", "confidence"] + detectors)
    parts.append(f"<table id='results'><thead><tr>{head}</tr></thead><tbody>")
    for i, r in enumerate(rows):
        parts.append(_row(i, r, detectors))
    parts.append(f"</tbody></table><script>{SCRIPT}</script></body></html>")
    path = out / "report.html"
    tmp = path.with_suffix(".tmp")
    tmp.write_text("\n".join(parts), encoding="utf-8")
    tmp.replace(path)
    return path


def _badge(verdict: str) -> str:
    return f"<span class='v' style='background:{VERDICT_COLOURS.get(verdict, '#333')}'>{html.escape(verdict)}</span>"


def _row(i: int, r: dict, detectors: list[str]) -> str:
    verdict = "error" if r.get("error") else r.get("verdict") or "?"
    scores = {e["detector"]: e for e in r.get("evidence", [])}
    thumb = r.get("assets", {}).get("thumb")
    conf = r.get("confidence")
    cells = [f"<td data-s='{i}'>" + (f"<img class='t' src='{html.escape(thumb)}' alt=''>" if thumb else "") + "</td>",
             f"<td data-s='{html.escape(r['path'])}'>{html.escape(r['path'])}</td>",
             f"<td data-s='{verdict}'>{_badge(verdict)}</td>",
             f"<td class='num' data-s='{-1 if conf is None else conf}'>{'' if conf is None else f'{conf:.2f}'}</td>"]
    for d in detectors:
        e = scores.get(d)
        cells.append(f"<td class='num' data-s='{e['score'] if e else -1}' title='threshold {e['threshold']:.4g}' >"
                     f"{e['score']:.4f}</td>" if e else "<td data-s='-1'></td>")
    out = f"<tr class='r' id='r{i}' onclick=\"var d=document.getElementById('d-r{i}');d.hidden=!d.hidden\">{''.join(cells)}</tr>"
    return out + f"<tr id='d-r{i}' hidden><td></td><td colspan='{3 + len(detectors)}'>{_details(r)}</td></tr>"


def _provenance(p: dict | None) -> str:
    """The provenance panel: every evidence item and note (absent when provenance did not run)."""
    if not p:
        return ""
    items = "".join(f"<li>{html.escape(x)}</li>" for x in evidence_lines(p))
    return f"<div class='provenance'><b>Provenance: what the file says about itself</b><ul>{items}</ul></div>"


def _details(r: dict) -> str:
    if r.get("error"):
        return f"<p>{html.escape(r['error'])}</p>"
    if r.get("duplicate_of"):
        return f"<p>same bytes as {html.escape(r['duplicate_of'])}: not analysed again</p>"
    figs = []
    for key, src in r.get("assets", {}).items():
        if key == "thumb":
            continue
        figs.append(f"<figure><img loading='lazy' src='{html.escape(src)}' alt='{html.escape(key)}'>"
                    f"<figcaption>{html.escape(key.replace(':', ' · '))}</figcaption></figure>")
    reasons = "".join(f"<li>{html.escape(x)}</li>" for x in r.get("reasons", []))
    facts = dict(r.get("facts", {}))
    q = facts.pop("jpeg_quantization", None)
    text = json.dumps(facts, indent=1, default=str)
    if q:
        text += "\nJPEG quantisation tables (natural order):\n" + "\n".join(
            f" table {k}: " + " ".join(map(str, v)) for k, v in q.items())
    return (f"<ul>{reasons}</ul><div class='views'>{''.join(figs)}</div>{_provenance(r.get('provenance'))}"
            f"<details><summary>file facts, EXIF, JPEG</summary><div class='facts'>{html.escape(text)}</div></details>")


def write_summary_plot(path: Path, rows: list[dict], detectors: list[str]) -> str | None:
    """Score histogram per detector (threshold marked) and the verdict counts, one PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    if not rows:
        return None
    n = len(detectors) + 1
    fig, axes = plt.subplots(1, n, figsize=(3.2 * n, 2.6), dpi=100)
    axes = np.atleast_1d(axes)
    for ax, d in zip(axes, detectors):
        ev = [e for r in rows for e in r.get("evidence", []) if e["detector"] == d]
        ax.hist([e["score"] for e in ev], bins=20, range=(0, 1), color="#546e7a")
        if ev:
            ax.axvline(ev[0]["threshold"], color="#c62828", lw=1)
        ax.set_title(f"{d} score", fontsize=9)
        ax.tick_params(labelsize=7)
    counts = verdict_counts(rows)
    keys = sorted(counts)
    axes[-1].bar(keys, [counts[k] for k in keys], color=[VERDICT_COLOURS.get(k, "#333") for k in keys])
    axes[-1].set_title("verdicts", fontsize=9)
    axes[-1].tick_params(labelsize=7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path.name


def verdict_counts(rows: Iterable[dict]) -> dict:
    counts: dict[str, int] = {}
    for r in rows:
        key = "error" if r.get("error") else r.get("verdict") or "?"
        counts[key] = counts.get(key, 0) + 1
    return counts
