/**
 * The hub's error catalogue. Every error the hub raises on purpose has a stable `code` (documented in
 * docs/errors.md, section "Hub"; test/errors.test.ts checks that), the HTTP status it maps to, its
 * context in `details` (never baked only into the message) and the underlying error in the ES2022 `cause`.
 */
import { defineErrorCatalogue } from '@backroom/sync-core';

export const HubErrorCodes = {
  /** The hub configuration is invalid; `details.problems` lists every problem found. */
  HUB_ERR_CONFIG_INVALID: 400,
  /** A request without valid credentials (no token, unknown token, bad JWT). */
  HUB_ERR_UNAUTHORIZED: 401,
  /** Authenticated, but not allowed to do this. */
  HUB_ERR_FORBIDDEN: 403,
  /** Too many failed authentications from this address or for this device: refused without checking. */
  HUB_ERR_TOO_MANY_ATTEMPTS: 429,
  /** `devices add` for a device id that is already enrolled (revoked devices included). */
  HUB_ERR_DEVICE_EXISTS: 409,
  /** A device id that is not enrolled. */
  HUB_ERR_DEVICE_NOT_FOUND: 404,
  /** A device id that does not match `[A-Za-z0-9._-]{1,64}`. */
  HUB_ERR_INVALID_DEVICE_ID: 400,
  /** A device role other than `pos`, `sensor` or `dashboard`. */
  HUB_ERR_INVALID_ROLE: 400,
  /** An MQTT packet larger than `maxPacketBytes`; the connection that sent it is closed. */
  HUB_ERR_PACKET_TOO_LARGE: 413,
  /** An MQTT packet whose fixed header is malformed (remaining length over four bytes). */
  HUB_ERR_PACKET_MALFORMED: 400,
  /** A listening port is already taken by another process; `details.port`, `details.listener`. */
  HUB_ERR_PORT_IN_USE: 500,
  /** The data directory, device registry or admin-token file cannot be created or read. */
  HUB_ERR_DATA_DIR: 500,
  /** A database file in the data directory is damaged, empty or not a database: restore a backup. */
  HUB_ERR_DATA_CORRUPT: 500,
  /** The JWT key source (JWKS file or URL, PEM key, certificate) cannot be loaded. */
  HUB_ERR_JWT_KEYS: 500,
  /** The hub is shutting down; the operation (e.g. sending to a device) was not carried out. */
  HUB_ERR_SHUTTING_DOWN: 503,
  /** A command-line usage error (unknown command or flag, missing argument). */
  HUB_ERR_USAGE: 400,
} as const;

/** One of the hub's stable error codes. */
export type HubErrorCode = keyof typeof HubErrorCodes;

/**
 * The one error class of the hub (built by sync-core's `defineErrorCatalogue`). Check `code`, never the
 * message.
 *
 * @example
 * throw new HubError('HUB_ERR_DEVICE_NOT_FOUND', `no device "${id}"`, { deviceId: id });
 */
export class HubError extends defineErrorCatalogue('HubError', HubErrorCodes) {}

/** True when `e` is a {@link HubError}, optionally with the given code. */
export function isHubError(e: unknown, code?: HubErrorCode): e is HubError {
  return HubError.is(e, code);
}
