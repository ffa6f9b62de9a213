/**
 * OTLP/gRPC receiver (OTLP specification, "OTLP/gRPC"): the unary Export
 * methods of TraceService and LogsService. Messages are taken as raw bytes
 * and decoded by the same path as OTLP/HTTP; grpc-js handles gzip and the
 * size limit (after decompression, answering RESOURCE_EXHAUSTED).
 */
import net from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { NotFoundError } from '../errors.ts';
import type { ExportResult, Ingest } from '../ingest.ts';
import type { Logger } from '../log.ts';
import { LogsResponse, TraceResponse } from '../otlp/proto.ts';
import type { Signal } from '../otlp/types.ts';
import { bindAddresses, formatAddress, isAddressUnavailable } from './listen.ts';
import { H2Gate } from './h2-gate.ts';
import { RefusalLog } from './refusals.ts';
import { ResetGuard } from './reset-guard.ts';
import { grpcError, METRICS_NOT_STORED, outcomeOf, type Outcome } from './status.ts';

export interface GrpcReceiverOptions {
  ingest: Ingest;
  maxMessageBytes: number;
  log: Logger;
  /** Checks call metadata; throws UnauthenticatedError to refuse. */
  authenticate?: (metadata: grpc.Metadata) => void;
  credentials?: grpc.ServerCredentials;
  onExport?: (signal: Signal, result: ExportResult | null, outcome: Outcome | null, seconds: number) => void;
  /** A call's request message must arrive whole within this (--receive-timeout): else DEADLINE_EXCEEDED. */
  receiveTimeoutMs?: number;
  /** HTTP/2 streams one connection may have open at once. */
  maxConcurrentStreams?: number;
  /** Memory one HTTP/2 connection may hold, in MiB (--max-receiving-per-connection); beyond it new streams are refused. */
  maxSessionMemoryMiB?: number;
}

/** How long an address whose connection flooded resets (reset-guard.ts, h2-gate.ts) is refused new connections. */
const RESET_COOLDOWN_MS = 10_000;

/** A call in progress, for the receive timeout and the drain deadline. */
interface Active {
  call: grpc.ServerInterceptingCall;
  done: boolean;
}

const raw = (b: Buffer) => b;

function unary(path: string): grpc.MethodDefinition<Buffer, Buffer> {
  return { path, requestStream: false, responseStream: false, requestSerialize: raw, requestDeserialize: raw, responseSerialize: raw, responseDeserialize: raw };
}

export const TRACE_EXPORT = '/opentelemetry.proto.collector.trace.v1.TraceService/Export';
export const LOGS_EXPORT = '/opentelemetry.proto.collector.logs.v1.LogsService/Export';
const METRICS_EXPORT = '/opentelemetry.proto.collector.metrics.v1.MetricsService/Export';

export class GrpcReceiver {
  readonly #opts: GrpcReceiverOptions;
  readonly #server: grpc.Server;
  readonly #active = new Set<Active>();
  readonly #guard: ResetGuard;
  readonly #maxResets: number;
  /** The listeners are Verdict's own, so a connection can be refused or closed before grpc-js spends anything on it. */
  readonly #listeners: net.Server[] = [];
  readonly #sockets = new Set<net.Socket>();
  readonly #refusals: RefusalLog;
  #port = 0;

