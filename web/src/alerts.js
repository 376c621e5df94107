import { el, clear, clock, price, getJSON, retryDelay } from './util.js';

// AlertsPanel lists fired alerts and, when the alerts engine is wired and
// writes are enabled, the rules with a form to add and remove them through
// the token-protected API.
export class AlertsPanel {
  constructor(onAlerts) {
    this.list = document.getElementById('alert-list');
    this.rules = document.querySelector('#rules tbody');
    this.state = document.getElementById('alerts-state');
    this.notice = document.getElementById('alerts-notice');
    this.form = document.getElementById('rule-form');
    this.err = document.getElementById('alerts-err');
    this.alerts = [];
    this.onAlerts = onAlerts;
    this.form.addEventListener('submit', (e) => {
      e.preventDefault();
      this.addRule();
    });
  }

  async init(cfg) {
    this.cfg = cfg;
    if (!cfg.alerts_engine) {
      this.state.textContent = 'engine off';
      this.state.className = 'badge off';
      this.notice.hidden = false;
      this.notice.textContent = 'alerts engine not running: rules cannot be listed or changed here. Alerts fired on the alerts topic still show below.';
      this.renderAlerts();
      return;
    }
    this.state.textContent = 'engine on';
    this.state.className = 'badge on';
    this.form.hidden = !cfg.writes_enabled;
    if (!cfg.writes_enabled) {
      this.notice.hidden = false;
      this.notice.textContent = 'read only: start the dashboard with a token to add or remove rules.';
    }
    await Promise.all([this.loadRules(), this.loadAlerts()]);
  }

  async loadRules(attempt = 0) {
    try {
      const r = await getJSON('/api/rules');
      this.renderRules(r.rules);
      if (attempt > 0) this.clearError('rules unavailable');
    } catch (e) {
      if (e.status === 503) {
        // The database is failing over or restarting: ask again, backing off.
        const wait = retryDelay(e, attempt);
        this.showError(`rules unavailable: ${e.message} · retrying in ${Math.round(wait / 1000)} s`);
        setTimeout(() => this.loadRules(attempt + 1), wait);
        return;
      }
      this.showError(`rules unavailable: ${e.message}`);
    }
  }

  async loadAlerts(attempt = 0) {
    try {
      const r = await getJSON('/api/alerts?limit=50');
      const stored = r.alerts.slice().reverse();
      const seen = new Set(stored.map((a) => a.id));
      // Alerts that arrived live while the request was out are kept.
      this.alerts = stored.concat(this.alerts.filter((a) => !seen.has(a.id)));
      this.renderAlerts();
      if (attempt > 0) this.clearError('alerts unavailable');
    } catch (e) {
      if (e.status === 503) {
        const wait = retryDelay(e, attempt);
        this.showError(`alerts unavailable: ${e.message} · retrying in ${Math.round(wait / 1000)} s`);
        setTimeout(() => this.loadAlerts(attempt + 1), wait);
        return;
      }
      this.showError(`alerts unavailable: ${e.message}`);
    }
  }

  token() {
    return document.getElementById('rule-token').value.trim();
  }

  // showError says what failed under the panel's head, whether or not the
  // rule form is shown; an empty msg hides it.
  showError(msg) {
    this.err.textContent = msg;
    this.err.hidden = !msg;
  }

  // clearError clears the message if it is the one starting with prefix.
  clearError(prefix) {
    if (this.err.textContent.startsWith(prefix)) this.showError('');
  }

  async addRule() {
    const body = {
      kind: document.getElementById('rule-kind').value,
      threshold: document.getElementById('rule-threshold').value.trim(),
    };
    const sym = document.getElementById('rule-symbol').value.trim().toUpperCase();
    if (sym) body.symbol = sym;
    const w = document.getElementById('rule-window').value.trim();
    if (w) body.window = w;
    if (/^-?\d+(\.\d{1,4})?$/.test(body.threshold)) {
      const [i, f = ''] = body.threshold.split('.');
      body.threshold = `${i}.${f.padEnd(4, '0')}`;
    }
    try {
      await getJSON('/api/rules', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Accept: 'application/json', Authorization: `Bearer ${this.token()}` },
        body: JSON.stringify(body),
      });
      this.showError('');
      await this.loadRules();
    } catch (e) {
      this.showError(e.message);
    }
  }

  async removeRule(id) {
    try {
      await fetch(`/api/rules/${encodeURIComponent(id)}`, {
        method: 'DELETE', headers: { Authorization: `Bearer ${this.token()}` },
      }).then(async (r) => {
        if (!r.ok) throw new Error((await r.json().catch(() => ({}))).error || r.statusText);
      });
      await this.loadRules();
    } catch (e) {
      this.showError(e.message);
    }
  }

  renderRules(rules) {
    clear(this.rules);
    for (const r of rules) {
      const tr = el('tr');
      const del = el('button', '', 'remove');
      del.type = 'button';
      del.hidden = !this.cfg.writes_enabled;
      del.addEventListener('click', () => this.removeRule(r.id));
      const td = el('td', 'r');
      td.append(del);
      tr.append(el('td', '', `#${r.id}`), el('td', '', r.symbol || 'all'), el('td', '', r.kind),
        el('td', 'r', r.threshold + (r.window ? ` / ${r.window}` : '')), td);
      this.rules.append(tr);
    }
  }

  // add takes alerts read live from the alerts topic, oldest first.
  add(alerts) {
    this.alerts.push(...alerts);
    if (this.alerts.length > 200) this.alerts.splice(0, this.alerts.length - 200);
    this.renderAlerts();
  }

  renderAlerts() {
    clear(this.list);
    const shown = this.alerts.slice(-60).reverse();
    for (const a of shown) {
      const li = el('li');
      li.append(el('span', 't', clock(a.ts)), el('span', 's', a.symbol), el('span', '', `${a.message} (${price(a.value)})`));
      this.list.append(li);
    }
    if (!shown.length) this.list.append(el('li', 'empty', 'no alerts fired yet'));
    this.onAlerts(this.alerts);
  }
}
