/**
 * Device credentials: 32 random bytes, base64url. Only a scrypt hash is stored, in the form
 * `scrypt$N$r$p$salt$hash` (base64url salt and hash), so the parameters can change without breaking
 * stored hashes.
 */
import { randomBytes, type ScryptOptions, scrypt, timingSafeEqual } from 'node:crypto';

const N = 16384;
const R = 8;
const P = 1;
const KEY_LEN = 32;

/** A fresh random secret: 32 bytes from the CSPRNG, base64url-encoded (43 characters). */
export function generateSecret(): string {
  // Never starting with "-": command lines (`backroom-agent --token -xyz`) would read it as an option.
  for (;;) {
    const secret = randomBytes(32).toString('base64url');
    if (!secret.startsWith('-')) return secret;
  }
}

function scryptAsync(secret: string, salt: Buffer, keyLen: number, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scrypt(secret, salt, keyLen, options, (err, key) => (err ? reject(err) : resolve(key))),
  );
}

/** Hashes `secret` with scrypt and a random 16-byte salt. Runs on the thread pool, not the event loop. */
export async function hashSecret(secret: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scryptAsync(secret, salt, KEY_LEN, { N, r: R, p: P });
  return `scrypt$${N}$${R}$${P}$${salt.toString('base64url')}$${key.toString('base64url')}`;
}

/**
 * True when `secret` matches `stored` (from {@link hashSecret}). Compares in constant time; a malformed
 * `stored` value never matches.
 */
export async function verifySecret(secret: string, stored: string): Promise<boolean> {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [n, r, p] = parts.slice(1, 4).map(Number);
  const salt = Buffer.from(parts[4], 'base64url');
  const expected = Buffer.from(parts[5], 'base64url');
  if (![n, r, p].every(Number.isInteger) || expected.length === 0) return false;
  const actual = await scryptAsync(secret, salt, expected.length, { N: n, r, p, maxmem: 256 * n * r + 1024 });
  return timingSafeEqual(actual, expected);
}

/** A hash that no secret matches in practice; verified against when a device id is unknown (see registry). */
export const DUMMY_HASH = `scrypt$${N}$${R}$${P}$${Buffer.alloc(16).toString('base64url')}$${Buffer.alloc(KEY_LEN).toString('base64url')}`;
