/** `GET /v1/devices`: every enrolled device with its online state and last sighting. */
import type { FastifyInstance } from 'fastify';
import type { DeviceRecord } from '../auth/device-registry.js';
import type { DeviceChannel } from '../broker/device-channel.js';

/** Adds fields to each device of `GET /v1/devices` (e.g. the sync server's pending changes, clock skew). */
export type DeviceInfoProvider = (deviceId: string) => Record<string, unknown>;

/** Inputs of {@link registerDeviceRoutes}. */
export interface DeviceRoutesOptions {
  readonly registry: { list(): DeviceRecord[] };
  readonly channel: DeviceChannel;
  /** Read at every request, so providers added after registration count too. */
  readonly infoProviders: readonly DeviceInfoProvider[];
}

/** One entry of `GET /v1/devices`. Times are ms since the epoch. */
export interface DeviceView {
  id: string;
  role: string | null;
  store: string | null;
  enrolled: boolean;
  createdAt: number | null;
  revokedAt: number | null;
  online: boolean;
  lastSeen: number | null;
  [extra: string]: unknown;
}

/**
 * Registers `GET /v1/devices` → `{ devices: DeviceView[] }`: enrolled devices (revoked ones included) and
 * devices that connected without being enrolled (JWT, `--insecure-no-auth`), ordered by id.
 */
export function registerDeviceRoutes(app: FastifyInstance, options: DeviceRoutesOptions): void {
  app.get('/v1/devices', async () => {
    const sightings = new Map(options.channel.devices().map((s) => [s.deviceId, s]));
    const views = new Map<string, DeviceView>();
    for (const d of options.registry.list()) {
      const s = sightings.get(d.id);
      views.set(d.id, {
        id: d.id,
        role: d.role,
        store: d.store,
        enrolled: true,
        createdAt: d.createdAt,
        revokedAt: d.revokedAt,
        online: options.channel.isOnline(d.id),
        lastSeen: Math.max(d.lastSeen ?? 0, s?.lastSeen ?? 0) || null,
      });
    }
    for (const s of sightings.values()) {
      if (views.has(s.deviceId)) continue;
      views.set(s.deviceId, {
        id: s.deviceId,
        role: null,
        store: null,
        enrolled: false,
        createdAt: null,
        revokedAt: null,
        online: options.channel.isOnline(s.deviceId),
        lastSeen: s.lastSeen,
      });
    }
    const devices = [...views.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    for (const view of devices) {
      for (const provide of options.infoProviders) Object.assign(view, provide(view.id));
    }
    return { devices };
  });
}
