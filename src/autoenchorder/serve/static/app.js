// The page of `autoenchorder serve`: no framework, no build step, no request off this server.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { token: sessionStorage.getItem("autoenchorder-token") || "", card: null };

function headers() {
  return state.token ? { Authorization: "Bearer " + state.token } : {};
}

// POST a form with upload progress; resolves to {status, body} whatever the status.
function send(url, form, onUpload) {
  return new Promise((resolve) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", url);
    for (const [k, v] of Object.entries(headers())) xhr.setRequestHeader(k, v);
    xhr.upload.onprogress = (e) => { if (e.lengthComputable) onUpload(e.loaded / e.total); };
    xhr.upload.onload = () => onUpload(1);
    xhr.onload = () => {
      let body = null;
      try { body = JSON.parse(xhr.responseText); } catch (_) { body = null; }
      resolve({ status: xhr.status, body, retryAfter: xhr.getResponseHeader("Retry-After") });
    };
    xhr.onerror = () => resolve({ status: 0, body: null });
    xhr.send(form);
  });
}

function problem(answer) {
  if (answer.status === 0) return "The server cannot be reached. Is it still running?";
  if (answer.status === 401) { $("token-form").hidden = false; }
  const detail = answer.body && answer.body.detail;
  if (typeof detail === "string") return detail;
  return "The server answered " + answer.status + ".";
}

// A progress line: the upload's share, then an indeterminate bar while the song is scored.
function progress(prefix) {
  const box = $(prefix + "progress"), bar = $(prefix + "progress-bar"), text = $(prefix + "progress-text");
  let timer = null;
  return {
    start() {
      box.hidden = false; bar.parentElement.classList.remove("busy");
      bar.style.width = "0"; text.textContent = "Uploading…";
    },
    upload(share) {
      bar.style.width = Math.round(share * 100) + "%";
      if (share >= 1 && !timer) {
        const t0 = Date.now();
        bar.style.width = ""; bar.parentElement.classList.add("busy");
        const tick = () => { text.textContent = "Listening and scoring… " + Math.round((Date.now() - t0) / 1000) + " s"; };
        tick(); timer = setInterval(tick, 500);
      }
    },
    stop() { clearInterval(timer); timer = null; box.hidden = true; },
  };
}

const fmt = (x, d = 1) => (x === null || x === undefined || Number.isNaN(x) ? "–" : Number(x).toFixed(d));
function clock(s) {
  const m = Math.floor(s / 60), r = Math.floor(s % 60);
  return m + ":" + String(r).padStart(2, "0");
}
function list(ul, items, render) {
  ul.replaceChildren(...items.map((item) => { const li = document.createElement("li"); li.textContent = render(item); return li; }));
}

// ---------------------------------------------------------------- one song
async function scoreFile(file) {
  if (!file) return;
  $("error").hidden = true;
  const bar = progress("");
  bar.start();
  const form = new FormData();
  form.append("file", file, file.name);
  const answer = await send("/api/predict?details=true", form, (s) => bar.upload(s));
  bar.stop();
  if (answer.status !== 200) {
    $("result").hidden = true;
    $("error").textContent = problem(answer);
    $("error").hidden = false;
    return;
  }
  showResult(answer.body.predictions[0], answer.body.details);
}

function showResult(p, details) {
  $("result").hidden = false;
  $("song-name").textContent = p.path;
  $("score").textContent = p.popularity === null ? p.band : fmt(p.popularity, 0);
  const band = $("band");
  band.textContent = p.band + " popularity band";
  band.className = "band " + p.band;
  $("interval").textContent = details.interval
    ? "95 % interval " + fmt(details.interval[0], 0) + "–" + fmt(details.interval[1], 0)
    : "no uncertainty available for this model";
  $("method").textContent = "Listened to " + p.input + " (" + clock(p.duration) + "); uncertainty: " + p.uncertainty_method;
  drawTimeline($("timeline"), details.waveform, p, details.moments);
  const m = details.moments;
  const what = m.source === "contributions" ? " points" : " (window score)";
  list($("strongest"), m.strongest, (x) => clock(x.start) + "–" + clock(x.end) + ": " + (x.value > 0 && m.source === "contributions" ? "+" : "") + fmt(x.value, 1) + what);
  list($("weakest"), m.weakest, (x) => clock(x.start) + "–" + clock(x.end) + ": " + fmt(x.value, 1) + what);
  if (!m.source) {
    list($("strongest"), [0], () => "The song is one stretch for this model: no moments stand out.");
    list($("weakest"), [0], () => "–");
  } else {
    if (!m.strongest.length) list($("strongest"), [0], () => "No moment raised the score by itself.");
    if (!m.weakest.length) list($("weakest"), [0], () => "No moment lowered the score by itself.");
  }
  $("timeline-legend").textContent = m.source === "contributions"
    ? "Grey: the waveform. Green bars: moments that raised the score; red: moments that lowered it (points of popularity)."
    : "Grey: the waveform. Blue lines: the score of each 30 s window of the song.";
  showPercentile(details.percentile, p.popularity);
  showNeighbours(details.neighbours);
}

