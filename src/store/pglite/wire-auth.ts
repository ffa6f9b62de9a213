/**
 * Password authentication in front of the embedded database's wire port.
 * PGlite answers any startup packet with AuthenticationOk as superuser, so
 * Verdict runs the start of the PostgreSQL protocol itself (protocol 3.0,
 * "Message Flow: Start-up" and "SASL Authentication" in the PostgreSQL
 * documentation) and hands the connection on only once the client has
 * proved it knows the password:
 *
 *   client                          Verdict
 *   SSLRequest / GSSENCRequest  →   N (no encryption on this port)
 *   StartupMessage              →   AuthenticationSASL [SCRAM-SHA-256]
 *   SASLInitialResponse         →   AuthenticationSASLContinue (server-first)
 *   SASLResponse                →   AuthenticationSASLFinal (server-final)
 *                                   then the startup packet goes to PGlite,
 *                                   which answers AuthenticationOk,
 *                                   ParameterStatus…, ReadyForQuery
 *
 * A wrong password gets ErrorResponse FATAL 28P01, anything else out of
 * order 08P01 (the SQLSTATEs PostgreSQL uses), and the connection closes.
 */
import type { Socket } from 'node:net';
import { MECHANISM, ScramExchange, ScramProtocolError, type ScramVerifier } from './scram.ts';

const SSL_REQUEST = 80877103;
const GSSENC_REQUEST = 80877104;
const CANCEL_REQUEST = 80877102;
const PROTOCOL_3_0 = 0x0003_0000;
/** PostgreSQL's own limit on a startup packet (MAX_STARTUP_PACKET_LENGTH). */
const MAX_STARTUP = 10_000;
/** SCRAM messages are a few hundred bytes; anything much larger is not one. */
const MAX_AUTH_MESSAGE = 8_192;

/** SQLSTATEs (PostgreSQL Appendix A). */
export const SQLSTATE = {
  invalidPassword: '28P01',
  invalidAuthorization: '28000',
  protocolViolation: '08P01',
  featureNotSupported: '0A000',
  tooManyConnections: '53300',
} as const;

/** How one connection's authentication ended. */
export type AuthOutcome =
  /** Authenticated: `replay` is the startup packet (as protocol 3.0) plus any bytes the client sent after it. */
  | { ok: true; user: string; replay: Buffer }
  | { ok: false; reason: string };

/** A backend message: type byte, int32 length (itself included), body. */
function message(type: string, body: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head.write(type, 0, 'latin1');
  head.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([head, body]);
}

const int32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
};
const cstring = (s: string) => Buffer.from(`${s}\0`, 'utf8');

/** AuthenticationSASL (10), AuthenticationSASLContinue (11), AuthenticationSASLFinal (12). */
const authentication = (code: number, data: Buffer) => message('R', Buffer.concat([int32(code), data]));

/** ErrorResponse with severity FATAL: the client shows `message`, then the connection ends. */
export function fatal(code: string, text: string): Buffer {
  return message('E', Buffer.concat([Buffer.from('SFATAL\0VFATAL\0', 'latin1'), cstring(`C${code}`), cstring(`M${text}`), Buffer.from([0])]));
}

/** NegotiateProtocolVersion: the newest minor version served (0) and the protocol options not recognised. */
function negotiate(unrecognised: string[]): Buffer {
  return message('v', Buffer.concat([int32(PROTOCOL_3_0), int32(unrecognised.length), ...unrecognised.map(cstring)]));
}

/** Reads a StartupMessage's parameters (name/value C strings, ended by an empty name). */
function startupParameters(packet: Buffer): Array<[string, string]> {
  const parts = packet.subarray(8).toString('utf8').split('\0');
  const out: Array<[string, string]> = [];
  for (let i = 0; i + 1 < parts.length && parts[i] !== ''; i += 2) out.push([parts[i]!, parts[i + 1]!]);
  return out;
}

/** A StartupMessage for protocol 3.0 with these parameters (what PGlite's handler understands). */
function startupPacket(params: Array<[string, string]>): Buffer {
  const body = Buffer.concat([...params.flatMap(([k, v]) => [cstring(k), cstring(v)]), Buffer.from([0])]);
  return Buffer.concat([int32(body.length + 8), int32(PROTOCOL_3_0), body]);
}

/**
 * Runs the start-up and SCRAM exchange on a fresh connection. Resolves once
 * the client is authenticated (the socket is paused, with no listeners of
 * ours left, ready to hand on) or refused (the socket is being closed).
 */
