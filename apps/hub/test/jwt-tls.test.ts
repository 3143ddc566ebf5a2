import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { exportJWK, exportSPKI, generateKeyPair, importPKCS8, SignJWT } from 'jose';
import { connectAsync } from 'mqtt';
import { connectDevice, enrol, http, refusedConnect, startHub, tempDir } from './helpers.js';

const AUDIENCE = 'backroom-hub';
const ISSUER = 'https://idp.example.com/';

async function sign(
  key: Parameters<SignJWT['sign']>[0],
  alg: 'RS256' | 'ES256',
  claims: Record<string, unknown>,
  opts: { sub: string; aud?: string; iss?: string; kid?: string },
): Promise<string> {
  return new SignJWT(claims)
    .setProtectedHeader({ alg, ...(opts.kid ? { kid: opts.kid } : {}) })
    .setSubject(opts.sub)
    .setAudience(opts.aud ?? AUDIENCE)
    .setIssuer(opts.iss ?? ISSUER)
    .setIssuedAt()
    .setExpirationTime('5m')
    .sign(key);
}

test('JWT from a JWKS file (RS256): accepted over MQTT and HTTP; wrong aud, iss, sub or key refused', async (t) => {
  const dir = tempDir(t);
  const { publicKey, privateKey } = await generateKeyPair('RS256', { extractable: true });
  const jwksFile = join(dir, 'jwks.json');
  writeFileSync(
    jwksFile,
    JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' }] }),
  );
  const hub = await startHub(t, { jwt: { jwksFile, audience: AUDIENCE, issuer: ISSUER } });
  const url = `mqtt://127.0.0.1:${hub.ports.mqtt}`;

  const token = await sign(
    privateKey,
    'RS256',
    { role: 'pos', store: 'berlin-01' },
    { sub: 'pos-jwt', kid: 'k1' },
  );
  const principal = new Promise<{ claims: Record<string, unknown>; method: string }>((resolve) =>
    hub.channel.onConnect((p) => resolve(p)),
  );
  const client = await connectDevice(t, hub, 'pos-jwt', token);
  assert.equal(client.connected, true);
  const p = await principal;
  assert.equal(p.method, 'jwt');
  assert.equal(p.claims.sub, 'pos-jwt');
  assert.equal(p.claims.role, 'pos');
  assert.equal(p.claims.store, 'berlin-01');
  assert.equal(p.claims.iss, ISSUER);

  const wrongAud = await sign(
    privateKey,
    'RS256',
    { role: 'pos' },
    { sub: 'pos-x', aud: 'someone-else', kid: 'k1' },
  );
  assert.equal(
    (await refusedConnect(url, { clientId: 'pos-x', username: 'pos-x', password: wrongAud })).code,
    5,
  );
  const wrongIss = await sign(
    privateKey,
    'RS256',
    { role: 'pos' },
    { sub: 'pos-x', iss: 'https://evil/', kid: 'k1' },
  );
  assert.equal(
    (await refusedConnect(url, { clientId: 'pos-x', username: 'pos-x', password: wrongIss })).code,
    5,
  );
  // A valid token for another device does not let pos-x in as pos-jwt's identity, nor as itself.
  assert.equal(
    (await refusedConnect(url, { clientId: 'pos-x', username: 'pos-x', password: token })).code,
    5,
  );
  const stranger = await generateKeyPair('RS256');
  const forged = await sign(stranger.privateKey, 'RS256', { role: 'pos' }, { sub: 'pos-x', kid: 'k1' });
  assert.equal(
    (await refusedConnect(url, { clientId: 'pos-x', username: 'pos-x', password: forged })).code,
    5,
  );
  const noRole = await sign(privateKey, 'RS256', {}, { sub: 'pos-x', kid: 'k1' });
  assert.equal(
    (await refusedConnect(url, { clientId: 'pos-x', username: 'pos-x', password: noRole })).code,
    5,
  );

  // A terminal's token opens what a terminal may see, never the device list.
  assert.equal((await http(hub, '/metrics', { token })).status, 403);
  const listing = await http(hub, '/v1/devices', { token });
  assert.equal(listing.status, 403);
  assert.equal(((await listing.json()) as { error: { code: string } }).error.code, 'HUB_ERR_FORBIDDEN');
  const bad = await http(hub, '/v1/devices', { token: wrongAud });
  assert.equal(bad.status, 401);
  assert.equal(((await bad.json()) as { error: { code: string } }).error.code, 'HUB_ERR_UNAUTHORIZED');
});

test('JWT verified with a PEM public key (ES256); a revoked device stays out even with a valid token', async (t) => {
  const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
  const hub = await startHub(t, {
    jwt: {
      publicKeyPem: await exportSPKI(publicKey),
      audience: AUDIENCE,
      issuer: ISSUER,
      algorithms: ['ES256'],
    },
  });
  // The role comes from the registry when the token has none.
  await enrol(hub, 'dash-1', 'dashboard', 'berlin-01');
  const token = await sign(privateKey, 'ES256', {}, { sub: 'dash-1' });
  const role = new Promise<string>((resolve) => hub.channel.onConnect((p) => resolve(p.role)));
  const client = await connectDevice(t, hub, 'dash-1', token);
  assert.equal(await role, 'dashboard');
  await client.endAsync();
  hub.registry.revoke('dash-1');
  const url = `mqtt://127.0.0.1:${hub.ports.mqtt}`;
  assert.equal(
    (await refusedConnect(url, { clientId: 'dash-1', username: 'dash-1', password: token })).code,
    5,
  );
});

test('MQTT over TLS with a self-signed certificate; JWT verified with that certificate', async (t) => {
  const dir = tempDir(t);
  const certFile = join(dir, 'cert.pem');
  const keyFile = join(dir, 'key.pem');
  // openssl is part of the test environment (and of every Raspberry Pi OS image).
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '1',
      '-keyout',
      keyFile,
      '-out',
      certFile,
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=DNS:localhost,IP:127.0.0.1',
    ],
    { stdio: 'ignore' },
  );
  const hub = await startHub(t, {
    mqttsPort: 0,
    tls: { certFile, keyFile },
    jwt: { certificateFile: certFile, audience: AUDIENCE, issuer: ISSUER, algorithms: ['RS256'] },
  });
  assert.equal(typeof hub.ports.mqtts, 'number');
  const credential = await enrol(hub, 'pos-1');
  const ca = readFileSync(certFile);
  const client = await connectAsync(`mqtts://127.0.0.1:${hub.ports.mqtts}`, {
    clientId: 'pos-1',
    username: 'pos-1',
    password: credential,
    ca,
    rejectUnauthorized: true,
    reconnectPeriod: 0,
  });
  t.after(() => client.endAsync(true));
  const received: string[] = [];
  hub.channel.onMessage((id, payload) => received.push(`${id}:${payload}`));
  await client.publishAsync('backroom/v1/sync/pos-1/up', 'over tls', { qos: 1 });
  assert.deepEqual(received, ['pos-1:over tls']);

  const signingKey = await importPKCS8(readFileSync(keyFile, 'utf8'), 'RS256');
  const token = await sign(signingKey, 'RS256', { role: 'sensor' }, { sub: 'fridge-9' });
  const sensor = await connectAsync(`mqtts://127.0.0.1:${hub.ports.mqtts}`, {
    clientId: 'fridge-9',
    username: 'fridge-9',
    password: token,
    ca,
    reconnectPeriod: 0,
  });
  t.after(() => sensor.endAsync(true));
  assert.equal(sensor.connected, true);
});
