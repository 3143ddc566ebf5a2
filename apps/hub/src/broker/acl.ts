/**
 * Topic permissions. A device may only use its own topics:
 *
 * | topic                                   | publish            | subscribe        |
 * |-----------------------------------------|--------------------|------------------|
 * | `backroom/v1/sync/{self}/up`            | yes                | no               |
 * | `backroom/v1/sync/{self}/down`          | no                 | yes              |
 * | `backroom/v1/presence/{self}`           | yes (its will)     | yes              |
 * | `backroom/v1/telemetry/{self}/{metric}` | role `sensor`      | no               |
 * | `backroom/v1/presence/+` or `/{other}`  | no                 | role `dashboard` |
 *
 * Everything else is refused, in particular any filter whose wildcard could match another device's
 * topics. Decisions compare whole topic levels, never prefixes.
 */
import type { DeviceRole } from '../auth/device.js';
import { PRESENCE_ALL_TOPIC, parseTopic } from './topics.js';

/** Who asks. `relaxRoles` (`--insecure-no-auth`) lifts the role rules but keeps the identity rules. */
export interface AclSubject {
  readonly deviceId: string;
  readonly role: DeviceRole;
  readonly relaxRoles?: boolean;
}

/** True when `subject` may publish on the concrete topic `topic`. */
export function mayPublish(subject: AclSubject, topic: string): boolean {
  const t = parseTopic(topic);
  if (!t || t.deviceId !== subject.deviceId) return false;
  switch (t.kind) {
    case 'sync-up':
    case 'presence':
      return true;
    case 'telemetry':
      return subject.role === 'sensor' || subject.relaxRoles === true;
    default:
      return false;
  }
}

/** True when `subject` may subscribe to the topic filter `filter`. */
export function maySubscribe(subject: AclSubject, filter: string): boolean {
  const dashboard = subject.role === 'dashboard' || subject.relaxRoles === true;
  if (filter === PRESENCE_ALL_TOPIC) return dashboard;
  const t = parseTopic(filter);
  if (!t) return false;
  if (t.kind === 'sync-down') return t.deviceId === subject.deviceId;
  if (t.kind === 'presence') return t.deviceId === subject.deviceId || dashboard;
  return false;
}
