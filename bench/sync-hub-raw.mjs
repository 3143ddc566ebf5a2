// Raw baselines of bench/sync-hub.bench.ts that must run as processes of their own, so that their RSS
// is measured alone (plain JavaScript: no tsx loader in the measured process).
//   node bench/sync-hub-raw.mjs broker
//     a bare aedes broker (in-memory persistence, like the hub's) on 127.0.0.1, port 0;
//     prints {"event":"listening","mqtt":PORT}
//   node bench/sync-hub-raw.mjs client URL ID
//     one idle mqtt.js connection made like a device agent's (clean: false, will, downlink subscription,
//     retained presence); prints {"event":"listening"} once subscribed
// Both stop on SIGTERM or SIGINT.
import { createServer } from 'node:net';
import { Aedes } from 'aedes';
import mqtt from 'mqtt';

const [mode, url, id] = process.argv.slice(2);

if (mode === 'broker') {
  const aedes = await Aedes.createBroker();
  const server = createServer((socket) => {
    socket.setNoDelay(true); // as the hub's listener does
    aedes.handle(socket);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  process.stdout.write(`${JSON.stringify({ event: 'listening', mqtt: server.address().port })}\n`);
  const stop = () => {
    server.close();
    aedes.close(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
} else if (mode === 'client' && url && id) {
  const presence = `backroom/v1/presence/${id}`;
  const client = await mqtt.connectAsync(url, {
    clientId: id,
    username: id,
    password: 'bench',
    clean: false,
    reconnectPeriod: 0,
    keepalive: 30,
    will: { topic: presence, payload: Buffer.from('{"online":false}'), qos: 1, retain: true },
  });
  await client.subscribeAsync(`backroom/v1/sync/${id}/down`, { qos: 1 });
  await client.publishAsync(presence, JSON.stringify({ online: true, at: Date.now() }), {
    qos: 1,
    retain: true,
  });
  process.stdout.write(`${JSON.stringify({ event: 'listening' })}\n`);
  const stop = () => client.end(true, () => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
} else {
  process.stderr.write('usage: sync-hub-raw.mjs broker | client URL ID\n');
  process.exit(2);
}
