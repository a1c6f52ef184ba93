// Other features (logpush) export metrics of their own through /metrics. They are started apart
// from the metrics feature but share the process's trace bus, so the bus is the meeting point:
// a feature registers a collector for its bus, and the metrics endpoint renders every collector
// registered for its bus. A WeakMap, so a closed platform's collectors go with it.
import type { MetricFamily } from './prometheus.ts';

export type MetricsCollector = () => MetricFamily[];

const registry = new WeakMap<object, Set<MetricsCollector>>();

/** Registers `collector` for the platform of `bus`; returns the function that removes it. */
export function registerCollector(bus: object, collector: MetricsCollector): () => void {
  let set = registry.get(bus);
  if (!set) registry.set(bus, (set = new Set()));
  set.add(collector);
  return () => { set.delete(collector); };
}

export function collectorsOf(bus: object): MetricsCollector[] {
  return [...(registry.get(bus) ?? [])];
}
