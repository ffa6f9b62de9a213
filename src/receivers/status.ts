/**
 * The one place where outcomes become protocol status codes (OTLP
 * specification, "Failures" for OTLP/gRPC and OTLP/HTTP; the reference
 * Collector's internal/errors/errors.go for the cases the spec leaves open).
 *
 * | outcome                      | HTTP             | gRPC                                |
 * |------------------------------|------------------|-------------------------------------|
 * | undecodable / invalid data   | 400              | INVALID_ARGUMENT (+ BadRequest)     |
 * | body over the size limit     | 413              | RESOURCE_EXHAUSTED (no RetryInfo)   |
 * | unsupported content type     | 415              | —                                   |
 * | unknown path / metrics       | 404              | UNIMPLEMENTED                       |
 * | wrong method                 | 405              | —                                   |
 * | missing credentials          | 401              | UNAUTHENTICATED                     |
 * | browser origin not allowed   | 403              | PERMISSION_DENIED                   |
 * | review item's state forbids  | 409              | FAILED_PRECONDITION                 |
 * | body too slow to arrive      | 408              | DEADLINE_EXCEEDED                   |
 * | over the in-flight budget    | 429 + Retry-After| UNAVAILABLE + RetryInfo             |
 * | database unavailable, drain  | 503 + Retry-After| UNAVAILABLE + RetryInfo             |
 * | anything else                | 500              | INTERNAL                            |
 *
 * 429, 503 and UNAVAILABLE are the codes OTLP clients retry; 400, 413 and
 * INVALID_ARGUMENT they must not.
 */
import { status as GrpcStatus, Metadata } from '@grpc/grpc-js';
import {
  BadRequestError,
  ConflictError,
  DataError,
  ForbiddenError,
  MethodNotAllowedError,
  NotFoundError,
  OverloadedError,
  RequestTimeoutError,
  TooLargeError,
  UnauthenticatedError,
  UnavailableError,
  UnsupportedMediaTypeError,
} from '../errors.ts';
import { BadRequest, RetryInfo, RpcStatus } from '../otlp/proto.ts';

/** Why /v1/metrics and MetricsService/Export answer 404 / UNIMPLEMENTED. */
export const METRICS_NOT_STORED = 'Verdict stores traces and logs, not metrics: send metrics to a metrics backend';

export interface Outcome {
  http: number;
  grpc: GrpcStatus;
  message: string;
  /** Seconds, for Retry-After and RetryInfo; set only on retryable outcomes. */
  retryAfter?: number;
  violations?: ReadonlyArray<{ field: string; description: string }>;
  allow?: string;
  /** The full cause (a database's own message), for the server's log only: never sent to the client. */
  detail?: string;
}

export function outcomeOf(err: unknown): Outcome {
  const message = err instanceof Error ? err.message : String(err);
  if (err instanceof BadRequestError) return { http: 400, grpc: GrpcStatus.INVALID_ARGUMENT, message, violations: err.violations };
  if (err instanceof DataError) return { http: 400, grpc: GrpcStatus.INVALID_ARGUMENT, message, ...(err.detail ? { detail: err.detail } : {}) };
  if (err instanceof TooLargeError) return { http: 413, grpc: GrpcStatus.RESOURCE_EXHAUSTED, message };
  if (err instanceof UnsupportedMediaTypeError) return { http: 415, grpc: GrpcStatus.INVALID_ARGUMENT, message };
  if (err instanceof NotFoundError) return { http: 404, grpc: GrpcStatus.UNIMPLEMENTED, message };
  if (err instanceof MethodNotAllowedError) return { http: 405, grpc: GrpcStatus.UNIMPLEMENTED, message, allow: err.allow };
  if (err instanceof UnauthenticatedError) return { http: 401, grpc: GrpcStatus.UNAUTHENTICATED, message };
  if (err instanceof ConflictError) return { http: 409, grpc: GrpcStatus.FAILED_PRECONDITION, message };
  if (err instanceof ForbiddenError) return { http: 403, grpc: GrpcStatus.PERMISSION_DENIED, message };
  if (err instanceof RequestTimeoutError) return { http: 408, grpc: GrpcStatus.DEADLINE_EXCEEDED, message };
  if (err instanceof OverloadedError) return { http: 429, grpc: GrpcStatus.UNAVAILABLE, message, retryAfter: err.retryAfterSeconds };
  if (err instanceof UnavailableError) return { http: 503, grpc: GrpcStatus.UNAVAILABLE, message, retryAfter: err.retryAfterSeconds, ...(err.detail ? { detail: err.detail } : {}) };
  // A bug: the client learns that much; the log gets the error.
  return { http: 500, grpc: GrpcStatus.INTERNAL, message: 'internal error (logged by the receiver)', detail: message };
}

const TYPE_URL = 'type.googleapis.com/';
// protobufjs's bundled google.protobuf.Any keeps the proto field names (type_url), unlike our own files.

/** google.rpc.Status as protobuf bytes, with RetryInfo / BadRequest details when they apply. */
export function statusProto(o: Outcome): Uint8Array {
  const details: Array<{ type_url: string; value: Uint8Array }> = [];
  if (o.retryAfter !== undefined) {
    details.push({ type_url: `${TYPE_URL}google.rpc.RetryInfo`, value: RetryInfo.encode(RetryInfo.fromObject({ retryDelay: { seconds: o.retryAfter, nanos: 0 } })).finish() });
  }
  if (o.violations && o.violations.length > 0) {
    details.push({ type_url: `${TYPE_URL}google.rpc.BadRequest`, value: BadRequest.encode(BadRequest.fromObject({ fieldViolations: o.violations })).finish() });
  }
  return RpcStatus.encode(RpcStatus.fromObject({ code: o.grpc, message: o.message, details })).finish();
}

/** google.rpc.Status in the proto3 JSON mapping (details as Any with "@type"). */
export function statusJson(o: Outcome): string {
  const details: unknown[] = [];
  if (o.retryAfter !== undefined) details.push({ '@type': `${TYPE_URL}google.rpc.RetryInfo`, retryDelay: `${o.retryAfter}s` });
  if (o.violations && o.violations.length > 0) details.push({ '@type': `${TYPE_URL}google.rpc.BadRequest`, fieldViolations: o.violations });
  return JSON.stringify(details.length > 0 ? { code: o.grpc, message: o.message, details } : { code: o.grpc, message: o.message });
}

/** A grpc-js error for a unary callback, with the Status (and its details) in grpc-status-details-bin. */
export function grpcError(o: Outcome): { code: GrpcStatus; details: string; metadata: Metadata } {
  const metadata = new Metadata();
  if (o.retryAfter !== undefined || o.violations?.length) metadata.set('grpc-status-details-bin', Buffer.from(statusProto(o)));
  return { code: o.grpc, details: o.message, metadata };
}
