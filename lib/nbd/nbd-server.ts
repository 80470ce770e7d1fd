/**
 * The NBD server: listens on TCP and serves each connection with the exports a resolver names.
 */
import { createServer, type Socket } from 'node:net';
import { type ConnectionLimits, NbdConnection, type TlsUpgrade } from './connection.js';
import type { ExportResolver, NbdLogger } from './ports.js';

/** Options of startNbdServer. */
export interface NbdServerOptions {
  /** Address to listen on; 127.0.0.1 by default. */
  readonly host?: string;
  /** Port to listen on; 0 (the default) picks a free one. The NBD port is 10809. */
  readonly port?: number;
  readonly resolver: ExportResolver;
  readonly logger?: NbdLogger;
  readonly limits?: Partial<ConnectionLimits>;
  /**
   * Offers NBD_OPT_STARTTLS and upgrades with this function (e.g. pskTlsUpgrade). Without it
   * the server runs in NOTLS mode.
   */
  readonly tlsUpgrade?: TlsUpgrade;
  /**
   * FORCEDTLS: every option but STARTTLS and ABORT is refused with NBD_REP_ERR_TLS_REQD until
   * the connection is upgraded. Needs `tlsUpgrade`.
   */
  readonly requireTls?: boolean;
}

/** A running NBD server. */
export interface NbdServer {
  /** The port it listens on. */
  readonly port: number;
  /** Stops accepting, lets connections answer what is in flight, then closes them. */
  close(): Promise<void>;
}

/** Default per-connection limits. */
export const DEFAULT_CONNECTION_LIMITS: ConnectionLimits = {
  maxOptionBytes: 64 * 1024,
  maxRequests: 128,
  maxBytes: 64 * 1024 * 1024,
  highWaterBytes: 4 * 1024 * 1024,
  closeTimeoutMs: 5_000,
};

const silentLogger: NbdLogger = { warn: () => {}, debug: () => {} };

/** Starts an NBD server and resolves once it listens. */
export async function startNbdServer(options: NbdServerOptions): Promise<NbdServer> {
  const limits: ConnectionLimits = { ...DEFAULT_CONNECTION_LIMITS, ...options.limits };
  const logger = options.logger ?? silentLogger;
  if (options.requireTls === true && options.tlsUpgrade === undefined) throw new Error('requireTls needs a tlsUpgrade.');
  const connections = new Set<NbdConnection>();
  // Half-open: a client may send NBD_CMD_DISC and close its side; replies in flight still go out.
  const server = createServer({ allowHalfOpen: true }, (socket: Socket) => {
    const connection = new NbdConnection(socket, options.resolver, limits, logger, options.tlsUpgrade, options.requireTls === true);
    connections.add(connection);
    void connection.done.then(() => connections.delete(connection));
  });
  server.on('error', (error) => logger.warn('nbd server error', { error: error.message }));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('The NBD server has no TCP address.');
  let closing: Promise<void> | undefined;
  return {
    port: address.port,
    close() {
      closing ??= (async () => {
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
        for (const connection of connections) connection.shutdown();
        await Promise.all([...connections].map((c) => c.done));
        await stopped;
      })();
      return closing;
    },
  };
}