  constructor(opts: GrpcReceiverOptions) {
    this.#opts = opts;
    this.#refusals = new RefusalLog(opts.log);
    const maxStreams = opts.maxConcurrentStreams ?? 100;
    // An exporter cancels at most the calls it has open, each once: twice that within a second is a flood.
    this.#maxResets = 2 * maxStreams;
    this.#guard = new ResetGuard({
      maxResetsPerSecond: this.#maxResets,
      cooldownMs: RESET_COOLDOWN_MS,
      onFlood: (address, resets) =>
        opts.log.warn({ address, resets, refusedForMs: RESET_COOLDOWN_MS }, 'closed a gRPC connection that cancelled streams faster than any exporter does (HTTP/2 rapid reset); refusing new connections from its address for a while'),
    });
    this.#server = new grpc.Server({
      'grpc.max_receive_message_length': opts.maxMessageBytes,
      'grpc.max_send_message_length': 4 * 1024 * 1024,
      // HTTP/2 limits (RFC 9113 SETTINGS_MAX_CONCURRENT_STREAMS): an exporter sends a few calls at once; a reset flood
      // (CVE-2023-44487) opens thousands. Node's http2 also refuses a session whose peer keeps resetting streams it was refused.
      'grpc.max_concurrent_streams': maxStreams,
      ...(opts.maxSessionMemoryMiB ? { 'grpc-node.max_session_memory': opts.maxSessionMemoryMiB } : {}),
      interceptors: [this.#track],
    });
    this.#server.addService({ Export: unary(TRACE_EXPORT) }, { Export: this.#export('traces') });
    this.#server.addService({ Export: unary(LOGS_EXPORT) }, { Export: this.#export('logs') });
    this.#server.addService({ Export: unary(METRICS_EXPORT) }, {
      Export: (_call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
        callback(grpcError(outcomeOf(new NotFoundError(METRICS_NOT_STORED))));
      },
    });
  }

  /**
   * Every call is tracked from its start: one whose request message has not
   * arrived whole within the receive timeout is answered DEADLINE_EXCEEDED
   * (grpc-js would hold a partial message for ever), and at the drain deadline
   * each unanswered call gets UNAVAILABLE, which exporters retry.
   */
  readonly #track: grpc.ServerInterceptor = (_method, next) => {
    const ms = this.#opts.receiveTimeoutMs;
    let timer: NodeJS.Timeout | null = null;
    const active: Active = { call: undefined as unknown as grpc.ServerInterceptingCall, done: false };
    const settle = () => {
      active.done = true;
      if (timer) clearTimeout(timer);
      this.#active.delete(active);
    };
    active.call = new grpc.ServerInterceptingCall(next, {
      start: (go) => {
        this.#active.add(active);
        if (ms) {
          timer = setTimeout(() => {
            if (active.done) return;
            active.call.sendStatus({ code: grpc.status.DEADLINE_EXCEEDED, details: `the request message did not arrive whole within ${ms} ms (the receive timeout)` });
          }, ms);
        }
        go({
          onReceiveMessage: (message, pass) => {
            if (timer) clearTimeout(timer);
            pass(message);
          },
          onCancel: () => {
            settle();
            this.#guard.reset(active.call.getPeer());
          },
        });
      },
      sendStatus: (status, pass) => {
        if (active.done) return;
        settle();
        pass(status);
      },
    });
    return active.call;
  };

  #export(signal: Signal): grpc.handleUnaryCall<Buffer, Buffer> {
    const ingest = this.#opts.ingest;
    return (call, callback) => {
      const started = performance.now();
      const run = async (): Promise<ExportResult> => {
        this.#opts.authenticate?.(call.metadata);
        return signal === 'traces' ? ingest.traces(call.request, 'protobuf', 'grpc') : ingest.logs(call.request, 'protobuf', 'grpc');
      };
      run().then(
        (r) => {
          this.#opts.onExport?.(signal, r, null, (performance.now() - started) / 1000);
          callback(null, Buffer.from(encodeResponse(signal, r)));
        },
        (err: unknown) => {
          const o = outcomeOf(err);
          this.#opts.onExport?.(signal, null, o, (performance.now() - started) / 1000);
          const line = { rpc: signal, code: grpc.status[o.grpc], err: o.message, ...(o.detail ? { detail: o.detail } : {}) };
          if (o.http >= 500) this.#opts.log.warn(line, 'request failed');
          else this.#refusals.refused(line);
          callback(grpcError(o));
        },
      );
    };
  }

  /** Binds every address of `host` on `port` (0 = any free port, the same on all addresses); returns host:port strings. */
  async listen(host: string, port: number): Promise<string[]> {
    const creds = this.#opts.credentials ?? grpc.ServerCredentials.createInsecure();
    // grpc-js serves connections it is handed (TLS included) as it serves those it accepts itself.
    const injector = this.#server.createConnectionInjector(creds);
    const bound: string[] = [];
    for (const address of bindAddresses(host)) {
      const server = net.createServer({ noDelay: true }, (socket) => {
        if (!this.#guard.admit(socket)) {
          socket.destroy();
          return;
        }
        this.#sockets.add(socket);
        socket.once('close', () => this.#sockets.delete(socket));
        // Plaintext connections pass the gate (h2-gate.ts); TLS ones are covered by the guard alone.
        injector.injectConnection(this.#opts.credentials ? socket : new H2Gate(socket, {
          maxResetsPerSecond: this.#maxResets,
          onFlood: (resets) => this.#guard.flooded(socket, resets),
        }));
      });
      try {
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject);
          server.listen({ host: address, port, ipv6Only: address.includes(':') }, () => {
            server.off('error', reject);
            resolve();
          });
        });
      } catch (err) {
        if (bound.length > 0 && isAddressUnavailable(err)) continue;
        throw err;
      }
      // Accept errors (out of file descriptors) are the machine's, not fatal to the receiver.
      server.on('error', (err) => this.#opts.log.warn({ err: String(err) }, 'gRPC listener error'));
      port = (server.address() as net.AddressInfo).port;
      this.#listeners.push(server);
      bound.push(formatAddress(address, port));
    }
    this.#port = port;
    return bound;
  }

  get port(): number {
    return this.#port;
  }

  /**
   * Stops accepting calls and waits for in-flight ones (bounded by the
   * caller's shutdown timeout). grpc-js closes each connection gracefully
   * (GOAWAY, then close once its calls are answered) but does not wait for
   * connections it was handed; the listeners do: their close completes when
   * the last connection they accepted has closed.
   */
  async close(): Promise<void> {
    const drained = Promise.all(this.#listeners.map((l) => new Promise<void>((resolve) => l.close(() => resolve()))));
    await new Promise<void>((resolve) => this.#server.tryShutdown(() => resolve()));
    await drained;
  }

  /** The drain deadline: every call not answered yet gets UNAVAILABLE (retryable), never a reset; then the connections close. */
  async forceClose(): Promise<void> {
    let answered = 0;
    for (const a of [...this.#active]) {
      if (a.done) continue;
      a.call.sendStatus({ code: grpc.status.UNAVAILABLE, details: 'the receiver is shutting down before this call could finish; retry' });
      answered++;
    }
    // Let the trailers flush before the connections go.
    if (answered > 0) await new Promise((r) => setTimeout(r, 200));
    for (const l of this.#listeners) l.close();
    this.#server.forceShutdown();
    // Connections not yet (or no longer) grpc-js's: a TLS handshake, a gated flood.
    for (const socket of this.#sockets) socket.destroy();
  }
}

function encodeResponse(signal: Signal, r: ExportResult): Uint8Array {
  if (r.rejected === 0 && r.message === '') return new Uint8Array(0);
  if (signal === 'traces') return TraceResponse.encode(TraceResponse.fromObject({ partialSuccess: { rejectedSpans: r.rejected, errorMessage: r.message } })).finish();
  return LogsResponse.encode(LogsResponse.fromObject({ partialSuccess: { rejectedLogRecords: r.rejected, errorMessage: r.message } })).finish();
}

