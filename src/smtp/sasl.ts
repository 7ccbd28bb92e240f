/**
 * @module smtp/sasl
 * The SASL exchange of SMTP AUTH (RFC 4954) for the PLAIN (RFC 4616) and LOGIN mechanisms,
 * apart from the session: it asks for responses through `ask`, decodes them, and checks the
 * credentials with a backend. The session owns the command's preconditions, counting and
 * logging. A `SaslBackend` is anything that can verify a user and password (the password
 * file); `passwordSasl()` turns one into a `SaslServer`. A `SaslServer` runs whole exchanges
 * itself: Dovecot's auth socket is one (auth/dovecot-sasl.ts), offering its own mechanisms.
 */
import { reply, type Reply } from './reply.js';

export const SASL_MECHANISMS = ['PLAIN', 'LOGIN'] as const;
export type SaslMechanism = (typeof SASL_MECHANISMS)[number];

export interface SaslBackend {
  verify(user: string, password: string): Promise<boolean>;
}

/** A client response line (without CRLF), or the reply that ends the exchange (abort, I/O). */
export type Ask = (challenge: string) => Promise<string | Reply>;

export type SaslResult =
  | { readonly kind: 'ok'; readonly username: string }
  | { readonly kind: 'failed' }              // wrong credentials: 535, logged by the session
  // `temporary`: the authentication server failed (454); the reason goes to a warning log line.
  | { readonly kind: 'error'; readonly reply: Reply; readonly temporary?: string };

/** What a SASL server may know of the session. */
export interface SaslContext {
  /** TLS is active (Dovecot's `secured`). */
  readonly secured: boolean;
  /** smtpd_sasl_security_options, or smtpd_sasl_tls_security_options under TLS. */
  readonly securityOptions: readonly string[];
  /** smtpd_sasl_service. */
  readonly service: string;
  readonly clientAddress?: string;
  readonly localAddress?: string;
}

/** Runs AUTH exchanges: the mechanisms for EHLO, and one exchange per AUTH command. */
export interface SaslServer {
  mechanisms(ctx: SaslContext): Promise<readonly string[]>;
  authenticate(mech: string, initial: string | undefined, ask: Ask, ctx: SaslContext): Promise<SaslResult>;
}

/** passwordSasl - PLAIN and LOGIN checked by `backend` (the password file). */
export function passwordSasl(backend: SaslBackend): SaslServer {
  return {
    mechanisms: async () => SASL_MECHANISMS,
    authenticate: async (mech, initial, ask) => isSaslMechanism(mech)
      ? runSasl(mech, initial, ask, backend)
      : { kind: 'error', reply: reply(535, '7.8', 'Error: authentication failed: Invalid authentication mechanism') },
  };
}

const cannotDecode = () => reply(501, '5.2', 'Cannot decode response');

/** RFC 4954 §4: base64, or "=" for an empty initial response. */
function decode(b64: string): string | undefined {
  if (b64 === '=') return '';
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64) || b64.length % 4 !== 0) return undefined;
  return Buffer.from(b64, 'base64').toString('utf8');
}

export function isSaslMechanism(m: string): m is SaslMechanism {
  return (SASL_MECHANISMS as readonly string[]).includes(m);
}

export async function runSasl(mech: SaslMechanism, initial: string | undefined, ask: Ask, backend: SaslBackend): Promise<SaslResult> {
  let user: string | undefined, pass: string | undefined;
  if (mech === 'PLAIN') {
    const resp = initial ?? await ask('');
    if (typeof resp !== 'string') return { kind: 'error', reply: resp };
    const text = decode(resp);
    if (text === undefined) return { kind: 'error', reply: cannotDecode() };
    // RFC 4616 §2: [authzid] NUL authcid NUL passwd; acting for another user is not offered.
    const parts = text.split('\0');
    if (parts.length !== 3) return { kind: 'error', reply: cannotDecode() };
    [, user, pass] = parts;
    if (parts[0] && parts[0] !== user) return { kind: 'failed' };
  } else {
    const u = initial ?? await ask('VXNlcm5hbWU6'); // "Username:"
    if (typeof u !== 'string') return { kind: 'error', reply: u };
    user = decode(u);
    if (user === undefined) return { kind: 'error', reply: cannotDecode() };
    const p = await ask('UGFzc3dvcmQ6'); // "Password:"
    if (typeof p !== 'string') return { kind: 'error', reply: p };
    pass = decode(p);
    if (pass === undefined) return { kind: 'error', reply: cannotDecode() };
  }
  if (!user || pass === undefined || !(await backend.verify(user, pass))) return { kind: 'failed' };
  return { kind: 'ok', username: user };
}
