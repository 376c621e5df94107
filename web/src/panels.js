import { el, clear, price, money, count, pct, clockMs, getJSON } from './util.js';

// Watchlist is the symbol picker with live last prices.
export class Watchlist {
  constructor(onPick) {
    this.body = document.querySelector('#watchlist tbody');
    this.filter = document.getElementById('filter');
    this.rows = new Map();
    this.onPick = onPick;
    this.selected = '';
    this.filter.addEventListener('input', () => this.applyFilter());
  }

  set(quotes) {
    clear(this.body);
    this.rows.clear();
    for (const q of quotes) this.add(q);
    this.select(this.selected);
  }

  add(q) {
    const tr = el('tr');
    tr.dataset.symbol = q.symbol;
    const sym = el('td', 'sym', q.symbol);
    const sec = el('td', 'sec', q.sector);
    sec.title = q.sector;
    const last = el('td', 'r last', price(q.last));
    const chg = el('td', 'r chg');
    tr.append(sym, sec, last, chg);
    tr.addEventListener('click', () => this.onPick(q.symbol));
    this.body.append(tr);
    const row = { tr, last, chg, q: { ...q } };
    this.rows.set(q.symbol, row);
    this.paintChange(row);
    return row;
  }

  update(q) {
    let row = this.rows.get(q.symbol);
    if (!row) {
      row = this.add(q);
      return;
    }
    const prev = row.q.last;
    row.q = { ...row.q, ...q, open: row.q.open || q.open };
    if (q.last !== prev) {
      row.last.textContent = price(q.last);
      row.last.classList.remove('flash-up', 'flash-down');
      void row.last.offsetWidth; // restart the animation
      row.last.classList.add(q.last > prev ? 'flash-up' : 'flash-down');
    }
    this.paintChange(row);
  }

  paintChange(row) {
    const { open, last } = row.q;
    if (!open) return;
    const c = ((last - open) / open) * 100;
    row.chg.textContent = pct(c);
    row.chg.className = 'r chg ' + (c >= 0 ? 'up' : 'down');
  }

  quote(symbol) {
    const r = this.rows.get(symbol);
    return r && r.q;
  }

  select(symbol) {
    this.selected = symbol;
    for (const [s, r] of this.rows) r.tr.classList.toggle('sel', s === symbol);
  }

  applyFilter() {
    const f = this.filter.value.trim().toUpperCase();
    for (const [s, r] of this.rows) r.tr.hidden = f !== '' && !s.toUpperCase().includes(f);
  }
}

// Tape is the time-and-sales list of the selected symbol.
export class Tape {
  constructor() {
    this.body = document.querySelector('#tape tbody');
    this.count = document.getElementById('tape-count');
    this.max = 80;
  }

  row(t, fresh) {
    const tr = el('tr', (fresh ? 'new ' : '') + t.side);
    tr.append(
      el('td', 'muted', clockMs(t.ts)),
      el('td', 'r ' + (t.side === 'buy' ? 'up' : 'down'), price(t.price)),
      el('td', 'r', t.qty.toLocaleString('en-US')),
      el('td', 'side ' + (t.side === 'buy' ? 'up' : 'down'), t.side + (t.order_type === 'limit' ? ' lmt' : '')),
      el('td', 'r muted', '#' + t.user_id),
    );
    return tr;
  }

  set(trades) {
    clear(this.body);
    for (const t of trades.slice(0, this.max)) this.body.append(this.row(t, false));
    this.count.textContent = trades.length ? '' : 'no trades yet';
  }

  add(trades) {
    for (const t of trades) this.body.insertBefore(this.row(t, true), this.body.firstChild);
    while (this.body.childElementCount > this.max) this.body.removeChild(this.body.lastChild);
    if (trades.length) this.count.textContent = '';
  }
}

// Movers shows the biggest gainers and losers over a window, from history.
export class Movers {
  constructor(onPick) {
    this.box = document.getElementById('movers');
    this.onPick = onPick;
    this.window = '5m';
    const seg = document.getElementById('mover-windows');
    for (const w of ['5m', '1h', '1d']) {
      const b = el('button', w === this.window ? 'on' : '', w);
      b.type = 'button';
      b.addEventListener('click', () => {
        this.window = w;
        for (const x of seg.children) x.classList.toggle('on', x === b);
        this.load();
      });
      seg.append(b);
    }
  }

