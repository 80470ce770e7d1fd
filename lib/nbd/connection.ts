/**
 * One client connection: negotiation, then transmission, then a clean close. Whatever goes
 * wrong here ends this connection only.
 */
import type { Socket } from 'node:net';
import { NbdConnectionClosedError, NbdProtocolError, nbdMessageOf } from './errors.js';
import { negotiate, type NegotiationLimits } from './negotiation.js';
import type { ExportResolver, NbdLogger } from './ports.js';
import { StreamSource } from './stream-source.js';
import { Transmission, type TransmissionLimits } from './transmission.js';

/** All per-connection limits. */
export interface ConnectionLimits extends NegotiationLimits, TransmissionLimits {
  /** Received bytes queued beyond which the socket is paused (a WRITE may exceed it alone). */
  readonly highWaterBytes: number;
  /** How long a closing connection may take to flush before it is destroyed. */
  readonly closeTimeoutMs: number;
}

/**
 * Upgrades a raw socket to TLS after the server acknowledged NBD_OPT_STARTTLS, e.g. by
 * wrapping it in a tls.TLSSocket with a PSK callback; resolves once the TLS handshake is done.
 */
export type TlsUpgrade = (socket: Socket) => Promise<Socket>;

/** Serves one socket; `done` settles when the socket is closed. */
export class NbdConnection {
  /** Resolves when the connection is over (never rejects). */
  readonly done: Promise<void>;
  private readonly source: StreamSource;
  private transmission: Transmission | undefined;
  private shuttingDown = false;

  constructor(
    private socket: Socket,
    private readonly resolver: ExportResolver,
    private readonly limits: ConnectionLimits,
    private readonly logger: NbdLogger,
    private readonly tlsUpgrade?: TlsUpgrade,
    private readonly requireTls = false,
  ) {
    socket.setNoDelay(true);
    // Errors surface through the source as a closed connection; this keeps them from crashing.
    socket.on('error', (error) => logger.debug('nbd socket error', { error: error.message }));
    this.source = new StreamSource(socket, limits.highWaterBytes);
    this.done = this.run().catch((error: unknown) => {
      logger.warn('nbd connection failed', { error: nbdMessageOf(error) });
      socket.destroy();
    });
  }

  /** Stops the connection: negotiation is cut off, transmission answers what is in flight first. */
  shutdown(): void {
    this.shuttingDown = true;
    if (this.transmission !== undefined) this.transmission.stop();
    else this.socket.destroy();
  }

  private async run(): Promise<void> {
    const io = {
      source: this.source,
      send: (buffers: readonly Buffer[]) => this.send(buffers),
      ...(this.tlsUpgrade === undefined ? {} : { startTls: () => this.startTls(), requireTls: this.requireTls }),
    };
    let outcome;
    try {
      outcome = await negotiate(io, this.resolver, this.limits, this.logger);
    } catch (error) {
      if (error instanceof NbdProtocolError) this.logger.warn('nbd negotiation violated the protocol', { error: error.message });
      else if (!(error instanceof NbdConnectionClosedError)) throw error;
      this.socket.destroy();
      return;
    }
    if (outcome.kind === 'ended') {
      this.logger.debug('nbd session ended during negotiation', { reason: outcome.reason });
      await this.finish();
      return;
    }
    const { session } = outcome;
    try {
      if (this.shuttingDown) return;
      this.transmission = new Transmission(io, session, this.limits, this.logger);
      const reason = await this.transmission.run();
      this.logger.debug('nbd transmission ended', { export: session.exportName, reason });
      if (reason.startsWith('protocol violation')) this.logger.warn('nbd client violated the protocol', { reason });
    } finally {
      await session.device.close?.().catch((error: unknown) => this.logger.warn('nbd device close failed', { error: nbdMessageOf(error) }));
      await this.finish();
    }
  }

  // From here on every byte goes through TLS: the raw socket is handed to the upgrade and the
  // source reads the secure socket instead (the client sends nothing between ACK and handshake).
  private async startTls(): Promise<void> {
    if (this.tlsUpgrade === undefined) throw new Error('TLS is not configured.');
    const raw = this.source.detach();
    if (raw === undefined) throw new Error('The connection has no stream to upgrade.');
    const secure = await this.tlsUpgrade(this.socket);
    secure.on('error', (error) => this.logger.debug('nbd tls socket error', { error: error.message }));
    this.socket = secure;
    this.source.attach(secure);
  }

  // Writes one whole message; concurrent callers never interleave because each call writes
  // all its buffers synchronously between cork and uncork.
  private send(buffers: readonly Buffer[]): Promise<void> {
    const socket = this.socket;
    if (socket.destroyed || !socket.writable || buffers.length === 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      socket.cork();
      buffers.forEach((buffer, i) => {
        if (i === buffers.length - 1) socket.write(buffer, () => resolve());
        else socket.write(buffer);
      });
      socket.uncork();
    });
  }

  private async finish(): Promise<void> {
    const socket = this.socket;
    if (socket.destroyed) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => socket.destroy(), this.limits.closeTimeoutMs);
      socket.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      socket.end();
    });
  }
}
