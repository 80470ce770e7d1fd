/** A Buffer over the bytes the SDK read, without copying them (a read may be 4 MiB). */
export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
