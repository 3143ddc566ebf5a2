/**
 * The one check that an error catalogue and docs/errors.md agree, shared by every package's errors test:
 * an integrator who meets a code finds it in its package's section, with the status it really carries and
 * a meaning.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

const ERRORS_MD = new URL('../../docs/errors.md', import.meta.url);

/**
 * The table rows `| \`CODE\` | VALUE | meaning |` of the section of docs/errors.md headed `## <heading>`
 * (up to the next `## ` heading), as code → value (the second column, trimmed). Fails when the section is
 * missing, when a code is listed twice, or when a row has no meaning.
 */
export function documentedCodes(heading: string): Map<string, string> {
  const text = readFileSync(ERRORS_MD, 'utf8');
  const section = text.split(/^## /m).find((s) => s.split('\n', 1)[0].trim() === heading);
  assert.ok(section, `docs/errors.md has a "## ${heading}" section`);
  const rows = new Map<string, string>();
  for (const m of section.matchAll(/^\|\s*`([A-Z0-9_]+)`\s*\|([^|]*)\|([^|]*)\|/gm)) {
    assert.ok(!rows.has(m[1]), `${m[1]} is listed twice in "## ${heading}"`);
    assert.ok(m[3].trim() !== '', `${m[1]} has a meaning in "## ${heading}"`);
    rows.set(m[1], m[2].trim());
  }
  return rows;
}

/**
 * Asserts that every code of `catalogue` is listed in the section `heading` of docs/errors.md with its
 * value: an HTTP status (`404`), or a list (`[4, 5]` documented as `4, 5`). Returns the documented rows,
 * for checks of the other direction.
 *
 * @example
 * test('every HUB_ERR code is documented', () => assertCatalogueDocumented('Hub', HubErrorCodes));
 */
export function assertCatalogueDocumented(
  heading: string,
  catalogue: Readonly<Record<string, number | readonly number[]>>,
): Map<string, string> {
  const rows = documentedCodes(heading);
  for (const [code, value] of Object.entries(catalogue)) {
    const want = typeof value === 'number' ? String(value) : value.join(', ');
    assert.ok(rows.has(code), `${code} is missing from "## ${heading}" of docs/errors.md`);
    assert.equal(rows.get(code), want, `${code}: docs/errors.md says ${rows.get(code)}, the code ${want}`);
  }
  return rows;
}
