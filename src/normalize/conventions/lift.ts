/**
 * What the conventions lift from one span into columns, and the rule that
 * settles between them: every candidate value carries a rank (its
 * convention's place in the order of precedence, then its place in that
 * convention's table), and the lowest rank wins. So the first convention
 * that supplies a column wins, whatever order the attributes arrive in.
 *
 * Scalar columns keep only their best candidate. Content columns keep every
 * candidate and resolve them best first, only when the span is written, so
 * JSON that a better candidate makes unnecessary is never parsed.
 */
import type { AnyValue, KeyValue } from '../../otlp/types.ts';
import type { WrittenContent } from '../content.ts';
import type { Fragment } from '../message-events.ts';
import type { Annotation } from './annotations.ts';

/** The scalar columns, as indexes of the lifted values. */
export const COL = {
  operation: 0,
  provider: 1,
  requestModel: 2,
  responseModel: 3,
  responseId: 4,
  conversationId: 5,
  agentName: 6,
  toolName: 7,
  toolCallId: 8,
  userId: 9,
  inputTokens: 10,
  outputTokens: 11,
} as const;
export type Scalar = keyof typeof COL;
const SCALARS = 12;

/** The content columns, as indexes. */
export const CONTENT = { input: 0, output: 1, system: 2, toolArguments: 3, toolResult: 4 } as const;
export type ContentColumn = keyof typeof CONTENT;

/** A rank above every real one: a used-up content candidate. */
const NONE = 0xffff;

/** Content in the one shape, ready to store: its JS value (serialised on write, and read for the short texts). */
export interface Resolved {
  value: unknown;
  /** Its JSON as already written into the span's attributes, when the column holds exactly that. */
  bytes?: Buffer;
  /** Its strings need no cleaning for text columns (content.ts cleaned them). */
  clean?: boolean;
}

/** Reads a content candidate; null when the source holds nothing usable (the next candidate is tried then). */
export type ReadContent = (value: AnyValue | null | undefined, written: WrittenContent | undefined) => Resolved | null;

/** The lifting state of one span; one instance is reused for every span of a request. */
export class Lift {
  /** Scalar values by column; only those whose bit is set in `filled` are this span's (no clearing per span). */
  readonly #values: Array<string | number | bigint | null> = new Array<string | number | bigint | null>(SCALARS).fill(null);
  readonly #ranks = new Uint16Array(SCALARS);
  #filled = 0;
  /**
   * Content candidates, in parallel arrays (no object per candidate on the
   * hot path): column, rank, reader and what it reads; `offers` of them are
   * this span's, and a used-up one gets rank NONE.
   */
  offers = 0;
  readonly #offerColumn: number[] = [];
  readonly #offerRank: number[] = [];
  readonly #offerRead: ReadContent[] = [];
  readonly #offerValue: Array<AnyValue | null | undefined> = [];
  readonly #offerWritten: Array<WrittenContent | undefined> = [];
  /** Per convention (by its index in the order of precedence): values a rule keeps for the convention's finish step. */
  readonly scratch: Array<Record<string, unknown> | undefined> = [];
  /** Which conventions had at least one attribute on the span (bit per index). */
  seen = 0;
  /** Message content from the span's events, in order (the deprecated convention's finish step reads it). */
  events: Fragment[] | null = null;
  /** Verdicts the span carries as attributes (OpenInference annotations), set by a finish step. */
  annotations: Annotation[] | null = null;
  /** Set when the span's columns are written (genai-columns.ts): the last user message, whole, and whether the span carried messages. */
  userText: string | null = null;
  /** The row's verdict.input_text and verdict.output_text (genai-columns.ts storedText). */
  inputText: string | null = null;
  outputText: string | null = null;
  hasContent = false;
  /** The span's attributes, for finish steps that look at a value another convention owns. */
  attributes: readonly KeyValue[] = [];
  name = '';

  reset(name: string, attributes: readonly KeyValue[]): void {
    this.#filled = 0;
    this.offers = 0;
    if (this.scratch.length > 0) this.scratch.length = 0;
    this.seen = 0;
    this.events = null;
    this.annotations = null;
    this.name = name;
    this.attributes = attributes;
  }