  async load() {
    try {
      const r = await getJSON(`/api/movers?window=${encodeURIComponent(this.window)}`);
      this.render(r.movers);
    } catch (e) {
      clear(this.box);
      this.box.append(el('div', 'empty', `movers unavailable: ${e.message}`));
    }
  }

  render(movers) {
    clear(this.box);
    if (!movers.length) {
      this.box.append(el('div', 'empty', 'no prices stored yet'));
      return;
    }
    const maxAbs = Math.max(0.01, ...movers.map((m) => Math.abs(m.change_pct)));
    const gainers = movers.filter((m) => m.change_pct >= 0).slice(0, 5);
    const losers = movers.filter((m) => m.change_pct < 0).reverse().slice(0, 5);
    for (const [title, list] of [['Gainers', gainers], ['Losers', losers]]) {
      const g = el('div', 'mover-group');
      g.append(el('h3', '', title));
      for (const m of list) {
        const row = el('div', 'mover');
        const bar = el('div', 'bar');
        const fill = el('span', m.change_pct >= 0 ? 'up' : 'down');
        fill.style.width = `${Math.max(2, (Math.abs(m.change_pct) / maxAbs) * 100)}%`;
        bar.append(fill);
        row.append(el('span', 'sym', m.symbol), bar, el('span', 'r ' + (m.change_pct >= 0 ? 'up' : 'down'), pct(m.change_pct)));
        row.title = `${m.sector}: ${price(m.first)} → ${price(m.last)}`;
        row.addEventListener('click', () => this.onPick(m.symbol));
        g.append(row);
      }
      if (!list.length) g.append(el('div', 'empty', 'none'));
      this.box.append(g);
    }
  }
}

function bars(title, items) {
  const box = el('div', 'bd');
  box.append(el('h3', '', title));
  const max = Math.max(1, ...items.map((i) => i.count));
  for (const i of items) {
    const row = el('div', 'row');
    const lbl = el('span', 'lbl', i.label);
    lbl.title = i.label;
    const bar = el('div', 'bar');
    const fill = el('span');
    fill.style.width = `${(i.count / max) * 100}%`;
    bar.append(fill);
    row.append(lbl, el('span', 'n', count(i.count)), bar);
    box.append(row);
  }
  if (!items.length) box.append(el('div', 'muted', 'no data'));
  return box;
}

// Users shows the users and accounts breakdowns and the top traders.
export class Users {
  constructor() {
    this.box = document.getElementById('breakdowns');
    this.info = document.getElementById('users-info');
  }

  async load() {
    try {
      this.render(await getJSON('/api/breakdown'));
    } catch (e) {
      this.info.textContent = `unavailable: ${e.message}`;
    }
  }

  render(b) {
    clear(this.box);
    const totals = el('div', 'bd');
    totals.append(el('h3', '', 'Totals'), el('div', 'big', count(b.users)), el('div', 'muted', 'users'),
      el('div', 'big', money(b.total_balance)), el('div', 'muted', `balance in ${count(b.accounts)} accounts`));
    this.box.append(
      totals,
      bars('Experience', b.experience),
      bars('Risk tolerance', b.risk),
      bars('Sectors', b.sectors.slice(0, 7)),
      bars('Countries', b.countries.slice(0, 7)),
      bars('Accounts', b.account_types),
      bars('Balances', b.balances),
    );
    const tr = el('div', 'bd');
    tr.append(el('h3', '', 'Top traders, last hour'));
    const table = el('table', 'traders');
    table.id = 'top-traders';
    for (const t of b.top_traders) {
      const row = el('tr');
      const name = el('td', 'name', t.name || `user ${t.user_id}`);
      name.title = t.name;
      row.append(name, el('td', 'muted', t.experience), el('td', 'n', `${count(t.trades)} tr`), el('td', 'n', money(t.notional)));
      table.append(row);
    }
    tr.append(table);
    if (!b.top_traders.length) tr.append(el('div', 'muted', 'no trades in the last hour'));
    this.box.append(tr);
    this.info.textContent = `updated ${new Date(b.t).toISOString().slice(11, 19)} UTC`;
  }
}
