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

describe('database errors are never quoted to the client', () => {
  it('names the class (and column, when the database says), keeping the database text for the log', () => {
    const pgError = Object.assign(new Error('index row size 3096 exceeds btree version 4 maximum 2704 for index "evaluations_response_id"'), { code: '54000' });
    const o = outcomeOf(classify(pgError));
    expect(o.http).toBe(400);
    expect(o.message).toBe('the database refused a value too large for the database (e.g. for an index) (SQLSTATE 54000); nothing of this request was stored');
    expect(o.detail).toContain('evaluations_response_id');
    const withColumn = outcomeOf(classify(Object.assign(new Error('value too long for type character varying(8)'), { code: '22001', column: 'score_label' })));
    expect(withColumn.message).toBe('the database refused a value the database cannot store (data exception) in score_label (SQLSTATE 22001); nothing of this request was stored');
    const down = outcomeOf(classify(Object.assign(new Error('connect ECONNREFUSED 10.0.0.7:5432'), { code: '08006' })));
    expect(down).toMatchObject({ http: 503, message: 'the database cannot take the rows now (SQLSTATE 08006); retry later', detail: 'connect ECONNREFUSED 10.0.0.7:5432' });
    // What goes out on the wire holds none of it.
    for (const x of [o, down]) {
      expect(statusJson(x)).not.toContain(x.detail!);
      expect(Buffer.from(statusProto(x)).toString('latin1')).not.toContain(x.detail!);
    }
  });

  it('answers a bug with a generic 500, the error kept for the log', () => {
    const o = outcomeOf(new TypeError("Cannot read properties of undefined (reading 'rows')"));
    expect(o).toMatchObject({ http: 500, message: 'internal error (logged by the receiver)', detail: "Cannot read properties of undefined (reading 'rows')" });
  });
});
