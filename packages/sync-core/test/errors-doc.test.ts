/**
 * The error catalogue and its documentation stay in step: an integrator who meets a `SYNC_ERR_` code
 * finds it in docs/errors.md with the HTTP status it really carries, and the docs never name a code the
 * code cannot produce.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { SyncErrorCodes } from '@backroom/sync-core';

const docsDir = new URL('../../../docs/', import.meta.url);
const readDoc = (name: string) => readFileSync(new URL(name, docsDir), 'utf8');

/** The "sync-core" section of docs/errors.md: from its heading to the next `## ` heading. */
function syncCoreSection(text: string): string {
  const start = text.search(/^## sync-core\b/m);
  assert.ok(start >= 0, 'docs/errors.md has a "## sync-core" section');
  const rest = text.slice(start + 1);
  const end = rest.search(/^## /m);
  return end < 0 ? rest : rest.slice(0, end);
}

/** Table rows of the form `| \`CODE\` | STATUS | ... |`, as code → documented status. */
function documentedStatuses(section: string): Map<string, number> {
  const rows = new Map<string, number>();
  for (const m of section.matchAll(/^\|\s*`(SYNC_ERR_[A-Z0-9_]+)`\s*\|\s*(\d{3})\s*\|/gm)) {
    assert.ok(!rows.has(m[1]), `${m[1]} is listed twice`);
    rows.set(m[1], Number(m[2]));
  }
  return rows;
}

test('every code of the sync-core catalogue is documented in docs/errors.md with its HTTP status', () => {
  const rows = documentedStatuses(syncCoreSection(readDoc('errors.md')));
  for (const [code, status] of Object.entries(SyncErrorCodes)) {
    assert.ok(rows.has(code), `${code} is missing from the sync-core table of docs/errors.md`);
    assert.equal(
      rows.get(code),
      status,
      `${code}: docs/errors.md says ${rows.get(code)}, the code ${status}`,
    );
  }
});

test('every SYNC_ERR_ code the docs name exists in the catalogue', () => {
  for (const name of ['errors.md', 'sync-model.md']) {
    const named = new Set(readDoc(name).match(/SYNC_ERR_[A-Z0-9_]+/g) ?? []);
    for (const code of named) {
      assert.ok(Object.hasOwn(SyncErrorCodes, code), `docs/${name} names ${code}, which is not in errors.ts`);
    }
  }
});
