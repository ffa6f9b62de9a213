/**
 * OTLP/gRPC receiver (OTLP specification, "OTLP/gRPC"): the unary Export
 * methods of TraceService and LogsService. Messages are taken as raw bytes
 * and decoded by the same path as OTLP/HTTP; grpc-js handles gzip and the
 * size limit (after decompression, answering RESOURCE_EXHAUSTED).
 */
import * as grpc from '@grpc/grpc-js';
import { NotFoundError } from '../errors.ts';
import type { ExportResult, Ingest } from '../ingest.ts';
import type { Logger } from '../log.ts';
import { LogsResponse, TraceResponse } from '../otlp/proto.ts';
import type { Signal } from '../otlp/types.ts';
import { bindAddresses, formatAddress, isAddressUnavailable } from './listen.ts';
import { grpcError, METRICS_NOT_STORED, outcomeOf, type Outcome } from './status.ts';

export interface GrpcReceiverOptions {
  ingest: Ingest;
  maxMessageBytes: number;
  log: Logger;
  /** Checks call metadata; throws UnauthenticatedError to refuse. */
  authenticate?: (metadata: grpc.Metadata) => void;
  credentials?: grpc.ServerCredentials;
  onExport?: (signal: Signal, result: ExportResult | null, outcome: Outcome | null, seconds: number) => void;
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
  #port = 0;

  constructor(opts: GrpcReceiverOptions) {
    this.#opts = opts;
    this.#server = new grpc.Server({
      'grpc.max_receive_message_length': opts.maxMessageBytes,
      'grpc.max_send_message_length': 4 * 1024 * 1024,
    });
    this.#server.addService({ Export: unary(TRACE_EXPORT) }, { Export: this.#export('traces') });
    this.#server.addService({ Export: unary(LOGS_EXPORT) }, { Export: this.#export('logs') });
    this.#server.addService({ Export: unary(METRICS_EXPORT) }, {
      Export: (_call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
        callback(grpcError(outcomeOf(new NotFoundError(METRICS_NOT_STORED))));
      },
    });
  }

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
          else this.#opts.log.info(line, 'request refused');
          callback(grpcError(o));
        },
      );
    };
  }

  async listen(host: string, port: number): Promise<string[]> {
    const creds = this.#opts.credentials ?? grpc.ServerCredentials.createInsecure();
    const bound: string[] = [];
    for (const address of bindAddresses(host)) {
      try {
        port = await new Promise<number>((resolve, reject) =>
          this.#server.bindAsync(formatAddress(address, port), creds, (err, p) => (err ? reject(err) : resolve(p))),
        );
      } catch (err) {
        // grpc-js reports a missing ::1 as a bind error without an errno code.
        if (bound.length > 0 && (isAddressUnavailable(err) || /No address added|EADDRNOTAVAIL|EAFNOSUPPORT/.test(String(err)))) continue;
        throw err;
      }
      bound.push(formatAddress(address, port));
    }
    this.#port = port;
    return bound;
  }

  get port(): number {
    return this.#port;
  }

  /** Stops accepting calls and waits for in-flight ones (bounded by the caller's shutdown timeout). */
  close(): Promise<void> {
    return new Promise((resolve) => this.#server.tryShutdown(() => resolve()));
  }

  /** Cancels in-flight calls. */
  forceClose(): void {
    this.#server.forceShutdown();
  }
}

function encodeResponse(signal: Signal, r: ExportResult): Uint8Array {
  if (r.rejected === 0 && r.message === '') return new Uint8Array(0);
  if (signal === 'traces') return TraceResponse.encode(TraceResponse.fromObject({ partialSuccess: { rejectedSpans: r.rejected, errorMessage: r.message } })).finish();
  return LogsResponse.encode(LogsResponse.fromObject({ partialSuccess: { rejectedLogRecords: r.rejected, errorMessage: r.message } })).finish();
}

