import { httpRequestDuration, httpRequestsTotal } from './registry.ts';
import { CounterSeries, HistogramSeries } from './series.ts';

interface RouteSeries {
  fn: string;
  total: CounterSeries;
  duration: HistogramSeries;
}

/**
 * `http_requests_total` and `http_request_duration_seconds` for one app's requests, each label set
 * found once and then counted in place (series.ts says why and how it stays prom-client's).
 */
export class RequestMetrics {
  /** route → status → series; both bounded (route patterns, HTTP status codes). */
  readonly #series = new Map<string, Map<number, RouteSeries>>();
  /** One duration series per route, whatever the status. */
  readonly #durations = new Map<string, { fn: string; series: HistogramSeries }>();

  record(fn: string, route: string, status: number, seconds: number): void {
    const s = this.#seriesOf(fn, route, status);
    s.total.inc();
    s.duration.observe(seconds);
  }

  #seriesOf(fn: string, route: string, status: number): RouteSeries {
    let byStatus = this.#series.get(route);
    if (!byStatus) {
      byStatus = new Map();
      this.#series.set(route, byStatus);
    }
    let s = byStatus.get(status);
    if (!s || s.fn !== fn) {
      let duration = this.#durations.get(route);
      if (duration?.fn !== fn) {
        duration = { fn, series: new HistogramSeries(httpRequestDuration, { function: fn, route }) };
        this.#durations.set(route, duration);
      }
      const total = new CounterSeries(httpRequestsTotal, { function: fn, route, status: String(status) });
      s = { fn, total, duration: duration.series };
      byStatus.set(status, s);
    }
    return s;
  }
}
