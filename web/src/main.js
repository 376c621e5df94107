import './style.css';
import { PriceChart } from './chart.js';
import { HealthPanel } from './health.js';
import { Watchlist, Tape, Movers, Users } from './panels.js';
import { AlertsPanel } from './alerts.js';
import { el, price, pct, getJSON, retryDelay } from './util.js';

const INTERVALS = { '1s': 1, '1m': 60, '5m': 300 };
// Ranges offered per interval, as a number of candles' worth of time.
const RANGES = [
  { name: '15m', seconds: 15 * 60 },
  { name: '1h', seconds: 3600 },
  { name: '6h', seconds: 6 * 3600 },
  { name: '1d', seconds: 86400 },
];
const MAX_CANDLES = 1500;

const state = { symbol: '', interval: '1m', range: '6h', source: null, loadSeq: 0 };

const chartBox = document.getElementById('chart');
const chart = new PriceChart(chartBox);
const health = new HealthPanel();
const watchlist = new Watchlist(pick);
const tape = new Tape();
const movers = new Movers(pick);
const users = new Users();
const alerts = new AlertsPanel((list) => {
  chart.setMarkers(list.filter((a) => a.symbol === state.symbol), INTERVALS[state.interval]);
});

function rangeFits(range, interval) {
  return range.seconds / INTERVALS[interval] <= MAX_CANDLES && range.seconds / INTERVALS[interval] >= 10;
}

function renderControls() {
  const ivBox = document.getElementById('intervals');
  const rgBox = document.getElementById('ranges');
  ivBox.replaceChildren();
  rgBox.replaceChildren();
  for (const iv of Object.keys(INTERVALS)) {
    const b = el('button', iv === state.interval ? 'on' : '', iv);
    b.type = 'button';
    b.dataset.interval = iv;
    b.addEventListener('click', () => {
      state.interval = iv;
      const fit = RANGES.find((r) => r.name === state.range);
      if (!fit || !rangeFits(fit, iv)) state.range = RANGES.find((r) => rangeFits(r, iv)).name;
      renderControls();
      switchTo(state.symbol);
    });
    ivBox.append(b);
  }
  for (const r of RANGES) {
    const b = el('button', r.name === state.range ? 'on' : '', r.name);
    b.type = 'button';
    b.dataset.range = r.name;
    b.disabled = !rangeFits(r, state.interval);
    b.addEventListener('click', () => {
      state.range = r.name;
      renderControls();
      switchTo(state.symbol);
    });
    rgBox.append(b);
  }
}

function setConn(kind, text) {
  const c = document.getElementById('conn');
  c.className = 'conn ' + kind;
  document.getElementById('conn-text').textContent = text;
}

function showQuote(q) {
  if (!q || q.symbol !== state.symbol) return;
  document.getElementById('q-symbol').textContent = q.symbol;
  document.getElementById('q-sector').textContent = q.sector || '';
  const last = document.getElementById('q-last');
  const prev = Number(last.dataset.value || 0);
  last.textContent = price(q.last);
  last.dataset.value = String(q.last);
  last.className = 'q-last ' + (prev && q.last !== prev ? (q.last > prev ? 'up' : 'down') : last.className.replace('q-last', '').trim());
  const ref = (watchlist.quote(q.symbol) || {}).open || q.open;
  const chg = document.getElementById('q-change');
  if (ref) {
    const c = ((q.last - ref) / ref) * 100;
    chg.textContent = `${pct(c)} since open`;
    chg.className = 'q-change ' + (c >= 0 ? 'up' : 'down');
  }
  document.getElementById('q-bidask').textContent = q.bid ? `bid ${price(q.bid)} · ask ${price(q.ask)}` : '';
}

