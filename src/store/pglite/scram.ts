/**
 * The server side of SCRAM-SHA-256 (RFC 5802, with SHA-256 as RFC 7677
 * specifies), the way PostgreSQL runs it: the user name inside the SCRAM
 * messages is ignored (the startup packet names the user), no channel
 * binding is offered (the port has no TLS), and no authorization identity
 * is accepted.
 *
 * Only the salted verifier (StoredKey, ServerKey) is kept in memory, as
 * PostgreSQL keeps it in pg_authid; the proof is checked in constant time.
 */
import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';

export const MECHANISM = 'SCRAM-SHA-256';
/** PostgreSQL's default scram_iterations. */
const ITERATIONS = 4096;

/** What the server keeps of a password (RFC 5802 §3). */
export interface ScramVerifier {
  salt: Buffer;
  iterations: number;
  storedKey: Buffer;
  serverKey: Buffer;
}

/** A malformed SCRAM message (a protocol violation, not a wrong password). */
export class ScramProtocolError extends Error {
  override readonly name = 'ScramProtocolError';
}

const hmac = (key: Buffer, text: string) => createHmac('sha256', key).update(text).digest();
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest();

/**
 * The verifier of a password. Passwords are printable ASCII (password.ts
 * checks), for which SASLprep (RFC 4013), applied by libpq, changes nothing.
 */
export function scramVerifier(password: string, salt: Buffer = randomBytes(16), iterations = ITERATIONS): ScramVerifier {
  const salted = pbkdf2Sync(password, salt, iterations, 32, 'sha256');
  return { salt, iterations, storedKey: sha256(hmac(salted, 'Client Key')), serverKey: hmac(salted, 'Server Key') };
}

/** Splits `a=1,b=2` into attributes, in order. */
function attributes(text: string): Array<[string, string]> {
  return text.split(',').map((part) => {
    if (!/^[A-Za-z]=/.test(part)) throw new ScramProtocolError(`malformed SCRAM attribute ${JSON.stringify(part.slice(0, 20))}`);
    return [part[0]!, part.slice(2)];
  });
}

/** One authentication exchange: client-first → server-first, client-final → server-final or a refusal. */
export class ScramExchange {
  readonly #verifier: ScramVerifier;
  readonly #serverNonce: string;
  #gs2Header = '';
  #clientFirstBare = '';
  #serverFirst = '';
  #nonce = '';

  /** `serverNonce` only for tests (RFC 7677's example); normally 18 random bytes. */
  constructor(verifier: ScramVerifier, serverNonce: string = randomBytes(18).toString('base64')) {
    this.#verifier = verifier;
    this.#serverNonce = serverNonce;
  }

  /** Reads the client-first-message, answers the server-first-message. */
  first(clientFirst: string): string {
    // gs2-header: a channel-binding flag and an (empty) authorization identity, RFC 5802 §7.
    const m = /^(n|y|p=[^,]*),([^,]*),(.*)$/s.exec(clientFirst);
    if (!m) throw new ScramProtocolError('malformed SCRAM client-first-message');
    if (m[1]!.startsWith('p=')) throw new ScramProtocolError('the client requires channel binding, which this port (no TLS) does not offer');
    if (m[2] !== '') throw new ScramProtocolError('SCRAM authorization identities are not supported');
    const attrs = attributes(m[3]!);
    if (attrs[0]?.[0] === 'm') throw new ScramProtocolError('SCRAM extensions are not supported');
    if (attrs[0]?.[0] !== 'n' || attrs[1]?.[0] !== 'r') throw new ScramProtocolError('malformed SCRAM client-first-message');
    const clientNonce = attrs[1][1];
    if (clientNonce === '' || !/^[\x21-\x2b\x2d-\x7e]+$/.test(clientNonce)) throw new ScramProtocolError('invalid SCRAM client nonce');
    this.#gs2Header = `${m[1]},${m[2]},`;
    this.#clientFirstBare = m[3]!;
    this.#nonce = clientNonce + this.#serverNonce;
    this.#serverFirst = `r=${this.#nonce},s=${this.#verifier.salt.toString('base64')},i=${this.#verifier.iterations}`;
    return this.#serverFirst;
  }

  /** Reads the client-final-message: the server-final-message if the proof is right, null if the password is wrong. */
  final(clientFinal: string): string | null {
    if (!this.#serverFirst) throw new ScramProtocolError('SCRAM client-final-message before client-first-message');
    const at = clientFinal.lastIndexOf(',p=');
    if (at === -1) throw new ScramProtocolError('SCRAM client-final-message without a proof');
    const withoutProof = clientFinal.slice(0, at);
    const attrs = attributes(withoutProof);
    if (attrs[0]?.[0] !== 'c' || attrs[1]?.[0] !== 'r') throw new ScramProtocolError('malformed SCRAM client-final-message');
    // Without channel binding, c= carries the gs2 header back unchanged.
    if (attrs[0][1] !== Buffer.from(this.#gs2Header).toString('base64')) throw new ScramProtocolError('SCRAM channel binding does not match');
    if (attrs[1][1] !== this.#nonce) throw new ScramProtocolError('SCRAM nonce does not match');
    const proof = Buffer.from(clientFinal.slice(at + 3), 'base64');
    if (proof.length !== 32) throw new ScramProtocolError('malformed SCRAM client proof');
    const authMessage = `${this.#clientFirstBare},${this.#serverFirst},${withoutProof}`;
    const signature = hmac(this.#verifier.storedKey, authMessage);
    const clientKey = Buffer.alloc(32);
    for (let i = 0; i < 32; i++) clientKey[i] = proof[i]! ^ signature[i]!;
    if (!timingSafeEqual(sha256(clientKey), this.#verifier.storedKey)) return null;
    return `v=${hmac(this.#verifier.serverKey, authMessage).toString('base64')}`;
  }
}
