/**
 * The `Authenticator`: who is this MQTT client, who is this HTTP caller. One place for every credential
 * kind (device credential, JWT, admin token) and for `--insecure-no-auth`.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { JWTPayload } from 'jose';
import { type DevicePrincipal, type DeviceRole, isDeviceId, isDeviceRole } from './device.js';
import type { DeviceRecord } from './device-registry.js';
import { type JwtVerifier, looksLikeJwt } from './jwt.js';

/** Who made an HTTP request. Route-level permissions (e.g. by `role`) are up to the route. */
export interface HttpPrincipal {
  /** `admin`: the admin token; `jwt`: a verified JWT; `insecure`: `--insecure-no-auth`, nobody checked. */
  readonly kind: 'admin' | 'jwt' | 'insecure';
  readonly subject: string;
  readonly role?: string;
  readonly claims: Readonly<Record<string, unknown>>;
}

/** The subset of the device registry the authenticator needs. */
export interface DeviceDirectory {
  verify(id: string, credential: string): Promise<DeviceRecord | null>;
  get(id: string): DeviceRecord | undefined;
}

/** Inputs of {@link Authenticator}. */
export interface AuthenticatorOptions {
  readonly devices: DeviceDirectory;
  readonly adminToken: string;
  readonly jwt?: JwtVerifier;
  readonly insecureNoAuth: boolean;
}

/**
 * Authenticates devices (MQTT) and callers (HTTP).
 *
 * @example
 * const principal = await authenticator.authenticateDevice('pos-1', credential);
 * if (!principal) refuse();
 */
export class Authenticator {
  readonly insecureNoAuth: boolean;
  readonly #devices: DeviceDirectory;
  readonly #adminDigest: Buffer;
  readonly #jwt?: JwtVerifier;

  constructor(options: AuthenticatorOptions) {
    this.#devices = options.devices;
    this.#adminDigest = digest(options.adminToken);
    this.#jwt = options.jwt;
    this.insecureNoAuth = options.insecureNoAuth;
  }

  /**
   * A device logging in with `username` = device id and `password` = its credential, or a JWT whose `sub`
   * equals the username. Returns null for every failure (unknown or revoked device, wrong secret, bad
   * token, token without a usable role); never throws for bad input.
   * For a JWT the role comes from its `role` claim, else from the registry; store likewise.
   */
  async authenticateDevice(
    username: string | undefined,
    password: string | Buffer | undefined,
  ): Promise<DevicePrincipal | null> {
    if (!isDeviceId(username) || password === undefined) return null;
    const secret = typeof password === 'string' ? password : password.toString('utf8');
    if (secret.length === 0 || secret.length > 16384) return null;

    if (looksLikeJwt(secret)) {
      if (!this.#jwt) return null;
      const payload = await this.#jwt.verify(secret);
      if (!payload || payload.sub !== username) return null;
      const registered = this.#devices.get(username);
      if (registered?.revokedAt != null) return null;
      const role = isDeviceRole(payload.role) ? payload.role : registered?.role;
      if (!role) return null;
      const store = typeof payload.store === 'string' ? payload.store : (registered?.store ?? undefined);
      return jwtPrincipal(username, role, store, payload);
    }

    const device = await this.#devices.verify(username, secret);
    if (!device) return null;
    return credentialPrincipal(device);
  }

  /**
   * The principal for a device under `--insecure-no-auth`: nothing is verified. A registered device keeps
   * its role and store; anyone else is treated as a `pos` terminal with claims `{ sub }`.
   */
  insecureDevicePrincipal(deviceId: string): DevicePrincipal {
    const registered = this.#devices.get(deviceId);
    const role: DeviceRole = registered?.role ?? 'pos';
    const store = registered?.store ?? undefined;
    const claims = registered ? { sub: deviceId, role, store } : { sub: deviceId };
    return { deviceId, role, store, claims, method: 'insecure' };
  }

  /**
   * An HTTP caller presenting `Authorization: Bearer <bearer>`: the admin token (compared in constant time)
   * or a valid JWT. Null when neither (and not `--insecure-no-auth`).
   */
  async authenticateHttp(bearer: string | undefined): Promise<HttpPrincipal | null> {
    if (bearer) {
      if (timingSafeEqual(digest(bearer), this.#adminDigest)) {
        return { kind: 'admin', subject: 'admin', role: 'admin', claims: { sub: 'admin', role: 'admin' } };
      }
      if (this.#jwt && looksLikeJwt(bearer)) {
        const payload = await this.#jwt.verify(bearer);
        if (payload && typeof payload.sub === 'string') {
          const role = typeof payload.role === 'string' ? payload.role : undefined;
          return { kind: 'jwt', subject: payload.sub, role, claims: { ...payload } };
        }
      }
    }
    if (this.insecureNoAuth) return { kind: 'insecure', subject: 'anonymous', claims: { sub: 'anonymous' } };
    return null;
  }
}

function credentialPrincipal(device: DeviceRecord): DevicePrincipal {
  const store = device.store ?? undefined;
  return {
    deviceId: device.id,
    role: device.role,
    store,
    claims: Object.freeze({ sub: device.id, role: device.role, store }),
    method: 'credential',
  };
}

function jwtPrincipal(
  deviceId: string,
  role: DeviceRole,
  store: string | undefined,
  payload: JWTPayload,
): DevicePrincipal {
  return {
    deviceId,
    role,
    store,
    claims: Object.freeze({ ...payload, sub: deviceId, role, store }),
    method: 'jwt',
  };
}

/** Fixed-length digest so that tokens of any length compare in constant time. */
function digest(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}