async function loadHistory(symbol, attempt = 0) {
  const seq = ++state.loadSeq;
  const range = RANGES.find((r) => r.name === state.range);
  const width = INTERVALS[state.interval];
  const msg = document.getElementById('chart-msg');
  msg.textContent = 'loading…';
  document.getElementById('chart-title').textContent = `${symbol} · ${state.interval}`;
  try {
    const n = Math.min(MAX_CANDLES, Math.floor(range.seconds / width));
    const [c, t] = await Promise.all([
      getJSON(`/api/candles?symbol=${encodeURIComponent(symbol)}&interval=${state.interval}&count=${n}`),
      getJSON(`/api/trades?symbol=${encodeURIComponent(symbol)}&limit=80`),
    ]);
    if (seq !== state.loadSeq) return;
    chart.setData(symbol, state.interval, c.candles);
    alerts.onAlerts(alerts.alerts);
    tape.set(t.trades);
    msg.textContent = c.candles.length ? '' : 'no candles stored for this range yet; live candles will appear';
    document.getElementById('chart-info').textContent = `${c.candles.length} candles from PostgreSQL + live`;
    chartBox.dataset.loaded = symbol;
  } catch (e) {
    if (seq !== state.loadSeq) return;
    if (e.status === 503) {
      const wait = retryDelay(e, attempt);
      msg.textContent = `history unavailable: ${e.message} · retrying in ${Math.round(wait / 1000)} s`;
      setTimeout(() => {
        if (seq === state.loadSeq) loadHistory(symbol, attempt + 1);
      }, wait);
      return;
    }
    msg.textContent = `history unavailable: ${e.message}`;
  }
}

function connect(symbol) {
  if (state.source) state.source.close();
  const src = new EventSource(`/api/stream?symbol=${encodeURIComponent(symbol)}&interval=${state.interval}`);
  state.source = src;
  src.onopen = () => setConn('live', 'live');
  src.onerror = () => setConn('down', 'reconnecting');
  src.onmessage = (ev) => {
    if (src !== state.source) return;
    let f;
    try {
      f = JSON.parse(ev.data);
    } catch {
      return;
    }
    if (f.ticker) for (const q of f.ticker) watchlist.update(q);
    if (f.health) health.sample(f.health);
    if (f.alerts && f.alerts.length) alerts.add(f.alerts);
    const s = f.sym;
    if (s && s.symbol === state.symbol && s.interval === state.interval) {
      if (s.quote) showQuote(s.quote);
      if (s.candles && chartBox.dataset.loaded === state.symbol) chart.update(s.candles);
      if (s.trades && s.trades.length) tape.add(s.trades.slice().reverse());
    }
  };
}

function switchTo(symbol) {
  if (!symbol) return;
  state.symbol = symbol;
  watchlist.select(symbol);
  const q = watchlist.quote(symbol);
  document.getElementById('q-last').dataset.value = '';
  if (q) showQuote(q);
  history.replaceState(null, '', `#${encodeURIComponent(symbol)}/${state.interval}/${state.range}`);
  delete chartBox.dataset.loaded;
  loadHistory(symbol);
  connect(symbol);
}

function pick(symbol) {
  if (symbol !== state.symbol) switchTo(symbol);
}

// start loads what the page needs and switches to the first symbol. While
// the database is unavailable (503: failing over or restarting) it says so
// and tries again, backing off; the page need not be reloaded.
async function start(attempt = 0) {
  const [h0, iv0, r0] = decodeURIComponent(location.hash.slice(1)).split('/');
  if (iv0 in INTERVALS) state.interval = iv0;
  if (RANGES.some((r) => r.name === r0 && rangeFits(r, state.interval))) state.range = r0;
  if (!rangeFits(RANGES.find((r) => r.name === state.range), state.interval)) {
    state.range = RANGES.find((r) => rangeFits(r, state.interval)).name;
  }
  renderControls();
  let cfg, syms, hist;
  try {
    [cfg, syms, hist] = await Promise.all([getJSON('/api/config'), getJSON('/api/symbols'), getJSON('/api/health')]);
  } catch (e) {
    if (e.status !== 503) throw e;
    const wait = retryDelay(e, attempt);
    document.getElementById('chart-msg').textContent = `dashboard starting: ${e.message} · retrying in ${Math.round(wait / 1000)} s`;
    setTimeout(() => start(attempt + 1).catch(failed), wait);
    return;
  }
  watchlist.set(syms.symbols);
  health.history(hist.history);
  await alerts.init(cfg);
  if (hist.alerts && hist.alerts.length) alerts.add(hist.alerts);
  const first = syms.symbols.find((q) => q.symbol === h0) || syms.symbols.find((q) => /^[A-Z][A-Z0-9.]{0,9}$/.test(q.symbol));
  if (first) {
    switchTo(first.symbol);
  } else {
    document.getElementById('chart-msg').textContent = 'no symbols yet: start the generator (tradestream gen all) or tradestream up';
    setTimeout(() => start().catch(failed), 3000);
    return;
  }
  movers.load();
  users.load();
  setInterval(() => movers.load(), 10000);
  setInterval(() => users.load(), 15000);
}

function failed(e) {
  setConn('down', 'error');
  document.getElementById('chart-msg').textContent = `dashboard failed to start: ${e.message}`;
}

start().catch(failed);
