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
  /** Failures a source address may make in a burst. Default 10. */
  readonly burst?: number;
  /**
   * Failures a device id may take in a burst, from all addresses together. Default 30: larger than an
   * address's, so one address running out of its budget never locks the device itself out.
   */
  readonly deviceBurst?: number;
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
 * if (ok) guard.succeeded(address, id, secret); // a failure needs no call: admit() spent its unit
 */
export class LoginGuard {
  readonly #burst: number;
  readonly #deviceBurst: number;
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
  #runningSuspect = 0;
  #stats = { verified: 0, limited: 0, remembered: 0 };

  constructor(options: LoginGuardOptions = {}) {
    this.#burst = options.burst ?? 10;
    this.#deviceBurst = options.deviceBurst ?? (options.burst ?? 10) * 3;
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
   * An admitted check takes one unit of each budget at once (so a thousand simultaneous guesses cannot
   * all be admitted before the first fails); {@link succeeded} gives it back. Refusals count in
   * {@link stats}.
   */
  admit(address: string | undefined, deviceId?: string): boolean {
    const now = this.#now();
    const addressOk = address === undefined || this.#tokens(this.#byAddress, address, now, this.#burst) >= 1;
    const trusted =
      deviceId !== undefined && address !== undefined && this.#isTrusted(deviceId, address, now);
    const deviceOk =
      deviceId === undefined ||
      trusted ||
      this.#tokens(this.#byDevice, deviceId, now, this.#deviceBurst) >= 1;
    if (!addressOk || !deviceOk) {
      this.#stats.limited++;
      return false;
    }
    if (address !== undefined) this.#spend(this.#byAddress, address, now, this.#burst, -1);
    if (deviceId !== undefined && !trusted) this.#spend(this.#byDevice, deviceId, now, this.#deviceBurst, -1);
    return true;
  }

  /** Seconds until `address` may try again (for HTTP's Retry-After); 0 when it may now. */
  retryAfterS(address: string | undefined): number {
    if (address === undefined) return 0;
    const tokens = this.#tokens(this.#byAddress, address, this.#now(), this.#burst);
    return tokens >= 1 ? 0 : Math.ceil(((1 - tokens) * this.#refillMs) / 1000);
  }

  /**
   * Records a failure that was not {@link admit}ted first (a request too malformed to check): spends one
   * unit of the address's budget. A failed admitted check needs no call: its unit is already spent.
   */
  failed(address: string | undefined): void {
    if (address !== undefined) this.#spend(this.#byAddress, address, this.#now(), this.#burst, -1);
  }

  /**
   * Records a successful check: gives back the units {@link admit} took (pass `admitted: false` when the
   * check was not admitted through the guard), trusts the (device, address) pair and remembers the
   * credential.
   */
  succeeded(address: string | undefined, deviceId: string, secret?: string, admitted = true): void {
    const now = this.#now();
    if (admitted) {
      if (address !== undefined) this.#spend(this.#byAddress, address, now, this.#burst, +1);
      this.#spend(this.#byDevice, deviceId, now, this.#deviceBurst, +1);
    }
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
   * with some, and suspect sources never hold more than one slot, so a burst from one address leaves a
   * slot free for everybody else.
   */
  schedule<T>(address: string | undefined, check: () => Promise<T>): Promise<T> {
    // Suspect: the address has more than this one check spent (failures, or other checks in flight).
    const suspect =
      address !== undefined &&
      this.#tokens(this.#byAddress, address, this.#now(), this.#burst) < this.#burst - 1;
    return new Promise<T>((resolve, reject) => {
      const run = () => {
        this.#running++;
        if (suspect) this.#runningSuspect++;
        this.#stats.verified++;
        check()
          .then(resolve, reject)
          .finally(() => {
            this.#running--;
            if (suspect) this.#runningSuspect--;
            this.#next();
          });
      };
      (suspect ? this.#suspect : this.#clean).push(run);
      this.#next();
    });
  }

  /** Starts queued checks while slots are free: clean sources first, one suspect slot at most. */
  #next(): void {
    while (this.#running < this.#maxConcurrent) {
      const run =
        this.#clean.shift() ??
        (this.#runningSuspect < Math.max(1, this.#maxConcurrent - 1) ? this.#suspect.shift() : undefined);
      if (!run) return;
      run();
    }
  }

  /** Tokens left in a bucket now (a missing bucket is full). */
  #tokens(table: Map<string, Bucket>, key: string, now: number, burst: number): number {
    const b = table.get(key);
    if (!b) return burst;
    const tokens = Math.min(burst, b.tokens + (now - b.at) / this.#refillMs);
    if (tokens >= burst) table.delete(key); // back to full: forget the source
    return tokens;
  }

  /** Adds `delta` (−1: spend, +1: give back) to a bucket; a full bucket is forgotten. */
  #spend(table: Map<string, Bucket>, key: string, now: number, burst: number, delta: number): void {
    const tokens = Math.max(0, Math.min(burst, this.#tokens(table, key, now, burst) + delta));
    table.delete(key);
    if (tokens < burst) bounded(table, key, { tokens, at: now }, this.#maxEntries);
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
