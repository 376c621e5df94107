import {
  createChart, createSeriesMarkers, CandlestickSeries, HistogramSeries, LineSeries, ColorType, CrosshairMode,
} from 'lightweight-charts';
import { SCALE } from './util.js';

const UP = '#22c55e';
const DOWN = '#ef4444';

const base = {
  autoSize: true,
  layout: {
    background: { type: ColorType.Solid, color: '#111723' },
    textColor: '#7d8aa3',
    fontSize: 11,
    fontFamily: "system-ui, -apple-system, 'Segoe UI', 'DejaVu Sans', Roboto, sans-serif",
    // The library's logo is injected with an inline <style>, which the
    // page's Content-Security-Policy forbids; the chart panel credits
    // TradingView with a text link instead.
    attributionLogo: false,
  },
  grid: { vertLines: { color: '#182133' }, horzLines: { color: '#182133' } },
  rightPriceScale: { borderColor: '#1f2a3c' },
  timeScale: { borderColor: '#1f2a3c', timeVisible: true, secondsVisible: true },
};

// PriceChart is the candlestick chart with volume bars and alert markers.
export class PriceChart {
  constructor(container) {
    this.container = container;
    this.chart = createChart(container, {
      ...base,
      crosshair: { mode: CrosshairMode.Normal },
      rightPriceScale: { borderColor: '#1f2a3c', scaleMargins: { top: 0.08, bottom: 0.26 } },
    });
    this.candles = this.chart.addSeries(CandlestickSeries, {
      upColor: UP, downColor: DOWN, borderUpColor: UP, borderDownColor: DOWN, wickUpColor: UP, wickDownColor: DOWN,
      priceFormat: { type: 'price', precision: 2, minMove: 0.01 },
    });
    this.volume = this.chart.addSeries(HistogramSeries, {
      priceScaleId: 'vol', priceFormat: { type: 'volume' }, lastValueVisible: false, priceLineVisible: false,
    });
    this.chart.priceScale('vol').applyOptions({ scaleMargins: { top: 0.8, bottom: 0 } });
    this.markers = createSeriesMarkers(this.candles, []);
    this.lastTime = 0;
    this.count = 0;
  }

  static bar(c) {
    return { time: c.time, open: c.open / SCALE, high: c.high / SCALE, low: c.low / SCALE, close: c.close / SCALE };
  }

  static vol(c) {
    return { time: c.time, value: c.volume, color: c.close >= c.open ? 'rgba(34,197,94,.35)' : 'rgba(239,68,68,.35)' };
  }

  setData(symbol, interval, candles) {
    this.candles.setData(candles.map(PriceChart.bar));
    this.volume.setData(candles.map(PriceChart.vol));
    this.lastTime = candles.length ? candles[candles.length - 1].time : 0;
    this.count = candles.length;
    this.chart.applyOptions({ timeScale: { secondsVisible: interval === '1s' } });
    this.chart.timeScale().fitContent();
    this.describe(symbol, interval);
  }

  // update applies live candles; older bars than the newest shown are
  // ignored (the chart only appends or replaces its last bar).
  update(candles) {
    for (const c of candles) {
      if (c.time < this.lastTime) continue;
      if (c.time > this.lastTime) this.count++;
      this.candles.update(PriceChart.bar(c));
      this.volume.update(PriceChart.vol(c));
      this.lastTime = c.time;
    }
    this.container.dataset.candles = String(this.count);
    this.container.dataset.lastTime = String(this.lastTime);
  }

  setMarkers(alerts, widthSeconds) {
    const ms = alerts
      .map((a) => ({
        time: Math.floor(a.ts / 1000 / widthSeconds) * widthSeconds,
        position: 'aboveBar', color: '#f59e0b', shape: 'arrowDown', text: a.kind,
      }))
      .sort((x, y) => x.time - y.time);
    this.markers.setMarkers(ms);
    // Read by the browser test: the markers drawn on the canvas.
    this.container.dataset.markers = String(ms.length);
  }

  describe(symbol, interval) {
    this.container.dataset.symbol = symbol;
    this.container.dataset.interval = interval;
    this.container.dataset.candles = String(this.count);
    this.container.dataset.lastTime = String(this.lastTime);
  }
}

const PALETTE = ['#3b82f6', '#22c55e', '#f59e0b', '#a855f7', '#06b6d4', '#ef4444', '#84cc16', '#ec4899',
  '#14b8a6', '#eab308', '#6366f1', '#f97316'];

// LineChart is a small multi-line time chart for the health panel.
export class LineChart {
  constructor(container) {
    this.chart = createChart(container, {
      ...base,
      layout: { ...base.layout, fontSize: 10 },
      rightPriceScale: { borderColor: '#1f2a3c', scaleMargins: { top: 0.1, bottom: 0.05 } },
      handleScroll: false,
      handleScale: false,
      crosshair: { mode: CrosshairMode.Magnet },
    });
    this.series = new Map();
  }

  line(name) {
    let s = this.series.get(name);
    if (!s) {
      s = this.chart.addSeries(LineSeries, {
        color: PALETTE[this.series.size % PALETTE.length], lineWidth: 1.5, title: name,
        priceLineVisible: false, lastValueVisible: false,
        priceFormat: { type: 'price', precision: 0, minMove: 1 },
      });
      this.series.set(name, s);
    }
    return s;
  }

  // set replaces every line: points is a Map of name -> [{time, value}].
  set(points) {
    for (const [name, data] of points) this.line(name).setData(data);
    this.chart.timeScale().fitContent();
  }

  // push appends one point per line at time (seconds).
  push(time, values) {
    for (const [name, v] of values) this.line(name).update({ time, value: v });
    this.chart.timeScale().scrollToRealTime();
  }
}
