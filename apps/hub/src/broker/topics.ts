/** The hub's MQTT topic names (CONTRACT.md, "Sensors over plain MQTT"; docs/broker.md). */
import { isDeviceId } from '../auth/device.js';

/** Root of every Backroom topic; `v1` changes only with an incompatible protocol. */
export const TOPIC_ROOT = 'backroom/v1';

/** Sync messages from a device to the hub. */
export function syncUpTopic(deviceId: string): string {
  return `${TOPIC_ROOT}/sync/${deviceId}/up`;
}

/** Sync messages from the hub to a device. */
export function syncDownTopic(deviceId: string): string {
  return `${TOPIC_ROOT}/sync/${deviceId}/down`;
}

/** Retained presence of a device: `{"online":boolean,"at":ms}`. */
export function presenceTopic(deviceId: string): string {
  return `${TOPIC_ROOT}/presence/${deviceId}`;
}

/** The presence of every device (a dashboard's subscription). */
export const PRESENCE_ALL_TOPIC = `${TOPIC_ROOT}/presence/+`;

/** A sensor reading: JSON or a bare number. */
export function telemetryTopic(deviceId: string, metric: string): string {
  return `${TOPIC_ROOT}/telemetry/${deviceId}/${metric}`;
}

/** A topic of the Backroom tree, taken apart. */
export type ParsedTopic =
  | { readonly kind: 'sync-up' | 'sync-down' | 'presence'; readonly deviceId: string }
  | { readonly kind: 'telemetry'; readonly deviceId: string; readonly metric: string };

/**
 * Parses a concrete Backroom topic. Returns undefined for anything else, including filters with a
 * wildcard in the device position (`+`/`#` are not valid device ids) and metrics that are wildcards.
 */
export function parseTopic(topic: string): ParsedTopic | undefined {
  if (!topic.startsWith(`${TOPIC_ROOT}/`)) return undefined;
  const parts = topic.slice(TOPIC_ROOT.length + 1).split('/');
  const deviceId = parts[1];
  if (!isDeviceId(deviceId)) return undefined;
  if (parts[0] === 'sync' && parts.length === 3) {
    if (parts[2] === 'up') return { kind: 'sync-up', deviceId };
    if (parts[2] === 'down') return { kind: 'sync-down', deviceId };
    return undefined;
  }
  if (parts[0] === 'presence' && parts.length === 2) return { kind: 'presence', deviceId };
  if (parts[0] === 'telemetry' && parts.length === 3) {
    const metric = parts[2];
    if (metric.length === 0 || metric.includes('+') || metric.includes('#')) return undefined;
    return { kind: 'telemetry', deviceId, metric };
  }
  return undefined;
}
