/**
 * The `Authenticator`: who is this MQTT client, who is this HTTP caller. One place for every credential
 * kind (device credential, JWT, admin token), for `--insecure-no-auth`, and for the rate limiting of
 * failed attempts (./login-guard.ts), so that MQTT and HTTP resolve a caller the same way.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { JWTPayload } from 'jose';
import { type DevicePrincipal, type DeviceRole, isDeviceId, isDeviceRole } from './device.js';
import type { DeviceRecord } from './device-registry.js';
import { type JwtVerifier, looksLikeJwt } from './jwt.js';
import { LoginGuard, type LoginGuardOptions } from './login-guard.js';

/** The store's operator: the admin token, an admin JWT (when allowed), or anyone under `--insecure-no-auth`. */
export interface AdminPrincipal {
  readonly role: 'admin';
  readonly subject: string;
  readonly claims: Readonly<Record<string, unknown>>;
  readonly method: 'admin-token' | 'jwt' | 'insecure';
}

/**
 * Every caller of the hub, over MQTT or HTTP: the admin, or a device role (`pos`, `sensor`, `dashboard`)
 * from a device credential or a JWT. What each may do is decided in one place (`access/access.ts`).
 */
export type Principal = AdminPrincipal | DevicePrincipal;

/** The outcome of an authentication: a principal, or why not (a value, never a throw). */
export type AuthOutcome<P> =
  | { readonly ok: true; readonly principal: P }
  | {
      readonly ok: false;
      /** `unauthorized`: bad or missing credentials; `rate-limited`: too many failures, not checked. */
      readonly reason: 'unauthorized' | 'rate-limited';
      readonly message: string;
      /** For `rate-limited`: seconds until the source may try again. */
      readonly retryAfterS?: number;
    };

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
  /** A JWT whose `role` claim is `admin` gets admin rights (config `jwt.allowAdmin`). Default false. */
  readonly allowAdminJwt?: boolean;
  readonly insecureNoAuth: boolean;
  /** Tuning of the failed-attempt limiter (tests shorten it). */
  readonly guard?: LoginGuardOptions;
}

const UNAUTHORIZED = 'unauthorized' as const;

/**
 * Authenticates devices (MQTT) and callers (HTTP).
 *
 * @example
 * const outcome = await authenticator.authenticateDevice('pos-1', credential, socket.remoteAddress);
 * if (!outcome.ok) refuse(outcome.reason);
 */
export class Authenticator {
  readonly insecureNoAuth: boolean;
  /** The failed-attempt limiter shared by MQTT and HTTP (its `stats` feed the metrics). */
  readonly guard: LoginGuard;
  readonly #devices: DeviceDirectory;
  readonly #adminDigest: Buffer;
  readonly #jwt?: JwtVerifier;
  readonly #allowAdminJwt: boolean;

  constructor(options: AuthenticatorOptions) {
    this.#devices = options.devices;
    this.#adminDigest = digest(options.adminToken);
    this.#jwt = options.jwt;
    this.#allowAdminJwt = options.allowAdminJwt ?? false;
    this.insecureNoAuth = options.insecureNoAuth;
    this.guard = new LoginGuard(options.guard);
  }

