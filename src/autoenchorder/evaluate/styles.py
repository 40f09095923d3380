"""The report page's stylesheet (inlined into the page, so the report is one file)."""

from __future__ import annotations

CSS = """
:root { --ink:#1d2330; --muted:#5f6b7a; --line:#e3e7ee; --bg:#f6f8fb; --card:#fff;
  --accent:#0b63c5; --good:#0f7b4f; --bad:#b3261e; --goodbg:#e6f4ec; --badbg:#fbe9e7; }
* { box-sizing: border-box; }
body { margin:0; font:15px/1.55 -apple-system,BlinkMacSystemFont,"Segoe UI",Roboto,"Helvetica Neue",
  Arial,sans-serif; color:var(--ink); background:var(--bg); }
main { max-width:1120px; margin:0 auto; padding:32px 28px 64px; }
h1 { font-size:28px; margin:0 0 4px; letter-spacing:-.01em; }
h2 { font-size:22px; margin:48px 0 6px; padding-top:14px; border-top:3px solid var(--ink); }
h3 { font-size:16px; margin:30px 0 8px; }
p, li { max-width:80ch; }
.sub { color:var(--muted); margin:0 0 20px; }
.cards { display:grid; grid-template-columns:1fr; gap:16px; margin:18px 0; }
.card { background:var(--card); border:1px solid var(--line); border-radius:10px; padding:16px 18px;
  box-shadow:0 1px 2px rgba(20,30,50,.04); }
.card h3 { margin:0 0 6px; font-size:15px; color:var(--muted); text-transform:uppercase; letter-spacing:.04em; }
ul.checks { list-style:none; padding:0; margin:6px 0; font-size:13.5px; }
ul.checks li { margin:2px 0; }
ul.checks .mark { display:inline-block; width:1.2em; font-weight:700; }
ul.checks li.met .mark { color:var(--good); } ul.checks li.unmet .mark { color:var(--bad); }
.card .words { font-size:14px; margin:10px 0 6px; color:#2c3545; }
.card h3 a { color:inherit; text-decoration:none; }
.tiles { display:flex; flex-wrap:wrap; gap:10px; }
.tile { flex:1 1 150px; background:#f4f7fb; border-radius:8px; padding:8px 12px; }
.tile .label { font-size:12px; color:var(--muted); }
.tile .value { font-size:24px; font-weight:700; letter-spacing:-.01em; }
.tile .value .pill { font-size:11px; vertical-align:middle; }
.tile .detail { font-size:12px; color:var(--muted); }
.card .facts { color:var(--muted); font-size:13px; margin:8px 0 0; }
.pill { display:inline-block; padding:1px 8px; border-radius:999px; font-size:12px; font-weight:600; }
.pill.good { background:var(--goodbg); color:var(--good); } .pill.bad { background:var(--badbg); color:var(--bad); }
.pill.flat { background:#eef0f4; color:var(--muted); }
nav.toc { background:var(--card); border:1px solid var(--line); border-radius:10px; padding:10px 18px; }
nav.toc a { color:var(--accent); text-decoration:none; margin-right:18px; }
table { border-collapse:collapse; background:var(--card); margin:8px 0 6px; font-size:13.5px;
  border:1px solid var(--line); border-radius:8px; overflow:hidden; }
th, td { padding:6px 11px; text-align:right; border-bottom:1px solid var(--line); vertical-align:top; }
.scroll { max-width:100%; overflow-x:auto; }
th .ci { display:block; font-weight:400; color:var(--muted); font-size:11.5px; }
th { background:#eef2f7; font-weight:600; font-size:12.5px; color:#3a4556; }
td:first-child, th:first-child { text-align:left; }
tr.group td { background:#f7f9fc; font-weight:600; color:var(--muted); text-align:left; font-size:12px;
  text-transform:uppercase; letter-spacing:.05em; }
td .ci { display:block; color:var(--muted); font-size:11.5px; white-space:nowrap; }
td.best { font-weight:700; } td.best .ci { font-weight:400; }
td.good { background:var(--goodbg); } td.bad { background:var(--badbg); }
.bar { position:relative; width:180px; height:14px; background:#eef0f4; border-radius:3px; margin-top:3px; }
.bar .fill { position:absolute; left:0; top:0; bottom:0; background:#7fb0e6; border-radius:3px; }
.bar .ci { position:absolute; top:6px; height:2px; background:var(--ink); }
.bar .ref { position:absolute; top:-2px; bottom:-2px; width:2px; background:var(--bad); }
.bar .half { position:absolute; top:-2px; bottom:-2px; width:1px; background:#777; left:50%; }
figure { margin:12px 0 18px; background:var(--card); border:1px solid var(--line); border-radius:10px; padding:10px; }
figure img { max-width:100%; display:block; margin:0 auto; }
figcaption { color:var(--muted); font-size:13px; margin-top:6px; }
.note { color:var(--muted); font-size:13px; }
details { margin:6px 0; } summary { cursor:pointer; color:var(--accent); }
pre { background:#f1f3f7; padding:10px; border-radius:6px; font-size:12px; overflow:auto; }
footer { margin-top:48px; color:var(--muted); font-size:12.5px; border-top:1px solid var(--line); padding-top:12px; }
"""  # noqa: E501  (CSS rules read best one per line)
