/** Prometheus metrics of the hub (`GET /metrics`), in a registry of its own per hub instance. */
import { Counter, collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import type { RejectReason } from '../broker/broker.js';

/** The hub's metrics. Other components may register more metrics in `registry`. */
export interface HubMetrics {
  readonly registry: Registry;
  /** Counts one refusal by the broker. */
  rejected(reason: RejectReason): void;
  /** Sets where the connected-devices gauge reads its value at scrape time. */
  observeConnectedDevices(read: () => number): void;
}

/**
 * Creates the metrics registry: process metrics (prefixed `backroom_hub_`), plus
 * `backroom_mqtt_connected_devices` and `backroom_mqtt_rejected_total{reason}`.
 */
export function createHubMetrics(): HubMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'backroom_hub_' });
  let readConnected = () => 0;
  new Gauge({
    name: 'backroom_mqtt_connected_devices',
    help: 'Devices with an open, authenticated MQTT connection',
    registers: [registry],
    collect() {
      this.set(readConnected());
    },
  });
  const rejected = new Counter({
    name: 'backroom_mqtt_rejected_total',
    help: 'MQTT connections, packets and subscriptions refused by the broker, by reason',
    labelNames: ['reason'],
    registers: [registry],
  });
  return {
    registry,
    rejected: (reason) => rejected.inc({ reason }),
    observeConnectedDevices(read) {
      readConnected = read;
    },
  };
}
