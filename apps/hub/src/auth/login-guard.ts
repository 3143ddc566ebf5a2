/**
 * What stands between a burst of wrong passwords and the hub's CPU. A device credential is checked with
 * scrypt (tens of milliseconds of work on a Pi), so 200 wrong passwords used to queue a legitimate
 * terminal's CONNECT behind seconds of hashing. Three cheap in-memory measures, applied before any hash:
 *
 * 1. **Remembered credentials.** A credential that verified once is remembered (as a SHA-256 digest, for
 *    an hour): a terminal that reconnects never waits for scrypt, whatever else is going on.
 * 2. **Failure budgets** per source address and per device id (token buckets: a burst, then one attempt
 *    per refill interval). A source or id over budget is refused at once, without hashing. The per-id
 *    budget does not apply to an address that recently logged in as that device, so an attacker guessing
 *    a till's password from elsewhere cannot lock the till out.
 * 3. **A verification queue** that runs at most a few hashes at a time and serves sources without recent
 *    failures first, so an unseen legitimate device waits for at most the hashes already running.
 */
import { createHash } from 'node:crypto';

/** Tuning of a {@link LoginGuard}; the defaults suit a store (tens of devices, one LAN). */
export interface LoginGuardOptions {
  /** Failures a source address or a device id may make in a burst. Default 10. */
  readonly burst?: number;
  /** One more failure is allowed every this many ms once the burst is spent. Default 6000 (10 a minute). */
  readonly refillMs?: number;
  /** Hashes verified at the same time. Default 2. */
  readonly maxConcurrent?: number;
  /** How long a verified credential is remembered. Default one hour. */
  readonly rememberMs?: number;
  /** Entries kept per table before the oldest are dropped. Default 10 000. */
  readonly maxEntries?: number;
  readonly now?: () => number;
}

interface Bucket {
  tokens: number;
  at: number;
}

/** Counters for metrics and tests. */
export interface LoginGuardStats {
  /** Expensive checks (scrypt, JWT) that ran. */
  readonly verified: number;
  /** Attempts refused without a check because a budget was spent. */
  readonly limited: number;
  /** Attempts answered from a remembered credential. */
  readonly remembered: number;
}

/**
 * Rate limiting and scheduling of credential checks. One instance per hub, shared by MQTT and HTTP.
 *
 * @example
 * if (guard.remembers(id, secret)) return accept();
 * if (!guard.admit(address, id)) return refuse('rate-limited');
 * const ok = await guard.schedule(address, () => registry.verify(id, secret));
 * ok ? guard.succeeded(address, id, secret) : guard.failed(address, id);
 */
export class LoginGuard {
  readonly #burst: number;
  readonly #refillMs: number;
  readonly #maxConcurrent: number;
  readonly #rememberMs: number;
  readonly #maxEntries: number;
  readonly #now: () => number;
  readonly #byAddress = new Map<string, Bucket>();
  readonly #byDevice = new Map<string, Bucket>();
  /** `deviceId \0 address` pairs that logged in recently: exempt from the device's budget. */
  readonly #trusted = new Map<string, number>();
  /** Digest of `deviceId \0 secret` → (device id, expiry). */
  readonly #remembered = new Map<string, { deviceId: string; until: number }>();
  readonly #clean: (() => void)[] = [];
  readonly #suspect: (() => void)[] = [];
  #running = 0;
  #stats = { verified: 0, limited: 0, remembered: 0 };

  constructor(options: LoginGuardOptions = {}) {
    this.#burst = options.burst ?? 10;
    this.#refillMs = options.refillMs ?? 6000;
    this.#maxConcurrent = options.maxConcurrent ?? 2;
    this.#rememberMs = options.rememberMs ?? 3_600_000;
    this.#maxEntries = options.maxEntries ?? 10_000;
    this.#now = options.now ?? Date.now;
  }

