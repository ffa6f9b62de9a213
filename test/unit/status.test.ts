/** The one outcome → status mapping, as a table (OTLP specification, "Failures"). */
import { describe, expect, it } from 'vitest';
import { BadRequestError, MethodNotAllowedError, NotFoundError, OverloadedError, TooLargeError, UnauthenticatedError, UnavailableError, UnsupportedMediaTypeError } from '../../src/errors.ts';
import { ConflictError, DataError } from '../../src/errors.ts';
import { outcomeOf, statusJson, statusProto } from '../../src/receivers/status.ts';
import { BadRequest, RetryInfo, RpcStatus } from '../../src/otlp/proto.ts';
import { classify } from '../../src/store/db-errors.ts';

describe('outcomeOf', () => {
  it.each([
    [new BadRequestError('x'), 400, 3, undefined],
    [new DataError('x', '22P02'), 400, 3, undefined],
    [new TooLargeError('x'), 413, 8, undefined],
    [new UnsupportedMediaTypeError('x'), 415, 3, undefined],
    [new NotFoundError('x'), 404, 12, undefined],
    [new MethodNotAllowedError('x', 'POST'), 405, 12, undefined],
    [new UnauthenticatedError('x'), 401, 16, undefined],
    [new ConflictError('x'), 409, 9, undefined],
    [new OverloadedError('x', 2), 429, 14, 2],
    [new UnavailableError('x', 3), 503, 14, 3],
    [new Error('bug'), 500, 13, undefined],
  ])('%s → HTTP %i, gRPC %i, Retry-After %s', (err, http, grpc, retryAfter) => {
    const o = outcomeOf(err);
    expect([o.http, o.grpc, o.retryAfter]).toEqual([http, grpc, retryAfter]);
  });

  it('encodes RetryInfo and BadRequest details as typed Any messages in the protobuf Status', () => {
    const status = RpcStatus.toObject(RpcStatus.decode(statusProto(outcomeOf(new UnavailableError('db down', 3)))), { longs: Number }) as { code: number; details: Array<{ type_url: string; value: Uint8Array }> };
    expect(status.code).toBe(14);
    expect(status.details.map((d) => d.type_url)).toEqual(['type.googleapis.com/google.rpc.RetryInfo']);
    expect(RetryInfo.toObject(RetryInfo.decode(status.details[0]!.value), { longs: Number })).toEqual({ retryDelay: { seconds: 3 } });
    const bad = RpcStatus.decode(statusProto(outcomeOf(new BadRequestError('x', [{ field: 'a', description: 'b' }])))) as unknown as { details: Array<{ type_url: string; value: Uint8Array }> };
    expect(bad.details[0]!.type_url).toBe('type.googleapis.com/google.rpc.BadRequest');
    expect(BadRequest.toObject(BadRequest.decode(bad.details[0]!.value))).toEqual({ fieldViolations: [{ field: 'a', description: 'b' }] });
  });

  it('puts RetryInfo in the JSON Status of retryable outcomes', () => {
    expect(JSON.parse(statusJson(outcomeOf(new UnavailableError('db down', 2))))).toEqual({ code: 14, message: 'db down', details: [{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '2s' }] });
  });
});

describe('classify database errors by SQLSTATE', () => {
  it.each([
    ['22P02', 'DataError'], ['23502', 'DataError'], ['54000', 'DataError'],
    ['57P01', 'UnavailableError'], ['57014', 'UnavailableError'], ['55P03', 'UnavailableError'], ['08006', 'UnavailableError'], ['42P01', 'UnavailableError'], [undefined, 'UnavailableError'],
  ])('%s → %s', (code, name) => {
    expect(classify(Object.assign(new Error('e'), { code })).name).toBe(name);
  });
});
