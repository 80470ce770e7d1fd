/**
 * The transmission phase of one connection: decodes requests, runs them on the device
 * concurrently, and writes each reply whole, in whatever order the requests finish.
 */
import { Command, CommandFlag, Errno } from './constants.js';
import { decodeRequest, isOversizedWrite, type NbdRequest } from './codec/transmission-codec.js';
import { NbdConnectionClosedError, NbdProtocolError, nbdErrnoOf, nbdMessageOf } from './errors.js';
import { InFlight } from './in-flight.js';
import type { Session } from './negotiation.js';
import type { NbdLogger } from './ports.js';
import { blockStatusReply, clipExtents, errorReply, readReply, successReply } from './replies.js';
import type { StreamSource } from './stream-source.js';
import { type ExportContext, validateRequest } from './validate.js';

/** How the transmission phase reads and writes the connection. */
export interface TransmissionIo {
  readonly source: StreamSource;
  /** Writes one whole reply; resolves once the socket has taken it (or is gone). */
  send(buffers: readonly Buffer[]): Promise<void>;
}

/** Per-connection caps on work in flight. */
export interface TransmissionLimits {
  readonly maxRequests: number;
  readonly maxBytes: number;
}

/** Raised inside the loop when the server stops the connection. */
class StopRequested extends Error {}

/** Serves requests until the client disconnects, breaks the protocol or the server stops. */
export class Transmission {
  private readonly inFlight: InFlight;
  private readonly ctx: ExportContext;
  private stopping = false;

  constructor(
    private readonly io: TransmissionIo,
    private readonly session: Session,
    limits: TransmissionLimits,
    private readonly logger: NbdLogger,
  ) {
    this.inFlight = new InFlight(limits.maxRequests, limits.maxBytes);
    const device = session.device;
    this.ctx = {
      size: device.size,
      readOnly: device.readOnly,
      blockSizes: device.blockSizes,
      structured: session.structured,
      hasMetaContext: session.allocationContextId !== undefined,
    };
  }

  /** Stops decoding new requests; requests in flight still get their replies. */
  stop(): void {
    this.stopping = true;
    this.io.source.close(new StopRequested('The server is shutting down.'));
  }

  /** Runs until the session ends and every request in flight was answered; returns why it ended. */
  async run(): Promise<string> {
    const reason = await this.loop();
    await this.inFlight.idle();
    return reason;
  }

  private async loop(): Promise<string> {
    const maxWrite = this.ctx.blockSizes.maximum;
    for (;;) {
      if (this.stopping) return 'server shutting down';
      let decoded;
      try {
        decoded = await this.io.source.next((queue) => decodeRequest(queue, maxWrite));
      } catch (error) {
        if (error instanceof StopRequested) return 'server shutting down';
        if (error instanceof NbdConnectionClosedError) return 'client closed the connection';
        if (error instanceof NbdProtocolError) return `protocol violation: ${error.message}`;
        throw error;
      }
      if (this.stopping) return 'server shutting down';
      if (isOversizedWrite(decoded)) {
        // Its payload cannot be skipped safely: answer, then end the session (the spec allows it).
        const { request } = decoded;
        await this.inFlight.idle();
        const message = `A write of ${request.length} bytes exceeds the maximum payload of ${maxWrite}; closing.`;
        await this.io.send(errorReply(request.cookie, this.ctx.structured, { errno: Errno.EINVAL, message }));
        return 'oversized write';
      }
      if (decoded.type === Command.DISC) return 'client disconnected (NBD_CMD_DISC)';
      const cost = decoded.type === Command.READ || decoded.type === Command.WRITE ? decoded.length : 0;
      await this.inFlight.acquire(cost);
      void this.execute(decoded)
        .catch((error: unknown) => this.logger.warn('nbd reply failed', { error: nbdMessageOf(error) }))
        .finally(() => this.inFlight.release(cost));
    }
  }

  private async execute(request: NbdRequest): Promise<void> {
    let reply: Buffer[];
    try {
      reply = await this.answer(request);
    } catch (error) {
      let errno = nbdErrnoOf(error);
      // ENOTSUP tells a client that a fast zero would be slow; it must not answer anything else.
      const fastZero = request.type === Command.WRITE_ZEROES && (request.flags & CommandFlag.FAST_ZERO) !== 0;
      if (errno === Errno.ENOTSUP && !fastZero) errno = Errno.EIO;
      this.logger.warn('nbd request failed', { export: this.session.exportName, type: request.type, offset: request.offset, length: request.length, errno, error: nbdMessageOf(error) });
      reply = errorReply(request.cookie, this.ctx.structured, { errno, message: nbdMessageOf(error) });
    }
    await this.io.send(reply);
  }

  private async answer(request: NbdRequest): Promise<Buffer[]> {
    const refusal = validateRequest(request, this.ctx);
    if (refusal !== null) return errorReply(request.cookie, this.ctx.structured, refusal);
    const { device } = this.session;
    const { type, flags, offset, length, cookie } = request;
    const fua = (flags & CommandFlag.FUA) !== 0;
    switch (type) {
      case Command.READ: {
        const data = length === 0 ? Buffer.alloc(0) : await device.read(offset, length);
        if (data.length !== length) throw new Error(`The device returned ${data.length} bytes for a read of ${length}.`);
        return readReply(cookie, this.ctx.structured, offset, data, (flags & CommandFlag.DF) !== 0, this.ctx.blockSizes.minimum);
      }
      case Command.WRITE:
        if (length > 0) await device.write(offset, request.data ?? Buffer.alloc(0), { fua });
        return successReply(cookie);
      case Command.FLUSH:
        await device.flush();
        return successReply(cookie);
      case Command.TRIM:
        if (length > 0) await device.trim(offset, length);
        if (fua) await device.flush();
        return successReply(cookie);
      case Command.CACHE:
        if (length > 0) await device.cache(offset, length);
        return successReply(cookie);
      case Command.WRITE_ZEROES:
        if (length > 0) {
          await device.zero(offset, length, { fua, noHole: (flags & CommandFlag.NO_HOLE) !== 0, fastZero: (flags & CommandFlag.FAST_ZERO) !== 0 });
        }
        return successReply(cookie);
      case Command.BLOCK_STATUS: {
        const extents = clipExtents(await device.blockStatus(offset, length), length, (flags & CommandFlag.REQ_ONE) !== 0);
        if (extents.length === 0) throw new Error('The device reported no extents.');
        return blockStatusReply(cookie, this.session.allocationContextId ?? 0, extents);
      }
      default:
        return errorReply(cookie, this.ctx.structured, { errno: Errno.EINVAL, message: `Unknown command ${type}.` });
    }
  }
}
