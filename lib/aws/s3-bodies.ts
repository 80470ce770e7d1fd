/** A Buffer over the bytes the SDK read, without copying them (a read may be 4 MiB). */
export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** What a middleware of the build step sees of the request. */
interface BuildArgs {
  readonly request: unknown;
}

/**
 * Makes a PutObject carry the body's SHA-256 (hex) that the caller computed already, as the
 * signature's payload hash: the SigV4 signer then signs that value instead of hashing the
 * body a second time (about 0.6 ms of CPU per MiB).
 */
export function signWithPayloadDigest<C extends { middlewareStack: { add(middleware: unknown, options: unknown): void } }>(command: C, sha256Hex: string): C {
  command.middlewareStack.add(
    (next: (args: BuildArgs) => Promise<unknown>) => (args: BuildArgs) => {
      const request = args.request as { headers?: Record<string, string> };
      if (request.headers) request.headers['x-amz-content-sha256'] = sha256Hex;
      return next(args);
    },
    { step: 'build', name: 'sledsPayloadDigest' },
  );
  return command;
}

/**
 * An object's LastModified in ms since the epoch. A listing without one reads as the far
 * future, so that a sweep for old unnamed objects never takes it for old.
 */
export function modifiedAt(lastModified: Date | undefined): number {
  return lastModified?.getTime() ?? Number.POSITIVE_INFINITY;
}
