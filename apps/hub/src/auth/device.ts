import { HubError } from '../errors.js';

/** Roles a device can be enrolled with (CONTRACT.md: `--role pos|sensor|dashboard`). */
export const DEVICE_ROLES = ['pos', 'sensor', 'dashboard'] as const;

/** One of {@link DEVICE_ROLES}: a POS terminal, a sensor node, or a store dashboard. */
export type DeviceRole = (typeof DEVICE_ROLES)[number];

/**
 * Valid device ids. The alphabet excludes `/`, `+`, `#` and `$`, so an id always fills exactly one MQTT
 * topic level and can never act as a wildcard in `backroom/v1/sync/{deviceId}/...`.
 */
export const DEVICE_ID_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;

/** True when `id` is a valid device id ({@link DEVICE_ID_PATTERN}). */
export function isDeviceId(id: unknown): id is string {
  return typeof id === 'string' && DEVICE_ID_PATTERN.test(id);
}

/** True when `role` is one of {@link DEVICE_ROLES}. */
export function isDeviceRole(role: unknown): role is DeviceRole {
  return typeof role === 'string' && (DEVICE_ROLES as readonly string[]).includes(role);
}

/** @throws HubError `HUB_ERR_INVALID_DEVICE_ID` unless `id` is a valid device id. */
export function assertDeviceId(id: unknown): asserts id is string {
  if (!isDeviceId(id)) {
    throw new HubError(
      'HUB_ERR_INVALID_DEVICE_ID',
      `invalid device id ${JSON.stringify(id)}: use 1 to 64 characters of A-Z a-z 0-9 . _ -`,
      { deviceId: id },
    );
  }
}

/** @throws HubError `HUB_ERR_INVALID_ROLE` unless `role` is one of {@link DEVICE_ROLES}. */
export function assertDeviceRole(role: unknown): asserts role is DeviceRole {
  if (!isDeviceRole(role)) {
    throw new HubError(
      'HUB_ERR_INVALID_ROLE',
      `invalid role ${JSON.stringify(role)}: use one of ${DEVICE_ROLES.join(', ')}`,
      { role },
    );
  }
}

/**
 * An authenticated device, as the broker and the sync server see it.
 * `claims` become the `$auth.*` variables of sync filters: for a device credential they are
 * `{ sub: deviceId, role, store }`; for a JWT they are the token's payload (with `role`/`store`
 * filled from the registry when the token lacks them).
 */
export interface DevicePrincipal {
  readonly deviceId: string;
  readonly role: DeviceRole;
  readonly store?: string;
  readonly claims: Readonly<Record<string, unknown>>;
  /** How the device proved who it is. `insecure`: it did not (`--insecure-no-auth`). */
  readonly method: 'credential' | 'jwt' | 'insecure';
}