function showPercentile(percentile, score) {
  const hist = state.card && state.card.popularity_histogram;
  if (percentile === null || percentile === undefined || !hist) {
    $("percentile").textContent = "Not available: this model's bundle keeps no index of its training songs.";
    $("histogram").hidden = true;
    return;
  }
  const n = state.card.neighbours.n_training;
  $("percentile").textContent = "Your score is higher than the true popularity of " + fmt(percentile, 0) + " % of the model's " + n + " training songs.";
  $("histogram").hidden = false;
  drawHistogram($("histogram"), hist, score);
}

function showNeighbours(neighbours) {
  const body = $("neighbours").querySelector("tbody");
  if (!neighbours) {
    body.replaceChildren();
    $("neighbours").hidden = true;
    $("neighbours-missing").hidden = false;
    $("neighbours-missing").textContent = "Not available: this model's bundle keeps no index of its training songs (train it again with this version to get one).";
    return;
  }
  $("neighbours").hidden = false;
  $("neighbours-missing").hidden = true;
  body.replaceChildren(...neighbours.map((n) => {
    const tr = document.createElement("tr");
    for (const text of [n.id, fmt(n.popularity, 0), Math.round(n.similarity * 100) + " %"]) {
      const td = document.createElement("td"); td.textContent = text; tr.appendChild(td);
    }
    return tr;
  }));
}

// ---------------------------------------------------------------- drawing
function axis(ctx, w, h, duration) {
  ctx.fillStyle = "#5b6475"; ctx.font = "11px system-ui, sans-serif";
  const step = duration > 240 ? 60 : duration > 60 ? 15 : duration > 20 ? 5 : 2;
  for (let t = 0; t <= duration; t += step) {
    const x = (t / duration) * w;
    ctx.fillRect(x, h - 14, 1, 4);
    ctx.fillText(clock(t), Math.min(x + 2, w - 28), h - 2);
  }
}

function wave(ctx, waveform, w, mid, scale, colour) {
  const peaks = waveform.peaks, n = peaks.length;
  const top = Math.max(1e-6, ...peaks);
  ctx.fillStyle = colour;
  for (let i = 0; i < n; i++) {
    const x = (i / n) * w, y = (peaks[i] / top) * scale;
    ctx.fillRect(x, mid - y, Math.max(1, w / n), 2 * y);
  }
}

function drawTimeline(canvas, waveform, p, moments) {
  const ctx = canvas.getContext("2d"), w = canvas.width, h = canvas.height - 16, mid = h / 2;
  const d = waveform.duration || p.duration || 1;
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  for (const [items, colour] of [[moments.strongest, "rgba(31,157,85,.14)"], [moments.weakest, "rgba(214,69,69,.14)"]]) {
    ctx.fillStyle = colour;
    for (const m of items) ctx.fillRect((m.start / d) * w, 0, Math.max(2, ((m.end - m.start) / d) * w), h);
  }
  wave(ctx, waveform, w, mid, mid * 0.9, "#b8bfcc");
  const contributions = p.contributions || [];
  if (contributions.length) {
    const top = Math.max(1e-6, ...contributions.map((c) => Math.abs(c.contribution)));
    for (const c of contributions) {
      const x = (c.start / d) * w, bw = Math.max(2, ((c.end - c.start) / d) * w - 1);
      const y = (c.contribution / top) * mid * 0.9;
      ctx.fillStyle = c.contribution >= 0 ? "#1f9d55" : "#d64545";
      ctx.fillRect(x, c.contribution >= 0 ? mid - y : mid, bw, Math.abs(y));
    }
  } else {
    ctx.strokeStyle = "#3557d6"; ctx.lineWidth = 3; ctx.fillStyle = "#3557d6"; ctx.font = "12px system-ui, sans-serif";
    for (const win of p.windows || []) {
      if (win.popularity === null) continue;
      const y = h - (win.popularity / 100) * h;
      ctx.beginPath(); ctx.moveTo((win.start / d) * w, y); ctx.lineTo((Math.min(win.end, d) / d) * w, y); ctx.stroke();
      ctx.fillText(fmt(win.popularity, 0), (win.start / d) * w + 4, Math.max(12, y - 4));
    }
  }
  axis(ctx, w, canvas.height, d);
}

