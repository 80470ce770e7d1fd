/**
 * The ports the NBD protocol layer needs. The server speaks the protocol; a BlockDevice does
 * the I/O and an ExportResolver names and opens devices. An in-memory device serves tests; a
 * Sleds volume device (over the volume data service) plugs in the same way.
 */

/** Options of a write. */
export interface WriteOptions {
  /** Force unit access: the data is durable before the promise resolves. */
  readonly fua: boolean;
}

/** Options of a write-zeroes. */
export interface ZeroOptions {
  /** Force unit access: the zeroes are durable before the promise resolves. */
  readonly fua: boolean;
  /** The range must stay allocated (no hole may be punched). */
  readonly noHole: boolean;
  /**
   * The caller only wants the zeroing if it is faster than writing zeroes: a device that
   * cannot do it quickly throws an error whose nbdErrno is ENOTSUP, and changes nothing.
   */
  readonly fastZero: boolean;
}

/** One run of base:allocation status; `flags` holds AllocationFlag.HOLE and/or ZERO bits. */
export interface Extent {
  readonly length: number;
  readonly flags: number;
}

/** Size constraints of a device, in bytes (see "Size constraints" in the NBD spec). */
export interface BlockSizes {
  /** Smallest addressable length and alignment: a power of 2, at most 64 KiB. */
  readonly minimum: number;
  /** Size at which aligned I/O is efficient (no read-modify-write): a power of 2 >= minimum. */
  readonly preferred: number;
  /** Largest READ or WRITE payload accepted: >= preferred. */
  readonly maximum: number;
}

/**
 * A byte-addressed disk the NBD server exports. Offsets and lengths the server passes are
 * already validated: aligned to `blockSizes.minimum` and inside `size`. Methods may run
 * concurrently; a device that needs ordering does it itself. Errors thrown are answered as
 * NBD errors (see nbdErrnoOf in lib/nbd/errors.ts): EIO unless the error names another.
 */
export interface BlockDevice {
  /** Size in bytes; a multiple of blockSizes.minimum. */
  readonly size: number;
  /** Writes, trims and write-zeroes are refused with EPERM. */
  readonly readOnly: boolean;
  /**
   * Every connection to this device sees the same data and a flush or FUA on one connection
   * is visible on all (advertised as NBD_FLAG_CAN_MULTI_CONN).
   */
  readonly canMultiConn: boolean;
  /** Size constraints advertised with NBD_INFO_BLOCK_SIZE and enforced by the server. */
  readonly blockSizes: BlockSizes;
  /** Reads `length` bytes at `offset`; the result has exactly `length` bytes. */
  read(offset: number, length: number): Promise<Buffer>;
  /** Writes `data` at `offset`. */
  write(offset: number, data: Buffer, options: WriteOptions): Promise<void>;
  /** Makes the range read as zeroes. */
  zero(offset: number, length: number, options: ZeroOptions): Promise<void>;
  /** Hints that the range is no longer needed; its contents are unspecified afterwards. */
  trim(offset: number, length: number): Promise<void>;
  /** Makes every write completed before the call durable. */
  flush(): Promise<void>;
  /** Hints that the range will be read soon. */
  cache(offset: number, length: number): Promise<void>;
  /**
   * base:allocation status of the range starting at `offset`: consecutive extents covering at
   * least one byte. They may stop short of `length` (the client asks again) or run past it.
   */
  blockStatus(offset: number, length: number): Promise<readonly Extent[]>;
  /** Releases whatever opening the device took (a lease, a cache); called once per open. */
  close?(): Promise<void>;
}

/** An export as NBD_OPT_LIST shows it. */
export interface ExportListing {
  readonly name: string;
  readonly description?: string;
}

/**
 * Why an export cannot be opened, and the option reply it becomes:
 * - `unknown`: no such export (NBD_REP_ERR_UNKNOWN);
 * - `unavailable`: it exists but may not be served now, e.g. its volume's state forbids it
 *   (NBD_REP_ERR_POLICY: the spec has no "try later" code);
 * - `tls-required`: it is served only over TLS (NBD_REP_ERR_TLS_REQD);
 * - `shutting-down`: the server is stopping (NBD_REP_ERR_SHUTDOWN).
 */
export type ExportRefusalReason = 'unknown' | 'unavailable' | 'tls-required' | 'shutting-down';

/** The outcome of ExportResolver.open. */
export type ExportOpening =
  | { readonly kind: 'opened'; readonly device: BlockDevice; readonly description?: string }
  | { readonly kind: 'refused'; readonly reason: ExportRefusalReason; readonly message: string };

/** Names the exports a server offers and opens them. */
export interface ExportResolver {
  /** The exports NBD_OPT_LIST reports. */
  list(): Promise<readonly ExportListing[]>;
  /** Opens the export `name` ('' is the default export) for one connection or one NBD_OPT_INFO. */
  open(name: string): Promise<ExportOpening>;
}

/** Where the NBD layer logs; a no-op implementation is fine. */
export interface NbdLogger {
  /** Something that went wrong for one connection only. */
  warn(message: string, fields?: Record<string, unknown>): void;
  /** Connection lifecycle and protocol detail. */
  debug(message: string, fields?: Record<string, unknown>): void;
}