  /**
   * A device logging in with `username` = device id and `password` = its credential, or a JWT whose `sub`
   * equals the username. Never throws for bad input. For a JWT the role comes from its `role` claim, else
   * from the registry; store likewise. `address` is the peer's IP address, for the rate limiting.
   */
  async authenticateDevice(
    username: string | undefined,
    password: string | Buffer | undefined,
    address?: string,
  ): Promise<AuthOutcome<DevicePrincipal>> {
    if (!isDeviceId(username) || password === undefined) {
      this.guard.failed(address);
      return refused('no device id as username, or no password');
    }
    const secret = typeof password === 'string' ? password : password.toString('utf8');
    if (secret.length === 0 || secret.length > 16384) {
      this.guard.failed(address);
      return refused('empty or oversized password');
    }

    if (looksLikeJwt(secret)) {
      const limited = this.#limited(address, username);
      if (limited) return limited;
      const payload = this.#jwt ? await this.guard.schedule(address, () => this.#jwt!.verify(secret)) : null;
      if (!payload || payload.sub !== username) {
        return refused('the token is not a valid JWT for this device');
      }
      const principal = this.#jwtDevice(username, payload);
      if (!principal) {
        return refused('the device is revoked, or the token has no usable role');
      }
      this.guard.succeeded(address, username);
      return { ok: true, principal };
    }

    // A credential that verified before: no scrypt, whatever load the hub is under.
    if (this.guard.remembers(username, secret)) {
      const device = this.#devices.get(username);
      if (device && device.revokedAt === null) return { ok: true, principal: credentialPrincipal(device) };
      this.guard.forget(username);
    }
    const limited = this.#limited(address, username);
    if (limited) return limited;
    const device = await this.guard.schedule(address, () => this.#devices.verify(username, secret));
    if (!device) return refused('bad device credentials');
    this.guard.succeeded(address, username, secret);
    return { ok: true, principal: credentialPrincipal(device) };
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
   * An HTTP caller by its `Authorization` header:
   * - `Bearer ADMIN-TOKEN` (compared in constant time);
   * - `Bearer JWT`: its `role` claim (`admin` only when allowed; `pos`, `sensor`, `dashboard`), else the
   *   role its `sub` is enrolled with;
   * - a device credential: `Basic base64(DEVICE-ID:CREDENTIAL)` (`curl -u ID:CREDENTIAL`) or
   *   `Bearer DEVICE-ID:CREDENTIAL`.
   * Under `--insecure-no-auth` a request without credentials is the admin.
   */
  async authenticateHttp(
    authorization: string | undefined,
    address?: string,
  ): Promise<AuthOutcome<Principal>> {
    const presented = parseAuthorization(authorization);
    if (!presented) {
      if (this.insecureNoAuth) return { ok: true, principal: INSECURE_ADMIN };
      if (authorization !== undefined) this.guard.failed(address);
      return refused(
        authorization === undefined
          ? 'missing "Authorization: Bearer TOKEN" header'
          : 'the Authorization header is neither "Bearer TOKEN" nor "Basic" device credentials',
      );
    }
    if (presented.kind === 'device') {
      return this.authenticateDevice(presented.deviceId, presented.secret, address);
    }
    const token = presented.token;
    if (timingSafeEqual(digest(token), this.#adminDigest)) return { ok: true, principal: TOKEN_ADMIN };
    if (this.#jwt && looksLikeJwt(token)) {
      const limited = this.#limited(address);
      if (limited) return limited;
      const payload = await this.guard.schedule(address, () => this.#jwt!.verify(token));
      const principal = payload ? this.#jwtCaller(payload) : undefined;
      if (principal) {
        this.guard.succeeded(address, principal.role === 'admin' ? principal.subject : principal.deviceId);
        return { ok: true, principal };
      }
      return refused(
        payload
          ? 'the JWT is valid but its role claim (or the role its subject is enrolled with) is not one the hub knows'
          : 'the JWT is not valid (signature, audience, issuer or expiry)',
      );
    }
    if (this.insecureNoAuth) return { ok: true, principal: INSECURE_ADMIN };
    const limited = this.#limited(address);
    if (limited) return limited;
    return refused('the bearer token is not the admin token nor a valid JWT');
  }

  #limited(address: string | undefined, deviceId?: string): AuthOutcome<never> | undefined {
    if (this.guard.admit(address, deviceId)) return undefined;
    return {
      ok: false,
      reason: 'rate-limited',
      message: 'too many failed attempts from this address or for this device: try again later',
      retryAfterS: Math.max(1, this.guard.retryAfterS(address)),
    };
  }

  /** A device principal for a verified JWT naming `deviceId`, or undefined (revoked, no usable role). */
  #jwtDevice(deviceId: string, payload: JWTPayload): DevicePrincipal | undefined {
    const registered = this.#devices.get(deviceId);
    if (registered?.revokedAt != null) return undefined;
    const role = isDeviceRole(payload.role) ? payload.role : registered?.role;
    if (!role) return undefined;
    const store = typeof payload.store === 'string' ? payload.store : (registered?.store ?? undefined);
    return {
      deviceId,
      role,
      store,
      claims: Object.freeze({ ...payload, sub: deviceId, role, store }),
      method: 'jwt',
    };
  }

  /** The principal of an HTTP caller's verified JWT, or undefined when it maps to no role. */
  #jwtCaller(payload: JWTPayload): Principal | undefined {
    if (typeof payload.sub !== 'string') return undefined;
    if (payload.role === 'admin') {
      if (!this.#allowAdminJwt) return undefined;
      return { role: 'admin', subject: payload.sub, claims: Object.freeze({ ...payload }), method: 'jwt' };
    }
    // A dashboard's subject is a person or a screen, not necessarily an enrolled device id.
    if (payload.role === 'dashboard' && !isDeviceId(payload.sub)) {
      return {
        deviceId: payload.sub,
        role: 'dashboard',
        claims: Object.freeze({ ...payload }),
        method: 'jwt',
      };
    }
    return isDeviceId(payload.sub) ? this.#jwtDevice(payload.sub, payload) : undefined;
  }
}

const TOKEN_ADMIN: AdminPrincipal = Object.freeze({
  role: 'admin',
  subject: 'admin',
  claims: Object.freeze({ sub: 'admin', role: 'admin' }),
  method: 'admin-token',
});

const INSECURE_ADMIN: AdminPrincipal = Object.freeze({
  role: 'admin',
  subject: 'anonymous',
  claims: Object.freeze({ sub: 'anonymous', role: 'admin' }),
  method: 'insecure',
});

function refused(message: string): AuthOutcome<never> {
  return { ok: false, reason: UNAUTHORIZED, message };
}

type Presented =
  | { readonly kind: 'token'; readonly token: string }
  | { readonly kind: 'device'; readonly deviceId: string; readonly secret: string };

/** The credentials in an `Authorization` header, or undefined when there are none it understands. */
function parseAuthorization(header: string | undefined): Presented | undefined {
  if (typeof header !== 'string') return undefined;
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (bearer) {
    const value = bearer[1];
    // Device ids and credentials contain no colon; tokens and JWTs never do either.
    const colon = value.indexOf(':');
    if (colon > 0) return { kind: 'device', deviceId: value.slice(0, colon), secret: value.slice(colon + 1) };
    return { kind: 'token', token: value };
  }
  const basic = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
  if (basic) {
    const decoded = Buffer.from(basic[1], 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon > 0)
      return { kind: 'device', deviceId: decoded.slice(0, colon), secret: decoded.slice(colon + 1) };
  }
  return undefined;
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

/** Fixed-length digest so that tokens of any length compare in constant time. */
function digest(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}