function drawHistogram(canvas, hist, score) {
  const ctx = canvas.getContext("2d"), w = canvas.width, h = canvas.height - 16;
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  const top = Math.max(1, ...hist.counts), n = hist.counts.length;
  ctx.fillStyle = "#c5cce0";
  hist.counts.forEach((c, i) => { const bh = (c / top) * (h - 4); ctx.fillRect((i / n) * w + 1, h - bh, w / n - 2, bh); });
  ctx.fillStyle = "#5b6475"; ctx.font = "11px system-ui, sans-serif";
  for (const v of [0, 25, 50, 75, 100]) ctx.fillText(String(v), Math.min((v / 100) * w, w - 20), canvas.height - 2);
  if (score !== null && score !== undefined) {
    const x = (score / 100) * w;
    ctx.fillStyle = "#3557d6"; ctx.fillRect(x - 1, 0, 3, h);
    ctx.fillText("you", Math.min(x + 4, w - 24), 11);
  }
}

// ---------------------------------------------------------------- compare
async function compare(event) {
  event.preventDefault();
  const a = $("file-a").files[0], b = $("file-b").files[0];
  $("compare-error").hidden = true;
  if (!a || !b) {
    $("compare-error").textContent = "Choose two files: version A and version B.";
    $("compare-error").hidden = false;
    return;
  }
  const bar = progress("compare-");
  bar.start();
  $("compare-button").disabled = true;
  const form = new FormData();
  form.append("a", a, a.name);
  form.append("b", b, b.name);
  const answer = await send("/api/compare", form, (s) => bar.upload(s));
  bar.stop();
  $("compare-button").disabled = false;
  if (answer.status !== 200) {
    $("compare-result").hidden = true;
    $("compare-error").textContent = problem(answer);
    $("compare-error").hidden = false;
    return;
  }
  showComparison(answer.body);
}

function showComparison(r) {
  $("compare-result").hidden = false;
  const pa = r.a.prediction, pb = r.b.prediction;
  const gap = Math.abs(r.difference);
  $("verdict").textContent = r.higher === "neither"
    ? "Both versions score the same (" + fmt(pa.popularity, 1) + ")."
    : "Version " + r.higher.toUpperCase() + " scores higher, by " + fmt(gap, 1) + " points (A " + fmt(pa.popularity, 1) + ", B " + fmt(pb.popularity, 1) + ").";
  let detail = "";
  if (r.interval) {
    detail = "Paired 95 % interval of B − A: " + fmt(r.interval[0], 1) + " to " + fmt(r.interval[1], 1) + " points; chance that B really scores higher: " + fmt(100 * r.probability_b_higher, 0) + " % (" + r.method + ").";
  } else {
    detail = "This model gives no uncertainty, so how sure the difference is cannot be said.";
  }
  const ot = r.over_time;
  const spans = (xs) => xs.slice(0, 4).map((s) => clock(s.start) + "–" + clock(s.end)).join(", ");
  if (ot.louder.length) detail += " B is louder at " + spans(ot.louder) + ".";
  if (ot.quieter.length) detail += " B is quieter at " + spans(ot.quieter) + ".";
  if (!ot.louder.length && !ot.quieter.length) detail += " Their loudness over time stays within 3 dB.";
  $("verdict-detail").textContent = detail;
  drawComparison($("compare-timeline"), r);
  $("compare-legend").textContent = "Grey: version A, blue: version B (waveforms, over the length both share). Shaded: where B is louder (green) or quieter (red) by more than 3 dB.";
  const rows = ot.contributions.length ? ot.contributions : ot.windows;
  list($("compare-windows"), rows.slice(0, 8), (x) => clock(x.start) + "–" + clock(x.end) + ": A " + fmt(x.a, 1) + ", B " + fmt(x.b, 1) + " (" + (x.difference >= 0 ? "+" : "") + fmt(x.difference, 1) + ")");
}

