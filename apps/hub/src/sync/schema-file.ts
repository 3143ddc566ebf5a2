/**
 * The collection schema file the hub is started with (`schemaFile`, by default sync-core's retail
 * schema): read and validated once at start-up, every problem listed in one error, like the hub's config.
 */
import { readFileSync } from 'node:fs';
import { isSyncError, loadSchema, type Schema } from '@backroom/sync-core';
import { HubError } from '../errors.js';

/**
 * Loads the collection schema file.
 * @throws HubError `HUB_ERR_CONFIG_INVALID` with every problem of the file listed.
 */
export function loadSchemaFile(file: string): Schema {
  let doc: unknown;
  try {
    doc = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new HubError('HUB_ERR_CONFIG_INVALID', `cannot read schema ${file}: ${(e as Error).message}`, {
      problems: [`schemaFile: ${(e as Error).message}`],
    });
  }
  try {
    return loadSchema(doc);
  } catch (e) {
    if (!isSyncError(e, 'SYNC_ERR_SCHEMA_INVALID')) throw e;
    const problems = (e.details.problems as string[]).map((p) => `schema ${file}: ${p}`);
    throw new HubError('HUB_ERR_CONFIG_INVALID', `invalid schema: ${problems.join('; ')}`, { problems }, e);
  }
}
