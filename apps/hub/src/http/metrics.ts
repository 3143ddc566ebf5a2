/** Prometheus metrics of the hub (`GET /metrics`), in a registry of its own per hub instance. */
import { Counter, collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import type { LoginGuardStats } from '../auth/login-guard.js';
import type { RejectReason } from '../broker/broker.js';

/** The hub's metrics. Other components may register more metrics in `registry`. */
export interface HubMetrics {
  readonly registry: Registry;
  /** Counts one refusal by the broker. */
  rejected(reason: RejectReason): void;
  /** Sets where the connected-devices gauge reads its value at scrape time. */
  observeConnectedDevices(read: () => number): void;
  /** Sets where the credential-check counters (MQTT and HTTP) read their values at scrape time. */
  observeLogins(read: () => LoginGuardStats): void;
}

/**
 * Creates the metrics registry: process metrics (prefixed `backroom_hub_`), plus
 * `backroom_mqtt_connected_devices`, `backroom_mqtt_rejected_total{reason}` and
 * `backroom_auth_checks_total{outcome}` (`verified`: a hash or JWT check ran; `limited`: refused unchecked,
 * over the failure budget; `remembered`: a credential that verified before).
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
  let readLogins = (): LoginGuardStats => ({ verified: 0, limited: 0, remembered: 0 });
  new Counter({
    name: 'backroom_auth_checks_total',
    help: 'Credential checks of MQTT and HTTP callers, by outcome (verified, limited, remembered)',
    labelNames: ['outcome'],
    registers: [registry],
    collect() {
      const s = readLogins();
      this.reset();
      this.inc({ outcome: 'verified' }, s.verified);
      this.inc({ outcome: 'limited' }, s.limited);
      this.inc({ outcome: 'remembered' }, s.remembered);
    },
  });
  return {
    registry,
    rejected: (reason) => rejected.inc({ reason }),
    observeConnectedDevices(read) {
      readConnected = read;
    },
    observeLogins(read) {
      readLogins = read;
    },
  };
}
