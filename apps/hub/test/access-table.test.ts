/**
 * Walks the route × role table of docs/access.md against a running hub: every row, sent as every role,
 * must get the documented status; and every route the hub serves must be covered by some row, so a route
 * cannot be added without deciding (and writing down) who may call it.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import type { ReplicaStore } from '@backroom/sync-core';
import { registeredRoutes } from '../src/http/server.js';
import { enrol, startSyncHub } from './helpers.js';

const ROLES = ['admin', 'dashboard', 'pos', 'sensor', 'none'] as const;
type Role = (typeof ROLES)[number];

interface Row {
  method: string;
  path: string;
  body?: string;
  expected: Record<Role, number>;
}

/** The rows of the table under "## Route × role" in docs/access.md. */
function tableRows(): Row[] {
  const doc = readFileSync(new URL('../../../docs/access.md', import.meta.url), 'utf8');
  const section = doc.slice(doc.indexOf('## Route × role'));
  const rows: Row[] = [];
  for (const line of section.split('\n')) {
    const cells = line.split('|').map((c) => c.trim());
    const request = /^`(GET|PUT|PATCH|POST|DELETE) (\S+)`$/.exec(cells[1] ?? '');
    if (!request) continue;
    const body = cells[2] ? cells[2].replace(/^`|`$/g, '') : undefined;
    const statuses = cells.slice(3, 8).map(Number);
    assert.equal(statuses.length, 5, line);
    assert.ok(
      statuses.every((s) => s >= 200 && s < 600),
      `every cell is a status: ${line}`,
    );
    const expected = Object.fromEntries(ROLES.map((r, i) => [r, statuses[i]])) as Record<Role, number>;
    rows.push({ method: request[1], path: request[2], body: body || undefined, expected });
  }
  return rows;
}

const vector = (seed: number) => Array.from({ length: 16 }, (_, i) => Math.sin(seed * 7 + i) + 1.5);

/** The fixture of docs/access.md, written afresh as the hub (so every request starts from the same state). */
function seed(store: ReplicaStore): void {
  store.transaction(() => {
    store.clearObjects();
    store.put('products', 'SKU-1', { name: 'Milk 1l', price: 0.99, category: 'dairy' });
    store.put('inventory', 'SKU-1', { location: 'aisle 3' });
    store.setCounter('inventory', 'SKU-1', { stock: 24 });
    store.put('orders', 'O-1', { status: 'open', total: 12.5, terminalId: 'till-1' });
    for (const [id, till, n] of [
      ['T-1', 'till-1', 1],
      ['T-2', 'till-2', 2],
    ] as const) {
      store.put('transactions', id, { terminalId: till, kind: 'sale', total: 9.5, embedding: vector(n) });
    }
    store.put('readings', 'R-1', { deviceId: 'fridge-1', metric: 'temperature', value: 3.9 });
    store.put('readings', 'R-2', { deviceId: 'fridge-2', metric: 'temperature', value: 4.2 });
    store.put('alerts', 'A-1', { terminalId: 'till-1', severity: 'high', message: 'void pattern' });
    store.put('alerts', 'A-2', { terminalId: 'till-2', severity: 'high', message: 'void pattern' });
  });
}

test('docs/access.md: every route × role gets the documented status, and every route is in the table', async (t) => {
  const { hub, attachment } = await startSyncHub(t);
  const store = attachment.server.store;
  const pos = await enrol(hub, 'till-1', 'pos');
  await enrol(hub, 'till-2', 'pos');
  const sensor = await enrol(hub, 'fridge-1', 'sensor');
  await enrol(hub, 'fridge-2', 'sensor');
  const dashboard = await enrol(hub, 'screen-1', 'dashboard');
  // The three ways of presenting credentials are all exercised: Bearer token, Basic, Bearer ID:CREDENTIAL.
  const headers: Record<Role, Record<string, string>> = {
    admin: { authorization: `Bearer ${hub.adminToken.token}` },
    dashboard: { authorization: `Bearer screen-1:${dashboard}` },
    pos: { authorization: `Basic ${Buffer.from(`till-1:${pos}`).toString('base64')}` },
    sensor: { authorization: `Bearer fridge-1:${sensor}` },
    none: {},
  };

  const rows = tableRows();
  assert.ok(rows.length >= 20, 'the table was found and read');
  const failures: string[] = [];
  for (const row of rows) {
    for (const role of ROLES) {
      seed(store);
      const res = await fetch(`http://127.0.0.1:${hub.ports.http}${row.path}`, {
        method: row.method,
        headers: { ...headers[role], ...(row.body ? { 'content-type': 'application/json' } : {}) },
        body: row.body,
      });
      const text = await res.text();
      if (res.status !== row.expected[role]) {
        failures.push(
          `${row.method} ${row.path} as ${role}: ${res.status}, documented ${row.expected[role]}: ${text}`,
        );
      }
      if (res.status >= 400) {
        const body = JSON.parse(text) as { error?: { code?: unknown; message?: unknown } };
        assert.equal(typeof body.error?.code, 'string', text);
      }
    }
  }
  assert.deepEqual(failures, []);

  // Every route the hub serves is covered by a row (its pattern matches some row's request).
  const uncovered = registeredRoutes(hub.fastify).filter((route) => {
    const [method, pattern] = route.split(' ');
    const re = new RegExp(`^${pattern.replace(/:[A-Za-z]+/g, '[^/]+')}$`);
    return !rows.some((r) => r.method === method && re.test(r.path));
  });
  assert.deepEqual(uncovered, [], 'routes missing from the table in docs/access.md');
});
