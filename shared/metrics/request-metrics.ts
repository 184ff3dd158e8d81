import { httpRequestDuration, httpRequestsTotal } from './registry.ts';

/** What prom-client keeps per label set (15.x): a counter's value, a histogram's buckets, sum and count. */
interface CounterValue {
  value: number;
}
interface HistogramValue {
  bucketValues: Record<number, number>;
  sum: number;
  count: number;
}
type Values<V> = { hashMap: Record<string, V | undefined> };

/** One label set's two series: prom-client's key for each, and its values while that map stands. */
interface Series {
  fn: string;
  route: string;
  status: string;
  counterKey: string;
  histogramKey: string;
  counterMap?: Record<string, CounterValue | undefined>;
  counter?: CounterValue;
  histogramMap?: Record<string, HistogramValue | undefined>;
  histogram?: HistogramValue;
}

const counterOf = httpRequestsTotal as unknown as Values<CounterValue>;
const histogramOf = httpRequestDuration as unknown as Values<HistogramValue> & { upperBounds: number[] };

/**
 * `http_requests_total` and `http_request_duration_seconds` for one app's requests. prom-client's
 * `inc`/`observe` check, hash and copy the label object on every call (a closure, a labels-and-
 * value object, a label-name scan, the key string: ~0.6 + 1.3 µs per request in Node); here a
 * label set's series are found once and then updated in place, as `inc`/`observe` update them.
 * The first request of a label set, and the first after a registry reset (a new map), goes
 * through prom-client's own calls, which create the series; so names, labels and exposition are
 * prom-client's, and should its keys ever differ from the ones computed here, every request just
 * takes that slower path.
 */
export class RequestMetrics {
  /** route → status → series; both bounded (route patterns, HTTP status codes). */
  readonly #series = new Map<string, Map<number, Series>>();

  record(fn: string, route: string, status: number, seconds: number): void {
    const s = this.#seriesOf(fn, route, status);
    if (s.counterMap !== counterOf.hashMap || !s.counter) {
      httpRequestsTotal.inc({ function: fn, route, status: s.status });
      s.counterMap = counterOf.hashMap;
      s.counter = s.counterMap[s.counterKey];
    } else {
      s.counter.value += 1;
    }
    if (s.histogramMap !== histogramOf.hashMap || !s.histogram || !Number.isFinite(seconds)) {
      httpRequestDuration.observe({ function: fn, route }, seconds);
      s.histogramMap = histogramOf.hashMap;
      s.histogram = s.histogramMap[s.histogramKey];
      return;
    }
    const h = s.histogram;
    h.sum += seconds;
    h.count += 1;
    // The first bucket whose upper bound holds the value; past the last, only +Inf (the count).
    const bounds = histogramOf.upperBounds;
    for (let i = 0; i < bounds.length; i++) {
      if (seconds <= bounds[i]!) {
        h.bucketValues[bounds[i]!]! += 1;
        break;
      }
    }
  }

  #seriesOf(fn: string, route: string, status: number): Series {
    let byStatus = this.#series.get(route);
    if (!byStatus) {
      byStatus = new Map();
      this.#series.set(route, byStatus);
    }
    let s = byStatus.get(status);
    if (!s || s.fn !== fn) {
      const code = String(status);
      // prom-client's key: `name:value,` per label, label names sorted.
      s = {
        fn,
        route,
        status: code,
        counterKey: `function:${fn},route:${route},status:${code},`,
        histogramKey: `function:${fn},route:${route},`,
      };
      byStatus.set(status, s);
    }
    return s;
  }
}
