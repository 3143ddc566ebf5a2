/**
 * @backroom/device-agent — the terminal's local replica, synced with the store hub over MQTT.
 *
 * @example
 * import { createAgent } from '@backroom/device-agent';
 * const agent = await createAgent({ hubUrl: 'mqtt://hub.local:1883', deviceId: 'till-1', token, dataDir: './data' });
 * agent.store.put('orders', 'O-1', { status: 'open', total: 12.5 });
 */
export { type Agent, type AgentOptions, createAgent, DEFAULT_SCHEMA_FILE } from './agent.js';
export { type AgentApi, createAgentApi } from './api/server.js';
export type { SyncStatus } from './api/status.js';
export { SyncClient, type SyncClientOptions, type SyncReplica } from './sync/sync-client.js';
export { MqttTransport, type MqttTransportOptions } from './transport/mqtt-transport.js';
export {
  type HubRefusal,
  type HubRefusalCode,
  HubRefusalCodes,
  refusalOf,
} from './transport/refusal.js';
export type { Transport, TransportEvents } from './transport/transport.js';
