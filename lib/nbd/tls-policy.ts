/**
 * What the server does with an option while TLS is not (yet) up: the NBD spec's TLS modes
 * (doc/proto.md, "TLS support"). NOTLS and opportunistic TLS take every option; FORCEDTLS
 * answers every option but NBD_OPT_STARTTLS and NBD_OPT_ABORT with NBD_REP_ERR_TLS_REQD, and
 * ends the session on NBD_OPT_EXPORT_NAME, which has no error reply.
 */
import { Option } from './constants.js';

/** Proceed with the option, answer it NBD_REP_ERR_TLS_REQD, or end the session. */
export type TlsGate = 'proceed' | 'tls-required' | 'end';

/** The gate for `option` when TLS is required (FORCEDTLS) or not, and is up or not. */
export function tlsGate(option: number, required: boolean, tlsActive: boolean): TlsGate {
  if (!required || tlsActive) return 'proceed';
  if (option === Option.STARTTLS || option === Option.ABORT) return 'proceed';
  if (option === Option.EXPORT_NAME) return 'end';
  return 'tls-required';
}
