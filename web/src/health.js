import { LineChart } from './chart.js';
import { el, clear, count, rate, ms } from './util.js';

const SINK_TOPICS = ['users', 'prices', 'trades'];

function topic(sample, name) {
  return (sample.topics || []).find((t) => t.topic === name);
}

// catchUp is the sink group's catch-up estimate in words.
function catchUp(plan) {
  if (!plan || !plan.trend) return '—';
  const s = plan.catch_up_seconds;
  if (plan.keeping_up) return 'keeping up';
  if (s === 0) return 'caught up';
  if (s < 0) return 'not shrinking';
  if (s < 120) return `${s.toFixed(0)} s`;
  if (s < 7200) return `${(s / 60).toFixed(0)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}

function sum(sample, f, names) {
  let s = 0;
  for (const n of names) {
    const t = topic(sample, n);
    if (t) s += f(t);
  }
  return s;
}

// HealthPanel shows the pipeline's health: tiles with the newest sample and
// charts of throughput, lag per partition and latency over time.
export class HealthPanel {
  constructor() {
    this.tiles = document.getElementById('tiles');
    this.problems = document.getElementById('problems');
    this.info = document.getElementById('health-info');
    this.rates = new LineChart(document.getElementById('rate-chart'));
    this.lag = new LineChart(document.getElementById('lag-chart'));
    this.latency = new LineChart(document.getElementById('latency-chart'));
    this.lastTime = 0;
  }

  history(samples) {
    const rates = new Map([['produced', []], ['consumed', []]]);
    const lag = new Map();
    const lat = new Map([['p50', []], ['p99', []]]);
    for (const s of samples) {
      const t = Math.floor(s.t / 1000);
      if (t <= this.lastTime) continue;
      this.lastTime = t;
      for (const [k, v] of this.points(s)) {
        const m = k.startsWith('lag:') ? lag : k.startsWith('lat:') ? lat : rates;
        const name = k.replace(/^(lag|lat):/, '');
        if (!m.has(name)) m.set(name, []);
        m.get(name).push({ time: t, value: v });
      }
    }
    this.rates.set(rates);
    this.lag.set(lag);
    this.latency.set(lat);
    if (samples.length) this.tilesFor(samples[samples.length - 1]);
  }

  sample(s) {
    const t = Math.floor(s.t / 1000);
    if (t > this.lastTime) {
      this.lastTime = t;
      const rates = new Map();
      const lag = new Map();
      const lat = new Map();
      for (const [k, v] of this.points(s)) {
        if (k.startsWith('lag:')) lag.set(k.slice(4), v);
        else if (k.startsWith('lat:')) lat.set(k.slice(4), v);
        else rates.set(k, v);
      }
      this.rates.push(t, rates);
      this.lag.push(t, lag);
      this.latency.push(t, lat);
    }
    this.tilesFor(s);
  }

  points(s) {
    const out = [
      ['produced', sum(s, (t) => t.produce_rate, SINK_TOPICS)],
      ['consumed', sum(s, (t) => t.consume_rate, SINK_TOPICS)],
    ];
    for (const name of ['prices', 'trades']) {
      const t = topic(s, name);
      if (!t || !t.consumed) continue;
      for (const p of t.partitions || []) out.push([`lag:${name}/${p.p}`, p.lag]);
    }
    const lat = s.pushed && s.pushed.samples ? s.pushed : s.received;
    if (lat && lat.samples) {
      out.push(['lat:p50', lat.p50_ms], ['lat:p99', lat.p99_ms]);
    }
    return out;
  }

  tilesFor(s) {
    const consumed = SINK_TOPICS.some((n) => topic(s, n) && topic(s, n).consumed);
    const lagRecords = sum(s, (t) => (t.consumed ? t.lag : 0), SINK_TOPICS);
    let lagSec = 0;
    let atLeast = false;
    for (const n of SINK_TOPICS) {
      const t = topic(s, n);
      if (t && t.consumed && t.lag_seconds > lagSec) {
        lagSec = t.lag_seconds;
        atLeast = !!t.lag_seconds_at_least;
      }
    }
    const rows = (name) => (s.rows || []).find((r) => r.table === name) || { rate: 0, total: 0 };
    const dl = s.dead_letters || {};
    const plan = s.plan || {};
    const warnings = plan.warnings || [];
    const cl = s.cluster || {};
    const down = cl.down || [];
    const brokersTile = ['Kafka brokers', cl.unknown ? '?' : down.length ? `${cl.brokers} of ${cl.brokers + down.length}` : count(cl.brokers || 0),
      down.length ? `DOWN: ${down.join(', ')}` : cl.offline || cl.under_replicated
        ? `${count(cl.under_replicated || 0)} under-replicated · ${count(cl.offline || 0)} offline`
        : 'partitions in sync',
      'brokers', down.length || cl.offline || cl.unknown ? 'bad' : cl.under_replicated ? 'warn' : ''];
    const verdict = cl.sink_verdict || '';
    const tiles = [
      brokersTile,
      ['Produce', rate(sum(s, (t) => t.produce_rate, SINK_TOPICS)),
        `prices ${rate(topic(s, 'prices')?.produce_rate || 0)} · trades ${rate(topic(s, 'trades')?.produce_rate || 0)}`, 'produce'],
      ['Consume (sink)', consumed ? rate(sum(s, (t) => t.consume_rate, SINK_TOPICS)) : '—',
        consumed ? `committed offsets${verdict ? ' · ' + verdict : ''}` : 'no sink position', 'consume',
        verdict === 'STALL' || verdict === 'STOP' || verdict === 'REWIND' ? 'bad' : verdict === 'WARN' ? 'warn' : ''],
      ['Sink lag', consumed ? count(lagRecords) : '—', 'records behind', 'lag', lagRecords > 10000 ? 'warn' : ''],
      ['Lag', consumed ? (atLeast ? '≥ ' : '') + lagSec.toFixed(1) + ' s' : '—', 'oldest unloaded record', 'lag-seconds',
        lagSec > 30 ? 'bad' : lagSec > 5 ? 'warn' : ''],
      ['Catch-up', catchUp(plan), plan.trend ? `lag ${plan.trend} · ${rate(plan.consume_rate || 0)}` : 'needs two samples',
        'catch-up', warnings.length > 0 ? 'bad' : plan.trend === 'growing' && !plan.keeping_up ? 'warn' : ''],
      ['E2E p50 / p99', s.pushed && s.pushed.samples ? `${ms(s.pushed.p50_ms)}` : '—',
        s.pushed && s.pushed.samples ? `p99 ${ms(s.pushed.p99_ms)} · produced→pushed` : 'no live clients', 'e2e',
        s.pushed && s.pushed.p99_ms > 250 ? 'warn' : ''],
      ['Kafka → dash', s.received && s.received.samples ? ms(s.received.p50_ms) : '—',
        s.received && s.received.samples ? `p99 ${ms(s.received.p99_ms)} · produced→read` : 'no records', 'received'],
      ['Dead letters', count(dl.table >= 0 ? dl.table : dl.topic), `topic ${count(dl.topic)} · ${rate(dl.rate || 0)}`,
        'dead-letters', (dl.table > 0 || dl.topic > 0) ? 'warn' : ''],
      ['Rows written', rate(rows('price_ticks').rate + rows('trades').rate + rows('users').rate),
        `ticks ${rate(rows('price_ticks').rate)} · trades ${rate(rows('trades').rate)}`, 'rows'],
    ];
    clear(this.tiles);
    for (const [k, v, sub, id, cls] of tiles) {
      const t = el('div', 'tile' + (cls ? ' ' + cls : ''));
      t.dataset.metric = id;
      t.append(el('div', 'k', k), el('div', 'v', v), el('div', 's', sub));
      this.tiles.append(t);
    }
    this.info.textContent = `${s.clients} live client${s.clients === 1 ? '' : 's'} · ${count(s.frames_skipped)} frames skipped · ${count(s.clients_dropped)} dropped`;
    this.problems.textContent = [...warnings.map((w) => 'retention: ' + w), ...(s.problems || [])].join(' · ');
    document.getElementById('health').dataset.sampleTime = String(s.t);
  }
}
