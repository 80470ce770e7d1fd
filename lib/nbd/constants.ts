/**
 * Wire constants of the NBD protocol (doc/proto.md of NetworkBlockDevice/nbd): magic numbers,
 * option and reply codes, flags and error values. Names follow the spec without the NBD_ prefix.
 */

/** 'NBDMAGIC', the first 8 bytes the server sends. */
export const NBD_MAGIC = 0x4e42444d41474943n;
/** 'IHAVEOPT', sent by the server after NBDMAGIC and by the client before each option. */
export const IHAVEOPT = 0x49484156454f5054n;
/** Magic of every fixed-newstyle option reply. */
export const OPTION_REPLY_MAGIC = 0x3e889045565a9n;
/** Magic of a transmission request. */
export const REQUEST_MAGIC = 0x25609513;
/** Magic of a simple reply. */
export const SIMPLE_REPLY_MAGIC = 0x67446698;
/** Magic of a structured reply chunk. */
export const STRUCTURED_REPLY_MAGIC = 0x668e33ef;

/** Handshake flags the server sends. */
export const HandshakeFlag = { FIXED_NEWSTYLE: 1 << 0, NO_ZEROES: 1 << 1 } as const;
/** Client flags the client answers with. */
export const ClientFlag = { FIXED_NEWSTYLE: 1 << 0, NO_ZEROES: 1 << 1 } as const;

/** Transmission flags (16 bits) describing an export. */
export const TransmissionFlag = {
  HAS_FLAGS: 1 << 0,
  READ_ONLY: 1 << 1,
  SEND_FLUSH: 1 << 2,
  SEND_FUA: 1 << 3,
  ROTATIONAL: 1 << 4,
  SEND_TRIM: 1 << 5,
  SEND_WRITE_ZEROES: 1 << 6,
  SEND_DF: 1 << 7,
  CAN_MULTI_CONN: 1 << 8,
  SEND_CACHE: 1 << 10,
  SEND_FAST_ZERO: 1 << 11,
} as const;

/** Option codes a client sends during option haggling. */
export const Option = {
  EXPORT_NAME: 1,
  ABORT: 2,
  LIST: 3,
  STARTTLS: 5,
  INFO: 6,
  GO: 7,
  STRUCTURED_REPLY: 8,
  LIST_META_CONTEXT: 9,
  SET_META_CONTEXT: 10,
} as const;

/** Option reply types; errors have bit 31 set. */
export const OptionReply = {
  ACK: 1,
  SERVER: 2,
  INFO: 3,
  META_CONTEXT: 4,
  ERR_UNSUP: 0x80000001,
  ERR_POLICY: 0x80000002,
  ERR_INVALID: 0x80000003,
  ERR_PLATFORM: 0x80000004,
  ERR_TLS_REQD: 0x80000005,
  ERR_UNKNOWN: 0x80000006,
  ERR_SHUTDOWN: 0x80000007,
  ERR_BLOCK_SIZE_REQD: 0x80000008,
  ERR_TOO_BIG: 0x80000009,
} as const;

/** Information types requested by and answered to NBD_OPT_INFO and NBD_OPT_GO. */
export const InfoType = { EXPORT: 0, NAME: 1, DESCRIPTION: 2, BLOCK_SIZE: 3 } as const;

/** Transmission command types. */
export const Command = {
  READ: 0,
  WRITE: 1,
  DISC: 2,
  FLUSH: 3,
  TRIM: 4,
  CACHE: 5,
  WRITE_ZEROES: 6,
  BLOCK_STATUS: 7,
} as const;

/** Command flags (16 bits) of a request. */
export const CommandFlag = {
  FUA: 1 << 0,
  NO_HOLE: 1 << 1,
  DF: 1 << 2,
  REQ_ONE: 1 << 3,
  FAST_ZERO: 1 << 4,
} as const;

/** Structured reply chunk flags. */
export const ReplyFlag = { DONE: 1 << 0 } as const;

/** Structured reply chunk types; error chunks have bit 15 set. */
export const ReplyType = {
  NONE: 0,
  OFFSET_DATA: 1,
  OFFSET_HOLE: 2,
  BLOCK_STATUS: 5,
  ERROR: 0x8001,
  ERROR_OFFSET: 0x8002,
} as const;

/** Error values of the transmission phase. */
export const Errno = {
  EPERM: 1,
  EIO: 5,
  ENOMEM: 12,
  EINVAL: 22,
  ENOSPC: 28,
  EOVERFLOW: 75,
  ENOTSUP: 95,
  ESHUTDOWN: 108,
} as const;

/** One of the error values the protocol defines. */
export type NbdErrno = (typeof Errno)[keyof typeof Errno];

/** base:allocation status flags of a block status extent. */
export const AllocationFlag = { HOLE: 1 << 0, ZERO: 1 << 1 } as const;

/** The one metadata context this server knows. */
export const BASE_ALLOCATION = 'base:allocation';

/** Size of a request header on the wire. */
export const REQUEST_HEADER_BYTES = 28;
/** Size of an option header on the wire (IHAVEOPT, option, length). */
export const OPTION_HEADER_BYTES = 16;
/** Longest string (export name, description, query) the spec allows. */
export const MAX_STRING_BYTES = 4096;
