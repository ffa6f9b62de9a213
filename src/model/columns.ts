/**
 * The column order in which rows are encoded for COPY, one list per table,
 * owned here so that the normaliser (which writes span rows straight into
 * COPY buffers) and the store (which frames and sends them) agree without
 * importing each other. The schema test compares each list with
 * information_schema, so none can drift from sql/.
 */

/**
 * verdict.span_rows (read through the view verdict.spans). Any order works with a column list; this one keeps the
 * per-resource-and-scope constants together (normalize/context.ts encodes
 * them once per envelope).
 */
export const SPAN_COLUMNS = [
  'trace_id', 'span_id', 'parent_span_id', 'trace_state', 'name', 'kind', 'start_time', 'end_time',
  'start_time_unix_nano', 'end_time_unix_nano', 'status_code', 'status_message', 'flags',
  // per resource and scope (envelopeFields)
  'service_name', 'scope_name', 'scope_version', 'scope_attributes', 'resource_id', 'scope_schema_url',
  'attributes', 'events', 'links', 'dropped_attributes_count', 'dropped_events_count', 'dropped_links_count',
  'gen_ai_operation_name', 'gen_ai_provider_name', 'gen_ai_request_model', 'gen_ai_response_model', 'gen_ai_response_id',
  'gen_ai_conversation_id', 'gen_ai_agent_name', 'gen_ai_tool_name', 'gen_ai_input_tokens', 'gen_ai_output_tokens',
  // sql/0005_genai_content.sql
  'user_id', 'gen_ai_tool_call_id', 'gen_ai_system_instructions', 'gen_ai_input_messages', 'gen_ai_output_messages',
  'gen_ai_tool_call_arguments', 'gen_ai_tool_call_result', 'gen_ai_content_source', 'content_in_attributes',
  'attributes_in_columns',
] as const;

/** verdict.log_rows (read through the view verdict.logs), in LogRow's field order. */
export const LOG_COLUMNS = [
  'id', 'trace_id', 'span_id', 'time', 'observed_time', 'time_unix_nano', 'observed_time_unix_nano',
  'severity_number', 'severity_text', 'event_name', 'body', 'attributes', 'resource_id',
  'service_name', 'scope_name', 'scope_version', 'scope_attributes', 'flags', 'dropped_attributes_count',
  'scope_schema_url',
] as const;

/** verdict.resources, in ResourceRow's field order. */
export const RESOURCE_COLUMNS = ['resource_id', 'service_name', 'service_version', 'attributes', 'schema_url'] as const;

/** verdict.evaluations, in EvaluationRow's field order. */
export const EVALUATION_COLUMNS = [
  'id', 'trace_id', 'span_id', 'response_id', 'conversation_id', 'name', 'score_value', 'score_label',
  'explanation', 'error_type', 'time', 'channel', 'source', 'polarity', 'service_name', 'attributes',
  'target_trace_id', 'target_span_id', 'target_span_name', 'target_service_name', 'target_service_version',
  'target_operation_name', 'target_request_model', 'target_response_model', 'target_agent_name', 'target_conversation_id',
  'correction', 'target_harness_version', 'target_context_version',
] as const;

/** verdict.span_messages, in MessageRow's field order. */
export const MESSAGE_COLUMNS = ['trace_id', 'span_id', 'log_id', 'kind', 'time_unix_nano', 'seq', 'content'] as const;

/** The staged user turns of the `repeat` rule (see store/write-plan.ts). */
export const TURN_COLUMNS = ['conversation_id', 'message_hash', 'trace_id', 'span_id', 'time', 'message', 'rule', 'label', 'polarity'] as const;