export function authenticate(socket: Socket, verifier: ScramVerifier, timeoutMs: number): Promise<AuthOutcome> {
  return new Promise((resolve) => {
    let buffered: Buffer = Buffer.alloc(0);
    let stage: 'startup' | 'initial' | 'final' = 'startup';
    let user = '';
    let replayStartup: Buffer = Buffer.alloc(0);
    let scram: ScramExchange | null = null;
    let settled = false;

    const finish = (outcome: AuthOutcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('error', onGone);
      socket.off('close', onGone);
      resolve(outcome);
    };
    const refuse = (code: string, text: string) => {
      socket.end(fatal(code, text));
      finish({ ok: false, reason: text });
    };
    const onGone = () => {
      socket.destroy();
      finish({ ok: false, reason: 'the client closed the connection during authentication' });
    };
    const timer = setTimeout(() => refuse(SQLSTATE.protocolViolation, 'authentication timed out'), timeoutMs);

    /** Handles what has arrived; returns false when it needs more bytes. */
    const step = (): boolean => {
      if (stage === 'startup') {
        if (buffered.length < 8) return false;
        const length = buffered.readInt32BE(0);
        const code = buffered.readInt32BE(4);
        if (length < 8 || length > MAX_STARTUP) {
          socket.destroy();
          finish({ ok: false, reason: 'invalid startup packet length' });
          return false;
        }
        if (buffered.length < length) return false;
        const packet = buffered.subarray(0, length);
        buffered = buffered.subarray(length);
        if (code === SSL_REQUEST || code === GSSENC_REQUEST) {
          socket.write('N');
          return true;
        }
        if (code === CANCEL_REQUEST) {
          // There is no backend process to signal; PostgreSQL answers nothing either.
          socket.destroy();
          finish({ ok: false, reason: 'cancel request' });
          return false;
        }
        if (code >>> 16 !== 3) {
          refuse(SQLSTATE.featureNotSupported, `unsupported frontend protocol ${code >>> 16}.${code & 0xffff}: server supports 3.0`);
          return false;
        }
        const params = startupParameters(packet);
        const plain = params.filter(([k]) => !k.startsWith('_pq_.'));
        if ((code & 0xffff) !== 0 || plain.length !== params.length) {
          // A newer minor version or protocol options: offer 3.0 without them, as PostgreSQL does.
          socket.write(negotiate(params.filter(([k]) => k.startsWith('_pq_.')).map(([k]) => k)));
        }
        user = plain.find(([k]) => k === 'user')?.[1] ?? '';
        if (!user) {
          refuse(SQLSTATE.invalidAuthorization, 'no PostgreSQL user name specified in startup packet');
          return false;
        }
        replayStartup = (code & 0xffff) === 0 && plain.length === params.length ? Buffer.from(packet) : startupPacket(plain);
        socket.write(authentication(10, Buffer.concat([cstring(MECHANISM), Buffer.from([0])])));
        stage = 'initial';
        return true;
      }

      if (buffered.length < 5) return false;
      const type = String.fromCharCode(buffered[0]!);
      const length = buffered.readInt32BE(1);
      if (type === 'X') {
        // Terminate: the client gives up (psql without a password does, to ask for one).
        socket.end();
        finish({ ok: false, reason: 'the client ended the connection during authentication' });
        return false;
      }
      if (type !== 'p') {
        refuse(SQLSTATE.protocolViolation, `expected a password response, got message type "${type}": authenticate first`);
        return false;
      }
      if (length < 4 || length > MAX_AUTH_MESSAGE) {
        refuse(SQLSTATE.protocolViolation, 'invalid authentication message length');
        return false;
      }
      if (buffered.length < 1 + length) return false;
      const body = buffered.subarray(5, 1 + length);
      buffered = buffered.subarray(1 + length);
      const failed = () => refuse(SQLSTATE.invalidPassword, `password authentication failed for user "${user}"`);
      try {
        if (stage === 'initial') {
          // SASLInitialResponse: mechanism name, int32 length of the data (-1: none), data.
          const nul = body.indexOf(0);
          const mechanism = nul === -1 ? '' : body.subarray(0, nul).toString('utf8');
          const dataLength = nul !== -1 && body.length >= nul + 5 ? body.readInt32BE(nul + 1) : -1;
          if (mechanism !== MECHANISM || dataLength < 0 || body.length !== nul + 5 + dataLength) {
            // A cleartext or MD5 password message, an empty one, or another mechanism: not authenticated.
            failed();
            return false;
          }
          scram = new ScramExchange(verifier);
          socket.write(authentication(11, Buffer.from(scram.first(body.subarray(nul + 5).toString('utf8')), 'utf8')));
          stage = 'final';
          return true;
        }
        const serverFinal = scram!.final(body.toString('utf8'));
        if (serverFinal === null) {
          failed();
          return false;
        }
        socket.write(authentication(12, Buffer.from(serverFinal, 'utf8')));
        socket.pause();
        finish({ ok: true, user, replay: Buffer.concat([replayStartup, buffered]) });
        return false;
      } catch (err) {
        if (!(err instanceof ScramProtocolError)) throw err;
        refuse(SQLSTATE.protocolViolation, err.message);
        return false;
      }
    };

    const onData = (chunk: Buffer) => {
      buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
      while (!settled && step());
    };
    socket.on('data', onData);
    socket.on('error', onGone);
    socket.on('close', onGone);
  });
}
