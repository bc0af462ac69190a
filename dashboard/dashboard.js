// Shoal's live dashboard: polls the node's admin API (same origin) and draws what it answers.
// No build step, no dependencies. Rates are the difference of two polls' counters over the time
// between them, per node. `?interval=ms` changes the polling period (default 2000).
'use strict';

(() => {
  const params = new URLSearchParams(location.search);
  const INTERVAL_MS = Math.max(200, Number(params.get('interval')) || 2000);
  /** Points kept per series: two minutes at the default period. */
  const HISTORY = 60;
  const COLORS = ['#2f6fdf', '#e8590c', '#2b8a3e', '#ae3ec9', '#c92a2a', '#0b7285', '#5c940d', '#d6336c'];
  const TOKEN_KEY = 'shoal.httpToken';

  const $ = (id) => document.getElementById(id);
  /** node → { points: { connections, rateIn, rateOut }[], last: { at, received, sent } } */
  const series = new Map();
  const colorOf = new Map();
  let samples = 0;

  function headers() {
    const token = sessionStorage.getItem(TOKEN_KEY);
    return token ? { Authorization: `Bearer ${token}` } : {};
  }

  class Unauthorized extends Error {}

  async function getJson(path) {
    const res = await fetch(path, { headers: headers(), cache: 'no-store' });
    if (res.status === 401) throw new Unauthorized('token required');
    const body = await res.json();
    if (!res.ok) throw new Error(body.error ? `${body.error.code}: ${body.error.message}` : `HTTP ${res.status}`);
    return body;
  }

  function cell(text, cls, field) {
    const td = document.createElement('td');
    td.textContent = text;
    if (cls) td.className = cls;
    if (field) td.dataset.field = field;
    return td;
  }

  const fmtRate = (r) => (r === null ? '–' : r < 10 ? r.toFixed(1) : String(Math.round(r)));

  function record(members, now) {
    const rates = new Map();
    for (const m of members) {
      if (!colorOf.has(m.node)) colorOf.set(m.node, COLORS[colorOf.size % COLORS.length]);
      let s = series.get(m.node);
      if (!s) series.set(m.node, (s = { points: [], last: null }));
      if (!m.load) {
        rates.set(m.node, { rateIn: null, rateOut: null });
        continue;
      }
      let rateIn = null;
      let rateOut = null;
      if (s.last !== null && now > s.last.at) {
        const dt = (now - s.last.at) / 1000;
        // A restarted node's counters start over: no negative rate.
        rateIn = Math.max(0, (m.load.messagesReceived - s.last.received) / dt);
        rateOut = Math.max(0, (m.load.messagesSent - s.last.sent) / dt);
      }
      s.last = { at: now, received: m.load.messagesReceived, sent: m.load.messagesSent };
      s.points.push({ connections: m.load.connections, rateIn, rateOut });
      if (s.points.length > HISTORY) s.points.shift();
      rates.set(m.node, { rateIn, rateOut });
    }
    return rates;
  }

  function renderMembers(members, rates) {
    const body = $('members').tBodies[0];
    body.replaceChildren(
      ...members.map((m) => {
        const tr = document.createElement('tr');
        tr.dataset.node = m.node;
        const r = rates.get(m.node) ?? { rateIn: null, rateOut: null };
        const name = cell(m.node + (m.self ? ' (this node)' : ''), '', 'node');
        name.style.borderLeft = `4px solid ${colorOf.get(m.node)}`;
        tr.append(
          name,
          cell(m.state, `state-${m.state}`, 'state'),
          cell(m.load ? String(m.load.connections) : '–', 'num', 'connections'),
          cell(fmtRate(r.rateIn), 'num', 'rate-in'),
          cell(fmtRate(r.rateOut), 'num', 'rate-out'),
          cell(m.load ? String(m.load.subscriptions) : '–', 'num', 'subscriptions'),
          cell(String(m.routes), 'num', 'routes'),
          cell(String(m.forwardQueueDepth), 'num', 'forward-queue'),
        );
        return tr;
      }),
    );
    $('legend').replaceChildren(
      ...[...colorOf].map(([node, color]) => {
        const li = document.createElement('li');
        const swatch = document.createElement('span');
        swatch.style.background = color;
        li.append(swatch, node);
        return li;
      }),
    );
  }

  function renderTopics(topics) {
    $('topics').tBodies[0].replaceChildren(
      ...topics.map((t) => {
        const tr = document.createElement('tr');
        tr.dataset.topic = t.topic;
        tr.append(cell(t.topic, '', 'topic'), cell(String(t.messages), 'num', 'messages'));
        return tr;
      }),
    );
  }

  /** One line per node of `key` over the kept history, on a shared y scale from 0. */
  function plot(canvasId, key) {
    const canvas = $(canvasId);
    const ctx = canvas.getContext('2d');
    const { width: w, height: h } = canvas;
    const pad = { left: 44, right: 8, top: 8, bottom: 18 };
    ctx.clearRect(0, 0, w, h);
    let max = 1;
    for (const s of series.values()) for (const p of s.points) if (p[key] !== null && p[key] > max) max = p[key];
    max = niceCeil(max);
    ctx.strokeStyle = '#e3e6ea';
    ctx.fillStyle = '#666';
    ctx.font = '11px system-ui, sans-serif';
    for (let i = 0; i <= 4; i++) {
      const y = pad.top + ((h - pad.top - pad.bottom) * i) / 4;
      ctx.beginPath();
      ctx.moveTo(pad.left, y);
      ctx.lineTo(w - pad.right, y);
      ctx.stroke();
      const v = (max * (4 - i)) / 4;
      ctx.fillText(Number.isInteger(v) ? String(v) : v.toFixed(1), 4, y + 4);
    }
    const xOf = (i) => pad.left + ((w - pad.left - pad.right) * i) / (HISTORY - 1);
    const yOf = (v) => h - pad.bottom - ((h - pad.top - pad.bottom) * v) / max;
    let drawn = 0;
    for (const [node, s] of series) {
      ctx.strokeStyle = colorOf.get(node);
      ctx.lineWidth = 2;
      ctx.beginPath();
      let started = false;
      const offset = HISTORY - s.points.length;
      s.points.forEach((p, i) => {
        if (p[key] === null) return;
        const x = xOf(offset + i);
        const y = yOf(p[key]);
        if (started) ctx.lineTo(x, y);
        else ctx.moveTo(x, y);
        started = true;
        drawn++;
      });
      ctx.stroke();
    }
    // For tests and the curious: how many points this plot drew, and its scale.
    canvas.dataset.points = String(drawn);
    canvas.dataset.max = String(max);
  }

  function niceCeil(v) {
    const p = 10 ** Math.floor(Math.log10(v));
    for (const m of [1, 2, 5, 10]) if (v <= m * p) return m * p;
    return 10 * p;
  }

  function setStatus(text, error) {
    const el = $('status');
    el.textContent = text;
    el.classList.toggle('error', Boolean(error));
  }

  async function poll() {
    try {
      const [node, members] = await Promise.all([getJson('/api/v1/node?top=10'), getJson('/api/v1/cluster/members')]);
      const now = performance.now();
      $('node-name').textContent = node.node;
      const rates = record(members.data, now);
      renderMembers(members.data, rates);
      renderTopics(node.topTopics);
      plot('plot-connections', 'connections');
      plot('plot-rate-in', 'rateIn');
      plot('plot-rate-out', 'rateOut');
      samples++;
      document.body.dataset.samples = String(samples);
      setStatus(`${members.clustered ? `cluster of ${members.data.length}` : 'single node'} · updated ${new Date().toLocaleTimeString()}`, false);
    } catch (err) {
      if (err instanceof Unauthorized) {
        $('token-form').hidden = false;
        setStatus('needs the HTTP token', true);
        return; // polling resumes when a token is entered
      }
      setStatus(`cannot reach the node: ${err.message}`, true);
    }
    setTimeout(poll, INTERVAL_MS);
  }

  $('token-form').addEventListener('submit', (e) => {
    e.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, $('token-input').value);
    $('token-form').hidden = true;
    void poll();
  });

  void poll();
})();
