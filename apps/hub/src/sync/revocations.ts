/**
 * Revocation polling: `backroom-hub devices revoke` runs in another process and only marks the device in
 * the registry file, so the running hub looks, every few seconds, for revoked devices that are still
 * connected and disconnects them. Their next CONNECT is refused (CONNACK 5, docs/protocol.md
 * "Connecting"), so a revoked till stops syncing within one poll.
 */
import type { DeviceRegistry } from '../auth/device-registry.js';
import type { DeviceChannel } from '../broker/device-channel.js';
import type { HubLogger } from '../logger.js';

/** How often connected devices are checked against the registry for revocations. */
export const REVOCATION_CHECK_MS = 2000;

/**
 * Every `everyMs`, disconnects each connected device the registry shows as revoked.
 * @returns a function that stops the polling.
 */
export function watchRevocations(
  channel: Pick<DeviceChannel, 'devices' | 'disconnect'>,
  registry: Pick<DeviceRegistry, 'get'>,
  log: HubLogger,
  everyMs = REVOCATION_CHECK_MS,
): () => void {
  const timer = setInterval(() => {
    for (const d of channel.devices()) {
      if (!d.online) continue;
      const rec = registry.get(d.deviceId);
      if (rec?.revokedAt != null) {
        log.warn({ deviceId: d.deviceId }, 'revoked device disconnected');
        channel.disconnect(d.deviceId);
      }
    }
  }, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}
