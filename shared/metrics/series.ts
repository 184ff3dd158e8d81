import type Counter from 'prom-client/lib/counter.js';
import type Histogram from 'prom-client/lib/histogram.js';

/** What prom-client (15.x) keeps per label set: a counter's value; a histogram's buckets, sum, count. */
interface CounterValue {
  value: number;
}
interface HistogramValue {
  bucketValues: Record<string, number>;
  sum: number;
  count: number;
}
interface Internals<V> {
  hashMap: Record<string, V | undefined>;
  sortedLabelNames: string[];
}

type Labels = Record<string, string>;

/** prom-client's key of a label set: `name:value,` per label, in its sorted label-name order. */
function keyOf(metric: Internals<unknown>, labels: Labels): string {
  let key = '';
  for (const name of metric.sortedLabelNames) {
    const value = labels[name];
    if (value !== undefined) key += `${name}:${value},`;
  }
  return key;
}

/**
 * One label set of a prom-client metric, for a caller that counts the same set over and over:
 * prom-client's `inc`/`observe` check, hash and copy the label object on every call (a closure,
 * a labels-and-value object, a label-name scan, the key string; ~0.6 and ~1.3 µs in Node). A
 * series is found once and then updated in place, as `inc`/`observe` update it. The first call,
 * the first after a registry reset (a new map) and any value prom-client would refuse go through
 * prom-client's own call, which creates the series or throws; so names, labels and exposition
 * stay prom-client's, and should its keys ever differ from `keyOf`, every call just takes that
 * slower path.
 */
abstract class Series<V> {
  readonly #key: string;
  #map?: Record<string, V | undefined>;
  protected value?: V;
  protected readonly internals: Internals<V>;
  protected readonly labels: Labels;

  constructor(internals: Internals<V>, labels: Labels) {
    this.internals = internals;
    this.labels = labels;
    this.#key = keyOf(internals, labels);
  }

  /** The series' values when they can be updated in place; otherwise the caller uses prom-client. */
  protected current(): V | undefined {
    return this.internals.hashMap === this.#map ? this.value : undefined;
  }

  /** After prom-client's own call: remember where the series now lives. */
  protected found(): void {
    this.#map = this.internals.hashMap;
    this.value = this.#map[this.#key];
  }
}

export class CounterSeries extends Series<CounterValue> {
  readonly #counter: Counter<string>;

  constructor(counter: Counter<string>, labels: Labels) {
    super(counter as unknown as Internals<CounterValue>, labels);
    this.#counter = counter;
  }

  inc(by = 1): void {
    const v = this.current();
    if (v && by >= 0 && Number.isFinite(by)) {
      v.value += by;
      return;
    }
    this.#counter.inc(this.labels, by);
    this.found();
  }
}

export class HistogramSeries extends Series<HistogramValue> {
  readonly #histogram: Histogram<string>;
  readonly #bounds: number[];
  /** prom-client keys bucketValues by each bound as a property name: made once, not per observation. */
  readonly #keys: string[];

  constructor(histogram: Histogram<string>, labels: Labels) {
    super(histogram as unknown as Internals<HistogramValue>, labels);
    this.#histogram = histogram;
    this.#bounds = (histogram as unknown as { upperBounds: number[] }).upperBounds;
    this.#keys = this.#bounds.map(String);
  }

  observe(value: number): void {
    const h = this.current();
    if (!h || !Number.isFinite(value)) {
      this.#histogram.observe(this.labels, value);
      this.found();
      return;
    }
    h.sum += value;
    h.count += 1;
    // The first bucket whose upper bound holds the value; past the last, only +Inf (the count).
    const bounds = this.#bounds;
    for (let i = 0; i < bounds.length; i++) {
      if (value <= bounds[i]!) {
        h.bucketValues[this.#keys[i]!]! += 1;
        break;
      }
    }
  }
}
