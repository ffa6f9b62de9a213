/**
 * The outcomes a request can end in, other than success, and the start-up
 * failure of a bad setting. Each class says what went wrong in the receiver's
 * own terms; `receivers/status.ts` is the one place that turns them into HTTP
 * and gRPC status codes, and `cli.ts` the one that turns ConfigError into
 * exit code 2 (StartupError into 1).
 */

/** A configuration problem found at start-up; the CLI prints its message (naming the setting) and exits 2. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/**
 * Start-up could not finish for a reason outside the settings (the database
 * stayed unreachable for all of --database-wait); the CLI prints its message
 * and exits 1.
 */
export class StartupError extends Error {
  override readonly name = 'StartupError';
}

/**
 * An outcome of what a client sent. Expected, and frequent when a client
 * misbehaves, and its stack says nothing about the receiver, so none is
 * captured: capturing one costs tens of microseconds per refused request.
 */
class ClientFault extends Error {
  constructor(message: string) {
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(message);
    Error.stackTraceLimit = limit;
  }
}

/** The request body could not be decoded, or is permanently invalid (HTTP 400, gRPC INVALID_ARGUMENT). */
export class BadRequestError extends ClientFault {
  override readonly name = 'BadRequestError';
  /** Field-level violations, for google.rpc.BadRequest details. */
  readonly violations: ReadonlyArray<{ field: string; description: string }>;
  constructor(message: string, violations: ReadonlyArray<{ field: string; description: string }> = []) {
    super(message);
    this.violations = violations;
  }
}

/** The body is larger than the configured limit (HTTP 413, gRPC RESOURCE_EXHAUSTED without RetryInfo). */
export class TooLargeError extends ClientFault {
  override readonly name = 'TooLargeError';
}

/** The content type is not one OTLP defines (HTTP 415). */
export class UnsupportedMediaTypeError extends ClientFault {
  override readonly name = 'UnsupportedMediaTypeError';
}

/** The path or method is not served (HTTP 404/405, gRPC UNIMPLEMENTED). */
export class NotFoundError extends ClientFault {
  override readonly name = 'NotFoundError';
}
export class MethodNotAllowedError extends ClientFault {
  override readonly name = 'MethodNotAllowedError';
  readonly allow: string;
  constructor(message: string, allow: string) {
    super(message);
    this.allow = allow;
  }
}

/**
 * The request body (or gRPC message) arrived too slowly: below the minimum
 * receive rate, or not whole within the receive timeout (HTTP 408, gRPC
 * DEADLINE_EXCEEDED). The client may retry, faster.
 */
export class RequestTimeoutError extends Error {
  override readonly name = 'RequestTimeoutError';
}

/** Missing or wrong credentials (HTTP 401, gRPC UNAUTHENTICATED). */
export class UnauthenticatedError extends ClientFault {
  override readonly name = 'UnauthenticatedError';
}

/** Credentials are fine but the caller may not do this, e.g. a browser origin not allowed by CORS (HTTP 403, gRPC PERMISSION_DENIED). */
export class ForbiddenError extends ClientFault {
  override readonly name = 'ForbiddenError';
}

/**
 * The request is valid but the resource's state forbids it now, e.g. a
 * review item whose lease ran out or that another reviewer holds (HTTP 409).
 */
export class ConflictError extends Error {
  override readonly name = 'ConflictError';
}

/**
 * The database refuses the rows whatever the moment (a bad value, a limit):
 * retrying cannot help (HTTP 400, gRPC INVALID_ARGUMENT). `code` is the
 * SQLSTATE, for metrics and logs; the message never quotes the database.
 */
export class DataError extends Error {
  override readonly name = 'DataError';
  readonly code: string;
  /** What the database said, in full: for the server's log, never for the client. */
  readonly detail: string | undefined;
  constructor(message: string, code: string, detail?: string) {
    super(message);
    this.code = code;
    this.detail = detail;
  }
}

/**
 * The receiver is over its in-flight budget: the client should slow down and
 * retry (HTTP 429 + Retry-After, gRPC RESOURCE_EXHAUSTED + RetryInfo).
 */
export class OverloadedError extends Error {
  override readonly name = 'OverloadedError';
  readonly retryAfterSeconds: number;
  constructor(message: string, retryAfterSeconds = 1) {
    super(message);
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/**
 * The database cannot take the rows now (down, restarting, timed out), or
 * the receiver is shutting down. Nothing was committed; the client should
 * retry (HTTP 503 + Retry-After, gRPC UNAVAILABLE + RetryInfo).
 */
export class UnavailableError extends Error {
  override readonly name = 'UnavailableError';
  readonly retryAfterSeconds: number;
  /** What the database or driver said, in full: for the server's log, never for the client. */
  readonly detail: string | undefined;
  constructor(message: string, retryAfterSeconds = 1, options?: { cause?: unknown; detail?: string }) {
    super(message, options);
    this.retryAfterSeconds = retryAfterSeconds;
    this.detail = options?.detail;
  }
}