  get stats(): LoginGuardStats {
    return { ...this.#stats };
  }

  /** True when this exact credential verified recently for this device (a cheap digest lookup). */
  remembers(deviceId: string, secret: string): boolean {
    const key = credentialKey(deviceId, secret);
    const hit = this.#remembered.get(key);
    if (!hit) return false;
    if (hit.until < this.#now()) {
      this.#remembered.delete(key);
      return false;
    }
    this.#stats.remembered++;
    return true;
  }

  /** Forgets every remembered credential of a device (revoked, re-enrolled). */
  forget(deviceId: string): void {
    for (const [k, v] of this.#remembered) if (v.deviceId === deviceId) this.#remembered.delete(k);
  }

  /**
   * Whether a check from `address` (for `deviceId`, when known) may run now. False when the address has
   * spent its failure budget, or the device id has and this address has not logged in as it recently.
   * A refusal is counted in {@link stats}.
   */
  admit(address: string | undefined, deviceId?: string): boolean {
    const now = this.#now();
    const addressOk = address === undefined || this.#tokens(this.#byAddress, address, now) >= 1;
    const deviceOk =
      deviceId === undefined ||
      this.#tokens(this.#byDevice, deviceId, now) >= 1 ||
      (address !== undefined && this.#isTrusted(deviceId, address, now));
    if (addressOk && deviceOk) return true;
    this.#stats.limited++;
    return false;
  }

  /** Seconds until `address` may try again (for HTTP's Retry-After); 0 when it may now. */
  retryAfterS(address: string | undefined): number {
    if (address === undefined) return 0;
    const tokens = this.#tokens(this.#byAddress, address, this.#now());
    return tokens >= 1 ? 0 : Math.ceil(((1 - tokens) * this.#refillMs) / 1000);
  }

  /** Records a failed check: spends one unit of the address's and the device id's budget. */
  failed(address: string | undefined, deviceId?: string): void {
    const now = this.#now();
    if (address !== undefined) this.#spend(this.#byAddress, address, now);
    if (deviceId !== undefined) this.#spend(this.#byDevice, deviceId, now);
  }

  /** Records a successful check: trusts the (device, address) pair and remembers the credential. */
  succeeded(address: string | undefined, deviceId: string, secret?: string): void {
    const now = this.#now();
    if (address !== undefined) bounded(this.#trusted, `${deviceId}\u0000${address}`, now, this.#maxEntries);
    if (secret !== undefined) {
      bounded(
        this.#remembered,
        credentialKey(deviceId, secret),
        { deviceId, until: now + this.#rememberMs },
        this.#maxEntries,
      );
    }
  }

  /**
   * Runs an expensive check when a slot is free. Sources with no failure on record go before sources
   * with some, so a burst from one address does not hold up everybody else.
   */
  schedule<T>(address: string | undefined, check: () => Promise<T>): Promise<T> {
    const suspect = address !== undefined && this.#byAddress.has(address);
    return new Promise<T>((resolve, reject) => {
      const run = () => {
        this.#running++;
        this.#stats.verified++;
        check()
          .then(resolve, reject)
          .finally(() => {
            this.#running--;
            const next = this.#clean.shift() ?? this.#suspect.shift();
            next?.();
          });
      };
      if (this.#running < this.#maxConcurrent) run();
      else (suspect ? this.#suspect : this.#clean).push(run);
    });
  }

  /** Tokens left in a bucket now (a missing bucket is full). */
  #tokens(table: Map<string, Bucket>, key: string, now: number): number {
    const b = table.get(key);
    if (!b) return this.#burst;
    const tokens = Math.min(this.#burst, b.tokens + (now - b.at) / this.#refillMs);
    if (tokens >= this.#burst) table.delete(key); // back to full: forget the source
    return tokens;
  }

  #spend(table: Map<string, Bucket>, key: string, now: number): void {
    const tokens = this.#tokens(table, key, now);
    table.delete(key);
    bounded(table, key, { tokens: Math.max(0, tokens - 1), at: now }, this.#maxEntries);
  }

  #isTrusted(deviceId: string, address: string, now: number): boolean {
    const at = this.#trusted.get(`${deviceId}\u0000${address}`);
    return at !== undefined && now - at < this.#rememberMs;
  }
}

/** Inserts, dropping the oldest entries beyond `max` (Maps iterate in insertion order). */
function bounded<V>(map: Map<string, V>, key: string, value: V, max: number): void {
  map.delete(key);
  map.set(key, value);
  while (map.size > max) map.delete(map.keys().next().value as string);
}

/** Remembered credentials are kept as digests: a heap dump does not hand out device passwords. */
function credentialKey(deviceId: string, secret: string): string {
  return createHash('sha256').update(`${deviceId}\u0000${secret}`, 'utf8').digest('base64url');
}
