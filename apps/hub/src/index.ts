/**
 * @backroom/hub — the store hub as a library: build one from a config, attach the sync server.
 *
 * @example
 * import { attachSync, createHub, resolveConfig } from '@backroom/hub';
 * const hub = await createHub(resolveConfig({ dataDir: './data/hub', mqttPort: 0, httpPort: 0 }), { attach: attachSync });
 */
export { type CreateHubOptions, createHub, type Hub, type HubAttachment, type HubContext } from './app.js';
export { type HubConfig, loadConfig, resolveConfig } from './config.js';
export { HubError, type HubErrorCode, HubErrorCodes, isHubError } from './errors.js';
export { attachSync, loadSchemaFile, type SyncAttachment } from './sync/attach.js';
export { HUB_NODE_ID, SyncServer } from './sync/sync-server.js';
