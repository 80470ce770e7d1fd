import { Server } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { startEmulators, type Emulators } from '../../lib/local/emulators.js';
import { isLoopbackHost } from '../../lib/local/listening.js';
import { listeningSocketsOf } from '../support/sockets.js';

describe('emulators on this thread', () => {
  let emulators: Emulators | undefined;
  afterAll(() => emulators?.stop());

  it('listen on loopback only, and leave net.Server.listen as it was for everyone else', async () => {
    const listen = Server.prototype.listen;
    emulators = await startEmulators({ region: 'us-east-1' });
    expect(Server.prototype.listen).toBe(listen);

    const ports = [emulators.s3Endpoint, emulators.dynamodbEndpoint].map((endpoint) => Number(new URL(endpoint).port));
    const sockets = listeningSocketsOf(process.pid).filter((socket) => ports.includes(socket.port));
    expect(sockets.map((socket) => socket.port).sort()).toEqual([...ports].sort());
    expect(sockets.filter((socket) => !isLoopbackHost(socket.address))).toEqual([]);
  });
});
