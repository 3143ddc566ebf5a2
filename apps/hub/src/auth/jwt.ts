/**
 * JWT verification with jose: RS256/ES256 only, keys from a JWKS URL or file, a PEM public key, or a PEM
 * certificate; `aud` and `iss` always checked.
 */
import { readFileSync } from 'node:fs';
import {
  type CryptoKey,
  createLocalJWKSet,
  createRemoteJWKSet,
  importSPKI,
  importX509,
  type JSONWebKeySet,
  type JWTPayload,
  type JWTVerifyGetKey,
  jwtVerify,
} from 'jose';
import type { JwtConfig } from '../config.js';
import { HubError } from '../errors.js';

/** Verifies bearer JWTs against the configured keys. */
export interface JwtVerifier {
  /** The token's payload when the signature, `aud`, `iss`, `exp` and `nbf` are all valid; null otherwise. */
  verify(token: string): Promise<JWTPayload | null>;
}

/** Compact JWS shape: three base64url parts. Device credentials (base64url, no dots) never match. */
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/** True when `s` looks like a compact JWT (it may still be invalid). */
export function looksLikeJwt(s: string): boolean {
  return COMPACT_JWS.test(s);
}

/**
 * Loads the key source named in `config` and returns a verifier. A JWKS URL is fetched lazily on first
 * use and cached for 12 hours (so a store whose internet is down keeps accepting tokens signed with keys
 * it has already seen for that long); an unknown `kid` triggers a refetch (at most every 30 s).
 *
 * @throws HubError `HUB_ERR_JWT_KEYS` when a key file cannot be read or parsed, or holds no usable key.
 */
export async function createJwtVerifier(config: JwtConfig): Promise<JwtVerifier> {
  const algorithms = [...config.algorithms];
  const getKey = await loadKeys(config, algorithms);
  const options = {
    audience: typeof config.audience === 'string' ? config.audience : [...config.audience],
    issuer: typeof config.issuer === 'string' ? config.issuer : [...config.issuer],
    algorithms,
  };
  return {
    async verify(token) {
      if (!looksLikeJwt(token)) return null;
      try {
        const { payload } = await jwtVerify(token, getKey, options);
        return payload;
      } catch {
        // Expired, wrong audience, bad signature, unknown key, JWKS unreachable: all mean "not authenticated".
        return null;
      }
    },
  };
}

async function loadKeys(config: JwtConfig, algorithms: string[]): Promise<JWTVerifyGetKey> {
  if (config.jwksUrl) {
    return createRemoteJWKSet(new URL(config.jwksUrl), { cacheMaxAge: 12 * 60 * 60 * 1000 });
  }
  const source = config.jwksFile ?? config.publicKeyFile ?? config.certificateFile ?? 'jwt.publicKeyPem';
  try {
    if (config.jwksFile) {
      const jwks = JSON.parse(readFileSync(config.jwksFile, 'utf8')) as JSONWebKeySet;
      return createLocalJWKSet(jwks);
    }
    const pem =
      config.publicKeyPem ?? readFileSync((config.publicKeyFile ?? config.certificateFile)!, 'utf8');
    const importer = config.certificateFile ? importX509 : importSPKI;
    // A PEM key fits exactly one of RS256/ES256; import it for each allowed algorithm that accepts it.
    const keys = new Map<string, CryptoKey>();
    for (const alg of algorithms) {
      try {
        keys.set(alg, await importer(pem, alg));
      } catch {}
    }
    if (keys.size === 0) throw new Error(`no ${algorithms.join('/')} public key in it`);
    return async (header) => {
      const key = keys.get(header.alg ?? '');
      if (!key) throw new Error(`no key for alg ${header.alg}`);
      return key;
    };
  } catch (e) {
    throw new HubError(
      'HUB_ERR_JWT_KEYS',
      `cannot load JWT keys from ${source}: ${(e as Error).message}`,
      { source },
      e,
    );
  }
}