  offer(column: number, rank: number, value: string | number | bigint | null | undefined): void {
    if (value === null || value === undefined || !this.wants(column, rank)) return;
    this.#values[column] = value;
    this.#ranks[column] = rank;
    this.#filled |= 1 << column;
  }

  /** Whether a candidate of this rank would win (to skip work whose result would lose). */
  wants(column: number, rank: number): boolean {
    return (this.#filled & (1 << column)) === 0 || rank < (this.#ranks[column] as number);
  }

  value(column: number): string | number | bigint | null {
    return (this.#filled & (1 << column)) === 0 ? null : (this.#values[column] as string | number | bigint);
  }

  text(column: number): string | null {
    return this.value(column) as string | null;
  }

  offerContent(column: number, rank: number, read: ReadContent, value?: AnyValue | null, written?: WrittenContent): void {
    const i = this.offers++;
    this.#offerColumn[i] = column;
    this.#offerRank[i] = rank;
    this.#offerRead[i] = read;
    this.#offerValue[i] = value;
    this.#offerWritten[i] = written;
  }

  /** The best usable candidate of a content column, or null. */
  content(column: number): Resolved | null {
    for (;;) {
      let best = -1;
      for (let i = 0; i < this.offers; i++) {
        if (this.#offerColumn[i] === column && (this.#offerRank[i] as number) < NONE && (best === -1 || (this.#offerRank[i] as number) < (this.#offerRank[best] as number))) best = i;
      }
      if (best === -1) return null;
      const r = readSafely(this.#offerRead[best] as ReadContent, this.#offerValue[best], this.#offerWritten[best]);
      if (r !== null) return r;
      // Unusable (not JSON, no messages in it): the next best is tried.
      this.#offerRank[best] = NONE;
    }
  }

  stash(convention: number): Record<string, unknown> {
    let s = this.scratch[convention];
    if (s === undefined) {
      s = {};
      this.scratch[convention] = s;
    }
    return s;
  }
}

/**
 * Conversions read whatever an emitter sent; one that trips over a shape
 * nobody foresaw must cost that column, not the request.
 */
function readSafely(read: ReadContent, value: AnyValue | null | undefined, written: WrittenContent | undefined): Resolved | null {
  try {
    return read(value, written);
  } catch {
    return null;
  }
}

/** How a rule reads an attribute: the AnyValue, and for content attributes how it was written (content.ts). */
export type Apply = (lift: Lift, value: AnyValue | null | undefined, key: string, written: WrittenContent | undefined) => void;

/** What one attribute of a convention's table feeds. `doc` says what docs/schema.md should say (defaults to the column). */
export type Target =
  | { column: Scalar; read?: (v: AnyValue | null | undefined) => string | number | bigint | null; doc?: string }
  | { content: ContentColumn; read: ReadContent; doc?: string }
  | { stash: string; doc: string };

/** Keys that start with a prefix (indexed, flattened names): `apply` gets the rest of the key after the prefix. */
export interface PrefixTarget {
  doc: string;
  /** Collects into the convention's stash; the convention's finish step makes columns of it. */
  apply(stash: Record<string, unknown>, rest: string, value: AnyValue | null | undefined): void;
}

/** What a convention's finish step works with. */
export interface FinishContext {
  lift: Lift;
  /** The convention's stash (empty object when no rule stashed anything). */
  stash: Record<string, unknown>;
  /** Offers a scalar at the convention's finish rank (below its table's own attributes). */
  offer(column: number, value: string | number | bigint | null | undefined, order?: number): void;
  wants(column: number, order?: number): boolean;
  offerContent(column: number, resolve: () => Resolved | null, order?: number): void;
}

export interface Convention {
  name: string;
  /** Where the attribute names and meanings come from. */
  source: string;
  /** Exact attribute names; within a convention, earlier entries win over later ones for the same column. */
  attributes: Readonly<Record<string, Target>>;
  prefixes?: Readonly<Record<string, PrefixTarget>>;
  /** Derives what no single attribute says (an operation from a kind marker, an ID inside JSON, …). */
  finish?(x: FinishContext): void;
}
