/**
 * The normalised rows Verdict writes: the data model between the normaliser
 * (and the feedback API and rules, which also make rows) and the store.
 * Spans, the bulk of the data, are written by the normaliser straight into
 * COPY binary (EncodedRows); log records and evaluations, fewer and inspected
 * by rules and the feedback API, are objects whose field names equal column
 * names. Times are exact nanoseconds (bigint); jsonb columns hold JSON text.
 */
import type { EncodedRows } from '../common/copy-binary.ts';

/** A resource, stored once and referenced from spans and log records by its content key. */
export interface ResourceRow {
  resource_id: string;
  service_name: string | null;
  service_version: string | null;
  /** JSON text of the attributes. */
  attributes: string;
  schema_url: string | null;
}

/**
 * What the summaries and rollups need of each span, kept beside its COPY
 * row: runs, conversations and per-minute rollups are merged from these
 * (store/summaries.ts), for the spans a transaction really inserted.
 */
export interface SpanFact {
  traceId: string;
  spanId: string;
  /** No parent: the run's root. */
  root: boolean;
  name: string;
  startNs: bigint;
  endNs: bigint;
  /** startNs in whole microseconds (exact as a number), for the rollups' minutes and hours. */
  startUs: number;
  durationNs: number;
  error: boolean;
  serviceName: string | null;
  serviceVersion: string | null;
  operation: string | null;
  requestModel: string | null;
  responseModel: string | null;
  agentName: string | null;
  toolName: string | null;
  conversationId: string | null;
  responseId: string | null;
  userId: string | null;
  /** Exact (a sender may send any int64). */
  inputTokens: bigint | null;
  outputTokens: bigint | null;
  /** A model call (chat, text_completion, generate_content): its text may stand for its run's. */
  modelCall: boolean;
  /** The row's verdict.input_text and verdict.output_text, as written (null when its content comes later, from log records). */
  inputText: string | null;
  outputText: string | null;
}

export interface LogRow {
  /** Content hash: a re-sent record maps to the same id. */
  id: string;
  trace_id: string | null;
  span_id: string | null;
  time_unix_nano: bigint;
  observed_time_unix_nano: bigint;
  severity_number: number;
  severity_text: string | null;
  event_name: string | null;
  body: string | null;
  attributes: string;
  resource_id: string;
  service_name: string | null;
  scope_name: string | null;
  scope_version: string | null;
  scope_attributes: string;
  flags: number;
  dropped_attributes_count: number;
  scope_schema_url: string | null;
  /**
   * Sent with neither timestamp: stored at its arrival time, so a re-sent
   * copy has another partition key and is found by its id instead (not a column).
   */
  timeless?: true;
}

/** How a verdict arrived; `span_attribute`: carried in a span's attributes (OpenInference annotations). */
export type Channel = 'log' | 'span_event' | 'span_attribute' | 'api' | 'rule' | 'judge' | 'review';
export type Polarity = 'positive' | 'negative' | 'neutral';

export interface EvaluationRow {
  /** Content hash (or the caller's id for the feedback API): delivered twice, stored once. */
  id: string;
  trace_id: string | null;
  span_id: string | null;
  response_id: string | null;
  conversation_id: string | null;
  name: string;
  score_value: number | null;
  score_label: string | null;
  explanation: string | null;
  error_type: string | null;
  time_unix_nano: bigint;
  channel: Channel;
  source: string | null;
  polarity: Polarity | null;
  service_name: string | null;
  attributes: string;
  /** What it judges, when the normaliser already knows (a span event judges its span); else resolved in the store. */
  target: TargetFacts | null;
  /** A reviewer's written correction: what the answer should have been. */
  correction?: string | null;
}

/** The judged span's facts, stored on the verdict so that reads and rollups need no join. */
export interface TargetFacts {
  trace_id: string;
  span_id: string;
  span_name: string;
  service_name: string | null;
  service_version: string | null;
  operation_name: string | null;
  request_model: string | null;
  response_model: string | null;
  agent_name: string | null;
  conversation_id: string | null;
}

/**
 * A user message seen in a conversation, for the `repeat` rule: the write
 * transaction records it in verdict.user_turns and compares it with earlier
 * runs of the same conversation there.
 */
export interface TurnRow {
  conversation_id: string;
  /** Hash of the normalised message text. */
  message_hash: string;
  trace_id: string;
  span_id: string;
  time_unix_nano: bigint;
  /** The start of the message, for the verdict's explanation. */
  message: string;
  /** The rule that asked for it (its verdicts carry this name). */
  rule: string;
  label: string;
  polarity: Polarity;
}

/**
 * Message content that a log record carries for its span (a GenAI message
 * event), in the one shape: the write transaction copies it onto the span,
 * whichever of the two arrives first (store/span-content.ts).
 */
export interface MessageRow {
  trace_id: string;
  span_id: string;
  /** The log record's id: the content belongs to (and is deleted with) that record. */
  log_id: string;
  /** input and output are message lists; system, a list of parts (system instructions). */
  kind: 'input' | 'output' | 'system';
  time_unix_nano: bigint;
  /** The order in which the receiver read the record: records of one call often share a millisecond. */
  seq: number;
  /** JSON text. */
  content: string;
}

/** A span of this batch that is a model call without message content: its log records may hold it. */
export interface SpanRef {
  trace_id: string;
  span_id: string;
}

/** Everything one request (or one API call) adds, written in one transaction. */
export interface Batch {
  spans: EncodedRows;
  /** One per span row, in the same order. */
  facts: SpanFact[];
  /** The resources the spans and log records reference (each once). */
  resources: ResourceRow[];
  logs: LogRow[];
  evaluations: EvaluationRow[];
  turns: TurnRow[];
  messages: MessageRow[];
  contentless: SpanRef[];
}

const NO_SPANS: EncodedRows = Object.freeze({ rows: 0, chunks: [], bytes: 0 });

export function emptyBatch(): Batch {
  return { spans: NO_SPANS, facts: [], resources: [], logs: [], evaluations: [], turns: [], messages: [], contentless: [] };
}

export function batchRows(b: Batch): number {
  return b.spans.rows + b.logs.length + b.evaluations.length;
}