function drawComparison(canvas, r) {
  const ctx = canvas.getContext("2d"), w = canvas.width, h = canvas.height - 16;
  const ot = r.over_time, d = ot.duration || 1;
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  for (const [items, colour] of [[ot.louder, "rgba(31,157,85,.16)"], [ot.quieter, "rgba(214,69,69,.16)"]]) {
    ctx.fillStyle = colour;
    for (const s of items) ctx.fillRect((s.start / d) * w, 0, Math.max(2, ((s.end - s.start) / d) * w), h);
  }
  const part = (wf) => ({ peaks: wf.peaks.slice(0, Math.max(1, Math.round(wf.peaks.length * Math.min(1, d / wf.duration)))) });
  wave(ctx, part(r.a.details.waveform), w, h / 4, h / 4 * 0.9, "#9aa3b5");
  wave(ctx, part(r.b.details.waveform), w, (3 * h) / 4, h / 4 * 0.9, "#5d7be0");
  ctx.fillStyle = "#1d2330"; ctx.font = "12px system-ui, sans-serif";
  ctx.fillText("A", 4, 14); ctx.fillText("B", 4, h / 2 + 14);
  axis(ctx, w, canvas.height, d);
}

// ---------------------------------------------------------------- the model card
async function loadCard() {
  const response = await fetch("/api/model", { headers: headers() });
  if (response.status === 401) { $("token-form").hidden = false; return; }
  if (!response.ok) return;
  const card = await response.json();
  state.card = card;
  if (card.notice) { $("notice").textContent = card.notice; $("notice").hidden = false; }
  const t = card.trained_on;
  const rows = [
    ["model", card.model + (card.setting ? " (" + card.setting + " setting)" : "") + (card.members > 1 ? ", an ensemble of " + card.members : "")],
    ["trained on", t.dataset + (t.rows ? ", " + t.rows + " songs" : "") + (t.n_train ? " (" + (t.n_train + (t.n_val || 0)) + " for training, " + t.n_test + " for testing)" : "")],
    ["split", t.split || "–"],
    ["listens to", card.input.audio + (card.input.embedder ? ", with " + card.input.embedder + " embeddings" : "")],
    ["songs that sound like yours", card.neighbours.available ? card.neighbours.n_indexed + " training songs indexed (" + card.neighbours.space + ")" : "not available for this bundle"],
    ["bundle", card.bundle + (card.created ? ", made " + card.created : "") + (card.version ? " with autoenchorder " + card.version : "")],
  ];
  $("card").replaceChildren(...rows.flatMap(([k, v]) => {
    const dt = document.createElement("dt"), dd = document.createElement("dd");
    dt.textContent = k; dd.textContent = v; return [dt, dd];
  }));
  const body = $("metrics").querySelector("tbody");
  if (!card.metrics.length) {
    const tr = document.createElement("tr"), td = document.createElement("td");
    td.colSpan = 3; td.textContent = "The bundle records no test metrics."; tr.appendChild(td);
    body.replaceChildren(tr);
  } else {
    body.replaceChildren(...card.metrics.map((m) => {
      const tr = document.createElement("tr");
      const ci = m.ci && m.ci[0] !== null ? fmt(m.ci[0], 3) + " – " + fmt(m.ci[1], 3) : "not recorded";
      for (const text of [m.name.toUpperCase(), fmt(m.value, 3), ci]) {
        const td = document.createElement("td"); td.textContent = text; tr.appendChild(td);
      }
      return tr;
    }));
  }
}

// ---------------------------------------------------------------- wiring
document.addEventListener("DOMContentLoaded", () => {
  const drop = $("drop");
  $("file").addEventListener("change", () => scoreFile($("file").files[0]));
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault(); drop.classList.remove("over");
    if (e.dataTransfer.files.length) scoreFile(e.dataTransfer.files[0]);
  });
  $("compare-form").addEventListener("submit", compare);
  $("token-form").addEventListener("submit", (e) => {
    e.preventDefault();
    state.token = $("token").value.trim();
    sessionStorage.setItem("autoenchorder-token", state.token);
    $("token-form").hidden = true;
    loadCard();
  });
  loadCard();
});
