/**
 * The server side of SCRAM-SHA-256 against the example exchange of RFC 7677
 * §3 (user "user", password "pencil"), and what it refuses: a wrong proof,
 * a tampered nonce or channel binding, channel binding required, an
 * authorization identity.
 */
import { describe, expect, it } from 'vitest';
import { ScramExchange, ScramProtocolError, scramVerifier } from '../../src/store/pglite/scram.ts';

// RFC 7677 §3.
const SALT = Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64');
const CLIENT_FIRST = 'n,,n=user,r=rOprNGfwEbeRWgbNEkqO';
const SERVER_NONCE = '%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0';
const SERVER_FIRST = 'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096';
const CLIENT_FINAL = 'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=';
const SERVER_FINAL = 'v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=';

const exchange = (password = 'pencil') => new ScramExchange(scramVerifier(password, SALT, 4096), SERVER_NONCE);

describe('SCRAM-SHA-256, server side', () => {
  it('runs the RFC 7677 example exchange byte for byte', () => {
    const s = exchange();
    expect(s.first(CLIENT_FIRST)).toBe(SERVER_FIRST);
    expect(s.final(CLIENT_FINAL)).toBe(SERVER_FINAL);
  });

  it('refuses the same proof against another password', () => {
    const s = exchange('pencil2');
    expect(s.first(CLIENT_FIRST)).toBe(SERVER_FIRST);
    expect(s.final(CLIENT_FINAL)).toBeNull();
  });

  it('refuses a proof with one bit flipped', () => {
    const s = exchange();
    s.first(CLIENT_FIRST);
    const proof = Buffer.from(CLIENT_FINAL.split(',p=')[1]!, 'base64');
    proof[0]! ^= 1;
    expect(s.final(`${CLIENT_FINAL.split(',p=')[0]},p=${proof.toString('base64')}`)).toBeNull();
  });

  it.each([
    ['another nonce', CLIENT_FINAL.replace('k0,p=', 'k1,p='), 'SCRAM nonce does not match'],
    ['channel binding claimed', CLIENT_FINAL.replace('c=biws', 'c=eSws'), 'SCRAM channel binding does not match'],
    ['no proof', CLIENT_FINAL.split(',p=')[0]!, 'SCRAM client-final-message without a proof'],
  ])('treats a client-final-message with %s as a protocol violation', (_what, message, error) => {
    const s = exchange();
    s.first(CLIENT_FIRST);
    expect(() => s.final(message)).toThrow(new ScramProtocolError(error));
  });

  it.each([
    ['p=tls-server-end-point,,n=,r=abc', 'the client requires channel binding, which this port (no TLS) does not offer'],
    ['n,a=admin,n=,r=abc', 'SCRAM authorization identities are not supported'],
    ['n,,m=ext,n=,r=abc', 'SCRAM extensions are not supported'],
    ['n,,n=,r=', 'invalid SCRAM client nonce'],
    ['hello', 'malformed SCRAM client-first-message'],
  ])('refuses the client-first-message %j', (message, error) => {
    expect(() => exchange().first(message)).toThrow(new ScramProtocolError(error));
  });

  it('accepts "y" (client supports channel binding, server offers none) and expects it back in c=', () => {
    const s = exchange();
    s.first('y,,n=user,r=rOprNGfwEbeRWgbNEkqO');
    // The proof covers c=eSws, so the RFC's proof (made for c=biws) no longer verifies.
    expect(s.final(CLIENT_FINAL.replace('c=biws', 'c=eSws'))).toBeNull();
    expect(() => s.final(CLIENT_FINAL)).toThrow('SCRAM channel binding does not match');
  });
});
