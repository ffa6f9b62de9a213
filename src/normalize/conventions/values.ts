/**
 * Values normalised onto the GenAI conventions' lists, whichever convention
 * supplied them: operation names (gen_ai.operation.name well-known values)
 * and provider names (gen_ai.provider.name well-known values), as listed in
 * semantic-conventions-genai model/gen-ai/registry.yaml.
 */

/** gen_ai.operation.name well-known values. */
export const OPERATIONS = [
  'chat', 'create_agent', 'embeddings', 'execute_tool', 'generate_content', 'invoke_agent', 'invoke_workflow', 'retrieval', 'text_completion',
] as const;

/**
 * Operation names some emitters put in gen_ai.operation.name (or an older
 * attribute) that are not GenAI values, and the value that means the same.
 * Unknown names are kept as sent.
 */
export const OPERATION_ALIASES: ReadonlyMap<string, string> = new Map([
  // LangSmith: gen_ai.operation.name "chain" for chain runs.
  ['chain', 'invoke_workflow'],
  // OpenLLMetry's llm.request.type.
  ['completion', 'text_completion'],
  ['embedding', 'embeddings'],
]);

export function operationName(s: string): string {
  return OPERATION_ALIASES.get(s) ?? s;
}

/** gen_ai.provider.name well-known values. */
export const PROVIDERS = [
  'anthropic', 'aws.bedrock', 'azure.ai.inference', 'azure.ai.openai', 'cohere', 'deepseek', 'gcp.gemini', 'gcp.gen_ai', 'gcp.vertex_ai',
  'groq', 'ibm.watsonx.ai', 'mistral_ai', 'openai', 'perplexity', 'x_ai',
] as const;
const KNOWN_PROVIDERS: ReadonlySet<string> = new Set(PROVIDERS);

/**
 * Provider names as other conventions spell them → gen_ai.provider.name.
 * The deprecated gen_ai.system values that changed (semconv v1.37.0,
 * model/gen-ai/deprecated/registry-deprecated.yaml), OpenInference's
 * llm.provider / llm.system values (openinference-semantic-conventions
 * LLMProvider, LLMSystem), and the AI SDK's provider ids before their
 * first dot (`openai.chat` → openai; @ai-sdk/* providers).
 */
export const PROVIDER_ALIASES: Readonly<Record<string, string>> = {
  xai: 'x_ai',
  'az.ai.inference': 'azure.ai.inference',
  'az.ai.openai': 'azure.ai.openai',
  vertex_ai: 'gcp.vertex_ai',
  vertexai: 'gcp.vertex_ai',
  'google.vertex': 'gcp.vertex_ai',
  gemini: 'gcp.gemini',
  // OpenInference's "google" does not say which Google API; the AI SDK's google.* is the Gemini API.
  google: 'gcp.gen_ai',
  'google.generative-ai': 'gcp.gemini',
  mistralai: 'mistral_ai',
  mistral: 'mistral_ai',
  aws: 'aws.bedrock',
  bedrock: 'aws.bedrock',
  'amazon-bedrock': 'aws.bedrock',
  azure: 'azure.ai.openai',
  'azure-openai': 'azure.ai.openai',
  watsonx: 'ibm.watsonx.ai',
};

/**
 * Names that some emitters put where the provider goes but that are not
 * providers: LangSmith sets gen_ai.system = "langchain" on runs that are not
 * model calls. They are left out, so a later convention can say the provider.
 */
const NOT_PROVIDERS: ReadonlySet<string> = new Set(['langchain']);

export function providerName(s: string): string | null {
  if (KNOWN_PROVIDERS.has(s)) return s;
  const alias = PROVIDER_ALIASES[s];
  if (alias !== undefined) return alias;
  if (NOT_PROVIDERS.has(s)) return null;
  // The AI SDK's "<provider>.<api>" ids (openai.chat, openai.responses, anthropic.messages, google.vertex.chat).
  const dot = s.indexOf('.');
  if (dot > 0) {
    const second = s.indexOf('.', dot + 1);
    const two = second > 0 ? s.slice(0, second) : s;
    const head = s.slice(0, dot);
    return PROVIDER_ALIASES[two] ?? PROVIDER_ALIASES[head] ?? (KNOWN_PROVIDERS.has(head) ? head : s);
  }
  return s;
}
